"""Drills against real servers: Redis killed, the primary killed and the standby promoted, SIGTERM drain.

Each drill gets servers of its own, since it breaks them.
"""

import asyncio
import signal
import socket
import threading
import time
import uuid
from dataclasses import replace

import httpx
import psycopg
import pytest

from app.config import Endpoint, from_env
from lab.servers import free_port, running_lab
from tests.app.conftest import app_env, client_for, new_product, rds_lab

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


async def test_redis_killed_mid_test_every_read_still_succeeds_from_the_database(settings):
    with running_lab(database=False) as cache_lab:
        own_cache = replace(settings, redis=Endpoint("127.0.0.1", cache_lab.redis.port))
        async with client_for(own_cache) as client:
            product_id = await new_product(client, name="Kettle")
            assert (await client.get(f"/products/{product_id}")).headers["x-cache"] == "hit"
            cache_lab.redis.kill()
            started = time.perf_counter()
            responses = [await client.get(f"/products/{product_id}") for _ in range(50)]
            elapsed = time.perf_counter() - started
            assert [r.status_code for r in responses] == [200] * 50
            assert {r.json()["name"] for r in responses} == {"Kettle"}
            assert elapsed < 2.0, f"50 degraded reads took {elapsed:.2f} s"
            placed = await client.post(
                "/orders",
                json={"items": [{"product_id": product_id, "quantity": 1}]},
                headers={"idempotency-key": "during-cache-outage"},
            )
            assert placed.status_code == 201
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert set(ready.json()["failed"]) == {"cache"}
            assert client.app.state.cache.counters.errors >= 1


async def test_primary_killed_standby_promoted_writes_resume_within_seconds_and_no_order_is_lost():
    """As the app role, on servers that check passwords: the role and its grants replicate to the standby."""
    with rds_lab() as lab:
        async with client_for(from_env(app_env(lab))) as client:
            product_id = await new_product(client, stock=1_000_000)
            acknowledged: list[int] = []
            outcomes: list[tuple[float, int]] = []
            stop = asyncio.Event()

            async def place_orders() -> None:
                while not stop.is_set():
                    r = await client.post(
                        "/orders",
                        json={"items": [{"product_id": product_id, "quantity": 1}]},
                        headers={"idempotency-key": uuid.uuid4().hex},
                    )
                    outcomes.append((time.monotonic(), r.status_code))
                    if r.status_code in (200, 201):  # 200: a retry after a lost commit ack found the order
                        acknowledged.append(r.json()["id"])

            writers = [asyncio.create_task(place_orders()) for _ in range(4)]
            await asyncio.sleep(0.5)
            lab.primary.kill()
            killed_at = time.monotonic()
            await asyncio.sleep(0.5)  # RDS detects the failure, then promotes
            await asyncio.to_thread(lab.promote_standby)
            promoted_at = time.monotonic()
            await asyncio.sleep(3.0)
            stop.set()
            await asyncio.gather(*writers)

            after = [t for t, status in outcomes if status == 201 and t > promoted_at]
            assert after, "no write succeeded after the promotion"
            assert after[0] - promoted_at < 5.0
            failed = [status for _, status in outcomes if status not in (200, 201)]
            assert failed == [], f"writes failed during failover: {failed}"
            with psycopg.connect(lab.dsn(lab.standby)) as conn:
                stored = {r[0] for r in conn.execute("SELECT id FROM orders")}
            assert set(acknowledged) <= stored, f"{len(set(acknowledged) - stored)} acknowledged orders lost"
            assert len(acknowledged) > 10
            print(
                f"failover drill: {len(acknowledged)} orders acknowledged, first write "
                f"{after[0] - promoted_at:.2f} s after promotion, "
                f"{promoted_at - killed_at:.2f} s from kill to promotion"
            )


def test_sigterm_drains_in_flight_requests_then_stops(lab, tmp_path):
    """An order blocked on a row lock is in flight when SIGTERM arrives: it completes, new ones are refused."""
    port = free_port()
    log = (tmp_path / "app.log").open("w")
    server = lab.start_service(port, stdout=log, HA_SHUTDOWN_GRACE_SECONDS="10")
    base = f"http://127.0.0.1:{port}"
    try:
        product_id = httpx.post(f"{base}/products", json={"name": "Chair", "price_cents": 900, "stock": 5}).json()["id"]
        result: dict[str, httpx.Response] = {}
        with psycopg.connect(lab.dsn(lab.primary)) as blocker:
            blocker.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product_id,))
            in_flight = threading.Thread(
                target=lambda: result.setdefault(
                    "r",
                    httpx.post(
                        f"{base}/orders",
                        json={"items": [{"product_id": product_id, "quantity": 1}]},
                        headers={"idempotency-key": "drain-1"},
                        timeout=30,
                    ),
                )
            )
            in_flight.start()
            time.sleep(0.5)  # the order is now waiting on the row lock
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
                pass  # the listener is closed: the load balancer's new requests go elsewhere
            blocker.rollback()  # release the lock
        in_flight.join(15)
        assert result["r"].status_code == 201
        assert server.wait(15) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    text = (tmp_path / "app.log").read_text()
    assert "Application shutdown complete" in text
    assert '"msg": "service stopped"' in text
