"""HaCache: prod's 3-node replication group, dev's single node, and what a reusing project gets."""

import asyncio
import importlib
import json
import re
from typing import Any, cast

import pytest

from ha_stack import CacheEngine, HaCache, HaCacheArgs
from ha_stack.cache import plan
from stack.ha_summary import cache_facts
from tests.conftest import DATA_TIER, ZONES3, build, parented_children, published, run_stack, stack_config

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"


def args(**overrides: Any) -> HaCacheArgs:
    return cast(HaCacheArgs, {**DATA_TIER, **overrides})


def test_prod_has_3_nodes_across_3_azs_with_failover_and_multi_az(prod):
    facts = cache_facts(prod)
    assert facts.node_zones == ZONES3
    assert (facts.automatic_failover, facts.multi_az) == (True, True)
    group = prod.named("cache-redis", GROUP)
    assert group.inputs["numCacheClusters"] == 3
    assert (group.inputs["engine"], group.inputs["engineVersion"], group.inputs["nodeType"]) == (
        "redis",
        "7.1",
        "cache.r7g.large",
    )
    assert "numNodeGroups" not in group.inputs  # cluster mode off: one shard, one primary endpoint


def test_dev_has_one_node_and_no_failover(dev):
    facts = cache_facts(dev)
    assert facts.node_zones == ["us-east-1a"]
    assert (facts.automatic_failover, facts.multi_az) == (False, False)
    assert dev.named("cache-redis", GROUP).inputs["nodeType"] == "cache.t4g.micro"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tls_is_required_and_data_is_encrypted_at_rest(stack, request):
    facts = cache_facts(request.getfixturevalue(stack))
    assert facts.encrypted_at_rest is True
    assert facts.tls_required is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_auth_token_is_generated_kept_secret_and_stored_in_secrets_manager(stack, request):
    rec = request.getfixturevalue(stack)
    token = rec.named("cache-auth-token", "random:index/randomPassword:RandomPassword")
    assert token.inputs["length"] == 64
    assert token.inputs["special"] is False
    group = rec.named("cache-redis", GROUP)
    assert group.inputs["authToken"] == {"secret": token.outputs["result"]["secret"]}
    version = rec.named("cache-auth-token", "aws:secretsmanager/secretVersion:SecretVersion")
    secret = rec.named("cache-auth-token", "aws:secretsmanager/secret:Secret")
    assert version.inputs["secretId"] == secret.id
    assert version.inputs["secretString"] == {"secret": token.outputs["result"]["secret"]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_the_web_instances_reach_the_cache_port(stack, request):
    rec = request.getfixturevalue(stack)
    cache_sg = rec.named("cache-sg", SG)
    (rule,) = [
        r
        for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == cache_sg.id
    ]
    assert rule.inputs["referencedSecurityGroupId"] == rec.named("web-instances", SG).id
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (6379, 6379)
    assert rec.named("cache-redis", GROUP).inputs["securityGroupIds"] == [cache_sg.id]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_data_subnets_hold_the_cache(stack, request):
    rec = request.getfixturevalue(stack)
    subnets = rec.named("cache-subnets", "aws:elasticache/subnetGroup:SubnetGroup")
    assert {rec.by_id(s).inputs["tags"]["ha-stack:tier"] for s in subnets.inputs["subnetIds"]} == {"data"}
    assert rec.named("cache-redis", GROUP).inputs["subnetGroupName"] == subnets.outputs["name"]


def test_parameter_group_evicts_like_a_cache(prod):
    params = prod.named("cache-params", "aws:elasticache/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "redis7"
    assert params.inputs["parameters"] == [{"name": "maxmemory-policy", "value": "allkeys-lru"}]
    assert prod.named("cache-redis", GROUP).inputs["parameterGroupName"] == params.outputs["name"]


def test_snapshots_windows_upgrades_and_logs(prod):
    group = prod.named("cache-redis", GROUP).inputs
    assert group["snapshotRetentionLimit"] == 7
    assert group["snapshotWindow"] == "02:00-03:00"
    assert group["maintenanceWindow"] == "sun:05:30-sun:06:30"
    assert group["autoMinorVersionUpgrade"] is True
    deliveries = {d["logType"]: d for d in group["logDeliveryConfigurations"]}
    assert sorted(deliveries) == ["engine-log", "slow-log"]
    for kind, delivery in deliveries.items():
        log_group = prod.named(f"cache-{kind}", "aws:cloudwatch/logGroup:LogGroup")
        assert delivery["destination"] == log_group.outputs["name"]
        assert delivery["destinationType"] == "cloudwatch-logs"
        assert log_group.inputs["retentionInDays"] == 30


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_settings_are_published_under_the_stacks_path(stack, request):
    rec = request.getfixturevalue(stack)
    parameters = published(rec, "/cache/")
    prefix = f"/ha-stack/{stack}/cache/"
    group = rec.named("cache-redis", GROUP)
    assert parameters == {
        prefix + "primary_endpoint": group.outputs["primaryEndpointAddress"],
        prefix + "reader_endpoint": group.outputs["readerEndpointAddress"],
        prefix + "port": "6379",
        prefix + "tls": "true",
        prefix + "auth_secret_arn": rec.named("cache-auth-token", "aws:secretsmanager/secret:Secret").outputs["arn"],
    }


def test_valkey_and_a_customer_key_are_selectable():
    rec = build(
        lambda: HaCache(
            "cache", args(engine=CacheEngine.VALKEY, engine_version="8.0", node_count=2, kms_key_arn="arn:aws:kms:k")
        )
    )
    group = rec.named("cache-redis", GROUP).inputs
    assert (group["engine"], group["engineVersion"], group["kmsKeyId"]) == ("valkey", "8.0", "arn:aws:kms:k")
    assert group["preferredCacheClusterAzs"] == ["us-east-1a", "us-east-1b"]
    assert rec.named("cache-params", "aws:elasticache/parameterGroup:ParameterGroup").inputs["family"] == "valkey8"
    assert rec.named("cache-auth-token", "aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == "arn:aws:kms:k"


def test_member_cluster_ids_are_exported_for_alarms():
    caches: list[HaCache] = []
    build(lambda: caches.append(HaCache("cache", args())))
    (cache,) = caches
    members = asyncio.get_event_loop().run_until_complete(cache.member_cluster_ids.future())
    assert members is not None
    assert len(members) == 3
    assert all(re.fullmatch(r"cache-redis-\w+-00[123]", m) for m in members)


def test_every_child_is_parented_to_the_component():
    rec = build(lambda: HaCache("cache", args()))
    parented_children(rec)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"node_count": 1},
            "HaCache.automatic_failover: needs node_count >= 2 (a replica to fail over to), got 1",
        ),
        ({"engine": "memcached"}, "HaCache.engine: must be one of redis, valkey, got 'memcached'"),
        ({"node_type": "r7g.large"}, "HaCache.node_type: must be an ElastiCache node type such as cache.r7g.large"),
        (
            {"engine_version": "5.0.6"},
            "HaCache.engine_version: must be a redis version ElastiCache offers (6, 6.x, 6.0, 6.2, 7, 7.0, 7.1), "
            "got '5.0.6'",
        ),
        ({"engine_version": "7.5"}, "HaCache.engine_version: must be a redis version ElastiCache offers"),
        ({"engine_version": 7}, "HaCache.engine_version: must be a redis version ElastiCache offers"),
        (
            {"engine": "valkey", "engine_version": "7.1"},
            "HaCache.engine_version: must be a valkey version ElastiCache offers (7, 7.2, 8, 8.0, 8.1, 8.2), got '7.1'",
        ),
        ({"engine": "valkey", "engine_version": "9.0"}, "HaCache.engine_version: must be a valkey version"),
        ({"apply_immediately": "yes"}, "HaCache.apply_immediately: must be true or false, got 'yes'"),
        ({"log_retention_days": 2}, "HaCache.log_retention_days: must be a CloudWatch Logs retention (1, 3, 5, 7,"),
        ({"node_count": 4}, "HaCache.node_count: must be <= the number of zones (3)"),
        ({"client_security_group_ids": {}}, "HaCache.client_security_group_ids: need at least one client"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))


