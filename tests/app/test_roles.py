"""The application role: requests never run as the master, and the role can do what the routes do, no more."""

import psycopg
import pytest

from app.credentials import Login
from app.roles import TABLE_PRIVILEGES, RoleError, ensure_app_role
from tests.app.conftest import APP_USER, new_product

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


async def test_requests_run_as_the_app_role_not_the_master(client):
    async def who(conn):
        return (await (await conn.execute("SELECT current_user AS u")).fetchone())["u"]

    db = client.app.state.db
    assert await db.read(who) == APP_USER
    assert await db.write(who, idempotent=True) == APP_USER


async def test_the_app_role_holds_exactly_the_table_privileges_and_no_role_attributes(client, lab):
    with psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as admin:
        grants = admin.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = %s",
            (APP_USER,),
        ).fetchall()
        role = admin.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit, rolcanlogin "
            "FROM pg_roles WHERE rolname = %s",
            (APP_USER,),
        ).fetchone()
        owned = admin.execute("SELECT count(*) FROM pg_class WHERE relowner = %s::regrole", (APP_USER,)).fetchone()
        sequences = admin.execute(
            "SELECT count(*) FROM information_schema.role_usage_grants WHERE grantee = %s", (APP_USER,)
        ).fetchone()
    assert sorted(grants) == sorted((t, p) for t, privileges in TABLE_PRIVILEGES.items() for p in privileges)
    assert role == (False, False, False, False, False, False, True)
    assert owned == (0,)
    assert sequences == (0,)  # identity columns need none: the inserts below succeed without it


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE order_items",
        "ALTER TABLE products ADD COLUMN x int",
        "DELETE FROM orders",
        "TRUNCATE products",
        "SELECT * FROM schema_migrations",
        "CREATE ROLE someone",
    ],
)
async def test_the_app_role_cannot_change_the_schema_delete_or_read_the_migration_table(settings, lab, statement):
    info = f"host=127.0.0.1 port={lab.primary.port} dbname={settings.db_name} user={APP_USER}"
    with (
        psycopg.connect(info, password=settings.db_app_password) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


async def test_every_route_works_as_the_app_role(client):
    """Catalog writes, an order (insert, update, lines) and its read-back, all with only the granted privileges."""
    product_id = await new_product(client, stock=3)
    assert (await client.put(f"/products/{product_id}", json={"name": "L", "price_cents": 5, "stock": 3})).is_success
    placed = await client.post(
        "/orders", json={"items": [{"product_id": product_id, "quantity": 2}]}, headers={"idempotency-key": "roles-1"}
    )
    assert placed.status_code == 201
    assert (await client.get(f"/orders/{placed.json()['id']}")).json()["total_cents"] == 10
    assert (await client.get("/products", params={"limit": 1})).status_code == 200


async def test_the_app_role_must_not_be_the_master_nor_a_privileged_role(lab):
    master = lab.dsn(lab.primary)
    async with await psycopg.AsyncConnection.connect(master) as conn:
        with pytest.raises(RoleError, match="must differ from the master user 'app'"):
            await ensure_app_role(conn, Login("app", "x"), master_user="app")
    with psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS powerful")
        admin.execute("CREATE ROLE powerful LOGIN CREATEDB")
    try:
        async with await psycopg.AsyncConnection.connect(master) as conn:
            with pytest.raises(RoleError, match="role 'powerful' has rolcreatedb; it must be a plain login"):
                await ensure_app_role(conn, Login("powerful", "pw-1"), master_user="app")
    finally:
        with psycopg.connect(lab.dsn(lab.primary, user="postgres"), autocommit=True) as admin:
            admin.execute("DROP ROLE powerful")
