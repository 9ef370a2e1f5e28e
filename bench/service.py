"""Service benchmark (not a test): requests/s and p50/p99 latency on this machine, against real servers.

Scenarios, each with 1 and 2 worker processes: cached product reads, uncached product reads (every
id read once, after a cache flush), order writes; then the share of product reads served from the
cache under a skewed (Zipf) workload. Writes docs/benchmark.md and docs/benchmark.json.

    make bench            # or: .venv/bin/python -m bench.service
"""

import asyncio
import bisect
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import psycopg
import redis

from lab.servers import REDIS_PASSWORD, Lab, free_port, running_lab

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
REQUESTS = 4000
CATALOG_SIZE = 20_000
ZIPF_EXPONENT, ZIPF_PRODUCTS = 1.1, 10_000
ZIPF_WARMUP, ZIPF_REQUESTS = 20_000, 20_000
"""The share is measured after a warm-up: a 1-hour TTL serves millions of reads an hour in production, so
the steady state, not the first touch of each product, is what the cache share describes."""

Request = tuple[str, str, dict[str, object] | None, dict[str, str]]  # method, path, json, headers


@dataclass
class Result:
    scenario: str
    workers: int
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cache_hit_share: float | None = None


async def _load(base: str, requests: list[Request]) -> tuple[list[float], list[int], list[str]]:
    """Send every request with CONCURRENCY in flight; return latencies, statuses and x-cache headers."""
    latencies: list[float] = []
    statuses: list[int] = []
    cache: list[str] = []
    queue = iter(requests)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def worker() -> None:
            for method, path, body, headers in queue:
                started = time.perf_counter()
                async with session.request(method, base + path, json=body, headers=headers) as response:
                    await response.read()
                    statuses.append(response.status)
                    cache.append(response.headers.get("x-cache", ""))
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
    return latencies, statuses, cache


def measure(name: str, workers: int, base: str, requests: list[Request], ok: int) -> Result:
    started = time.perf_counter()
    latencies, statuses, cache = asyncio.run(_load(base, requests))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    hits = sum(1 for c in cache if c == "hit")
    share = hits / len(cache) if any(cache) else None
    return Result(
        name,
        workers,
        len(requests),
        sum(1 for s in statuses if s != ok),
        round(len(requests) / elapsed, 1),
        round(q[49] * 1000, 2),
        round(q[98] * 1000, 2),
        round(share, 4) if share is not None else None,
    )


def zipf_sampler(n: int, s: float, rng: random.Random) -> Callable[[], int]:
    """Product ids 1..n with P(k) proportional to 1/k**s."""
    cdf = list(itertools.accumulate(1 / k**s for k in range(1, n + 1)))
    return lambda: bisect.bisect_left(cdf, rng.random() * cdf[-1]) + 1


def seed_catalog(lab: Lab) -> None:
    """Grow the demo catalog so uncached reads never repeat an id."""
    with psycopg.connect(lab.dsn(lab.primary)) as conn:
        conn.execute(
            "INSERT INTO products (name, price_cents, stock) SELECT 'Bench ' || n, 500, 1000000 "
            "FROM generate_series((SELECT count(*) FROM products) + 1, %s) AS n",
            (CATALOG_SIZE,),
        )


def start_service(lab: Lab, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return lab.start_service(port, workers=workers, wait_for="/ready"), f"http://127.0.0.1:{port}"


def run_all() -> list[Result]:
    results: list[Result] = []
    rng = random.Random(7)
    with running_lab() as lab:
        flush = redis.Redis(port=lab.redis.port, password=REDIS_PASSWORD).flushall
        for workers in (1, 2):
            proc, base = start_service(lab, workers)
            try:
                if workers == 1:
                    seed_catalog(lab)
                hot = [("GET", f"/products/{i}", None, {}) for i in range(1, 101)]
                asyncio.run(_load(base, hot))  # warm the cache
                results.append(
                    measure("cached product read", workers, base, [hot[i % 100] for i in range(REQUESTS)], 200)
                )
                flush()
                ids = rng.sample(range(1, CATALOG_SIZE + 1), REQUESTS)
                results.append(
                    measure(
                        "uncached product read", workers, base, [("GET", f"/products/{i}", None, {}) for i in ids], 200
                    )
                )
                orders: list[Request] = [
                    (
                        "POST",
                        "/orders",
                        {"items": [{"product_id": rng.randint(1001, CATALOG_SIZE), "quantity": 1}]},
                        {"idempotency-key": uuid.uuid4().hex},
                    )
                    for _ in range(REQUESTS)
                ]
                results.append(measure("order write", workers, base, orders, 201))
                if workers == 2:
                    flush()
                    pick = zipf_sampler(ZIPF_PRODUCTS, ZIPF_EXPONENT, rng)
                    asyncio.run(_load(base, [("GET", f"/products/{pick()}", None, {}) for _ in range(ZIPF_WARMUP)]))
                    results.append(
                        measure(
                            f"zipf(s={ZIPF_EXPONENT}) product read over {ZIPF_PRODUCTS} ids "
                            f"after {ZIPF_WARMUP} warm-up reads",
                            workers,
                            base,
                            [("GET", f"/products/{pick()}", None, {}) for _ in range(ZIPF_REQUESTS)],
                            200,
                        )
                    )
            finally:
                proc.terminate()
                proc.wait(30)
    return results


def write(results: list[Result]) -> None:
    machine = f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    js, md = ROOT / "docs" / "benchmark.json", ROOT / "docs" / "benchmark.md"
    kept = {k: v for k, v in json.loads(js.read_text()).items() if k == "cost_per_request"} if js.exists() else {}
    js.write_text(
        json.dumps(
            {"machine": machine, "concurrency": CONCURRENCY, "results": [asdict(r) for r in results], **kept},
            indent=2,
        )
        + "\n"
    )
    lines = [
        "# Service benchmark",
        "",
        f"Produced by `make bench` (`bench/service.py`) on {machine}; the load generator (aiohttp, "
        f"{CONCURRENCY} requests in flight) shares the cores with the service, PostgreSQL (primary + synchronous "
        "standby) and Redis, so these are lower bounds for a dedicated instance.",
        "",
        "| scenario | workers | requests | errors | req/s | p50 ms | p99 ms | served from cache |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        share = f"{r.cache_hit_share:.1%}" if r.cache_hit_share is not None else "-"
        lines.append(
            f"| {r.scenario} | {r.workers} | {r.requests} | {r.errors} | {r.requests_per_second} | "
            f"{r.p50_ms} | {r.p99_ms} | {share} |"
        )
    cost = md.read_text().partition("\n## Cost per request")  # bench/cost.py's section is kept
    md.write_text("\n".join(lines) + "\n" + (cost[1] + cost[2] if cost[1] else ""))


if __name__ == "__main__":
    outcome = run_all()
    write(outcome)
    print((ROOT / "docs" / "benchmark.md").read_text())
