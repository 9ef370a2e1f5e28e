"""Bounded cache staleness against real servers: a Redis freeze, the fill/invalidate race, the sell-out race.

Bounds asserted (docs/runtime-config.md, "Cache staleness"): once every write to a product has been
acknowledged, a read serves that product's newest committed row; after a Redis outage or hang, within
RELAY_INTERVAL_SECONDS (+ one Redis round trip and slack) of Redis answering again.
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from app.cache import RELAY_INTERVAL_SECONDS
from app.config import AppSettings, Endpoint
from lab.servers import Lab, running_lab
from tests.app.conftest import ShopClient, client_for, frozen, new_product

pytestmark = [pytest.mark.anyio, pytest.mark.servers]
SLACK = 0.5


def in_database(lab: Lab, product_id: int) -> tuple[int, int]:
    with psycopg.connect(lab.dsn(lab.primary)) as conn:
        row = conn.execute("SELECT price_cents, stock FROM products WHERE id = %s", (product_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def served(client: ShopClient, product_id: int) -> tuple[int, int, str]:
    r = await client.get(f"/products/{product_id}")
    assert r.status_code == 200, r.text
    return int(r.json()["price_cents"]), int(r.json()["stock"]), r.headers["x-cache"]


@pytest.fixture
async def two_instances(settings: AppSettings) -> AsyncIterator[list[ShopClient]]:
    """Two service instances (as two workers or two hosts) on the same database and Redis."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(client_for(settings)) for _ in range(2)]


async def test_writes_acknowledged_while_redis_hangs_reach_the_cache_within_a_second_of_its_return(settings, lab):
    with running_lab(database=False) as cache_lab:
        own_cache = replace(settings, redis=Endpoint("127.0.0.1", cache_lab.redis.port))
        async with client_for(own_cache) as client:
            product_id = await new_product(client, price_cents=100, stock=10)
            assert (await served(client, product_id))[2] == "hit"
            with frozen(cache_lab.redis, at_most=10):
                changed = await client.put(
                    f"/products/{product_id}", json={"name": "Lamp", "price_cents": 175, "stock": 10}
                )
                ordered = await client.post(
                    "/orders",
                    json={"items": [{"product_id": product_id, "quantity": 3}]},
                    headers={"idempotency-key": f"redis-hang-{product_id}"},
                )
                await asyncio.sleep(1.5)  # the relay keeps failing meanwhile
            thawed = time.monotonic()
            assert (changed.status_code, ordered.status_code) == (200, 201)
            truth = in_database(lab, product_id)
            assert truth == (175, 7)
            while (await served(client, product_id))[:2] != truth:
                assert time.monotonic() - thawed < RELAY_INTERVAL_SECONDS + 0.25 + SLACK, "stale after Redis returned"
                await asyncio.sleep(0.02)
            fresh_after = time.monotonic() - thawed
            assert await served(client, product_id) == (*truth, "hit")
            print(f"redis freeze: cache fresh {fresh_after:.2f} s after Redis answered again")


async def test_concurrent_price_changes_orders_and_misses_leave_the_cache_equal_to_the_database(two_instances, lab):
    """The fill/invalidate race: misses filling while writes refresh, on two instances; after every round the
    cached row is the database's, with no wait."""
    a, b = two_instances
    products = [await new_product(a, price_cents=100, stock=1_000_000) for _ in range(2)]
    rng = random.Random(19)
    mismatches = []
    for round_ in range(60):
        product_id = products[round_ % 2]
        await a.app.state.cache.invalidate(product_id)
        calls: list[Any] = []
        for i in range(12):
            client = (a, b)[i % 2]
            kind = rng.choice(("read", "read", "price", "order"))
            if kind == "read":
                calls.append(client.get(f"/products/{product_id}"))
            elif kind == "price":
                body = {"name": "Lamp", "price_cents": rng.randint(1, 10_000), "stock": 1_000_000 - round_}
                calls.append(client.put(f"/products/{product_id}", json=body))
            else:
                item = {"items": [{"product_id": product_id, "quantity": 1}]}
                calls.append(client.post("/orders", json=item, headers={"idempotency-key": f"race-{round_}-{i}"}))
        responses = await asyncio.gather(*calls)
        assert all(r.status_code in (200, 201) for r in responses)
        for client in (a, b):
            price, stock, _ = await served(client, product_id)
            if (price, stock) != in_database(lab, product_id):
                mismatches.append(round_)
    assert mismatches == [], f"cache differed from the database after rounds {mismatches}"


async def test_sell_out_races_sell_exactly_the_stock_and_the_cache_says_zero(two_instances, lab):
    a, b = two_instances
    for round_ in range(4):
        product_id = await new_product(a, stock=10)
        await served(a, product_id)  # cached with stock 10

        async def buy(i: int, product_id: int = product_id, round_: int = round_) -> int:
            client = (a, b)[i % 2]
            r = await client.post(
                "/orders",
                json={"items": [{"product_id": product_id, "quantity": 1}]},
                headers={"idempotency-key": f"sellout-{product_id}-{round_}-{i}"},
            )
            return int(r.status_code)

        async def look(i: int, product_id: int = product_id) -> int:
            return (await served((a, b)[i % 2], product_id))[1]

        results = await asyncio.gather(*[buy(i) for i in range(60)], *[look(i) for i in range(40)])
        statuses = results[:60]
        assert statuses.count(201) == 10
        assert set(statuses) == {201, 409}
        assert in_database(lab, product_id)[1] == 0
        assert [(await served(c, product_id))[1] for c in (a, b)] == [0, 0]


async def test_a_lagging_replica_never_puts_an_old_row_in_the_cache(client, lab):
    """A miss right after a write, while the replica has not replayed it (replay paused, as replica lag looks):
    the fill must not cache the replica's old row for a TTL."""
    product_id = await new_product(client, stock=10)
    with psycopg.connect(lab.dsn(lab.standby, user="postgres"), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            placed = await client.post(
                "/orders",
                json={"items": [{"product_id": product_id, "quantity": 4}]},
                headers={"idempotency-key": f"lagging-replica-{product_id}"},
            )
            assert placed.status_code == 201
            await client.app.state.cache.invalidate(product_id)  # an eviction: the next read is a miss
            during = await served(client, product_id)
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    assert during[:2] == (250, 6)
    assert await served(client, product_id) == (250, 6, "hit")
