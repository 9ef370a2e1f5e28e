"""Idempotency-Key contract: same body -> the original order; other body -> 422 and nothing changes."""

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from tests.app.conftest import new_product

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


def order(*items: tuple[int, int], key: str) -> dict[str, Any]:
    return {
        "json": {"items": [{"product_id": p, "quantity": q} for p, q in items]},
        "headers": {"idempotency-key": key},
    }


async def test_a_key_reused_with_other_items_gets_422_and_changes_nothing(client, lab):
    lamp, desk = await new_product(client, stock=5), await new_product(client, stock=5)
    first = await client.post("/orders", **order((lamp, 2), key="mismatch-1"))
    other_product = await client.post("/orders", **order((desk, 2), key="mismatch-1"))
    other_quantity = await client.post("/orders", **order((lamp, 3), key="mismatch-1"))
    same_items_other_order = await client.post("/orders", **order((lamp, 2), key="mismatch-1"))
    assert first.status_code == 201
    assert (other_product.status_code, other_quantity.status_code) == (422, 422)
    assert "Idempotency-Key 'mismatch-1' was used for an order with other items" in other_product.json()["error"]
    assert same_items_other_order.status_code == 200
    assert same_items_other_order.json() == first.json()
    with psycopg.connect(lab.dsn(lab.primary)) as conn:
        stock: dict[int, int] = dict(
            conn.execute("SELECT id, stock FROM products WHERE id IN (%s, %s)", (lamp, desk)).fetchall()
        )
    assert stock == {lamp: 3, desk: 5}


async def test_concurrent_mixed_body_replays_make_one_order_and_no_client_gets_an_order_it_did_not_send(client, lab):
    lamp, desk = await new_product(client, stock=100), await new_product(client, stock=100)
    for round_ in range(5):
        key = f"mixed-{round_}-{uuid.uuid4().hex}"
        bodies = [(lamp, 1) if i % 2 else (desk, 2) for i in range(20)]
        responses = await asyncio.gather(*[client.post("/orders", **order(b, key=key)) for b in bodies])
        winners = [(b, r) for b, r in zip(bodies, responses, strict=True) if r.status_code in (200, 201)]
        assert [r.status_code for _, r in winners].count(201) == 1
        assert len({b for b, _ in winners}) == 1, "every successful answer is for the same body"
        for body, r in winners:
            assert [(i["product_id"], i["quantity"]) for i in r.json()["items"]] == [body]
        losers = [r for _, r in zip(bodies, responses, strict=True) if r.status_code not in (200, 201)]
        assert {r.status_code for r in losers} == {422}
        assert len(losers) == 10
    with psycopg.connect(lab.dsn(lab.primary)) as conn:
        stock: dict[int, int] = dict(
            conn.execute("SELECT id, stock FROM products WHERE id IN (%s, %s)", (lamp, desk)).fetchall()
        )
        orders = conn.execute("SELECT count(*) FROM orders WHERE idempotency_key LIKE 'mixed-%%'").fetchone()
    assert orders == (5,)
    assert (100 - stock[lamp]) + (100 - stock[desk]) // 2 == 5, "stock taken once per key, by the winning body"
