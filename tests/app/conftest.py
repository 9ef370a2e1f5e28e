"""Service test fixtures: real PostgreSQL (primary + synchronous standby) and Redis from the lab."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import AppSettings, from_env
from app.main import create_app
from lab.servers import Lab, running_lab

pytestmark = pytest.mark.servers


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Shared servers for tests that do not break them."""
    with running_lab() as shared:
        yield shared


@pytest.fixture
def settings(lab: Lab) -> AppSettings:
    return from_env(lab.app_env())


class ShopClient(httpx.AsyncClient):
    """An HTTP client of one in-process app, which tests can also reach into (its pools and cache)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://shop.test", timeout=30)
        self.app = app


@contextlib.asynccontextmanager
async def client_for(settings: AppSettings) -> AsyncIterator[ShopClient]:
    """An in-process client of a freshly built app, with its start-up and shutdown run."""
    app = create_app(settings)
    async with LifespanManager(app), ShopClient(app) as client:
        yield client


@pytest.fixture
async def client(settings: AppSettings) -> AsyncIterator[ShopClient]:
    async with client_for(settings) as c:
        yield c


async def new_product(client: httpx.AsyncClient, stock: int = 10, price_cents: int = 250, name: str = "Lamp") -> int:
    response = await client.post("/products", json={"name": name, "price_cents": price_cents, "stock": stock})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def with_ttl(settings: AppSettings, seconds: int) -> AppSettings:
    return replace(settings, product_ttl_seconds=seconds)
