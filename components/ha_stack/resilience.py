"""HaResilience: fault-injection drills as code, each stopped by the service's own alarm, run by a role that may do
exactly what the drills do to exactly this stack's resources; and, for the load balancer, zonal autoshift whose weekly
practice runs the same alarm judges.

Every FIS action id, parameter, target resource type, target parameter and permission below is taken from the AWS
FIS user guide: "AWS FIS Actions reference" (fis-actions-reference) and "Targets for AWS FIS" (targets). Templates
are free to keep; FIS charges per action-minute of an experiment that runs, so dev keeps the same templates.
"""

import json
import re
from dataclasses import dataclass
from functools import partial
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import checks
from ha_stack.database import DatabaseEngine
from ha_stack.iam import Account, Statement, caller_account, policy_document
from ha_stack.naming import az_letter, component_tags, type_token

COMPONENT = "HaResilience"
ASG_TAG = "aws:autoscaling:groupName"
"""The tag Auto Scaling puts on every instance it launches: drills select (and the role may touch) only the group's."""
FIS_MANAGED_TAG = "managedByFIS"
"""The tag FIS puts on the network ACL it clones for aws:network:disrupt-connectivity."""

FIS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "aws:ec2:terminate-instances": ("ec2:TerminateInstances", "ec2:DescribeInstances"),
    "aws:ec2:stop-instances": ("ec2:StopInstances", "ec2:StartInstances", "ec2:DescribeInstances", "kms:CreateGrant"),
    "aws:rds:failover-db-cluster": ("rds:FailoverDBCluster", "rds:DescribeDBClusters", "tag:GetResources"),
    "aws:rds:reboot-db-instances": ("rds:RebootDBInstance", "rds:DescribeDBInstances", "tag:GetResources"),
    "aws:elasticache:replicationgroup-interrupt-az-power": (
        "elasticache:InterruptClusterAzPower",
        "elasticache:DescribeReplicationGroups",
        "tag:GetResources",
    ),
    "aws:network:disrupt-connectivity": (
        "ec2:CreateNetworkAcl",
        "ec2:CreateNetworkAclEntry",
        "ec2:CreateTags",
        "ec2:DeleteNetworkAcl",
        "ec2:DescribeManagedPrefixLists",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ec2:GetManagedPrefixListEntries",
        "ec2:ReplaceNetworkAclAssociation",
    ),
}
"""Each action's "Permissions" list in the FIS actions reference. stop-instances' ec2:DescribeInstances is needed with
completeIfInstancesTerminated and kms:CreateGrant with startInstancesAfterDuration for encrypted volumes; both are
set here."""

