"""The whole architecture on loopback: the seeds' replica that the failure drills break.

Three zones (a, b, c) on one machine, each with what AWS would put in it:

- zone a: service instance a, the PostgreSQL primary, the Redis primary, sentinel a
- zone b: service instance b, the synchronous PostgreSQL standby, the Redis replica, sentinel b
- zone c: service instance c, sentinel c

HAProxy plays the ALB: round robin over the three instances (cross-zone, the ALB's default), an HTTP health
check with the target group's path, interval, timeout and thresholds, no retry of a failed request on another
target, and a deregistration that stops new requests at once and lets in-flight ones finish for the
deregistration delay. A second HAProxy frontend plays ElastiCache's primary endpoint: it forwards to whichever
Redis node answers ``role:master``, so the service keeps one address across a sentinel failover.

A promotion agent plays RDS Multi-AZ / Aurora failover: it checks the primary every ``check_interval_s``;
after ``failures`` failed checks in a row it fences the old primary (kills it, as AWS replaces the failed
node, so a hung primary cannot come back as a second writer) and promotes the standby.

``python -m lab.cluster`` (``make lab``) starts it all, prints the addresses and runs until Ctrl-C or SIGTERM.
Every process is started in a session of its own and stopped by its process id.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import psycopg
import redis

from lab.servers import Lab, Server, free_port, wait_until_answering

ZONES = ("a", "b", "c")
SENTINEL_MASTER = "lab"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TargetHealth:
    """The target group's health check and deregistration delay, as HAProxy will apply them."""

    path: str
    interval_s: float
    timeout_s: float
    healthy_threshold: int
    unhealthy_threshold: int
    deregistration_delay_s: float

    def scaled(self, factor: float) -> "TargetHealth":
        """The same check with every duration multiplied by ``factor`` (short drills compress time)."""
        return replace(
            self,
            interval_s=self.interval_s * factor,
            timeout_s=self.timeout_s * factor,
            deregistration_delay_s=self.deregistration_delay_s * factor,
        )

    def detection_bound_s(self) -> float:
        """Longest time a crashed target can still be sent requests: a full interval to the next check,
        then ``unhealthy_threshold`` failed checks, each of which may wait out the timeout."""
        return self.interval_s + self.unhealthy_threshold * (self.interval_s + self.timeout_s)


def stack_target_health(stack: str = "prod") -> TargetHealth:
    """The target group the stack really declares: the program is run under the mock cloud (as the offline
    preview does) and the recorded TargetGroup's inputs are read, so the lab never drifts from the component."""
    from stack.preview import evaluate, load_config  # noqa: PLC0415 (slow: Pulumi's runtime)

    recording = evaluate(stack, load_config(stack))
    (group,) = recording.of_type("aws:lb/targetGroup:TargetGroup")
    check = group.inputs["healthCheck"]
    return TargetHealth(
        path=str(check["path"]),
        interval_s=float(check["interval"]),
        timeout_s=float(check["timeout"]),
        healthy_threshold=int(check["healthyThreshold"]),
        unhealthy_threshold=int(check["unhealthyThreshold"]),
        deregistration_delay_s=float(group.inputs["deregistrationDelay"]),
    )


@dataclass(frozen=True)
class AgentTiming:
    """How the promotion agent detects a failed primary."""

    check_interval_s: float = 1.0
    check_timeout_s: float = 2.0
    """libpq's connect_timeout: it treats anything under 2 s as 2 s."""
    failures: int = 2
    fence: bool = True
    """Kill the old primary before promoting. Off, a hung primary's open connections stay open: as on AWS,
    where the failed host is replaced behind a DNS name and nothing resets the clients' connections to it."""

    def detection_bound_s(self) -> float:
        """Longest time from a primary's failure to the promotion starting."""
        return self.check_interval_s + self.failures * (self.check_interval_s + self.check_timeout_s)


@dataclass
class Failover:
    """What the promotion agent did, in wall-clock seconds (time.time())."""

    detected_at: float = 0.0
    promoted_at: float = 0.0
    promotion_s: float = 0.0
    """pg_promote until the standby leaves recovery."""
    fenced_s: float = 0.0
    """Killing every process of the old primary."""


