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
from datetime import date
from functools import partial
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.database import DatabaseEngine
from ha_stack.iam import Account, Statement, caller_account, policy_document
from ha_stack.naming import IAM_ROLE, NameRule, az_letter, check_derived_names, component_tags, type_token

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
"""FIS durations (stop-instances' startInstancesAfterDuration, the AZ power and network actions' duration) run "from
one minute to 12 hours" (AWS FIS Actions reference)."""
AUTOSHIFT_WINDOW = r"(?P<day>Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d-(?P=day):([01]\d|2[0-3]):[0-5]\d"
"""`Day:HH:MM-Day:HH:MM` on ONE day, e.g. `Sat:00:00-Sat:23:59`. AWS's API model (botocore arc-zonal-shift
PracticeRunConfiguration.blockedWindows): "using the format DAY:HH:MM-DAY:HH:MM ... The blockedWindows have to start
and end on the same day. Windows that span multiple days aren't supported" (19 characters, at most 15 windows)."""
AUTOSHIFT_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
"""`YYYY-MM-DD` (blockedDates: "in UTC, in the format YYYY-MM-DD", at most 15 dates); a date the calendar lacks is
refused too."""
AUTOSHIFT_MOST_ENTRIES = 15
"""blockedWindows and blockedDates each take at most 15 entries (the API model's list length)."""
ALARM_ARN = r"arn:[^:]+:cloudwatch:[^:]+:\d{12}:alarm:.+"
EVENT_RULE = NameRule("EventBridge rule", 64, r"[.\-_A-Za-z0-9]+", "letters, digits, '.', '-' and '_'")
"""EventBridge API reference, PutRule Name: 1 to 64 characters of letters, digits, ".", "-" and "_" (botocore events
RuleName)."""


class HaResilienceArgs(TypedDict):
    """Inputs for HaResilience: what the drills target and which alarm stops them (defaults and checks: ARGS)."""

    availability_zones: list[str]
    """The stack's zones; one AZ drill of each kind per zone."""
    stop_alarm_arn: pulumi.Input[str]
    """The alarm that stops every experiment and ends every practice run when it fires: the service's composite
    "service degraded" alarm (HaMonitoring.composite_alarm_arn). A drill without a stop condition is refused."""
    asg_name: pulumi.Input[str]
    """The web tier's Auto Scaling group (HaWebFleet.asg_name): instance drills select its instances by the
    aws:autoscaling:groupName tag, and the role may stop or terminate only those."""
    vpc_id: pulumi.Input[str]
    """The stack's VPC: the network drill's cloned network ACLs may be created only there."""
    zone_subnet_ids: dict[str, list[pulumi.Input[str]]]
    """Zone -> every subnet of the stack in that zone (public, app, data): the network drill cuts exactly these."""
    database_engine: NotRequired[DatabaseEngine]
    """aurora-postgresql: the drill is a cluster failover; postgres: a reboot (with failover when Multi-AZ)."""
    database_cluster_identifier: NotRequired[pulumi.Input[str]]
    """The Aurora cluster (HaDatabase.cluster_identifier); needed for aurora-postgresql."""
    database_instance_identifier: NotRequired[pulumi.Input[str]]
    """The RDS primary instance (first of HaDatabase.instance_identifiers); needed for postgres."""
    database_multi_az: NotRequired[bool]
    """postgres only: whether the primary has a standby, so the reboot forces a failover."""
    cache_replication_group_id: NotRequired[pulumi.Input[str]]
    """The cache's replication group (HaCache.replication_group_id); without it there is no cache drill."""
    cache_target_tags: NotRequired[dict[str, str]]
    """Tags only this stack's replication group carries (all must match): FIS selects a replication group for the AZ
    power action by tags with its availabilityZoneIdentifier parameter. Needed with cache_availability_zones."""
    cache_availability_zones: NotRequired[list[str]]
    """Zones holding a cache node; one AZ power drill per zone. The action needs Multi-AZ, so give none for a
    single-node cache."""
    enable_network_drills: NotRequired[bool]
    """One drill per zone that cuts the zone's subnets off (aws:network:disrupt-connectivity, scope all)."""
    drill_minutes: NotRequired[int]
    """How long AZ faults last (stopped instances, cache power, network cut); FIS takes one minute to 12 hours."""
    alb_arn: NotRequired[pulumi.Input[str]]
    """The load balancer (HaWebTier.alb_arn), registered for zonal shift: with it, zonal autoshift is configured."""
    enable_zonal_autoshift: NotRequired[bool]
    """Let AWS shift traffic away from an impaired AZ and run weekly practice runs judged by stop_alarm_arn
    (needs alb_arn)."""
    autoshift_blocked_windows: NotRequired[list[str]]
    """Weekly windows (UTC) with no practice run, `Day:HH:MM-Day:HH:MM` starting and ending on the same day (AWS
    supports no window that spans days: block a weekend as `Sat:00:00-Sat:23:59` and `Sun:00:00-Sun:23:59`); at
    most 15."""
    autoshift_blocked_dates: NotRequired[list[str]]
    """Dates (UTC) with no practice run, `YYYY-MM-DD`; at most 15."""
    notification_topic_arn: NotRequired[pulumi.Input[str]]
    """Topic that gets every ARC zonal shift event of the account and region (practice runs started, failed or
    succeeded, autoshifts, FIS-started and manual shifts) through an EventBridge rule: the alarm topic
    (HaMonitoring.topic_arn), whose policy must let EventBridge publish."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every template, the role and the rule."""


