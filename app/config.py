"""Service configuration, read once at start-up: from environment variables locally, and on an
instance from the stack's Parameter Store path plus the Secrets Manager secrets it names.

Both sources produce the same flat ``key -> string`` map, parsed by one function that reports every
problem at once.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "password", "secret", "postgres"}

# Flat config key -> the environment variable that sets it locally.
ENV_VARS: dict[str, str] = {
    "environment": "HA_ENVIRONMENT",
    "database/writer_endpoint": "HA_DB_WRITER",
    "database/reader_endpoint": "HA_DB_READER",
    "database/port": "HA_DB_PORT",
    "database/name": "HA_DB_NAME",
    "database/username": "HA_DB_USER",
    "database/password": "HA_DB_PASSWORD",
    "database/sslmode": "HA_DB_SSLMODE",
    "cache/primary_endpoint": "HA_REDIS_HOST",
    "cache/port": "HA_REDIS_PORT",
    "cache/tls": "HA_REDIS_TLS",
    "cache/auth_token": "HA_REDIS_PASSWORD",
    "app/product_ttl_seconds": "HA_PRODUCT_TTL_SECONDS",
    "app/port": "HA_PORT",
    "app/shutdown_grace_seconds": "HA_SHUTDOWN_GRACE_SECONDS",
}
REQUIRED = (
    "database/writer_endpoint",
    "database/name",
    "database/username",
    "database/password",
    "cache/primary_endpoint",
)


class ConfigError(ValueError):
    """Every configuration problem, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid service configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Endpoint:
    """A host and port."""

    host: str
    port: int


@dataclass(frozen=True)
class AppSettings:
    """Everything the service needs; frozen, built once."""

    environment: str
    db_writers: tuple[Endpoint, ...]
    """Writer host(s): the cluster endpoint on AWS; primary then standby locally."""
    db_readers: tuple[Endpoint, ...]
    """Reader host(s), tried before the writers for reads."""
    db_name: str
    db_user: str
    db_password: str
    db_sslmode: str
    redis: Endpoint
    redis_tls: bool
    redis_password: str | None
    product_ttl_seconds: int
    port: int
    shutdown_grace_seconds: int


def _endpoints(value: str, default_port: int) -> tuple[Endpoint, ...]:
    """``host[:port][,host[:port]...]``."""
    result = []
    for part in value.split(","):
        host, _, port = part.strip().partition(":")
        if not host:
            raise ValueError(f"empty host in {value!r}")
        result.append(Endpoint(host, int(port) if port else default_port))
    return tuple(result)


class _Reader:
    def __init__(self, values: Mapping[str, str], source: str) -> None:
        self.values, self.source = values, source
        self.problems: list[str] = []

    def name(self, key: str) -> str:
        return ENV_VARS[key] if self.source == "env" else f"{self.source}{key}"

    def text(self, key: str, default: str = "") -> str:
        return self.values.get(key, default).strip()

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        raw = self.text(key, str(default))
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{self.name(key)}: must be a whole number, got {raw!r}")
            return default
        if not lo <= value <= hi:
            self.problems.append(f"{self.name(key)}: must be between {lo} and {hi}, got {value}")
            return default
        return value

    def flag(self, key: str) -> bool:
        raw = self.text(key, "false").lower()
        if raw not in ("true", "false", "1", "0"):
            self.problems.append(f"{self.name(key)}: must be true or false, got {raw!r}")
        return raw in ("true", "1")

    def endpoints(self, key: str, default_port: int) -> tuple[Endpoint, ...]:
        try:
            return _endpoints(self.text(key), default_port) if self.text(key) else ()
        except ValueError as err:
            self.problems.append(f"{self.name(key)}: must be host[:port][,host[:port]...], {err}")
            return ()


def parse(values: Mapping[str, str], source: str = "env") -> AppSettings:
    """Build AppSettings from flat keys; ``source`` is "env" or the Parameter Store path (for messages)."""
    r = _Reader(values, source)
    r.problems.extend(f"{r.name(k)}: is required" for k in REQUIRED if not r.text(k))
    environment = r.text("environment", "dev")
    db_port = r.integer("database/port", 5432, 1, 65535)
    writers = r.endpoints("database/writer_endpoint", db_port)
    password = r.text("database/password")
    if environment != "dev" and password.lower() in PLACEHOLDER_SECRETS:
        r.problems.append(f"{r.name('database/password')}: a placeholder password is refused outside dev")
    sslmode = r.text("database/sslmode", "prefer" if environment == "dev" else "require")
    if sslmode not in ("disable", "prefer", "require", "verify-ca", "verify-full"):
        r.problems.append(f"{r.name('database/sslmode')}: must be a libpq sslmode, got {sslmode!r}")
    redis_port = r.integer("cache/port", 6379, 1, 65535)
    redis_hosts = r.endpoints("cache/primary_endpoint", redis_port)
    settings = AppSettings(
        environment=environment,
        db_writers=writers,
        db_readers=r.endpoints("database/reader_endpoint", db_port) or writers,
        db_name=r.text("database/name"),
        db_user=r.text("database/username"),
        db_password=password,
        db_sslmode=sslmode,
        redis=redis_hosts[0] if redis_hosts else Endpoint("", redis_port),
        redis_tls=r.flag("cache/tls"),
        redis_password=r.text("cache/auth_token") or None,
        product_ttl_seconds=r.integer("app/product_ttl_seconds", 3600, 1, 86400),
        port=r.integer("app/port", 8000, 1024, 65535),
        shutdown_grace_seconds=r.integer("app/shutdown_grace_seconds", 25, 1, 3600),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def from_env(env: Mapping[str, str] | None = None) -> AppSettings:
    """Local configuration: the HA_* environment variables."""
    env = os.environ if env is None else env
    return parse({key: env[var] for key, var in ENV_VARS.items() if var in env})


def from_aws(path: str, ssm: Any, secrets: Any) -> AppSettings:
    """Instance configuration: every parameter under ``path`` plus the secrets whose ARNs it names.

    ``database/secret_arn`` names the RDS-managed master secret (JSON with username and password);
    ``cache/auth_secret_arn`` names the Redis AUTH token secret (a plain string).
    """
    path = path.rstrip("/") + "/"
    values: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True, WithDecryption=True):
        for parameter in page["Parameters"]:
            values[parameter["Name"].removeprefix(path)] = parameter["Value"]
    problems: list[str] = []
    if arn := values.get("database/secret_arn"):
        secret = _secret(secrets, arn, problems)
        if secret is not None:
            login: dict[str, Any] = json.loads(secret)
            values.setdefault("database/username", str(login.get("username", "")))
            values["database/password"] = str(login.get("password", ""))
    if arn := values.get("cache/auth_secret_arn"):
        token = _secret(secrets, arn, problems)
        if token is not None:
            values["cache/auth_token"] = token
    try:
        settings = parse(values, source=path)
    except ConfigError as err:
        raise ConfigError(problems + err.problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


def _secret(secrets: Any, arn: str, problems: list[str]) -> str | None:
    try:
        return str(secrets.get_secret_value(SecretId=arn)["SecretString"])
    except Exception as err:
        problems.append(f"secret {arn}: cannot be read: {err}")
        return None


def load() -> AppSettings:
    """Start-up: Parameter Store when HA_SSM_PATH is set (on an instance), else environment variables."""
    path = os.environ.get("HA_SSM_PATH")
    if not path:
        return from_env()
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 (only instances need it at start-up)

    session = boto3.session.Session()
    return from_aws(path, session.client("ssm"), session.client("secretsmanager"))