DRILL_MINUTES_RANGE = (1, 720)
"""FIS durations run "from one minute to 12 hours"."""
AUTOSHIFT_WINDOW = (
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d-(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d"
)
"""`Day:HH:MM-Day:HH:MM` (pulumi-aws arczonalshift.ZonalAutoshiftConfiguration.blocked_windows)."""
AUTOSHIFT_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
"""`YYYY-MM-DD` (blocked_dates)."""


class HaResilienceArgs(TypedDict):
    """Inputs for HaResilience: what the drills target and which alarm stops them."""

    availability_zones: list[str]
    """The stack's zones; one AZ drill of each kind per zone."""
    stop_alarm_arn: pulumi.Input[str]
    """The alarm that stops every experiment and ends every practice run when it fires: the service's composite
    "service degraded" alarm (HaMonitoring.composite_alarm_arn)."""
    asg_name: pulumi.Input[str]
    """The web tier's Auto Scaling group (HaWebFleet.asg_name): instance drills select its instances by the
    aws:autoscaling:groupName tag, and the role may stop or terminate only those."""
    vpc_id: pulumi.Input[str]
    """The stack's VPC: the network drill's cloned network ACLs may be created only there."""
    zone_subnet_ids: dict[str, list[pulumi.Input[str]]]
    """Zone -> every subnet of the stack in that zone (public, app, data): the network drill cuts exactly these."""
    database_engine: NotRequired[DatabaseEngine]
    """aurora-postgresql: the drill is a cluster failover; postgres: a reboot (with failover when Multi-AZ).
    Default aurora-postgresql."""
    database_cluster_identifier: NotRequired[pulumi.Input[str]]
    """The Aurora cluster (HaDatabase.cluster_identifier); needed for aurora-postgresql."""
    database_instance_identifier: NotRequired[pulumi.Input[str]]
    """The RDS primary instance (first of HaDatabase.instance_identifiers); needed for postgres."""
    database_multi_az: NotRequired[bool]
    """postgres only: whether the primary has a standby, so the reboot forces a failover. Default true."""
    cache_replication_group_id: NotRequired[pulumi.Input[str]]
    """The cache's replication group (HaCache.replication_group_id); without it there is no cache drill."""
    cache_target_tags: NotRequired[dict[str, str]]
    """Tags only this stack's replication group carries (all must match): FIS selects a replication group for the AZ
    power action by tags with its availabilityZoneIdentifier parameter. Needed with cache_replication_group_id."""
    cache_availability_zones: NotRequired[list[str]]
    """Zones holding a cache node; one AZ power drill per zone. The action needs Multi-AZ, so give none for a
    single-node cache. Default none."""
    enable_network_drills: NotRequired[bool]
    """One drill per zone that cuts the zone's subnets off (aws:network:disrupt-connectivity, scope all).
    Default true."""
    drill_minutes: NotRequired[int]
    """How long AZ faults last (stopped instances, cache power, network cut), 1 to 720. Default 10."""
    alb_arn: NotRequired[pulumi.Input[str]]
    """The load balancer (HaWebTier.alb_arn), registered for zonal shift: with it, zonal autoshift is configured."""
    enable_zonal_autoshift: NotRequired[bool]
    """Let AWS shift traffic away from an impaired AZ and run weekly practice runs judged by stop_alarm_arn
    (needs alb_arn). Default true."""
    autoshift_blocked_windows: NotRequired[list[str]]
    """Weekly windows (UTC) with no practice run, `Day:HH:MM-Day:HH:MM`, e.g. `Fri:16:00-Mon:08:00`. Default none."""
    autoshift_blocked_dates: NotRequired[list[str]]
    """Dates (UTC) with no practice run, `YYYY-MM-DD`. Default none."""
    notification_topic_arn: NotRequired[pulumi.Input[str]]
    """Topic that gets every ARC zonal shift event of the account and region (practice runs started, failed or
    succeeded, autoshifts, FIS-started and manual shifts) through an EventBridge rule: the alarm topic
    (HaMonitoring.topic_arn), whose policy must let EventBridge publish. Default none."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every template, the role and the rule. Default none."""


@dataclass(frozen=True)
class ResiliencePlan:
    """HaResilienceArgs with defaults applied and every plain value checked."""

    zones: list[str]
    engine: DatabaseEngine
    database_multi_az: bool
    cache_zones: list[str]
    network_drills: bool
    drill_minutes: int
    autoshift: bool
    blocked_windows: list[str]
    blocked_dates: list[str]
    tags: dict[str, str]

    @property
    def duration(self) -> str:
        """The AZ faults' duration in ISO 8601, as FIS takes it (PT10M)."""
        return f"PT{self.drill_minutes}M"

    def drills(self) -> list[str]:
        """Every drill's name, as the experiment templates are keyed (and `python -m stack.drill` takes them)."""
        names = ["instance", *(f"az-instances-{az_letter(z)}" for z in self.zones), "database"]
        names += [f"cache-az-power-{az_letter(z)}" for z in self.cache_zones]
        if self.network_drills:
            names += [f"network-{az_letter(z)}" for z in self.zones]
        return names


_fail = partial(checks.fail, COMPONENT)


def _zones(args: HaResilienceArgs) -> list[str]:
    zones = args.get("availability_zones")
    if not isinstance(zones, list) or len(zones) < 2 or len(set(zones)) != len(zones):
        raise _fail("availability_zones", f"need at least 2 distinct zones, got {zones!r}")
    for zone in zones:
        try:
            az_letter(zone)
        except ValueError as err:
            raise _fail("availability_zones", str(err)) from None
    subnets = args.get("zone_subnet_ids")
    if not isinstance(subnets, dict) or sorted(subnets) != sorted(zones) or not all(subnets.values()):
        given = sorted(subnets) if isinstance(subnets, dict) else subnets
        raise _fail("zone_subnet_ids", f"need at least one subnet for each of {zones}, got zones {given!r}")
    return list(zones)


def _database(args: HaResilienceArgs) -> tuple[DatabaseEngine, bool]:
    engine = checks.choice(
        COMPONENT, "database_engine", args.get("database_engine", "aurora-postgresql"), DatabaseEngine
    )
    needed = (
        "database_cluster_identifier" if engine is DatabaseEngine.AURORA_POSTGRESQL else "database_instance_identifier"
    )
    if args.get(needed) is None:
        raise _fail(needed, f"needed for database_engine {engine.value} (the database drill's target)")
    return engine, checks.boolean(COMPONENT, args, "database_multi_az", True)


def _cache_zones(args: HaResilienceArgs, zones: list[str]) -> list[str]:
    cache_zones = args.get("cache_availability_zones") or []
    if not cache_zones:
        return []
    if not isinstance(cache_zones, list) or not set(cache_zones) <= set(zones) or len(cache_zones) < 2:
        raise _fail(
            "cache_availability_zones",
            f"need at least 2 of availability_zones {zones} (the AZ power action needs Multi-AZ), got {cache_zones!r}",
        )
    if args.get("cache_replication_group_id") is None or not args.get("cache_target_tags"):
        raise _fail("cache_availability_zones", "needs cache_replication_group_id and cache_target_tags")
    return list(cache_zones)


def _texts(args: HaResilienceArgs, field: str, pattern: str, example: str) -> list[str]:
    values = args.get(field) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and re.fullmatch(pattern, v) for v in values):
        raise _fail(field, f"every entry must look like {example}, got {values!r}")
    return list(values)


