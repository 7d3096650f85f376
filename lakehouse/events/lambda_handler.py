"""AWS Lambda entry point behind API Gateway: an adapter, not a second implementation.

``handler(event, context)`` turns an API Gateway Lambda-proxy event into a ``service.Request``,
calls the same ``IngestService.handle`` the local server runs, and turns the ``Reply`` into the
proxy response. Hand-written (≈50 lines) instead of Mangum: no event loop or ASGI round trip per
invocation, one dependency less in the deployment package, and the function calls the handler
directly; limits, validation, keys, rate limiting, logging and the durable write are all in the
service.

Both payload formats: REST API (v1: ``httpMethod``, ``path``, ``headers``/``multiValueHeaders``,
``requestContext.identity.sourceIp``) and HTTP API (v2: ``version: "2.0"``,
``requestContext.http``, ``rawPath``, comma-joined ``headers``). A non-default stage prefix is
stripped from the path (``/prod/ingest`` → ``/ingest``); ``isBase64Encoded`` bodies are decoded;
API Gateway's ``requestId`` becomes the request id. The service is built on the first invocation
from ``Settings.from_env()`` (``LAKEHOUSE_ROOT=s3://…`` on AWS) and reused while warm.
"""

from __future__ import annotations

import base64
import logging

from lakehouse.events.service import IngestService, Reply, Request

_service: IngestService | None = None


def _get_service() -> IngestService:
    global _service
    if _service is None:
        from lakehouse.profiles import Settings

        logging.getLogger("lakehouse.events").setLevel(logging.INFO)
        _service = IngestService.from_settings(Settings.from_env())
    return _service


def request_from_event(event: dict) -> Request:
    ctx = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        method = ctx.get("http", {}).get("method", "GET")
        path = event.get("rawPath") or "/"
        client = ctx.get("http", {}).get("sourceIp")
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    else:
        method = event.get("httpMethod", "GET")
        path = event.get("path") or "/"
        client = (ctx.get("identity") or {}).get("sourceIp")
        headers = {k.lower(): v[-1] for k, v in (event.get("multiValueHeaders") or {}).items() if v}
        headers.update(
            {k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None}
        )
    stage = ctx.get("stage")
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    return Request(
        method=method.upper(),
        path=path,
        headers=headers,
        body=body,
        client=client,
        request_id=ctx.get("requestId"),
    )


def response_for(reply: Reply) -> dict:
    return {
        "statusCode": reply.status,
        "headers": {"content-type": "application/json", **reply.headers},
        "body": reply.json_bytes().decode("utf-8"),
        "isBase64Encoded": False,
    }


def handler(event: dict, context=None) -> dict:
    """The Lambda function handler (``lakehouse.events.lambda_handler.handler``)."""
    try:
        request = request_from_event(event)
    except (ValueError, TypeError, AttributeError):  # e.g. a body flagged base64 that is not
        return response_for(
            Reply(400, {"error": "bad_request", "message": "malformed proxy event", "errors": []})
        )
    return response_for(_get_service().handle(request))
