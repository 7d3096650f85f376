"""Rate limiting per API key: a token bucket (``rate`` tokens/s, at most ``burst``).

Each request takes one token; with none left the API answers 429 with ``Retry-After`` (seconds
until a token is back). In-process state: exact for the local server (one process); on Lambda
each warm container has its own buckets, so there the API Gateway usage plan is the real limit
and this one is a second line.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    MAX_BUCKETS = 10_000

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, rate: float | None = None, burst: float | None = None) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds to wait."""
        rate, burst = rate or self.rate, burst or self.burst
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate
            if len(self._buckets) > self.MAX_BUCKETS:  # forget idle keys (their buckets are full)
                idle = [k for k, (t, a) in self._buckets.items() if t + (now - a) * rate >= burst]
                for k in idle:
                    del self._buckets[k]
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
