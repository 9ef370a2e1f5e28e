"""The shop's load profile: browse the catalog, view products with a skewed popularity, place orders.

Locally the drills run it headless and scaled down (a few dozen users); against a deployed stack the same
file is the seeds' 10K-user test (see docs/resilience.md for the command). A user's order carries an
idempotency key and is retried with the same key after a 5xx or a dropped connection, as a well-behaved
client does, so a retry can never order twice.

With ``DRILL_RECORD=<path>`` every request is also written there, one CSV line each (start time, latency,
name, status, idempotency key for orders), for the drill runner's figures; off by default.
"""

import os
import random
import time
import uuid
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

RECORD_PATH = os.environ.get("DRILL_RECORD", "")
_record = open(RECORD_PATH, "a", buffering=1 << 16) if RECORD_PATH else None  # noqa: SIM115 (closed on quit)
ORDER_ATTEMPTS = 4
"""Attempts per order (same key): enough to ride out a failover the service itself does not absorb."""


def _write(
    *,
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float = 0.0,
    **_: Any,
) -> None:
    """One line per request: start (epoch s), latency (ms), name, status (0: no answer), lb flag, key."""
    if _record is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    from_lb = 1 if headers.get("x-lb-error") else 0
    key = (context or {}).get("key", "")
    _record.write(f"{start_time:.4f},{response_time:.2f},{name},{status},{from_lb},{key}\n")


def _close(**_: Any) -> None:
    if _record is not None:
        _record.flush()
        _record.close()


events.request.add_listener(_write)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_close)  # type: ignore[no-untyped-call]


class Shopper(FastHttpUser):
    """A shopper: mostly views products (a few are far more popular), browses pages, sometimes orders."""

    wait_time = between(0.1, 0.4)
    products: list[int]
    weights: list[float]

    def on_start(self) -> None:
        """The catalog's first page gives the ids to shop from; popularity follows Zipf (rank^-1.1)."""
        self.products = []
        for _ in range(ORDER_ATTEMPTS):
            with self.client.get("/products?limit=100", name="/products?page", catch_response=True) as r:
                if r.status_code == 200:
                    self.products = [int(p["id"]) for p in r.json()["items"]]
                    break
            time.sleep(0.5)
        self.products = self.products or list(range(1, 101))
        self.weights = [1 / (rank + 1) ** 1.1 for rank in range(len(self.products))]

    def _product(self) -> int:
        return random.choices(self.products, self.weights)[0]

    @task(6)
    def view(self) -> None:
        self.client.get(f"/products/{self._product()}", name="/products/{id}")

    @task(3)
    def browse(self) -> None:
        offset = random.randrange(0, 10) * 20
        self.client.get(f"/products?limit=20&offset={offset}", name="/products?page")

    @task(2)
    def order(self) -> None:
        """One order, retried with the same key after a 5xx or no answer; a 409 (sold out) is an answer."""
        count = random.choice((1, 1, 2))
        chosen = random.sample(self.products[:20], count)
        body = {"items": [{"product_id": p, "quantity": random.randint(1, 3)} for p in chosen]}
        key = str(uuid.uuid4())
        for attempt in range(ORDER_ATTEMPTS):
            with self.client.post(
                "/orders", json=body, headers={"idempotency-key": key}, name="/orders",
                context={"key": key}, catch_response=True,
            ) as r:  # fmt: skip
                if r.status_code in (200, 201, 409):
                    r.success()
                    return
                r.failure(f"status {r.status_code}")
            time.sleep(0.25 * 2**attempt)
