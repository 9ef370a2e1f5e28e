"""HaMonitoring: alarms on every tier to an encrypted SNS topic, a dashboard, and a multi-region CloudTrail.

The trail also delivers to an encrypted CloudWatch Logs group, where the CIS AWS Foundations Benchmark's metric
filters (root use, unauthorized API calls, IAM policy changes) feed alarms on the same topic.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import catalogue, checks, options
from ha_stack.buckets import Archive, BucketSpec, bucket_policy, private_bucket
from ha_stack.catalogue import SOURCE
from ha_stack.database import DatabaseEngine
from ha_stack.iam import Statement, assume_role_policy, caller_account, logs_may_use_key, policy_document
from ha_stack.naming import IAM_ROLE, S3_BUCKET, component_tags, derived_name_problem, type_token
from ha_stack.options import shown

GLOBAL_REGION = "us-east-1"
"""CloudFront, Route 53 health-check and CloudFront WAF metrics are published here only."""
EMAIL = r"[^@\s]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}"
"""An address: a local part of at most 64 characters (RFC 5321), @, a domain with a top-level label."""
MINUTE = 60
AURORA_VOLUME_ALARM_BYTES = 100 * 1024**4
"""About 80% of Aurora's 128 TiB volume limit."""
TIERS = ("load balancer", "instances", "database", "cache", "edge", "standby", "audit")
"""Dashboard rows, front to back; "standby" is what a standby region's instance watches of the pair."""
RTC_MINUTES = 15
"""S3 RTC's threshold, the only value S3 takes (API reference, ReplicationTimeValue): 99.99% of objects within it."""
RULE_ID = r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,254}"
"""A replication rule's ID as HaBucketReplication writes them ("every-object", "prefix:<prefix>"); at most 255
characters (API reference, ReplicationRule ID)."""
AGENT_NAMESPACE = "ha-stack/instances"
"""Namespace of the CloudWatch agent's metrics (release.py's agent config), aggregated by AutoScalingGroupName."""
CIS_NAMESPACE = "LogMetrics"
"""Namespace of the CIS metric filters, as Security Hub's CloudWatch.1/.2/.4 remediation names it."""


@dataclass(frozen=True)
class CisFilter:
    """One CIS AWS Foundations Benchmark metric filter on the trail's log group and the alarm on its metric."""

    key: str
    control: str
    description: str
    pattern: str


CIS_FILTERS = (
    CisFilter(
        "root-usage",
        "CloudWatch.1",
        "the root user was used",
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
    ),
    CisFilter(
        "unauthorized-api-calls",
        "CloudWatch.2",
        "API calls were refused (unauthorized or access denied)",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    ),
    CisFilter(
        "iam-policy-changes",
        "CloudWatch.4",
        "an IAM policy was created, changed, attached or detached",
        "{($.eventSource=iam.amazonaws.com) && (($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
        "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || "
        "($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
        "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || "
        "($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
        "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy))}",
    ),
)
"""Patterns exactly as AWS Security Hub's CIS controls CloudWatch.1, .2 and .4 give them (Security Hub fails a
control when the pattern differs)."""


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches, when it fires, and how missing data counts."""

    key: str
    """Child-name suffix, unique in the component, e.g. alb-5xx-rate."""
    tier: str
    description: str
    threshold: float
    comparison: str
    missing: str
    """notBreaching where silence means no traffic; breaching where silence means the thing is gone."""
    namespace: str = ""
    metric: str = ""
    dimensions: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    statistic: str = "Average"
    """A statistic (Average, Sum, Minimum, Maximum) or a percentile such as p99."""
    queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = field(default_factory=list)
    """Metric math instead of a single metric (namespace, metric and dimensions then stay empty)."""
    threshold_metric_id: str | None = None
    """Anomaly detection: the query id of the band to compare against (threshold unused)."""
    period: int = MINUTE
    evaluation_periods: int = 5
    datapoints: int = 3
    region: str | None = None
    """Region of the alarm when its metric is published elsewhere (us-east-1 for the edge)."""
    critical: bool = False
    """Part of the composite "service degraded" alarm."""


class HaMonitoringArgs(TypedDict):
    """Inputs for HaMonitoring (defaults and checks: ARGS). Each tier's alarms are created when its identifiers are
    given."""

    region: str
    """Region the stack runs in, of the standard aws partition; edge alarms live in us-east-1 and get a topic there
    when it differs."""
    alarm_emails: NotRequired[list[str]]
    """Distinct addresses subscribed to the alarm topic (each must confirm by e-mail)."""
    cpu_alarm_percent: NotRequired[int]
    """Average CPU above which instances, database and cache alarm, 1 to 100."""
    alb_5xx_rate_percent: NotRequired[float]
    """Share of requests answered 5xx (by the ALB or by targets) that alarms, 0.1 to 100."""
    p99_latency_seconds: NotRequired[float]
    """p99 target response time that alarms, 0.01 to 60 seconds."""
    alb_arn_suffix: NotRequired[pulumi.Input[str]]
    """Load balancer ARN suffix (HaWebTier.alb_arn_suffix); with target_group_arn_suffix."""
    target_group_arn_suffix: NotRequired[pulumi.Input[str]]
    """Target group ARN suffix (HaWebTier.target_group_arn_suffix); with alb_arn_suffix."""
    asg_name: NotRequired[pulumi.Input[str]]
    """Auto Scaling group name (HaWebFleet.asg_name)."""
    asg_min_size: NotRequired[int]
    """The group's minimum: fewer in-service instances alarms. 0 (a pilot-light standby, scaled to nothing until a
    failover): neither "fewer than the minimum" nor "no healthy hosts" alarms, since no instance is expected."""
    instance_disk_alarm_percent: NotRequired[int]
    """Root-disk use (percent) of the fullest instance of the group that alarms, 50 to 99. The metric is the
    CloudWatch agent's disk_used_percent for "/", which the web tier's agent config publishes."""
    database_engine: NotRequired[DatabaseEngine]
    """Engine of the database, which decides its metrics."""
    database_cluster_identifier: NotRequired[pulumi.Input[str]]
    """Aurora cluster id (HaDatabase.cluster_identifier): Aurora is watched through its cluster."""
    database_instance_identifiers: NotRequired[list[pulumi.Input[str]]]
    """Writer first, then readers (HaDatabase.instance_identifiers)."""
    database_storage_gib: NotRequired[int]
    """RDS allocated storage: free space under 10% of it alarms."""
    database_connections_alarm: NotRequired[int]
    """Connections above which the database alarms."""
    database_local_storage_alarm_gib: NotRequired[int]
    """Aurora: free local storage (temporary tables and logs, sized by the instance class) under this many GiB on
    the writer or on any reader alarms, 1 to 1000."""
    cache_member_ids: NotRequired[list[pulumi.Input[str]]]
    """Cache node ids (HaCache.member_cluster_ids)."""
    distribution_id: NotRequired[pulumi.Input[str]]
    """CloudFront distribution id (HaEdge.distribution_id)."""
    health_check_id: NotRequired[pulumi.Input[str]]
    """Route 53 health check id (HaEdge.health_check_id); with distribution_id."""
    web_acl_name: NotRequired[pulumi.Input[str]]
    """WAF web ACL name (HaEdge.web_acl_name); with distribution_id."""
    global_secondary_cluster_identifier: NotRequired[pulumi.Input[str]]
    """The secondary cluster, in this instance's region, of an Aurora global database (the standby's
    HaDatabase.cluster_identifier): alarms when its RPO lag (AuroraGlobalDBRPOLag, which Aurora publishes for each
    secondary cluster) exceeds global_rpo_alarm_seconds, i.e. when a region loss would now lose that much."""
    global_rpo_alarm_seconds: NotRequired[int]
    """RPO lag of the global database's secondary that alarms, 1 to 3600 seconds (AWS: "typically measured in
    seconds")."""
    replication_source_bucket: NotRequired[pulumi.Input[str]]
    """Name of a bucket replicated by S3 replication with metrics (HaBucketReplication); with
    replication_destination_bucket and replication_rule_ids. S3 publishes replication metrics in the destination
    bucket's region, so give these to the instance of that region."""
    replication_destination_bucket: NotRequired[pulumi.Input[str]]
    """Name of the replica bucket (HaBucketReplication.replica_bucket_name)."""
    replication_rule_ids: NotRequired[list[str]]
    """IDs of the replication rules to watch (HaBucketReplication's rules: "every-object" or "prefix:<prefix>"):
    per rule, failed replication operations and a replication latency above RTC's 15 minutes alarm."""
    standby_health_check_id: NotRequired[pulumi.Input[str]]
    """Route 53 health check of the standby region's own origin name (HaRegionalDns): alarms when the standby
    could not take the traffic. Route 53 publishes health-check metrics in us-east-1 only, so the alarm is there."""
    enable_cloudtrail: NotRequired[bool]
    """A multi-region, validated, KMS-encrypted CloudTrail, delivered to an encrypted CloudWatch Logs group with the
    CIS alarms (root use, unauthorized API calls, IAM policy changes). Each trail costs money and every stack in an
    account would record the same calls: turn it off for all but one stack per account, or when the account is
    covered by an AWS Organizations trail (run the CIS alarms where that trail's logs arrive)."""
    force_destroy_buckets: NotRequired[bool]
    """Empty this component's buckets (the trail archive), every object version, on destroy, so `pulumi destroy`
    succeeds. Off: the audit record is kept."""
    trail_log_retention_days: NotRequired[int]
    """Days the trail's CloudWatch Logs copy is kept (a retention CloudWatch Logs accepts); the S3 archive keeps
    the full record."""
    name_prefix: NotRequired[str]
    """Prefix of the names AWS needs fixed, unique per account and region: the trail (<prefix>-audit), the
    dashboard (<prefix>-overview) and the composite alarm (<prefix>-service-degraded). Letters and digits in words
    joined by single '-' or '_' (CloudTrail refuses adjacent '-', '_' or '.'; dashboards refuse '.'), at most 122
    characters (a trail name is at most 128). Absent: the component's resource name."""
    log_glacier_days: NotRequired[int]
    """Days before trail logs move to Glacier, 1 to 3650."""
    log_expire_days: NotRequired[int]
    """Days before trail logs are deleted, 1 to 3650 and after log_glacier_days."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child."""


