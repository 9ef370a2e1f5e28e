"""Secret rotation against the lab's real PostgreSQL (passwords checked, as on RDS), Secrets Manager from moto.

A rotation changes the role's password in the database and the secret's AWSCURRENT version; sessions already
open stay logged in, new connections must pick up the new password without a restart.
"""

import asyncio
import json
import time
import uuid
from dataclasses import replace

import psycopg
import pytest

from app.config import AppSettings, from_env
from app.credentials import Credentials, Login, is_auth_failure
from app.db import connect_as
from lab.servers import DB_PASSWORD, DB_USER, free_port
from tests.app.conftest import APP_PASSWORD, APP_USER, app_env, client_for, drop_sessions, rds_lab, set_password

pytestmark = [pytest.mark.anyio, pytest.mark.servers]


def store(aws, login: Login) -> str:
    """A secret as RDS and HaDatabase keep one: JSON username and password; returns its ARN."""
    value = json.dumps({"username": login.user, "password": login.password})
    return str(aws["secrets"].create_secret(Name=f"rotation/{uuid.uuid4().hex}", SecretString=value)["ARN"])


def rotate(aws, arn: str, login: Login) -> None:
    """A new AWSCURRENT; Secrets Manager moves AWSPREVIOUS to the version it replaces."""
    value = json.dumps({"username": login.user, "password": login.password})
    aws["secrets"].put_secret_value(SecretId=arn, SecretString=value)


def on_aws(settings: AppSettings, aws) -> AppSettings:
    """The settings an instance reads: the logins plus the ARNs of the secrets they came from."""
    return replace(
        settings,
        db_secret_arn=store(aws, Login(settings.db_user, settings.db_password)),
        db_app_secret_arn=store(aws, Login(settings.db_app_user, settings.db_app_password)),
    )


async def a_database_read(client) -> int:
    """A request that always reaches PostgreSQL (listings are not cached)."""
    status: int = (await client.get("/products", params={"limit": 1})).status_code
    return status


async def test_app_password_rotated_while_serving_new_connections_recover_with_one_secret_read(aws):
    with rds_lab() as lab:
        settings = on_aws(from_env(app_env(lab)), aws)
        async with client_for(settings, aws["secrets"]) as client:
            assert await a_database_read(client) == 200
            _, app = client.app.state.logins
            rotated = Login(APP_USER, "rotated-" + uuid.uuid4().hex)
            rotate(aws, str(settings.db_app_secret_arn), rotated)
            set_password(lab, APP_USER, rotated.password)
            assert await a_database_read(client) == 200, "open sessions stay logged in"
            assert drop_sessions(lab, APP_USER) >= 2  # every pooled connection must now log in again
            started = time.perf_counter()
            assert await a_database_read(client) == 200
            recovered = time.perf_counter() - started
            assert [await a_database_read(client) for _ in range(20)] == [200] * 20
            print(f"rotation drill: first read after the rotation answered in {recovered * 1000:.0f} ms")
            assert app.login == rotated
            assert app.fetches == 2, "one AWSCURRENT + AWSPREVIOUS read for the whole recovery"


async def test_master_password_rotated_before_start_up_migrations_log_in_with_the_new_one(aws):
    """An instance that read the master secret just before RDS rotated it still migrates and starts."""
    with rds_lab(cache=False) as lab:
        settings = on_aws(from_env(app_env(lab)), aws)
        rotated = Login(DB_USER, "rotated-master-" + uuid.uuid4().hex)
        rotate(aws, str(settings.db_secret_arn), rotated)
        set_password(lab, DB_USER, rotated.password)
        async with client_for(settings, aws["secrets"]) as client:  # still holds the old master password
            master, _ = client.app.state.logins
            assert master.login == rotated
            assert await a_database_read(client) == 200


async def test_when_awscurrent_is_not_yet_in_the_database_the_previous_version_logs_in(aws):
    """Mid-rotation the secret may already name a password the database does not have: AWSPREVIOUS works."""
    with rds_lab(cache=False) as lab:
        settings = on_aws(from_env(app_env(lab)), aws)
        ahead = Login(DB_USER, "not-in-the-database-yet")
        rotate(aws, str(settings.db_secret_arn), ahead)  # the database keeps DB_PASSWORD
        async with client_for(replace(settings, db_password=ahead.password), aws["secrets"]) as client:
            master, _ = client.app.state.logins
            assert master.login == Login(DB_USER, DB_PASSWORD)
            assert await a_database_read(client) == 200


async def test_a_database_that_rejects_every_version_costs_one_secret_read_per_interval(aws, lab):
    now = [0.0]
    arn = store(aws, Login(APP_USER, "wrong-current"))
    rotate(aws, arn, Login(APP_USER, "wrong-newer"))
    start = Login(APP_USER, "wrong-start")
    credentials = Credentials(start, secret_arn=arn, secrets=aws["secrets"], clock=lambda: now[0])
    info = f"host=127.0.0.1 port={lab.primary.port} dbname=shop connect_timeout=2"

    async def attempts(n: int) -> list[object]:
        results: list[object] = await asyncio.gather(
            *(connect_as(credentials, info) for _ in range(n)), return_exceptions=True
        )
        return results

    first = await attempts(20)
    assert all(isinstance(r, psycopg.OperationalError) and is_auth_failure(r) for r in first)
    assert credentials.fetches == 2
    await attempts(20)
    assert credentials.fetches == 2, "no re-read before the interval has passed"
    now[0] += 5.0
    await attempts(1)
    assert credentials.fetches == 4


async def test_only_authentication_failures_count_as_rejected_logins(lab, client):
    """(``client`` has created the app role.)"""
    base = f"host=127.0.0.1 port={lab.primary.port} dbname=shop connect_timeout=2"

    async def error(info: str, user: str, password: str) -> BaseException:
        with pytest.raises(psycopg.OperationalError) as err:
            await psycopg.AsyncConnection.connect(info, user=user, password=password)
        return err.value

    assert is_auth_failure(await error(base, APP_USER, "wrong"))  # 28P01
    assert is_auth_failure(await error(base, "nobody", "x"))  # 28000
    assert not is_auth_failure(await error(base.replace("dbname=shop", "dbname=nothing"), APP_USER, APP_PASSWORD))
    closed = f"host=127.0.0.1 port={free_port()} dbname=shop connect_timeout=2"
    assert not is_auth_failure(await error(closed, APP_USER, APP_PASSWORD))
