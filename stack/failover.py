"""Move a disaster-recovery pair's writer and capacity to one region in one step, and back the same way.

    pulumi stack output --json --stack prod > prod-outputs.json
    python -m stack.failover prod --to us-west-2 --outputs prod-outputs.json            # region lost: failover
    python -m stack.failover prod --to us-west-2 --planned --outputs prod-outputs.json  # drill, rotation: switchover
    python -m stack.failover prod --to us-east-1 --planned --outputs prod-outputs.json  # the way back

Steps, each through boto3 (so `AWS_ENDPOINT_URL` points them at moto in the tests):

1. Find the global database's writer (rds DescribeGlobalClusters). Already in the target region: nothing to move.
2. Ask the target region's Auto Scaling group for the serving capacity: the larger of what the serving group runs
   now (when its region answers) and the stack's `active_capacity`, at most the target group's MaxSize. Only
   DesiredCapacity changes: the stack already leaves it to the autoscaler (`ignore_changes`), and min/max stay as
   declared, so a later `pulumi up` neither undoes the move nor fails. The instances boot while the database moves.
3. Move the writer: `--planned` calls SwitchoverGlobalCluster (secondaries synchronize first: no data loss, and the
   old primary becomes a secondary); without it FailoverGlobalCluster with AllowDataLoss (for a lost region: the
   writes not yet replicated are lost, "RPO typically measured in seconds", Aurora User Guide, "Using switchover or
   failover in Amazon Aurora Global Database").
4. Wait until the target cluster is the writer and no operation is pending (FailoverState empty).
5. Back in the stack's primary region (the way back): return the other region's group to `standby_capacity`.
6. Report every step, its duration, and the writer and capacities before and after.

Traffic needs no step: CloudFront's origin group and Route 53 failover records follow the regions' health checks,
and the service writes through the global database's writer endpoint, which Aurora points at the new writer
("Connecting to Amazon Aurora Global Database").

It reads the stack output `dr` (the stack exports it when the `dr` setting is on):

    {"global_cluster_id": "prod-global", "primary_region": "us-east-1", "active_capacity": 3, "standby_capacity": 1,
     "regions": {"us-east-1": {"cluster_arn": "arn:aws:rds:us-east-1:...:cluster:...", "asg_name": "..."},
                 "us-west-2": {"cluster_arn": "arn:aws:rds:us-west-2:...:cluster:...", "asg_name": "..."}}}
"""

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

OUTPUT = "dr"
"""The stack output this command reads."""
DEFAULT_TIMEOUT_SECONDS = 900.0
"""How long to wait for the writer to move (AWS states RTO "in the order of minutes")."""
QUICK = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1})
"""For the region being left, which may not answer: fail fast and use the stack's figures instead."""


class FailoverError(RuntimeError):
    """A step could not be done; the message says which and what is known."""


@dataclass(frozen=True)
class Side:
    """One region of the pair, as the stack exports it."""

    region: str
    cluster_arn: str
    asg_name: str


@dataclass(frozen=True)
class Pair:
    """The `dr` stack output."""

    global_cluster_id: str
    primary_region: str
    active_capacity: int
    standby_capacity: int
    sides: dict[str, Side]

    def other(self, region: str) -> Side:
        """The side that is not `region` (a pair has two)."""
        (side,) = [s for r, s in self.sides.items() if r != region]
        return side


@dataclass
class Step:
    """One thing the command did."""

    name: str
    seconds: float
    detail: str


@dataclass
class Report:
    """What the command did and what it left."""

    target_region: str
    planned: bool
    writer_before: str
    writer_after: str
    capacity: dict[str, int] = field(default_factory=dict)
    """Desired capacity per region afterwards, as the Auto Scaling groups report it."""
    steps: list[Step] = field(default_factory=list)