COMPONENT = "HaMonitoring"
MAX_EMAIL = 254
"""The longest e-mail address (RFC 5321: a path of at most 256 characters, its angle brackets included)."""
TRAIL_SUFFIX = "-audit"
MAX_TRAIL_NAME = 128
"""CloudTrail API reference, CreateTrail Name: "Contain only ASCII letters (a-z, A-Z), numbers (0-9), periods (.),
underscores (_), or dashes (-); Start with a letter or number, and end with a letter or number; Be between 3 and 128
characters; Have no adjacent periods, underscores or dashes"."""
NAME_PREFIX = r"[A-Za-z0-9]+([_-][A-Za-z0-9]+)*"
"""Words of letters and digits joined by single '-' or '_': what CloudTrail takes before "-audit" (no adjacent or
trailing separator) and a dashboard name takes (CloudWatch PutDashboard: A-Z, a-z, 0-9, '-' and '_' only)."""
CHILD_NAMES = {"trail": S3_BUCKET, "trail-logs": IAM_ROLE}
"""Children whose physical name Pulumi derives from the component's name: the trail archive bucket and the role
CloudTrail writes its log group with (the alarm topics' and alarms' limits, 256 and 255, are looser)."""


def email(value: str) -> str | None:
    """One e-mail address of at most 254 characters."""
    if len(value) > MAX_EMAIL or not re.fullmatch(EMAIL, value):
        return f"every entry must be an e-mail address of at most {MAX_EMAIL} characters, got {shown(value)}"
    return None


def emails(value: list[str]) -> str | None:
    """Distinct e-mail addresses: SNS keeps one subscription per address and topic, so a repeated address would be
    one subscription held by two resources (deleting either unsubscribes both)."""
    for entry in value:
        problem = email(entry)
        if problem:
            return problem
    folded = [entry.lower() for entry in value]
    repeated = sorted({entry for entry in folded if folded.count(entry) > 1})
    return f"every address once, got {shown(repeated)} more than once" if repeated else None


def name_prefix(value: str) -> str | None:
    """A prefix CloudTrail, CloudWatch dashboards and alarms take for the names derived from it."""
    most = MAX_TRAIL_NAME - len(TRAIL_SUFFIX)
    if len(value) > most:
        return (
            f"must be at most {most} characters: the trail {value[:30]!r}...{TRAIL_SUFFIX} would be "
            f"{len(value) + len(TRAIL_SUFFIX)}, CloudTrail allows {MAX_TRAIL_NAME}; got {len(value)}"
        )
    if not re.fullmatch(NAME_PREFIX, value):
        return (
            "must be letters and digits in words joined by single '-' or '_' (CloudTrail refuses adjacent or "
            f"trailing '-', '_' or '.' in {value[:30] + TRAIL_SUFFIX!r}; dashboards refuse '.'), got {shown(value)}"
        )
    return None


def _rule_key(rule_id: str) -> str:
    """A rule ID as a child-name part ("prefix:assets/" -> "prefix-assets")."""
    return re.sub(r"[^A-Za-z0-9]+", "-", rule_id).strip("-").lower()


REPLICATION = ("replication_source_bucket", "replication_destination_bucket", "replication_rule_ids")
"""The S3 replication alarms are made with all three."""


