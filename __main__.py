"""ha-stack: load the stack's settings, assemble the components, export what operators need."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from ha_stack import (
    CacheEngine,
    DatabaseEngine,
    HaCache,
    HaCacheArgs,
    HaDatabase,
    HaDatabaseArgs,
    HaEdge,
    HaEdgeArgs,
    HaMonitoring,
    HaMonitoringArgs,
    HaNetwork,
    HaResilience,
    HaResilienceArgs,
    HaWebFleet,
    HaWebFleetArgs,
    HaWebTier,
    HaWebTierArgs,
    NatGateways,
    PriceClass,
)
from ha_stack.edge import VPC_ORIGIN_EXCLUDED_ZONE_IDS
from stack.runtime_config import Grants, RuntimeConfig, ServiceSettings
from stack.settings import load_settings

settings = load_settings()
tags = settings.base_tags()
runtime_config_path = f"/{settings.project}/{settings.stack}/"
"""Parameter Store path of the service's settings (docs/runtime-config.md)."""
# Without a domain the load balancer has no certificate, so behind the edge it is internal and CloudFront reaches it
# through a VPC origin: neither requests nor the origin secret cross the internet in clear. With a domain it stays
# internet-facing behind an HTTPS origin (moving a deployed prod ALB to internal would replace it).
vpc_origin = settings.edge.enabled and not settings.edge.domain
force_destroy_buckets = not settings.is_prod
"""Outside prod, `pulumi destroy` empties the components' versioned buckets; prod keeps its data."""


def lacking(zones: list[str]) -> dict[str, list[str]]:
    """Zone -> the configured instance type and database class it does not offer (zones lacking nothing omitted).

    ElastiCache has no per-zone offering API (its node types are listed per region only), so the cache's node
    type cannot be checked here.
    """
    instance_type, db_class = settings.web.instance_type, settings.database.instance_class
    ec2 = aws.ec2.get_instance_type_offerings(
        location_type="availability-zone",
        filters=[{"name": "instance-type", "values": [instance_type]}, {"name": "location", "values": zones}],
    )
    rds = aws.rds.get_orderable_db_instance(
        engine=settings.database.engine, engine_latest_version=True, preferred_instance_classes=[db_class], vpc=True
    )
    missing: dict[str, list[str]] = {}
    for zone in zones:
        for kind, offered in ((instance_type, ec2.locations), (db_class, rds.availability_zones)):
            if zone not in offered:
                missing.setdefault(zone, []).append(kind)
    return missing


def pick_zones(count: int, pinned: list[str]) -> list[str]:
    """The pinned zones, or the first `count` default zones (no opt-in Local or Wavelength Zones), that offer the
    web tier's instance type and the database's instance class: an Auto Scaling group or RDS cannot place them
    anywhere else. Unpinned, a zone that starts offering a type would shift the choice (and replace subnets), so
    a deployed stack pins its zones in network.availability_zones."""
    zones = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    )
    names = sorted(zones.names)
    missing = lacking(names)
    if vpc_origin:  # the internal load balancer's zones must be ones where CloudFront offers VPC origins
        for name, zone_id in zip(zones.names, zones.zone_ids, strict=True):
            if zone_id in VPC_ORIGIN_EXCLUDED_ZONE_IDS:
                missing.setdefault(name, []).append(f"CloudFront VPC origins ({zone_id})")
    usable = [zone for zone in names if zone not in missing]
    if pinned:
        wrong = [
            f"{z} {'lacks ' + ', '.join(missing[z]) if z in missing else 'is not a usable zone'}"
            for z in pinned
            if z not in usable
        ]
        if wrong:
            raise pulumi.RunError(
                f"ha-stack:network.availability_zones: {'; '.join(wrong)}; zones of {settings.region} offering "
                f"web.instance_type {settings.web.instance_type} and database.instance_class "
                f"{settings.database.instance_class}: {', '.join(usable) or 'none'}"
            )
        return pinned
    if len(usable) < count:
        gaps = "; ".join(f"{zone} lacks {', '.join(kinds)}" for zone, kinds in missing.items())
        raise pulumi.RunError(
            f"ha-stack:network.az_count: {settings.region} has {len(usable)} zones offering web.instance_type "
            f"{settings.web.instance_type} and database.instance_class {settings.database.instance_class} "
            f"({', '.join(usable) or 'none'}; {gaps}), got az_count {count}"
        )
    return usable[:count]


