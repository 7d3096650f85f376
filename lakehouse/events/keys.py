"""API keys of the event API: per source, hashed at rest.

Where: the lake object ``_state/api/keys.json`` (so the local server and the Lambda function on
an ``s3://`` root read the same file), or the file named by ``LAKEHOUSE_API_KEYS_FILE``
(``Settings.api_keys_file``). Content::

    {"keys": [{"id": "k3f9a0c21", "sha256": "<hex of sha256(key)>", "sources": ["iot_sensors"],
               "created_at": "...", "rate": null, "burst": null, "revoked": false}]}

A key is ``lhk_<id>_<secret>`` with 256 bits of randomness; only its SHA-256 is stored (a fast
hash is enough for a random secret of that size: there is nothing to brute-force, unlike a
password). The plaintext is printed once by ``lakehouse api keys add`` and never stored. ``id``
is safe to log. ``rate`` / ``burst`` override the server's token bucket for that key.

The server re-reads the file at most every ``reload_s`` seconds, so a key added or revoked by the
CLI takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from lakehouse.storage import Lake, open_lake

DEFAULT_KEYS_OBJECT = "_state/api/keys.json"


@dataclass(frozen=True)
class ApiKey:
    id: str
    sha256: str
    sources: tuple[str, ...]
    rate: float | None = None
    burst: float | None = None
    revoked: bool = False

    def allows(self, source: str) -> bool:
        return "*" in self.sources or source in self.sources


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """The key file: ``lake`` + ``key`` of the JSON object (see the module docstring)."""

    def __init__(
        self, lake: Lake, key: str = DEFAULT_KEYS_OBJECT, *, reload_s: float = 2.0
    ) -> None:
        self.lake, self.key, self.reload_s = lake, key, reload_s
        self._by_hash: dict[str, ApiKey] = {}
        self._loaded_at = -1e18
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, **kwargs) -> ApiKeyStore:
        if not settings.api_keys_file:
            return cls(settings.lake(), **kwargs)
        path = settings.api_keys_file
        if path.startswith("s3://"):
            folder, name = path.rsplit("/", 1)
            lake = open_lake(folder, endpoint_url=settings.s3_endpoint, region=settings.region)
        else:
            folder, name = os.path.split(os.path.abspath(path))
            lake = open_lake(folder)
        return cls(lake, name, **kwargs)

    def _read(self) -> list[dict]:
        if not self.lake.exists(self.key):
            return []
        return json.loads(self.lake.read_text(self.key)).get("keys", [])

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < self.reload_s:
            return
        with self._lock:
            if now - self._loaded_at < self.reload_s:
                return
            entries = self._read()
            self._by_hash = {
                e["sha256"]: ApiKey(
                    e["id"],
                    e["sha256"],
                    tuple(e["sources"]),
                    e.get("rate"),
                    e.get("burst"),
                    bool(e.get("revoked")),
                )
                for e in entries
            }
            self._loaded_at = now

    def lookup(self, plaintext: str | None) -> ApiKey | None:
        """The active key matching ``plaintext``, or None."""
        if not plaintext or len(plaintext) > 200:
            return None
        self._refresh()
        digest = hash_key(plaintext)
        found = self._by_hash.get(digest)
        if found is None or found.revoked or not hmac.compare_digest(found.sha256, digest):
            return None
        return found

    def add(
        self, sources: list[str], *, rate: float | None = None, burst: float | None = None
    ) -> tuple[str, str]:
        """Create a key for ``sources``; returns (key id, plaintext key). Store the plaintext now:
        it is not kept anywhere."""
        key_id = "k" + secrets.token_hex(4)
        plaintext = f"lhk_{key_id}_{secrets.token_urlsafe(32)}"
        entries = self._read()
        entries.append(
            {
                "id": key_id,
                "sha256": hash_key(plaintext),
                "sources": sorted(set(sources)),
                "created_at": datetime.now(UTC).isoformat(),
                "rate": rate,
                "burst": burst,
                "revoked": False,
            }
        )
        self._write(entries)
        return key_id, plaintext

    def revoke(self, key_id: str) -> bool:
        entries = self._read()
        hit = [e for e in entries if e["id"] == key_id]
        for e in hit:
            e["revoked"] = True
        if hit:
            self._write(entries)
        return bool(hit)

    def list(self) -> list[dict]:
        """Key entries without their hashes."""
        return [{k: v for k, v in e.items() if k != "sha256"} for e in self._read()]

    def _write(self, entries: list[dict]) -> None:
        self.lake.write_text(self.key, json.dumps({"keys": entries}, indent=1))
        self._loaded_at = -1e18
