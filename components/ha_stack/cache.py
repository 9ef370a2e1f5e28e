"""HaCache: a Redis (or Valkey) replication group with a node per AZ, automatic failover and encryption throughout."""

import re
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ha_stack import checks
from ha_stack.iam import caller_account, log_group_key_policy
from ha_stack.naming import component_tags, type_token
from ha_stack.parameters import publish_parameters
from ha_stack.secrets import stored_secret
from ha_stack.security import client_only_security_group

NODE_TYPE = r"cache\.[a-z]+\d+[a-z-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)"
EVICTION_POLICY = "allkeys-lru"
"""A cache evicts the least recently used key when full, whether or not it has a TTL."""
SNAPSHOT_WINDOW = "02:00-03:00"
MAINTENANCE_WINDOW = "sun:05:30-sun:06:30"
"""UTC; after the snapshot window and the database's maintenance window."""
AUTH_TOKEN_LENGTH = 64
"""ElastiCache accepts 16 to 128 printable characters; letters and digits avoid the forbidden @, " and /."""


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


_REDIS6 = partial(EngineRelease, family="redis6.x", transit_encryption_mode=False)
_REDIS7 = partial(EngineRelease, family="redis7", transit_encryption_mode=True)
_VALKEY7 = partial(EngineRelease, family="valkey7", transit_encryption_mode=True)
_VALKEY8 = partial(EngineRelease, family="valkey8", transit_encryption_mode=True)
ENGINE_VERSIONS: dict[str, dict[str, EngineRelease]] = {
    "redis": {
        "6": _REDIS6("6.2"),
        "6.x": _REDIS6("6.x"),
        "6.0": _REDIS6("6.0"),
        "6.2": _REDIS6("6.2"),
        "7": _REDIS7("7.1"),
        "7.0": _REDIS7("7.0"),
        "7.1": _REDIS7("7.1"),
    },
    "valkey": {
        "7": _VALKEY7("7.2"),
        "7.2": _VALKEY7("7.2"),
        "8": _VALKEY8("8.2"),
        "8.0": _VALKEY8("8.0"),
        "8.1": _VALKEY8("8.1"),
        "8.2": _VALKEY8("8.2"),
    },
}
"""The engine versions ElastiCache offers node-based clusters (ElastiCache user guide, "Supported engines and
versions"; families from "Engine specific parameters"), keyed by what a caller may write. A major alone means
its newest minor. Redis OSS 4 and 5 are refused: they take no automatic minor upgrades (6.0 and later only),
which the version policy relies on; so are versions not listed here (Valkey 9 until its family is checked)."""
DEFAULT_VERSIONS = {"redis": "7", "valkey": "8"}
"""engine_version when none is given: the newest major of each engine."""


