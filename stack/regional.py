"""One region of the stack: network, web tier, database, cache, runtime config and fleet, placed by the same code
in the primary region and, with the `dr` setting, in the standby region (docs/dr.md).

What differs between the two is a `Placement`: the names' prefix, the zones, the aws.Provider (every child of a
component built with `ResourceOptions(provider=...)` lands in that provider's region), the load balancer's name,
and the standby's sizes and database role. Everything else is the stack file's, read once by stack/settings.py.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

import ha_stack as ha
from ha_stack.database import DatabaseEngine, GlobalRole
from stack.runtime_config import Grants, RuntimeConfig, ServiceSettings
from stack.settings import STANDBY_LABEL, WRITE_LABEL, DrArgs, Settings
from stack.wiring import by_zone, per_item


@dataclass(frozen=True)
class Placement:
    """Where one region's components go and what differs from the stack file there."""

    prefix: str
    """Prefix of every logical name ("" in the primary region, so a stack without dr keeps its URNs)."""
    region: str
    zones: list[str]
    provider: pulumi.ProviderResource | None
    """The aws.Provider of the region (None: the stack's default provider, aws:region)."""
    alb_domain: str | None
    """The load balancer's own name (origin.<domain>, origin-standby.<domain>), None without a domain."""
    web: Mapping[str, Any] = field(default_factory=dict)
    """More HaWebTier arguments (subject_alternative_names, origin_secret)."""
    fleet: Mapping[str, Any] = field(default_factory=dict)
    """HaWebFleet arguments that replace the stack file's (the standby's sizes)."""
    database: Mapping[str, Any] | None = field(default_factory=dict)
    """HaDatabase arguments that replace the stack file's (global role); None: no database in this region."""
    cache: Mapping[str, Any] = field(default_factory=dict)
    """HaCache arguments that replace the stack file's (the standby's one cold node)."""
    drop: frozenset[str] = frozenset()
    """Database arguments of the stack file left out here (a global secondary takes its logins from the primary)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """What the region's database must wait for (a global secondary: the primary cluster in the global cluster)."""

    def opts(self, **more: Any) -> pulumi.ResourceOptions:
        """Resource options that place a component (and so every child) in this region."""
        return pulumi.ResourceOptions(provider=self.provider, **more)


@dataclass(frozen=True)
class Region:
    """One region's components and the per-zone subnet lists the other tiers wire."""

    placement: Placement
    network: ha.HaNetwork
    web: ha.HaWebTier
    database: ha.HaDatabase | None
    cache: ha.HaCache
    runtime_config: RuntimeConfig
    fleet: ha.HaWebFleet
    public: list[pulumi.Input[str]]
    private: list[pulumi.Input[str]]
    isolated: list[pulumi.Input[str]]


def primary(s: Settings, zones: list[str], global_cluster: aws.rds.GlobalCluster | None) -> Placement:
    """The stack's own region; with dr, its database is the global primary (or replicates its backups)."""
    database: dict[str, Any] = {}
    if s.dr is not None:
        secondary = s.dr["secondary_region"]
        if global_cluster is not None:
            database = {
                "global_cluster_identifier": global_cluster.id,
                "global_role": GlobalRole.PRIMARY,
                "secret_replica_regions": [secondary],
            }
        else:
            database = {"backup_replication_region": s.database.get("backup_replication_region", secondary)}
    # With dr, Route 53's checkers probe origin.<domain> for the failover name: the load balancer must admit them.
    # and CloudFront reaches it as origin-write.<domain> too (the write origin), so its certificate must name that.
    web: dict[str, Any] = {}
    if s.dr is not None:
        web["admit_route53_health_checks"] = True
        if s.keys.get("domain") is not None:
            web["subject_alternative_names"] = [WRITE_LABEL + s.keys["domain"]]
    return Placement("", s.region, zones, None, s.alb_domain, web=web, database=database)


def standby(  # noqa: PLR0917 (the standby is made from these)
    s: Settings,
    dr: DrArgs,
    provider: pulumi.ProviderResource,
    zones: list[str],
    first: Region,
    global_cluster: aws.rds.GlobalCluster | None,
) -> Placement:
    """The dr setting's standby region: the same tiers at the standby's sizes, the global secondary cluster (none
    for RDS PostgreSQL: its recovery is a point-in-time restore from the replicated backups), one cold cache node."""
    domain = s.keys.get("domain")
    region = dr["secondary_region"]
    database: dict[str, Any] | None = None
    if global_cluster is not None and first.database is not None:
        readers = min(s.database.get("reader_count", 0), len(zones) - 1)
        database = {
            "global_cluster_identifier": global_cluster.id,
            "global_role": GlobalRole.SECONDARY,
            "primary_secret_arn": replica_arn(first.database.secret_arn, region),
            "primary_app_secret_arn": replica_arn(first.database.app_secret_arn, region),
            "reader_count": readers,
            "reader_autoscaling_max": max(readers, s.database.get("reader_autoscaling_max", readers)),
        }
    web: dict[str, Any] = {"origin_secret": first.web.origin_secret, "admit_route53_health_checks": True}
    if domain is not None:
        web["subject_alternative_names"] = [WRITE_LABEL + domain]
    size = dr["standby_min_size"]
    return Placement(
        "standby-",
        region,
        zones,
        provider,
        None if domain is None else STANDBY_LABEL + domain,
        web=web,
        fleet={"min_size": size, "desired_capacity": size, "max_size": s.fleet["max_size"]},
        database=database,
        cache={"node_count": 1, "automatic_failover": False},
        drop=frozenset({"master_username", "app_username"}),
        depends_on=[first.database] if first.database is not None else [],
    )


