"""Orders: one transaction on the writer, stock checks, idempotency keys, read-your-writes."""

import psycopg
import pytest

from tests.app.conftest import new_product

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


def order(*items, key):
    return {
        "json": {"items": [{"product_id": p, "quantity": q} for p, q in items]},
        "headers": {"idempotency-key": key},
    }


async def test_an_order_takes_stock_and_is_readable_at_once(client):
    lamp, desk = (
        await new_product(client, stock=5, price_cents=250),
        await new_product(client, stock=2, price_cents=1000),
    )
    placed = await client.post("/orders", **order((lamp, 2), (desk, 1), key="o-1"))
    assert placed.status_code == 201
    body = placed.json()
    assert body["total_cents"] == 2 * 250 + 1000
    again = await client.get(f"/orders/{body['id']}")
    assert again.json() == body
    stock = [(await client.get(f"/products/{p}")).json()["stock"] for p in (lamp, desk)]
    assert stock == [3, 1]


async def test_insufficient_stock_rejects_the_whole_order_and_writes_nothing(client, lab):
    lamp, desk = await new_product(client, stock=5), await new_product(client, stock=1)
    rejected = await client.post("/orders", **order((lamp, 2), (desk, 3), key="o-2"))
    assert rejected.status_code == 409
    assert rejected.json() == {"error": f"product {desk}: 3 requested, 1 in stock"}
    with psycopg.connect(lab.dsn(lab.primary)) as conn:
        assert conn.execute("SELECT stock FROM products WHERE id = %s", (lamp,)).fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM orders WHERE idempotency_key = 'o-2'").fetchone() == (0,)


async def test_replaying_an_idempotency_key_returns_the_first_order_and_takes_stock_once(client):
    lamp = await new_product(client, stock=5)
    first = await client.post("/orders", **order((lamp, 2), key="o-3"))
    replay = await client.post("/orders", **order((lamp, 2), key="o-3"))
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert (await client.get(f"/products/{lamp}")).json()["stock"] == 3


async def test_bad_orders_get_clear_errors(client):
    lamp = await new_product(client)
    no_key = await client.post("/orders", json={"items": [{"product_id": lamp, "quantity": 1}]})
    assert no_key.status_code == 422
    assert no_key.json()["details"][0]["field"] == "header.idempotency-key"
    unknown = await client.post("/orders", **order((987654321, 1), key="o-4"))
    assert (unknown.status_code, unknown.json()) == (404, {"error": "product 987654321 does not exist"})
    twice = await client.post("/orders", **order((lamp, 1), (lamp, 1), key="o-5"))
    assert twice.status_code == 422
    assert "each product may appear once" in twice.json()["details"][0]["message"]
    assert (await client.get("/orders/987654321")).status_code == 404
