"""PostgreSQL access: a writer pool and a reader pool, with retries that ride out a failover.

The writer pool connects with ``target_session_attrs=read-write`` across every writer host, so after a
failover it lands on the promoted node; the reader pool prefers standbys and falls back to the writer.
Only idempotent work is retried (reads, and writes made idempotent by a key), and only after a genuine
failover error (the connection lost or refused, a writer that became a standby, no pooled connection yet):
a statement or lock timeout is an answer, not a failover, and is never retried. Both pools log in with the
app role's Credentials: a connection refused for its password re-reads the secret and connects again.

Deadlines: every call gets REQUEST_BUDGET_SECONDS in all (pool wait, retries, statements). The server
enforces statement_timeout and lock_timeout; the client enforces the budget itself, because a frozen server
enforces nothing. When the budget runs out the work is cancelled in the background (psycopg then spends up
to ~10 s cancelling on a frozen server, holding that one connection) and the caller gets DatabaseBusyError at once.
Writes that change products first take an in-process lock per product, in id order, so one locked row ties up
at most one pooled connection per process and writes to other products keep their connections.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
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
"""How long start-up migrations keep retrying a database that is away (x4, see app.main)."""

REQUEST_BUDGET_SECONDS = 3.0
"""All the time one request may spend on the database: waiting for a pooled connection, every retry and every
statement. It rides out a connection reset or a promotion that completes within it (the lab promotes in
~0.15 s); a longer failover (Aurora ~30 s, RDS Multi-AZ 60-120 s) gets a 503 with Retry-After, and the
client's retry, not a pile of waiting requests here, carries the rest."""
STATEMENT_TIMEOUT_MS = 2000
"""Server-side bound on one statement (57014 query_canceled when passed)."""
LOCK_TIMEOUT_MS = 1000
"""Server-side bound on one wait for a row (or advisory) lock (55P03 lock_not_available when passed)."""
POOL_ACQUIRE_SECONDS = 1.0
"""The longest single wait for a pooled connection (then PoolTimeout, retried within the budget)."""
MAX_IN_FLIGHT_PER_CONNECTION = 3
"""Calls allowed in flight on a pool per connection it may hold (one using it, two queued); beyond, 503 at once:
when the database hangs, requests fail fast instead of piling up behind a pool that cannot serve them."""
RETRY_AFTER_SECONDS = 1

FAILOVER_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # refused, reset, server closed the connection, admin shutdown
    errors.ReadOnlySqlTransaction,  # a writer that became a standby
    PoolTimeout,  # no healthy connection yet
)


class DatabaseBusyError(Exception):
    """The database could not do the work within its deadline: answered as 503 with Retry-After."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


RETRIED_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now: a server going away or not up yet. Class 08
(connection exceptions) is retried too. 57014 query_canceled and 55P03 lock_not_available are not."""


def is_failover(err: BaseException) -> bool:
    """True for errors a failover causes and a retry on a fresh connection can cure."""
    if isinstance(err, errors.ReadOnlySqlTransaction | PoolTimeout):
        return True
    if not isinstance(err, psycopg.OperationalError):
        return False
    state = err.sqlstate
    return state is None or state.startswith("08") or state in RETRIED_SQLSTATES


_detached: set[asyncio.Future[Any]] = set()
"""Cancelled work still cleaning up (a frozen server makes psycopg wait ~10 s before closing): kept referenced."""


async def within(deadline: float, work: Callable[[], Awaitable[T]], what: str) -> T:
    """Run ``work`` until ``deadline`` (time.monotonic()); past it, raise DatabaseBusyError at once and let the
    work's cancellation finish in the background instead of waiting for a server that may never answer."""
    task = asyncio.ensure_future(work())
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
    except asyncio.CancelledError:
        _detach(task)
        raise
    if done:
        return task.result()
    _detach(task)
    raise DatabaseBusyError(f"{what} did not answer within its deadline")


def _detach(task: asyncio.Future[Any]) -> None:
    task.cancel()
    _detached.add(task)
    task.add_done_callback(_finished_in_background)


def _finished_in_background(task: asyncio.Future[Any]) -> None:
    _detached.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.info("cancelled database work ended", extra={"error": str(task.exception())[:200]})


WRITER_AWAY: tuple[type[Exception], ...] = (DatabaseBusyError, *FAILOVER_ERRORS)


