"""HTTP routes: health, readiness, catalog (cache-aside) and orders (one transaction, idempotent)."""

import asyncio
import re
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.cache import ProductCache
from app.db import Database
from app.relay import PRODUCT_COLUMNS, jsonable

router = APIRouter()
READY_TIMEOUT_SECONDS = 1.0
MAX_BIGINT = 2**63 - 1
"""PostgreSQL's bigint: ids and offsets beyond it are refused here, not by the database (a 500)."""
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def _plain_digits(value: object) -> object:
    """Path and query integers: ASCII digits only (int() also takes ``1_0``, ``+1``, `` 1``, other scripts)."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written with the digits 0-9 (at most 19 of them)")
    return value


def _storable(value: str) -> str:
    """Text PostgreSQL can store: no NUL character (pydantic already refuses lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000), which PostgreSQL text cannot hold")
    return value


Id = Annotated[int, BeforeValidator(_plain_digits), Path(gt=0, le=MAX_BIGINT)]
IdempotencyKey = Annotated[str, Header(min_length=1, max_length=100, pattern=r"^[\x20-\x7e]+$")]
"""Printable ASCII: what a client can put in a header and PostgreSQL in text, nothing it would refuse."""


class StrictModel(BaseModel):
    """Bodies take JSON types as sent: no ``true`` or ``"1"`` or ``1.0`` for an integer, no number for a string."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ProductIn(StrictModel):
    """A product as clients send it."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    price_cents: int = Field(ge=0, le=100_000_000)
    stock: int = Field(ge=0, le=1_000_000_000)

    _text = field_validator("name", "description")(_storable)


class OrderItemIn(StrictModel):
    product_id: int = Field(gt=0, le=MAX_BIGINT)
    quantity: int = Field(ge=1, le=1000)


