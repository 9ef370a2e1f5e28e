"""HaMonitoring: every alarm notifies, watches a real identifier and a metric its AWS service publishes."""

import json
import re
from typing import Any

import pytest

from ha_stack.monitoring import plan
from stack.ha_summary import alarms_by_tier
from stack.mock_cloud import Recording
from tests.conftest import run_stack, stack_config

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
}
GLOBAL_NAMESPACES = {"AWS/CloudFront", "AWS/Route53", "AWS/WAFV2"}
"""Published in us-east-1 only (WAF: for web ACLs scoped to CloudFront)."""


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

    Aurora's writer is watched through its cluster's WRITER role (which follows a failover), not by instance id.
    """
    alb = rec.named("web-alb", "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    target_group = rec.named("web-app", "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    group = rec.named("web-instances", "aws:autoscaling/group:Group").id
    databases = [
        r.outputs["identifier"]
        for r in rec.of_type("aws:rds/clusterInstance:ClusterInstance")
        if r.inputs["promotionTier"] > 0
    ]
    databases += [r.outputs["identifier"] for r in rec.of_type("aws:rds/instance:Instance")]
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
    fixed = {"Global", "ALL", "WRITER"}  # CloudFront's Region, WAF's Rule and Aurora's Role dimension values
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


def test_prod_watches_each_reader_and_each_cache_node(prod):
    names = alarms_by_tier(prod)
    assert {"db-replica-lag-1", "db-replica-lag-2", "db-volume"} <= set(names["database"])
    assert [n for n in names["cache"] if n.startswith("cache-cpu")] == ["cache-cpu-1", "cache-cpu-2", "cache-cpu-3"]


def test_dev_has_the_same_alarms_for_its_shape_and_nobody_subscribed(dev, prod):
    # Single-AZ RDS has free storage instead of Aurora's volume, and no readers to lag.
    assert kinds(dev) == kinds(prod) - {"db-volume", "db-replica-lag"} | {"db-free-storage"}
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
    assert titles == ["## load balancer", "## instances", "## database", "## cache", "## edge"]
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
        ({"alarm_emails": ["ops"]}, "HaMonitoring.alarm_emails: must be e-mail addresses, got 'ops'"),
        (
            {"log_glacier_days": 90, "log_expire_days": 30},
            "HaMonitoring.log_expire_days: must be after log_glacier_days",
        ),
        ({"cpu_alarm_percent": 0}, "HaMonitoring.cpu_alarm_percent: must be a number from 1 to 100, got 0"),
        ({"name_prefix": "a b"}, "HaMonitoring.name_prefix: must be 3 to 61 letters"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan({"region": "us-east-1", **overrides})  # type: ignore[typeddict-item]


def test_outside_us_east_1_edge_alarms_notify_a_topic_of_their_own_region():
    rec = run_stack("prod", {**stack_config("prod"), "aws:region": "eu-west-1"})
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
