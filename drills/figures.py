"""The figures of one drill, computed from Locust's per-request record and the database afterwards.

Pure functions over plain data, so they are tested without servers. Times are wall-clock seconds
(time.time()); a request *fails* when it got no answer (status 0) or a 5xx. A 409 (sold out) is an answer.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ORDERS = "/orders"


@dataclass(frozen=True)
class Request:
    """One request as Locust saw it."""

    start: float
    latency_ms: float
    name: str
    status: int
    from_lb: bool
    """The load balancer answered (its own error page), not the service."""
    key: str = ""
    """The idempotency key, for orders."""

    @property
    def end(self) -> float:
        return self.start + self.latency_ms / 1000

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def acknowledged_order(self) -> bool:
        """The shop told the user this order exists (201 created, or 200 for a replayed key)."""
        return self.name == ORDERS and self.status in (200, 201)


def read_record(path: Path) -> list[Request]:
    """Parse the CSV lines the locustfile writes (a half-written last line is skipped)."""
    requests = []
    for line in path.read_text().splitlines():
        parts = line.split(",")
        if len(parts) != 6:
            continue
        start, latency, name, status, from_lb, key = parts
        requests.append(Request(float(start), float(latency), name, int(status), from_lb == "1", key))
    return sorted(requests, key=lambda r: r.start)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def status_label(r: Request) -> str:
    """``503 lb`` when the load balancer answered, ``503`` from the service, ``no answer`` for status 0."""
    if r.status == 0:
        return "no answer"
    return f"{r.status} lb" if r.from_lb else str(r.status)


@dataclass(frozen=True)
class Window:
    """p50/p99 latency (ms) over the requests that started in a period."""

    requests: int
    p50_ms: float
    p99_ms: float


def window(requests: Iterable[Request], start: float, end: float) -> Window:
    latencies = [r.latency_ms for r in requests if start <= r.start < end]
    return Window(len(latencies), percentile(latencies, 50), percentile(latencies, 99))


def writes_back_after(requests: Sequence[Request], fault: float) -> float:
    """Seconds from the fault until orders succeed again: the earliest end of a successful order that started
    after the fault and after the last failed order. A stall without errors counts too (the orders that
    waited out a failover all end after it)."""
    orders = [r for r in requests if r.name == ORDERS and r.start >= fault]
    failed = [r.start for r in orders if r.failed]
    since = max(failed) if failed else fault
    later = [r for r in orders if not r.failed and r.start >= since]
    if not later:
        return math.inf
    return max(0.0, min(r.end for r in later) - fault)


@dataclass
class Figures:
    """What one drill cost, in the terms a user of the shop cares about."""

    drill: str
    requests: int
    failed: int
    failed_by_status: dict[str, int]
    unexpected_4xx: int
    """4xx other than 409 (sold out): the drill must not make the service refuse valid requests."""
    seconds_with_errors: int
    errors_end_s: float
    """Seconds from the fault to the end of the last failed request (0: none failed)."""
    writes_back_s: float
    acknowledged_orders: int
    acknowledged_lost: int
    oversold_products: int
    stock_mismatches: int
    """Products whose stock is not their initial stock minus what committed orders took."""
    before: Window
    during: Window
    after: Window
    events: dict[str, float] = field(default_factory=dict)
    """What the lab did, in seconds after the fault: instance marked down, sentinel failover, promotion..."""
    cache_5xx: int = 0
    """5xx answers to product views (the cache tier's reads)."""


def compute(  # noqa: PLR0917 (one call site, every argument named there)
    drill: str,
    requests: Sequence[Request],
    fault: float,
    window_s: float,
    lost: int,
    oversold: int,
    mismatches: int,
    events: dict[str, float],
) -> Figures:
    """The figures for ``requests`` around a fault injected at ``fault``; ``window_s`` is what counts as during."""
    failures = [r for r in requests if r.failed]
    return Figures(
        drill=drill,
        requests=len(requests),
        failed=len(failures),
        failed_by_status=dict(sorted(Counter(status_label(r) for r in failures).items())),
        unexpected_4xx=sum(1 for r in requests if 400 <= r.status < 500 and r.status != 409),
        seconds_with_errors=len({math.floor(r.start) for r in failures}),
        errors_end_s=max((r.end - fault for r in failures), default=0.0),
        writes_back_s=writes_back_after(requests, fault),
        acknowledged_orders=len({r.key for r in requests if r.acknowledged_order}),
        acknowledged_lost=lost,
        oversold_products=oversold,
        stock_mismatches=mismatches,
        before=window(requests, -math.inf, fault),
        during=window(requests, fault, fault + window_s),
        after=window(requests, fault + window_s, math.inf),
        events=events,
        cache_5xx=sum(1 for r in failures if r.name == "/products/{id}" and r.status >= 500),
    )


def timeline(requests: Sequence[Request], fault: float) -> dict[int, tuple[int, int, float, float]]:
    """Per second relative to the fault: (ok, failed, p50 ms, p99 ms) of the requests that started in it."""
    buckets: dict[int, list[Request]] = {}
    for r in requests:
        buckets.setdefault(math.floor(r.start - fault), []).append(r)
    result = {}
    for second, rs in sorted(buckets.items()):
        latencies = [r.latency_ms for r in rs]
        failed = sum(1 for r in rs if r.failed)
        result[second] = (len(rs) - failed, failed, percentile(latencies, 50), percentile(latencies, 99))
    return result
