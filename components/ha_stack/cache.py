"""HaCache: a Redis (or Valkey) replication group with a node per AZ, automatic failover and encryption throughout."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ha_stack import catalogue, checks, naming, options
from ha_stack.iam import caller_account, log_group_key_policy
from ha_stack.naming import component_tags, type_token
from ha_stack.parameters import publish_parameters
from ha_stack.secrets import stored_secret
from ha_stack.security import client_only_security_group

COMPONENT = "HaCache"
EVICTION_POLICY = "allkeys-lru"
"""A cache evicts the least recently used key when full, whether or not it has a TTL."""
SNAPSHOT_WINDOW = "02:00-03:00"
MAINTENANCE_WINDOW = "sun:05:30-sun:06:30"
"""UTC; after the snapshot window and the database's maintenance window."""
AUTH_TOKEN_LENGTH = 64
"""ElastiCache accepts 16 to 128 printable characters; letters and digits avoid the forbidden @, " and /."""
MAX_NODES = 6
"""CreateReplicationGroup (ElastiCache API reference, NumCacheClusters): "The maximum permitted value for
NumCacheClusters is 6 (1 primary plus 5 replicas)"."""
GROUP_ROLE = "redis"
"""The replication group's logical name is "<name>-redis" (kept for valkey too: renaming would replace it)."""
DERIVED_NAMES = {
    GROUP_ROLE: naming.NameRule(
        "ElastiCache replication group",
        40,
        r"[a-z](-?[a-z0-9])*",
        "letters, digits and single hyphens, starting with a letter",
        lower=True,
    ),
    "params": naming.NameRule(
        "ElastiCache parameter group",
        255,
        r"[A-Za-z](-?[A-Za-z0-9])*",
        "letters, digits and single hyphens, starting with a letter",
    ),
    "subnets": naming.NameRule("ElastiCache subnet group", 255, r"[A-Za-z0-9-]+", "letters, digits and hyphens"),
}
"""Physical names Pulumi derives from the component's name ("<name>-<suffix>-<7 random>") and AWS's rules for them.
ReplicationGroupId (ElastiCache API reference, CreateReplicationGroup): "1 to 40 alphanumeric characters or
hyphens. The first character must be a letter. A name cannot end with a hyphen or contain two consecutive
hyphens"; pulumi-aws lower-cases it (provider/resource_overrides.go: AutoNameTransform("replicationGroupId", 40,
strings.ToLower)). CacheSubnetGroupName: "no more than 255 alphanumeric characters or hyphens"; cache parameter
group names (user guide, "Creating an ElastiCache parameter group"): begin with a letter, letters, digits and
hyphens, no two hyphens in a row, 1 to 255. The replication group's 40 is the limit that binds: names up to 26
characters."""
ZONE = r"[a-z]{2}(-[a-z]+)+-\d+[a-z]"
"""An availability zone name (region, then the zone letter)."""


class CacheEngine(str, Enum):
    """The in-memory engine."""

    REDIS = "redis"
    """Redis OSS."""
    VALKEY = "valkey"
    """Valkey, the Linux Foundation fork of Redis; same protocol, lower ElastiCache price."""


@dataclass(frozen=True)
class EngineRelease:
    """What HaCache sends to ElastiCache for one accepted engine_version."""

    version: str
    """engine_version at creation: major.minor (ElastiCache manages the patch), or 6.x (the newest 6 then)."""
    family: str
    """Parameter group family: AWS's names, not derived from the version (Redis 6 is redis6.x, not redis6)."""
    transit_encryption_mode: bool
    """Whether the engine takes TransitEncryptionMode (Redis OSS 7.0.5 and later, Valkey); older engines with TLS
    on are TLS-only and get no mode."""


