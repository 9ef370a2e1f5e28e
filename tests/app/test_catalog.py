"""Catalog against real servers: replica reads, writer writes, cache-aside hit/miss/invalidation/TTL."""

import asyncio
import json
import logging

import psycopg
import pytest
import redis

from app.logs import JsonFormatter
from lab.servers import REDIS_PASSWORD
from tests.app.conftest import client_for, new_product, with_ttl

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


async def test_health_is_liveness_only_and_ready_checks_writer_reader_and_cache(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"writer": "ok", "reader": "ok", "cache": "ok"}}


async def test_reads_go_to_the_standby_and_writes_to_the_primary(client, lab):
    db = client.app.state.db

    async def in_recovery(conn):
        return (await (await conn.execute("SELECT pg_is_in_recovery() AS r")).fetchone())["r"]

    assert await db.read(in_recovery) is True
    assert await db.write(in_recovery, idempotent=True) is False


async def test_product_list_is_served_by_the_replica(client, lab):
    """With replay paused on the standby, a change committed on the primary is not yet in the listing."""
    product_id = await new_product(client, name="Before")
    with (
        psycopg.connect(lab.dsn(lab.standby, user="postgres"), autocommit=True) as standby,
        psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as primary,
    ):
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            primary.execute("UPDATE products SET name = 'After' WHERE id = %s", (product_id,))
            page = await client.get("/products", params={"offset": product_id - 1, "limit": 1})
            assert page.json()["items"][0]["name"] == "Before"
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")


async def test_first_read_misses_then_hits_with_the_same_body(client):
    product_id = await new_product(client)
    await client.app.state.cache.invalidate(product_id)
    first = await client.get(f"/products/{product_id}")
    second = await client.get(f"/products/{product_id}")
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    assert first.json()["name"] == "Lamp"


async def test_cached_products_live_one_hour_by_default(client, lab):
    product_id = await new_product(client)
    await client.get(f"/products/{product_id}")
    ttl = redis.Redis(port=lab.redis.port, password=REDIS_PASSWORD).ttl(f"product:{product_id}")
    assert 3590 <= ttl <= 3600


async def test_a_cached_product_expires_after_its_ttl(settings):
    async with client_for(with_ttl(settings, 1)) as client:
        product_id = await new_product(client)
        assert (await client.get(f"/products/{product_id}")).headers["x-cache"] == "hit"
        await asyncio.sleep(1.2)
        assert (await client.get(f"/products/{product_id}")).headers["x-cache"] == "miss"


async def test_an_update_replaces_the_cached_value_so_no_reader_sees_the_old_one(client):
    product_id = await new_product(client, price_cents=100)
    await client.get(f"/products/{product_id}")
    updated = await client.put(f"/products/{product_id}", json={"name": "Lamp", "price_cents": 120, "stock": 3})
    assert updated.status_code == 200
    after = await client.get(f"/products/{product_id}")
    assert after.headers["x-cache"] == "hit"
    assert (after.json()["price_cents"], after.json()["stock"]) == (120, 3)


async def test_a_stale_fill_never_overwrites_a_fresher_write(client):
    product_id = await new_product(client, price_cents=100)
    cache = client.app.state.cache
    await cache.fill({"id": product_id, "version": 0, "price_cents": 1})  # a late read of an older version
    assert json.loads(await cache.get_json(product_id))["price_cents"] == 100


async def test_listing_pages_and_bounds(client):
    page = (await client.get("/products", params={"limit": 3})).json()
    assert [p["id"] for p in page["items"]] == [1, 2, 3]
    assert page["next_offset"] == 3
    bad = await client.get("/products", params={"limit": 1000})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "query.limit"


async def test_unknown_product_and_bad_bodies_get_clear_json_errors(client):
    missing = await client.get("/products/987654321")
    assert (missing.status_code, missing.json()) == (404, {"error": "product 987654321 does not exist"})
    assert (
        await client.put("/products/987654321", json={"name": "x", "price_cents": 1, "stock": 1})
    ).status_code == 404
    invalid = await client.post("/products", json={"name": "", "price_cents": -1, "stock": 1})
    assert invalid.status_code == 422
    assert {d["field"] for d in invalid.json()["details"]} == {"body.name", "body.price_cents"}
    huge = await client.post(
        "/products", content=b'{"name": "' + b"x" * 70_000 + b'"}', headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert "error" in huge.json()


async def test_every_request_gets_a_request_id_and_a_json_access_log_line(client, caplog):
    caplog.set_level(logging.INFO, logger="app.access")
    response = await client.get("/health", headers={"x-request-id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    await asyncio.sleep(1.1)  # a lone success is logged within a second (app.logs.SAMPLE_SECONDS)
    (record,) = [r for r in caplog.records if r.name == "app.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-123"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["latency_ms"] >= 0


async def test_the_access_log_samples_fast_successes_but_keeps_every_failure_and_counts_every_request(client, caplog):
    caplog.set_level(logging.INFO, logger="app.access")
    for _ in range(150):
        await client.get("/health")
    missing = await client.get("/products/987654321")
    assert missing.status_code == 404
    await asyncio.sleep(1.1)  # the rest of the successes are counted in a line within a second
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "app.access"]
    sampled = [line["sample_rate"] for line in lines if line["status"] == 200]
    assert 2 <= len(sampled) <= 3
    assert max(sampled) <= 100
    assert sum(sampled) == 150, "every success is counted by exactly one line"
    assert [(line["status"], line["sample_rate"]) for line in lines if line["status"] != 200] == [(404, 1)]
    counts = client.app.state.requests
    assert (counts.requests, counts.client_errors, counts.server_errors) == (151, 1, 0)


async def test_a_quiet_service_still_logs_a_request_a_second(client, caplog):
    caplog.set_level(logging.INFO, logger="app.access")
    await client.get("/health")
    await asyncio.sleep(1.1)
    await client.get("/health")
    await asyncio.sleep(1.1)
    rates = [json.loads(JsonFormatter().format(r))["sample_rate"] for r in caplog.records if r.name == "app.access"]
    assert rates == [1, 1]
