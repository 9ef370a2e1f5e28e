"""PostgreSQL access: a writer pool and a reader pool, with retries that ride out a failover.

The writer pool connects with ``target_session_attrs=read-write`` across every writer host, so after a
failover it lands on the promoted node; the reader pool prefers standbys and falls back to the writer.
Only idempotent work is retried (reads, and writes made idempotent by a key). Both pools log in with the
app role's Credentials: a connection refused for its password re-reads the secret and connects again.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.config import AppSettings, Endpoint
from app.credentials import Credentials, Login

log = logging.getLogger("app.db")
T = TypeVar("T")
Row = dict[str, object]
Work = Callable[[psycopg.AsyncConnection[Row]], Awaitable[T]]

RETRY_BUDGET_SECONDS = 15.0
"""How long idempotent work keeps retrying: Aurora fails over in about 30 s, RDS Multi-AZ in 60-120 s; the
load balancer's client gets a 503 before then, and the client's own retry carries the rest."""

FAILOVER_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # refused, reset, server closed the connection, admin shutdown
    errors.ReadOnlySqlTransaction,  # a writer that became a standby
    PoolTimeout,  # no healthy connection yet
)


def conninfo(settings: AppSettings, hosts: tuple[Endpoint, ...], session_attrs: str) -> str:
    """A libpq multi-host conninfo without a login: Credentials add the user and password per connection."""
    return psycopg.conninfo.make_conninfo(
        host=",".join(h.host for h in hosts),
        port=",".join(str(h.port) for h in hosts),
        dbname=settings.db_name,
        sslmode=settings.db_sslmode,
        connect_timeout=2,
        target_session_attrs=session_attrs,
        application_name="ha-stack-app",
        options="-c statement_timeout=5000 -c idle_in_transaction_session_timeout=10000",
    )


async def connect_as(credentials: Credentials, info: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    """One connection to ``info`` with the credentials' login, retried with a fresher one after a rejection."""

    async def attempt(login: Login) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(info, user=login.user, password=login.password, **kwargs)

    return await credentials.connect(attempt)


class RotatingConnection(psycopg.AsyncConnection[Row]):
    """The pools' connection class: ``connect`` goes through the Credentials named by the ``credentials``
    keyword the pool passes (psycopg_pool calls ``connection_class.connect(conninfo, **kwargs)``)."""

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> "RotatingConnection":
        credentials: Credentials = kwargs.pop("credentials")

        async def attempt(login: Login) -> RotatingConnection:
            return await super(RotatingConnection, cls).connect(
                conninfo, user=login.user, password=login.password, **kwargs
            )

        return await credentials.connect(attempt)


class Database:
    """The writer and reader pools of one process, both logged in as the app role."""

    def __init__(self, settings: AppSettings, credentials: Credentials, max_size: int = 10) -> None:
        self.credentials = credentials
        self.writer: AsyncConnectionPool[RotatingConnection] = self._pool(
            "writer", conninfo(settings, settings.db_writers, "read-write"), max_size
        )
        self.reader: AsyncConnectionPool[RotatingConnection] = self._pool(
            "reader", conninfo(settings, settings.db_readers + settings.db_writers, "prefer-standby"), max_size
        )

    def _pool(self, name: str, info: str, max_size: int) -> AsyncConnectionPool[RotatingConnection]:
        return AsyncConnectionPool(
            info,
            name=name,
            connection_class=RotatingConnection,
            min_size=1,
            max_size=max_size,
            timeout=5.0,
            open=False,
            kwargs={"row_factory": dict_row, "credentials": self.credentials},
            check=AsyncConnectionPool.check_connection,
            reconnect_timeout=RETRY_BUDGET_SECONDS * 4,
        )

    async def open(self) -> None:
        """Open both pools without waiting: the service starts even while the database is away."""
        await self.writer.open(wait=False)
        await self.reader.open(wait=False)

    async def close(self) -> None:
        await self.writer.close()
        await self.reader.close()

    async def read(self, work: Work[T]) -> T:
        """Run a read on a replica; reads are idempotent, so failover errors are retried."""
        return await self._run(self.reader, work, retry=True)

    async def write(self, work: Work[T], *, idempotent: bool) -> T:
        """Run ``work`` in one transaction on the writer; retried on failover errors only if idempotent."""
        return await self._run(self.writer, work, retry=idempotent)

    async def ping(self, pool_name: str, timeout: float) -> None:
        """One round trip on a pooled connection, bounded by ``timeout`` (for readiness)."""
        pool = self.writer if pool_name == "writer" else self.reader
        async with asyncio.timeout(timeout), pool.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")

    async def _run(self, pool: AsyncConnectionPool[RotatingConnection], work: Work[T], retry: bool) -> T:
        async def attempt() -> T:
            async with pool.connection() as conn, conn.transaction():
                return await work(conn)

        async def before_retry(err: Exception, delay: float) -> None:
            log.warning(
                "database failover error, retrying",
                extra={"pool": pool.name, "error": str(err)[:200], "retry_in_ms": int(delay * 1000)},
            )
            if isinstance(err, errors.ReadOnlySqlTransaction):
                await pool.check()  # drop connections to a node that is now a standby

        if not retry:
            return await attempt()
        return await retry_failover(attempt, budget=RETRY_BUDGET_SECONDS, before_retry=before_retry)


async def retry_failover(
    attempt: Callable[[], Awaitable[T]],
    *,
    budget: float,
    first_delay: float = 0.05,
    max_delay: float = 1.0,
    before_retry: Callable[[Exception, float], Awaitable[None]] | None = None,
) -> T:
    """Run ``attempt``; on a failover error wait (doubling from ``first_delay`` up to ``max_delay``) and run it
    again, until the next wait would pass ``budget`` seconds, then raise the last error."""
    deadline = time.monotonic() + budget
    delay = first_delay
    while True:
        try:
            return await attempt()
        except FAILOVER_ERRORS as err:
            if time.monotonic() + delay > deadline:
                raise
            if before_retry is not None:
                await before_retry(err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
