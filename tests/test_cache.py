"""HaCache: prod's 3-node replication group, dev's single node, and what a reusing project gets."""

import asyncio
import importlib
import json
import re
from typing import Any, cast

import botocore.session  # type: ignore[import-untyped]
import pulumi
import pytest

from ha_stack import CacheEngine, HaCache, HaCacheArgs, catalogue, options
from ha_stack.cache import accepted_versions, check, plan
from stack.ha_summary import cache_facts
from stack.mock_cloud import Recording
from tests.conftest import DATA_TIER, ZONES3, build, parented_children, published, refusal, run_stack, stack_config

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


VERSIONS = "(cfn-lint's AWS catalogue) in a major HaCache runs"
REDIS_VERSIONS = (
    f"must be a redis version ElastiCache offers {VERSIONS} (6, 6.x, 6.0, 6.2, 7, 7.0, 7.1), such as 7 or 7.1"
)
VALKEY_VERSIONS = f"must be a valkey version ElastiCache offers {VERSIONS} (7, 7.2, 8, 8.0, 8.1, 8.2), such as 8 or 8.2"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"node_count": 1},
            "HaCache.automatic_failover: needs node_count >= 2 (a replica to fail over to), got node_count 1",
        ),
        ({"engine": "memcached"}, "HaCache.engine: must be one of redis, valkey, got 'memcached'"),
        (
            {"node_type": "r7g.large"},
            "HaCache.node_type: must be a node type ElastiCache offers such as cache.r7g.large (cfn-lint's AWS "
            "catalogue), got 'r7g.large'",
        ),
        ({"engine_version": "5.0.6"}, f"HaCache.engine_version: {REDIS_VERSIONS}, got '5.0.6'"),
        ({"engine_version": "7.5"}, f"HaCache.engine_version: {REDIS_VERSIONS}, got '7.5'"),
        ({"engine": "valkey", "engine_version": "7.1"}, f"HaCache.engine_version: {VALKEY_VERSIONS}, got '7.1'"),
        ({"engine": "valkey", "engine_version": "9.0"}, f"HaCache.engine_version: {VALKEY_VERSIONS}, got '9.0'"),
        ({"apply_immediately": "yes"}, "HaCache.apply_immediately: must be true or false, got 'yes'"),
        (
            {"log_retention_days": 2},
            "HaCache.log_retention_days: must be a CloudWatch Logs retention in days (1, 3, 5, 7,",
        ),
        ({"node_count": 4}, "HaCache.node_count: must be <= the number of zones (3)"),
        ({"client_security_group_ids": {}}, "HaCache.client_security_group_ids: need at least one client"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(options.ArgsError, match=re.escape(message)):
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
    """CreateCacheParameterGroup's valid families (ElastiCache API reference, as botocore's service model carries
    it) for every version HaCache accepts."""
    documented = elasticache_doc("CreateCacheParameterGroup", "CacheParameterGroupFamily")
    families = {r.family for engine in CacheEngine for r in accepted_versions(engine.value).values()}
    assert families == {"redis6.x", "redis7", "valkey7", "valkey8"}
    assert [f for f in families if f"<code>{f}</code>" not in documented] == []


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


def elasticache_doc(operation: str, member: str) -> str:
    """The ElastiCache API reference's text for one request member (botocore's service model carries it)."""
    model = botocore.session.get_session().get_service_model("elasticache")
    return str(model.operation_model(operation).input_shape.members[member].documentation)


# Issue 17: every bad input is one line naming the argument, the value and what is allowed, before anything exists


def refused(given: object, name: str = "cache") -> tuple[list[str], Recording]:
    """Build HaCache on its own with these arguments: the lines it refused them with, and what was registered."""
    return refusal(HaCache, given, name)


LONG = "x" * 10_000
REFUSED = [
    # wrong types (the old checks took a list-like or a string where a number or a flag was meant)
    ({"node_count": "3"}, "HaCache.node_count: must be a whole number, got '3'"),
    ({"automatic_failover": "yes"}, "HaCache.automatic_failover: must be true or false, got 'yes'"),
    ({"tags": {1: "x"}}, "HaCache.tags: must be an object of strings, got {1: 'x'}"),
    ({"availability_zones": None}, "HaCache.availability_zones: must be a list of strings, got None"),
    ({"vpc_id": None}, "HaCache.vpc_id: must be a string (or an Output of one), got None"),
    # an Output where a plain value decides what is declared
    (
        {"node_count": pulumi.Output.from_input(2)},
        "HaCache.node_count: must be a plain value known before deploy, not an Output",
    ),
    (
        {"availability_zones": pulumi.Output.from_input(["us-east-1a", "us-east-1b"])},
        "HaCache.availability_zones: must be a plain value known before deploy, not an Output",
    ),
    # catalogue misses: a size or a family that never shipped, versions ElastiCache does not offer
    (
        {"node_type": "cache.r7g.huge"},
        "HaCache.node_type: must be a node type ElastiCache offers such as cache.r7g.large (cfn-lint's AWS "
        "catalogue), got 'cache.r7g.huge' (nearest: cache.r7g.large",
    ),
    ({"node_type": "cache.q9.large"}, "HaCache.node_type: must be a node type ElastiCache offers"),
    ({"engine_version": "7.5"}, f"HaCache.engine_version: {REDIS_VERSIONS}, got '7.5'"),
    ({"engine_version": "7.x"}, f"HaCache.engine_version: {REDIS_VERSIONS}, got '7.x'"),
    # offered, but refused on purpose: no automatic minor upgrades (Redis OSS 5), no family in the API reference yet
    ({"engine_version": "5.0.6"}, f"HaCache.engine_version: {REDIS_VERSIONS}, got '5.0.6'"),
    ({"engine": "valkey", "engine_version": "9.0"}, f"HaCache.engine_version: {VALKEY_VERSIONS}, got '9.0'"),
    # AWS's ranges
    ({"node_count": 7}, "HaCache.node_count: must be from 1 to 6, got 7"),
    ({"port": 80}, "HaCache.port: must be from 1024 to 65535, got 80"),
    ({"snapshot_retention_days": 36}, "HaCache.snapshot_retention_days: must be from 0 to 35 days, got 36"),
    ({"parameter_path": "ha-stack"}, "HaCache.parameter_path: must be a Parameter Store path such as /ha-stack/prod/"),
    # a 10,000-character value is shown cut
    ({"engine_version": LONG}, f"HaCache.engine_version: {REDIS_VERSIONS}, got 'xxxxxxxx"),
    (
        {"availability_zones": [LONG, "us-east-1b", "us-east-1c"]},
        "HaCache.availability_zones: must be zone names such as us-east-1a, got 'xxxxx",
    ),
    # an unknown argument
    ({"node_cont": 2}, "HaCache.node_cont: unknown argument (did you mean 'node_count'?)"),
]


@pytest.mark.parametrize(("overrides", "line"), REFUSED, ids=lambda v: str(v)[:40])
def test_each_class_of_bad_input_is_one_line_and_nothing_is_declared(overrides, line):
    lines, rec = refused(args(**overrides))
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert LONG[:100] not in lines[0]  # a value is never echoed whole
    assert rec.resources == []


def test_a_long_value_is_shown_cut_with_its_length():
    lines, _ = refused(args(engine_version=LONG))
    assert lines[0].endswith("... (10002 characters)")


def test_a_missing_required_argument_is_named():
    lines, rec = refused({k: v for k, v in args().items() if k != "subnet_ids"})
    assert lines == ["HaCache.subnet_ids: is required"]
    assert rec.resources == []


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "c" * 27,
            "HaCache.name: must be at most 26 characters: the ElastiCache replication group Pulumi names",
        ),
        ("my_cache", "HaCache.name: makes the ElastiCache replication group name 'my_cache-redis' + 7 random"),
        ("shop.cache", "HaCache.name: makes the ElastiCache replication group name 'shop.cache-redis' + 7 random"),
        ("cache-", "HaCache.name: makes the ElastiCache replication group name 'cache--redis' + 7 random"),
        ("9cache", "HaCache.name: makes the ElastiCache replication group name '9cache-redis' + 7 random"),
        (LONG, "HaCache.name: must be at most 26 characters"),
    ],
)
def test_a_name_that_makes_an_invalid_replication_group_id_is_refused_before_anything_is_declared(name, line):
    """ReplicationGroupId: 1 to 40 letters, digits or hyphens, first a letter, no "--", no hyphen at the end;
    Pulumi names it "<name>-redis-" and 7 random characters, lower-cased."""
    lines, rec = refused(args(), name=name)
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert LONG[:100] not in lines[0]
    assert rec.resources == []


