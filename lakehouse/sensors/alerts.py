"""Alerts (failed runs, a replication slot in error): a JSON POST to a webhook, or an SNS publish (aws profile), else a log line."""

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
    subject: str = "lakehouse run failed",
) -> str:
    """Post ``message`` (JSON, with a ``text`` line: ``subject`` and the job) to the webhook,
    else publish it to the SNS topic, else log it; where it went."""
    body = json.dumps({"text": f"{subject}: {message.get('job')}", **message}).encode()
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
            TopicArn=sns_topic, Subject=subject, Message=body.decode()
        )
        return f"SNS {sns_topic}"
    log.error("%s: %s", subject, body.decode())
    return "log"
