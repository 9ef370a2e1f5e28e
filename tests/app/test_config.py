"""Service configuration: env vars locally, Parameter Store + Secrets Manager on AWS (moto server mode)."""

import json
from collections.abc import Iterator

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer

from app.config import ConfigError, Endpoint, from_aws, from_env
from lab.servers import free_port

LOCAL = {
    "HA_DB_WRITER": "db1:5432,db2:5433",
    "HA_DB_NAME": "shop",
    "HA_DB_USER": "app",
    "HA_DB_PASSWORD": "pw",
    "HA_REDIS_HOST": "cache",
}


def test_local_env_gives_writer_hosts_readers_defaulting_to_writers_and_the_hour_ttl():
    s = from_env(LOCAL)
    assert s.db_writers == (Endpoint("db1", 5432), Endpoint("db2", 5433))
    assert s.db_readers == s.db_writers
    assert (s.redis, s.product_ttl_seconds, s.port) == (Endpoint("cache", 6379), 3600, 8000)


def test_missing_and_bad_settings_are_all_listed_at_once():
    with pytest.raises(ConfigError) as err:
        from_env({"HA_DB_NAME": "shop", "HA_PRODUCT_TTL_SECONDS": "soon", "HA_REDIS_TLS": "maybe"})
    assert err.value.problems == [
        "HA_DB_WRITER: is required",
        "HA_DB_USER: is required",
        "HA_DB_PASSWORD: is required",
        "HA_REDIS_HOST: is required",
        "HA_REDIS_TLS: must be true or false, got 'maybe'",
        "HA_PRODUCT_TTL_SECONDS: must be a whole number, got 'soon'",
    ]


def test_placeholder_password_is_refused_outside_dev():
    with pytest.raises(ConfigError, match="HA_DB_PASSWORD: a placeholder password is refused outside dev"):
        from_env({**LOCAL, "HA_ENVIRONMENT": "prod", "HA_DB_PASSWORD": "changeme"})


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, object]]:
    """moto's HTTP server: the real AWS APIs emulated, reached through boto3 like on an instance."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    yield {
        "ssm": session.client("ssm", endpoint_url=endpoint),
        "secrets": session.client("secretsmanager", endpoint_url=endpoint),
    }
    server.stop()


def publish(aws, path: str, **extra: str) -> None:
    """What the stack's runtime-config step writes under the stack's path."""
    secrets, ssm = aws["secrets"], aws["ssm"]
    db_secret = secrets.create_secret(
        Name=f"{path}db", SecretString=json.dumps({"username": "app", "password": "s3cr3t"})
    )
    token = secrets.create_secret(Name=f"{path}redis", SecretString="redis-auth-token-123")
    values = {
        "database/writer_endpoint": "shop.cluster-x.us-east-1.rds.amazonaws.com",
        "database/reader_endpoint": "shop.cluster-ro-x.us-east-1.rds.amazonaws.com",
        "database/port": "5432",
        "database/name": "shop",
        "database/secret_arn": db_secret["ARN"],
        "cache/primary_endpoint": "master.shop.x.use1.cache.amazonaws.com",
        "cache/port": "6379",
        "cache/tls": "true",
        "cache/auth_secret_arn": token["ARN"],
        "app/product_ttl_seconds": "3600",
        "environment": "prod",
        **extra,
    }
    for key, value in values.items():
        ssm.put_parameter(Name=f"{path}{key}", Value=value, Type="String")


def test_on_aws_config_comes_from_the_stack_path_and_its_secrets(aws):
    publish(aws, "/ha-stack/prod/")
    s = from_aws("/ha-stack/prod", aws["ssm"], aws["secrets"])
    assert s.db_writers == (Endpoint("shop.cluster-x.us-east-1.rds.amazonaws.com", 5432),)
    assert s.db_readers == (Endpoint("shop.cluster-ro-x.us-east-1.rds.amazonaws.com", 5432),)
    assert (s.db_user, s.db_password, s.db_sslmode) == ("app", "s3cr3t", "require")
    assert (s.redis.host, s.redis_tls, s.redis_password) == (
        "master.shop.x.use1.cache.amazonaws.com",
        True,
        "redis-auth-token-123",
    )
    assert s.environment == "prod"


def test_on_aws_a_missing_parameter_and_an_unreadable_secret_are_named(aws):
    publish(aws, "/ha-stack/broken/", **{"database/secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:gone"})
    aws["ssm"].delete_parameter(Name="/ha-stack/broken/cache/primary_endpoint")
    with pytest.raises(ConfigError) as err:
        from_aws("/ha-stack/broken/", aws["ssm"], aws["secrets"])
    problems = err.value.problems
    assert problems[0].startswith("secret arn:aws:secretsmanager:us-east-1:1:secret:gone: cannot be read")
    assert "/ha-stack/broken/database/password: is required" in problems
    assert "/ha-stack/broken/cache/primary_endpoint: is required" in problems
