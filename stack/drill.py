"""Run one fault-injection drill against a deployed stack and measure what users saw.

    pulumi stack output --json --stack prod > prod-outputs.json
    python -m stack.drill prod database --outputs prod-outputs.json

It starts the drill's FIS experiment (the stack's `drill_template_ids` output), probes the site from the outside at
a steady rate while the experiment runs and for a recovery window after it ends (GET /health, a read of the
catalog, an idempotent order write with an Idempotency-Key), then reports per drill: failed probes, seconds with
errors, time from the first to the last failed probe, acknowledged writes that cannot be read back, and pass or
fail against the seeds' threshold ("Reboot primary RDS; confirm Multi-AZ failover (<2 mins downtime)"; the other
drills get the same two-minute budget). AWS calls go through boto3, so `AWS_ENDPOINT_URL` points them at moto in
the tests.
"""

import argparse
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx

from stack.preview import load_config

THRESHOLD_SECONDS: dict[str, float] = {"database": 120.0}
"""Seconds with errors a drill may cause and still pass (seed: the database failover under two minutes)."""
DEFAULT_THRESHOLD_SECONDS = 120.0
TERMINAL = ("completed", "stopped", "failed")


@dataclass
class Probe:
    """One request of the prober."""

    at: float
    """Seconds since the experiment started."""
    kind: str
    ok: bool
    detail: str = ""


@dataclass
class Result:
    """What one drill did to the users, and whether it passed."""

    drill: str
    experiment_id: str
    experiment_status: str
    probes: int
    failed: int
    seconds_with_errors: int
    recovery_seconds: float
    """From the first failed probe to the end of the last one (0 when none failed)."""
    writes_acknowledged: int
    writes_lost: int
    threshold_seconds: float
    passed: bool
    failures: list[str] = field(default_factory=list)


class Prober:
    """Probes a site from the outside at a steady rate, on a thread, until stopped."""

    def __init__(self, base_url: str, rate_per_second: float, started: float, product_id: int = 1) -> None:
        self.base_url = base_url.rstrip("/")
        self.interval = 1.0 / rate_per_second
        self.started = started
        self.product_id = product_id
        self.probes: list[Probe] = []
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        checks: list[tuple[str, Callable[[httpx.Client], bool]]] = [
            ("health", lambda c: c.get("/health").status_code == 200),
            ("read", lambda c: c.get(f"/products/{self.product_id}").status_code == 200),
            ("write", self._write),
        ]
        with httpx.Client(base_url=self.base_url, timeout=3.0) as client:
            turn = 0
            while not self._stop.is_set():
                kind, check = checks[turn % len(checks)]
                turn += 1
                at = time.monotonic() - self.started
                try:
                    ok, detail = check(client), ""
                except httpx.HTTPError as err:
                    ok, detail = False, type(err).__name__
                self.probes.append(Probe(at, kind, ok, detail))
                self._stop.wait(self.interval)

    def _write(self, client: httpx.Client) -> bool:
        key = str(uuid.uuid4())
        response = client.post(
            "/orders",
            json={"items": [{"product_id": self.product_id, "quantity": 1}]},
            headers={"Idempotency-Key": key},
        )
        if response.status_code in (200, 201):
            self.acknowledged.append(str(response.json().get("id", key)))
            return True
        return False


def lost_writes(base_url: str, acknowledged: list[str]) -> int:
    """Acknowledged orders the site cannot show any more."""
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=5.0) as client:
        return sum(client.get(f"/orders/{order}").status_code != 200 for order in acknowledged)