zones = pick_zones(settings.network.az_count, settings.network.availability_zones)
network = HaNetwork(
    "network",
    {
        "availability_zones": zones,
        "cidr_block": settings.network.cidr,
        "nat_gateways": NatGateways(settings.network.nat_gateways),
        "enable_flow_logs": settings.network.enable_flow_logs,
        "flow_log_retention_days": settings.network.flow_log_retention_days,
        "tags": tags,
    },
)


def per_item(values: pulumi.Output[list[str]], count: int) -> list[pulumi.Input[str]]:
    """One output per item of a list whose length the settings fix (zones, instances, cache nodes).

    Components take such lists plainly, so they can check their length before declaring anything.
    """

    def item(index: int) -> pulumi.Output[str]:
        return values.apply(lambda items: items[index])

    return [item(i) for i in range(count)]


edge = settings.edge
hosted_zone_id = (
    aws.route53.get_zone_output(name=edge.hosted_zone, private_zone=False).zone_id if edge.hosted_zone else None
)
# Behind CloudFront the site's name points at the distribution, so the load balancer gets its own origin name.
alb_domain = (f"origin.{edge.domain}" if edge.enabled else edge.domain) if edge.domain else None

web_args: HaWebTierArgs = {
    "vpc_id": network.vpc_id,
    "app_directory": str(Path(__file__).resolve().parent / "app"),
    "runtime_config_path": runtime_config_path,
    "instance_type": settings.web.instance_type,
    "app_port": settings.web.app_port,
    "health_check_path": settings.web.health_check_path,
    "deregistration_delay_seconds": settings.web.deregistration_delay_seconds,
    "root_volume_gib": settings.web.root_volume_gib,
    "enable_deletion_protection": settings.web.deletion_protection,
    "cloudfront_only": edge.enabled,
    "force_destroy_buckets": force_destroy_buckets,
    "tags": tags,
}
if vpc_origin:
    web_args["internal_subnet_ids"] = per_item(network.app_subnet_ids, settings.network.az_count)
else:
    web_args["public_subnet_ids"] = per_item(network.public_subnet_ids, settings.network.az_count)
if settings.web.ami_id:
    web_args["ami_id"] = settings.web.ami_id
if alb_domain and hosted_zone_id is not None:
    web_args["domain_name"], web_args["hosted_zone_id"] = alb_domain, hosted_zone_id
web = HaWebTier("web", web_args)

db = settings.database
database_args: HaDatabaseArgs = {
    "vpc_id": network.vpc_id,
    "subnet_ids": per_item(network.data_subnet_ids, settings.network.az_count),
    "availability_zones": zones,
    "client_security_group_ids": {"web": web.instance_security_group_id},
    "engine": DatabaseEngine(db.engine),
    "engine_version": db.engine_version,
    "instance_class": db.instance_class,
    "reader_count": db.reader_count,
    "multi_az": db.multi_az,
    "allocated_storage_gib": db.allocated_storage_gib,
    "max_allocated_storage_gib": db.max_allocated_storage_gib,
    "database_name": db.database_name,
    "port": db.port,
    "backup_retention_days": db.backup_retention_days,
    "enable_deletion_protection": db.deletion_protection,
    "enable_customer_managed_key": db.customer_managed_key,
    "apply_immediately": db.apply_immediately,
    "parameter_path": runtime_config_path,
    "tags": tags,
}
if db.reader_autoscaling_max is not None:
    database_args["reader_autoscaling_max"] = db.reader_autoscaling_max
database = HaDatabase("database", database_args)