def _stop_alarm(args: HaResilienceArgs) -> None:
    """A drill without a stop condition is what the issue set out to avoid: a plain value must be an alarm ARN."""
    alarm = args.get("stop_alarm_arn")
    if alarm is None or (
        isinstance(alarm, str) and not re.fullmatch(r"arn:[^:]+:cloudwatch:[^:]+:\d{12}:alarm:.+", alarm)
    ):
        raise _fail(
            "stop_alarm_arn",
            f"must be a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>), got {alarm!r}",
        )


def plan(args: HaResilienceArgs) -> ResiliencePlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    _stop_alarm(args)
    zones = _zones(args)
    engine, multi_az = _database(args)
    autoshift = checks.boolean(COMPONENT, args, "enable_zonal_autoshift", True) and args.get("alb_arn") is not None
    return ResiliencePlan(
        zones=zones,
        engine=engine,
        database_multi_az=multi_az,
        cache_zones=_cache_zones(args, zones),
        network_drills=checks.boolean(COMPONENT, args, "enable_network_drills", True),
        drill_minutes=checks.integer(COMPONENT, args, "drill_minutes", 10, *DRILL_MINUTES_RANGE),
        autoshift=autoshift,
        blocked_windows=_texts(args, "autoshift_blocked_windows", AUTOSHIFT_WINDOW, "Fri:16:00-Mon:08:00"),
        blocked_dates=_texts(args, "autoshift_blocked_dates", AUTOSHIFT_DATE, "2026-12-24"),
        tags=dict(args.get("tags") or {}),
    )


