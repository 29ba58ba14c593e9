"""Requests per minute per caller on /v1 and /admin.

A caller is a verified API key (its digest is one the service stores); anyone else, with no key or a key that
matches nothing, is counted by client address, so made-up keys buy no extra requests. Counts live in Redis when
REDIS_URL is set, so every worker shares them; otherwise each worker counts in its own memory.
"""

from __future__ import annotations

import threading
import time

from serving.auth import Caller
from serving.problems import Problem


class Limiter:
    """A fixed one-minute window per caller; `limit` 0 switches it off."""

    def __init__(self, limit: int, redis_url: str | None = None, window: int = 60):
        self.limit, self.window, self.prefix = limit, window, "microlift:rate:"
        self._redis = None
        if redis_url and limit:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, caller: str) -> tuple[int, int]:
        """Count one request; returns (requests in this window, seconds until the window ends)."""
        now = time.time()
        slot = int(now // self.window)
        retry = int(self.window - now % self.window) + 1
        if self._redis is not None:
            try:
                key = f"{self.prefix}{caller}:{slot}"
                with self._redis.pipeline() as pipe:
                    count, _ = pipe.incr(key).expire(key, self.window + 5).execute()
                return int(count), retry
            except Exception:  # Redis down: fall back to this worker's own count rather than refuse everyone
                pass
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] == slot}
            count = self._counts.get((caller, slot), 0) + 1
            self._counts[(caller, slot)] = count
        return count, retry

    def check(self, caller: Caller, remote_addr: str | None) -> None:
        if not self.limit:
            return
        by_key = caller.verified is not None
        count, retry = self.hit(f"key:{caller.verified[:32]}" if by_key else f"addr:{remote_addr or 'unknown'}")
        if count > self.limit:
            raise Problem(429, "Too Many Requests", f"more than {self.limit} requests per minute from this "
                          f"{'API key' if by_key else 'address'}; try again in {retry} s", kind="rate-limited",
                          headers={"Retry-After": str(retry)})