# Issue 12, item 3: AWS's parameter-group families, and TLS settings the engine accepts.
@pytest.mark.parametrize(
    ("engine", "version", "sent", "family"),
    [
        ("redis", "6.2", "6.2", "redis6.x"),
        ("redis", "6.0", "6.0", "redis6.x"),
        ("redis", "6.x", "6.x", "redis6.x"),
        ("redis", "7.0", "7.0", "redis7"),
        ("redis", "7", "7.1", "redis7"),
        ("valkey", "7.2", "7.2", "valkey7"),
        ("valkey", "8.1", "8.1", "valkey8"),
        ("valkey", "8", "8.2", "valkey8"),
    ],
)
def test_each_version_gets_awss_parameter_group_family(engine, version, sent, family):
    rec = build(lambda: HaCache("cache", args(engine=engine, engine_version=version)))
    assert rec.named("cache-params", PARAMS).inputs["family"] == family
    assert rec.named("cache-redis", GROUP).inputs["engineVersion"] == sent


def test_families_are_the_ones_aws_creates_parameter_groups_for():
    """CreateCacheParameterGroup's valid families (ElastiCache API reference) for the engines HaCache runs."""
    from ha_stack.cache import ENGINE_VERSIONS  # noqa: PLC0415 (the table is new: the other tests run without it)

    families = {r.family for releases in ENGINE_VERSIONS.values() for r in releases.values()}
    assert families == {"redis6.x", "redis7", "valkey7", "valkey8"}


