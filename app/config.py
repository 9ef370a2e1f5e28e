"""Service configuration, read once at start-up: from environment variables locally, and on an
instance from the stack's Parameter Store path plus the Secrets Manager secrets it names.

Both sources produce the same flat ``key -> string`` map, parsed by one function that reports every
problem at once. On an instance, configuration that is not complete yet (a parameter or secret not
published, a secret not readable yet) is waited for with a bounded backoff, one log line per attempt,
instead of exiting: see ``wait_for``.
"""

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.credentials import parse_login

log = logging.getLogger("app.config")

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
    "database/app_username": "HA_DB_APP_USER",
    "database/app_password": "HA_DB_APP_PASSWORD",
    "database/sslmode": "HA_DB_SSLMODE",
    "cache/primary_endpoint": "HA_REDIS_HOST",
    "cache/port": "HA_REDIS_PORT",
    "cache/tls": "HA_REDIS_TLS",
    "cache/auth_token": "HA_REDIS_PASSWORD",
    "app/product_ttl_seconds": "HA_PRODUCT_TTL_SECONDS",
    "app/port": "HA_PORT",
    "app/shutdown_grace_seconds": "HA_SHUTDOWN_GRACE_SECONDS",
    "app/enable_docs": "HA_ENABLE_DOCS",
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
    """The master user: migrations and the app role's upkeep only."""
    db_password: str = field(repr=False)
    db_sslmode: str
    redis: Endpoint
    redis_tls: bool
    redis_password: str | None
    product_ttl_seconds: int
    port: int
    shutdown_grace_seconds: int
    db_app_user: str = ""
    """The application role the request pools log in as; empty only in dev (then the master serves)."""
    db_app_password: str = field(default="", repr=False)
    db_secret_arn: str | None = None
    """The master secret, re-read when the master login is rejected (on AWS)."""
    db_app_secret_arn: str | None = None
    """The app role's secret, re-read when the app login is rejected (on AWS)."""
    enable_docs: bool = False
    """Serve the interactive API docs (/docs, /redoc, /openapi.json); off unless asked for."""


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
    app_user, app_password = _app_login(r, environment, r.text("database/username"))
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
        db_app_user=app_user,
        db_app_password=app_password,
        db_secret_arn=r.text("database/secret_arn") or None,
        db_app_secret_arn=r.text("database/app_secret_arn") or None,
        enable_docs=r.flag("app/enable_docs"),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _app_login(r: _Reader, environment: str, master_user: str) -> tuple[str, str]:
    """The app role's login: required outside dev, never the master user, never a placeholder outside dev."""
    user, password = r.text("database/app_username"), r.text("database/app_password")
    if not user and environment != "dev" and r.source == "env":  # on AWS: from_aws names the missing secret
        r.problems.append(f"{r.name('database/app_username')}: is required outside dev (never serve as the master)")
    if user and not password:
        r.problems.append(f"{r.name('database/app_password')}: is required with {r.name('database/app_username')}")
    if user and user == master_user:
        r.problems.append(f"{r.name('database/app_username')}: must differ from the master user, got {user!r}")
    if password and environment != "dev" and password.lower() in PLACEHOLDER_SECRETS:
        r.problems.append(f"{r.name('database/app_password')}: a placeholder password is refused outside dev")
    return user, password


def from_env(env: Mapping[str, str] | None = None) -> AppSettings:
    """Local configuration: the HA_* environment variables."""
    env = os.environ if env is None else env
    return parse({key: env[var] for key, var in ENV_VARS.items() if var in env})


def from_aws(path: str, ssm: Any, secrets: Any) -> AppSettings:
    """Instance configuration: every parameter under ``path`` plus the secrets whose ARNs it names.

    ``database/secret_arn`` names the RDS-managed master secret and ``database/app_secret_arn`` the app role's
    secret (both JSON with username and password); ``cache/auth_secret_arn`` names the Redis AUTH token secret
    (a plain string). Raises ConfigError listing every missing, unreadable or bad value.
    """
    path = path.rstrip("/") + "/"
    problems: list[str] = []
    values = _parameters(ssm, path, problems)
    for key, prefix in (("database/secret_arn", "database/"), ("database/app_secret_arn", "database/app_")):
        if not (arn := values.get(key)):
            problems.append(f"{path}{key}: is required")
        elif (secret := _secret(secrets, arn, problems)) is not None:
            try:
                login = parse_login(secret)
            except ValueError as err:
                problems.append(f"secret {arn}: {err}")
                continue
            values[f"{prefix}username"], values[f"{prefix}password"] = login.user, login.password
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


def _parameters(ssm: Any, path: str, problems: list[str]) -> dict[str, str]:
    """Every parameter under ``path`` (an unreadable path is a problem: the role's grant may not exist yet)."""
    values: dict[str, str] = {}
    try:
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True, WithDecryption=True)
        for page in pages:
            for parameter in page["Parameters"]:
                values[parameter["Name"].removeprefix(path)] = parameter["Value"]
    except Exception as err:
        problems.append(f"parameters under {path}: cannot be read: {str(err)[:200]}")
    return values


def _secret(secrets: Any, arn: str, problems: list[str]) -> str | None:
    try:
        return str(secrets.get_secret_value(SecretId=arn)["SecretString"])
    except Exception as err:
        problems.append(f"secret {arn}: cannot be read: {str(err)[:200]}")
        return None


CONFIG_FIRST_DELAY_SECONDS = 1.0
CONFIG_MAX_DELAY_SECONDS = 10.0
"""The longest wait between two reads of an incomplete configuration: once it is complete, the service
starts within this, far inside the web tier's health-check grace period (docs/runtime-config.md)."""


def wait_for(
    read: Callable[[], AppSettings],
    *,
    first_delay: float = CONFIG_FIRST_DELAY_SECONDS,
    max_delay: float = CONFIG_MAX_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> AppSettings:
    """Call ``read`` until it returns, waiting ``first_delay`` doubling up to ``max_delay`` after each
    ConfigError and logging one line per attempt that names what is missing. It never gives up: exiting
    would only have systemd restart the service in a loop; the Auto Scaling group's health-check grace
    period is what bounds a wait that never ends."""
    attempt, delay = 1, first_delay
    while True:
        try:
            settings = read()
        except ConfigError as err:
            log.warning(
                f"configuration incomplete (attempt {attempt}), retrying in {delay:g} s: {'; '.join(err.problems)}",
                extra={"attempt": attempt, "retry_in_seconds": delay, "problems": err.problems},
            )
            sleep(delay)
            attempt, delay = attempt + 1, min(delay * 2, max_delay)
            continue
        if attempt > 1:
            log.info("configuration complete", extra={"attempt": attempt})
        return settings


def load() -> AppSettings:
    """Start-up: Parameter Store when HA_SSM_PATH is set (on an instance), waited for until complete; else
    environment variables, where a problem stops the service at once (someone is at the keyboard)."""
    path = os.environ.get("HA_SSM_PATH")
    if not path:
        return from_env()
    ssm, secrets = _clients()
    return wait_for(lambda: from_aws(path, ssm, secrets))


def secrets_client() -> Any:
    """The Secrets Manager client that rotated logins are re-read with on an instance; None locally."""
    return _clients()[1] if os.environ.get("HA_SSM_PATH") else None


@functools.cache
def _clients() -> tuple[Any, Any]:
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 (only instances need it at start-up)

    session = boto3.session.Session()
    return session.client("ssm"), session.client("secretsmanager")
