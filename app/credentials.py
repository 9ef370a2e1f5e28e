"""Database logins that survive secret rotation.

RDS rotates the managed master secret every 7 days, and a login read once at start-up then fails for every
new connection. Each login here remembers the Secrets Manager secret it came from: when the server rejects
it (SQLSTATE 28P01/28000), the secret is re-read (AWSCURRENT, then AWSPREVIOUS, since AWS documents that
during a rotation "new connections that retrieve the secret may get the previous version of the
credentials") and the connection is retried with the next login not yet rejected. Re-reads are bounded
(at most one pair of GetSecretValue calls per ``min_fetch_seconds`` per login and process), and concurrent
failures share one re-read, so a database that rejects everything never turns into a Secrets Manager storm.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

log = logging.getLogger("app.credentials")
T = TypeVar("T")

AUTH_SQLSTATES = frozenset({"28P01", "28000"})
"""invalid_password, invalid_authorization_specification."""

AUTH_MESSAGES = (
    "password authentication failed for user",  # 28P01
    "authentication failed for user",  # 28P01 for the other methods (PAM, SCRAM, ...)
    "no pg_hba.conf entry for",  # 28000
    "pg_hba.conf rejects connection",  # 28000
)
UNKNOWN_ROLE = re.compile(r'FATAL:\s+role ".*" does not exist')  # 28000
"""libpq reports a failed connection as text only (psycopg leaves ``sqlstate`` None at connect, measured with
psycopg 3.3 and libpq 18), so the server's FATAL message, as RDS sends it (English), identifies the SQLSTATE."""

STAGES = ("AWSCURRENT", "AWSPREVIOUS")
MIN_FETCH_SECONDS = 5.0


@dataclass(frozen=True)
class Login:
    """A database user and password; the password never appears in a repr or a log line."""

    user: str
    password: str = field(repr=False)


def is_auth_failure(err: BaseException) -> bool:
    """True when the server refused the login itself, not the network or the database's state."""
    if not isinstance(err, psycopg.OperationalError):
        return False
    if err.sqlstate in AUTH_SQLSTATES:
        return True
    text = str(err)
    return ("FATAL" in text and any(m in text for m in AUTH_MESSAGES)) or bool(UNKNOWN_ROLE.search(text))


class Credentials:
    """One login (the master or the app role) and the secret to re-read it from after a rejection."""

    def __init__(
        self,
        login: Login,
        *,
        secret_arn: str | None = None,
        secrets: Any = None,
        min_fetch_seconds: float = MIN_FETCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.login = login
        self.secret_arn = secret_arn if secrets is not None else None
        self._secrets = secrets
        self._min_fetch = min_fetch_seconds
        self._clock = clock
        self._fetched_at: float | None = None
        self._candidates: list[Login] = []
        self._lock = asyncio.Lock()
        self.fetches = 0
        """GetSecretValue calls made by refreshes (for tests and the log)."""

    async def refresh(self, rejected: Login) -> bool:
        """After ``rejected`` was refused: move to the next login worth trying; False when there is none yet."""
        async with self._lock:
            if self.login != rejected:
                return True  # another connection attempt already moved on
            self._candidates = [c for c in self._candidates if c != rejected]
            if not self._candidates and self._may_fetch():
                self._candidates = [c for c in await self._fetch() if c != rejected]
            if not self._candidates:
                return False
            self.login = self._candidates.pop(0)
            log.warning(
                "database login rejected, trying the secret's other version",
                extra={"user": rejected.user, "secret": self.secret_arn, "next_user": self.login.user},
            )
            return True

    def _may_fetch(self) -> bool:
        if self.secret_arn is None:
            return False
        now = self._clock()
        if self._fetched_at is not None and now - self._fetched_at < self._min_fetch:
            return False
        self._fetched_at = now
        return True

    async def _fetch(self) -> list[Login]:
        """AWSCURRENT then AWSPREVIOUS, each once, skipping a stage that does not exist (yet)."""
        found: list[Login] = []
        for stage in STAGES:
            self.fetches += 1
            try:
                value = await asyncio.to_thread(
                    self._secrets.get_secret_value, SecretId=self.secret_arn, VersionStage=stage
                )
                login = parse_login(str(value["SecretString"]))
            except Exception as err:  # a missing AWSPREVIOUS, throttling, a malformed value: try the next
                detail = {"secret": self.secret_arn, "stage": stage, "error": str(err)[:200]}
                log.warning("secret version unreadable", extra=detail)
                continue
            if login not in found:
                found.append(login)
        return found

    async def connect(self, attempt: Callable[[Login], Awaitable[T]]) -> T:
        """Run ``attempt`` with the current login; after an authentication failure, with each fresher one."""
        while True:
            login = self.login
            try:
                return await attempt(login)
            except psycopg.OperationalError as err:
                if not is_auth_failure(err) or not await self.refresh(login):
                    raise


def parse_login(secret_string: str) -> Login:
    """The JSON both RDS and HaDatabase store: ``{"username": ..., "password": ...}``."""
    value: dict[str, Any] = json.loads(secret_string)
    user, password = value.get("username"), value.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise ValueError("must be JSON with non-empty string username and password")
    return Login(user, password)