def replica_arn(arn: pulumi.Input[str], region: str) -> pulumi.Output[str]:
    """The ARN of a Secrets Manager secret's replica in `region`: the primary's ARN with the region replaced
    (Secrets Manager User Guide, "Replicate AWS Secrets Manager secrets across Regions": "The ARN for a replicated
    secret is the same as the primary secret except for the Region")."""

    def swapped(value: str) -> str:
        parts = value.split(":")
        return ":".join([*parts[:3], region, *parts[4:]]) if len(parts) > 4 else value

    return pulumi.Output.from_input(arn).apply(swapped)


def place(s: Settings, where: Placement, zone_id: pulumi.Input[str] | None, app: Path) -> Region:
    """Network, web tier, database, cache, runtime config and fleet in one region, wired as __main__ always did."""
    tags, count, path, zones, p = s.base_tags(), len(where.zones), s.parameter_path, where.zones, where.prefix
    network = ha.HaNetwork(f"{p}network", {**s.network, "availability_zones": zones, "tags": tags}, where.opts())
    public, private, isolated = (
        per_item(ids, count) for ids in (network.public_subnet_ids, network.app_subnet_ids, network.data_subnet_ids)
    )
    web_args: ha.HaWebTierArgs = {
        **s.web,
        **where.web,  # type: ignore[typeddict-item]
        "vpc_id": network.vpc_id,
        "app_directory": str(app),
        "runtime_config_path": path,
        "cloudfront_only": s.keys["enable_edge"],
        "force_destroy_buckets": s.force_destroy_buckets,
        "tags": tags,
    }
    if s.vpc_origin:
        web_args["internal_subnet_ids"] = private
    else:
        web_args["public_subnet_ids"] = public
    if where.alb_domain and zone_id is not None:
        web_args["domain_name"], web_args["hosted_zone_id"] = where.alb_domain, zone_id
    web = ha.HaWebTier(f"{p}web", web_args, where.opts())

    # The data tier admits the web tier's instances only, and publishes its endpoints under the stack's path.
    clients: dict[str, pulumi.Input[str]] = {"web": web.instance_security_group_id}
    placement = {
        "vpc_id": network.vpc_id,
        "subnet_ids": isolated,
        "availability_zones": zones,
        "client_security_group_ids": clients,
        "parameter_path": path,
        "tags": tags,
    }
    database = None
    if where.database is not None:
        written = {k: v for k, v in s.database.items() if k not in where.drop}
        database = ha.HaDatabase(
            f"{p}database",
            {**written, **where.database, **placement},  # type: ignore[typeddict-item]
            where.opts(depends_on=where.depends_on),
        )
    cache = ha.HaCache(f"{p}cache", {**s.cache, **where.cache, **placement}, where.opts())  # type: ignore[typeddict-item]
    secrets: list[pulumi.Input[str]] = [cache.auth_secret_arn]
    keys: list[pulumi.Input[str]] = []
    if database is not None:
        secrets[:0] = [database.secret_arn, database.app_secret_arn]
        keys.append(database.kms_key_arn)
    runtime_config = RuntimeConfig(
        f"{p}runtime-config",
        path,
        ServiceSettings(s.environment, s.web["app_port"], s.web["deregistration_delay_seconds"], s.service),
        Grants(role_name=web.instance_role_name, secret_arns=secrets, key_arns=keys),
        tags,
        where.opts(),
    )

    # The instances come last: launched before the database, the cache, their settings and the secret grants exist,
    # they would fail their health checks and be replaced until everything is there.
    after: list[pulumi.Resource] = [r for r in (database, cache, runtime_config) if r is not None]
    fleet = ha.HaWebFleet(
        f"{p}web",
        {
            **s.fleet,
            **where.fleet,  # type: ignore[typeddict-item]
            "subnet_ids": private,
            "launch_template_id": web.launch_template_id,
            "launch_template_version": web.launch_template_version,
            "target_group_arn": web.target_group_arn,
            "alb_arn_suffix": web.alb_arn_suffix,
            "target_group_arn_suffix": web.target_group_arn_suffix,
            "tags": tags,
        },
        where.opts(depends_on=after),
    )
    return Region(where, network, web, database, cache, runtime_config, fleet, public, private, isolated)