@dataclass(frozen=True)
class Drill:
    """One experiment template: a fault, its FIS action and parameters, and its one target."""

    name: str
    description: str
    action_id: str
    target_key: str
    """The action's target key for this resource type (Instances, Clusters, DBInstances, ReplicationGroups,
    Subnets)."""
    target: dict[str, Any]
    parameters: dict[str, str]


def _arn(account: Account, service: str, resource: pulumi.Input[str]) -> pulumi.Output[str]:
    """arn:<partition>:<service>:<region>:<account>:<resource>."""
    return pulumi.Output.concat(
        "arn:", account.partition, ":", service, ":", account.region, ":", account.account_id, ":", resource
    )


class HaResilience(pulumi.ComponentResource):
    """FIS experiment templates for every fault the stack must survive, and zonal autoshift for the load balancer.

    Run a drill with `aws fis start-experiment --experiment-template-id <experiment_template_ids[drill]>` (or
    `python -m stack.drill`); it stops by itself when stop_alarm_arn goes into ALARM.
    """

    role_arn: pulumi.Output[str]
    """The role FIS assumes for every drill."""
    experiment_template_ids: pulumi.Output[dict[str, str]]
    """Drill name -> experiment template id (instance, az-instances-<letter>, database, cache-az-power-<letter>,
    network-<letter>)."""
    autoshift_status: pulumi.Output[str]
    """ENABLED or DISABLED (DISABLED when no load balancer was given)."""

    def __init__(self, name: str, args: HaResilienceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args)
        self._name, self._plan, self._args = name, p, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._account = caller_account(self)
        drills = self._drills()
        role = aws.iam.Role(
            f"{name}-fis",
            description="AWS FIS runs the stack's drills with this role",
            assume_role_policy=self._trust(),
            tags=self._tags(f"{name}-fis"),
            opts=self._child,
        )
        policy = aws.iam.RolePolicy(f"{name}-fis-drills", role=role.id, policy=self._policy(drills), opts=self._child)
        after_policy = pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[policy]))
        templates = {d.name: self._template(d, role.arn, after_policy).id for d in drills}
        self.role_arn = role.arn
        self.experiment_template_ids = pulumi.Output.all(**templates)
        self.autoshift_status = self._autoshift()
        self._notifications()
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "experiment_template_ids": self.experiment_template_ids,
                "autoshift_status": self.autoshift_status,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags(COMPONENT, self._plan.tags, name=name)

    def _drills(self) -> list[Drill]:
        """The instance, per-AZ instance, database, per-AZ cache and per-AZ network drills, in that order."""
        p, args = self._plan, self._args
        instances = {
            "resource_type": "aws:ec2:instance",
            "resource_tags": [{"key": ASG_TAG, "value": args["asg_name"]}],
        }
        running = {"path": "State.Name", "values": ["running"]}
        drills = [
            Drill(
                "instance",
                "terminate one web instance; the group replaces it",
                "aws:ec2:terminate-instances",
                "Instances",
                {**instances, "filters": [running], "selection_mode": "COUNT(1)"},
                {},
            ),
        ]
        for zone in p.zones:
            in_zone = {"path": "Placement.AvailabilityZone", "values": [zone]}
            drills.append(
                Drill(
                    f"az-instances-{az_letter(zone)}",
                    f"stop every web instance in {zone} for {p.duration}",
                    "aws:ec2:stop-instances",
                    "Instances",
                    {**instances, "filters": [running, in_zone], "selection_mode": "ALL"},
                    # The group replaces instances its ELB health check finds stopped: that is not a failure.
                    {"startInstancesAfterDuration": p.duration, "completeIfInstancesTerminated": "true"},
                )
            )
        drills.append(self._database_drill())
        for zone in p.cache_zones:
            drills.append(
                Drill(
                    f"cache-az-power-{az_letter(zone)}",
                    f"cut the cache nodes' power in {zone} for {p.duration}",
                    "aws:elasticache:replicationgroup-interrupt-az-power",
                    "ReplicationGroups",
                    {
                        "resource_type": "aws:elasticache:replicationgroup",
                        "resource_tags": [{"key": k, "value": v} for k, v in sorted(args["cache_target_tags"].items())],
                        "parameters": {"availabilityZoneIdentifier": zone},
                        "selection_mode": "ALL",
                    },
                    {"duration": p.duration},
                )
            )
        if p.network_drills:
            for zone in p.zones:
                subnets = [
                    _arn(self._account, "ec2", pulumi.Output.concat("subnet/", s))
                    for s in args["zone_subnet_ids"][zone]
                ]
                drills.append(
                    Drill(
                        f"network-{az_letter(zone)}",
                        f"cut every subnet in {zone} off for {p.duration}",
                        "aws:network:disrupt-connectivity",
                        "Subnets",
                        {"resource_type": "aws:ec2:subnet", "resource_arns": subnets, "selection_mode": "ALL"},
                        {"scope": "all", "duration": p.duration},
                    )
                )
        return drills

    def _database_drill(self) -> Drill:
        p, args = self._plan, self._args
        if p.engine is DatabaseEngine.AURORA_POSTGRESQL:
            cluster = _arn(self._account, "rds", pulumi.Output.concat("cluster:", args["database_cluster_identifier"]))
            return Drill(
                "database",
                "fail the Aurora writer over to a reader in another AZ",
                "aws:rds:failover-db-cluster",
                "Clusters",
                {"resource_type": "aws:rds:cluster", "resource_arns": [cluster], "selection_mode": "ALL"},
                {},
            )
        db = _arn(self._account, "rds", pulumi.Output.concat("db:", args["database_instance_identifier"]))
        failover = "true" if p.database_multi_az else "false"
        what = "reboot the primary with a failover to its standby" if p.database_multi_az else "reboot the primary"
        return Drill(
            "database",
            what,
            "aws:rds:reboot-db-instances",
            "DBInstances",
            {"resource_type": "aws:rds:db", "resource_arns": [db], "selection_mode": "ALL"},
            {"forceFailover": failover},
        )

    def _trust(self) -> pulumi.Output[str]:
        """Only FIS, and only for experiments of this account (the confused-deputy conditions AWS Resilience Hub's
        "Orchestrator account role" page gives for FIS: aws:SourceAccount and aws:SourceArn)."""
        values = pulumi.Output.all(partition=self._account.partition, account=self._account.account_id)
        return values.apply(
            lambda v: policy_document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "fis.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": v["account"]},
                        "ArnLike": {"aws:SourceArn": f"arn:{v['partition']}:fis:*:{v['account']}:experiment/*"},
                    },
                }
            )
        )

    def _policy(self, drills: list[Drill]) -> pulumi.Output[str]:
        """Exactly the permissions of the actions the drills use, on this stack's resources where IAM can say so."""
        a, args = self._account, self._args
        used = {d.action_id for d in drills}
        refs: dict[str, pulumi.Input[Any]] = {
            "partition": a.partition,
            "region": a.region,
            "account": a.account_id,
            "asg": args["asg_name"],
            "vpc": args["vpc_id"],
            "subnets": [s for zone in self._plan.zones for s in args["zone_subnet_ids"][zone]],
            "cluster": args.get("database_cluster_identifier") or "",
            "db": args.get("database_instance_identifier") or "",
            "cache": args.get("cache_replication_group_id") or "",
        }
        return pulumi.Output.all(**refs).apply(lambda v: policy_document(*fis_statements(used, v)))

    def _template(
        self, drill: Drill, role_arn: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> aws.fis.ExperimentTemplate:
        action = aws.fis.ExperimentTemplateActionArgs(
            name=drill.name,
            action_id=drill.action_id,
            description=drill.description,
            target=aws.fis.ExperimentTemplateActionTargetArgs(key=drill.target_key, value="targets"),
            parameters=[
                aws.fis.ExperimentTemplateActionParameterArgs(key=k, value=v) for k, v in drill.parameters.items()
            ]
            or None,
        )
        stop = aws.fis.ExperimentTemplateStopConditionArgs(
            source="aws:cloudwatch:alarm", value=self._args["stop_alarm_arn"]
        )
        return aws.fis.ExperimentTemplate(
            f"{self._name}-{drill.name}",
            description=f"{self._name}: {drill.description}",
            role_arn=role_arn,
            stop_conditions=[stop],
            targets=[aws.fis.ExperimentTemplateTargetArgs(name="targets", **drill.target)],
            actions=[action],
            # An empty target set fails the experiment instead of "passing" a drill that did nothing.
            experiment_options=aws.fis.ExperimentTemplateExperimentOptionsArgs(
                account_targeting="single-account", empty_target_resolution_mode="fail"
            ),
            tags=self._tags(f"{self._name}-{drill.name}"),
            opts=opts,
        )

    def _notifications(self) -> None:
        """Zonal shift events (practice runs, autoshifts) go to the notification topic."""
        topic = self._args.get("notification_topic_arn")
        if topic is None:
            return
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-zonal-shift-events",
            description=f"{self._name}: ARC zonal shift and autoshift practice-run events to the alarm topic",
            event_pattern=json.dumps(ZONAL_SHIFT_EVENTS),
            tags=self._tags(f"{self._name}-zonal-shift-events"),
            opts=self._child,
        )
        aws.cloudwatch.EventTarget(f"{self._name}-zonal-shift-events", rule=rule.name, arn=topic, opts=self._child)

    def _autoshift(self) -> pulumi.Output[str]:
        """Zonal autoshift with practice runs whose outcome alarm is the stop alarm, when a load balancer is given."""
        p, args = self._plan, self._args
        alb = args.get("alb_arn")
        if alb is None:
            return pulumi.Output.from_input("DISABLED")
        status = "ENABLED" if p.autoshift else "DISABLED"
        config = aws.arczonalshift.ZonalAutoshiftConfiguration(
            f"{self._name}-autoshift",
            resource_arn=alb,
            zonal_autoshift_status=status,
            outcome_alarms=[{"type": "CLOUDWATCH", "alarm_identifier": args["stop_alarm_arn"]}],
            blocking_alarms=[{"type": "CLOUDWATCH", "alarm_identifier": args["stop_alarm_arn"]}],
            blocked_windows=p.blocked_windows or None,
            blocked_dates=p.blocked_dates or None,
            opts=self._child,
        )
        return config.zonal_autoshift_status