@pytest.mark.parametrize(("engine", "version"), [("redis", "7.1"), ("redis", "7.0"), ("valkey", "7.2")])
def test_engines_with_a_transit_encryption_mode_require_tls(engine, version):
    group = build(lambda: HaCache("cache", args(engine=engine, engine_version=version))).named("cache-redis", GROUP)
    assert (group.inputs["transitEncryptionEnabled"], group.inputs["transitEncryptionMode"]) == (True, "required")


def test_redis_6_gets_tls_without_the_mode_it_does_not_take():
    """Before Redis OSS 7.0.5 TLS is set at creation only and is then the only way in: no migration mode."""
    group = build(lambda: HaCache("cache", args(engine_version="6.2"))).named("cache-redis", GROUP)
    assert group.inputs["transitEncryptionEnabled"] is True
    assert "transitEncryptionMode" not in group.inputs


def test_valkey_without_a_version_gets_its_newest_major():
    rec = build(lambda: HaCache("cache", args(engine=CacheEngine.VALKEY)))
    assert rec.named("cache-redis", GROUP).inputs["engineVersion"] == "8.2"
    assert rec.named("cache-params", PARAMS).inputs["family"] == "valkey8"


# Issue 12, item 7: AWS owns the minor version after creation.
def test_aws_upgrades_minor_versions_and_the_program_never_asks_for_an_older_one():
    """After AWS's automatic minor upgrade (7.0 -> 7.1), a refresh reads 7.1; asking for 7.0 again would be a
    downgrade, which the provider plans as a replacement of the replication group (an empty cache)."""
    group = build(lambda: HaCache("cache", args(engine_version="7.0"))).named("cache-redis", GROUP)
    assert group.inputs["autoMinorVersionUpgrade"] is True
    assert group.ignore_changes == ["engineVersion"]


# Issue 12, item 20: changes wait for the maintenance window unless asked otherwise.
def test_changes_wait_for_the_maintenance_window_by_default():
    group = build(lambda: HaCache("cache", args())).named("cache-redis", GROUP)
    assert group.inputs["applyImmediately"] is False


