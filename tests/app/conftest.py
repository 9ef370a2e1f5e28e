"""Service test fixtures: real PostgreSQL (primary + synchronous standby) and Redis from the lab, made to
log in like RDS: passwords are checked, and the master (the lab's ``app`` owner) may create roles but is no
superuser. The service serves as the application role ``ha_app``.
"""

import contextlib
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from app.config import AppSettings, from_env
from app.main import create_app
from lab.servers import Lab, Server, free_port, running_lab

APP_USER, APP_PASSWORD = "ha_app", "lab-app-password"
PASSWORD_CHECKED_HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""
"""The lab's own tools keep logging in as postgres; every other role must present its password, as on RDS."""

pytestmark = pytest.mark.servers


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def like_rds(lab: Lab) -> Lab:
    """Check passwords on both servers and let the master create roles (RDS's master has CREATEROLE)."""
    for server, datadir in ((lab.primary, "primary"), (lab.standby, "standby")):
        (lab.root / datadir / "pg_hba.conf").write_text(PASSWORD_CHECKED_HBA)
        with psycopg.connect(lab.dsn(server, user="postgres", dbname="postgres"), autocommit=True) as conn:
            if server is lab.primary:
                conn.execute("ALTER ROLE app CREATEROLE")
            conn.execute("SELECT pg_reload_conf()")
    return lab


@contextlib.contextmanager
def rds_lab(cache: bool = True) -> Iterator[Lab]:
    """A lab of its own (for drills that break it) that logs in like RDS."""
    with running_lab(cache=cache) as own:
        yield like_rds(own)


def app_env(lab: Lab) -> dict[str, str]:
    """The lab's HA_* variables plus the application role the service serves as."""
    return {**lab.app_env(), "HA_DB_APP_USER": APP_USER, "HA_DB_APP_PASSWORD": APP_PASSWORD}


def set_password(lab: Lab, user: str, password: str) -> None:
    """What a rotation does to the database: the role's password changes under the running service."""
    with psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(user), psycopg.sql.Literal(password)
            )
        )


def drop_sessions(lab: Lab, user: str) -> int:
    """End every session of ``user`` (as a failover or a pool recycle would), so the next query reconnects."""
    with psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,)
        ).fetchall()
    with psycopg.connect(lab.dsn(lab.standby, user="postgres"), autocommit=True) as conn:
        rows += conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,)
        ).fetchall()
    return len(rows)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Shared servers for tests that do not break them."""
    with rds_lab() as shared:
        yield shared


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    """moto's HTTP server: the real AWS APIs emulated, reached through boto3 like on an instance."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    yield {
        "ssm": session.client("ssm", endpoint_url=endpoint),
        "secrets": session.client("secretsmanager", endpoint_url=endpoint),
        "endpoint": endpoint,
    }
    server.stop()


@pytest.fixture
def settings(lab: Lab) -> AppSettings:
    return from_env(app_env(lab))


class ShopClient(httpx.AsyncClient):
    """An HTTP client of one in-process app, which tests can also reach into (its pools and cache)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://shop.test", timeout=30)
        self.app = app


@contextlib.asynccontextmanager
async def client_for(settings: AppSettings, secrets: Any = None) -> AsyncIterator[ShopClient]:
    """An in-process client of a freshly built app, with its start-up and shutdown run."""
    app = create_app(settings, secrets)
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


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc; Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant, parents first."""
    result, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        result.append(current)
        queue.extend(children(current))
    return result


@contextlib.contextmanager
def frozen(server: Server, at_most: float) -> Iterator[float]:
    """SIGSTOP every process of a lab server (PostgreSQL's postmaster and each backend, which runs in a
    session of its own; or redis-server), as a hung host looks to its clients; SIGCONT on exit, and never
    later than ``at_most`` seconds after the freeze even if the test body hangs. Only the processes of a
    server this test run started are signalled, each by pid."""
    assert server.proc is not None
    assert server.proc.poll() is None
    stopped: list[int] = []

    def signal_all(sig: signal.Signals) -> None:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    for _ in range(2):  # the second pass catches a backend forked while the first one ran
        for pid in tree(server.proc.pid):
            if pid not in stopped:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
    thaw = threading.Timer(at_most, signal_all, (signal.SIGCONT,))
    thaw.start()
    try:
        yield time.monotonic()
    finally:
        thaw.cancel()
        signal_all(signal.SIGCONT)
