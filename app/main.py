"""The application factory: ``create_app(settings)`` builds one app; tests build one per case."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import config, logs, metrics, migrations, relay
from app.cache import ProductCache
from app.config import AppSettings
from app.credentials import Credentials, Login
from app.db import (
    FAILOVER_ERRORS,
    RETRY_AFTER_SECONDS,
    RETRY_BUDGET_SECONDS,
    Database,
    DatabaseBusyError,
    conninfo,
    retry_failover,
)
from app.routes import router

log = logging.getLogger("app")
MAX_BODY_BYTES = 64 * 1024
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods whose routes never read a body: their requests skip the size check (it cost every cached read)."""


def logins(settings: AppSettings, secrets: Any = None) -> tuple[Credentials, Credentials]:
    """The master login (migrations and the app role's upkeep) and the app role's login (request pools), each
    re-readable from its secret when ``secrets`` (a Secrets Manager client) is given.

    Without an app role (allowed only in dev, see config.parse) the pools use the master login, with a warning.
    """
    master = Credentials(
        Login(settings.db_user, settings.db_password), secret_arn=settings.db_secret_arn, secrets=secrets
    )
    if not settings.db_app_user:
        log.warning("no app role configured (HA_DB_APP_USER): serving requests as the master user, dev only")
        return master, master
    app = Credentials(
        Login(settings.db_app_user, settings.db_app_password), secret_arn=settings.db_app_secret_arn, secrets=secrets
    )
    return master, app


async def _migrate_with_retry(settings: AppSettings, master: Credentials, app: Credentials) -> None:
    """Migrate and set up the app role before serving; a database that is briefly away (a failover) is waited
    for, then we fail."""
    info = conninfo(settings, settings.db_writers, "read-write")

    async def attempt() -> list[int]:
        return await migrations.migrate(info, master=master, app=app.login if app is not master else None)

    applied = await retry_failover(attempt, budget=RETRY_BUDGET_SECONDS * 4, first_delay=1.0, max_delay=1.0)
    log.info("database schema ready", extra={"applied": applied})


class RejectLargeBodies:
    """A JSON 413 for bodies over ``max_bytes``: at once for a declared Content-Length, and as soon as a
    chunked body passes the limit (raised inside body parsing, so the JSON error handler answers).

    FastAPI's own ``max_body_size`` answers a declared length with plain text, hence this instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODILESS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"error": f"request body over {self.max_bytes} bytes"}, status_code=413)


def create_app(settings: AppSettings, secrets: Any = None) -> FastAPI:
    """One service instance: pools, cache, migrations at start-up, routes and JSON error handling.

    ``secrets`` is the Secrets Manager client that rotated logins are re-read with (None: logins are fixed).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        master, app_login = app.state.logins = logins(settings, secrets)
        await _migrate_with_retry(settings, master, app_login)
        app.state.db = Database(settings, app_login)
        app.state.cache = ProductCache(settings)
        await app.state.db.open()
        emitter = asyncio.create_task(
            metrics.emit_forever(app.state.cache.counters, "shop", requests=app.state.requests)
        )
        relayer = asyncio.create_task(relay.relay_forever(app.state.db, app.state.cache))
        gc.freeze()  # start-up's objects (modules, pools, models) leave the collector's generations: less per GC
        log.info("service started", extra={"environment": settings.environment, "port": settings.port})
        try:
            yield
        finally:
            emitter.cancel()
            relayer.cancel()
            await app.state.cache.close()
            await app.state.db.close()
            log.info("service stopped")

    docs = settings.enable_docs  # the interactive docs map the whole API for anyone: off unless enabled
    app = FastAPI(
        title="ha-stack shop",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.requests = logs.RequestCounters()
    app.add_middleware(logs.RequestLog, counters=app.state.requests)
    app.add_middleware(RejectLargeBodies, max_bytes=MAX_BODY_BYTES)
    app.include_router(router)
    _error_handlers(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error is JSON with a readable message."""

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": "invalid request", "details": details}, status_code=422)

    retry_after = {"retry-after": str(RETRY_AFTER_SECONDS)}

    async def database_away(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable after retries", extra={"error": str(exc)[:200]})
        return JSONResponse({"error": "database unavailable; retry shortly"}, status_code=503, headers=retry_after)

    async def database_busy(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DatabaseBusyError)
        log.warning("database deadline passed", extra={"error": exc.message})
        return JSONResponse({"error": f"{exc.message}; retry shortly"}, status_code=503, headers=retry_after)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(DatabaseBusyError, database_busy)
    for error in FAILOVER_ERRORS:
        app.add_exception_handler(error, database_away)


def app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: configuration is read once per process at start-up."""
    logs.configure()
    settings = config.load()
    return create_app(settings, config.secrets_client())


def run(host: str = "0.0.0.0", **uvicorn_options: Any) -> None:
    """Serve with a graceful drain: on SIGTERM stop accepting, finish in-flight work, then exit."""
    import uvicorn  # noqa: PLC0415

    from app.http import JsonErrorsHttpTools  # noqa: PLC0415 (uvicorn's protocol module, only when serving)

    logs.configure()
    try:
        settings = config.load()
    except config.ConfigError as err:
        raise SystemExit(str(err)) from None
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        host=host,
        port=settings.port,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        access_log=False,
        log_config=None,
        http=JsonErrorsHttpTools,
        **uvicorn_options,
    )
