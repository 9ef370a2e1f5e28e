"""Deadlines against real servers: a hung primary, a hung synchronous standby, a held row lock, a slow statement.

Bounds asserted (docs/runtime-config.md, "Deadlines"): a request answers within REQUEST_BUDGET_SECONDS (3 s)
plus scheduling slack, with 503 and Retry-After when the database did not; /ready within its 1 s timeout;
a locked row delays only the writes to that product; statement and lock timeouts are not retried.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from app.config import from_env
from app.db import LOCK_TIMEOUT_MS, REQUEST_BUDGET_SECONDS, STATEMENT_TIMEOUT_MS, DatabaseBusyError
from lab.servers import Lab
from tests.app.conftest import ShopClient, app_env, client_for, frozen, new_product, rds_lab

pytestmark = [pytest.mark.anyio, pytest.mark.servers]
SLACK = 0.6
"""Scheduling slack on 2 shared cores, on top of every stated bound."""


@pytest.fixture(scope="module")
def own_lab() -> Iterator[Lab]:
    """Servers of this module's own: its tests freeze them."""
    with rds_lab() as lab:
        yield lab


@pytest.fixture
async def shop(own_lab: Lab) -> AsyncIterator[ShopClient]:
    async with client_for(from_env(app_env(own_lab))) as client:
        yield client


async def timed_order(client: ShopClient, product_id: int, key: str | None = None) -> tuple[float, int, dict[str, Any]]:
    started = time.monotonic()
    r = await client.post(
        "/orders",
        json={"items": [{"product_id": product_id, "quantity": 1}]},
        headers={"idempotency-key": key or uuid.uuid4().hex},
    )
    return time.monotonic() - started, r.status_code, {"body": r.json(), "retry-after": r.headers.get("retry-after")}