FAMILIES: dict[tuple[str, str], str] = {
    ("redis", "6"): "redis6.x",
    ("redis", "7"): "redis7",
    ("valkey", "7"): "valkey7",
    ("valkey", "8"): "valkey8",
}
"""Parameter group family of each engine major HaCache runs, in AWS's words (CreateCacheParameterGroup,
ElastiCache API reference: "Valid values are: valkey8 | valkey7 | ... | redis6.x | redis7"; "Engine specific
parameters" in the user guide). The versions themselves come from the catalogue; a major missing here is refused:
Redis OSS 4 and 5 take no automatic minor upgrades (AutoMinorVersionUpgrade: "Valkey 7.2 and above or Redis OSS
engine version 6.0 and above"), which the version policy relies on; Valkey 9, which ElastiCache offers, until AWS's
API reference lists its family."""
PATTERN_MAJORS = {("redis", "6")}
"""Majors ElastiCache also takes as "<major>.x", the newest minor at creation: Redis OSS 6 only (pulumi-aws
ReplicationGroup.engine_version: "If the version is 6, ... the minor version can be unspecified which will use the
latest version at creation time, e.g., 6.x"; from 7 on "the major and minor version should be set")."""
DEFAULT_VERSIONS = {"redis": "7", "valkey": "8"}
"""engine_version when none is given: the newest major HaCache runs of each engine (its newest minor)."""


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def _release(engine: str, version: str) -> EngineRelease:
    family = FAMILIES[(engine, _major(version))]
    return EngineRelease(version, family, transit_encryption_mode=family != "redis6.x")


@cache
def accepted_versions(engine: str) -> dict[str, EngineRelease]:
    """What a caller may write for an engine, and the release each means, derived from the catalogue's versions:
    each major.minor ElastiCache offers in a major HaCache has a family for; the major alone (its newest minor,
    sent as major.minor since ElastiCache wants both from 7 on); and "6.x" for Redis OSS 6."""
    offered = [v for v in catalogue.cache_engine_versions(engine) if (engine, _major(v)) in FAMILIES]
    minors = [v for v in offered if re.fullmatch(r"\d+\.\d+", v)]
    accepted: dict[str, EngineRelease] = {}
    for major in sorted({_major(v) for v in minors}, key=int):
        own = [v for v in minors if _major(v) == major]
        accepted[major] = _release(engine, own[-1])
        if (engine, major) in PATTERN_MAJORS:
            accepted[f"{major}.x"] = _release(engine, f"{major}.x")
        accepted.update({v: _release(engine, v) for v in own})
    return accepted


def engine_release(engine: str, value: object) -> EngineRelease | None:
    """The release ElastiCache runs for engine_version `value` of `engine`, or None if HaCache offers none."""
    return accepted_versions(engine).get(value) if isinstance(value, str) else None


class HaCacheArgs(TypedDict):
    """Inputs for HaCache (defaults and checks: ARGS)."""

    vpc_id: pulumi.Input[str]
    """VPC of the subnets."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated data subnets, one per AZ (at least 2)."""
    availability_zones: list[str]
    """The subnets' zones, in order: node N goes in zone N."""
    client_security_group_ids: dict[str, pulumi.Input[str]]
    """Security groups allowed on the cache port, keyed by a stable role name ("web") used in child names."""
    engine: NotRequired[CacheEngine]
    """redis or valkey."""
    engine_version: NotRequired[str]
    """Engine version at creation, one ElastiCache offers (cfn-lint's AWS catalogue): major.minor such as "7.1",
    a major alone such as "7" (its newest minor), or "6.x" (Redis OSS 6, the newest 6 at creation). Redis OSS 6
    and 7, Valkey 7 and 8: Redis OSS 4 and 5 take no automatic minor upgrades; Valkey 9 waits for AWS's API
    reference to list its parameter group family. A number (7.1 written unquoted in YAML) is read as its text.
    AWS then applies newer minors in the maintenance window (auto minor version upgrade) and the component never
    asks for the version again (ignore_changes), so an upgraded cache is not "downgraded" by replacement. To move
    to another version (a new major, or redis to valkey): modify the replication group with the AWS CLI (engine,
    engine version and a parameter group of the new family), then set engine and engine_version here and run
    `pulumi up --refresh`."""
    node_type: NotRequired[str]
    """Node type ElastiCache offers (cfn-lint's AWS catalogue, any region), e.g. cache.r7g.large."""
    node_count: NotRequired[int]
    """Nodes, one per AZ: a primary and node_count - 1 replicas (at most one per zone; ElastiCache allows 6)."""
    automatic_failover: NotRequired[bool]
    """Promote a replica when the primary fails, with Multi-AZ on (needs node_count >= 2)."""
    port: NotRequired[int]
    """Port the nodes listen on."""
    snapshot_retention_days: NotRequired[int]
    """Days of daily snapshots (0: none)."""
    kms_key_arn: NotRequired[pulumi.Input[str]]
    """KMS key for encryption at rest and the AUTH token secret. Absent: AWS's managed keys."""
    log_kms_key_arn: NotRequired[pulumi.Input[str]]
    """KMS key of the slow log and engine log groups; its key policy must let CloudWatch Logs in this region use
    it. Absent: a rotating customer-managed key made for them, usable by CloudWatch Logs for this account's log
    groups in this region only."""
    log_retention_days: NotRequired[int]
    """Days to keep the slow log and engine log in CloudWatch Logs: one of the periods CloudWatch Logs accepts
    (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."""
    apply_immediately: NotRequired[bool]
    """Apply changes to the replication group (node type, parameter group, snapshots...) at once rather than in
    the next maintenance window (sun 05:30-06:30 UTC): a production cache should change during the window."""
    parameter_path: NotRequired[str]
    """Publish endpoints, port, TLS flag and the token secret's ARN under this Parameter Store path.
    Absent: not published."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child."""


