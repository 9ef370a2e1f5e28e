"""The failure drills: each under Locust's load, on a fresh cluster, with the fault injected at a known time.

``python -m drills.run`` (``make drill``) runs the full set with the prod stack's target group settings and
writes docs/resilience.md and one timeline plot per drill; ``--short`` runs the compressed version the tests
use. Every drill starts its own cluster (a fault leaves it changed) and stops every process it started.
"""

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from drills.figures import Figures, Request, compute, read_record
from lab.cluster import (
    ZONES,
    AgentTiming,
    Cluster,
    TargetHealth,
    crash,
    running_cluster,
    signal_tree,
    stack_target_health,
)
from lab.servers import DB_NAME

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SCARCE_PRODUCTS = {1: 150, 2: 150, 3: 150}
"""The most popular products start with little stock, so orders compete for the last units during the fault."""


@dataclass(frozen=True)
class Profile:
    """How long and how hard: the full set, or the short one the tests run."""

    name: str
    users: int
    warmup_s: float
    """Load before the fault (the baseline)."""
    after_s: float
    """Load after the fault is injected."""
    window_s: float
    """What counts as *during* the fault, from its injection."""
    hang_s: float
    health: TargetHealth


def full_profile(health: TargetHealth) -> Profile:
    """The stack's real target group (15 s checks): a refused connection fails a check at once, so a crash is
    seen after 2-3 intervals (30-45 s); a drain takes the deregistration delay. 75 s after the fault covers both."""
    after = max(75.0, health.deregistration_delay_s + 30)
    return Profile("full", users=24, warmup_s=15, after_s=after, window_s=20, hang_s=10, health=health)


SHORT_HEALTH = TargetHealth("/health", 1.5, 1.0, 2, 3, 3.0)
"""The target group's check with time compressed tenfold (15 s -> 1.5 s, deregistration 30 s -> 3 s); the
check's timeout only to 1 s (not 0.5 s), which a loaded 2-core machine needs."""


def short_profile() -> Profile:
    return Profile("short", users=10, warmup_s=2.5, after_s=9, window_s=6, hang_s=10, health=SHORT_HEALTH)


Inject = Callable[[Cluster, Profile], None]


@dataclass(frozen=True)
class Drill:
    """One fault: its name (also the plot's file name), what it stands for in AWS, and how it is injected."""

    name: str
    title: str
    aws: str
    inject: Inject
    health: Callable[[TargetHealth], TargetHealth] | None = None
    """Another target group check for this drill (the before/after of a settings change)."""
    short: bool = True
    """Part of the short set the tests run."""
    agent: AgentTiming | None = None
    """Another promotion agent for this drill (default: AgentTiming())."""


def _deregister(cluster: Cluster, _: Profile) -> None:
    cluster.deregister("a")


def _crash_instance(cluster: Cluster, _: Profile) -> None:
    cluster.instances["a"].kill()


def _kill_db_primary(cluster: Cluster, _: Profile) -> None:
    crash(cluster.lab.primary)


def _kill_redis_primary(cluster: Cluster, _: Profile) -> None:
    crash(cluster.lab.redis)


def _lose_zone_a(cluster: Cluster, _: Profile) -> None:
    """Everything in zone a at once: its instance, the database and Redis primaries, its sentinel."""
    cluster.instances["a"].kill()
    crash(cluster.lab.primary)
    crash(cluster.lab.redis)
    cluster.stop_sentinel("a")


def _hang_db_primary(cluster: Cluster, profile: Profile) -> None:
    """SIGSTOP the primary (postmaster and backends) for ``hang_s``: alive to TCP, answering nothing."""
    signal_tree(cluster.lab.primary, signal.SIGSTOP)
    time.sleep(profile.hang_s)
    signal_tree(cluster.lab.primary, signal.SIGCONT)  # a no-op when the promotion agent fenced it meanwhile


def _freeze_db_primary(cluster: Cluster, _: Profile) -> None:
    """SIGSTOP the primary for the rest of the drill: a host that vanished without resetting connections."""
    signal_tree(cluster.lab.primary, signal.SIGSTOP)


def _previous_check(health: TargetHealth) -> TargetHealth:
    """The check ha-stack used before the drills (15 s interval, 3 failures), scaled like the profile: the before
    of the before/after that set the target group to the ALB's fastest check (5 s, 2 failures)."""
    scale = health.interval_s / 5.0
    return replace(health, interval_s=15.0 * scale, unhealthy_threshold=3)


