"""ha-stack: the tiers of a highly available web architecture, how they are wired, and what operators get back.

Each tier's arguments are its `ha-stack:<tier>` object in the stack file, checked by the component itself
(stack/settings.py gathers every problem first); this program adds only the wiring between the tiers.
"""

from pathlib import Path

import pulumi

import ha_stack as ha
from stack.runtime_config import Grants, RuntimeConfig, ServiceSettings
from stack.settings import load_settings
from stack.wiring import by_zone, hosted_zone_id, per_item
from stack.zones import pick_zones

APP = Path(__file__).resolve().parent / "app"
s = load_settings()
tags, count, path, zones = s.base_tags(), s.az_count, s.parameter_path, pick_zones(s)
zone_id, domain = hosted_zone_id(s.keys.get("hosted_zone")), s.keys.get("domain")

network = ha.HaNetwork("network", {**s.network, "availability_zones": zones, "tags": tags})
public, private, isolated = (
    per_item(ids, count) for ids in (network.public_subnet_ids, network.app_subnet_ids, network.data_subnet_ids)
)

web_args: ha.HaWebTierArgs = {
    **s.web,
    "vpc_id": network.vpc_id,
    "app_directory": str(APP),
    "runtime_config_path": path,
    "cloudfront_only": s.keys["enable_edge"],
    "force_destroy_buckets": s.force_destroy_buckets,
    "tags": tags,
}
if s.vpc_origin:
    web_args["internal_subnet_ids"] = private
else:
    web_args["public_subnet_ids"] = public
if s.alb_domain and zone_id is not None:
    web_args["domain_name"], web_args["hosted_zone_id"] = s.alb_domain, zone_id
web = ha.HaWebTier("web", web_args)

# The data tier admits the web tier's instances only, and publishes its endpoints under the stack's path.
clients: dict[str, pulumi.Input[str]] = {"web": web.instance_security_group_id}
database = ha.HaDatabase(
    "database",
    {
        **s.database,
        "vpc_id": network.vpc_id,
        "subnet_ids": isolated,
        "availability_zones": zones,
        "client_security_group_ids": clients,
        "parameter_path": path,
        "tags": tags,
    },
)
cache = ha.HaCache(
    "cache",
    {
        **s.cache,
        "vpc_id": network.vpc_id,
        "subnet_ids": isolated,
        "availability_zones": zones,
        "client_security_group_ids": clients,
        "parameter_path": path,
        "tags": tags,
    },
)
runtime_config = RuntimeConfig(
    "runtime-config",
    path,
    ServiceSettings(s.environment, s.web["app_port"], s.web["deregistration_delay_seconds"], s.service),
    Grants(
        role_name=web.instance_role_name,
        secret_arns=[database.secret_arn, database.app_secret_arn, cache.auth_secret_arn],
        key_arns=[database.kms_key_arn],
    ),
    tags,
)

# The instances come last: launched before the database, the cache, their settings and the secret grants exist,
# they would fail their health checks and be replaced until everything is there.
fleet = ha.HaWebFleet(
    "web",
    {
        **s.fleet,
        "subnet_ids": private,
        "launch_template_id": web.launch_template_id,
        "launch_template_version": web.launch_template_version,
        "target_group_arn": web.target_group_arn,
        "alb_arn_suffix": web.alb_arn_suffix,
        "target_group_arn_suffix": web.target_group_arn_suffix,
        "tags": tags,
    },
    pulumi.ResourceOptions(depends_on=[database, cache, runtime_config]),
)

site: ha.HaEdge | None = None
if s.keys["enable_edge"]:
    edge_args: ha.HaEdgeArgs = {
        **s.edge,
        "origin_domain_name": s.alb_domain or web.alb_dns_name,
        "origin_https": s.alb_domain is not None,
        "origin_secret": web.origin_secret,
        "static_directory": str(APP / "static"),
        "force_destroy_buckets": s.force_destroy_buckets,
        "tags": tags,
    }
    if s.vpc_origin:
        edge_args["origin_vpc_alb_arn"] = web.alb_arn
    if domain and zone_id is not None:
        edge_args["domain_name"], edge_args["hosted_zone_id"] = domain, zone_id
    site = ha.HaEdge("edge", edge_args)

engine, instances = s.database["engine"], per_item(database.instance_identifiers, 1 + s.database["reader_count"])
monitoring_args: ha.HaMonitoringArgs = {
    **s.monitoring,
    "region": s.region,
    "name_prefix": s.name_prefix,
    "force_destroy_buckets": s.force_destroy_buckets,
    "alb_arn_suffix": web.alb_arn_suffix,
    "target_group_arn_suffix": web.target_group_arn_suffix,
    "asg_name": fleet.asg_name,
    "asg_min_size": s.fleet["min_size"],
    "database_engine": engine,
    "database_cluster_identifier": database.cluster_identifier,
    "database_instance_identifiers": instances,
    "database_storage_gib": s.database["allocated_storage_gib"],
    "cache_member_ids": per_item(cache.member_cluster_ids, s.cache["node_count"]),
    "tags": tags,
}
if site is not None:
    monitoring_args["distribution_id"], monitoring_args["health_check_id"] = site.distribution_id, site.health_check_id
    if s.edge["enable_waf"]:
        monitoring_args["web_acl_name"] = site.web_acl_name
watch = ha.HaMonitoring("monitoring", monitoring_args)

resilience_args: ha.HaResilienceArgs = {
    **s.resilience,
    "availability_zones": zones,
    "stop_alarm_arn": watch.composite_alarm_arn,
    "asg_name": fleet.asg_name,
    "vpc_id": network.vpc_id,
    "zone_subnet_ids": by_zone(zones, public, private, isolated),
    "database_engine": engine,
    "database_multi_az": s.database["multi_az"],
    "cache_replication_group_id": cache.replication_group_id,
    # HaCache tags its replication group with the stack's tags, its component and Name "<name>-redis".
    "cache_target_tags": {**tags, "ha-stack:component": "HaCache", "Name": "cache-redis"},
    "cache_availability_zones": zones[: s.cache["node_count"]] if s.cache["automatic_failover"] else [],
    "alb_arn": web.alb_arn,
    "tags": tags,
}
if engine == "aurora-postgresql":
    resilience_args["database_cluster_identifier"] = database.cluster_identifier
else:
    resilience_args["database_instance_identifier"] = instances[0]
drills = ha.HaResilience("resilience", resilience_args)

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