def _zones(zones: list[str]) -> str | None:
    """At least 2 distinct zone names (each names its drills by its letter)."""
    if len(zones) < 2 or len(set(zones)) != len(zones):
        return f"need at least 2 distinct zones, got {options.shown(zones)}"
    for zone in zones:
        try:
            az_letter(zone)
        except ValueError:
            return f"every entry must be a zone name such as us-east-1a, got {options.shown(zone)}"
    return None


def _window(window: str) -> str | None:
    """One same-day window whose start is before its end."""
    what = "a weekly UTC window on one day such as Sat:00:00-Sat:23:59 (AWS supports no window across days)"
    if not re.fullmatch(AUTOSHIFT_WINDOW, window):
        return f"every entry must be {what}, got {options.shown(window)}"
    start, end = window[4:9], window[14:19]
    if start >= end:
        return f"every window must end after it starts, got {options.shown(window)}"
    return None


def _date(value: str) -> str | None:
    """A calendar date written YYYY-MM-DD."""
    try:
        real = re.fullmatch(AUTOSHIFT_DATE, value) is not None and bool(date.fromisoformat(value))
    except ValueError:
        real = False
    return None if real else f"every entry must be a date YYYY-MM-DD such as 2026-12-24, got {options.shown(value)}"


def _at_most(count: int, item_check: options.Check) -> options.Check:
    """A list of at most `count` entries, each passing `item_check`."""
    each = options.each(item_check)

    def check(values: list[Any]) -> str | None:
        if len(values) > count:
            return f"must have at most {count} entries (AWS's limit), got {len(values)}"
        return each(values)

    return check