class OrderIn(StrictModel):
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)

    @field_validator("items")
    @classmethod
    def distinct_products(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        ids = [i.product_id for i in items]
        if len(set(ids)) != len(ids):
            raise ValueError("each product may appear once; add up the quantities")
        return items


class OrderRejectedError(Exception):
    """A business rule refused the order; the transaction rolls back and nothing is written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _cache(request: Request) -> ProductCache:
    cache: ProductCache = request.app.state.cache
    return cache


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness for the load balancer: no I/O, so a slow dependency never cycles healthy instances."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request, response: Response) -> dict[str, Any]:
    """Readiness: writer, reader and cache, each within a short timeout; 503 names what failed."""
    db, cache = _db(request), _cache(request)
    checks = {
        "writer": db.ping("writer", READY_TIMEOUT_SECONDS),
        "reader": db.ping("reader", READY_TIMEOUT_SECONDS),
        "cache": asyncio.wait_for(cache.ping(), READY_TIMEOUT_SECONDS),
    }
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failed = {
        name: f"{type(r).__name__}: {r}"[:200]
        for name, r in zip(checks, results, strict=True)
        if isinstance(r, BaseException)
    }
    if failed:
        response.status_code = 503
        return {"status": "unavailable", "failed": failed}
    return {"status": "ready", "checks": dict.fromkeys(checks, "ok")}


@router.get("/metrics")
async def metrics(request: Request) -> dict[str, Any]:
    """Cache counters of this process (also emitted to CloudWatch as EMF log lines)."""
    c = _cache(request).counters
    return {"cache": {"hits": c.hits, "misses": c.misses, "errors": c.errors, "hit_ratio": round(c.hit_ratio(), 4)}}


@router.get("/products")
async def list_products(
    request: Request,
    limit: Annotated[int, BeforeValidator(_plain_digits), Query(ge=1, le=100)] = 20,
    offset: Annotated[int, BeforeValidator(_plain_digits), Query(ge=0, le=MAX_BIGINT)] = 0,
) -> dict[str, Any]:
    """A page of products, read from a replica."""

    async def page(conn: psycopg.AsyncConnection[dict[str, Any]]) -> list[dict[str, Any]]:
        cur = await conn.execute(
            f"SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT %s OFFSET %s", (limit, offset)
        )
        return await cur.fetchall()

    items = await _db(request).read(page)
    return {
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(items) == limit and offset + limit <= MAX_BIGINT else None,
    }


@router.get("/products/{product_id}")
async def get_product(product_id: Id, request: Request) -> Response:
    """Cache-aside: Redis first (its JSON text is sent as stored); on a miss, the writer, then fill the cache
    (a replica's row is served but not cached when the writer does not answer: see app.cache)."""
    cache = _cache(request)
    cached = await cache.get_json(product_id)
    if cached is not None:
        return Response(cached, media_type="application/json", headers={"x-cache": "hit"})

    async def one(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, Any] | None:
        cur = await conn.execute(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = %s", (product_id,))
        return await cur.fetchone()

    product, latest = await _db(request).read_latest(one)
    if product is None:
        raise HTTPException(404, f"product {product_id} does not exist")
    fresh = jsonable(product)
    if latest:
        await cache.fill(fresh)
    return JSONResponse(fresh, headers={"x-cache": "miss"})


@router.post("/products", status_code=201)
async def create_product(body: ProductIn, request: Request) -> dict[str, Any]:
    """Insert on the writer (not retried: a retry could insert twice), then cache the new row."""

    async def insert(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, Any]:
        cur = await conn.execute(
            f"INSERT INTO products (name, description, price_cents, stock) VALUES (%s, %s, %s, %s) "
            f"RETURNING {PRODUCT_COLUMNS}",
            (body.name, body.description, body.price_cents, body.stock),
        )
        row = await cur.fetchone()
        assert row is not None
        return row

    product = jsonable(await _db(request).write(insert, idempotent=False))
    await _cache(request).put(product)
    return product


@router.put("/products/{product_id}")
async def replace_product(product_id: Id, body: ProductIn, request: Request) -> dict[str, Any]:
    """Replace on the writer (idempotent, so retried across a failover), then refresh the cache."""

    async def update(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, Any] | None:
        cur = await conn.execute(
            f"UPDATE products SET name = %s, description = %s, price_cents = %s, stock = %s, updated_at = now() "
            f"WHERE id = %s RETURNING {PRODUCT_COLUMNS}",
            (body.name, body.description, body.price_cents, body.stock, product_id),
        )
        return await cur.fetchone()

    product = await _db(request).write(update, idempotent=True, products=[product_id])
    if product is None:
        raise HTTPException(404, f"product {product_id} does not exist")
    fresh = jsonable(product)
    await _cache(request).put(fresh)
    return fresh


@router.post("/orders", status_code=201)
async def create_order(
    body: OrderIn,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey,
) -> dict[str, Any]:
    """One transaction on the writer: claim the idempotency key, take stock, record the items.

    A replay with the same key and the same items returns the first order (200) and writes nothing, which is
    what makes retrying this request across a database failover safe. The same key with other items is a
    client error (422) and changes nothing: the first order is never handed to a request it does not answer.
    A concurrent replay waits on the key's unique index for the first transaction, then sees its outcome.
    """

    async def place(
        conn: psycopg.AsyncConnection[dict[str, Any]],
    ) -> tuple[bool, dict[str, Any], list[dict[str, Any]]]:
        cur = await conn.execute(
            "INSERT INTO orders (idempotency_key, total_cents) VALUES (%s, 0) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (idempotency_key,),
        )
        claimed = await cur.fetchone()
        if claimed is None:
            cur = await conn.execute("SELECT id FROM orders WHERE idempotency_key = %s", (idempotency_key,))
            existing = await cur.fetchone()
            assert existing is not None
            first = await _order(conn, int(existing["id"]))
            if _lines(first["items"]) != _lines([i.model_dump() for i in body.items]):
                raise OrderRejectedError(
                    422,
                    f"Idempotency-Key {idempotency_key!r} was used for an order with other items; "
                    "send the same items to get that order back, or use a new key",
                )
            return False, first, []
        total, changed = 0, []
        for item in sorted(body.items, key=lambda i: i.product_id):  # one lock order: no deadlocks
            product = await _take_stock(conn, int(claimed["id"]), item)
            total += int(product["price_cents"]) * item.quantity
            changed.append(jsonable(product))
        await conn.execute("UPDATE orders SET total_cents = %s WHERE id = %s", (total, claimed["id"]))
        return True, await _order(conn, int(claimed["id"])), changed

    try:
        products = [item.product_id for item in body.items]
        created, order, changed = await _db(request).write(place, idempotent=True, products=products)
    except OrderRejectedError as err:
        raise HTTPException(err.status, err.message) from None
    if created:
        for product in changed:  # stock changed; the outbox relay covers a refresh that fails here
            await _cache(request).put(product)
    else:
        response.status_code = 200
    return order


async def _take_stock(
    conn: psycopg.AsyncConnection[dict[str, Any]], order_id: int, item: OrderItemIn
) -> dict[str, Any]:
    """Take ``item``'s stock and record the line; returns the product row as it is now."""
    cur = await conn.execute(
        f"UPDATE products SET stock = stock - %s, updated_at = now() "
        f"WHERE id = %s AND stock >= %s RETURNING {PRODUCT_COLUMNS}",
        (item.quantity, item.product_id, item.quantity),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute("SELECT stock FROM products WHERE id = %s", (item.product_id,))
        found = await cur.fetchone()
        if found is None:
            raise OrderRejectedError(404, f"product {item.product_id} does not exist")
        raise OrderRejectedError(
            409, f"product {item.product_id}: {item.quantity} requested, {found['stock']} in stock"
        )
    await conn.execute(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES (%s, %s, %s, %s)",
        (order_id, item.product_id, item.quantity, int(row["price_cents"])),
    )
    return row


async def _order(conn: psycopg.AsyncConnection[dict[str, Any]], order_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT id, idempotency_key, total_cents, created_at FROM orders WHERE id = %s", (order_id,)
    )
    order = await cur.fetchone()
    if order is None:
        raise HTTPException(404, f"order {order_id} does not exist")
    cur = await conn.execute(
        "SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = %s ORDER BY product_id",
        (order_id,),
    )
    return {**order, "items": await cur.fetchall()}


@router.get("/orders/{order_id}")
async def get_order(order_id: Id, request: Request) -> dict[str, Any]:
    """Read from the writer: a client that just placed an order always sees it (read-your-writes)."""

    async def read(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, Any]:
        return await _order(conn, order_id)

    return await _db(request).write(read, idempotent=True)


def _lines(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """An order's lines as (product id, quantity), in product order: what an Idempotency-Key replay must match."""
    return sorted((int(i["product_id"]), int(i["quantity"])) for i in items)
