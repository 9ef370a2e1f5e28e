"""The local lab: real PostgreSQL (primary + synchronous streaming standby) and Redis on loopback.

Used by the service tests, ``make run``, the benchmark and the boot test. Servers run from the Debian
packages on free high ports, with their data and sockets under one temporary directory, and can be killed
and promoted the way an AZ failure and an RDS/Aurora failover would.

With ``tls=True`` they behave as RDS and ElastiCache with in-transit encryption: PostgreSQL accepts TCP
logins only over TLS and with a password (scram-sha-256), Redis only over TLS with its AUTH token. Their
certificate is self-signed by ``Lab.ca`` for the names in ``Lab.tls_names``.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import redis

REDIS_PASSWORD = "lab-redis-token"
DB_NAME, DB_USER, DB_PASSWORD = "shop", "app", "lab-db-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make servers` (apt-get install postgresql redis-server)")
    return found[-1].parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _pg_tool(name: str, *args: str) -> None:
    """Run one of PostgreSQL's command-line tools as the postgres user; raise if it fails."""
    subprocess.run(_as_postgres([str(postgres_bin() / name), *args]), check=True, capture_output=True)


def _wait(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as err:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up in {timeout} s: {err}") from err
            time.sleep(0.05)


@dataclass
class Server:
    """One process we started, killable as a whole process group."""

    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    """Loopback address it listens on (the boot test gives each server its own, as AWS gives each endpoint)."""

    def kill(self) -> None:
        """Crash: the postmaster and all its children, with no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Lab:
    """A primary, a standby and a Redis server under one directory."""

    root: Path
    primary: Server = field(default_factory=lambda: Server("primary", free_port()))
    standby: Server = field(default_factory=lambda: Server("standby", free_port()))
    redis: Server = field(default_factory=lambda: Server("redis", free_port()))
    tls: bool = False
    """TLS and password logins only, as RDS and ElastiCache with in-transit encryption."""
    tls_names: tuple[str, ...] = ("localhost",)
    """DNS names the servers' certificate is valid for (with tls)."""
    redis_password: str = REDIS_PASSWORD

    @property
    def ca(self) -> Path:
        """The self-signed certificate clients must trust (with tls)."""
        return self.root / "tls" / "server.crt"

    def _certificate(self) -> None:
        """A self-signed certificate (it is its own CA) for tls_names and the servers' addresses."""
        tls = self.root / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        names = [f"DNS:{n}" for n in self.tls_names] + [
            f"IP:{s.host}" for s in (self.primary, self.standby, self.redis)
        ]
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ha-stack lab",
                "-addext", f"subjectAltName={','.join(dict.fromkeys(names))}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-keyout", str(tls / "server.key"), "-out", str(self.ca),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        if os.geteuid() == 0:
            for path in (tls, tls / "server.key", self.ca):
                shutil.chown(path, "postgres", "postgres")
        (tls / "server.key").chmod(0o600)
        self.ca.chmod(0o644)

    def _tls_settings(self) -> list[str]:
        if not self.tls:
            return []
        tls = self.root / "tls"
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={tls / 'server.crt'}", "-c", f"ssl_key_file={tls / 'server.key'}"]

    def _require_tls_logins(self, datadir: Path) -> None:
        """pg_hba.conf as RDS with rds.force_ssl: TCP only over TLS and with a password; the socket stays open."""
        (datadir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl replication all 127.0.0.0/8 scram-sha-256\n"
            "hostssl all all 127.0.0.0/8 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
        )

    # -- PostgreSQL -------------------------------------------------------------------------------------
    def _postgres(self, server: Server, datadir: Path, log: Path, *, primary: bool) -> None:
        sockets = self.root / f"{server.name}-socket"  # one per server: two may share a port on distinct addresses
        sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(sockets, "postgres", "postgres")
        settings = [
            "-c",
            f"listen_addresses={server.host}",
            "-c",
            f"unix_socket_directories={sockets}",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=on",
            "-c",
            "wal_level=replica",
            "-c",
            "max_wal_senders=5",
            "-c",
            "hot_standby=on",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            *self._tls_settings(),
        ]
        if primary:  # like Multi-AZ: a commit is acknowledged only once the standby has it
            settings += ["-c", "synchronous_standby_names=*"]
        cmd = _as_postgres([str(postgres_bin() / "postgres"), "-D", str(datadir), "-p", str(server.port), *settings])
        server.proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        _wait(
            lambda: psycopg.connect(self.dsn(server, user="postgres", dbname="postgres"), connect_timeout=1).close(),
            f"PostgreSQL {server.name}",
        )

    def start_database(self) -> None:
        """initdb, start the primary, create the app's role and database, clone and start the standby."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        primary_dir = self.root / "primary"
        password_file = self.root / "superuser-password"
        password_file.write_text(DB_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        initdb = ["-D", str(primary_dir), "--no-sync", "-A", "trust", "-U", "postgres", "--no-instructions"]
        _pg_tool("initdb", *initdb, f"--pwfile={password_file}")
        if self.tls:
            self._certificate()
            self._require_tls_logins(primary_dir)
        self._postgres(self.primary, primary_dir, self.root / "primary.log", primary=True)
        standby_dir = self.root / "standby"
        _pg_tool(
            "pg_basebackup",
            "-d",
            f"host={self.primary.host} port={self.primary.port} password={DB_PASSWORD}",
            "-U",
            "postgres",
            "-D",
            str(standby_dir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        self._postgres(self.standby, standby_dir, self.root / "standby.log", primary=False)
        self._wait_for_sync_standby()
        with psycopg.connect(self.dsn(self.primary, user="postgres", dbname="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def _wait_for_sync_standby(self) -> None:
        def streaming() -> None:
            with psycopg.connect(self.dsn(self.primary, user="postgres", dbname="postgres")) as conn:
                row = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
                if not row or row[0] != "sync":
                    raise RuntimeError(f"standby not synchronous yet: {row}")

        _wait(streaming, "synchronous replication")

    def promote_standby(self) -> float:
        """Fail over as RDS/Aurora would: promote the standby; returns seconds until it takes writes."""
        started = time.monotonic()
        with psycopg.connect(self.dsn(self.standby, user="postgres", dbname="postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_promote(false)")
            while conn.execute("SELECT pg_is_in_recovery()").fetchone() != (False,):
                time.sleep(0.01)
        return time.monotonic() - started

    def dsn(self, server: Server, *, user: str = DB_USER, dbname: str = DB_NAME) -> str:
        tls = " sslmode=require" if self.tls else ""
        return f"host={server.host} port={server.port} user={user} dbname={dbname} password={DB_PASSWORD}{tls}"

    # -- Redis -----------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.tls and not self.ca.exists():
            self._certificate()
        tls = self.root / "tls"
        listen = ["--port", str(self.redis.port)]
        if self.tls:  # as ElastiCache with in-transit encryption: TLS only, server certificate, no client one
            listen = ["--port", "0", "--tls-port", str(self.redis.port), "--tls-auth-clients", "no"]
            listen += ["--tls-cert-file", str(tls / "server.crt"), "--tls-key-file", str(tls / "server.key")]
        cmd = [
            "redis-server",
            *listen,
            "--bind",
            self.redis.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            self.redis_password,
            "--dir",
            str(self.root),
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            "allkeys-lru",
        ]
        log = (self.root / "redis.log").open("ab")
        self.redis.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(
            host=self.redis.host,
            port=self.redis.port,
            password=self.redis_password,
            socket_timeout=1,
            ssl=self.tls,
            ssl_ca_certs=str(self.ca) if self.tls else None,
            ssl_check_hostname=False,
        )
        _wait(client.ping, "Redis")

    # -- the service's view -----------------------------------------------------------------------------
    def app_env(self) -> dict[str, str]:
        """HA_* variables that point the service at this lab: writer = primary then standby, reader = standby."""
        return {
            "HA_ENVIRONMENT": "dev",
            "HA_DB_WRITER": f"{self.primary.host}:{self.primary.port},{self.standby.host}:{self.standby.port}",
            "HA_DB_READER": f"{self.standby.host}:{self.standby.port}",
            "HA_DB_NAME": DB_NAME,
            "HA_DB_USER": DB_USER,
            "HA_DB_PASSWORD": DB_PASSWORD,
            "HA_DB_SSLMODE": "require" if self.tls else "disable",
            "HA_REDIS_HOST": self.redis.host,
            "HA_REDIS_PORT": str(self.redis.port),
            "HA_REDIS_TLS": str(self.tls).lower(),
            "HA_REDIS_PASSWORD": self.redis_password,
        }

    def service_command(self, workers: int = 1) -> list[str]:
        """``python -m app`` on loopback, as the lab's users run it."""
        return [sys.executable, "-m", "app", "--host", "127.0.0.1", "--workers", str(workers)]

    def service_env(self, port: int, **extra: str) -> dict[str, str]:
        """This process's environment plus the service's settings for this lab, listening on ``port``."""
        return {**os.environ, **self.app_env(), "HA_PORT": str(port), **extra}

    def start_service(
        self,
        port: int,
        *,
        workers: int = 1,
        wait_for: str = "/health",
        stdout: IO[str] | int = subprocess.DEVNULL,
        **extra_env: str,
    ) -> subprocess.Popen[bytes]:
        """Start the service against this lab and return once ``wait_for`` answers (killed if it never does)."""
        proc = subprocess.Popen(
            self.service_command(workers),
            env=self.service_env(port, **extra_env),
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_answering(f"http://127.0.0.1:{port}{wait_for}")
        except RuntimeError:
            proc.kill()
            raise
        return proc

    def stop(self) -> None:
        for server in (self.redis, self.standby, self.primary):
            server.stop()


def wait_until_answering(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 2xx; raise RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def running_lab(database: bool = True, cache: bool = True, **options: Any) -> Iterator[Lab]:
    """A lab in a fresh temporary directory, torn down (servers and files) on exit; `options` go to Lab."""
    root = Path(tempfile.mkdtemp(prefix="ha-stack-lab-"))
    os.chmod(root, 0o755)
    lab = Lab(root / "servers", **options)
    try:
        if database:
            lab.start_database()
        if cache:
            lab.start_redis()
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)