ARGS = options.Spec(
    COMPONENT,
    HaResilienceArgs,
    availability_zones=options.Arg(check=_zones),
    stop_alarm_arn=options.Arg(
        check=options.matches(ALARM_ARN, "a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)")
    ),
    asg_name=options.Arg(),
    vpc_id=options.Arg(),
    zone_subnet_ids=options.Arg(),
    database_engine=options.Arg(DatabaseEngine.AURORA_POSTGRESQL),
    database_cluster_identifier=options.Arg(),
    database_instance_identifier=options.Arg(),
    database_multi_az=options.Arg(True),
    cache_replication_group_id=options.Arg(),
    cache_target_tags=options.Arg(),
    cache_availability_zones=options.Arg([]),
    enable_network_drills=options.Arg(True),
    drill_minutes=options.Arg(10, options.between(*DRILL_MINUTES_RANGE, " minutes")),
    alb_arn=options.Arg(),
    enable_zonal_autoshift=options.Arg(True),
    autoshift_blocked_windows=options.Arg([], _at_most(AUTOSHIFT_MOST_ENTRIES, _window)),
    autoshift_blocked_dates=options.Arg([], _at_most(AUTOSHIFT_MOST_ENTRIES, _date)),
    notification_topic_arn=options.Arg(),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaResilienceArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    zones = args.get("availability_zones")
    subnets = args.get("zone_subnet_ids")
    if zones is not None and subnets is not None and (sorted(subnets) != sorted(zones) or not all(subnets.values())):
        problems.add(
            "zone_subnet_ids",
            f"need at least one subnet for each of {options.shown(zones)}, got zones {options.shown(sorted(subnets))}",
        )
    engine = args.get("database_engine")
    if engine is not None:
        needed = (
            "database_cluster_identifier"
            if engine is DatabaseEngine.AURORA_POSTGRESQL
            else "database_instance_identifier"
        )
        if needed not in skip and problems.ok(needed) and args.get(needed) is None:
            problems.add(needed, f"needed for database_engine {engine.value} (the database drill's target)")
    _cache_rules(args, problems, skip)
    return args


def _cache_rules(args: HaResilienceArgs, problems: options.Problems, skip: frozenset[str]) -> None:
    """Cache drills need Multi-AZ (2+ of the stack's zones), the replication group and the tags that select it."""
    cache_zones, zones = args.get("cache_availability_zones"), args.get("availability_zones")
    if not cache_zones:
        return
    if len(cache_zones) < 2 or (zones is not None and not set(cache_zones) <= set(zones)):
        problems.add(
            "cache_availability_zones",
            f"need at least 2 of availability_zones {options.shown(zones)} (the AZ power action needs Multi-AZ), "
            f"got {options.shown(cache_zones)}",
        )
    for needed in ("cache_replication_group_id", "cache_target_tags"):
        if needed not in skip and problems.ok(needed) and not args.get(needed):
            problems.add(needed, "needed with cache_availability_zones (the cache drill's target)")


@dataclass(frozen=True)
class ResiliencePlan:
    """The checked arguments (defaults applied) and what is derived from them before anything is declared."""

    args: HaResilienceArgs
    duration: str
    """The AZ faults' duration in ISO 8601, as FIS takes it (PT10M)."""
    autoshift: bool
    """Zonal autoshift ENABLED: asked for, and a load balancer to shift."""
    drills: tuple[str, ...]
    """Every drill's name, as the experiment templates are keyed (and `python -m stack.drill` takes them)."""


def _drill_names(args: HaResilienceArgs) -> tuple[str, ...]:
    zones = args["availability_zones"]
    names = ["instance", *(f"az-instances-{az_letter(z)}" for z in zones), "database"]
    names += [f"cache-az-power-{az_letter(z)}" for z in args["cache_availability_zones"]]
    if args["enable_network_drills"]:
        names += [f"network-{az_letter(z)}" for z in zones]
    return tuple(names)


def plan(args: HaResilienceArgs, name: str | None = None) -> ResiliencePlan:
    """Defaults and validation before any resource exists (every problem in one ArgsError); pure, so it is tested
    without mocks. With the component's `name`, also the physical names Pulumi derives from it."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    if name is not None:
        children = {"fis": IAM_ROLE}
        if args.get("notification_topic_arn") is not None:
            children["zonal-shift-events"] = EVENT_RULE
        check_derived_names(name, children, problems)
    problems.raise_any()
    return ResiliencePlan(
        args=checked,
        duration=f"PT{checked['drill_minutes']}M",
        autoshift=checked["enable_zonal_autoshift"] and checked.get("alb_arn") is not None,
        drills=_drill_names(checked),
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
        p = plan(args, name)
        self._name, self._plan, self._args = name, p, p.args
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
        return component_tags(COMPONENT, self._args["tags"], name=name)

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
        for zone in args["availability_zones"]:
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
        for zone in args["cache_availability_zones"]:
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
        if args["enable_network_drills"]:
            for zone in args["availability_zones"]:
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
        args = self._args
        if args["database_engine"] is DatabaseEngine.AURORA_POSTGRESQL:
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
        multi_az = args["database_multi_az"]
        failover = "true" if multi_az else "false"
        what = "reboot the primary with a failover to its standby" if multi_az else "reboot the primary"
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
            "subnets": [s for zone in args["availability_zones"] for s in args["zone_subnet_ids"][zone]],
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
            blocked_windows=args["autoshift_blocked_windows"] or None,
            blocked_dates=args["autoshift_blocked_dates"] or None,
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