def rule_ids(value: list[str]) -> str | None:
    """Replication rule IDs, each its own alarms: distinct once made child names."""
    problem = options.each(options.matches(RULE_ID, "a replication rule ID of at most 255 characters"))(value)
    if problem:
        return problem
    keys = [_rule_key(rule) for rule in value]
    same = sorted({rule for rule in value if keys.count(_rule_key(rule)) > 1})
    return f"every rule once (alarm names are made from them), got {shown(same)} as the same name" if same else None


ARGS = options.Spec(
    COMPONENT,
    HaMonitoringArgs,
    region=options.Arg(check=options.member_of(catalogue.regions, "a region of the standard aws partition", SOURCE)),
    alarm_emails=options.Arg([], emails),
    cpu_alarm_percent=options.Arg(80, options.between(1, 100, " percent")),
    alb_5xx_rate_percent=options.Arg(5.0, options.between(0.1, 100.0, " percent")),
    p99_latency_seconds=options.Arg(1.0, options.between(0.01, 60.0, " seconds")),
    alb_arn_suffix=options.Arg(),
    target_group_arn_suffix=options.Arg(),
    asg_name=options.Arg(),
    asg_min_size=options.Arg(1, options.between(0, 100)),
    instance_disk_alarm_percent=options.Arg(85, options.between(50, 99, " percent")),
    database_engine=options.Arg(DatabaseEngine.AURORA_POSTGRESQL),
    database_cluster_identifier=options.Arg(),
    database_instance_identifiers=options.Arg(),
    database_storage_gib=options.Arg(100, options.between(20, 65536, " GiB")),
    database_connections_alarm=options.Arg(400, options.between(1, 100_000)),
    database_local_storage_alarm_gib=options.Arg(2, options.between(1, 1000, " GiB")),
    cache_member_ids=options.Arg(),
    distribution_id=options.Arg(),
    health_check_id=options.Arg(),
    web_acl_name=options.Arg(),
    global_secondary_cluster_identifier=options.Arg(),
    global_rpo_alarm_seconds=options.Arg(30, options.between(1, 3600, " seconds")),
    replication_source_bucket=options.Arg(),
    replication_destination_bucket=options.Arg(),
    replication_rule_ids=options.Arg(check=rule_ids),
    standby_health_check_id=options.Arg(),
    enable_cloudtrail=options.Arg(True),
    force_destroy_buckets=options.Arg(False),
    trail_log_retention_days=options.Arg(365, checks.log_retention),
    name_prefix=options.Arg(check=name_prefix),
    log_glacier_days=options.Arg(90, checks.archive_days_range),
    log_expire_days=options.Arg(365, checks.archive_days_range),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaMonitoringArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    checks.archive_order(args, problems)
    _together(args, problems, skip, "alb_arn_suffix", "target_group_arn_suffix")
    _together(args, problems, skip, *REPLICATION)
    for needs_distribution in ("health_check_id", "web_acl_name"):
        wired = {needs_distribution, "distribution_id"}
        if not wired & skip and problems.ok(*wired) and needs_distribution in args and "distribution_id" not in args:
            problems.add(needs_distribution, "needs distribution_id: the edge's alarms are made with it")
    aurora = {"database_engine", "database_instance_identifiers", "database_cluster_identifier"}
    if (
        not aurora & skip
        and problems.ok(*aurora)
        and args.get("database_engine") is DatabaseEngine.AURORA_POSTGRESQL
        and args.get("database_instance_identifiers")
        and args.get("database_cluster_identifier") is None
    ):
        problems.add(
            "database_cluster_identifier", "is required for aurora-postgresql: Aurora is watched through its cluster"
        )
    return args


def _together(args: HaMonitoringArgs, problems: options.Problems, skip: frozenset[str], *names: str) -> None:
    """Fields that only make alarms together: one without the other would silently leave a tier unwatched."""
    given = [n for n in names if n in args]
    if not set(names) & skip and problems.ok(*names) and 0 < len(given) < len(names):
        problems.add(given[0], f"{' and '.join(names)} go together: give both or neither")


@dataclass(frozen=True)
class MonitoringPlan:
    """The checked arguments and what HaMonitoring derives from them before declaring anything."""

    args: HaMonitoringArgs
    name_prefix: str
    """args["name_prefix"], else the component's name."""
    trail_archive: Archive

    @property
    def trail_name(self) -> str:
        """Fixed, so its ARN is known to the key policy and the bucket policy before the trail exists."""
        return f"{self.name_prefix}{TRAIL_SUFFIX}"

    @property
    def trail_log_group(self) -> str:
        """Fixed, so the key policy can name the one log group CloudWatch Logs may encrypt with the key."""
        return f"/ha-stack/{self.name_prefix}/cloudtrail"


def plan(args: HaMonitoringArgs, name: str = "monitoring") -> MonitoringPlan:
    """Every problem of the arguments and of the names derived from `name`, raised at once before any resource
    exists; then what is derived from them. Pure, so it is tested without mocks."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    derived = derived_name_problem(name, CHILD_NAMES)
    if derived is None and "name_prefix" not in checked and problems.ok("name_prefix"):
        derived = name_prefix(name)
    if derived:
        problems.add("name", derived)
    problems.raise_any()
    return MonitoringPlan(
        args=checked,
        name_prefix=checked.get("name_prefix", name),
        trail_archive=Archive(glacier_days=checked["log_glacier_days"], expire_days=checked["log_expire_days"]),
    )


def _metric(
    query_id: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, pulumi.Input[str]],
    *,
    period: int = MINUTE,
) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
    """A metric (summed over the period) that a math expression of the alarm uses."""
    return {
        "id": query_id,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "stat": "Sum",
            "period": period,
        },
        "return_data": False,
    }


def _rate(key: str, description: str, numerator: str, lb: dict[str, pulumi.Input[str]], percent: float) -> AlarmSpec:
    """Share of the load balancer's requests (percent) that a count metric makes up."""
    return AlarmSpec(
        key=key,
        tier="load balancer",
        description=description,
        threshold=percent,
        comparison="GreaterThanThreshold",
        missing="notBreaching",
        queries=[
            _metric("errors", "AWS/ApplicationELB", numerator, lb),
            _metric("requests", "AWS/ApplicationELB", "RequestCount", lb),
            {
                "id": "rate",
                "expression": "100 * FILL(errors, 0) / requests",
                "label": f"{key} (%)",
                "return_data": True,
            },
        ],
        critical=True,
    )


def load_balancer_alarms(p: MonitoringPlan, alb: pulumi.Input[str], target_group: pulumi.Input[str]) -> list[AlarmSpec]:
    """5xx rates (from the ALB and from targets), healthy and unhealthy hosts, p99 latency, rejected connections."""
    lb = {"LoadBalancer": alb}
    tg = {"LoadBalancer": alb, "TargetGroup": target_group}
    elb = "AWS/ApplicationELB"
    specs = [
        _rate(
            "alb-5xx-rate", "the ALB answers 5xx itself", "HTTPCode_ELB_5XX_Count", lb, p.args["alb_5xx_rate_percent"]
        ),
        _rate(
            "target-5xx-rate",
            "the service answers 5xx",
            "HTTPCode_Target_5XX_Count",
            lb,
            p.args["alb_5xx_rate_percent"],
        ),
        AlarmSpec(
            key="unhealthy-hosts",
            tier="load balancer",
            description="a target fails its health check",
            threshold=0,
            comparison="GreaterThanThreshold",
            missing="notBreaching",
            namespace=elb,
            metric="UnHealthyHostCount",
            dimensions=tg,
            statistic="Maximum",
            evaluation_periods=3,
            datapoints=3,
        ),
        AlarmSpec(
            key="no-healthy-hosts",
            tier="load balancer",
            description="no target is healthy: the site is down",
            threshold=1,
            comparison="LessThanThreshold",
            missing="breaching",
            namespace=elb,
            metric="HealthyHostCount",
            dimensions=tg,
            statistic="Minimum",
            evaluation_periods=2,
            datapoints=2,
            critical=True,
        ),
        AlarmSpec(
            key="p99-latency",
            tier="load balancer",
            description="the slowest 1% of responses",
            threshold=p.args["p99_latency_seconds"],
            comparison="GreaterThanThreshold",
            missing="notBreaching",
            namespace=elb,
            metric="TargetResponseTime",
            dimensions=lb,
            statistic="p99",
            critical=True,
        ),
        AlarmSpec(
            key="rejected-connections",
            tier="load balancer",
            description="the ALB is at its connection limit",
            threshold=0,
            comparison="GreaterThanThreshold",
            missing="notBreaching",
            namespace=elb,
            metric="RejectedConnectionCount",
            dimensions=lb,
            statistic="Sum",
            evaluation_periods=3,
            datapoints=2,
        ),
    ]
    # A pilot-light standby runs no instance until a failover: "no healthy host" is its normal state.
    return [s for s in specs if s.key != "no-healthy-hosts" or p.args["asg_min_size"] > 0]


def instance_alarms(p: MonitoringPlan, asg: pulumi.Input[str]) -> list[AlarmSpec]:
    """Average CPU over the group, fewer in-service instances than the minimum, and the fullest root disk.

    The disk metric is the CloudWatch agent's: its config rolls metrics up on AutoScalingGroupName, so each
    instance's data points are also published under that one dimension and Maximum is the fullest instance.
    """
    group = {"AutoScalingGroupName": asg}
    specs = [
        AlarmSpec(
            key="instances-cpu",
            tier="instances",
            description="average CPU high even after scaling out",
            threshold=p.args["cpu_alarm_percent"],
            comparison="GreaterThanThreshold",
            missing="missing",
            namespace="AWS/EC2",
            metric="CPUUtilization",
            dimensions=group,
            period=5 * MINUTE,
            evaluation_periods=3,
            datapoints=3,
        ),
        AlarmSpec(
            key="instances-below-min",
            tier="instances",
            description="fewer instances in service than the minimum",
            threshold=p.args["asg_min_size"],
            comparison="LessThanThreshold",
            missing="breaching",
            namespace="AWS/AutoScaling",
            metric="GroupInServiceInstances",
            dimensions=group,
            statistic="Minimum",
            evaluation_periods=5,
            datapoints=5,
            critical=True,
        ),
        AlarmSpec(
            key="instances-disk",
            tier="instances",
            description="an instance's root disk is filling up (logs, releases)",
            threshold=p.args["instance_disk_alarm_percent"],
            comparison="GreaterThanThreshold",
            missing="missing",
            namespace=AGENT_NAMESPACE,
            metric="disk_used_percent",
            dimensions=group,
            statistic="Maximum",
            period=5 * MINUTE,
            evaluation_periods=3,
            datapoints=2,
        ),
    ]
    return [s for s in specs if s.key != "instances-below-min" or p.args["asg_min_size"] > 0]


@dataclass(frozen=True)
class _Check:
    """One metric check of a data-tier alarm pack: (key, description, threshold, comparison, metric, statistic)."""

    key: str
    description: str
    threshold: float
    comparison: str
    metric: str
    statistic: str = "Average"
    missing: str = "missing"


def _checks(tier: str, namespace: str, where: dict[str, pulumi.Input[str]], checks: list[_Check]) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            key=c.key,
            tier=tier,
            description=c.description,
            threshold=c.threshold,
            comparison=c.comparison,
            missing=c.missing,
            namespace=namespace,
            metric=c.metric,
            dimensions=where,
            statistic=c.statistic,
            period=5 * MINUTE,
            evaluation_periods=3,
            datapoints=3,
        )
        for c in checks
    ]