cache_args: HaCacheArgs = {
    "vpc_id": network.vpc_id,
    "subnet_ids": per_item(network.data_subnet_ids, settings.network.az_count),
    "availability_zones": zones,
    "client_security_group_ids": {"web": web.instance_security_group_id},
    "engine": CacheEngine(settings.cache.engine),
    "engine_version": settings.cache.engine_version,
    "node_type": settings.cache.node_type,
    "node_count": settings.cache.node_count,
    "automatic_failover": settings.cache.automatic_failover,
    "port": settings.cache.port,
    "snapshot_retention_days": settings.cache.snapshot_retention_days,
    "apply_immediately": settings.cache.apply_immediately,
    "parameter_path": runtime_config_path,
    "tags": tags,
}
cache = HaCache("cache", cache_args)

runtime_config = RuntimeConfig(
    "runtime-config",
    runtime_config_path,
    ServiceSettings(
        environment=settings.environment,
        port=settings.web.app_port,
        product_ttl_seconds=settings.cache.product_ttl_seconds,
        deregistration_delay_seconds=settings.web.deregistration_delay_seconds,
    ),
    Grants(
        role_name=web.instance_role_name,
        secret_arns=[database.secret_arn, database.app_secret_arn, cache.auth_secret_arn],
        key_arns=[database.kms_key_arn],
    ),
    tags,
)

fleet_args: HaWebFleetArgs = {
    "subnet_ids": per_item(network.app_subnet_ids, settings.network.az_count),
    "launch_template_id": web.launch_template_id,
    "launch_template_version": web.launch_template_version,
    "target_group_arn": web.target_group_arn,
    "alb_arn_suffix": web.alb_arn_suffix,
    "target_group_arn_suffix": web.target_group_arn_suffix,
    "min_size": settings.web.min_size,
    "max_size": settings.web.max_size,
    "desired_capacity": settings.web.desired_capacity,
    "cpu_target_percent": settings.web.cpu_target_percent,
    "health_check_grace_seconds": settings.web.health_check_grace_seconds,
    "instance_warmup_seconds": settings.web.instance_warmup_seconds,
    "tags": tags,
}
if settings.web.requests_per_target:
    fleet_args["requests_per_target"] = settings.web.requests_per_target
# The instances come last: launched before the database, the cache, their settings and the secret grants exist,
# they would fail their health checks and be replaced until everything is there.
fleet = HaWebFleet("web", fleet_args, pulumi.ResourceOptions(depends_on=[database, cache, runtime_config]))

site: HaEdge | None = None
if edge.enabled:
    edge_args: HaEdgeArgs = {
        "origin_domain_name": alb_domain or web.alb_dns_name,
        "origin_https": alb_domain is not None,
        "origin_secret": web.origin_secret,
        "static_directory": str(Path(__file__).resolve().parent / "app" / "static"),
        "price_class": PriceClass(edge.price_class),
        "static_ttl_seconds": edge.static_ttl_seconds,
        "enable_waf": edge.enable_waf,
        "rate_limit_per_5min": edge.rate_limit_per_5min,
        "log_glacier_days": edge.log_glacier_days,
        "log_expire_days": edge.log_expire_days,
        "force_destroy_buckets": force_destroy_buckets,
        "tags": tags,
    }
    if vpc_origin:
        edge_args["origin_vpc_alb_arn"] = web.alb_arn
    if edge.domain and hosted_zone_id is not None:
        edge_args["domain_name"], edge_args["hosted_zone_id"] = edge.domain, hosted_zone_id
    site = HaEdge("edge", edge_args)


