"""Cache counters reach CloudWatch as Embedded Metric Format lines."""

import asyncio
import io
import json

import pytest

from app.cache import CacheCounters
from app.logs import RequestCounters
from app.metrics import NAMESPACE, emit_forever

pytestmark = pytest.mark.anyio


async def test_each_line_is_valid_emf_carrying_the_counts_since_the_previous_line():
    counters, out = CacheCounters(hits=9, misses=1), io.StringIO()
    task = asyncio.create_task(emit_forever(counters, "shop", interval=0.05, out=out))
    await asyncio.sleep(0.07)
    counters.hits += 5
    await asyncio.sleep(0.05)
    task.cancel()
    first, second = (json.loads(line) for line in out.getvalue().splitlines()[:2])
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["Service"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"CacheHits", "CacheMisses", "CacheErrors"}
    assert (first["Service"], first["CacheHits"], first["CacheMisses"]) == ("shop", 9, 1)
    assert (second["CacheHits"], second["CacheMisses"]) == (5, 0)


async def test_request_counts_are_emitted_with_the_cache_counts():
    counters, requests, out = CacheCounters(), RequestCounters(requests=7, client_errors=2, slow=1), io.StringIO()
    task = asyncio.create_task(emit_forever(counters, "shop", interval=0.05, out=out, requests=requests))
    await asyncio.sleep(0.07)
    requests.requests += 3
    await asyncio.sleep(0.05)
    task.cancel()
    first, second = (json.loads(line) for line in out.getvalue().splitlines()[:2])
    names = {m["Name"] for m in first["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Requests", "Requests4xx", "Requests5xx", "SlowRequests"} <= names
    assert (first["Requests"], first["Requests4xx"], first["SlowRequests"]) == (7, 2, 1)
    assert (second["Requests"], second["Requests4xx"]) == (3, 0)
