"""Versioned SQL migrations, applied at start-up by whichever instance takes the advisory lock first.

Files are ``migrations/NNN_name.sql``, applied in order, each once, all in one transaction: an instance
that starts while another migrates waits on the lock, then finds nothing left to do.
"""

import logging
from pathlib import Path

import psycopg

log = logging.getLogger("app.migrations")
MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 7_412_305_901  # any constant shared by every instance of this service


def pending(applied: set[int]) -> list[tuple[int, Path]]:
    """Migration files not applied yet, in version order."""
    files = sorted((int(p.name.split("_", 1)[0]), p) for p in MIGRATIONS.glob("*.sql"))
    return [(v, p) for v, p in files if v not in applied]


async def migrate(conninfo: str) -> list[int]:
    """Apply pending migrations on the writer; return the versions applied by this call."""
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
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
        return done
