"""The local event API: a Starlette ASGI app served by uvicorn (``lakehouse api serve``).

Framework: Starlette 1.10 (the ASGI toolkit FastAPI is built on, maintained by Encode, and
already pinned in this environment because dagster-webserver runs on it). Not FastAPI: the API's
contract is the source registry, checked by ``validation`` for the local server and Lambda
alike; FastAPI's value is Pydantic models and OpenAPI from type hints, which would be a second
schema that drifts from the registry. Every decision lives in ``service.IngestService``; this
module only adapts ASGI to it:

- the body is streamed and reading stops at ``max_body_bytes`` (a declared ``Content-Length``
  over it is refused before reading anything): 413 without buffering a huge body;
- ``handle`` (durable write: fsync or an S3 PUT) runs in the thread pool, the event loop never
  blocks; ``GET`` requests (no I/O) run inline;
- uvicorn's access log is off; the service writes one JSON line per request instead
  (``configure_logging``), and server errors are logged as JSON with the traceback — the
  client only gets ``{"error": "internal_error", "request_id": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from lakehouse.events.service import IngestService, Request

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _read_body(request: HttpRequest, limit: int) -> tuple[bytes, bool]:
    """(body, too_large): stops reading once ``limit`` is passed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", True
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def create_app(service: IngestService | None = None, settings=None) -> Starlette:
    """The ASGI app around ``service`` (built from ``settings``/the environment at startup)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if service is None:
            from lakehouse.profiles import Settings

            app.state.service = IngestService.from_settings(settings or Settings.from_env())
        else:
            app.state.service = service
        yield

    async def endpoint(request: HttpRequest) -> Response:
        svc: IngestService = request.app.state.service
        body, too_large = b"", False
        if request.method not in ("GET", "HEAD"):
            try:
                body, too_large = await _read_body(request, svc.max_body_bytes)
            except ClientDisconnect:
                return Response(status_code=400)
        req = Request(
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers.items()),  # names are lower-case in ASGI
            body=body,
            body_too_large=too_large,
            client=request.client.host if request.client else None,
        )
        reply = (
            svc.handle(req)
            if request.method in ("GET", "HEAD")
            else await run_in_threadpool(svc.handle, req)
        )
        return Response(
            reply.json_bytes(), reply.status, reply.headers, media_type="application/json"
        )

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)], lifespan=lifespan)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (+ exc with the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_logging(stream=None) -> None:
    """Access lines (already JSON) and other event-API logs (as JSON) to ``stream`` (stderr)."""
    stream = stream or sys.stderr
    access = logging.getLogger("lakehouse.events.access")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    events = logging.getLogger("lakehouse.events")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    events.handlers[:] = [handler]
    events.setLevel(logging.INFO)
    events.propagate = False


def serve(host: str = "127.0.0.1", port: int = 8080, settings=None) -> None:
    """Run the API in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    configure_logging()
    uvicorn.run(
        create_app(settings=settings),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