def test_changes_can_be_applied_at_once():
    group = build(lambda: HaCache("cache", args(apply_immediately=True))).named("cache-redis", GROUP)
    assert group.inputs["applyImmediately"] is True


# Issue 12, item 27: log groups encrypted with a customer-managed key CloudWatch Logs may use; tags everywhere.
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_log_groups_are_encrypted_with_a_key_cloudwatch_logs_of_the_region_may_use(region):
    rec = build(lambda: HaCache("cache", args()), region=region)
    key = rec.named("cache-logs-key", KEY)
    assert key.inputs["enableKeyRotation"] is True
    for kind in ("slow-log", "engine-log"):
        assert rec.named(f"cache-{kind}", LOG_GROUP).inputs["kmsKeyId"] == key.outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    logs = statements["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
    assert "kms:GenerateDataKey*" in logs["Action"]
    assert "kms:Decrypt*" in logs["Action"]
    account = statements["AccountAdministers"]["Principal"]["AWS"].split(":")[4]
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}
    }


def test_a_given_log_key_is_used_instead_of_a_new_one():
    rec = build(lambda: HaCache("cache", args(log_kms_key_arn="arn:aws:kms:logs")))
    assert rec.of_type(KEY) == []
    assert {g.inputs["kmsKeyId"] for g in rec.of_type(LOG_GROUP)} == {"arn:aws:kms:logs"}


def _taggable(typ: str) -> bool:
    """Whether the SDK's resource class for a type token has a tags property."""
    package, module_path, cls = typ.split(":")
    module = module_path.split("/")[0]
    sdk = importlib.import_module(f"pulumi_{package}" + ("" if module == "index" else f".{module}"))
    return hasattr(getattr(sdk, cls), "tags")


def test_every_taggable_child_carries_the_callers_tags():
    rec = build(lambda: HaCache("cache", args(tags={"team": "shop"}, parameter_path="/ha-stack/test/")))
    taggable = [r for r in rec.resources if r.custom and _taggable(r.typ)]
    assert {r.typ for r in taggable} >= {
        GROUP,
        KEY,
        LOG_GROUP,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
    assert [r.name for r in taggable if (r.inputs.get("tags") or {}).get("team") != "shop"] == []


@pytest.mark.parametrize(("stack", "immediately"), [("dev", True), ("prod", False)])
def test_dev_applies_cache_changes_at_once_and_prod_in_its_window(stack, immediately, request):
    group = request.getfixturevalue(stack).named("cache-redis", GROUP)
    assert group.inputs["applyImmediately"] is immediately


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_cache_logs_are_encrypted_and_tagged_with_the_stack(stack, request):
    rec = request.getfixturevalue(stack)
    key = rec.named("cache-logs-key", KEY)
    for kind in ("slow-log", "engine-log"):
        group = rec.named(f"cache-{kind}", LOG_GROUP)
        assert group.inputs["kmsKeyId"] == key.outputs["arn"]
        assert group.inputs["tags"]["stack"] == stack


@pytest.mark.parametrize(("version", "required"), [("6.2", True), ("7.1", True)])
def test_summary_reports_tls_required_for_engines_with_and_without_a_mode(version, required):
    assert cache_facts(build(lambda: HaCache("cache", args(engine_version=version)))).tls_required is required


def test_a_stack_may_name_valkeys_major_only():
    """Settings take a major alone on purpose (it used to pass the settings and end in the component's traceback)."""
    rec = run_stack("prod", stack_config("prod", cache={"engine": "valkey", "engine_version": "8"}))
    group = rec.named("cache-redis", GROUP)
    assert (group.inputs["engine"], group.inputs["engineVersion"]) == ("valkey", "8.2")
    assert rec.named("cache-params", PARAMS).inputs["family"] == "valkey8"