def is_aurora(s: Settings) -> bool:
    """The stack's database is Aurora PostgreSQL (a global database with dr)."""
    return s.database["engine"] is DatabaseEngine.AURORA_POSTGRESQL


def database_arn(region: str, database: ha.HaDatabase, aurora: bool) -> pulumi.Output[str]:
    """The Aurora cluster's (or RDS writer instance's) ARN, as RDS and AWS Backup name it:
    arn:<partition>:rds:<region>:<account>:cluster:<id> (or :db:<id>)."""
    caller = aws.get_caller_identity_output()
    partition = aws.get_partition_output().partition
    kind, identifier = (
        ("cluster", database.cluster_identifier)
        if aurora
        else ("db", database.instance_identifiers.apply(lambda ids: ids[0]))
    )
    return pulumi.Output.concat("arn:", partition, ":rds:", region, ":", caller.account_id, f":{kind}:", identifier)


def dr_output(
    s: Settings, dr: DrArgs, global_cluster: aws.rds.GlobalCluster, first: Region, second: Region
) -> pulumi.Output[dict[str, Any]]:
    """The `dr` stack output stack/failover.py reads: the global cluster, the primary region, the serving and standby
    capacities, and each region's cluster ARN and Auto Scaling group (docs/dr.md section 7)."""
    sides = {}
    for side in (first, second):
        assert side.database is not None
        arn = database_arn(side.placement.region, side.database, True)
        sides[side.placement.region] = pulumi.Output.all(cluster_arn=arn, asg_name=side.fleet.asg_name)
    return pulumi.Output.all(
        global_cluster_id=global_cluster.global_cluster_identifier,
        primary_region=s.region,
        active_capacity=int(s.fleet.get("desired_capacity", s.fleet["min_size"])),
        standby_capacity=int(dr["standby_min_size"]),
        regions=pulumi.Output.all(**sides),
    )


def watch(s: Settings, region: Region, name: str, more: Mapping[str, Any]) -> ha.HaMonitoring:
    """One region's alarms, dashboard and topic (CloudWatch alarms notify SNS topics of their own region), with
    `more` for what only one region watches (the edge in the primary; replication and the global lag in the
    standby)."""
    where, db = region.placement, region.database
    nodes = int(where.cache.get("node_count", s.cache["node_count"]))
    args: ha.HaMonitoringArgs = {
        **s.monitoring,
        **more,  # type: ignore[typeddict-item]
        "region": where.region,
        "name_prefix": s.name_prefix + (f"-{where.prefix.rstrip('-')}" if where.prefix else ""),
        "force_destroy_buckets": s.force_destroy_buckets,
        "alb_arn_suffix": region.web.alb_arn_suffix,
        "target_group_arn_suffix": region.web.target_group_arn_suffix,
        "asg_name": region.fleet.asg_name,
        "asg_min_size": int(where.fleet.get("min_size", s.fleet["min_size"])),
        "cache_member_ids": per_item(region.cache.member_cluster_ids, nodes),
        "tags": s.base_tags(),
    }
    if db is not None:
        readers = int((where.database or {}).get("reader_count", s.database["reader_count"]))
        args["database_engine"] = s.database["engine"]
        args["database_cluster_identifier"] = db.cluster_identifier
        args["database_instance_identifiers"] = per_item(db.instance_identifiers, 1 + readers)
        args["database_storage_gib"] = s.database["allocated_storage_gib"]
    return ha.HaMonitoring(name, args, where.opts())


def resilience_args(s: Settings, region: Region, stop_alarm_arn: pulumi.Input[str]) -> ha.HaResilienceArgs:
    """The AZ drills and zonal autoshift of the primary region (the standby is drilled by a failover drill)."""
    assert region.database is not None
    zones, tags = region.placement.zones, s.base_tags()
    args: ha.HaResilienceArgs = {
        **s.resilience,
        "availability_zones": zones,
        "stop_alarm_arn": stop_alarm_arn,
        "asg_name": region.fleet.asg_name,
        "vpc_id": region.network.vpc_id,
        "zone_subnet_ids": by_zone(zones, region.public, region.private, region.isolated),
        "database_engine": s.database["engine"],
        "database_multi_az": s.database["multi_az"],
        "cache_replication_group_id": region.cache.replication_group_id,
        # HaCache tags its replication group with the stack's tags, its component and Name "<name>-redis".
        "cache_target_tags": {**tags, "ha-stack:component": "HaCache", "Name": "cache-redis"},
        "cache_availability_zones": zones[: s.cache["node_count"]] if s.cache["automatic_failover"] else [],
        "alb_arn": region.web.alb_arn,
        "tags": tags,
    }
    if is_aurora(s):
        args["database_cluster_identifier"] = region.database.cluster_identifier
    else:
        writer = per_item(region.database.instance_identifiers, 1 + s.database["reader_count"])[0]
        args["database_instance_identifier"] = writer
    return args
