"""Cache hit/miss counters as CloudWatch metrics, through the Embedded Metric Format.

Each interval the process logs one EMF line with the counts since the last one; the CloudWatch agent
ships the log and CloudWatch turns the line into metrics (namespace HaStack/App), no API calls needed.
"""

import asyncio
import json
import sys
import time
from typing import Any, TextIO

from app.cache import CacheCounters
from app.logs import RequestCounters

NAMESPACE = "HaStack/App"


def emf_line(now: float, deltas: dict[str, int], service: str) -> str:
    """One EMF document with a Count metric per counter."""
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in deltas],
                }
            ],
        },
        "Service": service,
        **deltas,
    }
    return json.dumps(doc)


async def emit_forever(
    counters: CacheCounters,
    service: str,
    interval: float = 60.0,
    out: TextIO = sys.stdout,
    requests: RequestCounters | None = None,
) -> None:
    """Every ``interval`` seconds, write the counts since the last line (cache, and requests when given: the
    access log is sampled, these counts are not)."""
    last = CacheCounters()
    last_requests = RequestCounters()
    while True:
        await asyncio.sleep(interval)
        deltas = {
            "CacheHits": counters.hits - last.hits,
            "CacheMisses": counters.misses - last.misses,
            "CacheErrors": counters.errors - last.errors,
        }
        last = CacheCounters(counters.hits, counters.misses, counters.errors)
        if requests is not None:
            deltas |= {
                "Requests": requests.requests - last_requests.requests,
                "Requests4xx": requests.client_errors - last_requests.client_errors,
                "Requests5xx": requests.server_errors - last_requests.server_errors,
                "SlowRequests": requests.slow - last_requests.slow,
            }
            last_requests = RequestCounters(**vars(requests))
        print(emf_line(time.time(), deltas, service), file=out, flush=True)
