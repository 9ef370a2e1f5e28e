"""docs/resilience.md and one timeline plot per drill, from the drills' outcomes."""

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from drills.figures import timeline
from lab.cluster import AgentTiming

if TYPE_CHECKING:
    from drills.run import Outcome, Profile

MEANING = {
    "deregister": "A planned replacement (deploy, scale-in, instance refresh). Users should see nothing: the ALB "
    "stops new requests at once and the instance drains within the deregistration delay.",
    "instance-crash": "An instance dies abruptly. The ALB keeps sending it requests until its health check has "
    "failed `unhealthy_threshold` times, and it does not retry a failed request on another target: each of "
    "those requests is a 502 for the user (a 504 after 10 s when the host is gone rather than refusing).",
    "instance-crash-slow-check": "The same crash with the target group's earlier check (15 s interval, 3 "
    "failures): the before of the before/after that moved the check to the ALB's minimum (5 s, 2 failures).",
    "db-primary-kill": "The writer's host fails. The service retries idempotent work (reads, orders by key) "
    "across the failover; on AWS the failover itself takes ~30 s (Aurora) to 60-120 s (RDS Multi-AZ) instead "
    "of the local agent's few seconds, and orders that outlive the service's 3 s request budget get a 503 "
    "with Retry-After that the client retries with the same key.",
    "redis-primary-kill": "ElastiCache fails over to the replica. The cache is optional: reads fall back to the "
    "database, so users see no errors, only the database's latency for a few seconds.",
    "zone-loss": "An Availability Zone goes dark: one instance, both primaries and a sentinel at once. The sum of "
    "the three recoveries above, overlapping.",
    "db-primary-unreachable": "What an RDS/Aurora failover looks like to the service's pooled connections: "
    "the endpoint now leads to the standby, but connections to the failed host are neither answered nor reset. "
    "Without a client-side timeout or TCP keepalive, requests on them wait for the kernel to give up on the "
    "connection.",
    "db-primary-hang": "The primary stops answering but its connections stay open (storage stall, frozen host). "
    "Without fencing, it would resume as a second writer; the agent kills it before promoting.",
}