def read_pair(outputs: Mapping[str, Any]) -> Pair:
    """The `dr` output, every problem named at once (a stack without the `dr` setting has none)."""
    dr = outputs.get(OUTPUT)
    if not isinstance(dr, Mapping):
        raise FailoverError(f"the stack outputs have no {OUTPUT!r} object: is the stack's dr setting on?")
    problems: list[str] = []
    text = {k: dr.get(k) for k in ("global_cluster_id", "primary_region")}
    problems += [f"{OUTPUT}.{k}: must be a non-empty string, got {v!r}" for k, v in text.items() if not _is_text(v)]
    counts = {k: dr.get(k) for k in ("active_capacity", "standby_capacity")}
    problems += [
        f"{OUTPUT}.{k}: must be a whole number >= 0, got {v!r}"
        for k, v in counts.items()
        if not isinstance(v, int) or isinstance(v, bool) or v < 0
    ]
    regions = dr.get("regions")
    sides: dict[str, Side] = {}
    if not isinstance(regions, Mapping) or len(regions) != 2:
        problems.append(f"{OUTPUT}.regions: must name exactly 2 regions, got {regions!r}")
    else:
        for region, side in regions.items():
            given = side if isinstance(side, Mapping) else {}
            missing = [k for k in ("cluster_arn", "asg_name") if not _is_text(given.get(k))]
            problems += [f"{OUTPUT}.regions.{region}.{k}: must be a non-empty string" for k in missing]
            if not missing:
                sides[region] = Side(region, str(given["cluster_arn"]), str(given["asg_name"]))
        if _is_text(text["primary_region"]) and text["primary_region"] not in regions:
            problems.append(f"{OUTPUT}.primary_region: {text['primary_region']!r} is not one of {sorted(regions)}")
    if problems:
        raise FailoverError("\n".join(problems))
    return Pair(
        str(text["global_cluster_id"]),
        str(text["primary_region"]),
        int(counts["active_capacity"]),  # type: ignore[arg-type]
        int(counts["standby_capacity"]),  # type: ignore[arg-type]
        sides,
    )


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def writer_arn(rds: Any, global_cluster_id: str) -> tuple[str, dict[str, Any]]:
    """The writer member's cluster ARN and the global cluster as RDS describes it."""
    (cluster,) = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster_id)["GlobalClusters"]
    writers = [m["DBClusterArn"] for m in cluster.get("GlobalClusterMembers", []) if m.get("IsWriter")]
    return (writers[0] if writers else ""), cluster


def region_of(pair: Pair, cluster_arn: str) -> str:
    """The pair's region holding this cluster ("" when none: a writer outside the pair)."""
    return next((r for r, s in pair.sides.items() if s.cluster_arn == cluster_arn), "")


def group(autoscaling: Any, name: str) -> dict[str, Any] | None:
    """The Auto Scaling group as AWS describes it, or None when it does not exist."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return groups[0] if groups else None


def serving_capacity(pair: Pair, serving: Side, client: Callable[..., Any]) -> tuple[int, str]:
    """Instances the target must run: what the serving region runs now (if it answers), at least active_capacity."""
    try:
        live = group(client("autoscaling", serving.region, QUICK), serving.asg_name)
    except (BotoCoreError, ClientError) as error:
        return pair.active_capacity, f"{serving.region} did not answer ({type(error).__name__}): the stack's figure"
    if live is None:
        return pair.active_capacity, f"no group {serving.asg_name} in {serving.region}: the stack's figure"
    running = int(live["DesiredCapacity"])
    return max(
        running, pair.active_capacity
    ), f"{serving.region} runs {running}, the stack's figure is {pair.active_capacity}"


def scale(autoscaling: Any, side: Side, desired: int) -> tuple[int, str]:
    """Set the group's desired capacity (within its declared MaxSize and MinSize); return what was set."""
    live = group(autoscaling, side.asg_name)
    if live is None:
        raise FailoverError(f"no Auto Scaling group {side.asg_name!r} in {side.region}: check the stack's dr output")
    bounded = min(max(desired, int(live["MinSize"])), int(live["MaxSize"]))
    autoscaling.set_desired_capacity(AutoScalingGroupName=side.asg_name, DesiredCapacity=bounded, HonorCooldown=False)
    note = "" if bounded == desired else f" (asked {desired}; the group's MinSize..MaxSize is "
    note += f"{live['MinSize']}..{live['MaxSize']})" if note else ""
    return bounded, f"{side.asg_name} in {side.region}: desired {live['DesiredCapacity']} -> {bounded}{note}"


def move_writer(rds: Any, pair: Pair, target: Side, *, planned: bool) -> str:
    """Switchover (planned) or failover allowing data loss (a lost region) to the target cluster."""
    if planned:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=pair.global_cluster_id, TargetDbClusterIdentifier=target.cluster_arn
        )
        return f"SwitchoverGlobalCluster to {target.cluster_arn}"
    rds.failover_global_cluster(
        GlobalClusterIdentifier=pair.global_cluster_id, TargetDbClusterIdentifier=target.cluster_arn, AllowDataLoss=True
    )
    return f"FailoverGlobalCluster (AllowDataLoss) to {target.cluster_arn}"


