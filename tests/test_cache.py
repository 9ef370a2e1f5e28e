"""HaCache: prod's 3-node replication group, dev's single node, and what a reusing project gets."""

import asyncio
import re
from typing import Any, cast

import pytest

from ha_stack import CacheEngine, HaCache, HaCacheArgs
from ha_stack.cache import plan
from stack.ha_summary import cache_facts
from tests.conftest import DATA_TIER, ZONES3, build, parented_children, published

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"


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
        ({"engine_version": "5.0.6"}, "HaCache.engine_version: must be a redis version 6 or 7.x"),
        ({"node_count": 4}, "HaCache.node_count: must be <= the number of zones (3)"),
        ({"client_security_group_ids": {}}, "HaCache.client_security_group_ids: need at least one client"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))
