"""Service configuration: env vars locally, Parameter Store + Secrets Manager on AWS (moto server mode)."""

import json

import pytest

from app.config import ConfigError, Endpoint, from_aws, from_env, wait_for

APP_LOGIN = json.dumps({"username": "ha_app", "password": "app-s3cr3t"})
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


def publish(aws, path: str, app_login: str | None = APP_LOGIN, **extra: str) -> None:
    """What the stack's runtime-config step writes under the stack's path (``app_login`` None: the app
    role's secret exists but has no value yet)."""
    secrets, ssm = aws["secrets"], aws["ssm"]
    db_secret = secrets.create_secret(
        Name=f"{path}db", SecretString=json.dumps({"username": "app", "password": "s3cr3t"})
    )
    app_secret = secrets.create_secret(Name=f"{path}app", **({"SecretString": app_login} if app_login else {}))
    token = secrets.create_secret(Name=f"{path}redis", SecretString="redis-auth-token-123")
    values = {
        "database/writer_endpoint": "shop.cluster-x.us-east-1.rds.amazonaws.com",
        "database/reader_endpoint": "shop.cluster-ro-x.us-east-1.rds.amazonaws.com",
        "database/port": "5432",
        "database/name": "shop",
        "database/secret_arn": db_secret["ARN"],
        "database/app_secret_arn": app_secret["ARN"],
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
    assert (s.db_app_user, s.db_app_password) == ("ha_app", "app-s3cr3t")
    assert ":secret:/ha-stack/prod/db-" in str(s.db_secret_arn)  # kept to re-read after a rotation
    assert ":secret:/ha-stack/prod/app-" in str(s.db_app_secret_arn)
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


def test_outside_dev_requests_need_an_app_role_that_is_not_the_master():
    with pytest.raises(ConfigError) as err:
        from_env({**LOCAL, "HA_ENVIRONMENT": "prod", "HA_DB_PASSWORD": "long-and-random"})
    assert err.value.problems == ["HA_DB_APP_USER: is required outside dev (never serve as the master)"]
    with pytest.raises(ConfigError) as err:
        from_env({**LOCAL, "HA_DB_APP_USER": "app", "HA_DB_APP_PASSWORD": "other"})
    assert err.value.problems == ["HA_DB_APP_USER: must differ from the master user, got 'app'"]
    with pytest.raises(ConfigError, match="HA_DB_APP_PASSWORD: is required with HA_DB_APP_USER"):
        from_env({**LOCAL, "HA_DB_APP_USER": "ha_app"})


def test_on_aws_the_app_roles_secret_is_required(aws):
    publish(aws, "/ha-stack/no-app/")
    aws["ssm"].delete_parameter(Name="/ha-stack/no-app/database/app_secret_arn")
    with pytest.raises(ConfigError) as err:
        from_aws("/ha-stack/no-app/", aws["ssm"], aws["secrets"])
    assert err.value.problems == ["/ha-stack/no-app/database/app_secret_arn: is required"]


def test_incomplete_configuration_is_waited_for_with_one_line_per_attempt_until_it_is_complete(aws, caplog):
    """Nothing published, then a secret without a value yet, then complete: the third read starts the service."""
    path = "/ha-stack/late/"
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            publish(aws, path, app_login=None)
        else:
            aws["secrets"].put_secret_value(SecretId=f"{path}app", SecretString=APP_LOGIN)

    caplog.set_level("INFO", logger="app.config")
    settings = wait_for(lambda: from_aws(path, aws["ssm"], aws["secrets"]), sleep=sleep)
    assert settings.db_app_user == "ha_app"
    assert waits == [1.0, 2.0]
    first, second, done = (r.getMessage() for r in caplog.records if r.name == "app.config")
    assert first.startswith("configuration incomplete (attempt 1), retrying in 1 s: ")
    assert f"{path}database/secret_arn: is required" in first
    assert f"{path}cache/primary_endpoint: is required" in first
    assert second.startswith("configuration incomplete (attempt 2), retrying in 2 s: secret arn:aws:secretsmanager:")
    assert "cannot be read" in second
    assert "database/writer_endpoint" not in second
    assert done == "configuration complete"


def test_the_wait_between_attempts_doubles_and_stays_bounded():
    waits: list[float] = []
    attempts = iter(range(7))

    def read():
        if next(attempts) < 6:
            raise ConfigError(["HA_DB_WRITER: is required"])
        return from_env(LOCAL)

    wait_for(read, sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