ZONAL_SHIFT_EVENTS = {"source": ["aws.arc-zonal-shift"]}
"""Every event ARC zonal shift sends to EventBridge (the EventBridge events reference lists Practice Run
Started/Interrupted/Failed/Succeeded, Autoshift In Progress/Completed, FIS Experiment Autoshift ... and Manual
Shift ...). Autoshifts of AZs that hold none of the account's configured resources arrive only with the account's
autoshift observer notification on, an account-wide setting this component leaves to the account's owner."""


def fis_statements(used: set[str], v: dict[str, Any]) -> list[Statement]:
    """IAM statements for the FIS actions in `used`, scoped to the resolved resources `v`.

    Describe calls and tag:GetResources take no resource-level scope in IAM, so they are on "*"; every call that
    changes something names this stack's instances (by their group tag), cluster, instance, replication group, VPC or
    subnets, or a network ACL FIS made and tagged managedByFIS (the managed policy
    AWSFaultInjectionSimulatorNetworkAccess scopes the network calls the same way).
    """
    arn = f"arn:{v['partition']}:{{}}:{v['region']}:{v['account']}:{{}}"
    ec2 = partial(arn.format, "ec2")
    statements: list[Statement] = []
    describe: set[str] = set()

    def allow(
        sid: str, actions: list[str], resources: list[str] | str, condition: dict[str, Any] | None = None
    ) -> None:
        statement: Statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
        if condition:
            statement["Condition"] = condition
        statements.append(statement)

    instance_calls = sorted(
        ({"ec2:TerminateInstances"} if "aws:ec2:terminate-instances" in used else set())
        | ({"ec2:StopInstances", "ec2:StartInstances"} if "aws:ec2:stop-instances" in used else set())
    )
    if instance_calls:
        allow(
            "GroupInstances",
            instance_calls,
            ec2("instance/*"),
            {"StringEquals": {f"aws:ResourceTag/{ASG_TAG}": v["asg"]}},
        )
        describe.add("ec2:DescribeInstances")
    if "aws:ec2:stop-instances" in used:
        allow(
            "RestartEncryptedVolumes",
            ["kms:CreateGrant"],
            arn.format("kms", "key/*"),
            {
                "StringEquals": {"kms:ViaService": f"ec2.{v['region']}.amazonaws.com"},
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        )
    if "aws:rds:failover-db-cluster" in used:
        allow("FailoverCluster", ["rds:FailoverDBCluster"], arn.format("rds", f"cluster:{v['cluster']}"))
        describe.update({"rds:DescribeDBClusters", "tag:GetResources"})
    if "aws:rds:reboot-db-instances" in used:
        allow("RebootPrimary", ["rds:RebootDBInstance"], arn.format("rds", f"db:{v['db']}"))
        describe.update({"rds:DescribeDBInstances", "tag:GetResources"})
    if "aws:elasticache:replicationgroup-interrupt-az-power" in used:
        allow(
            "InterruptCachePower",
            ["elasticache:InterruptClusterAzPower"],
            arn.format("elasticache", f"replicationgroup:{v['cache']}"),
        )
        describe.update({"elasticache:DescribeReplicationGroups", "tag:GetResources"})
    if "aws:network:disrupt-connectivity" in used:
        statements += _network_statements(ec2, v)
        describe.update(
            {"ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVpcs"}
        )
    if describe:
        allow("DescribeAndResolveTargets", sorted(describe), "*")
    return statements


def _network_statements(ec2: Any, v: dict[str, Any]) -> list[Statement]:
    """The cloned-ACL calls of aws:network:disrupt-connectivity, on this VPC and these subnets only."""
    fis_tag = {"StringEquals": {f"aws:RequestTag/{FIS_MANAGED_TAG}": "true"}}
    fis_made = {"StringEquals": {f"ec2:ResourceTag/{FIS_MANAGED_TAG}": "true"}}
    acls, vpc = ec2("network-acl/*"), ec2(f"vpc/{v['vpc']}")
    prefix_lists = f"arn:{v['partition']}:ec2:{v['region']}:*:prefix-list/*"
    return [
        {
            "Sid": "CreateFisAcl",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkAcl"],
            "Resource": acls,
            "Condition": fis_tag,
        },
        {"Sid": "CreateFisAclInVpc", "Effect": "Allow", "Action": ["ec2:CreateNetworkAcl"], "Resource": vpc},
        {
            "Sid": "TagFisAcl",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": acls,
            "Condition": {
                "StringEquals": {"ec2:CreateAction": "CreateNetworkAcl", f"aws:RequestTag/{FIS_MANAGED_TAG}": "true"}
            },
        },
        {
            "Sid": "EditFisAcl",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"],
            "Resource": [acls, vpc],
            "Condition": fis_made,
        },
        {
            "Sid": "SwapSubnetAcl",
            "Effect": "Allow",
            "Action": ["ec2:ReplaceNetworkAclAssociation"],
            "Resource": [acls, *(ec2(f"subnet/{s}") for s in v["subnets"])],
        },
        {
            "Sid": "ReadPrefixLists",
            "Effect": "Allow",
            "Action": ["ec2:GetManagedPrefixListEntries"],
            "Resource": prefix_lists,
        },
    ]


def allowed_actions(policy: str) -> set[str]:
    """Every action a policy document allows (for tests and the preview)."""
    return {a for s in json.loads(policy)["Statement"] for a in s["Action"] if s["Effect"] == "Allow"}