DRILLS = (
    Drill("deregister", "Deregister an instance (graceful drain)", "seed 000: an instance deregistered from the "
          "target group, then terminated by the Auto Scaling group", _deregister),
    Drill("instance-crash", "Kill an instance (crash)", "seed 001: an EC2 instance terminated; the ALB must route "
          "around it", _crash_instance),
    Drill("instance-crash-slow-check", "Kill an instance, the check used before (15 s, 3 failures)",
          "the same crash with the target group's earlier, slower check", _crash_instance,
          health=_previous_check, short=False),
    Drill("db-primary-kill", "Kill the database primary (failover to the standby)", "seed 000/001: Multi-AZ or "
          "Aurora failover to the standby in another AZ", _kill_db_primary),
    Drill("redis-primary-kill", "Kill the Redis primary (sentinel failover)", "ElastiCache automatic failover "
          "to the replica in another AZ", _kill_redis_primary),
    Drill("zone-loss", "Lose zone a (instance, database and Redis primaries, sentinel)", "an Availability Zone "
          "outage", _lose_zone_a),
    Drill("db-primary-hang", "Hang the database primary (SIGSTOP, not a crash)", "a primary that stops "
          "answering without closing its connections (storage or host stall)", _hang_db_primary),
    Drill("db-primary-unreachable", "Database primary unreachable, not fenced (promoted, old connections "
          "left open)", "an RDS/Aurora failover as the service sees it: the endpoint moves to the standby, "
          "nothing resets connections to the failed host", _freeze_db_primary, short=False,
          agent=AgentTiming(fence=False)),
)  # fmt: skip


@dataclass
class Outcome:
    """One drill's figures plus what the plot needs."""

    drill: Drill
    figures: Figures
    requests: list[Request]
    fault: float
    health: TargetHealth
    fault_span_s: float = 0.0
    notes: list[str] = field(default_factory=list)


class Watcher:
    """Samples the lab every 0.1 s from a thread and notes when things change, in seconds after the fault."""

    def __init__(self, cluster: Cluster, fault: float) -> None:
        self.cluster, self.fault = cluster, fault
        self.events: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-watcher", daemon=True)

    def __enter__(self) -> "Watcher":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _note(self, event: str) -> None:
        self.events.setdefault(event, round(time.time() - self.fault, 2))

    def _run(self) -> None:
        redis_primary = self.cluster.lab.redis.port
        while not self._stop.wait(0.1):
            if time.time() < self.fault:
                continue
            with contextlib.suppress(Exception):
                up = self.cluster.servers_routed("app")
                for zone in set(ZONES) - up:
                    self._note(f"load balancer stops routing to instance {zone}")
                if self.cluster.redis_primary_port() != redis_primary:
                    self._note("sentinels promote the Redis replica")
                if self.cluster.servers_routed("redis") == {"b"}:
                    self._note("Redis endpoint follows to the new primary")
            failover = self.cluster.agent.failover
            if failover is not None:
                self._note("promotion agent detects the failed primary")
                self.events["promotion agent detects the failed primary"] = round(failover.detected_at - self.fault, 2)
                self.events["standby promoted, takes writes"] = round(failover.promoted_at - self.fault, 2)


def _seed(cluster: Cluster) -> dict[int, int]:
    """Scarce stock on the popular products; returns every product's stock before the load."""
    with psycopg.connect(cluster.lab.dsn(cluster.lab.primary, user="postgres"), autocommit=True) as conn:
        for product, stock in SCARCE_PRODUCTS.items():
            conn.execute("UPDATE products SET stock = %s WHERE id = %s", (stock, product))
        return {int(i): int(s) for i, s in conn.execute("SELECT id, stock FROM products").fetchall()}


def _check_data(cluster: Cluster, initial: dict[int, int], requests: list[Request]) -> tuple[int, int, int]:
    """(acknowledged orders missing, products sold beyond their stock, products whose stock does not add up),
    read on whichever node takes writes now."""
    acknowledged = sorted({r.key for r in requests if r.acknowledged_order})
    writer = cluster.agent.writer
    with psycopg.connect(cluster.lab.dsn(writer, user="postgres", dbname=DB_NAME), connect_timeout=5) as conn:
        found = {
            row[0]
            for row in conn.execute(
                "SELECT idempotency_key FROM orders WHERE idempotency_key = ANY(%s)", (acknowledged,)
            ).fetchall()
        }
        query = "SELECT product_id, sum(quantity) FROM order_items GROUP BY product_id"
        sold = {int(p): int(n) for p, n in conn.execute(query).fetchall()}
        stock = {int(p): int(n) for p, n in conn.execute("SELECT id, stock FROM products").fetchall()}
    oversold = sum(1 for p, n in sold.items() if n > initial.get(p, 0))
    mismatches = sum(1 for p, n in stock.items() if n != initial.get(p, 0) - sold.get(p, 0))
    return len(set(acknowledged) - found), oversold, mismatches