def _default_version(values: Mapping[str, Any]) -> str:
    """the engine's newest major: redis 7, valkey 8 (its newest minor)"""
    return DEFAULT_VERSIONS[CacheEngine(values.get("engine", CacheEngine.REDIS)).value]


ARGS = options.Spec(
    COMPONENT,
    HaCacheArgs,
    vpc_id=options.Arg(),
    subnet_ids=options.Arg(),
    availability_zones=options.Arg(check=options.each(options.matches(ZONE, "zone names such as us-east-1a"))),
    client_security_group_ids=options.Arg(),
    engine=options.Arg(CacheEngine.REDIS),
    engine_version=options.Arg(_default_version),
    node_type=options.Arg(
        "cache.r7g.large",
        options.member_of(
            catalogue.cache_node_types, "a node type ElastiCache offers such as cache.r7g.large", catalogue.SOURCE
        ),
    ),
    node_count=options.Arg(3, options.between(1, MAX_NODES)),
    automatic_failover=options.Arg(True),
    port=options.Arg(6379, options.between(1024, 65535)),
    snapshot_retention_days=options.Arg(7, options.between(0, 35, " days")),
    kms_key_arn=options.Arg(),
    log_kms_key_arn=options.Arg(),
    log_retention_days=options.Arg(30, checks.log_retention),
    apply_immediately=options.Arg(False),
    parameter_path=options.Arg(check=checks.parameter_path_rule),
    tags=options.Arg({}),
)


def _version_text(given: object) -> object:
    """The arguments with a numeric engine_version as its text: YAML reads 7.1 or 7 unquoted as a number, and the
    user meant the version."""
    if not isinstance(given, Mapping):
        return given
    version = given.get("engine_version")
    if isinstance(version, int | float) and not isinstance(version, bool):
        return {**given, "engine_version": str(version)}
    return given


def _version_rule(args: HaCacheArgs, problems: options.Problems) -> None:
    """engine_version is one the engine's catalogue offers, in a major HaCache runs."""
    version = args.get("engine_version")
    if version is None or not problems.ok("engine"):
        return
    engine = CacheEngine(args.get("engine", CacheEngine.REDIS)).value
    if engine_release(engine, version) is None:
        allowed = ", ".join(accepted_versions(engine))
        problems.add(
            "engine_version",
            f"must be a {engine} version ElastiCache offers ({catalogue.SOURCE}) in a major HaCache runs "
            f"({allowed}), such as {DEFAULT_VERSIONS[engine]} or {next(reversed(accepted_versions(engine)))}, "
            f"got {options.shown(version)}",
        )


def _placement_rules(args: HaCacheArgs, problems: options.Problems) -> None:
    """A node per zone, and a replica to fail over to."""
    checks.zones_subnets_clients(args, problems)
    nodes, zones = args.get("node_count"), args.get("availability_zones")
    if nodes is not None and zones is not None and problems.ok("availability_zones") and nodes > len(zones):
        problems.add(
            "node_count", f"must be <= the number of zones ({len(zones)}) so each node gets its own AZ, got {nodes}"
        )
    failover = args.get("automatic_failover")
    if failover and nodes is not None and nodes < 2:
        problems.add(
            "automatic_failover",
            f"needs node_count >= 2 (a replica to fail over to), got node_count {nodes}; set it false for one node",
        )


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaCacheArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(_version_text(given), problems, skip=skip)
    _version_rule(args, problems)
    _placement_rules(args, problems)
    return args


