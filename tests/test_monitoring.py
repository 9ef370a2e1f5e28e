"""HaMonitoring: every alarm notifies, watches a real identifier and a metric its AWS service publishes."""

import importlib
import inspect
import json
import re
from dataclasses import fields
from typing import Any, cast
from unittest import mock

import pulumi
import pulumi_aws as aws
import pytest

from ha_stack import HaMonitoring, HaMonitoringArgs, options
from ha_stack.database import DatabaseEngine
from ha_stack.monitoring import plan
from ha_stack.release import Launch, render_agent_config
from stack.ha_summary import alarms_by_tier, split_regions
from stack.mock_cloud import MockCloud, Recording
from stack.settings import parse_settings
from tests.conftest import build, parented_children, run_stack, stack_config

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"

# Metrics and the dimension sets AWS publishes them with, from the services' CloudWatch documentation
# (ELB, EC2, EC2 Auto Scaling, RDS/Aurora, ElastiCache, CloudFront, Route 53, WAF). Written out here, not
# imported from the code under test, so a misspelt metric or a dimension AWS never emits fails.
PUBLISHED: dict[tuple[str, str], list[set[str]]] = {
    ("AWS/ApplicationELB", "RequestCount"): [{"LoadBalancer"}, {"LoadBalancer", "TargetGroup"}],
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): [{"LoadBalancer"}, {"LoadBalancer", "AvailabilityZone"}],
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): [{"LoadBalancer"}, {"LoadBalancer", "TargetGroup"}],
    ("AWS/ApplicationELB", "UnHealthyHostCount"): [{"LoadBalancer", "TargetGroup"}],
    ("AWS/ApplicationELB", "HealthyHostCount"): [{"LoadBalancer", "TargetGroup"}],
    ("AWS/ApplicationELB", "TargetResponseTime"): [{"LoadBalancer"}, {"LoadBalancer", "TargetGroup"}],
    ("AWS/ApplicationELB", "RejectedConnectionCount"): [{"LoadBalancer"}],
    ("AWS/EC2", "CPUUtilization"): [{"AutoScalingGroupName"}, {"InstanceId"}],
    ("AWS/AutoScaling", "GroupInServiceInstances"): [{"AutoScalingGroupName"}],
    ("AWS/RDS", "CPUUtilization"): [{"DBInstanceIdentifier"}, {"DBClusterIdentifier"}, {"DBClusterIdentifier", "Role"}],
    ("AWS/RDS", "FreeableMemory"): [{"DBInstanceIdentifier"}, {"DBClusterIdentifier"}, {"DBClusterIdentifier", "Role"}],
    ("AWS/RDS", "DatabaseConnections"): [
        {"DBInstanceIdentifier"},
        {"DBClusterIdentifier"},
        {"DBClusterIdentifier", "Role"},
    ],
    ("AWS/RDS", "ReadLatency"): [{"DBInstanceIdentifier"}, {"DBClusterIdentifier"}, {"DBClusterIdentifier", "Role"}],
    ("AWS/RDS", "WriteLatency"): [{"DBInstanceIdentifier"}, {"DBClusterIdentifier"}, {"DBClusterIdentifier", "Role"}],
    ("AWS/RDS", "FreeStorageSpace"): [{"DBInstanceIdentifier"}],
    ("AWS/RDS", "VolumeBytesUsed"): [{"DBClusterIdentifier"}],
    ("AWS/RDS", "AuroraReplicaLag"): [{"DBInstanceIdentifier"}],
    # Published by the primary; like every Aurora instance metric also under DBClusterIdentifier (+ Role).
    ("AWS/RDS", "AuroraReplicaLagMaximum"): [
        {"DBInstanceIdentifier"},
        {"DBClusterIdentifier"},
        {"DBClusterIdentifier", "Role"},
    ],
    ("AWS/RDS", "FreeLocalStorage"): [
        {"DBInstanceIdentifier"},
        {"DBClusterIdentifier"},
        {"DBClusterIdentifier", "Role"},
    ],
    # The CloudWatch agent on the instances (release.py's config rolls its metrics up on AutoScalingGroupName).
    ("ha-stack/instances", "disk_used_percent"): [{"AutoScalingGroupName"}],
    ("AWS/RDS", "ReplicaLag"): [{"DBInstanceIdentifier"}],
    ("AWS/ElastiCache", "EngineCPUUtilization"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "Evictions"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "ReplicationLag"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "CurrConnections"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "CacheHits"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/ElastiCache", "CacheMisses"): [{"CacheClusterId"}, {"CacheClusterId", "CacheNodeId"}],
    ("AWS/CloudFront", "5xxErrorRate"): [{"DistributionId", "Region"}],
    ("AWS/Route53", "HealthCheckStatus"): [{"HealthCheckId"}],
    ("AWS/WAFV2", "BlockedRequests"): [{"WebACL", "Rule"}, {"WebACL", "Rule", "Region"}],
    # Aurora user guide, "Amazon CloudWatch metrics for Amazon Aurora": cluster-level, milliseconds.
    ("AWS/RDS", "AuroraGlobalDBRPOLag"): [{"DBClusterIdentifier"}],
    # S3 user guide, "Using S3 Replication metrics": per replication rule, in the destination bucket's region.
    ("AWS/S3", "OperationsFailedReplication"): [{"SourceBucket", "DestinationBucket", "RuleId"}],
    ("AWS/S3", "ReplicationLatency"): [{"SourceBucket", "DestinationBucket", "RuleId"}],
}
GLOBAL_NAMESPACES = {"AWS/CloudFront", "AWS/Route53", "AWS/WAFV2"}
CIS_NAMESPACE = "LogMetrics"
"""Metrics of the stack's own CIS metric filters (checked against those filters, not against AWS's services)."""
"""Published in us-east-1 only (WAF: for web ACLs scoped to CloudFront)."""


@pytest.fixture(scope="module")
def prod(prod_whole: Recording) -> Recording:
    """prod's own region, as its aws.Provider places it (the standby's instance, whose Route 53 alarm and topic are
    in us-east-1 too, is tested on its own below): prod's stack file turns dr on."""
    return split_regions(prod_whole)[0]