def summarize(drill: str, experiment: dict[str, Any], probes: list[Probe], acknowledged: int, lost: int) -> Result:
    """The report line of one drill, from its probes."""
    failed = [p for p in probes if not p.ok]
    recovery = (failed[-1].at - failed[0].at) if failed else 0.0
    threshold = THRESHOLD_SECONDS.get(drill, DEFAULT_THRESHOLD_SECONDS)
    seconds = len({int(p.at) for p in failed})
    status = str(experiment["state"]["status"])
    failures = []
    if seconds > threshold:
        failures.append(f"{seconds} s with errors, over the {threshold:g} s budget")
    if lost:
        failures.append(f"{lost} acknowledged writes lost")
    if status == "failed":
        failures.append(f"experiment failed: {experiment['state'].get('reason', '')}")
    return Result(
        drill=drill,
        experiment_id=str(experiment["id"]),
        experiment_status=status,
        probes=len(probes),
        failed=len(failed),
        seconds_with_errors=seconds,
        recovery_seconds=round(recovery, 1),
        writes_acknowledged=acknowledged,
        writes_lost=lost,
        threshold_seconds=threshold,
        passed=not failures,
        failures=failures,
    )


@contextmanager
def _fis_client(region: str) -> Iterator[Any]:
    yield boto3.client("fis", region_name=region)


def run(
    drill: str,
    outputs: dict[str, Any],
    *,
    region: str,
    base_url: str | None = None,
    rate_per_second: float = 5.0,
    recovery_window_seconds: float = 30.0,
    poll_seconds: float = 2.0,
    max_seconds: float = 3600.0,
) -> Result:
    """Start the drill's experiment, probe until it ends plus the recovery window, and judge it."""
    templates = outputs.get("drill_template_ids") or {}
    if drill not in templates:
        raise SystemExit(f"no drill {drill!r} in this stack's outputs; drills: {', '.join(sorted(templates))}")
    url = base_url or str(outputs["site_url"])
    with _fis_client(region) as fis:
        started = time.monotonic()
        experiment = fis.start_experiment(
            experimentTemplateId=templates[drill], clientToken=str(uuid.uuid4()), tags={"drill": drill}
        )["experiment"]
        with Prober(url, rate_per_second, started) as prober:
            while experiment["state"]["status"] not in TERMINAL and time.monotonic() - started < max_seconds:
                time.sleep(poll_seconds)
                experiment = fis.get_experiment(id=experiment["id"])["experiment"]
            time.sleep(recovery_window_seconds)
        probes, acknowledged = list(prober.probes), list(prober.acknowledged)
    return summarize(drill, experiment, probes, len(acknowledged), lost_writes(url, acknowledged))


def render(result: Result) -> str:
    """One human-readable block per drill."""
    verdict = "PASS" if result.passed else "FAIL: " + "; ".join(result.failures)
    return "\n".join(
        [
            f"drill {result.drill} (experiment {result.experiment_id}, {result.experiment_status}): {verdict}",
            f"  probes {result.probes}, failed {result.failed}, seconds with errors {result.seconds_with_errors} "
            f"(budget {result.threshold_seconds:g}), recovered in {result.recovery_seconds:g} s",
            f"  writes acknowledged {result.writes_acknowledged}, lost {result.writes_lost}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="stack name (its Pulumi.<stack>.yaml gives the region)")
    parser.add_argument(
        "drill", help="instance, az-instances-<letter>, database, cache-az-power-<letter>, network-<letter>"
    )
    parser.add_argument("--outputs", required=True, type=Path, help="`pulumi stack output --json` of the stack")
    parser.add_argument("--url", help="probe this URL instead of the stack's site_url")
    parser.add_argument("--rate", type=float, default=5.0, help="probes per second (default 5)")
    parser.add_argument("--recover", type=float, default=60.0, help="seconds to keep probing after the experiment")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    outputs = json.loads(args.outputs.read_text())
    region = str(load_config(args.stack).get("aws:region", "us-east-1"))
    result = run(
        args.drill, outputs, region=region, base_url=args.url, rate_per_second=args.rate,
        recovery_window_seconds=args.recover,
    )  # fmt: skip
    print(json.dumps(asdict(result), indent=2) if args.json else render(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