def wait_for_writer(rds: Any, pair: Pair, target: Side, timeout: float, poll: float) -> str:
    """Poll until the target cluster is the writer and no switchover/failover is pending."""
    deadline = time.monotonic() + timeout
    while True:
        writer, cluster = writer_arn(rds, pair.global_cluster_id)
        pending = cluster.get("FailoverState") or {}
        if writer == target.cluster_arn and not pending.get("Status"):
            return f"writer is {writer}; global cluster {cluster.get('Status', '?')}"
        if time.monotonic() >= deadline:
            raise FailoverError(
                f"after {timeout:g} s the writer is {writer or 'none'} and the operation is "
                f"{pending.get('Status', 'not pending')}; check `aws rds describe-global-clusters` in {target.region}"
            )
        time.sleep(poll)


def boto_client(service: str, region: str, config: Config | None = None) -> Any:
    """A boto3 client for one region (the endpoint comes from the environment, e.g. moto in the tests)."""
    return boto3.client(service, region_name=region, config=config)


def run(
    pair: Pair,
    to: str,
    *,
    planned: bool,
    client: Callable[..., Any] = boto_client,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    poll: float = 5.0,
) -> Report:
    """Every step, in order; each one is recorded in the report as it finishes."""
    if to not in pair.sides:
        raise FailoverError(f"--to {to!r}: the pair's regions are {', '.join(sorted(pair.sides))}")
    target, source = pair.sides[to], pair.other(to)
    rds = client("rds", to)
    before, _ = writer_arn(rds, pair.global_cluster_id)
    report = Report(to, planned, region_of(pair, before) or before, "")
    clock = _Clock(report)
    if before == target.cluster_arn:
        clock.done("writer", f"already the writer in {to}: nothing to move")
    else:
        desired, why = serving_capacity(pair, pair.sides.get(report.writer_before, source), client)
        _, detail = scale(client("autoscaling", to), target, desired)
        clock.done("scale target", f"{detail} ({why})")
        clock.done("move writer", move_writer(rds, pair, target, planned=planned))
        clock.done("wait for writer", wait_for_writer(rds, pair, target, timeout, poll))
    if to == pair.primary_region:
        _, detail = scale(client("autoscaling", source.region), source, pair.standby_capacity)
        clock.done("standby back to its capacity", detail)
    after, _ = writer_arn(rds, pair.global_cluster_id)
    report.writer_after = region_of(pair, after) or after
    for region, side in pair.sides.items():
        try:
            live = group(client("autoscaling", region, QUICK), side.asg_name)
        except (BotoCoreError, ClientError):
            live = None
        if live is not None:
            report.capacity[region] = int(live["DesiredCapacity"])
    return report


class _Clock:
    """Times each step from the end of the previous one."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.last = time.monotonic()

    def done(self, name: str, detail: str) -> None:
        now = time.monotonic()
        self.report.steps.append(Step(name, round(now - self.last, 3), detail))
        self.last = now


def render(report: Report) -> str:
    """The report for a person."""
    kind = "switchover (planned, no data loss)" if report.planned else "failover (data not yet replicated is lost)"
    lines = [f"{kind} to {report.target_region}: writer {report.writer_before} -> {report.writer_after}"]
    lines += [f"  {s.name} ({s.seconds:g} s): {s.detail}" for s in report.steps]
    lines.append("  desired capacity now: " + ", ".join(f"{r} {n}" for r, n in sorted(report.capacity.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="stack name (for the messages; the outputs file says everything else)")
    parser.add_argument("--to", required=True, help="region to serve from (one of the pair's two)")
    parser.add_argument("--planned", action="store_true", help="switchover: both regions healthy, no data loss")
    parser.add_argument("--outputs", required=True, type=Path, help="`pulumi stack output --json` of the stack")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait for the writer")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = run(read_pair(json.loads(args.outputs.read_text())), args.to, planned=args.planned,
                     timeout=args.timeout)  # fmt: skip
    except FailoverError as error:
        print(f"stack {args.stack}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