def database_alarms(
    p: MonitoringPlan,
    engine: DatabaseEngine,
    cluster: pulumi.Input[str] | None,
    instances: list[pulumi.Input[str]],
) -> list[AlarmSpec]:
    """CPU, memory, storage or volume, connections, read and write latency, and the readers' lag."""
    aurora = cluster if engine is DatabaseEngine.AURORA_POSTGRESQL else None
    # Aurora: the cluster's WRITER role, whichever instance holds it after a failover.
    where: dict[str, pulumi.Input[str]] = (
        {"DBClusterIdentifier": aurora, "Role": "WRITER"}
        if aurora is not None
        else {"DBInstanceIdentifier": instances[0]}
    )
    gt, lt = "GreaterThanThreshold", "LessThanThreshold"
    connections = p.args["database_connections_alarm"]
    checks = [
        _Check("db-cpu", "database CPU high", p.args["cpu_alarm_percent"], gt, "CPUUtilization"),
        _Check("db-memory", "freeable memory under 256 MiB", 256 * 1024**2, lt, "FreeableMemory"),
        _Check(
            "db-connections",
            "many connections",
            connections,
            gt,
            "DatabaseConnections",
            "Maximum",
        ),
        _Check("db-read-latency", "reads slower than 50 ms", 0.05, gt, "ReadLatency"),
        _Check("db-write-latency", "writes slower than 50 ms", 0.05, gt, "WriteLatency"),
    ]
    alarms = _checks("database", "AWS/RDS", where, checks)
    readers = len(instances) - 1
    if aurora is not None:
        return alarms + aurora_cluster_alarms(p, aurora, readers)
    storage = _Check(
        key="db-free-storage",
        description="under 10% storage free",
        threshold=p.args["database_storage_gib"] * 1024**3 // 10,
        comparison=lt,
        metric="FreeStorageSpace",
        statistic="Minimum",
    )
    return alarms + _checks("database", "AWS/RDS", where, [storage]) + rds_replica_alarms(instances[1:])