class PromotionAgent:
    """Watches the primary from a thread; fences it and promotes the standby once, when it stops answering."""

    def __init__(self, lab: Lab, timing: AgentTiming) -> None:
        self.lab, self.timing = lab, timing
        self.failover: Failover | None = None
        self.error: str = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="promotion-agent", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timing.check_interval_s + self.timing.check_timeout_s + 5)

    @property
    def writer(self) -> Server:
        """The node that takes writes now."""
        return self.lab.standby if self.failover and self.failover.promoted_at else self.lab.primary

    def _healthy(self) -> bool:
        dsn = self.lab.dsn(self.lab.primary, user="postgres", dbname="postgres")
        try:
            with psycopg.connect(dsn, connect_timeout=max(2, round(self.timing.check_timeout_s))) as conn:
                conn.execute(f"SET statement_timeout = {int(self.timing.check_timeout_s * 1000)}")
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _watch(self) -> None:
        failed = 0
        while not self._stop.wait(self.timing.check_interval_s):
            failed = 0 if self._healthy() else failed + 1
            if failed >= self.timing.failures:
                self._fail_over()
                return

    def _fail_over(self) -> None:
        failover = Failover(detected_at=time.time())
        if self.timing.fence:
            crash(self.lab.primary)  # a hung primary must never resume as a second writer
        failover.fenced_s = time.time() - failover.detected_at
        try:
            failover.promotion_s = self.lab.promote_standby()
        except psycopg.Error as err:
            self.error = f"promotion failed: {err}"
            return
        failover.promoted_at = time.time()
        self.failover = failover


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, parents first. PostgreSQL's backends each call setsid(), so a signal to
    the postmaster's process group misses them: a crash or a hang must reach every process by its id."""
    found, queue = [pid], [pid]
    while queue:
        parent = queue.pop(0)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                queue += children
    return found


def signal_tree(server: Server, sig: signal.Signals) -> None:
    """``sig`` to every process of ``server`` (its launcher, postmaster and backends), parents first so a
    stopped or killed parent forks nothing new meanwhile."""
    if server.proc is None:
        return
    for pid in process_tree(server.proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def crash(server: Server) -> None:
    """A host failure for ``server``: every one of its processes killed at once, connections reset."""
    if server.proc is not None and server.proc.poll() is None:
        signal_tree(server, signal.SIGKILL)
        server.proc.wait(10)


def _redis_client(port: int, password: str, timeout: float = 1.0) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=timeout, decode_responses=True)