class HaCacheArgs(TypedDict):
    """Inputs for HaCache."""

    vpc_id: pulumi.Input[str]
    """VPC of the subnets."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated data subnets, one per AZ (at least 2)."""
    availability_zones: list[str]
    """The subnets' zones, in order: node N goes in zone N."""
    client_security_group_ids: dict[str, pulumi.Input[str]]
    """Security groups allowed on the cache port, keyed by a stable role name ("web") used in child names."""
    engine: NotRequired[CacheEngine]
    """redis or valkey. Default redis."""
    engine_version: NotRequired[str]
    """Engine version at creation: a major (7: its newest minor) or major.minor; redis 6, 6.x, 6.0, 6.2, 7, 7.0,
    7.1; valkey 7, 7.2, 8, 8.0, 8.1, 8.2. Default: redis 7 (7.1), valkey 8 (8.2). AWS then applies newer minors
    in the maintenance window (auto minor version upgrade) and the component never asks for the version again
    (ignore_changes), so an upgraded cache is not "downgraded" by replacement. To move to another version
    (a new major, or redis to valkey): modify the replication group with the AWS CLI (engine, engine version and
    a parameter group of the new family), then set engine and engine_version here and run `pulumi up --refresh`."""
    node_type: NotRequired[str]
    """Node type, e.g. cache.r7g.large. Default cache.r7g.large."""
    node_count: NotRequired[int]
    """Nodes, one per AZ: a primary and node_count - 1 replicas (at most one per zone). Default 3."""
    automatic_failover: NotRequired[bool]
    """Promote a replica when the primary fails, with Multi-AZ on (needs node_count >= 2). Default true."""
    port: NotRequired[int]
    """Port the nodes listen on. Default 6379."""
    snapshot_retention_days: NotRequired[int]
    """Days of daily snapshots, 0 to 35 (0: none). Default 7."""
    kms_key_arn: NotRequired[pulumi.Input[str]]
    """KMS key for encryption at rest and the AUTH token secret. Default: AWS's managed keys."""
    log_kms_key_arn: NotRequired[pulumi.Input[str]]
    """KMS key of the slow log and engine log groups; its key policy must let CloudWatch Logs in this region use
    it. Default: a rotating customer-managed key made for them, usable by CloudWatch Logs for this account's log
    groups in this region only."""
    log_retention_days: NotRequired[int]
    """Days to keep the slow log and engine log in CloudWatch Logs: one of the periods CloudWatch Logs accepts
    (1, 3, 5, 7, 14, 30, 60, 90, ... 3653). Default 30."""
    apply_immediately: NotRequired[bool]
    """Apply changes to the replication group (node type, parameter group, snapshots...) at once rather than in
    the next maintenance window (sun 05:30-06:30 UTC). Default false: a production cache changes during the
    window."""
    parameter_path: NotRequired[str]
    """Publish endpoints, port, TLS flag and the token secret's ARN under this Parameter Store path.
    Default: not published."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child. Default none."""


@dataclass(frozen=True)
class CachePlan:
    """HaCacheArgs with defaults applied and every plain value checked."""

    zones: list[str]
    engine: CacheEngine
    release: EngineRelease
    node_type: str
    node_count: int
    automatic_failover: bool
    port: int
    snapshot_retention_days: int
    log_retention_days: int
    apply_immediately: bool
    parameter_path: str | None
    tags: dict[str, str]

    def node_zones(self) -> list[str]:
        """The zone of each node, primary first."""
        return self.zones[: self.node_count]


COMPONENT = "HaCache"
_fail = partial(checks.fail, COMPONENT)
_int = partial(checks.integer, COMPONENT)


def engine_release(engine: str, value: object) -> EngineRelease | None:
    """The release ElastiCache runs for engine_version `value` of `engine`, or None if it offers none."""
    releases = ENGINE_VERSIONS.get(engine, {})
    return releases.get(value) if isinstance(value, str) else None


def _release(value: object, engine: CacheEngine) -> EngineRelease:
    release = engine_release(engine.value, value)
    if release is None:
        allowed = ", ".join(ENGINE_VERSIONS[engine.value])
        raise _fail("engine_version", f"must be a {engine.value} version ElastiCache offers ({allowed}), got {value!r}")
    return release


def _flag(args: HaCacheArgs, field: str, default: bool) -> bool:
    value = args.get(field, default)
    if not isinstance(value, bool):
        raise _fail(field, f"must be true or false, got {value!r}")
    return value


