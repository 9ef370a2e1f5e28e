"""Cache-aside for product data in Redis that can never turn a request into an error.

Every call has a short timeout and no retries; a failure is counted, logged, and answered as a miss,
and it opens a one-second breaker so a dead Redis costs one timeout per second, not one per request.
Reads fill the cache with SET NX so a stale replica read never overwrites the fresh value a write put.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.config import AppSettings

log = logging.getLogger("app.cache")

TIMEOUT_SECONDS = 0.25
BREAKER_SECONDS = 1.0


@dataclass
class CacheCounters:
    """Counts since start; emitted as CloudWatch metrics by app.metrics."""

    hits: int = 0
    misses: int = 0
    errors: int = 0

    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ProductCache:
    """Product JSON under ``product:<id>`` with a TTL."""

    def __init__(self, settings: AppSettings) -> None:
        self.ttl = settings.product_ttl_seconds
        self.counters = CacheCounters()
        self._open_until = 0.0
        self.client = redis.Redis(
            host=settings.redis.host,
            port=settings.redis.port,
            password=settings.redis_password,
            ssl=settings.redis_tls,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            decode_responses=True,
            max_connections=50,
        )

    @staticmethod
    def key(product_id: int) -> str:
        return f"product:{product_id}"

    async def get_json(self, product_id: int) -> str | None:
        """The cached product as the JSON text it was stored as, or None on a miss or any failure."""
        raw: str | None = await self._call("get", self.key(product_id))
        if raw is None:
            self.counters.misses += 1
            return None
        self.counters.hits += 1
        return raw

    async def fill(self, product_id: int, product: dict[str, Any]) -> None:
        """After a miss: store what was read, unless a write stored something newer meanwhile."""
        await self._call("set", self.key(product_id), json.dumps(product, default=str), ex=self.ttl, nx=True)

    async def put(self, product_id: int, product: dict[str, Any]) -> None:
        """After a committed write: replace the cached value with the writer's."""
        await self._call("set", self.key(product_id), json.dumps(product, default=str), ex=self.ttl)

    async def invalidate(self, product_id: int) -> None:
        await self._call("delete", self.key(product_id))

    async def ping(self) -> None:
        """Raises if Redis does not answer (for readiness)."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() < self._open_until:
            self.counters.errors += 1
            return None
        try:
            return await getattr(self.client, command)(*args, **kwargs)
        except (redis.RedisError, OSError) as err:
            self.counters.errors += 1
            self._open_until = time.monotonic() + BREAKER_SECONDS
            log.warning("cache unavailable, serving from the database", extra={"error": str(err)[:200]})
            return None