def aurora_cluster_alarms(p: MonitoringPlan, cluster: pulumi.Input[str], readers: int) -> list[AlarmSpec]:
    """Volume, the worst replica lag and each role's free local storage, all on cluster-level dimensions.

    Aurora moves the writer role on failover and reader auto scaling adds and removes instances, so nothing here
    names an instance: AuroraReplicaLagMaximum is published by the primary (whichever it is) as the largest lag of
    any reader, and FreeLocalStorage under DBClusterIdentifier + Role aggregates every instance of that role
    (Minimum: the fullest one).
    """
    gt, lt = "GreaterThanThreshold", "LessThanThreshold"
    cluster_only: dict[str, pulumi.Input[str]] = {"DBClusterIdentifier": cluster}
    local_gib = p.args["database_local_storage_alarm_gib"]
    local = local_gib * 1024**3
    volume = _Check(
        key="db-volume",
        description="cluster volume near Aurora's limit",
        threshold=AURORA_VOLUME_ALARM_BYTES,
        comparison=gt,
        metric="VolumeBytesUsed",
        statistic="Maximum",
    )
    alarms = _checks("database", "AWS/RDS", cluster_only, [volume])
    roles = {"writer": "WRITER", "readers": "READER"} if readers else {"writer": "WRITER"}
    for label, role in roles.items():
        check = _Check(
            key=f"db-local-storage-{label}",
            description=f"{label}: under {local_gib} GiB for temporary tables and logs",
            threshold=local,
            comparison=lt,
            metric="FreeLocalStorage",
            statistic="Minimum",
        )
        alarms += _checks("database", "AWS/RDS", {"DBClusterIdentifier": cluster, "Role": role}, [check])
    if readers:
        lag = _Check(
            key="db-replica-lag",
            description="the slowest reader lags the writer by over 1 s",
            threshold=1000.0,  # milliseconds
            comparison=gt,
            metric="AuroraReplicaLagMaximum",
            statistic="Maximum",
        )
        alarms += _checks("database", "AWS/RDS", cluster_only, [lag])
    return alarms


def rds_replica_alarms(replicas: list[pulumi.Input[str]]) -> list[AlarmSpec]:
    """RDS read replicas keep their identifiers (Multi-AZ failover stays inside the instance): one lag alarm each."""
    alarms: list[AlarmSpec] = []
    for index, replica in enumerate(replicas, start=1):
        check = _Check(
            key=f"db-replica-lag-{index}",
            description=f"replica {index} lags the primary by over 30 s",
            threshold=30.0,  # seconds
            comparison="GreaterThanThreshold",
            metric="ReplicaLag",
            statistic="Maximum",
        )
        alarms += _checks("database", "AWS/RDS", {"DBInstanceIdentifier": replica}, [check])
    return alarms


def cache_alarms(p: MonitoringPlan, members: list[pulumi.Input[str]]) -> list[AlarmSpec]:
    """Per node: engine CPU, memory, evictions, replication lag, connections; over all nodes: the hit rate."""
    ns, gt, cpu = "AWS/ElastiCache", "GreaterThanThreshold", p.args["cpu_alarm_percent"]
    alarms: list[AlarmSpec] = []
    for i, member in enumerate(members, start=1):
        checks = [
            _Check(f"cache-cpu-{i}", f"node {i}: engine CPU high", cpu, gt, "EngineCPUUtilization"),
            _Check(
                f"cache-memory-{i}", f"node {i}: memory nearly full", 90, gt, "DatabaseMemoryUsagePercentage", "Maximum"
            ),
            _Check(
                f"cache-evictions-{i}", f"node {i}: evicting keys early", 1000, gt, "Evictions", "Sum", "notBreaching"
            ),
            _Check(
                f"cache-replication-lag-{i}",
                f"node {i}: replica behind",
                5,
                gt,
                "ReplicationLag",
                "Maximum",
                "notBreaching",
            ),
            _Check(f"cache-connections-{i}", f"node {i}: many connections", 5000, gt, "CurrConnections", "Maximum"),
        ]
        alarms += _checks("cache", ns, {"CacheClusterId": member}, checks)
    ids = range(1, len(members) + 1)
    hits = " + ".join(f"FILL(hits{i}, 0)" for i in ids)
    misses = " + ".join(f"FILL(misses{i}, 0)" for i in ids)
    queries = [_metric(f"hits{i}", ns, "CacheHits", {"CacheClusterId": m}) for i, m in zip(ids, members, strict=True)]
    queries += [
        _metric(f"misses{i}", ns, "CacheMisses", {"CacheClusterId": m}) for i, m in zip(ids, members, strict=True)
    ]
    queries.append(
        {
            "id": "hit_rate",
            "label": "hit rate (%)",
            "return_data": True,
            "expression": f"100 * ({hits}) / ({hits} + {misses})",
        }
    )
    alarms.append(
        AlarmSpec(
            key="cache-hit-rate",
            tier="cache",
            description="under 80% of reads served from the cache (misses load the database)",
            threshold=80,
            comparison="LessThanThreshold",
            missing="notBreaching",
            queries=queries,
            evaluation_periods=15,
            datapoints=15,
        )
    )
    return alarms


def edge_alarms(
    distribution: pulumi.Input[str], health_check: pulumi.Input[str] | None, web_acl: pulumi.Input[str] | None
) -> list[AlarmSpec]:
    """CloudFront 5xx rate, the Route 53 health check, WAF blocks above their usual band; all in us-east-1."""
    alarms = [
        AlarmSpec(
            key="cdn-5xx-rate",
            tier="edge",
            description="viewers get 5xx from CloudFront",
            threshold=5,
            comparison="GreaterThanThreshold",
            missing="notBreaching",
            namespace="AWS/CloudFront",
            metric="5xxErrorRate",
            dimensions={"DistributionId": distribution, "Region": "Global"},
            region=GLOBAL_REGION,
        )
    ]
    if health_check is not None:
        alarms.append(
            AlarmSpec(
                key="site-health-check",
                tier="edge",
                description="Route 53 cannot reach https://<site>/health",
                threshold=1,
                comparison="LessThanThreshold",
                missing="breaching",
                namespace="AWS/Route53",
                metric="HealthCheckStatus",
                dimensions={"HealthCheckId": health_check},
                statistic="Minimum",
                evaluation_periods=2,
                datapoints=2,
                region=GLOBAL_REGION,
            )
        )
    if web_acl is not None:
        blocked = _metric(
            "blocked", "AWS/WAFV2", "BlockedRequests", {"WebACL": web_acl, "Rule": "ALL"}, period=5 * MINUTE
        )
        alarms.append(
            AlarmSpec(
                key="waf-blocks-above-normal",
                tier="edge",
                description="WAF blocks more than its learned normal band (an attack?)",
                threshold=0,
                comparison="GreaterThanUpperThreshold",
                missing="notBreaching",
                queries=[
                    {**blocked, "return_data": True},
                    {
                        "id": "band",
                        "expression": "ANOMALY_DETECTION_BAND(blocked, 3)",
                        "label": "normal",
                        "return_data": True,
                    },
                ],
                threshold_metric_id="band",
                period=5 * MINUTE,
                evaluation_periods=3,
                datapoints=2,
                region=GLOBAL_REGION,
            )
        )
    return alarms