def plan(args: HaCacheArgs) -> CachePlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    zones = checks.data_tier_zones(
        COMPONENT, list(args["availability_zones"]), list(args["subnet_ids"]), args["client_security_group_ids"]
    )
    engine = checks.choice(COMPONENT, "engine", args.get("engine", CacheEngine.REDIS), CacheEngine)
    node_type = args.get("node_type", "cache.r7g.large")
    if not isinstance(node_type, str) or not re.fullmatch(NODE_TYPE, node_type):
        raise _fail("node_type", f"must be an ElastiCache node type such as cache.r7g.large, got {node_type!r}")
    nodes = _int(args, "node_count", 3, 1, 6)
    if nodes > len(zones):
        raise _fail(
            "node_count", f"must be <= the number of zones ({len(zones)}) so each node gets its own AZ, got {nodes}"
        )
    failover = _flag(args, "automatic_failover", True)
    if failover and nodes < 2:
        raise _fail(
            "automatic_failover",
            f"needs node_count >= 2 (a replica to fail over to), got {nodes}; set it false for one node",
        )
    path = args.get("parameter_path")
    return CachePlan(
        zones=zones,
        engine=engine,
        release=_release(args.get("engine_version", DEFAULT_VERSIONS[engine.value]), engine),
        node_type=node_type,
        node_count=nodes,
        automatic_failover=failover,
        port=_int(args, "port", 6379, 1024, 65535),
        snapshot_retention_days=_int(args, "snapshot_retention_days", 7, 0, 35),
        log_retention_days=checks.log_retention_days(COMPONENT, args, "log_retention_days", 30),
        apply_immediately=_flag(args, "apply_immediately", False),
        parameter_path=None if path is None else checks.parameter_path(COMPONENT, "parameter_path", path),
        tags=dict(args.get("tags") or {}),
    )


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
        super().__init__(type_token("HaCache"), name, None, opts)
        p = plan(args)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        key = args.get("kms_key_arn")
        group = client_only_security_group(
            name,
            vpc_id=args["vpc_id"],
            clients=args["client_security_group_ids"],
            port=p.port,
            service=p.engine.value,
            tags=self._tags(f"{name}-sg"),
            opts=self._child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"{name}: data subnets",
            subnet_ids=args["subnet_ids"],
            tags=self._tags(f"{name}-subnets"),
            opts=self._child,
        )
        token, secret = self._auth_token(key)
        logs = self._log_groups(args.get("log_kms_key_arn") or self._log_key().arn)
        replication_group = self._replication_group(group, subnets, token, key, logs)
        if p.parameter_path:
            self._publish(p.parameter_path, replication_group, secret)

        self.primary_endpoint = replication_group.primary_endpoint_address
        self.reader_endpoint = replication_group.reader_endpoint_address
        self.port = pulumi.Output.from_input(p.port)
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
        return component_tags("HaCache", self._plan.tags, name=name)

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
                retention_in_days=self._plan.log_retention_days,
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
        name, p = self._name, self._plan
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=p.release.family,
            description=f"{name}: evict least recently used keys when full",
            parameters=[{"name": "maxmemory-policy", "value": EVICTION_POLICY}],
            tags=self._tags(f"{name}-params"),
            opts=self._child,
        )
        return aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description=f"{name}: {p.engine.value} cache, one node per AZ",
            engine=p.engine.value,
            engine_version=p.release.version,
            node_type=p.node_type,
            num_cache_clusters=p.node_count,
            preferred_cache_cluster_azs=p.node_zones(),
            automatic_failover_enabled=p.automatic_failover,
            multi_az_enabled=p.automatic_failover,
            port=p.port,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            at_rest_encryption_enabled=True,
            kms_key_id=key,
            transit_encryption_enabled=True,
            transit_encryption_mode="required" if p.release.transit_encryption_mode else None,
            auth_token=token.result,
            snapshot_retention_limit=p.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade=True,
            apply_immediately=p.apply_immediately,
            log_delivery_configurations=[
                {
                    "destination": group_.name,
                    "destination_type": "cloudwatch-logs",
                    "log_format": "json",
                    "log_type": kind,
                }
                for kind, group_ in logs.items()
            ],
            tags=self._tags(f"{name}-redis"),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(ignore_changes=["engineVersion"])),
        )

    def _publish(
        self, path: str, replication_group: aws.elasticache.ReplicationGroup, secret: aws.secretsmanager.Secret
    ) -> None:
        """The service's cache settings under the stack's path (docs/runtime-config.md): no token, only its ARN."""
        values: dict[str, pulumi.Input[str]] = {
            "primary_endpoint": replication_group.primary_endpoint_address,
            "reader_endpoint": replication_group.reader_endpoint_address,
            "port": str(self._plan.port),
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