monitoring = settings.monitoring
monitoring_args: HaMonitoringArgs = {
    "region": settings.region,
    "force_destroy_buckets": force_destroy_buckets,
    "alarm_emails": monitoring.alarm_emails,
    "cpu_alarm_percent": monitoring.cpu_alarm_percent,
    "alb_5xx_rate_percent": monitoring.alb_5xx_rate_percent,
    "p99_latency_seconds": monitoring.p99_latency_seconds,
    "alb_arn_suffix": web.alb_arn_suffix,
    "target_group_arn_suffix": web.target_group_arn_suffix,
    "asg_name": fleet.asg_name,
    "asg_min_size": settings.web.min_size,
    "database_engine": DatabaseEngine(db.engine),
    "database_cluster_identifier": database.cluster_identifier,
    "database_instance_identifiers": per_item(database.instance_identifiers, 1 + db.reader_count),
    "database_storage_gib": db.allocated_storage_gib,
    "cache_member_ids": per_item(cache.member_cluster_ids, settings.cache.node_count),
    "enable_cloudtrail": monitoring.enable_cloudtrail,
    "name_prefix": f"{settings.project}-{settings.stack}",
    "log_glacier_days": monitoring.log_glacier_days,
    "log_expire_days": monitoring.log_expire_days,
    "tags": tags,
}
if site is not None:
    monitoring_args["distribution_id"] = site.distribution_id
    monitoring_args["health_check_id"] = site.health_check_id
    if edge.enable_waf:
        monitoring_args["web_acl_name"] = site.web_acl_name
watch = HaMonitoring("monitoring", monitoring_args)


def zone_subnets() -> dict[str, list[pulumi.Input[str]]]:
    """Zone -> the stack's public, app and data subnet in it (the network lists each tier's subnets in zone order)."""
    count = settings.network.az_count
    lists = (network.public_subnet_ids, network.app_subnet_ids, network.data_subnet_ids)
    tiers = [per_item(ids, count) for ids in lists]
    return {zone: [tier[i] for tier in tiers] for i, zone in enumerate(zones)}


cache_zones = zones[: settings.cache.node_count] if settings.cache.automatic_failover else []
resilience_args: HaResilienceArgs = {
    "availability_zones": zones,
    "stop_alarm_arn": watch.composite_alarm_arn,
    "asg_name": fleet.asg_name,
    "vpc_id": network.vpc_id,
    "zone_subnet_ids": zone_subnets(),
    "database_engine": DatabaseEngine(db.engine),
    "database_multi_az": db.multi_az,
    "cache_replication_group_id": cache.replication_group_id,
    # HaCache tags its replication group with the stack's tags, its component and Name "<name>-redis".
    "cache_target_tags": {**tags, "ha-stack:component": "HaCache", "Name": "cache-redis"},
    "cache_availability_zones": cache_zones,
    "alb_arn": web.alb_arn,
    "enable_zonal_autoshift": settings.resilience.enable_zonal_autoshift,
    "autoshift_blocked_windows": settings.resilience.autoshift_blocked_windows,
    "autoshift_blocked_dates": settings.resilience.autoshift_blocked_dates,
    "enable_network_drills": settings.resilience.enable_network_drills,
    "drill_minutes": settings.resilience.drill_minutes,
    "tags": tags,
}
if db.engine == "aurora-postgresql":
    resilience_args["database_cluster_identifier"] = database.cluster_identifier
else:
    resilience_args["database_instance_identifier"] = per_item(database.instance_identifiers, 1 + db.reader_count)[0]
drills = HaResilience("resilience", resilience_args)

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("availability_zones", network.availability_zones)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("app_subnet_ids", network.app_subnet_ids)
pulumi.export("data_subnet_ids", network.data_subnet_ids)
pulumi.export("nat_public_ips", network.nat_public_ips)
pulumi.export("alb_dns_name", web.alb_dns_name)
pulumi.export("origin_url", web.origin_url)
pulumi.export("asg_name", fleet.asg_name)
pulumi.export("release_key", web.release_key)
pulumi.export("image_id", web.image_id)
pulumi.export("database_writer_endpoint", database.writer_endpoint)
pulumi.export("database_reader_endpoint", database.reader_endpoint)
pulumi.export("database_secret_arn", database.secret_arn)
pulumi.export("database_app_secret_arn", database.app_secret_arn)
pulumi.export("cache_primary_endpoint", cache.primary_endpoint)
pulumi.export("site_url", site.site_url if site else web.origin_url)
pulumi.export("alarm_topic_arn", watch.topic_arn)
pulumi.export("dashboard_url", watch.dashboard_url)
pulumi.export("composite_alarm_arn", watch.composite_alarm_arn)
pulumi.export("drill_template_ids", drills.experiment_template_ids)
pulumi.export("zonal_autoshift", drills.autoshift_status)
