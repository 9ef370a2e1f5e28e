"""Cache-aside for product data in Redis, with bounded staleness, that can never turn a request into an error.

Every call has a short timeout and no retries; a failure is counted, logged, and answered as a miss,
and it opens a one-second breaker so a dead Redis costs one timeout per second, not one per request.

Staleness is bounded by versioned entries and a transactional outbox (migration 003), a design whose
correctness does not depend on timing:
- each product row has a ``version`` that every update raises (a trigger, under the row lock, so versions
  of one product are totally ordered as its commits are);
- every store into Redis is a compare-and-set (one Lua script): the entry is replaced only by a higher
  version, so a slow fill or a late refresh can never put an older row over a newer one, whatever the order
  in which they reach Redis (the fill/invalidate race of a delete-based cache cannot happen: nothing deletes);
- misses read the writer, so a fill carries the newest committed version at the time of its read (a replica
  behind by any lag could otherwise store an old row for a whole TTL); a miss while the writer is away
  is answered from a replica and not cached;
- each insert or update of a product also queues its id in ``cache_outbox`` in the same transaction, and
  every service process drains that queue into Redis (app/relay.py) every RELAY_INTERVAL_SECONDS; a row
  leaves the queue only once its current version is in Redis. So a write whose immediate refresh failed
  (Redis down or hung) reaches the cache as soon as Redis answers again.
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.config import AppSettings

log = logging.getLogger("app.cache")

TIMEOUT_SECONDS = 0.25
BREAKER_SECONDS = 1.0
RELAY_INTERVAL_SECONDS = 0.25
"""How often each process drains the outbox: the cache is at most this (plus one Redis round trip) behind
an acknowledged write, counted from the moment Redis answers (docs/runtime-config.md)."""

STORE_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if tonumber(ARGV[1]) > current then
    redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return 1
end
return 0
"""
"""Replace ``product:<id>`` (a hash: v = version, j = the JSON served) only with a higher version."""


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
        self._store_if_newer = self.client.register_script(STORE_IF_NEWER)

    @staticmethod
    def key(product_id: int) -> str:
        return f"product:{product_id}"

    async def get_json(self, product_id: int) -> str | None:
        """The cached product as the JSON text it was stored as, or None on a miss or any failure."""
        raw: str | None = await self._call(self.client.hget, self.key(product_id), "j")
        if raw is None:
            self.counters.misses += 1
            return None
        self.counters.hits += 1
        return raw

    async def fill(self, product: dict[str, Any]) -> None:
        """After a miss: store what the writer returned, unless a newer version is cached already."""
        await self._call(self._store, product)

    async def put(self, product: dict[str, Any]) -> None:
        """After a committed write: store the row it returned, unless a newer version is cached already."""
        await self._call(self._store, product)

    async def store_all(self, products: list[dict[str, Any]]) -> None:
        """For the outbox relay: store every row or raise (no breaker, no swallowed error), so the relay keeps
        the rows queued until Redis has them."""
        try:
            for product in products:
                await self._store(product)
        except (redis.RedisError, OSError):
            self.counters.errors += 1
            raise

    async def invalidate(self, product_id: int) -> None:
        """Drop an entry (operators and tests): the next read fills it from the writer."""
        await self._call(self.client.delete, self.key(product_id))

    async def _store(self, product: dict[str, Any]) -> int:
        body = json.dumps(product, default=str)
        stored: int = await self._store_if_newer(
            keys=[self.key(int(product["id"]))], args=[int(product["version"]), body, self.ttl]
        )
        return stored

    async def ping(self) -> None:
        """Raises if Redis does not answer (for readiness)."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, command: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        if time.monotonic() < self._open_until:
            self.counters.errors += 1
            return None
        try:
            return await command(*args)
        except (redis.RedisError, OSError) as err:
            self.counters.errors += 1
            self._open_until = time.monotonic() + BREAKER_SECONDS
            log.warning("cache unavailable, serving from the database", extra={"error": str(err)[:200]})
            return None
