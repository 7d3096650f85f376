"""The event API's one request handler, free of any web framework.

``IngestService.handle(Request) -> Reply`` is the whole API; ``app`` (Starlette + uvicorn,
locally) and ``lambda_handler`` (API Gateway + Lambda) only translate their request and response
types to these, so both run exactly this code.

Routes: ``GET /health`` → 200 ``{"status": "ok", "sources": [...]}``; ``POST /ingest`` (see
``validation`` for the body). Checks of ``POST /ingest``, in order:

401 missing/unknown ``x-api-key`` → 429 the key's token bucket is empty (``Retry-After``) →
413 body over ``max_body_bytes`` → 415 not ``application/json`` → 400 not JSON, or arrays/objects
nested deeper than ``max_depth`` (64, ``validation.MAX_DEPTH``; rule ``max_depth``) → 403 the key may
not write a requested source → 422 the record contract (every violation listed) → durable write
(503 ``storage_unavailable`` if it fails: nothing was stored, retry) → 200::

    {"status": "accepted", "source": ..., "count": n, "ids": [...], "batch_id": ..., "request_id": ...}

Errors are ``{"error": code, "message": ..., "errors": [{"field", "rule", "message"}],
"request_id": ...}``; an unexpected failure is a 500 with only a code and the request id (the
traceback goes to the server log, never to the client).

Duplicate record ids are accepted idempotently (200 again) and removed in silver (first arrival
wins). Why not 409: devices and SDKs retry on timeouts, and the retry of a record whose first
attempt WAS stored must succeed, or every client needs special handling for a lost response; a
409 would also need a consistent global id index read before every write (one more store on the
hot path, a race between Lambda instances). The raw zone stays an exact log of what arrived, and
silver, which is deduplicated by id, is the single place where "once" is decided.

Every request writes one JSON access-log line (logger ``lakehouse.events.access``): ts,
request_id, method, path, status, duration_ms, bytes_in, client, api_key_id, source, records,
error, rule.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lakehouse.events.keys import ApiKeyStore
from lakehouse.events.ratelimit import RateLimiter
from lakehouse.events.schemas import EventSource, all_sources
from lakehouse.events.store import EventStore
from lakehouse.events.validation import (
    MAX_DEPTH,
    RequestRejected,
    Violation,
    parse_json,
    parse_request,
)
from lakehouse.storage import Lake

log = logging.getLogger("lakehouse.events")
access_log = logging.getLogger("lakehouse.events.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per call
JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    body_too_large: bool = False  # the adapter stopped reading at the limit
    client: str | None = None
    request_id: str | None = None


@dataclass
class Reply:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        return _encode(self.body).encode("utf-8")


def _error(
    status: int, error: str, message: str, violations: list[Violation] = (), **headers
) -> Reply:
    body = {"error": error, "message": message, "errors": [v.to_json() for v in violations]}
    return Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class IngestService:
    def __init__(
        self,
        lake: Lake,
        keys: ApiKeyStore,
        *,
        sources: Mapping[str, EventSource] | None = None,
        max_body_bytes: int = 1_048_576,
        max_batch: int = 500,
        max_depth: int = MAX_DEPTH,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.store = EventStore(lake)
        self.keys = keys
        self.sources = dict(sources if sources is not None else all_sources())
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.max_depth = max_depth
        self.limiter = limiter or RateLimiter(50.0, 100.0)

    @classmethod
    def from_settings(cls, settings) -> IngestService:
        return cls(
            settings.lake(),
            ApiKeyStore.from_settings(settings),
            max_body_bytes=settings.api_max_body_bytes,
            max_batch=settings.api_max_batch,
            limiter=RateLimiter(settings.api_rate_per_s, settings.api_burst),
        )

    # ------------------------------------------------------------------------------ entry
    def handle(self, req: Request) -> Reply:
        started = time.perf_counter()
        given = (req.request_id, req.headers.get("x-request-id"))
        rid = next((r for r in given if r and REQUEST_ID.match(r)), None) or uuid.uuid4().hex
        ctx: dict = {"request_id": rid}
        try:
            reply = self._route(req, ctx)
        except Exception:  # never a traceback to the client
            log.exception("request %s failed", rid)
            reply = _error(
                500, "internal_error", "internal error; quote the request_id when reporting it"
            )
        reply.body["request_id"] = rid
        reply.headers["x-request-id"] = rid
        self._access(req, reply, rid, ctx, time.perf_counter() - started)
        return reply

    def _route(self, req: Request, ctx: dict) -> Reply:
        path = req.path.rstrip("/") or "/"
        if path == "/health":
            if req.method not in ("GET", "HEAD"):
                return _error(405, "method_not_allowed", "use GET", allow="GET")
            return Reply(200, {"status": "ok", "sources": sorted(self.sources)})
        if path == "/ingest":
            if req.method != "POST":
                return _error(405, "method_not_allowed", "use POST", allow="POST")
            return self._ingest(req, ctx)
        return _error(404, "not_found", "routes: GET /health, POST /ingest")

    def _ingest(self, req: Request, ctx: dict) -> Reply:
        key = self.keys.lookup(req.headers.get("x-api-key"))
        if key is None:
            return _error(
                401,
                "unauthorized",
                "missing or unknown API key",
                [Violation("x-api-key", "api_key", "send a valid key in the x-api-key header")],
            )
        ctx["api_key_id"] = key.id
        refused = self._refuse_before_parsing(req, key)
        if refused is not None:
            return refused
        try:
            payload = parse_json(req.body, self.max_depth)
            refused = self._refuse_out_of_scope(payload, key)
            if refused is not None:
                return refused
            source, records = parse_request(payload, self.sources, self.max_batch)
        except RequestRejected as rej:
            ctx["rule"] = rej.violations[0].rule if rej.violations else None
            return _error(
                rej.status,
                rej.error,
                f"{len(rej.violations)} violation(s); nothing was stored",
                rej.violations,
            )
        ctx.update(source=source, records=len(records))
        return self._store(source, records, key, ctx["request_id"])

    def _refuse_before_parsing(self, req: Request, key) -> Reply | None:
        """The reply to a request over the key's rate, too large or not JSON; None to go on."""
        wait = self.limiter.take(key.id, key.rate, key.burst)
        if wait > 0:
            return _error(
                429,
                "rate_limited",
                "too many requests for this API key",
                [Violation("x-api-key", "rate_limit", f"retry after {wait:.2f}s")],
                retry_after=RateLimiter.retry_after(wait),
            )
        if req.body_too_large or len(req.body) > self.max_body_bytes:
            return _error(
                413,
                "payload_too_large",
                f"request body exceeds {self.max_body_bytes} bytes",
                [Violation("body", "max_bytes", f"must be at most {self.max_body_bytes} bytes")],
            )
        if not JSON_TYPE.match(req.headers.get("content-type", "")):
            return _error(
                415,
                "unsupported_media_type",
                "send Content-Type: application/json",
                [Violation("content-type", "media_type", "must be application/json")],
            )
        return None

    def _refuse_out_of_scope(self, payload, key) -> Reply | None:
        """The 403 reply when the payload writes a source the key may not write; else None."""
        denied = [s for s in _requested_sources(payload) if s in self.sources and not key.allows(s)]
        if not denied:
            return None
        return _error(
            403,
            "forbidden",
            f"this API key may not write source {denied[0]!r}",
            [Violation("source", "api_key_scope", f"key {key.id} is not allowed {denied[0]!r}")],
        )

    def _store(self, source: str, records: list, key, request_id: str) -> Reply:
        """Store the validated records as one batch: 200 with their ids, or 503 (nothing stored)."""
        try:
            _, batch_id = self.store.write(
                source,
                records,
                api_key_id=key.id,
                request_id=request_id,
                received_at=datetime.now(UTC),
            )
        except Exception:
            log.exception("storing a request for %s failed", source)
            return _error(
                503,
                "storage_unavailable",
                "the record store failed; nothing was stored, retry",
                retry_after="1",
            )
        return Reply(
            200,
            {
                "status": "accepted",
                "source": source,
                "count": len(records),
                "ids": [r.id for r in records],
                "batch_id": batch_id,
            },
        )

    def _access(self, req: Request, reply: Reply, rid: str, ctx: dict, seconds: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        errors = reply.body.get("errors") or []
        access_log.info(
            _encode(
                {
                    "ts": datetime.now(UTC).isoformat(),
                    "type": "access",
                    "request_id": rid,
                    "method": req.method,
                    "path": req.path,
                    "status": reply.status,
                    "duration_ms": round(seconds * 1000, 3),
                    "bytes_in": len(req.body),
                    "client": req.client,
                    "api_key_id": ctx.get("api_key_id"),
                    "source": ctx.get("source"),
                    "records": ctx.get("records", 0),
                    "error": reply.body.get("error"),
                    "rule": ctx.get("rule") or (errors[0]["rule"] if errors else None),
                },
            )
        )


def _requested_sources(payload) -> set[str]:
    items = (
        payload
        if isinstance(payload, list)
        else (
            payload.get("records")
            if isinstance(payload, dict) and "source" not in payload
            else [payload]
        )
    )
    if not isinstance(items, list):
        return set()
    return {e["source"] for e in items if isinstance(e, dict) and isinstance(e.get("source"), str)}