def test_awss_replication_group_id_limit_is_the_one_checked():
    assert "from 1 to 40 alphanumeric characters or hyphens" in elasticache_doc(
        "CreateReplicationGroup", "ReplicationGroupId"
    )
    assert len(f"{'c' * 26}-redis-abcdef0") == 40
    rec = build(lambda: HaCache("C" * 26, args()))
    assert rec.named(f"{'C' * 26}-redis", GROUP).inputs["engine"] == "redis"


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(options.ArgsError, match="HaCache") as raised:
        plan(args(engine_version="7.5", node_type="cache.r7g.huge", apply_immediately="yes", node_cont=1), "a_b")
    fields = [line.split(":")[0] for line in str(raised.value).splitlines()]
    assert sorted(fields) == [
        "HaCache.apply_immediately",
        "HaCache.engine_version",
        "HaCache.name",
        "HaCache.node_cont",
        "HaCache.node_type",
    ]


def test_the_stack_can_check_the_stack_file_before_the_wiring_exists():
    problems = options.Problems("ha-stack:cache.")
    wiring = frozenset({"vpc_id", "subnet_ids", "availability_zones", "client_security_group_ids", "parameter_path"})
    checked = check({"node_count": 1, "engine_version": "6", "vpc_id": "vpc-1"}, problems, wiring)
    assert problems.lines == [
        "ha-stack:cache.vpc_id: is set by the stack from the other tiers, not in the stack file",
        "ha-stack:cache.automatic_failover: needs node_count >= 2 (a replica to fail over to), got node_count 1; "
        "set it false for one node",
    ]
    assert checked["engine_version"] == "6"
    assert "availability_zones" not in checked