def global_database_alarms(p: MonitoringPlan, secondary_cluster: pulumi.Input[str]) -> list[AlarmSpec]:
    """The secondary cluster's RPO lag: what a region loss would lose now.

    Aurora user guide, "Amazon CloudWatch metrics for Amazon Aurora" (cluster-level): AuroraGlobalDBRPOLag, "the
    recovery point objective (RPO) lag time. This metric measures how far the secondary cluster is behind the primary
    cluster for user transactions", milliseconds; the switchover page says to watch it "for all secondary DB
    clusters". Missing data alarms: a secondary that stops reporting its lag is not known to be safe.
    """
    seconds = p.args["global_rpo_alarm_seconds"]
    return [
        AlarmSpec(
            key="global-db-rpo-lag",
            tier="standby",
            description=f"the global database's secondary is over {seconds} s behind: a region loss would lose that",
            threshold=seconds * 1000.0,  # milliseconds
            comparison="GreaterThanThreshold",
            missing="breaching",
            namespace="AWS/RDS",
            metric="AuroraGlobalDBRPOLag",
            dimensions={"DBClusterIdentifier": secondary_cluster},
            statistic="Maximum",
            evaluation_periods=5,
            datapoints=3,
        )
    ]


def replication_alarms(
    source: pulumi.Input[str], destination: pulumi.Input[str], rule_ids: list[str]
) -> list[AlarmSpec]:
    """Per rule: any failed replication operation, and a replication latency above RTC's 15 minutes.

    S3 user guide, "Using S3 Replication metrics": per replication rule, S3 publishes (AWS/S3, dimensions
    SourceBucket, DestinationBucket, RuleId) OperationsFailedReplication and ReplicationLatency ("the maximum number
    of seconds by which the replication destination bucket is behind the source bucket"), in the destination bucket's
    region. RTC replicates 99.99% of objects within 15 minutes ("Replicating objects using S3 Replication Time
    Control"), so a latency over 900 s is outside what the standby's data promise says.
    """
    alarms: list[AlarmSpec] = []
    for rule in rule_ids:
        where: dict[str, pulumi.Input[str]] = {"SourceBucket": source, "DestinationBucket": destination, "RuleId": rule}
        key = _rule_key(rule)
        alarms += [
            AlarmSpec(
                key=f"replication-failed-{key}",
                tier="standby",
                description=f"S3 could not replicate objects of rule {rule} to the standby region",
                threshold=0,
                comparison="GreaterThanThreshold",
                missing="notBreaching",
                namespace="AWS/S3",
                metric="OperationsFailedReplication",
                dimensions=where,
                statistic="Sum",
                period=5 * MINUTE,
                evaluation_periods=1,
                datapoints=1,
            ),
            AlarmSpec(
                key=f"replication-latency-{key}",
                tier="standby",
                description=f"rule {rule}: the replica is over {RTC_MINUTES} minutes behind (RTC's threshold)",
                threshold=RTC_MINUTES * MINUTE,
                comparison="GreaterThanThreshold",
                missing="notBreaching",
                namespace="AWS/S3",
                metric="ReplicationLatency",
                dimensions=where,
                statistic="Maximum",
                evaluation_periods=3,
                datapoints=3,
            ),
        ]
    return alarms


def standby_health_alarms(health_check: pulumi.Input[str]) -> list[AlarmSpec]:
    """The standby region's origin as Route 53 probes it: a standby that could not take the traffic alarms before it
    is needed. Route 53 health-check metrics exist only in us-east-1 (Route 53 developer guide, "Monitoring health
    checks using CloudWatch")."""
    return [
        AlarmSpec(
            key="standby-health-check",
            tier="standby",
            description="Route 53 cannot reach the standby region's origin: a failover would land on nothing",
            threshold=1,
            comparison="LessThanThreshold",
            missing="breaching",
            namespace="AWS/Route53",
            metric="HealthCheckStatus",
            dimensions={"HealthCheckId": health_check},
            statistic="Minimum",
            evaluation_periods=3,
            datapoints=3,
            region=GLOBAL_REGION,
        )
    ]


def audit_alarms(p: MonitoringPlan) -> list[AlarmSpec]:
    """One alarm per CIS metric filter: any matching event in five minutes notifies (Security Hub: >= 1)."""
    return [
        AlarmSpec(
            key=f.key,
            tier="audit",
            description=f"{f.description} (CIS, Security Hub {f.control})",
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            missing="notBreaching",
            namespace=CIS_NAMESPACE,
            metric=f"{p.name_prefix}-{f.key}",
            statistic="Sum",
            period=5 * MINUTE,
            evaluation_periods=1,
            datapoints=1,
        )
        for f in CIS_FILTERS
    ]


