"""The cache outbox relay: every process drains ``cache_outbox`` into Redis (see app.cache for the design).

One round, in one transaction on the writer: take up to BATCH queued ids (SKIP LOCKED, so processes share the
work instead of waiting on each other), read those products' current rows, store each in Redis with the
version compare-and-set, and only then commit the deletion. If Redis fails, the transaction rolls back and
the ids stay queued for the next round, RELAY_INTERVAL_SECONDS later.
"""

import asyncio
import logging
from typing import Any

import psycopg

from app.cache import RELAY_INTERVAL_SECONDS, ProductCache
from app.db import Database

log = logging.getLogger("app.relay")
BATCH = 200
PRODUCT_COLUMNS = "id, name, description, price_cents, stock, updated_at, version"


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A product row as the API serves it (timestamps as ISO 8601 text)."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


async def drain_once(db: Database, cache: ProductCache) -> int:
    """One round; returns how many products it brought up to date in Redis."""

    async def work(conn: psycopg.AsyncConnection[dict[str, Any]]) -> int:
        cur = await conn.execute(
            "DELETE FROM cache_outbox WHERE id IN "
            "(SELECT id FROM cache_outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING product_id",
            (BATCH,),
        )
        ids = sorted({int(r["product_id"]) for r in await cur.fetchall()})
        if not ids:
            return 0
        cur = await conn.execute(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ANY(%s)", (ids,))
        await cache.store_all([jsonable(r) for r in await cur.fetchall()])
        return len(ids)

    return await db.write(work, idempotent=False)


async def relay_forever(db: Database, cache: ProductCache, interval: float = RELAY_INTERVAL_SECONDS) -> None:
    """Drain the outbox every ``interval`` seconds, for as long as the process serves; one log line when it
    starts failing (Redis or the writer away) and one when it drains again."""
    failing = False
    while True:
        try:
            while await drain_once(db, cache) == BATCH:
                pass
        except Exception as err:  # any failure: the ids stay queued and the next round tries again
            if not failing:
                log.warning("cache outbox relay failing, retrying", extra={"error": str(err)[:200]})
            failing = True
        else:
            if failing:
                log.info("cache outbox relay draining again")
            failing = False
        await asyncio.sleep(interval)
