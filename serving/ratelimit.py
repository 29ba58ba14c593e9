"""Requests per minute per caller on /v1 and /admin.

A caller is a verified API key (its digest is one the service stores); anyone else, with no key or a key that
matches nothing, is counted by client address, so made-up keys buy no extra requests.

Counts live in Redis when REDIS_URL is set, so every worker shares them. Redis gets REDIS_TIMEOUT to answer; when
it fails, the worker counts in its own memory for a cool-down (doubling while Redis keeps failing) and only then
tries again, so a Redis that is down or hangs never slows a request by more than one timeout per cool-down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from microlift.serving import metrics
from microlift.serving.auth import Caller
from microlift.serving.problems import Problem

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.05  # s: Redis on the same network answers INCR in well under a millisecond
COOL_DOWN = (2.0, 60.0)  # s: the first and the longest wait before a failing Redis is tried again


class Limiter:
    """A fixed one-minute window per caller; `limit` 0 switches it off. `clock` times the cool-downs (seconds)."""

    def __init__(self, limit: int, redis_url: str | None = None, window: int = 60,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.prefix = limit, window, "microlift:rate:"
        self._clock = clock
        self._redis: redis.Redis | None = None
        self._where = ""
        if redis_url and limit:
            # no retries, whichever redis-py's defaults: a request waits for one timeout at most
            self._redis = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT,
                                               socket_connect_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 0))
            kwargs = self._redis.connection_pool.connection_kwargs  # where, without the password, for logs
            self._where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._failures = 0  # Redis attempts failed in a row
        self._retry_at = 0.0  # clock time before which Redis is not tried
        self._error = ""
        if limit:
            metrics.RATE_LIMIT_BACKEND.labels("redis" if self._redis is not None else "local").inc()

    def hit(self, caller: str) -> tuple[int, int]:
        """Count one request; returns (requests in this window, seconds until the window ends)."""
        now = time.time()
        slot = int(now // self.window)
        retry = int(self.window - now % self.window) + 1
        shared = self._ask_redis(lambda r: self._incr(r, f"{self.prefix}{caller}:{slot}"))
        if shared is not None:
            return shared, retry
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] == slot}
            count = self._counts.get((caller, slot), 0) + 1
            self._counts[(caller, slot)] = count
        return count, retry

    def _incr(self, client: redis.Redis, key: str) -> int:
        with client.pipeline() as pipe:
            count, _ = pipe.incr(key).expire(key, self.window + 5).execute()
        return count

    def check(self, caller: Caller, remote_addr: str | None) -> None:
        if not self.limit:
            return
        by_key = caller.verified is not None
        count, retry = self.hit(f"key:{caller.verified[:32]}" if by_key else f"addr:{remote_addr or 'unknown'}")
        if count > self.limit:
            raise Problem(429, "Too Many Requests", f"more than {self.limit} requests per minute from this "
                          f"{'API key' if by_key else 'address'}; try again in {retry} s", kind="rate-limited",
                          headers={"Retry-After": str(retry)})

    def describe(self) -> dict:
        """For /readyz: whether this worker's counts are shared by all workers, and why not."""
        if not self.limit:
            return {"limit_per_minute": 0, "shared": False, "detail": "off (MICROLIFT_RATE_LIMIT is 0)"}
        if self._redis is None:
            return {"limit_per_minute": self.limit, "shared": False,
                    "detail": "REDIS_URL is not set: each worker counts on its own, so a caller may get this "
                              "limit once per worker"}
        shared = self._ask_redis(lambda r: r.ping()) is not None
        if shared:
            return {"limit_per_minute": self.limit, "shared": True,
                    "detail": f"counted in Redis at {self._where}, shared by all workers"}
        return {"limit_per_minute": self.limit, "shared": False,
                "detail": f"Redis at {self._where} failed ({self._error}): this worker counts on its own "
                          f"until Redis answers again (next try in {max(self._retry_at - self._clock(), 0):.0f} s)"}

    # --- the circuit breaker around Redis ---------------------------------------------------------------------

    def _ask_redis(self, command: Callable):
        """The command's answer, or None without Redis, while it cools down, or when it fails now."""
        if self._redis is None:
            return None
        with self._lock:
            now = self._clock()
            if now < self._retry_at:
                return None
            if self._failures:  # this request tries a failing Redis again; the others keep counting locally
                self._retry_at = now + self._cool_down()
        try:
            answer = command(self._redis)
        except (redis.RedisError, OSError) as exc:  # down, hanging, refusing, out of memory: count locally
            self._failed(exc)
            return None
        if self._failures:
            self._recovered()
        return answer

    def _cool_down(self) -> float:
        return min(COOL_DOWN[0] * 2 ** max(self._failures - 1, 0), COOL_DOWN[1])

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self._failures += 1
            self._retry_at = self._clock() + self._cool_down()
            self._error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}"
            first = self._failures == 1
        if first:
            metrics.RATE_LIMIT_BACKEND.labels("redis").dec()
            metrics.RATE_LIMIT_BACKEND.labels("local").inc()
            metrics.RATE_LIMIT_FALLBACKS.inc()
            log.warning("rate limit: Redis at %s failed (%s); this worker counts on its own and tries Redis again "
                        "in %.0f s, less often while it keeps failing", self._where, self._error, COOL_DOWN[0])
        else:
            log.debug("rate limit: Redis at %s still failing (%s)", self._where, self._error)

    def _recovered(self) -> None:
        with self._lock:
            failures, self._failures, self._retry_at = self._failures, 0, 0.0
        if failures:
            metrics.RATE_LIMIT_BACKEND.labels("local").dec()
            metrics.RATE_LIMIT_BACKEND.labels("redis").inc()
            log.info("rate limit: Redis at %s answers again after %d failed attempts; counts are shared by all "
                     "workers again", self._where, failures)
