"""The failure drills: the short set on the local replica of the architecture, and the published report.

Each short drill starts its own cluster (HAProxy, three service instances, PostgreSQL primary + standby with
the promotion agent, Redis primary + replica + sentinels), loads it with Locust, injects its fault, and
stops every process it started. The assertions are the ones a user cares about: no acknowledged order lost,
no product sold beyond its stock, no error from a cache loss, and the service back within a stated bound.
"""

import math
import re
import shutil
from pathlib import Path

import pytest

from drills.figures import Request, compute, percentile, writes_back_after
from drills.run import DRILLS, SHORT_HEALTH, Drill, Outcome, run_drill, short_profile
from lab.cluster import AgentTiming
from lab.servers import postgres_bin

DOCS = Path(__file__).resolve().parent.parent / "docs"
SLACK_S = 2.5
"""Margin on every recovery bound for a 2-core machine shared with the load generator."""


def _order(start: float, latency_ms: float, status: int, key: str = "k") -> Request:
    return Request(start, latency_ms, "/orders", status, from_lb=False, key=key)


def test_writes_come_back_at_the_first_order_that_succeeds_after_the_last_failure() -> None:
    requests = [
        _order(99.0, 5, 201),  # before the fault: ignored
        _order(100.1, 2000, 503),  # failed after waiting 2 s
        _order(100.5, 3000, 201),  # started before the last failure, ended at 103.5
        _order(101.0, 50, 0),  # the last failure: no answer
        _order(101.2, 500, 201),  # the first success after it: ends at 101.7
    ]
    assert writes_back_after(requests, fault=100.0) == pytest.approx(1.7)


def test_a_stall_without_errors_still_counts_until_the_first_order_completes() -> None:
    assert writes_back_after([_order(100.2, 2800, 201), _order(102.5, 600, 201)], 100.0) == pytest.approx(3.0)
    assert writes_back_after([_order(100.2, 10, 503)], 100.0) == math.inf


def test_figures_count_failures_by_origin_and_only_acknowledged_orders() -> None:
    requests = [
        Request(100.0, 5, "/products/{id}", 200, False),
        Request(100.2, 5, "/products/{id}", 502, True),
        Request(100.3, 5, "/products/{id}", 0, False),
        Request(101.4, 5, "/orders", 503, False, "k1"),
        Request(101.6, 5, "/orders", 201, False, "k1"),
        Request(101.7, 5, "/orders", 409, False, "k2"),
        Request(101.8, 5, "/orders", 422, False, "k3"),
    ]
    f = compute("x", requests, 100.0, 1.0, lost=0, oversold=0, mismatches=0, events={})
    assert f.failed_by_status == {"502 lb": 1, "503": 1, "no answer": 1}
    assert f.acknowledged_orders == 1
    assert f.unexpected_4xx == 1
    assert f.cache_5xx == 1
    assert f.seconds_with_errors == 2
    assert percentile([1, 2, 3, 4, 100], 99) == 100
    assert percentile([], 50) == 0.0


def test_the_report_names_every_drill_with_its_figures_and_plot() -> None:
    report = (DOCS / "resilience.md").read_text()
    assert "make drill" in report
    for drill in DRILLS:
        row = re.search(rf"^\| `{re.escape(drill.name)}` \|(.*)$", report, re.MULTILINE)
        assert row, f"docs/resilience.md has no figures for drill {drill.name}"
        assert "/ **0** |" in row.group(1), f"{drill.name}: an acknowledged order was lost: {row.group(0)}"
        assert f"(resilience-{drill.name}.png)" in report
        assert (DOCS / f"resilience-{drill.name}.png").stat().st_size > 10_000


SHORT = [d for d in DRILLS if d.short]
AGENT = AgentTiming()
LB_CRASH_BOUND_S = SHORT_HEALTH.interval_s * (SHORT_HEALTH.unhealthy_threshold + 1) + SLACK_S
"""A refused connection fails each check at once: the target is out within one interval plus
``unhealthy_threshold`` more (4.5 s at the short scale; 45-60 s with the stack's 15 s checks)."""
DB_CRASH_BOUND_S = AGENT.check_interval_s * (AGENT.failures + 1) + SLACK_S
"""A dead primary refuses at once: promoted after ``failures`` checks, ~1 s apart."""
DB_HANG_BOUND_S = AGENT.detection_bound_s() + SLACK_S
"""A hung primary makes each check wait out its 2 s timeout before it counts as failed."""


def _bounds(drill: Drill) -> tuple[float, float]:
    """(errors must end by, writes must be back by), seconds after the fault."""
    return {
        "deregister": (0.0, SLACK_S),
        "instance-crash": (LB_CRASH_BOUND_S, LB_CRASH_BOUND_S),  # the orders sent to it fail until then too
        "db-primary-kill": (DB_CRASH_BOUND_S, DB_CRASH_BOUND_S),
        "redis-primary-kill": (0.0, SLACK_S),
        "zone-loss": (max(LB_CRASH_BOUND_S, DB_CRASH_BOUND_S), max(LB_CRASH_BOUND_S, DB_CRASH_BOUND_S)),
        "db-primary-hang": (DB_HANG_BOUND_S, DB_HANG_BOUND_S),
    }[drill.name]


@pytest.fixture(scope="module")
def servers_installed() -> None:
    postgres_bin()
    for tool in ("haproxy", "redis-server"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run `make servers`")


@pytest.mark.servers
@pytest.mark.parametrize("drill", SHORT, ids=[d.name for d in SHORT])
def test_short_drill_loses_no_order_oversells_nothing_and_recovers_in_bound(
    drill: Drill, servers_installed: None
) -> None:
    outcome: Outcome = run_drill(drill, short_profile())
    f = outcome.figures
    summary = f"{drill.name}: {f}"
    assert f.requests > 100, summary
    assert f.acknowledged_orders > 10, summary
    assert f.acknowledged_lost == 0, summary
    assert f.oversold_products == 0, summary
    assert f.stock_mismatches == 0, summary
    assert f.unexpected_4xx == 0, summary
    errors_by, writes_by = _bounds(drill)
    assert f.errors_end_s <= errors_by, summary
    assert f.writes_back_s <= writes_by, summary
    if drill.name == "redis-primary-kill":
        assert f.failed == 0, summary
        assert f.cache_5xx == 0, summary
    if drill.name in ("db-primary-kill", "zone-loss", "db-primary-hang"):
        assert "standby promoted, takes writes" in f.events, summary