# Issue 17: what a user may write as engine_version (AWS's rules, the catalogue's versions)


@pytest.mark.parametrize(
    ("engine", "written", "sent", "family"),
    [
        ("redis", 7, "7.1", "redis7"),  # YAML's unquoted 7: the major, its newest minor
        ("redis", 7.1, "7.1", "redis7"),  # YAML's unquoted 7.1
        ("redis", 6.2, "6.2", "redis6.x"),
        ("valkey", 8, "8.2", "valkey8"),
        ("valkey", "7", "7.2", "valkey7"),
        ("redis", "6.x", "6.x", "redis6.x"),  # Redis OSS 6 only: the newest 6 at creation
    ],
)
def test_a_version_written_as_a_number_or_a_major_is_the_release_it_names(engine, written, sent, family):
    """A major alone is sent as its newest minor: from 7 on ElastiCache wants major.minor (pulumi-aws
    ReplicationGroup.engine_version); the old stack layer passed "7" through and the component's table raised."""
    rec = build(lambda: HaCache("cache", args(engine=engine, engine_version=written)))
    assert rec.named("cache-redis", GROUP).inputs["engineVersion"] == sent
    assert rec.named("cache-params", PARAMS).inputs["family"] == family


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_accepted_versions_are_the_catalogues_in_the_majors_with_a_family(engine):
    offered = catalogue.cache_engine_versions(engine)
    accepted = accepted_versions(engine)
    minors = [v for v in accepted if re.fullmatch(r"\d+\.\d+", v)]
    assert minors
    assert [v for v in minors if v not in offered] == []
    for major in {v.split(".")[0] for v in minors}:
        newest = [v for v in offered if v.split(".")[0] == major][-1]
        assert accepted[major].version == newest


def test_versions_before_automatic_minor_upgrades_are_refused_as_aws_documents():
    """AutoMinorVersionUpgrade (CreateReplicationGroup): only for Valkey 7.2 and later and Redis OSS 6.0 and later,
    and the version policy (ignore_changes on engineVersion) relies on it."""
    assert "Redis OSS engine version 6.0 and above" in elasticache_doc(
        "CreateReplicationGroup", "AutoMinorVersionUpgrade"
    )
    assert "5.0.6" in catalogue.cache_engine_versions("redis")
    assert not [v for v in accepted_versions("redis") if v.startswith(("4", "5"))]