def _wait_for(check: Any, what: str, timeout: float = 30.0, pause: float = 0.1) -> None:
    """Poll ``check()`` until it returns true; raise RuntimeError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as err:  # a server still starting answers with all sorts of errors
            last = err
        time.sleep(pause)
    raise RuntimeError(f"{what} not ready in {timeout} s (last error: {last})")


def _ms(seconds: float) -> str:
    """A duration as HAProxy reads it."""
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass
class Instance:
    """One service instance (``python -m app``) in a zone."""

    zone: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """A crash: the process and anything it started, at once."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, grace_s: float) -> None:
        """What the Auto Scaling group does after deregistration: SIGTERM, then SIGKILL after ``grace_s``."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """The lab's servers plus a Redis replica, sentinels, three instances, HAProxy and the promotion agent."""

    root: Path
    health: TargetHealth
    agent_timing: AgentTiming = field(default_factory=AgentTiming)
    sentinel_down_after_ms: int = 1500
    app_root: Path = REPO
    """Where the instances import ``app`` from: this tree, or an export of another version (before/after)."""
    lab: Lab = field(init=False)
    replica: Server = field(init=False)
    sentinels: dict[str, Server] = field(init=False)
    instances: dict[str, Instance] = field(init=False)
    haproxy: Server = field(init=False)
    redis_endpoint_port: int = field(init=False)
    agent: PromotionAgent = field(init=False)

    def __post_init__(self) -> None:
        self.lab = Lab(self.root / "servers")
        self.replica = Server("redis-replica", free_port())
        self.sentinels = {z: Server(f"sentinel-{z}", free_port()) for z in ZONES}
        self.instances = {z: Instance(z, free_port()) for z in ZONES}
        self.haproxy = Server("haproxy", free_port())
        self.redis_endpoint_port = free_port()
        self.agent = PromotionAgent(self.lab, self.agent_timing)
        self._logs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        """The load balancer's address: what a user (and Locust) sends requests to."""
        return f"http://127.0.0.1:{self.haproxy.port}"

    # -- start ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Everything, in dependency order; returns once every health check has passed."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.lab.start_database()
        self._tune_standby()
        self.lab.start_redis()
        self._start_replica()
        for zone in ZONES:
            self._start_sentinel(zone)
        self._start_haproxy()
        for instance in self.instances.values():
            self._start_instance(instance)
        for instance in self.instances.values():
            wait_until_answering(f"http://127.0.0.1:{instance.port}{self.health.path}", timeout=60)
        self.agent.start()
        self._wait_for_sentinels()
        timeout = 20 + self.health.healthy_threshold * (self.health.interval_s + self.health.timeout_s)
        _wait_for(lambda: self.servers_up("app") == set(ZONES), "HAProxy's health checks of the instances", timeout)
        _wait_for(lambda: self.servers_up("redis") == {"a"}, "the Redis primary endpoint")

    def _tune_standby(self) -> None:
        """The standby retries its WAL source every 0.5 s instead of PostgreSQL's 5 s: one short drill saw a
        promotion wait 5 s behind that retry after the primary vanished, which RDS's own agent would not."""
        dsn = self.lab.dsn(self.lab.standby, user="postgres", dbname="postgres")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET wal_retrieve_retry_interval = '500ms'")
            conn.execute("SELECT pg_reload_conf()")

    def _log(self, name: str) -> IO[bytes]:
        handle = (self.root / f"{name}.log").open("ab")
        self._logs.append(handle)
        return handle

    def _spawn(
        self, server: Server, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        server.proc = subprocess.Popen(
            command,
            stdout=self._log(server.name),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )

    def _start_replica(self) -> None:
        password = self.lab.redis_password
        primary = _redis_client(self.lab.redis.port, password)
        primary.config_set("repl-diskless-sync-delay", 0)  # sync the replica now, not after the default 5 s
        command = ["redis-server", "--port", str(self.replica.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--requirepass", password, "--masterauth", password]
        command += ["--dir", str(self.root), "--replicaof", "127.0.0.1", str(self.lab.redis.port)]
        self._spawn(self.replica, command)
        client = _redis_client(self.replica.port, password)
        _wait_for(lambda: client.info("replication").get("master_link_status") == "up", "the Redis replica")

    def _start_sentinel(self, zone: str) -> None:
        """A sentinel per zone, quorum 2: a zone's loss leaves two that agree and can fail over."""
        server = self.sentinels[zone]
        conf = self.root / f"sentinel-{zone}.conf"  # sentinels rewrite their config: one writable file each
        conf.write_text(
            f"port {server.port}\nbind 127.0.0.1\ndir {self.root}\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.lab.redis.port} 2\n"
            f"sentinel auth-pass {SENTINEL_MASTER} {self.lab.redis_password}\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} {self.sentinel_down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
            f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
        )
        self._spawn(server, ["redis-server", str(conf), "--sentinel"])

    def _wait_for_sentinels(self) -> None:
        """Sentinels find each other through the primary's hello channel (~2 s each): wait until all do."""

        def all_acquainted() -> bool:
            for server in self.sentinels.values():
                client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1, decode_responses=True)
                master = client.sentinel_master(SENTINEL_MASTER)
                if not isinstance(master, dict):
                    return False
                if int(master["num-other-sentinels"]) < len(ZONES) - 1 or int(master["num-slaves"]) < 1:
                    return False
            return True

        _wait_for(all_acquainted, "the sentinels", timeout=30, pause=0.25)

    def redis_primary_port(self) -> int:
        """The primary's port as the sentinels of the surviving zones report it."""
        for zone in ZONES:
            server = self.sentinels[zone]
            if server.proc is None or server.proc.poll() is not None:
                continue
            client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1, decode_responses=True)
            with contextlib.suppress(redis.RedisError):
                address = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
                if isinstance(address, tuple):
                    return int(address[1])
        raise RuntimeError("no sentinel answered")

    def _haproxy_config(self) -> str:
        h = self.health
        errors = self._error_files()
        app_servers = "\n".join(f"    server {i.zone} 127.0.0.1:{i.port} check" for i in self.instances.values())
        password = self.lab.redis_password
        return f"""
global
    maxconn 4096
    stats socket {self.root / "haproxy.sock"} mode 600 level admin
    log stdout format raw local0 notice

defaults
    log global
    timeout connect 10s
    timeout client 60s
    timeout server 60s
    timeout check {_ms(h.timeout_s)}
    retries 0
    errorfile 502 {errors[502]}
    errorfile 503 {errors[503]}
    errorfile 504 {errors[504]}

frontend web
    mode http
    bind 127.0.0.1:{self.haproxy.port}
    default_backend app

backend app
    mode http
    balance roundrobin
    option httpchk GET {h.path}
    http-check expect status 200
    default-server inter {_ms(h.interval_s)} fall {h.unhealthy_threshold} rise {h.healthy_threshold}
{app_servers}

frontend redis
    mode tcp
    bind 127.0.0.1:{self.redis_endpoint_port}
    timeout client 1h
    default_backend redis

backend redis
    mode tcp
    timeout server 1h
    option tcp-check
    tcp-check connect
    tcp-check send AUTH\\ {password}\\r\\n
    tcp-check expect string +OK
    tcp-check send info\\ replication\\r\\n
    tcp-check expect string role:master
    tcp-check send QUIT\\r\\n
    tcp-check expect string +OK
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
    server a 127.0.0.1:{self.lab.redis.port} check
    server b 127.0.0.1:{self.replica.port} check
"""

    def _error_files(self) -> dict[int, Path]:
        """The load balancer's own error pages carry ``x-lb-error`` so a drill can tell them from the service's."""
        files = {}
        reasons = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        for status, reason in reasons.items():
            body = f'{{"error": "load balancer: {reason.lower()}"}}'
            path = self.root / f"lb-{status}.http"
            path.write_text(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nx-lb-error: {status}\r\n"
                f"cache-control: no-cache\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n{body}"
            )
            files[status] = path
        return files

    def _start_haproxy(self) -> None:
        conf = self.root / "haproxy.cfg"
        conf.write_text(self._haproxy_config())
        subprocess.run(["haproxy", "-c", "-q", "-f", str(conf)], check=True, capture_output=True)
        self._spawn(self.haproxy, ["haproxy", "-W", "-db", "-f", str(conf)])
        _wait_for(lambda: self._haproxy_command("show info"), "HAProxy's admin socket")

    def _start_instance(self, instance: Instance) -> None:
        env = self.lab.service_env(
            instance.port,
            HA_REDIS_HOST="127.0.0.1",
            HA_REDIS_PORT=str(self.redis_endpoint_port),
            HA_SHUTDOWN_GRACE_SECONDS=str(max(1, round(self.health.deregistration_delay_s))),
            PYTHONPATH=str(self.app_root),
        )
        server = Server(f"instance-{instance.zone}", instance.port)
        self._spawn(server, self.lab.service_command(), env, cwd=self.app_root)
        instance.proc = server.proc

    # -- the load balancer's admin API -------------------------------------------------------------------
    def _haproxy_command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.root / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _server_states(self, backend: str) -> dict[str, tuple[str, str]]:
        """Server -> (status, last check) from HAProxy's stats: status UP, ``UP 1/3`` (failing, still routed),
        DOWN, DRAIN or MAINT; the check L7OK, L4CON... (a leading ``* `` means a check is running: dropped)."""
        states = {}
        for line in self._haproxy_command("show stat").splitlines():
            cols = line.split(",")
            if len(cols) > 37 and cols[0] == backend and cols[1] not in ("FRONTEND", "BACKEND"):
                states[cols[1]] = (cols[17], cols[36].removeprefix("* "))
        return states

    def servers_up(self, backend: str) -> set[str]:
        """Servers of ``backend`` fully UP after a passed check (HAProxy says UP before its first check)."""
        passed = ("L7OK", "L4OK", "L6OK")
        states = self._server_states(backend).items()
        return {name for name, (status, check) in states if status == "UP" and check in passed}

    def servers_routed(self, backend: str) -> set[str]:
        """Servers that still get new requests: UP, including UP with failed checks below the threshold."""
        return {name for name, (status, _) in self._server_states(backend).items() if status.startswith("UP")}

    def set_state(self, zone: str, state: str) -> None:
        """``drain`` (no new requests: a deregistration), ``maint`` (out) or ``ready`` (registered)."""
        reply = self._haproxy_command(f"set server app/{zone} state {state}").strip()
        if reply:
            raise RuntimeError(f"HAProxy refused `set server app/{zone} state {state}`: {reply}")

    # -- faults ------------------------------------------------------------------------------------------
    def deregister(self, zone: str) -> None:
        """As ELB deregistration + Auto Scaling termination: no new requests now, in-flight ones finish within
        the deregistration delay, then the instance is terminated (SIGTERM: the service drains and exits)."""
        self.set_state(zone, "drain")
        time.sleep(self.health.deregistration_delay_s)
        self.set_state(zone, "maint")
        self.instances[zone].terminate(grace_s=self.health.deregistration_delay_s + 10)

    def stop_sentinel(self, zone: str) -> None:
        self.sentinels[zone].kill()

    # -- stop --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Every process by its id, the newest first; then the lab's servers."""
        self.agent.stop()
        self.haproxy.stop()  # first: its idle keep-alive connections would hold each instance's graceful drain
        for instance in self.instances.values():  # all at once: each drains for up to its grace period
            if instance.proc and instance.proc.poll() is None:
                os.killpg(instance.proc.pid, signal.SIGTERM)
        for instance in self.instances.values():
            instance.terminate(grace_s=5)
        for server in (*self.sentinels.values(), self.replica):
            server.stop()
        for server in (self.lab.primary, self.lab.standby, self.lab.redis):
            signal_tree(server, signal.SIGCONT)  # a hang drill may have left one stopped
        self.lab.stop()
        for handle in self._logs:
            handle.close()

    def describe(self) -> str:
        """Where everything is, one line each."""
        lines = [f"load balancer (the ALB): {self.url}   admin socket {self.root / 'haproxy.sock'}"]
        lines += [f"  instance {i.zone}: http://127.0.0.1:{i.port}" for i in self.instances.values()]
        lines.append(f"PostgreSQL primary (zone a) :{self.lab.primary.port}, standby (zone b) :{self.lab.standby.port}")
        lines.append(f"  promotion agent: {self.agent_timing}")
        lines.append(f"Redis primary endpoint (follows the primary): 127.0.0.1:{self.redis_endpoint_port}")
        lines.append(f"  Redis primary (zone a) :{self.lab.redis.port}, replica (zone b) :{self.replica.port}")
        lines.append("  sentinels: " + ", ".join(f"{z} :{s.port}" for z, s in self.sentinels.items()))
        lines.append(f"health check: {self.health}")
        lines.append(f"logs: {self.root}")
        return "\n".join(lines)


@contextlib.contextmanager
def running_cluster(
    health: TargetHealth, agent_timing: AgentTiming | None = None, app_root: Path = REPO
) -> Iterator[Cluster]:
    """A started cluster in a fresh temporary directory; every process stopped and the files removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="ha-stack-cluster-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root, health, agent_timing or AgentTiming(), app_root=app_root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C."""
    raise KeyboardInterrupt


def main() -> int:
    """``make lab``: the cluster with the prod stack's target group settings, until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background, where SIGINT is ignored
    print("reading the prod stack's target group (the program under the mock cloud)...", flush=True)
    health = stack_target_health("prod")
    try:
        with running_cluster(health) as cluster:
            print(cluster.describe())
            print(f"try: curl {cluster.url}/products/1   (Ctrl-C stops everything)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def fetch(url: str, timeout: float = 2.0) -> int:
    """The status of a GET (0 when no answer): a helper for quick checks of the lab."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