@pytest.fixture(scope="module")
def prod_standby(request: pytest.FixtureRequest) -> tuple[Recording, Recording]:
    """prod whole, and its standby region's part."""
    whole = request.getfixturevalue("prod_whole")
    return whole, split_regions(whole)[1]["us-west-2"]


@pytest.fixture(scope="module")
def prod_whole() -> Recording:
    return run_stack("prod")


def metrics_of(alarm) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of an alarm's single metric or of each metric of its math."""
    if "metricName" in alarm.inputs:
        return [(alarm.inputs["namespace"], alarm.inputs["metricName"], alarm.inputs["dimensions"])]
    return [
        (q["metric"]["namespace"], q["metric"]["metricName"], q["metric"]["dimensions"])
        for q in alarm.inputs["metricQueries"]
        if "metric" in q
    ]


def exported_identifiers(rec: Recording) -> set[str]:
    """The identifiers the other components' resources really have (as the mock cloud assigned them).

    Aurora is watched through its cluster (the WRITER and READER roles, the cluster's worst replica lag), which
    follows a failover and readers added by auto scaling; so Aurora's instance ids are not among them.
    """
    alb = rec.named("web-alb", "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    target_group = rec.named("web-app", "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    group = rec.named("web-instances", "aws:autoscaling/group:Group").id
    databases = [r.outputs["identifier"] for r in rec.of_type("aws:rds/instance:Instance")]
    clusters = [r.outputs["clusterIdentifier"] for r in rec.of_type("aws:rds/cluster:Cluster")]
    (cache,) = rec.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    distribution = rec.named("edge-cdn", "aws:cloudfront/distribution:Distribution").id
    health = rec.named("edge-health", "aws:route53/healthCheck:HealthCheck").id
    acl = rec.named("edge-waf", "aws:wafv2/webAcl:WebAcl").outputs["name"]
    return {
        alb,
        target_group,
        group,
        *databases,
        *clusters,
        *cache.outputs["memberClusters"],
        distribution,
        health,
        acl,
    }


def kinds(rec: Recording) -> set[str]:
    """Alarm names without their per-node or per-reader number."""
    return {re.sub(r"-\d+$", "", n) for names in alarms_by_tier(rec).values() for n in names}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(stack, request):
    rec = request.getfixturevalue(stack)
    (topic,) = rec.of_type(TOPIC)  # us-east-1 stacks need no second topic for the edge alarms
    alarms = rec.of_type(ALARM) + rec.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert len(alarms) > 20
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]], alarm.name
        assert alarm.inputs["okActions"] == [topic.outputs["arn"]], alarm.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_watches_an_identifier_another_component_really_has(stack, request):
    rec = request.getfixturevalue(stack)
    fixed = {"Global", "ALL", "WRITER", "READER"}  # CloudFront's Region, WAF's Rule and Aurora's Role values
    real = exported_identifiers(rec) | fixed
    watched = set()
    for alarm in rec.of_type(ALARM):
        for _, _, dimensions in metrics_of(alarm):
            assert set(dimensions.values()) <= real, (alarm.name, dimensions)
            watched |= set(dimensions.values())
    assert real - fixed <= watched  # and nothing exported goes unwatched


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_metrics_namespaces_and_dimensions_are_ones_aws_publishes(stack, request):
    rec = request.getfixturevalue(stack)
    for alarm in rec.of_type(ALARM):
        for namespace, metric, dimensions in metrics_of(alarm):
            if namespace == CIS_NAMESPACE:
                continue  # test_cis_metric_filters_feed_alarms_on_the_topic
            assert (namespace, metric) in PUBLISHED, (alarm.name, namespace, metric)
            assert set(dimensions) in PUBLISHED[(namespace, metric)], (alarm.name, metric, dimensions)
            expected_region = "us-east-1" if namespace in GLOBAL_NAMESPACES else None
            assert alarm.inputs.get("region") == expected_region, alarm.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_missing_data_is_chosen_per_metric(stack, request):
    rec = request.getfixturevalue(stack)
    missing = {a.name.split("-", 1)[1]: a.inputs["treatMissingData"] for a in rec.of_type(ALARM)}
    assert missing["no-healthy-hosts"] == "breaching"  # silence means the targets are gone
    assert missing["instances-below-min"] == "breaching"
    assert missing["site-health-check"] == "breaching"
    assert missing["alb-5xx-rate"] == "notBreaching"  # silence means no traffic
    assert missing["p99-latency"] == "notBreaching"
    assert missing["db-cpu"] == "missing"  # keep the last state through a gap


def test_thresholds_come_from_the_stack_settings(prod):
    alarms = {a.name.split("-", 1)[1]: a.inputs for a in prod.of_type(ALARM)}
    assert alarms["instances-cpu"]["threshold"] == 80
    assert alarms["db-cpu"]["threshold"] == 80
    assert alarms["alb-5xx-rate"]["threshold"] == 5
    assert alarms["p99-latency"]["threshold"] == 1
    assert alarms["p99-latency"]["extendedStatistic"] == "p99"
    assert alarms["instances-below-min"]["threshold"] == 3


def test_alb_5xx_is_a_rate_of_requests(prod):
    rate = prod.named("monitoring-alb-5xx-rate", ALARM).inputs["metricQueries"]
    (expression,) = [q for q in rate if "expression" in q]
    assert expression["expression"] == "100 * FILL(errors, 0) / requests"
    assert expression["returnData"] is True
    assert {q["metric"]["metricName"] for q in rate if "metric" in q} == {"HTTPCode_ELB_5XX_Count", "RequestCount"}


def test_waf_blocks_alarm_on_an_anomaly_band(prod):
    alarm = prod.named("monitoring-waf-blocks-above-normal", ALARM).inputs
    assert alarm["comparisonOperator"] == "GreaterThanUpperThreshold"
    assert alarm["thresholdMetricId"] == "band"
    (band,) = [q for q in alarm["metricQueries"] if q["id"] == "band"]
    assert band["expression"] == "ANOMALY_DETECTION_BAND(blocked, 3)"


def test_prod_watches_the_aurora_cluster_and_each_cache_node(prod):
    names = alarms_by_tier(prod)
    aurora = {"db-replica-lag", "db-volume", "db-local-storage-writer", "db-local-storage-readers"}
    assert aurora <= set(names["database"])
    assert [n for n in names["cache"] if n.startswith("cache-cpu")] == ["cache-cpu-1", "cache-cpu-2", "cache-cpu-3"]