class ProductLocks:
    """In-process locks per product id, taken in id order (no deadlocks), dropped when nobody holds them."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, ids: Iterable[int], deadline: float) -> AsyncIterator[None]:
        """Hold every id's lock, waiting at most until ``deadline``; DatabaseBusyError if another write keeps one."""
        held: list[int] = []
        try:
            for product_id in sorted(set(ids)):
                lock = self._use(product_id)
                held.append(product_id)
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await lock.acquire()
                except TimeoutError:
                    held.pop()
                    self._release(product_id, locked=False)
                    raise DatabaseBusyError(f"product {product_id} is being changed by other requests") from None
            yield
        finally:
            for product_id in held:
                self._release(product_id, locked=True)

    def _use(self, product_id: int) -> asyncio.Lock:
        lock, users = self._locks.get(product_id) or (asyncio.Lock(), 0)
        self._locks[product_id] = (lock, users + 1)
        return lock

    def _release(self, product_id: int, *, locked: bool) -> None:
        lock, users = self._locks[product_id]
        if locked:
            lock.release()
        if users == 1:
            del self._locks[product_id]
        else:
            self._locks[product_id] = (lock, users - 1)


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
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
        "-c idle_in_transaction_session_timeout=10000",
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

    def __init__(
        self,
        settings: AppSettings,
        credentials: Credentials,
        max_size: int = 10,
        budget: float = REQUEST_BUDGET_SECONDS,
    ) -> None:
        self.credentials = credentials
        self.budget = budget
        self.max_in_flight = max_size * MAX_IN_FLIGHT_PER_CONNECTION
        self.in_flight: dict[str, int] = {"writer": 0, "reader": 0}
        self.products = ProductLocks()
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
            timeout=POOL_ACQUIRE_SECONDS,
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
        return await self._run(self.reader, work, retry=True, deadline=time.monotonic() + self.budget)

    async def read_latest(self, work: Work[T]) -> tuple[T, bool]:
        """Read on the writer (the newest committed row, which is what a cache fill needs); when the writer does
        not answer within half the budget, read a replica instead. Returns (result, True if from the writer)."""
        deadline = time.monotonic() + self.budget
        try:
            return await self._run(self.writer, work, retry=True, deadline=deadline - self.budget / 2), True
        except WRITER_AWAY:
            return await self._run(self.reader, work, retry=True, deadline=deadline), False

    async def write(self, work: Work[T], *, idempotent: bool, products: Iterable[int] = ()) -> T:
        """Run ``work`` in one transaction on the writer; retried on failover errors only if idempotent.

        ``products``: the ids whose rows ``work`` locks; their in-process locks are held around it."""
        deadline = time.monotonic() + self.budget
        async with self.products.hold(products, deadline):
            return await self._run(self.writer, work, retry=idempotent, deadline=deadline)

    async def ping(self, pool_name: str, timeout: float) -> None:
        """One round trip on a pooled connection, answered within ``timeout`` whatever hangs (for readiness)."""
        pool = self.writer if pool_name == "writer" else self.reader

        async def one() -> None:
            async with pool.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")

        await within(time.monotonic() + timeout, one, f"the {pool_name}")

    async def _run(
        self, pool: AsyncConnectionPool[RotatingConnection], work: Work[T], retry: bool, deadline: float
    ) -> T:
        if self.in_flight[pool.name] >= self.max_in_flight:
            raise DatabaseBusyError(f"the {pool.name} has {self.max_in_flight} requests in flight already")
        self.in_flight[pool.name] += 1
        try:
            return await self._attempts(pool, work, retry, deadline)
        finally:
            self.in_flight[pool.name] -= 1

    async def _attempts(
        self, pool: AsyncConnectionPool[RotatingConnection], work: Work[T], retry: bool, deadline: float
    ) -> T:

        async def transaction() -> T:
            wait = max(0.01, min(POOL_ACQUIRE_SECONDS, deadline - time.monotonic()))
            async with pool.connection(timeout=wait) as conn, conn.transaction():
                return await work(conn)

        async def attempt() -> T:
            return await within(deadline, transaction, f"the {pool.name}")

        async def before_retry(err: Exception, delay: float) -> None:
            log.warning(
                "database failover error, retrying",
                extra={"pool": pool.name, "error": str(err)[:200], "retry_in_ms": int(delay * 1000)},
            )
            if isinstance(err, errors.ReadOnlySqlTransaction):
                await pool.check()  # drop connections to a node that is now a standby

        try:
            if not retry:
                return await attempt()
            budget = deadline - time.monotonic()
            return await retry_failover(attempt, budget=budget, before_retry=before_retry)
        except errors.LockNotAvailable:
            raise DatabaseBusyError(f"a row this request needs stayed locked for {LOCK_TIMEOUT_MS} ms") from None
        except errors.QueryCanceled:
            raise DatabaseBusyError(f"a statement ran past {STATEMENT_TIMEOUT_MS} ms") from None


async def retry_failover(
    attempt: Callable[[], Awaitable[T]],
    *,
    budget: float,
    first_delay: float = 0.05,
    max_delay: float = 1.0,
    before_retry: Callable[[Exception, float], Awaitable[None]] | None = None,
) -> T:
    """Run ``attempt``; on a failover error wait (doubling from ``first_delay`` up to ``max_delay``) and run it
    again, until the next wait would pass ``budget`` seconds, then raise the last error. Other errors, and
    OperationalErrors that are no failover (is_failover), are raised at once."""
    deadline = time.monotonic() + budget
    delay = first_delay
    while True:
        try:
            return await attempt()
        except FAILOVER_ERRORS as err:
            if not is_failover(err) or time.monotonic() + delay > deadline:
                raise
            if before_retry is not None:
                await before_retry(err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
