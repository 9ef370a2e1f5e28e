"""HaResilience: every drill is a real FIS action on this stack's resources, stopped by the service alarm, and run by
a role that may do exactly what the drills do; zonal autoshift's practice runs are judged by the same alarm."""

import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi
import pytest
from moto.server import ThreadedMotoServer

from drills.run import SHORT_HEALTH
from ha_stack import options
from ha_stack.database import DatabaseEngine
from ha_stack.resilience import (
    ARGS,
    AUTOSHIFT_DATE,
    AUTOSHIFT_WINDOW,
    DRILL_MINUTES_RANGE,
    FIS_PERMISSIONS,
    HaResilience,
    HaResilienceArgs,
    allowed_actions,
    check,
    plan,
)
from lab.cluster import crash, running_cluster
from stack import drill, resilience_report
from stack.ha_summary import summarize
from stack.mock_cloud import ACCOUNT_ID, RecordedResource, Recording
from stack.settings import parse_settings
from tests.conftest import ZONES3, build, parented_children, run_stack, stack_config

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
POLICY = "aws:iam/rolePolicy:RolePolicy"
AUTOSHIFT = "aws:arczonalshift/zonalAutoshiftConfiguration:ZonalAutoshiftConfiguration"
ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:ha-stack-prod-service-degraded"
SUBNETS = {z: [f"subnet-pub-{z[-1]}", f"subnet-app-{z[-1]}", f"subnet-data-{z[-1]}"] for z in ZONES3}
WEEKEND = ["Fri:16:00-Fri:23:59", "Sat:00:00-Sat:23:59", "Sun:00:00-Sun:23:59", "Mon:00:00-Mon:08:00"]
"""A weekend freeze as AWS takes it: one window per day (no window may span days)."""


def args(*, without: tuple[str, ...] = (), **overrides: Any) -> HaResilienceArgs:
    """Prod-like: Aurora, a 3-node cache, 3 zones, a load balancer for autoshift (`without` leaves arguments out)."""
    base: dict[str, Any] = {
        "availability_zones": ZONES3,
        "stop_alarm_arn": ALARM,
        "asg_name": "web-instances-asg",
        "vpc_id": "vpc-1",
        "zone_subnet_ids": SUBNETS,
        "database_engine": DatabaseEngine.AURORA_POSTGRESQL,
        "database_cluster_identifier": "database-cluster",
        "cache_replication_group_id": "cache-rg",
        "cache_target_tags": {"Name": "cache-redis", "stack": "prod"},
        "cache_availability_zones": ZONES3,
        "alb_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1",
        "autoshift_blocked_windows": WEEKEND,
        "tags": {"stack": "prod"},
    }
    given = {**base, **overrides}
    return {k: v for k, v in given.items() if k not in without}  # type: ignore[return-value]


def dev_args() -> HaResilienceArgs:
    """Dev-like: single-AZ RDS PostgreSQL, a one-node cache (no cache drill), 2 zones, no autoshift."""
    zones = ZONES3[:2]
    return args(
        availability_zones=zones,
        zone_subnet_ids={z: SUBNETS[z] for z in zones},
        database_engine=DatabaseEngine.POSTGRES,
        without=("database_cluster_identifier",),
        database_instance_identifier="database-primary",
        database_multi_az=False,
        cache_availability_zones=[],
        enable_zonal_autoshift=False,
    )


@pytest.fixture(scope="module")
def prod_like() -> Recording:
    return build(lambda: HaResilience("resilience", args()))


def templates(rec: Recording) -> dict[str, dict[str, Any]]:
    return {t.inputs["actions"][0]["name"]: t.inputs for t in rec.of_type(TEMPLATE)}


def test_one_drill_per_fault_and_per_zone(prod_like):
    assert sorted(templates(prod_like)) == sorted(
        ["instance", "database"]
        + [f"{kind}-{z}" for kind in ("az-instances", "cache-az-power", "network") for z in "abc"]
    )


def test_every_drill_stops_on_the_service_alarm_and_fails_on_an_empty_target(prod_like):
    for name, t in templates(prod_like).items():
        assert t["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": ALARM}], name
        assert t["experimentOptions"]["emptyTargetResolutionMode"] == "fail", name
        (action,) = t["actions"]
        (target,) = t["targets"]
        assert action["target"] == {"key": action["target"]["key"], "value": target["name"]}, name


def test_instance_drills_pick_the_groups_instances_and_the_zone(prod_like):
    t = templates(prod_like)
    (one,) = t["instance"]["targets"]
    assert one["resourceTags"] == [{"key": "aws:autoscaling:groupName", "value": "web-instances-asg"}]
    assert (one["resourceType"], one["selectionMode"]) == ("aws:ec2:instance", "COUNT(1)")
    assert t["instance"]["actions"][0]["actionId"] == "aws:ec2:terminate-instances"
    (zone_b,) = t["az-instances-b"]["targets"]
    assert {"path": "Placement.AvailabilityZone", "values": ["us-east-1b"]} in zone_b["filters"]
    assert zone_b["selectionMode"] == "ALL"
    action = t["az-instances-b"]["actions"][0]
    assert action["actionId"] == "aws:ec2:stop-instances"
    assert {p["key"]: p["value"] for p in action["parameters"]} == {
        "startInstancesAfterDuration": "PT10M",
        "completeIfInstancesTerminated": "true",
    }


