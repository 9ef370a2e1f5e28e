"""Migrations: applied once, under a lock, however many instances start together."""

import asyncio

import psycopg
import pytest

from app import migrations
from lab.servers import DB_NAME

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


async def test_instances_starting_together_apply_each_migration_exactly_once(lab):
    with psycopg.connect(lab.dsn(lab.primary, user="postgres", dbname="postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS migrate_race")
        admin.execute("CREATE DATABASE migrate_race OWNER app")
    info = lab.dsn(lab.primary).replace(f"dbname={DB_NAME}", "dbname=migrate_race")
    every = [version for version, _ in migrations.pending(set())]
    assert every[:3] == [1, 2, 3]
    results = await asyncio.gather(*[migrations.migrate(info) for _ in range(4)])
    assert sorted(results, key=len) == [[], [], [], every]
    with psycopg.connect(info) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (1000,)
        assert conn.execute("SELECT array_agg(version ORDER BY version) FROM schema_migrations").fetchone() == (every,)
