"""The application role: the login the request pools use, with exactly the privileges the routes need.

Migrations run as the master user; the same transaction (under the migrations' advisory lock, so instances
starting together do this one at a time) creates or updates the app role with the password from its secret
and grants it CONNECT, USAGE on the schema and the table privileges below, nothing more: no DDL, no
ownership, no membership in other roles. A route that needs a new privilege adds it here, and
tests/app/test_roles.py compares this table with what the routes actually do.
"""

import logging
from typing import Any

import psycopg
from psycopg import sql

from app.credentials import Login

log = logging.getLogger("app.roles")

SCHEMA = "public"
TABLE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "products": ("SELECT", "INSERT", "UPDATE"),  # list, get, create, replace, take stock
    "orders": ("SELECT", "INSERT", "UPDATE"),  # claim the idempotency key, set the total, read back
    "order_items": ("SELECT", "INSERT"),  # record and read the lines of an order
    "cache_outbox": ("SELECT", "INSERT", "UPDATE", "DELETE"),  # trigger queues; relay drains (FOR UPDATE)
}
"""Identity columns (products.id, orders.id) need no sequence privilege: PostgreSQL checks none for them."""

NEW_ROLE = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
EXISTING_ROLE = "LOGIN NOINHERIT"
"""PostgreSQL lets only a true superuser name SUPERUSER/REPLICATION/BYPASSRLS in ALTER ROLE, even to turn them
off, and the RDS master is not one: an existing role is checked for them instead (_refuse_privileged)."""
PRIVILEGED = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")


class RoleError(ValueError):
    """The app role cannot be the migrating (master) user: that would serve requests as the master."""


async def ensure_app_role(conn: psycopg.AsyncConnection[tuple[Any, ...]], app: Login, master_user: str) -> None:
    """Create or update ``app.user`` with ``app.password`` and exactly TABLE_PRIVILEGES, inside the caller's
    transaction. The password is sent as a SCRAM verifier computed here, so it never appears in a server log."""
    if app.user == master_user:
        raise RoleError(f"database/app_username: must differ from the master user {master_user!r}")
    role = sql.Identifier(app.user)
    verifier = conn.pgconn.encrypt_password(app.password.encode(), app.user.encode(), b"scram-sha-256").decode()
    exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app.user,))).fetchone()
    statement = "ALTER ROLE {} WITH " + EXISTING_ROLE if exists else "CREATE ROLE {} WITH " + NEW_ROLE
    await conn.execute(sql.SQL(statement + " PASSWORD {}").format(role, sql.Literal(verifier)))
    await _refuse_privileged(conn, app.user)
    dbname = (await (await conn.execute("SELECT current_database()")).fetchone() or ("",))[0]
    await conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(str(dbname)), role))
    await conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    await conn.execute(
        sql.SQL(
            "REVOKE ALL ON ALL TABLES IN SCHEMA {0} FROM {1}; REVOKE ALL ON ALL SEQUENCES IN SCHEMA {0} FROM {1}"
        ).format(sql.Identifier(SCHEMA), role)
    )
    for table, privileges in TABLE_PRIVILEGES.items():
        await conn.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(SCHEMA, table), role
            )
        )
    await _no_create_on_schema(conn, app.user)
    log.info("application role ready", extra={"role": app.user, "tables": sorted(TABLE_PRIVILEGES)})


async def _refuse_privileged(conn: psycopg.AsyncConnection[tuple[Any, ...]], user: str) -> None:
    """An existing role that is a superuser, can create roles or databases, or belongs to another role is
    not a least-privilege login: stop rather than serve requests with it."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in PRIVILEGED)
    query = sql.SQL(
        "SELECT {}, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) FROM pg_roles r WHERE rolname = %s"
    ).format(columns)
    row = await (await conn.execute(query, (user,))).fetchone()
    assert row is not None
    found = [name for name, value in zip(PRIVILEGED, row, strict=False) if value]
    if row[-1]:
        found.append(f"member of {row[-1]} role(s)")
    if found:
        raise RoleError(f"database/app_username: role {user!r} has {', '.join(found)}; it must be a plain login")


async def _no_create_on_schema(conn: psycopg.AsyncConnection[tuple[Any, ...]], user: str) -> None:
    """PostgreSQL before 15 lets every role create objects in ``public``; take that away from PUBLIC there."""
    cur = await conn.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", (user, SCHEMA))
    if (await cur.fetchone() or (False,))[0]:
        await conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(SCHEMA)))