def check_name(name: str, problems: options.Problems) -> None:
    """The component's name makes physical names ElastiCache accepts (DERIVED_NAMES)."""
    naming.check_derived_names(name, DERIVED_NAMES, problems)


@dataclass(frozen=True)
class CachePlan:
    """The checked arguments and what HaCache derives from them before declaring anything."""

    args: HaCacheArgs
    """Every argument, defaults applied."""
    release: EngineRelease
    """What ElastiCache runs for engine_version, with its parameter group family."""
    node_zones: list[str]
    """The zone of each node, primary first."""


def plan(args: HaCacheArgs, name: str | None = None) -> CachePlan:
    """Defaults and validation before any resource exists (of the name too, when given); pure, so it is tested
    without mocks. Raises options.ArgsError with every problem."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    if name is not None:
        check_name(name, problems)
    problems.raise_any()
    release = engine_release(checked["engine"].value, checked["engine_version"])
    assert release is not None  # checked by _version_rule
    return CachePlan(checked, release, checked["availability_zones"][: checked["node_count"]])


class HaCache(pulumi.ComponentResource):
    """An encrypted, AUTH-protected cache with a node per AZ that fails over on its own."""

    primary_endpoint: pulumi.Output[str]
    """Hostname of the primary (follows failover)."""
    reader_endpoint: pulumi.Output[str]
    """Hostname spreading reads over the replicas."""
    port: pulumi.Output[int]
    """The cache port."""
    security_group_id: pulumi.Output[str]
    """The cache's security group."""
    replication_group_id: pulumi.Output[str]
    """The replication group id."""
    member_cluster_ids: pulumi.Output[list[str]]
    """Each node's cluster id: the CacheClusterId dimension of its metrics."""
    auth_secret_arn: pulumi.Output[str]
    """Secrets Manager secret holding the AUTH token (a plain string)."""

    def __init__(self, name: str, args: HaCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        p = plan(args, name)  # before registering anything: bad arguments leave no trace in the stack
        super().__init__(type_token(COMPONENT), name, None, opts)
        self._name, self._plan, a = name, p, p.args
        self._child = pulumi.ResourceOptions(parent=self)
        key = a.get("kms_key_arn")
        group = client_only_security_group(
            name,
            vpc_id=a["vpc_id"],
            clients=a["client_security_group_ids"],
            port=a["port"],
            service=a["engine"].value,
            tags=self._tags(f"{name}-sg"),
            opts=self._child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"{name}: data subnets",
            subnet_ids=a["subnet_ids"],
            tags=self._tags(f"{name}-subnets"),
            opts=self._child,
        )
        token, secret = self._auth_token(key)
        logs = self._log_groups(a.get("log_kms_key_arn") or self._log_key().arn)
        replication_group = self._replication_group(group, subnets, token, key, logs)
        path = a.get("parameter_path")
        if path:
            self._publish(path, replication_group, secret)

        self.primary_endpoint = replication_group.primary_endpoint_address
        self.reader_endpoint = replication_group.reader_endpoint_address
        self.port = pulumi.Output.from_input(a["port"])
        self.security_group_id = group.id
        self.replication_group_id = replication_group.id
        self.member_cluster_ids = replication_group.member_clusters.apply(sorted)
        self.auth_secret_arn = secret.arn
        self.register_outputs(
            {
                "primary_endpoint": self.primary_endpoint,
                "reader_endpoint": self.reader_endpoint,
                "port": self.port,
                "security_group_id": self.security_group_id,
                "replication_group_id": self.replication_group_id,
                "member_cluster_ids": self.member_cluster_ids,
                "auth_secret_arn": self.auth_secret_arn,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags("HaCache", self._plan.args["tags"], name=name)

    def _auth_token(self, key: pulumi.Input[str] | None) -> tuple[random.RandomPassword, aws.secretsmanager.Secret]:
        """A generated AUTH token, kept as a Pulumi secret and stored in Secrets Manager for the service."""
        name = self._name
        token = random.RandomPassword(f"{name}-auth-token", length=AUTH_TOKEN_LENGTH, special=False, opts=self._child)
        secret = stored_secret(
            f"{name}-auth-token",
            f"{name}: AUTH token of the cache (plain string)",
            token.result,
            key,
            self._tags(f"{name}-auth-token"),
            self._child,
        )
        return token, secret

    def _log_key(self) -> aws.kms.Key:
        """A rotating key CloudWatch Logs may use for this account's log groups in this region, and nothing else."""
        name = f"{self._name}-logs-key"
        account = caller_account(self)
        policy = pulumi.Output.all(account.account_id, account.partition, account.region).apply(
            lambda v: log_group_key_policy(account=v[0], partition=v[1], region=v[2])
        )
        return aws.kms.Key(
            name,
            description=f"{self._name}: slow log and engine log of the cache",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags=self._tags(name),
            opts=self._child,
        )

    def _log_groups(self, key_arn: pulumi.Input[str]) -> dict[str, aws.cloudwatch.LogGroup]:
        """The slow log and engine log groups, encrypted with the customer-managed key."""
        return {
            kind: aws.cloudwatch.LogGroup(
                f"{self._name}-{kind}",
                retention_in_days=self._plan.args["log_retention_days"],
                kms_key_id=key_arn,
                tags=self._tags(f"{self._name}-{kind}"),
                opts=self._child,
            )
            for kind in ("slow-log", "engine-log")
        }

    def _replication_group(
        self,
        group: aws.ec2.SecurityGroup,
        subnets: aws.elasticache.SubnetGroup,
        token: random.RandomPassword,
        key: pulumi.Input[str] | None,
        logs: dict[str, aws.cloudwatch.LogGroup],
    ) -> aws.elasticache.ReplicationGroup:
        """Cluster mode off: one shard, a node per zone; failover and Multi-AZ whenever there is a replica.

        The version is AWS's after creation (see HaCacheArgs.engine_version): with automatic minor upgrades on,
        asking again for the creation version would read as a downgrade, which the provider plans as a
        replacement (an empty cache).
        """
        name, p, a = self._name, self._plan, self._plan.args
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=p.release.family,
            description=f"{name}: evict least recently used keys when full",
            parameters=[{"name": "maxmemory-policy", "value": EVICTION_POLICY}],
            tags=self._tags(f"{name}-params"),
            opts=self._child,
        )
        return aws.elasticache.ReplicationGroup(
            f"{name}-{GROUP_ROLE}",
            description=f"{name}: {a['engine'].value} cache, one node per AZ",
            engine=a["engine"].value,
            engine_version=p.release.version,
            node_type=a["node_type"],
            num_cache_clusters=a["node_count"],
            preferred_cache_cluster_azs=p.node_zones,
            automatic_failover_enabled=a["automatic_failover"],
            multi_az_enabled=a["automatic_failover"],
            port=a["port"],
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            at_rest_encryption_enabled=True,
            kms_key_id=key,
            transit_encryption_enabled=True,
            transit_encryption_mode="required" if p.release.transit_encryption_mode else None,
            auth_token=token.result,
            snapshot_retention_limit=a["snapshot_retention_days"],
            snapshot_window=SNAPSHOT_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade=True,
            apply_immediately=a["apply_immediately"],
            log_delivery_configurations=[
                {
                    "destination": group_.name,
                    "destination_type": "cloudwatch-logs",
                    "log_format": "json",
                    "log_type": kind,
                }
                for kind, group_ in logs.items()
            ],
            tags=self._tags(f"{name}-{GROUP_ROLE}"),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(ignore_changes=["engineVersion"])),
        )

    def _publish(
        self, path: str, replication_group: aws.elasticache.ReplicationGroup, secret: aws.secretsmanager.Secret
    ) -> None:
        """The service's cache settings under the stack's path (docs/runtime-config.md): no token, only its ARN."""
        values: dict[str, pulumi.Input[str]] = {
            "primary_endpoint": replication_group.primary_endpoint_address,
            "reader_endpoint": replication_group.reader_endpoint_address,
            "port": str(self._plan.args["port"]),
            "tls": "true",
            "auth_secret_arn": secret.arn,
        }
        publish_parameters(
            f"{self._name}-param",
            path=path,
            section="cache",
            values=values,
            tags=self._tags(self._name),
            opts=self._child,
        )