async def wait_for_writes(client: ShopClient, product_id: int, within: float) -> float:
    """Seconds until an order succeeds again (fails the test after ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        _, status, _ = await timed_order(client, product_id)
        if status == 201:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    pytest.fail(f"writes did not resume within {within} s")


async def test_a_hung_primary_gets_fast_503s_with_retry_after_not_a_pile_up_and_reads_go_on(shop, own_lab):
    products = [await new_product(shop, stock=1_000_000) for _ in range(60)]
    product_id = products[0]
    await shop.app.state.cache.invalidate(product_id)
    with frozen(own_lab.primary, at_most=12):
        outcomes = await asyncio.gather(*[timed_order(shop, products[i]) for i in range(60)])
        started = time.monotonic()
        ready = await shop.get("/ready")
        ready_took = time.monotonic() - started
        read = await shop.get(f"/products/{product_id}")  # a miss, served by the standby
    statuses = {status for _, status, _ in outcomes}
    slowest = max(took for took, _, _ in outcomes)
    assert statuses == {503}, statuses
    assert all(extra["retry-after"] == "1" and "retry shortly" in extra["body"]["error"] for _, _, extra in outcomes)
    assert slowest < REQUEST_BUDGET_SECONDS + SLACK, f"slowest 503 after {slowest:.2f} s"
    waited = sum(1 for took, _, _ in outcomes if took > 0.5)
    assert waited <= 30, f"{waited} requests queued on a hung writer (at most 3 per pooled connection)"
    assert ready.status_code == 503
    assert "writer" in ready.json()["failed"]
    assert ready_took < 1.0 + SLACK, f"/ready took {ready_took:.2f} s"
    assert read.status_code == 200
    assert read.headers["x-cache"] == "miss"
    resumed = await wait_for_writes(shop, product_id, within=15)
    print(
        f"hung primary: 60 orders on 60 products, all 503, slowest {slowest:.2f} s, {waited} waited > 0.5 s, "
        f"/ready {ready_took:.2f} s, writes resumed {resumed:.2f} s after SIGCONT"
    )


async def test_a_hung_synchronous_standby_bounds_writes_and_a_replay_finds_what_committed(shop, own_lab):
    """A commit waits for the synchronous standby (as Multi-AZ's does): past the budget the client gets a 503,
    though PostgreSQL has committed locally; replaying the same Idempotency-Key returns that order, once."""
    product_id = await new_product(shop, stock=100)
    keys = [f"sync-standby-{uuid.uuid4().hex}" for _ in range(5)]
    with frozen(own_lab.standby, at_most=12):
        outcomes = await asyncio.gather(*[timed_order(shop, product_id, key) for key in keys])
        started = time.monotonic()
        ready = await shop.get("/ready")
        ready_took = time.monotonic() - started
    assert {status for _, status, _ in outcomes} == {503}
    assert max(took for took, _, _ in outcomes) < REQUEST_BUDGET_SECONDS + SLACK
    assert ready.status_code == 503
    assert "reader" in ready.json()["failed"]
    assert ready_took < 1.0 + SLACK, f"/ready took {ready_took:.2f} s"
    await wait_for_writes(shop, product_id, within=15)
    replays = [await timed_order(shop, product_id, key) for key in keys]
    assert {status for _, status, _ in replays} <= {200, 201}
    with psycopg.connect(own_lab.dsn(own_lab.primary)) as conn:
        stock = conn.execute("SELECT stock FROM products WHERE id = %s", (product_id,)).fetchone()
        orders = conn.execute("SELECT count(*) FROM orders WHERE idempotency_key = ANY(%s)", (keys,)).fetchone()
    assert orders == (len(keys),)
    assert stock == (100 - len(keys) - 1,), "each key took stock exactly once (plus wait_for_writes' order)"


async def test_a_locked_row_stalls_only_its_own_product_and_lock_timeouts_are_not_retried(shop, own_lab):
    hot = await new_product(shop, stock=1000)
    others = [await new_product(shop, stock=1000) for _ in range(8)]
    baseline = await asyncio.gather(*[timed_order(shop, others[i % 8]) for i in range(40)])
    usual = max(took for took, _, _ in baseline)
    with psycopg.connect(own_lab.dsn(own_lab.primary)) as blocker:
        blocker.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (hot,))
        started = time.monotonic()
        hot_orders = [asyncio.create_task(timed_order(shop, hot)) for _ in range(30)]
        await asyncio.sleep(0.05)
        unrelated = await asyncio.gather(*[timed_order(shop, others[i % 8]) for i in range(40)])
        hot_outcomes = await asyncio.gather(*hot_orders)
        held = time.monotonic() - started
        blocker.rollback()
    assert {status for _, status, _ in unrelated} == {201}
    slowest_unrelated = max(took for took, _, _ in unrelated)
    assert slowest_unrelated < usual + 0.3, f"unrelated: slowest {slowest_unrelated:.2f} s, unlocked {usual:.2f} s"
    assert {status for _, status, _ in hot_outcomes} == {503}
    assert all(extra["retry-after"] == "1" for _, _, extra in hot_outcomes)
    assert max(took for took, _, _ in hot_outcomes) < REQUEST_BUDGET_SECONDS + SLACK
    assert held < REQUEST_BUDGET_SECONDS + 2 * SLACK
    locked = [extra["body"]["error"] for _, _, extra in hot_outcomes if "stayed locked" in extra["body"]["error"]]
    assert locked, "the first order on the locked row gets the lock timeout's answer"
    print(f"held lock: 40 unrelated orders all 201, slowest {slowest_unrelated:.2f} s ({usual:.2f} s unlocked)")
    assert (await timed_order(shop, hot))[1] == 201


async def test_a_statement_past_its_timeout_is_answered_once_not_retried_as_a_failover(client):
    db = client.app.state.db

    async def slow(conn: psycopg.AsyncConnection) -> None:
        await conn.execute("SELECT pg_sleep(10)")

    started = time.monotonic()
    with pytest.raises(DatabaseBusyError, match="statement ran past"):
        await db.write(slow, idempotent=True)
    took = time.monotonic() - started
    assert STATEMENT_TIMEOUT_MS / 1000 <= took < STATEMENT_TIMEOUT_MS / 1000 + SLACK, f"took {took:.2f} s"
    assert LOCK_TIMEOUT_MS < STATEMENT_TIMEOUT_MS < REQUEST_BUDGET_SECONDS * 1000