def test_database_cache_and_network_drills_target_this_stacks_resources(prod_like):
    t = templates(prod_like)
    (cluster,) = t["database"]["targets"]
    assert cluster["resourceArns"] == [f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:cluster:database-cluster"]
    assert (t["database"]["actions"][0]["actionId"], cluster["resourceType"]) == (
        "aws:rds:failover-db-cluster",
        "aws:rds:cluster",
    )
    (cache,) = t["cache-az-power-c"]["targets"]
    assert cache["parameters"] == {"availabilityZoneIdentifier": "us-east-1c"}
    assert cache["resourceTags"] == [{"key": "Name", "value": "cache-redis"}, {"key": "stack", "value": "prod"}]
    (subnets,) = t["network-a"]["targets"]
    assert subnets["resourceArns"] == [f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:subnet/{s}" for s in SUBNETS["us-east-1a"]]
    action = t["network-a"]["actions"][0]
    assert {p["key"]: p["value"] for p in action["parameters"]} == {"scope": "all", "duration": "PT10M"}


def test_the_role_allows_exactly_the_documented_permissions_of_the_drills_actions(prod_like):
    (policy,) = prod_like.of_type(POLICY)
    used = {t["actions"][0]["actionId"] for t in templates(prod_like).values()}
    assert allowed_actions(policy.inputs["policy"]) == {p for a in used for p in FIS_PERMISSIONS[a]}


def test_every_call_that_changes_something_names_this_stacks_resources(prod_like):
    (policy,) = prod_like.of_type(POLICY)
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    unscoped = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert unscoped == {"DescribeAndResolveTargets"}
    assert all(a.split(":")[1].startswith(("Describe", "GetResources")) for a in statements[unscoped.pop()]["Action"])
    group = statements["GroupInstances"]
    assert group["Condition"] == {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": "web-instances-asg"}}
    assert statements["FailoverCluster"]["Resource"] == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:cluster:database-cluster"
    assert statements["InterruptCachePower"]["Resource"].endswith(":replicationgroup:cache-rg")
    assert statements["RestartEncryptedVolumes"]["Resource"] == f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/*"
    swap = statements["SwapSubnetAcl"]["Resource"]
    assert sorted(r.split("/")[-1] for r in swap if ":subnet/" in r) == sorted(s for v in SUBNETS.values() for s in v)
    assert statements["EditFisAcl"]["Condition"] == {"StringEquals": {"ec2:ResourceTag/managedByFIS": "true"}}


def test_only_fis_of_this_account_may_assume_the_role(prod_like):
    (role,) = prod_like.of_type("aws:iam/role:Role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:fis:*:{ACCOUNT_ID}:experiment/*"},
    }


def test_autoshift_practice_runs_end_and_are_blocked_on_the_service_alarm(prod_like):
    (config,) = prod_like.of_type(AUTOSHIFT)
    assert config.inputs["zonalAutoshiftStatus"] == "ENABLED"
    assert config.inputs["resourceArn"].startswith("arn:aws:elasticloadbalancing:")
    assert config.inputs["outcomeAlarms"] == [{"type": "CLOUDWATCH", "alarmIdentifier": ALARM}]
    assert config.inputs["blockingAlarms"] == [{"type": "CLOUDWATCH", "alarmIdentifier": ALARM}]
    assert config.inputs["blockedWindows"] == WEEKEND


def test_every_child_is_parented_and_tagged(prod_like):
    children = parented_children(prod_like)
    tagged = [c for c in children if c.typ in (TEMPLATE, "aws:iam/role:Role")]
    assert len(tagged) == 12
    assert all(c.inputs["tags"]["stack"] == "prod" for c in tagged)


def test_dev_runs_the_same_drills_cheaply():
    """Dev: a single-AZ RDS primary is rebooted without failover, a one-node cache has no AZ power drill."""
    rec = build(lambda: HaResilience("resilience", dev_args()))
    t = templates(rec)
    assert sorted(t) == ["az-instances-a", "az-instances-b", "database", "instance", "network-a", "network-b"]
    action = t["database"]["actions"][0]
    assert (action["actionId"], action["parameters"]) == (
        "aws:rds:reboot-db-instances",
        [{"key": "forceFailover", "value": "false"}],
    )
    assert t["database"]["targets"][0]["resourceArns"] == [f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:database-primary"]
    (policy,) = rec.of_type(POLICY)
    assert "elasticache:InterruptClusterAzPower" not in allowed_actions(policy.inputs["policy"])
    assert "rds:FailoverDBCluster" not in allowed_actions(policy.inputs["policy"])
    (config,) = rec.of_type(AUTOSHIFT)
    assert config.inputs["zonalAutoshiftStatus"] == "DISABLED"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"availability_zones": ["us-east-1a"]}, "HaResilience.availability_zones: need at least 2 distinct zones"),
        ({"stop_alarm_arn": ""}, "HaResilience.stop_alarm_arn: must be a CloudWatch alarm ARN"),
        ({"stop_alarm_arn": None}, "HaResilience.stop_alarm_arn: must be a string (or an Output of one), got None"),
        ({"zone_subnet_ids": {"us-east-1a": ["s"]}}, "HaResilience.zone_subnet_ids: need at least one subnet for each"),
        (
            {"without": ("database_cluster_identifier",)},
            "HaResilience.database_cluster_identifier: needed for database",
        ),
        ({"database_engine": "mysql"}, "HaResilience.database_engine: must be one of aurora-postgresql, postgres"),
        ({"cache_availability_zones": ["us-east-1a"]}, "HaResilience.cache_availability_zones: need at least 2 of"),
        ({"cache_target_tags": {}}, "HaResilience.cache_target_tags: needed with cache_availability_zones"),
        ({"drill_minutes": 0}, "HaResilience.drill_minutes: must be from 1 to 720 minutes, got 0"),
        ({"enable_network_drills": "no"}, "HaResilience.enable_network_drills: must be true or false, got 'no'"),
        ({"autoshift_blocked_windows": ["Fri 16:00"]}, "HaResilience.autoshift_blocked_windows: every entry must"),
        ({"autoshift_blocked_dates": ["24/12/2026"]}, "HaResilience.autoshift_blocked_dates: every entry must"),
    ],
)
def test_plan_names_the_bad_argument_before_anything_is_declared(bad, expected):
    with pytest.raises(ValueError, match="^" + re.escape(expected)):
        plan(args(**bad))


def test_drill_names_are_what_the_templates_are_keyed_by(prod_like):
    assert sorted(plan(args()).drills) == sorted(templates(prod_like))


# The whole stacks (session fixtures): every drill resolves to this stack's resources and stops on its real alarm.


def _by_arn_suffix(rec: Recording, typ: str, field: str) -> dict[str, Any]:
    return {str(r.outputs.get(field) or r.id): r for r in rec.of_type(typ)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_drills_stop_on_the_stacks_composite_alarm(stack, request):
    rec: Recording = request.getfixturevalue(stack)
    (composite,) = rec.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    for name, t in templates(rec).items():
        assert t["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": composite.outputs["arn"]}], name
    assert rec.exports["composite_alarm_arn"] == composite.outputs["arn"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_drill_targets_are_the_stacks_own_resources(stack, request):
    rec: Recording = request.getfixturevalue(stack)
    t = templates(rec)
    (group,) = rec.of_type("aws:autoscaling/group:Group")
    for name in [n for n in t if "instance" in n]:
        assert t[name]["targets"][0]["resourceTags"] == [
            {"key": "aws:autoscaling:groupName", "value": group.outputs["name"]}
        ]
    subnets = {s.id: s.inputs["availabilityZone"] for s in rec.of_type("aws:ec2/subnet:Subnet")}
    network = [n for n in t if n.startswith("network-")]
    assert len(network) == len(set(subnets.values()))
    for name in network:
        arns = t[name]["targets"][0]["resourceArns"]
        zones = {subnets[a.split("/")[-1]] for a in arns}
        assert zones == {f"us-east-1{name[-1]}"}
        assert len(arns) == 3  # public, app and data
    (database,) = t["database"]["targets"][0]["resourceArns"]
    if stack == "prod":
        (cluster,) = rec.of_type("aws:rds/cluster:Cluster")
        assert database.endswith(f":cluster:{cluster.outputs['clusterIdentifier']}")
    else:
        (primary,) = [i for i in rec.of_type("aws:rds/instance:Instance") if i.name.endswith("primary")]
        assert database.endswith(f":db:{primary.outputs['identifier']}")


def test_prod_cache_drills_select_the_stacks_replication_group_in_each_node_zone(prod):
    (group,) = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    cache = {n: t for n, t in templates(prod).items() if n.startswith("cache-")}
    assert sorted(t["targets"][0]["parameters"]["availabilityZoneIdentifier"] for t in cache.values()) == sorted(
        group.inputs["preferredCacheClusterAzs"]
    )
    for t in cache.values():
        assert {tag["key"]: tag["value"] for tag in t["targets"][0]["resourceTags"]}.items() <= group.inputs[
            "tags"
        ].items()
    (policy,) = [p for p in prod.of_type(POLICY) if p.name == "resilience-fis-drills"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["InterruptCachePower"]["Resource"].endswith(f":replicationgroup:{group.id}")


def test_prod_autoshifts_the_load_balancer_and_dev_does_not(prod, dev):
    (alb,) = prod.of_type("aws:lb/loadBalancer:LoadBalancer")
    (config,) = prod.of_type(AUTOSHIFT)
    assert (config.inputs["resourceArn"], config.inputs["zonalAutoshiftStatus"]) == (alb.outputs["arn"], "ENABLED")
    (dev_config,) = dev.of_type(AUTOSHIFT)
    assert dev_config.inputs["zonalAutoshiftStatus"] == "DISABLED"
    assert prod.exports["zonal_autoshift"] == "ENABLED"


def test_zonal_shift_events_go_to_the_alarm_topic():
    topic = "arn:aws:sns:us-east-1:123456789012:alarms"
    rec = build(lambda: HaResilience("resilience", args(notification_topic_arn=topic)))
    (rule,) = rec.of_type("aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["aws.arc-zonal-shift"]}
    (target,) = rec.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert (target.inputs["arn"], target.inputs["rule"]) == (topic, rule.outputs["name"])
    assert not build(lambda: HaResilience("resilience", args())).of_type("aws:cloudwatch/eventRule:EventRule")


# The drill runner: FIS bookkeeping against moto's server mode, probing against a site on loopback.


class _Site(ThreadingHTTPServer):
    """A stand-in for the service on loopback: every request fails during the fault window; orders are kept
    unless `forget` says to drop them (a lost write)."""

    def __init__(self, fault: tuple[float, float], forget: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.started = time.monotonic()
        self.fault, self.forget = fault, forget
        self.orders: dict[str, dict[str, Any]] = {}

    def failing(self) -> bool:
        elapsed = time.monotonic() - self.started
        return self.fault[0] <= elapsed < self.fault[1]


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def log_message(self, *_: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.server.failing():
            self._send(503, {"detail": "fault"})
        elif self.path.startswith("/orders/"):
            order = self.server.orders.get(self.path.rsplit("/", 1)[1])
            self._send(200 if order else 404, order or {})
        else:
            self._send(200, {"id": 1})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        if self.server.failing():
            self._send(503, {"detail": "fault"})
            return
        order = {"id": str(len(self.server.orders) + 1), "key": self.headers["Idempotency-Key"]}
        if not self.server.forget:
            self.server.orders[order["id"]] = order
        self._send(201, order)


@pytest.fixture
def moto_fis(monkeypatch) -> Any:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    yield boto3.client("fis", region_name="us-east-1")
    server.stop()


def _api_template(inputs: dict[str, Any]) -> dict[str, Any]:
    """The stack's recorded template as the FIS CreateExperimentTemplate request takes it."""
    (action,) = inputs["actions"]
    (target,) = inputs["targets"]
    api_target = {"resourceType": target["resourceType"], "selectionMode": target["selectionMode"]}
    if "resourceArns" in target:
        api_target["resourceArns"] = target["resourceArns"]
    return {
        "clientToken": str(uuid.uuid4()),
        "description": inputs["description"],
        "roleArn": inputs["roleArn"],
        "stopConditions": inputs["stopConditions"],
        "targets": {target["name"]: api_target},
        "actions": {
            action["name"]: {
                "actionId": action["actionId"],
                "parameters": {p["key"]: p["value"] for p in action.get("parameters", [])},
                "targets": {action["target"]["key"]: action["target"]["value"]},
            }
        },
    }


def _deployed(prod: Recording, fis: Any, site: _Site | str) -> dict[str, Any]:
    """Outputs of prod as `pulumi up` would leave them: the database drill's template exists in (moto's) FIS."""
    created = fis.create_experiment_template(**_api_template(templates(prod)["database"]))
    url = site if isinstance(site, str) else f"http://127.0.0.1:{site.server_address[1]}"
    return {"drill_template_ids": {"database": created["experimentTemplate"]["id"]}, "site_url": url}


@contextmanager
def _serving(site: _Site) -> Iterator[_Site]:
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()


def test_drill_runner_starts_the_experiment_and_measures_a_short_outage(prod, moto_fis):
    with _serving(_Site(fault=(0.6, 1.6))) as site:
        result = drill.run(
            "database", _deployed(prod, moto_fis, site), region="us-east-1", rate_per_second=20,
            recovery_window_seconds=1.0, poll_seconds=0.5,
        )  # fmt: skip
    (experiment,) = moto_fis.list_experiments()["experiments"]
    assert experiment["id"] == result.experiment_id
    assert result.experiment_status == "completed"
    assert result.failed > 0
    assert 0.5 <= result.recovery_seconds <= 1.2
    assert result.seconds_with_errors <= 2
    assert (result.writes_acknowledged > 0, result.writes_lost, result.passed) == (True, 0, True)
    assert "PASS" in drill.render(result)


def test_drill_runner_fails_a_drill_that_loses_acknowledged_writes(prod, moto_fis):
    with _serving(_Site(fault=(0.3, 0.6), forget=True)) as site:
        result = drill.run(
            "database", _deployed(prod, moto_fis, site), region="us-east-1", rate_per_second=20,
            recovery_window_seconds=0.5, poll_seconds=0.3,
        )  # fmt: skip
    assert result.writes_lost == result.writes_acknowledged > 0
    assert not result.passed
    assert result.failures == [f"{result.writes_lost} acknowledged writes lost"]


def test_drill_runner_names_the_drills_a_stack_has(prod, moto_fis):
    with pytest.raises(SystemExit, match="no drill 'databse' in this stack's outputs; drills: database"):
        drill.run(
            "databse", {"drill_template_ids": {"database": "x"}, "site_url": "http://127.0.0.1:9"}, region="us-east-1"
        )


def test_a_drill_over_the_seeds_two_minute_budget_fails():
    probes = [drill.Probe(at=float(s), kind="write", ok=False) for s in range(130)]
    experiment = {"id": "e", "state": {"status": "completed"}}
    result = drill.summarize("database", experiment, probes, acknowledged=0, lost=0)
    assert (result.seconds_with_errors, result.passed) == (130, False)
    assert result.failures == ["130 s with errors, over the 120 s budget"]


def test_lab_figures_are_read_from_the_drill_report_table(tmp_path):
    doc = tmp_path / "resilience.md"
    doc.write_text(
        "| drill | requests | failed | seconds | end | back | acked / **lost** |\n|---|\n"
        "| `zone-loss` | 8019 | 1271 (503 lb: 1271) | 44 | 43.8 | 44.0 | 1354 / **0** | 0 / 0 |\n"
    )
    assert resilience_report.lab_figures(doc) == {
        "zone-loss": "lab drill `zone-loss`: 44 s with errors (last error 43.8 s after the fault), writes back after "
        "44.0 s, 0 of 1354 acknowledged orders lost (docs/resilience.md)"
    }
    assert resilience_report.lab_figures(tmp_path / "missing.md") == {}


def test_the_report_shows_a_lab_failover_figure_only_where_the_stack_has_a_standby(dev, prod):
    def database_row(rec: Recording, stack: str) -> resilience_report.Disruption:
        rows = resilience_report.report(rec, parse_settings(stack_config(stack), stack=stack))
        (row,) = [r for r in rows if r.disruption == "database primary lost"]
        return row

    assert "db-primary-kill" in database_row(prod, "prod").measured
    assert database_row(dev, "dev").measured == ""


@pytest.mark.servers
def test_drill_runner_measures_a_database_failover_on_the_lab(prod, moto_fis):
    """The lab (HAProxy as the ALB, three service instances, PostgreSQL primary + synchronous standby with its
    promotion agent) plays the deployed stack; moto's FIS plays the experiment, and the fault the experiment would
    cause on AWS (the writer lost) is injected into the lab one second after it starts."""
    if shutil.which("haproxy") is None or shutil.which("redis-server") is None:
        pytest.fail("haproxy and redis-server are needed: run `make servers`")
    with running_cluster(SHORT_HEALTH) as cluster:
        fault = threading.Timer(1.0, crash, args=(cluster.lab.primary,))
        fault.start()
        result = drill.run(
            "database", _deployed(prod, moto_fis, cluster.url), region="us-east-1", rate_per_second=10,
            recovery_window_seconds=10.0, poll_seconds=1.0,
        )  # fmt: skip
        fault.join()
        assert cluster.agent.failover is not None, "the promotion agent never failed over"
    assert result.experiment_status == "completed"
    assert result.writes_acknowledged > 10
    assert result.writes_lost == 0
    assert result.passed, drill.render(result)


def test_prod_load_balancer_is_registered_for_zonal_shift_and_the_group_stays_balanced(prod, dev):
    for rec in (prod, dev):
        (alb,) = rec.of_type("aws:lb/loadBalancer:LoadBalancer")
        assert alb.inputs["enableZonalShift"] is True
        (group,) = rec.of_type("aws:autoscaling/group:Group")
        assert group.inputs["availabilityZoneDistribution"] == {"capacityDistributionStrategy": "balanced-best-effort"}


# Every class of bad input through the component on its own: one line naming the argument, nothing declared.


@dataclass(frozen=True)
class AnOutput:
    """Stands for pulumi.Output.from_input(value), made inside the program (an Output needs the running engine)."""

    value: Any


def refused(given: Mapping[str, Any], name: str = "resilience") -> tuple[list[str], Recording]:
    """The problem lines of HaResilience(name, given) and what the program declared before refusing."""
    caught: list[options.ArgsError] = []

    def program() -> None:
        made = {k: pulumi.Output.from_input(v.value) if isinstance(v, AnOutput) else v for k, v in given.items()}
        try:
            HaResilience(name, made)  # type: ignore[arg-type]
        except options.ArgsError as err:
            caught.append(err)

    rec = build(program)
    assert caught, "the arguments were accepted"
    return caught[0].problems, rec


LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        ({"drill_minutes": "10"}, "HaResilience.drill_minutes: must be a whole number, got '10'"),
        ({"enable_network_drills": "no"}, "HaResilience.enable_network_drills: must be true or false, got 'no'"),
        (
            {"database_engine": "mysql"},
            "HaResilience.database_engine: must be one of aurora-postgresql, postgres, got 'mysql'",
        ),
        (
            {"availability_zones": AnOutput(ZONES3)},
            "HaResilience.availability_zones: must be a plain value known before deploy, not an Output: it decides "
            "what is declared",
        ),
        (
            {"drill_minutes": AnOutput(10)},
            "HaResilience.drill_minutes: must be a plain value known before deploy, not an Output: it decides what is "
            "declared",
        ),
        ({"availability_zones": []}, "HaResilience.availability_zones: need at least 2 distinct zones, got []"),
        ({"stop_alarm_arn": None}, "HaResilience.stop_alarm_arn: must be a string (or an Output of one), got None"),
        (
            {"zone_subnet_ids": {1: ["subnet-1"]}},
            "HaResilience.zone_subnet_ids: must be an object of lists of strings (or Outputs of them), got "
            "{1: ['subnet-1']}",
        ),
        ({"tags": {None: "x"}}, "HaResilience.tags: must be an object of strings, got {None: 'x'}"),
        (
            {"autoshift_blocked_windows": ["Fri:16:00-Mon:08:00"]},
            "HaResilience.autoshift_blocked_windows: every entry must be a weekly UTC window on one day such as "
            "Sat:00:00-Sat:23:59 (AWS supports no window across days), got 'Fri:16:00-Mon:08:00'",
        ),
        (
            {"autoshift_blocked_windows": ["Sat:10:00-Sat:09:00"]},
            "HaResilience.autoshift_blocked_windows: every window must end after it starts, got 'Sat:10:00-Sat:09:00'",
        ),
        (
            {"autoshift_blocked_windows": ["Sat:00:00-Sat:23:59"] * 16},
            "HaResilience.autoshift_blocked_windows: must have at most 15 entries (AWS's limit), got 16",
        ),
        (
            {"autoshift_blocked_dates": ["2026-02-30"]},
            "HaResilience.autoshift_blocked_dates: every entry must be a date YYYY-MM-DD such as 2026-12-24, got "
            "'2026-02-30'",
        ),
        (
            {"autoshift_blocked_dates": [LONG]},
            "HaResilience.autoshift_blocked_dates: every entry must be a date YYYY-MM-DD such as 2026-12-24, got "
            f"{options.shown(LONG)}",
        ),
        (
            {"availability_zones": ["us-east-1a", LONG]},
            "HaResilience.availability_zones: every entry must be a zone name such as us-east-1a, got "
            f"{options.shown(LONG)}",
        ),
        ({"drill_minutes": 721}, "HaResilience.drill_minutes: must be from 1 to 720 minutes, got 721"),
        (
            {"drill_minute": 5},
            "HaResilience.drill_minute: unknown argument (did you mean 'drill_minutes'?); known: alb_arn, asg_name,",
        ),
    ],
)
def test_each_class_of_bad_input_is_one_line_naming_the_argument_and_nothing_is_declared(bad, line):
    problems, rec = refused({**args(), **bad})
    assert [p for p in problems if p.startswith(line)] != [], problems
    assert all(len(p) < 600 for p in problems)
    assert [r.name for r in rec.resources if r.custom] == []


def test_a_name_that_makes_the_role_or_the_event_rule_name_too_long_for_aws_is_refused():
    """IAM role names take 64 characters (CreateRole RoleName), EventBridge rule names 64 (PutRule Name); Pulumi adds
    8 to the logical name."""
    (line,), rec = refused(args(), name="r" * 53)
    assert line.startswith("HaResilience.name: must be at most 52 characters: the IAM role Pulumi names")
    assert [r.name for r in rec.resources if r.custom] == []
    topic = "arn:aws:sns:us-east-1:123456789012:alarms"
    (line,), _ = refused(args(notification_topic_arn=topic), name="r" * 38)
    assert line.startswith("HaResilience.name: must be at most 37 characters: the EventBridge rule Pulumi names")
    assert build(lambda: HaResilience("r" * 52, args())).of_type(TEMPLATE)


def test_every_bad_argument_is_reported_in_one_error():
    problems, rec = refused(
        {
            **args(without=("database_cluster_identifier",)),
            "drill_minutes": 0,
            "autoshift_blocked_dates": ["24/12/2026"],
            "enable_network_drills": "yes",
            "cache_replication_group_id": None,
        }
    )
    assert [p.split(":")[0] for p in problems] == [
        "HaResilience.cache_replication_group_id",
        "HaResilience.enable_network_drills",
        "HaResilience.drill_minutes",
        "HaResilience.autoshift_blocked_dates",
        "HaResilience.database_cluster_identifier",
    ]
    assert [r.name for r in rec.resources if r.custom] == []


def test_the_stack_checks_its_own_keys_before_any_wiring_exists():
    """What the stack layer does with `ha-stack:resilience`: only the stack file's keys, the wiring skipped."""
    wiring = frozenset(ARGS.fields) - {
        "enable_zonal_autoshift",
        "autoshift_blocked_windows",
        "autoshift_blocked_dates",
        "enable_network_drills",
        "drill_minutes",
    }
    problems = options.Problems("ha-stack:resilience.")
    checked = check({"drill_minutes": 5, "autoshift_blocked_windows": WEEKEND}, problems, skip=wiring)
    assert problems.lines == []
    assert (checked["drill_minutes"], checked["enable_zonal_autoshift"], checked["autoshift_blocked_windows"]) == (
        5,
        True,
        WEEKEND,
    )
    check({"drill_minutes": 0, "vpc_id": "vpc-1"}, problems, skip=wiring)
    assert problems.lines == [
        "ha-stack:resilience.vpc_id: is set by the stack from the other tiers, not in the stack file",
        "ha-stack:resilience.drill_minutes: must be from 1 to 720 minutes, got 0",
    ]


def test_the_stack_helpers_old_imports_still_hold():
    """stack/settings.py imports these until it reads ha-stack:resilience through ARGS."""
    assert re.fullmatch(AUTOSHIFT_WINDOW, "Sat:00:00-Sat:23:59")
    assert not re.fullmatch(AUTOSHIFT_WINDOW, "Fri:16:00-Mon:08:00")
    assert re.fullmatch(AUTOSHIFT_DATE, "2026-12-24")
    assert DRILL_MINUTES_RANGE == (1, 720)


# --- Region loss (issue 16): read from a recording with a standby region. The report is proved on a recording built
# here from one-region prod's own resources (every fact controlled), then read off prod itself (dr on).

STANDBY_REGION = "us-west-2"
STANDBY_TIERS = {"HaNetwork", "HaWebTier", "HaWebFleet", "HaDatabase", "HaCache", "HaMonitoring"}
"""The components the standby region gets (stack/regional.py places the same ones, plus runtime config)."""


def _copy(r: RecordedResource, urns: dict[str, str], provider: str, **inputs: Any) -> RecordedResource:
    """A resource of the standby: another URN and name, the standby provider, the standby's zones."""
    body = json.loads(json.dumps(r.inputs, default=str).replace("us-east-1", STANDBY_REGION))
    return replace(
        r,
        name=f"{r.name}-standby",
        urn=urns[r.urn],
        parent=urns.get(r.parent, r.parent),
        inputs={**body, **inputs},
        provider=provider if r.custom else "",
    )


def with_standby(rec: Recording, *, fleet_min: int) -> Recording:
    """prod's recording plus a standby region: the same tiers under an aws.Provider for us-west-2 (fleet min
    `fleet_min`: 0 is a pilot light), an Aurora global cluster over both clusters, the static bucket replicated with
    RTC, failover records on origin-write with a health check on the primary's origin, and the standby's RPO alarm."""
    stack_urn = rec.components()[0].parent
    provider = RecordedResource(
        "pulumi:providers:aws", "standby", "urn:standby-provider", stack_urn, {"region": STANDBY_REGION}, {},
        "standby-provider-id", True, False, [], False,
    )  # fmt: skip
    ref = f"{provider.urn}::{provider.id}"
    roots = [c for c in rec.components() if c.typ.split(":")[-1] in STANDBY_TIERS]
    family: list[RecordedResource] = []
    frontier = {c.urn for c in roots}
    for r in rec.resources:  # registration order: a parent comes before its children
        if r.urn in frontier or r.parent in frontier:
            frontier.add(r.urn)
            family.append(r)
    urns = {r.urn: f"{r.urn}-standby" for r in family}
    copies: list[RecordedResource] = []
    for r in family:
        changed: dict[str, Any] = {}
        if r.typ == "aws:autoscaling/group:Group":
            changed = {"minSize": fleet_min, "desiredCapacity": fleet_min}
        if r.typ == "aws:rds/cluster:Cluster":
            changed = {"globalClusterIdentifier": "ha-stack-prod-global"}
        copies.append(_copy(r, urns, ref, **changed))
    (cluster,) = rec.of_type("aws:rds/cluster:Cluster")
    primary_cluster = replace(cluster, inputs={**cluster.inputs, "globalClusterIdentifier": "ha-stack-prod-global"})
    extra = [
        provider,
        RecordedResource(
            "aws:rds/globalCluster:GlobalCluster", "db-global", "urn:db-global", stack_urn,
            {"globalClusterIdentifier": "ha-stack-prod-global", "engine": "aurora-postgresql"},
            {"globalClusterIdentifier": "ha-stack-prod-global"}, "ha-stack-prod-global", True, True, [], False,
        ),
        RecordedResource(
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "static-replication", "urn:static-repl",
            stack_urn,
            {"bucket": "edge-static-id", "rules": [{"id": "every-object", "destination": {
                "bucket": "arn:aws:s3:::static-replica-id", "replicationTime": {"status": "Enabled"}}}]},
            {}, "static-replication-id", True, False, [], False,
        ),
        RecordedResource(
            "aws:route53/healthCheck:HealthCheck", "dns-primary", "urn:hc-primary", stack_urn,
            {"type": "HTTPS", "fqdn": "origin.example.com", "resourcePath": "/health", "failureThreshold": 3,
             "requestInterval": 30}, {}, "hc-primary", True, False, [], False,
        ),
        RecordedResource(
            "aws:route53/record:Record", "dns-write-primary", "urn:rec-primary", stack_urn,
            {"name": "origin-write.example.com", "type": "A", "healthCheckId": "hc-primary",
             "failoverRoutingPolicies": [{"type": "PRIMARY"}]}, {}, "rec-primary", True, False, [], False,
        ),
        RecordedResource(
            "aws:route53/record:Record", "dns-write-secondary", "urn:rec-secondary", stack_urn,
            {"name": "origin-write.example.com", "type": "A", "failoverRoutingPolicies": [{"type": "SECONDARY"}]},
            {}, "rec-secondary", True, False, [], False,
        ),
    ]  # fmt: skip
    monitoring = [c for c in copies if c.typ == "ha-stack:index:HaMonitoring"]
    rpo = RecordedResource(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-standby-global-db-rpo-lag", "urn:rpo",
        monitoring[0].urn if monitoring else stack_urn,
        {"metricName": "AuroraGlobalDBRPOLag", "namespace": "AWS/RDS", "threshold": 30000.0,
         "tags": {"ha-stack:tier": "standby"}}, {}, "rpo", True, False, [], False, provider=ref,
    )  # fmt: skip
    resources = [primary_cluster if r is cluster else r for r in rec.resources]
    return Recording([*resources, *extra, *copies, rpo], rec.exports, rec.invokes)


ONE_REGION = stack_config("prod", dr=None)
"""prod's stack file without its `dr` setting."""


@pytest.fixture(scope="module")
def one_region() -> Recording:
    return run_stack("prod", ONE_REGION)


@pytest.fixture(scope="module")
def warm(one_region: Recording) -> Recording:
    return with_standby(one_region, fleet_min=3)


def region_row(rec: Recording, config: dict[str, Any] = ONE_REGION) -> resilience_report.Disruption:
    rows = resilience_report.report(rec, parse_settings(config, stack="prod"))
    (row,) = [r for r in rows if r.category == "Region"]
    return row


def test_with_a_warm_standby_a_region_loss_is_minutes_and_seconds_of_data(warm, one_region):
    row = region_row(warm)
    assert row.disruption == "Region lost (us-west-2 takes over)"
    # promotion (AWS: "order of minutes", taken as 300 s) + 3 failed checks x 30 s + the alias's 60 s TTL
    assert row.rto_seconds == 300 + 90 + 60
    assert row.rpo_seconds == 1  # "typically measured in seconds"
    assert "the standby alarms above 30 s" in row.basis
    assert "RTC bounds the replica at 900 s" in row.basis
    assert any("cache (3 node(s), empty" in a for a in row.assumptions)
    assert not any("the fleet: no instance runs" in a for a in row.assumptions)
    # the in-region rows read the stack's own region, as without a standby
    settings = parse_settings(ONE_REGION, stack="prod")
    before = {r.disruption: r for r in resilience_report.report(one_region, settings)}
    after = {r.disruption: r for r in resilience_report.report(warm, settings)}
    for name in ("one instance lost", "one AZ lost", "database primary lost", "cache primary lost"):
        assert after[name] == before[name], name


def test_a_pilot_light_adds_the_fleets_boot_and_says_the_fleet_is_cold(one_region, warm):
    pilot = region_row(with_standby(one_region, fleet_min=0))
    assert pilot.rto_seconds is not None
    assert region_row(warm).rto_seconds is not None
    boot = pilot.rto_seconds - region_row(warm).rto_seconds  # type: ignore[operator]
    assert boot >= resilience_report.MEASURED_BOOT_SECONDS  # the measured boot, plus detection and healthy checks
    assert "pilot light in us-west-2" in pilot.basis
    assert any("the fleet: no instance runs until the failover scales it out" in a for a in pilot.assumptions)


def test_what_the_standby_keeps_running_is_counted_from_its_resources(warm):
    (assumption,) = [a for a in region_row(warm).assumptions if a.startswith("kept running")]
    launch = next(r for r in warm.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.name.endswith("-standby"))
    assert f"3 x EC2 {launch.inputs['instanceType']} instance = 2190 hours/month" in assumption
    assert "1 x Application Load Balancer = 730 hours/month" in assumption
    assert "3 x NAT gateway = 2190 hours/month" in assumption


def test_without_a_standby_the_region_row_says_so(one_region, dev):
    row = region_row(one_region)
    assert (row.disruption, row.rto_seconds, row.rpo_seconds) == ("Region lost", None, None)
    row = region_row(dev, stack_config("dev"))
    assert (row.disruption, row.rto_seconds, row.rpo_seconds) == ("Region lost", None, None)


def test_the_ha_summary_reads_each_region_and_adds_the_pair(warm, one_region):
    tiers = {s.tier: s for s in summarize(warm)}
    assert summarize(one_region) == [s for s in summarize(warm) if "standby" not in s.tier]  # the primary, unchanged
    web = tiers["web (standby us-west-2)"]
    assert web.zones == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert "capacity min 3 / desired 3" in " ".join(web.facts)
    pair = tiers["disaster recovery (standby us-west-2)"]
    facts = "\n".join(pair.facts)
    assert "warm standby in us-west-2: " in facts
    members = "database-cluster (primary region), database-cluster-standby (us-west-2, secondary)"
    assert f"Aurora global database ha-stack-prod-global: {members}" in facts
    assert "every-object, RTC: 99.99% within 15 min" in facts
    assert "origin-write.example.com PRIMARY (health-checked)" in facts
    assert pair.single_points_of_failure == []


@pytest.fixture(scope="module")
def prod_whole() -> Recording:
    """prod as its stack file defines it: both regions."""
    return run_stack("prod")


def test_prod_with_dr_on_reports_the_region_loss_from_its_standby(prod_whole):
    """The same facts off prod itself, whose stack file turns dr on (us-east-1 -> us-west-2, warm standby)."""
    prod = prod_whole
    row = region_row(prod, stack_config("prod"))
    assert row.disruption == "Region lost (us-west-2 takes over)"
    assert row.rto_seconds is not None
    assert row.rto_seconds >= resilience_report.GLOBAL_PROMOTION_SECONDS
    assert row.rpo_seconds == 1
    assert "warm standby in us-west-2" in row.basis
    tiers = {s.tier for s in summarize(prod)}
    assert {"web (standby us-west-2)", "database (standby us-west-2)", "disaster recovery (standby us-west-2)"} <= tiers


def test_rds_postgresql_pair_has_no_standby_database_and_the_report_says_so():
    config = stack_config("prod", database={"engine": "postgres", "reader_count": 0, "multi_az": True})
    del config["ha-stack:database"]["reader_autoscaling_max"]  # Aurora's
    rec = run_stack("prod", config)
    row = region_row(rec, config)
    assert (row.rto_seconds, row.rpo_seconds) == (None, None)
    assert "no standby database (RDS PostgreSQL: recovery is a point-in-time restore in the standby; automated " \
        "backups replicated to us-west-2)" in row.basis  # fmt: skip
    (pair,) = [s for s in summarize(rec) if s.tier.startswith("disaster recovery")]
    assert "no standby database: a region loss waits for a restore" in pair.single_points_of_failure
