"""Versioned SQL migrations, applied at start-up by whichever instance takes the advisory lock first.

Files are ``migrations/NNN_name.sql``, applied in order, each once, all in one transaction: an instance
that starts while another migrates waits on the lock, then finds nothing left to do. The same transaction
brings the application role up to date (app.roles), so it always matches the schema it was granted on.
"""

import logging
from pathlib import Path
from typing import Any

import psycopg

from app.credentials import Credentials, Login
from app.roles import ensure_app_role

log = logging.getLogger("app.migrations")
MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 7_412_305_901  # any constant shared by every instance of this service


def pending(applied: set[int]) -> list[tuple[int, Path]]:
    """Migration files not applied yet, in version order."""
    files = sorted((int(p.name.split("_", 1)[0]), p) for p in MIGRATIONS.glob("*.sql"))
    return [(v, p) for v, p in files if v not in applied]


async def migrate(conninfo: str, *, master: Credentials | None = None, app: Login | None = None) -> list[int]:
    """Apply pending migrations on the writer, then create or update the ``app`` role; return the versions
    applied by this call. ``master`` logs in (re-read from its secret after a rejection); without it the
    conninfo carries the login."""

    async def attempt(login: Login) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        return await psycopg.AsyncConnection.connect(conninfo, user=login.user, password=login.password)

    opened = await (master.connect(attempt) if master else psycopg.AsyncConnection.connect(conninfo))
    async with opened as conn, conn.transaction():
        # Another instance may hold the lock for a whole migration: no request-sized timeouts here.
        await conn.execute("SET LOCAL lock_timeout = 0")
        await conn.execute("SET LOCAL statement_timeout = 0")
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await (await conn.execute("SELECT version FROM schema_migrations")).fetchall()
        done = []
        for version, path in pending({r[0] for r in rows}):
            await conn.execute(path.read_text().encode())
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            log.info("migration applied", extra={"version": version, "file": path.name})
            done.append(version)
        if app is not None:
            await ensure_app_role(conn, app, master_user=conn.info.user)
        return done
