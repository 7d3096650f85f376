"""Run-failure alerts: a JSON POST to a webhook, or an SNS publish (aws profile), else a log line."""

from __future__ import annotations

import json
import logging
import urllib.request

log = logging.getLogger(__name__)


def send_alert(
    message: dict,
    *,
    webhook: str | None = None,
    sns_topic: str | None = None,
    region: str = "us-east-1",
    timeout: float = 10.0,
) -> str:
    body = json.dumps({"text": f"lakehouse run failed: {message.get('job')}", **message}).encode()
    if webhook:
        req = urllib.request.Request(
            webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured URL)
            resp.read()
        return f"webhook {webhook}"
    if sns_topic:
        import boto3

        boto3.client("sns", region_name=region).publish(
            TopicArn=sns_topic, Subject="lakehouse run failed", Message=body.decode()
        )
        return f"SNS {sns_topic}"
    log.error("lakehouse run failed: %s", body.decode())
    return "log"
