"""Bad input gets a JSON 4xx naming the field, never a 500: text PostgreSQL refuses, integers beyond 64 bits,
loose types, malformed JSON; and the interactive docs are off unless enabled."""

import json
import socket
from dataclasses import replace

import pytest

from app.config import ConfigError, from_env
from lab.servers import free_port
from tests.app.conftest import client_for, new_product

pytestmark = [pytest.mark.anyio, pytest.mark.servers]

TOO_BIG = str(2**63)
REQUIRED_ENV = {"HA_DB_WRITER": "d", "HA_DB_NAME": "s", "HA_DB_USER": "u", "HA_DB_PASSWORD": "x", "HA_REDIS_HOST": "r"}


def product(**overrides: object) -> dict[str, object]:
    return {"name": "Lamp", "price_cents": 100, "stock": 1, **overrides}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (product(name="La\x00mp"), "body.name"),
        (product(description="nul \x00 inside"), "body.description"),
        (product(price_cents=True), "body.price_cents"),
        (product(stock="5"), "body.stock"),
        (product(stock=5.0), "body.stock"),
        (product(name=12), "body.name"),
        (product(price_cents=2**64), "body.price_cents"),
    ],
)
async def test_bad_product_bodies_get_422_naming_the_field(client, body, field):
    for method, path in (("POST", "/products"), ("PUT", "/products/1")):
        response = await client.request(method, path, json=body)
        assert response.status_code == 422, response.text
        assert [d["field"] for d in response.json()["details"]] == [field]


async def test_a_lone_surrogate_postgresql_cannot_store_gets_422(client):
    raw = b'{"name": "bad \\ud800 text", "price_cents": 1, "stock": 1}'
    response = await client.post("/products", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "body.name"


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"product_id": 1, "quantity": True}], "body.items.0.quantity"),
        ([{"product_id": "1", "quantity": 1}], "body.items.0.product_id"),
        ([{"product_id": 2**63, "quantity": 1}], "body.items.0.product_id"),
        ([{"product_id": 10**30, "quantity": 1}], "body.items.0.product_id"),
        ([{"product_id": 1, "quantity": 1.0}], "body.items.0.quantity"),
    ],
)
async def test_bad_order_items_get_422_naming_the_field(client, items, field):
    response = await client.post("/orders", json={"items": items}, headers={"idempotency-key": "bad-input"})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == [field]


@pytest.mark.parametrize("key", ["nul\x00key", "tab\tkey", "é-accent"])
async def test_an_idempotency_key_outside_printable_ascii_gets_422(client, key):
    lamp = await new_product(client)
    response = await client.post(
        "/orders",
        json={"items": [{"product_id": lamp, "quantity": 1}]},
        headers=[("idempotency-key", key.encode("latin-1"))],
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "header.idempotency-key"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/products/1_0", "path.product_id"),
        ("/products/+1", "path.product_id"),
        ("/products/%201", "path.product_id"),
        ("/products/%D9%A1", "path.product_id"),  # ARABIC-INDIC DIGIT ONE, which int() takes
        (f"/products/{TOO_BIG}", "path.product_id"),
        ("/products/" + "9" * 5000, "path.product_id"),
        (f"/orders/{TOO_BIG}", "path.order_id"),
        (f"/products?offset={TOO_BIG}", "query.offset"),
        ("/products?offset=1_0", "query.offset"),
        ("/products?limit=true", "query.limit"),
    ],
)
async def test_loose_or_oversized_integers_in_paths_and_queries_get_422(client, path, field):
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == [field]


async def test_the_largest_bigint_offset_is_an_empty_page_not_an_error(client):
    response = await client.get(f"/products?offset={2**63 - 1}")
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "Lamp", "price_cents": 1, "stock": ' + b"9" * 5000 + b"}", b'{"name": "La', b"\xff\xfe"],
)
async def test_malformed_or_oversized_json_gets_a_json_4xx(client, raw):
    response = await client.post("/products", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


async def test_interactive_docs_are_off_by_default(client):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 404


async def test_interactive_docs_are_served_when_enabled(settings):
    async with client_for(replace(settings, enable_docs=True)) as client:
        assert (await client.get("/docs")).status_code == 200
        assert "/orders" in (await client.get("/openapi.json")).json()["paths"]


def test_enable_docs_is_a_strict_flag():
    assert from_env({**REQUIRED_ENV, "HA_ENABLE_DOCS": "true"}).enable_docs is True
    assert from_env(REQUIRED_ENV).enable_docs is False
    with pytest.raises(ConfigError, match="HA_ENABLE_DOCS: must be true or false, got 'yes'"):
        from_env({**REQUIRED_ENV, "HA_ENABLE_DOCS": "yes"})


def test_a_malformed_http_request_gets_a_json_400_from_the_real_server(lab):
    port = free_port()
    server = lab.start_service(port)
    try:
        for raw in (b"NOT HTTP AT ALL\r\n\r\n", b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(raw)
                reply = b""
                while chunk := conn.recv(4096):
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), reply
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body) == {"error": "Invalid HTTP request received."}
    finally:
        server.terminate()
        server.wait(15)