def _locust(cluster: Cluster, profile: Profile, record: Path, log: Path) -> subprocess.Popen[bytes]:
    run_time = round(profile.warmup_s + profile.after_s)
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
    command += ["-u", str(profile.users), "-r", str(profile.users), "-t", f"{run_time}s", "--stop-timeout", "2"]
    command += ["--host", cluster.url, "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = {**os.environ, "DRILL_RECORD": str(record), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
    )


def run_drill(drill: Drill, profile: Profile, app_root: Path = REPO) -> Outcome:
    """Start a cluster, load it, inject the fault after the warm-up, check the data, stop everything."""
    health = drill.health(profile.health) if drill.health else profile.health
    agent = drill.agent
    scratch = Path(tempfile.mkdtemp(prefix=f"ha-stack-drill-{drill.name}-"))
    record = scratch / "requests.csv"
    with running_cluster(health, agent, app_root) as cluster:
        initial = _seed(cluster)
        locust = _locust(cluster, profile, record, scratch / "locust.log")
        try:
            fault = time.time() + profile.warmup_s + 1  # Locust needs about a second to start its users
            time.sleep(max(0.0, fault - time.time()))
            with Watcher(cluster, fault) as watcher:
                injector = threading.Thread(target=drill.inject, args=(cluster, profile), name=drill.name)
                injector.start()
                locust.wait(profile.warmup_s + profile.after_s + 30)
                injector.join(60)
        finally:
            if locust.poll() is None:
                os.killpg(locust.pid, signal.SIGKILL)
                locust.wait(10)
        if cluster.agent.error:
            raise RuntimeError(f"drill {drill.name}: {cluster.agent.error}")
        requests = read_record(record)
        lost, oversold, mismatches = _check_data(cluster, initial, requests)
    figures = compute(drill.name, requests, fault, profile.window_s, lost, oversold, mismatches, watcher.events)
    spans = {"deregister": health.deregistration_delay_s, "db-primary-hang": profile.hang_s}
    span = spans.get(drill.name, profile.after_s if drill.inject is _freeze_db_primary else 0.0)
    return Outcome(drill, figures, requests, fault, health, fault_span_s=span)


def main(argv: list[str] | None = None) -> int:
    """Run the drills (all, or those named) and write the report and plots."""
    from drills.report import write_report  # noqa: PLC0415 (matplotlib only when a report is written)

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="the compressed set the tests run")
    parser.add_argument("--only", nargs="*", default=[], help="drill names (default: every drill)")
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="where resilience.md and plots go")
    parser.add_argument("--app-root", type=Path, default=REPO, help="run the service from this tree (before/after)")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM and Ctrl-C unwind: every cluster is stopped
    signal.signal(signal.SIGINT, _interrupt)
    profile = short_profile() if options.short else full_profile(stack_target_health("prod"))
    chosen = [d for d in DRILLS if (not options.only or d.name in options.only) and (d.short or not options.short)]
    started = time.time()
    outcomes = []
    for drill in chosen:
        print(f"drill {drill.name} ({profile.name})...", flush=True)
        try:
            outcome = run_drill(drill, profile, options.app_root)
        except (RuntimeError, OSError, psycopg.Error, subprocess.SubprocessError) as err:
            print(f"  drill {drill.name} could not run: {err}", flush=True)  # the report then lacks it: tests fail
            continue
        f = outcome.figures
        print(
            f"  {f.requests} requests, {f.failed} failed {f.failed_by_status}, writes back after "
            f"{f.writes_back_s:.2f} s, lost {f.acknowledged_lost}, oversold {f.oversold_products}",
            flush=True,
        )
        outcomes.append(outcome)
    command = "make drill" if not options.short else "python -m drills.run --short"
    machine = f"{_machine()}; service at commit {_commit(options.app_root)}"
    write_report(outcomes, profile, options.docs, command=command, machine=machine, took_s=time.time() - started)
    print(f"wrote {options.docs / 'resilience.md'}")
    return 0


def _commit(root: Path) -> str:
    """The commit the service's code comes from (``+changes`` when app/ differs from it)."""
    if not (root / ".git").exists():
        return f"(exported tree {root})"
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "app"], check=False).returncode
    return head.stdout.strip() + (" +uncommitted changes in app/" if dirty else "")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    sys.exit(main())