class HaMonitoring(pulumi.ComponentResource):
    """Alarms with actions on an encrypted topic for every tier, a dashboard, and an audit trail."""

    topic_arn: pulumi.Output[str]
    """The alarm topic."""
    dashboard_name: pulumi.Output[str]
    """The CloudWatch dashboard."""
    dashboard_url: pulumi.Output[str]
    """Console URL of the dashboard."""
    trail_arn: pulumi.Output[str]
    """The CloudTrail trail (empty without it)."""
    alarm_names: pulumi.Output[list[str]]
    """Every alarm, the composite last."""
    composite_alarm_arn: pulumi.Output[str]
    """The composite "service degraded" alarm (empty without critical alarms): what stops a drill or a practice run."""

    def __init__(self, name: str, args: HaMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args, name)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        account = caller_account(self)
        self._account, self._partition = account.account_id, account.partition
        key = self._key()
        specs = self._specs(p.args)
        topics = {p.args["region"]: self._topic(f"{name}-alarms", key, None)}
        if p.args["region"] != GLOBAL_REGION and any(s.region == GLOBAL_REGION for s in specs):
            global_key = self._key(GLOBAL_REGION)
            topics[GLOBAL_REGION] = self._topic(f"{name}-alarms-global", global_key, GLOBAL_REGION)
        alarms = {s.key: self._alarm(s, topics[s.region or p.args["region"]]) for s in specs}
        composite = self._composite([alarms[s.key] for s in specs if s.critical], topics[p.args["region"]])
        dashboard = self._dashboard(specs)
        trail = self._trail(key) if p.args["enable_cloudtrail"] else None

        self.topic_arn = topics[p.args["region"]].arn
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_url = pulumi.Output.concat(
            "https://",
            p.args["region"],
            ".console.aws.amazon.com/cloudwatch/home?region=",
            p.args["region"],
            "#dashboards/dashboard/",
            dashboard.dashboard_name,
        )
        self.trail_arn = trail.arn if trail else pulumi.Output.from_input("")
        names = [a.name for a in alarms.values()]
        if composite is not None:
            names.append(composite.alarm_name)
        self.alarm_names = pulumi.Output.all(*names)
        self.composite_alarm_arn = composite.arn if composite else pulumi.Output.from_input("")
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
                "trail_arn": self.trail_arn,
                "alarm_names": self.alarm_names,
                "composite_alarm_arn": self.composite_alarm_arn,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags(COMPONENT, self._plan.args["tags"], name=name)

    def _specs(self, args: HaMonitoringArgs) -> list[AlarmSpec]:
        """Every tier whose identifiers were given."""
        p = self._plan
        specs: list[AlarmSpec] = []
        if "alb_arn_suffix" in args and "target_group_arn_suffix" in args:
            specs += load_balancer_alarms(p, args["alb_arn_suffix"], args["target_group_arn_suffix"])
        if "asg_name" in args:
            specs += instance_alarms(p, args["asg_name"])
        if args.get("database_instance_identifiers"):
            engine = args["database_engine"]
            specs += database_alarms(
                p, engine, args.get("database_cluster_identifier"), list(args["database_instance_identifiers"])
            )
        if args.get("cache_member_ids"):
            specs += cache_alarms(p, list(args["cache_member_ids"]))
        if "distribution_id" in args:
            specs += edge_alarms(args["distribution_id"], args.get("health_check_id"), args.get("web_acl_name"))
        if "global_secondary_cluster_identifier" in args:
            specs += global_database_alarms(p, args["global_secondary_cluster_identifier"])
        if "replication_rule_ids" in args and "replication_source_bucket" in args:
            specs += replication_alarms(
                args["replication_source_bucket"], args["replication_destination_bucket"], args["replication_rule_ids"]
            )
        if "standby_health_check_id" in args:
            specs += standby_health_alarms(args["standby_health_check_id"])
        if p.args["enable_cloudtrail"]:
            specs += audit_alarms(p)
        return specs

    def _key(self, region: str | None = None) -> aws.kms.Key:
        """A rotating key CloudWatch (to publish alarms) and CloudTrail (to write logs) may use."""
        suffix = "-global" if region else ""
        values = pulumi.Output.all(account=self._account, partition=self._partition)
        audit = self._plan if region is None and self._plan.args["enable_cloudtrail"] else None
        return aws.kms.Key(
            f"{self._name}-key{suffix}",
            description=f"{self._name}: alarm topic and audit trail",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=region,
            policy=values.apply(lambda v: _key_policy(v["account"], v["partition"], audit)),
            tags=self._tags(f"{self._name}-key{suffix}"),
            opts=self._child,
        )

    def _topic(self, label: str, key: aws.kms.Key, region: str | None) -> aws.sns.Topic:
        """An encrypted topic CloudWatch alarms of this account may publish to, with the e-mail subscriptions."""
        topic = aws.sns.Topic(label, kms_master_key_id=key.arn, region=region, tags=self._tags(label), opts=self._child)
        aws.sns.TopicPolicy(
            label,
            arn=topic.arn,
            region=region,
            policy=pulumi.Output.all(topic.arn, self._account).apply(
                lambda v: policy_document(
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": v[0],
                        "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}},
                    }
                )
            ),
            opts=self._child,
        )
        for index, email in enumerate(self._plan.args["alarm_emails"], start=1):
            aws.sns.TopicSubscription(
                f"{label}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                region=region,
                opts=self._child,
            )
        return topic

    def _alarm(self, spec: AlarmSpec, topic: aws.sns.Topic) -> aws.cloudwatch.MetricAlarm:
        """ALARM and OK both notify, so people also learn when it is over."""
        single: dict[str, Any] = {}
        if not spec.queries:
            single = {
                "namespace": spec.namespace,
                "metric_name": spec.metric,
                "dimensions": spec.dimensions,
                "period": spec.period,
            }
            single["extended_statistic" if spec.statistic.startswith("p") else "statistic"] = spec.statistic
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{spec.key}",
            alarm_description=f"{spec.tier}: {spec.description}",
            comparison_operator=spec.comparison,
            threshold=None if spec.threshold_metric_id else spec.threshold,
            threshold_metric_id=spec.threshold_metric_id,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints,
            treat_missing_data=spec.missing,
            metric_queries=spec.queries or None,
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            region=spec.region,
            tags={**self._tags(f"{self._name}-{spec.key}"), "ha-stack:tier": spec.tier},
            opts=self._child,
            **single,
        )

    def _composite(
        self, critical: list[aws.cloudwatch.MetricAlarm], topic: aws.sns.Topic
    ) -> aws.cloudwatch.CompositeAlarm | None:
        """ "Service degraded": any critical alarm of the stack's region."""
        if not critical:
            return None
        rule = pulumi.Output.all(*[a.name for a in critical]).apply(lambda ns: " OR ".join(f'ALARM("{n}")' for n in ns))
        return aws.cloudwatch.CompositeAlarm(
            f"{self._name}-service-degraded",
            alarm_name=f"{self._plan.name_prefix}-service-degraded",
            alarm_description="service degraded: a critical alarm of the web tier fired",
            alarm_rule=rule,
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=self._tags(f"{self._name}-service-degraded"),
            opts=self._child,
        )

    def _dashboard(self, specs: list[AlarmSpec]) -> aws.cloudwatch.Dashboard:
        """A row per tier: a title, then one graph per alarm's metric (with its threshold line)."""
        region = self._plan.args["region"]
        widgets = pulumi.Output.all(*[_widget_input(s) for s in specs]).apply(
            lambda resolved: _dashboard_body(list(zip(specs, resolved, strict=True)), region)
        )
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=f"{self._plan.name_prefix}-overview",
            dashboard_body=widgets,
            opts=self._child,
        )

    def _trail(self, key: aws.kms.Key) -> aws.cloudtrail.Trail:
        """Every region's API calls, validated and KMS-encrypted, into a bucket only CloudTrail writes to."""
        name, p = self._name, self._plan
        bucket = private_bucket(
            f"{name}-trail",
            BucketSpec(kms_key_arn=key.arn, archive=p.trail_archive, force_destroy=p.args["force_destroy_buckets"]),
            self._tags(f"{name}-trail"),
            self._child,
        )
        trail_arn = pulumi.Output.concat(
            "arn:", self._partition, ":cloudtrail:", p.args["region"], ":", self._account, ":trail/", p.trail_name
        )
        policy = bucket_policy(
            f"{name}-trail",
            bucket,
            self._child,
            statements=_cloudtrail_writes,
            statement_inputs={"account": self._account, "trail": trail_arn},
        )
        logs, role, role_policy = self._trail_logs(key)
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=p.trail_name,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=key.arn,
            cloud_watch_logs_group_arn=pulumi.Output.concat(logs.arn, ":*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=self._tags(f"{name}-trail"),
            # CloudTrail checks the bucket policy and the role's permissions when the trail is created.
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[policy, role_policy])),
        )
        self._cis_filters(logs)
        return trail

    def _trail_logs(self, key: aws.kms.Key) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role, aws.iam.RolePolicy]:
        """An encrypted log group for the trail, and the role CloudTrail assumes to write this account's streams.

        CloudTrail names its streams <account>_CloudTrail_<trail region>[_n], so the role may create and write
        those streams of this log group and nothing else (CloudTrail user guide, "Sending events to CloudWatch Logs").
        """
        name, p = f"{self._name}-trail-logs", self._plan
        logs = aws.cloudwatch.LogGroup(
            name,
            name=p.trail_log_group,
            kms_key_id=key.arn,
            retention_in_days=p.args["trail_log_retention_days"],
            tags=self._tags(name),
            opts=self._child,
        )
        role = aws.iam.Role(
            name,
            description="CloudTrail writes the audit trail to its CloudWatch Logs group",
            assume_role_policy=assume_role_policy("cloudtrail.amazonaws.com"),
            tags=self._tags(name),
            opts=self._child,
        )
        streams = pulumi.Output.concat(logs.arn, ":log-stream:", self._account, "_CloudTrail_", p.args["region"], "*")
        policy = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=streams.apply(
                lambda arn: policy_document(
                    {"Sid": "CreateTrailStreams", "Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": arn},
                    {"Sid": "WriteTrailEvents", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": arn},
                )
            ),
            opts=self._child,
        )
        return logs, role, policy

    def _cis_filters(self, logs: aws.cloudwatch.LogGroup) -> None:
        """The CIS metric filters on the trail's log group; audit_alarms() watches their metrics."""
        for f in CIS_FILTERS:
            aws.cloudwatch.LogMetricFilter(
                f"{self._name}-{f.key}",
                log_group_name=logs.name,
                pattern=f.pattern,
                metric_transformation={
                    "name": f"{self._plan.name_prefix}-{f.key}",
                    "namespace": CIS_NAMESPACE,
                    "value": "1",
                    "default_value": "0",
                },
                opts=self._child,
            )