def _plot(outcome: "Outcome", path: Path) -> None:
    """Requests per second (ok and failed) and p50/p99 latency per second, the fault and the lab's events marked."""
    seconds = timeline(outcome.requests, outcome.fault)
    xs = list(seconds)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(xs, [v[0] for v in seconds.values()], label="ok / s", color="tab:green")
    top.bar(xs, [v[1] for v in seconds.values()], label="failed / s", color="tab:red", width=0.9)
    top.set_ylabel("requests per second")
    bottom.plot(xs, [max(v[2], 0.1) for v in seconds.values()], label="p50", color="tab:blue")
    bottom.plot(xs, [max(v[3], 0.1) for v in seconds.values()], label="p99", color="tab:purple")
    bottom.set_yscale("log")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds after the fault")
    for axis in (top, bottom):
        axis.axvline(0, color="black", linestyle="--", linewidth=1)
        if outcome.fault_span_s:
            axis.axvspan(0, outcome.fault_span_s, color="orange", alpha=0.15)
        events = sorted(outcome.figures.events.items(), key=lambda kv: kv[1])
        for n, (event, at) in enumerate(events):
            axis.axvline(at, color="grey", linestyle=":", linewidth=1)
            if axis is top:  # staggered labels: events often come within a second of each other
                axis.text(at, 0.95 - 0.12 * n, f" {event}", transform=axis.get_xaxis_transform(), fontsize=7)
        axis.legend(loc="upper right", fontsize=7)
    top.set_title(f"{outcome.drill.title} (fault at 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _seconds(value: float) -> str:
    return "never" if not math.isfinite(value) else f"{value:.1f}"


def _row(outcome: "Outcome") -> str:
    f = outcome.figures
    failed = ", ".join(f"{k}: {v}" for k, v in f.failed_by_status.items()) or "none"
    return (
        f"| `{f.drill}` | {f.requests} | {f.failed} ({failed}) | {f.seconds_with_errors} | {_seconds(f.errors_end_s)} "
        f"| {_seconds(f.writes_back_s)} | {f.acknowledged_orders} / **{f.acknowledged_lost}** "
        f"| {f.oversold_products} / {f.stock_mismatches} | {f.before.p50_ms:.0f} / {f.before.p99_ms:.0f} "
        f"| {f.during.p50_ms:.0f} / {f.during.p99_ms:.0f} | {f.after.p50_ms:.0f} / {f.after.p99_ms:.0f} |"
    )


def write_report(
    outcomes: list["Outcome"], profile: "Profile", docs: Path, *, command: str, machine: str, took_s: float
) -> None:
    """Write resilience.md and resilience-<drill>.png into ``docs``."""
    docs.mkdir(parents=True, exist_ok=True)
    for outcome in outcomes:
        _plot(outcome, docs / f"resilience-{outcome.drill.name}.png")
    h, agent = profile.health, AgentTiming()
    lines = [
        "# Resilience: what each fault costs",
        "",
        "Generated by `" + command + "` (do not edit by hand): every drill runs on a fresh local replica of the "
        "architecture (`lab/cluster.py`, `make lab`) under Locust's load (`drills/locustfile.py`), with the "
        "fault injected at a known time. Machine: " + machine + f". Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{took_s / 60:.1f} min.",
        "",
        "## The replica",
        "",
        "| AWS | here |",
        "|---|---|",
        f"| ALB + target group | HAProxy, round robin over 3 instances, HTTP check `GET {h.path}` every "
        f"{h.interval_s:g} s (timeout {h.timeout_s:g} s), healthy after {h.healthy_threshold}, unhealthy after "
        f"{h.unhealthy_threshold}, deregistration delay {h.deregistration_delay_s:g} s, no retry of a failed "
        "request on another target |",
        "| 3 EC2 instances, one per AZ | 3 `python -m app` processes (zones a, b, c) |",
        "| RDS Multi-AZ / Aurora | PostgreSQL primary (zone a) + synchronous standby (zone b); a promotion agent "
        f"checks the primary every {agent.check_interval_s:g} s (timeout {agent.check_timeout_s:g} s), after "
        f"{agent.failures} failed checks in a row fences it (kills it) and promotes the standby |",
        "| ElastiCache primary endpoint | HAProxy TCP frontend that follows whichever Redis node says "
        "`role:master`; primary (zone a), replica (zone b), 3 sentinels (quorum 2, down-after 1.5 s) |",
        "",
        f"Load: {profile.users} Locust users (think time 0.1-0.4 s): 6 product views (Zipf popularity) : 3 catalog "
        "pages : 2 orders (idempotency key, retried with the same key after a 5xx or no answer, up to 4 "
        "attempts). The three most popular products start with 150 units, so orders compete for the last "
        f"units during the fault. Warm-up {profile.warmup_s:g} s, then {profile.after_s:g} s after the fault; "
        f"*during* is the first {profile.window_s:g} s after it.",
        "",
        "## Figures",
        "",
        "| drill | requests | failed (by status) | seconds with errors | errors end (s) | writes back (s) "
        "| acked orders / **lost** | oversold / stock mismatches | p50/p99 before (ms) | p50/p99 during (ms) "
        "| p50/p99 after (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[_row(o) for o in outcomes],
        "",
        "Columns: *failed* = no answer or a 5xx (`lb` = the load balancer answered, not the service); *errors "
        "end* = seconds from the fault to the end of the last failed request; *writes back* = seconds from the "
        "fault until orders succeed again; *lost* = orders the shop acknowledged (201/200) that are not in the "
        "database afterwards; *oversold* = products that sold more than their stock; *stock mismatches* = "
        "products whose stock is not their initial stock minus what committed orders took.",
        "",
        "## Each drill",
        "",
    ]
    after = [
        "## How the replica stands in for AWS, and where it had to assume",
        "",
        "- Health checks: the target group's own values, read from the prod stack's program under the mock "
        "cloud (`lab.cluster.stack_target_health`). The ALB marks a target unhealthy after "
        "`UnhealthyThresholdCount` failed checks `HealthCheckIntervalSeconds` apart, and a target group with "
        "only unhealthy targets fails open (AWS, *Health checks for Application Load Balancer target groups*). "
        "HAProxy's `inter`/`fall`/`rise`/`timeout check` are the same four numbers. Short drills (the tests) "
        "compress the interval and deregistration delay tenfold.",
        "- No retry on another target: assumed from the ALB's documented HTTP errors (the load balancer returns "
        "5xx itself when a target refuses or times out; *Troubleshoot your Application Load Balancers*). HAProxy "
        "runs with `retries 0` and answers 503 with `x-lb-error` where the ALB would answer 502 (connection "
        "refused) or 504 (host gone: the ALB waits out its 10 s connect timeout). A crashed process on a live host "
        "refuses at once; a terminated EC2 host does not answer at all, so on AWS each of those requests waits "
        "longer before failing.",
        "- Deregistration: HAProxy's `drain` state (no new requests, in-flight ones finish), then `maint` and "
        "SIGTERM after the deregistration delay, as the Auto Scaling group terminates a deregistered instance.",
        "- Database failover: the local agent's detection and promotion take seconds; AWS documents about 30 s "
        "(Aurora) and 60-120 s (RDS Multi-AZ). The service's retry budget (15 s) covers the first only; with RDS "
        "Multi-AZ, orders past it get a 503 with Retry-After and the client's retry with the same key completes "
        "them. The agent fences the old primary (kills every process of it) before promoting: without that, a "
        "hung primary resumes as a second writer.",
        "- Redis: the primary endpoint is HAProxy following `role:master` every 0.5 s; ElastiCache moves a DNS "
        "name instead, so clients that cache connections see the old primary until they reconnect.",
        "",
        "## The seeds' 10K-user test against a deployed stack",
        "",
        "The same locustfile, distributed over a few load machines (Locust needs about one core per ~1,000 "
        "users of this profile):",
        "",
        "```sh",
        "locust -f drills/locustfile.py --headless -u 10000 -r 100 -t 15m --processes -1 \\",
        "    --host https://<the stack's site URL> --csv seed-001",
        "```",
        "",
        "Run it from several source addresses or raise the WAF's rate-based rule for the test: the edge's WAF "
        "limits requests per client IP, so 10K users from one address are throttled by design. Orders it places "
        "are real: run it against a test stack.",
        "",
    ]
    for o in outcomes:
        events = "; ".join(f"{e} at {t:+.1f} s" for e, t in sorted(o.figures.events.items(), key=lambda kv: kv[1]))
        lines += [
            f"### `{o.drill.name}`: {o.drill.title}",
            "",
            f"Stands for: {o.drill.aws}. {MEANING.get(o.drill.name, '')}",
            "",
            f"Lab events: {events or 'none'}.",
            "",
            f"![{o.drill.name}](resilience-{o.drill.name}.png)",
            "",
        ]
    (docs / "resilience.md").write_text("\n".join(lines + after))