def test_dev_has_the_same_alarms_for_its_shape_and_nobody_subscribed(dev, prod):
    # Single-AZ RDS has free storage instead of Aurora's volume, local storage and readers' lag.
    aurora = {"db-volume", "db-replica-lag", "db-local-storage-writer", "db-local-storage-readers"}
    audit = (
        set()
        if dev.of_type("aws:cloudtrail/trail:Trail")
        else {"root-usage", "unauthorized-api-calls", "iam-policy-changes"}
    )
    assert kinds(dev) == kinds(prod) - aurora - audit | {"db-free-storage"}
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_prod_mails_ops(prod):
    (subscription,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "ops@example.com")


def test_composite_service_degraded_covers_the_critical_alarms(prod):
    (composite,) = prod.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert composite.inputs["alarmName"] == "ha-stack-prod-service-degraded"
    members = set(re.findall(r'ALARM\("([^"]+)"\)', composite.inputs["alarmRule"]))
    critical = {prod.named(f"monitoring-{key}", ALARM).id for key in (
        "alb-5xx-rate", "target-5xx-rate", "no-healthy-hosts", "p99-latency", "instances-below-min")}  # fmt: skip
    assert members == critical


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_only_cloudwatch_publishes(prod):
    (topic,) = prod.of_type(TOPIC)
    key = prod.named("monitoring-key", "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    services = {s["Principal"].get("Service") for s in json.loads(key.inputs["policy"])["Statement"]}
    assert {"cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com"} <= services
    (statement,) = json.loads(prod.named("monitoring-alarms", "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])[
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def _widgets(rec: Recording) -> list[dict[str, Any]]:
    (dashboard,) = rec.of_type("aws:cloudwatch/dashboard:Dashboard")
    return list(json.loads(dashboard.inputs["dashboardBody"])["widgets"])


def test_dashboard_has_a_row_per_tier_and_a_graph_per_alarm(prod):
    widgets = _widgets(prod)
    titles = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert titles == ["## load balancer", "## instances", "## database", "## cache", "## edge", "## audit"]
    graphs = [w for w in widgets if w["type"] == "metric"]
    assert len(graphs) == len(prod.of_type(ALARM))
    body = json.dumps(widgets)
    for identifier in exported_identifiers(prod):
        assert identifier in body
    regions = {w["properties"]["title"]: w["properties"]["region"] for w in graphs}
    assert regions["cdn-5xx-rate"] == "us-east-1"


def test_cloudtrail_is_multi_region_validated_and_encrypted(prod):
    (trail,) = prod.of_type("aws:cloudtrail/trail:Trail")
    key = prod.named("monitoring-key", "aws:kms/key:Key")
    bucket = prod.named("monitoring-trail", "aws:s3/bucket:Bucket")
    assert trail.inputs["name"] == "ha-stack-prod-audit"
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["kmsKeyId"] == key.outputs["arn"]
    assert trail.inputs["s3BucketName"] == bucket.outputs["bucket"]


def test_trail_bucket_is_tls_only_written_only_by_this_trail_and_archived(prod):
    policy = json.loads(prod.named("monitoring-trail", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny, acl_check, write = policy["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    trail_arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/ha-stack-prod-audit"
    for statement in (acl_check, write):
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert write["Resource"].endswith("/AWSLogs/123456789012/*")
    rules = prod.named("monitoring-trail", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs[
        "rules"
    ]
    (archive,) = [r for r in rules if r["id"] == "archive-then-expire"]
    assert archive["transitions"] == [{"days": 90, "storageClass": "GLACIER"}]
    assert archive["expiration"] == {"days": 365}
    sse = prod.named(
        "monitoring-trail", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": prod.named("monitoring-key", "aws:kms/key:Key").outputs["arn"],
    }


def test_stack_exports_the_topic_and_dashboard(prod):
    assert prod.exports["alarm_topic_arn"] == prod.of_type(TOPIC)[0].outputs["arn"]
    assert prod.exports["dashboard_url"].endswith("#dashboards/dashboard/ha-stack-prod-overview")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"alarm_emails": ["ops"]},
            "HaMonitoring.alarm_emails: every entry must be an e-mail address of at most 254 characters, got 'ops'",
        ),
        (
            {"log_glacier_days": 90, "log_expire_days": 30},
            "HaMonitoring.log_expire_days: must be after log_glacier_days",
        ),
        ({"cpu_alarm_percent": 0}, "HaMonitoring.cpu_alarm_percent: must be from 1 to 100 percent, got 0"),
        ({"name_prefix": "a b"}, "HaMonitoring.name_prefix: must be letters and digits in words joined by single"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan({"region": "us-east-1", **overrides})  # type: ignore[typeddict-item]


def test_outside_us_east_1_edge_alarms_notify_a_topic_of_their_own_region():
    rec, _ = split_regions(run_stack("prod", {**stack_config("prod"), "aws:region": "eu-west-1"}))
    topics = {t.inputs.get("region"): t for t in rec.of_type(TOPIC)}
    assert set(topics) == {None, "us-east-1"}  # the stack's region, and us-east-1 for the edge
    for alarm in rec.of_type(ALARM):
        topic = topics["us-east-1"] if alarm.inputs.get("region") == "us-east-1" else topics[None]
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]], alarm.name
    subscriptions = {s.inputs.get("region") for s in rec.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert subscriptions == {None, "us-east-1"}  # people hear from both
    global_key = rec.named("monitoring-key-global", "aws:kms/key:Key")
    assert global_key.inputs["region"] == "us-east-1"
    assert topics["us-east-1"].inputs["kmsMasterKeyId"] == global_key.outputs["arn"]


# --- One component built on its own (as a reusing project would), so these run whatever the rest of the stack does.

READERS = ["db-reader-b", "db-reader-c"]


def component_args(**overrides: Any) -> HaMonitoringArgs:
    """Every tier wired with fixed identifiers: Aurora with two readers, three cache nodes, the edge."""
    args: dict[str, Any] = {
        "region": "us-east-1",
        "alb_arn_suffix": "app/web-alb/1",
        "target_group_arn_suffix": "targetgroup/web-app/2",
        "asg_name": "web-instances-asg",
        "asg_min_size": 3,
        "database_engine": DatabaseEngine.AURORA_POSTGRESQL,
        "database_cluster_identifier": "db-cluster",
        "database_instance_identifiers": ["db-writer-a", *READERS],
        "cache_member_ids": ["cache-001", "cache-002", "cache-003"],
        "distribution_id": "E123",
        "health_check_id": "hc-1",
        "web_acl_name": "edge-waf",
        "name_prefix": "ha-stack-prod",
        **overrides,
    }
    return args  # type: ignore[return-value]


def built(**overrides: Any) -> Recording:
    return build(lambda: HaMonitoring("monitoring", component_args(**overrides)))


@pytest.fixture(scope="module")
def alone() -> Recording:
    return built()


def alarm(rec: Recording, key: str) -> dict[str, Any]:
    return dict(rec.named(f"monitoring-{key}", ALARM).inputs)


def test_the_fullest_root_disk_of_the_group_alarms(alone):
    disk = alarm(alone, "instances-disk")
    assert (disk["namespace"], disk["metricName"]) == ("ha-stack/instances", "disk_used_percent")
    assert disk["dimensions"] == {"AutoScalingGroupName": "web-instances-asg"}
    assert disk["statistic"] == "Maximum"  # the fullest instance, not the group's average
    assert disk["comparisonOperator"] == "GreaterThanThreshold"
    assert disk["threshold"] == 85
    assert disk["alarmActions"] == [alone.of_type(TOPIC)[0].outputs["arn"]]


def test_the_disk_alarm_watches_what_the_instances_agent_publishes():
    """The agent config the instances run names the metric: namespace, measurement, "/" and the roll-up dimension.

    CloudWatch agent docs: a measurement "used_percent" of "disk" is published as disk_used_percent, and
    aggregation_dimensions [["AutoScalingGroupName"]] publishes each instance's points under that dimension alone.
    """
    values: dict[str, Any] = {f.name: 30 if f.type in (int, "int") else f"/{f.name}/" for f in fields(Launch)}
    launch = Launch(**values)
    metrics = json.loads(render_agent_config(launch))["metrics"]
    assert metrics["namespace"] == "ha-stack/instances"  # what test_the_fullest_root_disk_of_the_group_alarms reads
    assert ["AutoScalingGroupName"] in metrics["aggregation_dimensions"]
    disk = metrics["metrics_collected"]["disk"]
    assert "used_percent" in disk["measurement"]
    assert "/" in disk["resources"]


def _math_widgets(rec: Recording) -> list[dict[str, Any]]:
    return [
        w
        for w in _widgets(rec)
        if w["type"] == "metric"
        and any("expression" in row[0] for row in w["properties"]["metrics"] if isinstance(row[0], dict))
    ]


def test_dashboard_graphs_sum_the_counts_their_math_divides(alone):
    """A row without its own stat takes the widget's, and Average of a per-request count is 1: a graph of 100%."""
    graphs = {w["properties"]["title"]: w for w in _math_widgets(alone)}
    assert {"alb-5xx-rate", "target-5xx-rate", "cache-hit-rate"} <= set(graphs)
    for title, widget in graphs.items():
        queries = {q["id"]: q for q in alarm(alone, title)["metricQueries"] if "metric" in q}
        inputs = [row for row in widget["properties"]["metrics"] if not isinstance(row[0], dict)]
        assert len(inputs) == len(queries), title
        for row in inputs:
            options = row[-1]
            query = queries[options["id"]]["metric"]
            assert (options["stat"], options["period"]) == (query["stat"], query["period"]), (title, options)
    for row in graphs["alb-5xx-rate"]["properties"]["metrics"]:
        if not isinstance(row[0], dict):
            assert row[-1]["stat"] == "Sum"


def _dimension_values(rec: Recording) -> set[str]:
    return {v for a in rec.of_type(ALARM) for _, _, dims in metrics_of(a) for v in dims.values()}


def test_aurora_lag_and_local_storage_follow_the_cluster_not_instance_ids(alone):
    """After a failover or a reader added by auto scaling, no alarm is left watching the wrong instance."""
    assert not set(READERS) & _dimension_values(alone)  # and the writer only through Role=WRITER
    assert "db-writer-a" not in _dimension_values(alone)
    lag = alarm(alone, "db-replica-lag")
    assert (lag["metricName"], lag["dimensions"]) == ("AuroraReplicaLagMaximum", {"DBClusterIdentifier": "db-cluster"})
    assert lag["statistic"] == "Maximum"
    assert lag["threshold"] == 1000
    for key, role in (("db-local-storage-writer", "WRITER"), ("db-local-storage-readers", "READER")):
        local = alarm(alone, key)
        assert local["metricName"] == "FreeLocalStorage"
        assert local["dimensions"] == {"DBClusterIdentifier": "db-cluster", "Role": role}
        assert local["statistic"] == "Minimum"
        assert local["comparisonOperator"] == "LessThanThreshold"
        assert local["threshold"] == 2 * 1024**3


def test_aurora_without_readers_has_no_lag_alarm_and_watches_the_writer_storage():
    names = {a.name for a in built(database_instance_identifiers=["db-writer-a"]).of_type(ALARM)}
    assert "monitoring-db-local-storage-writer" in names
    assert not {"monitoring-db-replica-lag", "monitoring-db-local-storage-readers"} & names


def test_rds_replicas_keep_one_lag_alarm_each():
    """RDS replicas keep their identifiers (Multi-AZ failover stays inside an instance), so per-replica is right."""
    given = component_args(
        database_engine=DatabaseEngine.POSTGRES,
        database_instance_identifiers=["db-primary", "db-replica-1", "db-replica-2"],
    )
    del given["database_cluster_identifier"]
    rec = build(lambda: HaMonitoring("monitoring", given))
    for index in (1, 2):
        lag = alarm(rec, f"db-replica-lag-{index}")
        assert (lag["metricName"], lag["dimensions"]) == ("ReplicaLag", {"DBInstanceIdentifier": f"db-replica-{index}"})
    assert not [a for a in rec.of_type(ALARM) if "FreeLocalStorage" in str(a.inputs)]


def _key_statements(rec: Recording) -> dict[str, dict[str, Any]]:
    policy = json.loads(rec.named("monitoring-key", "aws:kms/key:Key").inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/ha-stack-prod-audit"


def test_cloudtrail_may_describe_the_key_without_an_encryption_context(alone):
    """DescribeKey carries no encryption context: under the encrypt statement's condition it was always denied."""
    statements = [
        s for s in _key_statements(alone).values() if s["Principal"].get("Service") == "cloudtrail.amazonaws.com"
    ]
    (describe,) = [s for s in statements if "kms:DescribeKey" in json.dumps(s["Action"])]
    assert describe["Action"] == "kms:DescribeKey"
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    (decrypt,) = [s for s in statements if s["Action"] == "kms:Decrypt"]  # the trail bucket has an S3 Bucket Key
    assert decrypt["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    (encrypt,) = [s for s in statements if s not in (describe, decrypt)]
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": TRAIL_ARN}
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"
    }


LOG_GROUP = "/ha-stack/ha-stack-prod/cloudtrail"
# Security Hub's CIS controls CloudWatch.1, .2 and .4 (Security Hub fails a control whose pattern differs).
CIS_PATTERNS = {
    "root-usage": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && '
    '$.eventType !="AwsServiceEvent"}',
    "unauthorized-api-calls": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "iam-policy-changes": "{($.eventSource=iam.amazonaws.com) && (($.eventName=DeleteGroupPolicy) || "
    "($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
    "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || "
    "($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
    "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || "
    "($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy))}",
}


def test_trail_delivers_to_an_encrypted_log_group_through_a_role_scoped_to_its_streams(alone):
    (trail,) = alone.of_type("aws:cloudtrail/trail:Trail")
    (logs,) = alone.of_type("aws:cloudwatch/logGroup:LogGroup")
    key = alone.named("monitoring-key", "aws:kms/key:Key")
    assert logs.inputs["name"] == LOG_GROUP
    assert logs.inputs["retentionInDays"] == 365
    assert logs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert trail.inputs["cloudWatchLogsGroupArn"] == logs.outputs["arn"] + ":*"  # CloudTrail wants the stream wildcard
    role = alone.named("monitoring-trail-logs", "aws:iam/role:Role")
    assert trail.inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    grants = json.loads(alone.named("monitoring-trail-logs", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    streams = logs.outputs["arn"] + ":log-stream:123456789012_CloudTrail_us-east-1*"
    assert {(s["Action"], s["Resource"]) for s in grants["Statement"]} == {
        ("logs:CreateLogStream", streams),
        ("logs:PutLogEvents", streams),
    }
    logs_key = _key_statements(alone)["CloudWatchLogsEncryptsTrailLogs"]
    assert logs_key["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_key["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:123456789012:log-group:{LOG_GROUP}"
        }
    }


def test_cis_metric_filters_feed_alarms_on_the_topic(alone):
    (topic,) = alone.of_type(TOPIC)
    filters = {
        f.name.removeprefix("monitoring-"): f.inputs
        for f in alone.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    assert {k: f["pattern"] for k, f in filters.items()} == CIS_PATTERNS
    for key, f in filters.items():
        assert f["logGroupName"] == LOG_GROUP
        metric = f["metricTransformation"]
        assert (metric["value"], metric["defaultValue"]) == ("1", "0")
        watch = alarm(alone, key)
        assert (watch["namespace"], watch["metricName"]) == (metric["namespace"], metric["name"])
        assert (watch["statistic"], watch["threshold"]) == ("Sum", 1)
        assert watch["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert watch["alarmActions"] == [topic.outputs["arn"]]
        assert watch["tags"]["ha-stack:tier"] == "audit"


def test_without_the_trail_there_is_no_log_group_no_filter_and_no_cloudtrail_grant():
    rec = built(enable_cloudtrail=False)
    assert rec.of_type("aws:cloudtrail/trail:Trail") == []
    assert rec.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") == []
    assert not [a for a in rec.of_type(ALARM) if a.inputs["tags"]["ha-stack:tier"] == "audit"]
    services = {s["Principal"].get("Service") for s in _key_statements(rec).values()}
    assert services == {None, "cloudwatch.amazonaws.com"}


def _sdk_takes_tags(typ: str) -> bool:
    """Whether the pulumi-aws resource behind a type token accepts tags (read from the installed SDK)."""
    module, name = typ.split(":")[1].split("/", maxsplit=1)[0], typ.rsplit(":", 1)[1]
    cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_taggable_child_carries_the_callers_tags():
    rec = built(tags={"team": "shop"})
    children = parented_children(rec)
    taggable = [r for r in children if _sdk_takes_tags(r.typ)]
    assert {r.typ for r in taggable} >= {ALARM, TOPIC, "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role"}
    assert [r.name for r in taggable if (r.inputs.get("tags") or {}).get("team") != "shop"] == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"trail_log_retention_days": 10},
            "HaMonitoring.trail_log_retention_days: must be a CloudWatch Logs retention in days (1, 3, 5",
        ),
        (
            {"instance_disk_alarm_percent": 100},
            "HaMonitoring.instance_disk_alarm_percent: must be from 50 to 99 percent, got 100",
        ),
        (
            {"database_local_storage_alarm_gib": 0},
            "HaMonitoring.database_local_storage_alarm_gib: must be from 1 to 1000 GiB, got 0",
        ),
        ({"enable_cloudtrail": "yes"}, "HaMonitoring.enable_cloudtrail: must be true or false, got 'yes'"),
        ({"force_destroy_buckets": "no"}, "HaMonitoring.force_destroy_buckets: must be true or false, got 'no'"),
    ],
)
def test_new_arguments_are_checked_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan({"region": "us-east-1", **overrides})  # type: ignore[typeddict-item]


@pytest.mark.parametrize(("stack", "trail"), [("dev", False), ("prod", True)])
def test_the_trail_is_opt_in_outside_prod(stack, trail):
    """Each stack's multi-region trail records the whole account again: dev opts out in its stack file, where the
    opt-out is visible in review (design.md), while the component's own default stays on (secure). The stack layer
    keeps no dev default of its own (issue 17: no copy of a component field), so the opt-out must be written."""
    config = stack_config(stack)
    assert config["ha-stack:monitoring"].get("enable_cloudtrail", True) is trail
    assert parse_settings(config, stack=stack).monitoring["enable_cloudtrail"] is trail
    assert plan({"region": "us-east-1"}).args["enable_cloudtrail"] is True


def test_the_trail_archive_is_kept_on_destroy_unless_the_caller_asks_to_empty_it(alone):
    (kept,) = alone.of_type("aws:s3/bucket:Bucket")
    assert kept.inputs.get("forceDestroy", False) is False
    (emptied,) = built(force_destroy_buckets=True).of_type("aws:s3/bucket:Bucket")
    assert emptied.inputs["forceDestroy"] is True


def test_dev_records_no_second_trail_and_prod_records_one(dev, prod):
    assert dev.of_type("aws:cloudtrail/trail:Trail") == []
    assert len(prod.of_type("aws:cloudtrail/trail:Trail")) == 1


def refused(given: object, name: str = "monitoring") -> list[str]:
    """The problem lines of HaMonitoring built on its own with these arguments, after checking nothing was declared."""
    caught: list[options.ArgsError] = []

    def program() -> None:
        try:
            HaMonitoring(name, cast(HaMonitoringArgs, given() if callable(given) else given))
        except options.ArgsError as err:
            caught.append(err)

    rec = build(program)
    assert [r.name for r in rec.resources if r.custom] == []  # nothing declared, not even the key
    (error,) = caught
    return error.problems


LONG = "x" * 10_000
STANDBY_REPLICATION: dict[str, Any] = {
    "replication_source_bucket": "edge-static-primary",
    "replication_destination_bucket": "edge-static-replica",
}


def without(key: str, **overrides: Any) -> dict[str, Any]:
    given = dict(component_args(**overrides))
    del given[key]
    return given


@pytest.mark.parametrize(
    ("given", "line"),
    [
        # catalogue: a region that does not exist, or lies outside the standard partition
        (
            component_args(region="us-east-7"),
            "HaMonitoring.region: must be a region of the standard aws partition (cfn-lint's AWS catalogue), "
            "got 'us-east-7' (nearest: ",
        ),
        (component_args(region="cn-north-1"), "HaMonitoring.region: must be a region of the standard aws partition"),
        (component_args(region=None), "HaMonitoring.region: must be a string, got None"),
        # wrong types
        (component_args(cpu_alarm_percent="80"), "HaMonitoring.cpu_alarm_percent: must be a whole number, got '80'"),
        (component_args(alarm_emails="ops@example.com"), "HaMonitoring.alarm_emails: must be a list of strings, got"),
        (component_args(enable_cloudtrail="yes"), "HaMonitoring.enable_cloudtrail: must be true or false, got 'yes'"),
        # an Output where the value decides what is declared
        (
            lambda: component_args(name_prefix=pulumi.Output.from_input("ha-stack-prod")),
            "HaMonitoring.name_prefix: must be a plain value known before deploy, not an Output",
        ),
        # names CloudTrail and CloudWatch refuse once derived (<prefix>-audit, <prefix>-overview)
        (
            component_args(name_prefix="ha-stack-my.stack"),
            "HaMonitoring.name_prefix: must be letters and digits in words joined by single '-' or '_' (CloudTrail "
            "refuses adjacent or trailing '-', '_' or '.' in 'ha-stack-my.stack-audit'; dashboards refuse '.'), got "
            "'ha-stack-my.stack'",
        ),
        (component_args(name_prefix="ha-stack-"), "HaMonitoring.name_prefix: must be letters and digits in words"),
        (
            component_args(name_prefix="p" * 123),
            "HaMonitoring.name_prefix: must be at most 122 characters: the trail 'pppppppppppppppppppppppppppppp'"
            "...-audit would be 129, CloudTrail allows 128; got 123",
        ),
        # a 10,000-character value is shown cut
        (
            component_args(alarm_emails=[LONG + "@example.com"]),
            "HaMonitoring.alarm_emails: every entry must be an e-mail address of at most 254 characters, got "
            f"'{'x' * 59}... (10014 characters)",
        ),
        (
            component_args(alarm_emails=["ops@example.com", "OPS@example.com"]),
            "HaMonitoring.alarm_emails: every address once, got ['ops@example.com'] more than once",
        ),
        # unknown arguments, with the nearest known one
        (component_args(alarm_email=["ops@example.com"]), "HaMonitoring.alarm_email: unknown argument (did you mean "),
        # a tier half wired would be left unwatched without a word
        (
            without("target_group_arn_suffix"),
            "HaMonitoring.alb_arn_suffix: alb_arn_suffix and target_group_arn_suffix go together",
        ),
        (
            without("distribution_id"),
            "HaMonitoring.health_check_id: needs distribution_id: the edge's alarms are made with it",
        ),
        (
            without("database_cluster_identifier"),
            "HaMonitoring.database_cluster_identifier: is required for aurora-postgresql",
        ),
        # the standby's inputs
        (
            component_args(replication_source_bucket="assets", replication_rule_ids=["every-object"]),
            "HaMonitoring.replication_source_bucket: replication_source_bucket and replication_destination_bucket "
            "and replication_rule_ids go together: give both or neither",
        ),
        (
            component_args(**STANDBY_REPLICATION, replication_rule_ids=["every object"]),
            "HaMonitoring.replication_rule_ids: must be a replication rule ID of at most 255 characters, got "
            "'every object'",
        ),
        (
            component_args(**STANDBY_REPLICATION, replication_rule_ids=["prefix:a/", "prefix-a"]),
            "HaMonitoring.replication_rule_ids: every rule once (alarm names are made from them), got "
            "['prefix-a', 'prefix:a/'] as the same name",
        ),
        (
            component_args(**STANDBY_REPLICATION, replication_rule_ids=[LONG]),
            f"HaMonitoring.replication_rule_ids: must be a replication rule ID of at most 255 characters, got "
            f"'{'x' * 59}... (10002 characters)",
        ),
        (
            component_args(global_rpo_alarm_seconds=0),
            "HaMonitoring.global_rpo_alarm_seconds: must be from 1 to 3600 seconds, got 0",
        ),
        (component_args(asg_min_size=-1), "HaMonitoring.asg_min_size: must be from 0 to 100, got -1"),
    ],
)
def test_each_class_of_bad_input_is_one_line_and_nothing_is_declared(given, line):
    """Issue 17: through the component on its own, every class of bad input is a clear line, never a traceback."""
    lines = refused(given)
    assert [x for x in lines if x.startswith(line)] != [], lines


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("m" * 46, "HaMonitoring.name: must be at most 45 characters: the IAM role Pulumi names 'mmmm"),
        ("my.monitoring", "HaMonitoring.name: makes the S3 bucket name 'my.monitoring-trail' + 7 random characters"),
    ],
)
def test_a_name_that_makes_a_child_name_aws_refuses_is_one_line_before_anything_is_declared(name, line):
    """The trail archive is named <name>-trail-<7 random> (S3: at most 63 lower-case letters, digits, '.' and '-');
    the role CloudTrail writes its logs with <name>-trail-logs-<7 random> (IAM: at most 64)."""
    (problem,) = refused(component_args(), name)
    assert problem.startswith(line), problem


def test_without_a_prefix_the_names_come_from_the_component_name_and_are_checked():
    given = without("name_prefix")
    (problem,) = refused(given, "ops_.monitoring")
    assert problem.startswith("HaMonitoring.name: makes the S3 bucket name 'ops_.monitoring-trail'"), problem
    (problem,) = refused(given, "ops--watch")
    assert problem.startswith("HaMonitoring.name: must be letters and digits in words joined by single"), problem
    rec = build(lambda: HaMonitoring("Watch-1", cast(HaMonitoringArgs, given)))
    (trail,) = rec.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["name"] == "Watch-1-audit"


def test_several_bad_arguments_are_all_reported_in_one_error():
    lines = refused(
        component_args(region="mars-1", cpu_alarm_percent=0, alarm_emails=["x"], log_glacier_days=400, bogus=1),
        "monitoring.v2",
    )
    assert [line.split(":")[0] for line in lines] == [
        "HaMonitoring.bogus",
        "HaMonitoring.region",
        "HaMonitoring.alarm_emails",
        "HaMonitoring.cpu_alarm_percent",
        "HaMonitoring.log_expire_days",
        "HaMonitoring.name",
    ]


# --- The standby region's instance (issue 16): built with the standby region's provider, as the stack builds it.


def standby_args(**overrides: Any) -> HaMonitoringArgs:
    """What the stack gives the standby's instance: its own web tier and database, the secondary cluster, the
    replicated static bucket's rule and the standby origin's health check; no edge and no second trail."""
    standby: dict[str, Any] = {
        "region": "us-west-2",
        "alb_arn_suffix": "app/standby-alb/3",
        "target_group_arn_suffix": "targetgroup/standby-app/4",
        "asg_name": "standby-instances-asg",
        "database_cluster_identifier": "standby-db-cluster",
        "database_instance_identifiers": ["standby-db-writer-a"],
        "cache_member_ids": ["standby-cache-001"],
        "global_secondary_cluster_identifier": "standby-db-cluster",
        "replication_rule_ids": ["every-object"],
        "standby_health_check_id": "hc-standby",
        "alarm_emails": ["ops@example.com", "oncall@example.com"],
        "enable_cloudtrail": False,
        "name_prefix": "ha-stack-prod-standby",
        **STANDBY_REPLICATION,
    }
    return component_args(**{**standby, **overrides})


def built_in_standby(**overrides: Any) -> tuple[Recording, list[tuple[str, str]]]:
    """The instance under an aws.Provider for us-west-2, and the (token, provider) of every invoke it made."""
    asked: list[tuple[str, str]] = []
    original = MockCloud.call

    def call(self: MockCloud, args: Any) -> Any:
        asked.append((args.token, str(args.provider)))
        return original(self, args)

    def program() -> None:
        provider = aws.Provider("standby", region="us-west-2")
        for key in ("distribution_id", "health_check_id", "web_acl_name"):
            overrides.setdefault(key, None)
        given = {k: v for k, v in standby_args(**overrides).items() if v is not None}
        HaMonitoring(
            "monitoring-standby",
            cast(HaMonitoringArgs, given),
            pulumi.ResourceOptions(provider=provider),
        )

    with mock.patch.object(MockCloud, "call", call):
        rec = build(program)
    return rec, asked


def alarm_keys(rec: Recording, tier: str | None = None) -> set[str]:
    """The standby instance's alarm keys (names without "monitoring-standby-"), of one tier or all."""
    return {
        a.name.removeprefix("monitoring-standby-")
        for a in rec.of_type(ALARM)
        if tier in (None, a.inputs["tags"]["ha-stack:tier"])
    }


@pytest.fixture(scope="module")
def standby() -> tuple[Recording, list[tuple[str, str]]]:
    return built_in_standby()


def _standby_provider(rec: Recording) -> str:
    (provider,) = rec.of_type("pulumi:providers:aws")
    return provider.urn


def test_the_standby_instance_lands_in_the_standby_region_and_asks_it(standby):
    rec, asked = standby
    provider = _standby_provider(rec)
    children = [r for r in rec.resources if r.custom and r.typ != "pulumi:providers:aws"]
    assert children
    assert [r.name for r in children if not r.provider.startswith(provider + "::")] == []
    # The account and region lookups go through the component (parent=self), so the standby's provider answers.
    assert asked
    assert all(p.startswith(provider + "::") for _, p in asked), asked
    # Only what Route 53 publishes in us-east-1 is placed there; the rest stays in the provider's region.
    regions = {r.name: r.inputs.get("region") for r in children if r.typ == ALARM}
    assert {n for n, region in regions.items() if region} == {"monitoring-standby-standby-health-check"}
    assert set(regions.values()) == {None, "us-east-1"}


def test_the_standby_watches_the_global_database_lag_on_its_secondary_cluster(standby):
    rec, _ = standby
    lag = dict(rec.named("monitoring-standby-global-db-rpo-lag", ALARM).inputs)
    assert (lag["namespace"], lag["metricName"], lag["dimensions"]) == (
        "AWS/RDS",
        "AuroraGlobalDBRPOLag",
        {"DBClusterIdentifier": "standby-db-cluster"},
    )
    assert lag["threshold"] == 30_000  # 30 s in the metric's milliseconds
    assert lag["statistic"] == "Maximum"
    assert lag["treatMissingData"] == "breaching"  # a secondary that stops reporting is not known to be safe
    assert lag.get("region") is None


def test_each_replication_rule_alarms_on_failures_and_on_latency_beyond_rtc(standby):
    rec, _ = standby
    where = {
        "SourceBucket": "edge-static-primary",
        "DestinationBucket": "edge-static-replica",
        "RuleId": "every-object",
    }
    failed = dict(rec.named("monitoring-standby-replication-failed-every-object", ALARM).inputs)
    latency = dict(rec.named("monitoring-standby-replication-latency-every-object", ALARM).inputs)
    assert (failed["namespace"], failed["metricName"], failed["dimensions"]) == (
        "AWS/S3",
        "OperationsFailedReplication",
        where,
    )
    assert (failed["statistic"], failed["comparisonOperator"], failed["threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    )
    assert (latency["metricName"], latency["dimensions"], latency["statistic"]) == (
        "ReplicationLatency",
        where,
        "Maximum",
    )
    assert (latency["comparisonOperator"], latency["threshold"]) == ("GreaterThanThreshold", 900)


def test_several_rules_get_alarms_each_named_after_the_rule():
    rec, _ = built_in_standby(replication_rule_ids=["prefix:assets/", "prefix:img/"])
    names = alarm_keys(rec, "standby")
    assert {"replication-failed-prefix-assets", "replication-latency-prefix-img"} <= names
    rules = {a.inputs["dimensions"]["RuleId"] for a in rec.of_type(ALARM) if a.inputs.get("namespace") == "AWS/S3"}
    assert rules == {"prefix:assets/", "prefix:img/"}


def test_the_standby_origin_health_check_alarms_in_us_east_1_on_a_topic_there_with_the_same_emails(standby):
    rec, _ = standby
    check = dict(rec.named("monitoring-standby-standby-health-check", ALARM).inputs)
    assert (check["metricName"], check["dimensions"], check["region"]) == (
        "HealthCheckStatus",
        {"HealthCheckId": "hc-standby"},
        "us-east-1",
    )
    assert check["treatMissingData"] == "breaching"
    topics = {t.inputs.get("region"): t for t in rec.of_type(TOPIC)}
    assert set(topics) == {None, "us-east-1"}  # the standby region's own topic, and one where Route 53 publishes
    for a in rec.of_type(ALARM):
        topic = topics["us-east-1"] if a.inputs.get("region") == "us-east-1" else topics[None]
        assert a.inputs["alarmActions"] == [topic.outputs["arn"]], a.name
    mails: dict[str | None, set[str]] = {}
    for sub in rec.of_type("aws:sns/topicSubscription:TopicSubscription"):
        mails.setdefault(sub.inputs.get("region"), set()).add(sub.inputs["endpoint"])
    assert mails == {
        None: {"ops@example.com", "oncall@example.com"},
        "us-east-1": {"ops@example.com", "oncall@example.com"},
    }


def test_standby_metrics_are_ones_aws_publishes(standby):
    rec, _ = standby
    for a in rec.of_type(ALARM):
        for namespace, metric, dimensions in metrics_of(a):
            assert (namespace, metric) in PUBLISHED, (a.name, namespace, metric)
            assert set(dimensions) in PUBLISHED[(namespace, metric)], (a.name, metric, dimensions)


def test_the_standby_dashboard_has_a_standby_row_with_a_graph_per_standby_alarm(standby):
    rec, _ = standby
    widgets = _widgets(rec)
    titles = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert "## standby" in titles
    row = titles.index("## standby")
    texts = [i for i, w in enumerate(widgets) if w["type"] == "text"]
    start = texts[row]
    end = texts[row + 1] if row + 1 < len(texts) else len(widgets)
    graphs = {w["properties"]["title"]: w["properties"] for w in widgets[start + 1 : end]}
    assert set(graphs) == alarm_keys(rec, "standby")
    assert graphs["standby-health-check"]["region"] == "us-east-1"
    assert graphs["global-db-rpo-lag"]["region"] == "us-west-2"
    (dashboard,) = rec.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "ha-stack-prod-standby-overview"


def test_a_pilot_light_standby_does_not_page_for_the_instances_it_does_not_run():
    rec, _ = built_in_standby(asg_min_size=0)
    names = alarm_keys(rec)
    assert "no-healthy-hosts" not in names
    assert "instances-below-min" not in names
    assert {"unhealthy-hosts", "instances-cpu", "global-db-rpo-lag"} <= names  # what it runs is still watched
    warm, _ = built_in_standby(asg_min_size=3)
    assert {"no-healthy-hosts", "instances-below-min"} <= alarm_keys(warm)


def test_prod_watches_its_standby_from_the_standby_region_on_the_standbys_own_resources(prod_standby):
    whole, standby = prod_standby
    (provider,) = whole.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-west-2"
    (instance,) = [c for c in standby.components() if c.typ == "ha-stack:index:HaMonitoring"]
    alarms = {a.name.removeprefix(f"{instance.name}-"): a.inputs for a in standby.of_type(ALARM)}
    secondary = next(c for c in standby.of_type("aws:rds/cluster:Cluster") if c.inputs.get("globalClusterIdentifier"))
    assert alarms["global-db-rpo-lag"]["dimensions"] == {"DBClusterIdentifier": secondary.outputs["clusterIdentifier"]}
    (replication,) = whole.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    for rule in replication.inputs["rules"]:
        for kind in ("failed", "latency"):
            dims = alarms[f"replication-{kind}-{rule['id']}"]["dimensions"]
            assert dims["RuleId"] == rule["id"]
            assert dims["SourceBucket"] == whole.by_id(replication.inputs["bucket"]).outputs["bucket"]
            assert dims["DestinationBucket"] == rule["destination"]["bucket"].rsplit(":", 1)[-1]
    checks = {c.id: c for c in whole.of_type("aws:route53/healthCheck:HealthCheck")}
    standby_check = checks[alarms["standby-health-check"]["dimensions"]["HealthCheckId"]]
    assert standby_check.inputs["fqdn"].startswith("origin-standby.")
    assert alarms["standby-health-check"]["region"] == "us-east-1"
    # every alarm of the standby's instance notifies a topic of the standby's instance, in the alarm's region
    topics = {t.inputs.get("region"): t.outputs["arn"] for t in standby.of_type(TOPIC)}
    for key, alarm in alarms.items():
        assert alarm["alarmActions"] == [topics[alarm.get("region")]], key
    mails = {s.inputs["endpoint"] for s in standby.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert mails == {"ops@example.com"}  # the same people as the primary's topic