def _widget_input(spec: AlarmSpec) -> pulumi.Output[Any]:
    """The alarm's metric or queries with every Output resolved, for the dashboard JSON."""
    if spec.queries:
        return pulumi.Output.from_input(spec.queries)
    return pulumi.Output.from_input(spec.dimensions)


def _dashboard_body(resolved: list[tuple[AlarmSpec, Any]], region: str) -> str:
    widgets: list[dict[str, Any]] = []
    y = 0
    for tier in TIERS:
        row = [(s, v) for s, v in resolved if s.tier == tier]
        if not row:
            continue
        widgets.append(
            {"type": "text", "x": 0, "y": y, "width": 24, "height": 1, "properties": {"markdown": f"## {tier}"}}
        )
        y += 1
        for index, (spec, value) in enumerate(row):
            widgets.append(
                {
                    "type": "metric",
                    "x": (index % 4) * 6,
                    "y": y + (index // 4) * 6,
                    "width": 6,
                    "height": 6,
                    "properties": {
                        "title": spec.key,
                        "region": spec.region or region,
                        "metrics": _widget_metrics(spec, value),
                        "annotations": {"horizontal": [{"value": spec.threshold, "label": "alarm"}]}
                        if not spec.threshold_metric_id
                        else {},
                        "period": spec.period,
                        **({} if spec.queries else {"stat": spec.statistic}),
                    },
                }
            )
        y += ((len(row) + 3) // 4) * 6
    return json.dumps({"widgets": widgets})


def _widget_metrics(spec: AlarmSpec, value: Any) -> list[list[Any]]:
    """CloudWatch dashboard metric rows: [namespace, metric, dim, value, ...] or [{"expression": ...}]."""
    if not spec.queries:
        dims = [part for pair in sorted(dict(value).items()) for part in pair]
        return [[spec.namespace, spec.metric, *dims]]
    rows: list[list[Any]] = []
    for query in value:
        if "expression" in query:
            rows.append(
                [{"expression": query["expression"], "label": query.get("label", query["id"]), "id": query["id"]}]
            )
        else:
            rows.append(_math_input_row(query))
    return rows


def _math_input_row(query: dict[str, Any]) -> list[Any]:
    """A metric that a math expression uses, with the alarm's own statistic and period.

    A dashboard row without "stat" takes the widget's, and Average of a per-request count is always 1: the 5xx
    rate would read 100% whenever any 5xx exists. The alarm queries sum their counts, so the graph does too.
    """
    metric = query["metric"]
    dims = [part for pair in sorted(metric["dimensions"].items()) for part in pair]
    options = {
        "id": query["id"],
        "stat": metric["stat"],
        "period": metric["period"],
        "visible": bool(query.get("return_data", False)),
    }
    return [metric["namespace"], metric["metric_name"], *dims, options]


def _key_policy(account: str, partition: str, audit: MonitoringPlan | None) -> str:
    """The account administers the key; CloudWatch, and with a trail CloudTrail and CloudWatch Logs, may use it."""
    statements: list[Statement] = [
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchPublishesEncryptedAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
    ]
    if audit is not None:
        statements += _audit_key_statements(account, partition, audit)
    return policy_document(*statements)


def _audit_key_statements(account: str, partition: str, p: MonitoringPlan) -> list[Statement]:
    """CloudTrail encrypts this trail's files and describes the key; CloudWatch Logs encrypts the trail's log group.

    CloudTrail user guide, "Configure AWS KMS key policies for CloudTrail": DescribeKey is its own statement
    (DescribeKey carries no encryption context), and aws:SourceArn names the trail.
    """
    trail = f"arn:{partition}:cloudtrail:{p.args['region']}:{account}:trail/{p.trail_name}"
    log_group = f"arn:{partition}:logs:{p.args['region']}:{account}:log-group:{p.trail_log_group}"
    return [
        {
            "Sid": "CloudTrailEncryptsLogs",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": trail},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account}:trail/*"
                },
            },
        },
        {
            # "If you are using an existing S3 bucket with an S3 Bucket Key, kms:Decrypt permissions are required to
            # create or update a trail with SSE-KMS encryption enabled": the trail bucket uses a bucket key.
            "Sid": "CloudTrailDecryptsWithBucketKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail}},
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail}},
        },
        logs_may_use_key("CloudWatchLogsEncryptsTrailLogs", p.args["region"], "ArnEquals", log_group),
    ]


def _cloudtrail_writes(v: dict[str, str]) -> list[Statement]:
    """CloudTrail (this trail only) checks the bucket ACL and writes this account's logs."""
    condition = {"StringEquals": {"aws:SourceArn": v["trail"]}}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": v["arn"],
            "Condition": condition,
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{v['arn']}/AWSLogs/{v['account']}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": v["trail"], "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
    ]
