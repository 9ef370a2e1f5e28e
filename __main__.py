"""ha-stack: the tiers of a highly available web architecture, how they are wired, and what operators get back.

Each tier's arguments are its `ha-stack:<tier>` object in the stack file, checked by the component itself
(stack/settings.py gathers every problem first). stack/regional.py places one region's tiers; this program places
the primary region, the `dr` setting's standby region (docs/dr.md), the edge, the failover name, monitoring in both
regions, the drills and the exports.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

import ha_stack as ha
from stack import regional
from stack.backup import DatabaseBackup
from stack.settings import STANDBY_LABEL, WRITE_LABEL, load_settings
from stack.wiring import hosted_zone_id
from stack.zones import pick_zones

APP = Path(__file__).resolve().parent / "app"
"""The service this stack deploys (a copy of the repository run from elsewhere deploys its own app/)."""

s = load_settings()
tags, zones, dr = s.base_tags(), pick_zones(s), s.dr
zone_id, domain = hosted_zone_id(s.keys.get("hosted_zone")), s.keys.get("domain")

# With dr and Aurora, both regions' clusters join one global cluster, declared empty (the primary joins it too).
global_cluster = None
if dr is not None and regional.is_aurora(s):
    global_cluster = aws.rds.GlobalCluster(
        "database-global",
        global_cluster_identifier=f"{s.name_prefix}-global",
        engine=s.database["engine"].value,
        engine_version=s.database["engine_version"],
        storage_encrypted=True,
        deletion_protection=s.database["enable_deletion_protection"],
        opts=pulumi.ResourceOptions(protect=s.database["enable_deletion_protection"], ignore_changes=["engineVersion"]),
    )
main = regional.place(s, regional.primary(s, zones, global_cluster), zone_id, APP)
assert main.database is not None
standby: regional.Region | None = None
if dr is not None and domain is not None and zone_id is not None:
    provider = aws.Provider("standby", region=dr["secondary_region"])
    where = regional.standby(s, dr, provider, pick_zones(s, provider), main, global_cluster)
    standby = regional.place(s, where, zone_id, APP)
    failover_name = ha.HaRegionalDns(
        "origin-failover",
        {
            "hosted_zone_id": zone_id,
            "record_name": WRITE_LABEL + domain,
            "primary_alias_name": main.web.alb_dns_name,
            "primary_alias_zone_id": main.web.alb_zone_id,
            "primary_health_check_name": str(s.alb_domain),
            "secondary_alias_name": standby.web.alb_dns_name,
            "secondary_alias_zone_id": standby.web.alb_zone_id,
            "secondary_health_check_name": STANDBY_LABEL + domain,
            "health_check_path": s.web["health_check_path"],
            "tags": tags,
        },
    )
    DatabaseBackup(
        "database-backup",
        regional.database_arn(s.region, main.database, regional.is_aurora(s)),
        s.database["backup_retention_days"],
        provider,
        tags,
        s.database["enable_deletion_protection"],
    )

site: ha.HaEdge | None = None
if s.keys["enable_edge"]:
    edge_args: ha.HaEdgeArgs = {
        **s.edge,
        "origin_domain_name": s.alb_domain or main.web.alb_dns_name,
        "origin_https": s.alb_domain is not None,
        "origin_secret": main.web.origin_secret,
        "static_directory": str(APP / "static"),
        "force_destroy_buckets": s.force_destroy_buckets,
        "tags": tags,
    }
    if s.vpc_origin:
        edge_args["origin_vpc_alb_arn"] = main.web.alb_arn
    if domain and zone_id is not None:
        edge_args["domain_name"], edge_args["hosted_zone_id"] = domain, zone_id
    if standby is not None and domain:  # pages fail over to the standby; writes follow the failover name
        edge_args["standby_origin_domain_name"] = STANDBY_LABEL + domain
        edge_args["write_origin_domain_name"] = WRITE_LABEL + domain
    site = ha.HaEdge("edge", edge_args)

primary_watch: dict[str, object] = {}
if site is not None:
    primary_watch["distribution_id"], primary_watch["health_check_id"] = site.distribution_id, site.health_check_id
    if s.edge["enable_waf"]:
        primary_watch["web_acl_name"] = site.web_acl_name
watch = regional.watch(s, main, "monitoring", primary_watch)
if dr is not None and standby is not None and site is not None:
    # The static assets' copy in the standby region (releases are uploaded to each region's own bucket instead).
    replica = ha.HaBucketReplication(
        "static-replica",
        {
            "source_bucket": site.static_bucket_name,
            "source_bucket_arn": site.static_bucket_arn,
            "source_region": s.region,
            "destination_region": dr["secondary_region"],
            "force_destroy": s.force_destroy_buckets,
            "tags": tags,
        },
        pulumi.ResourceOptions(depends_on=[site]),
    )
    standby_watch: dict[str, object] = {
        "enable_cloudtrail": False,  # the primary's trail records every region's API calls
        "replication_source_bucket": site.static_bucket_name,
        "replication_destination_bucket": replica.destination_bucket,
        "replication_rule_ids": ["every-object"],
        "standby_health_check_id": failover_name.secondary_health_check_id,
    }
    if standby.database is not None:
        standby_watch["global_secondary_cluster_identifier"] = standby.database.cluster_identifier
    regional.watch(s, standby, "standby-monitoring", standby_watch)
drills = ha.HaResilience("resilience", regional.resilience_args(s, main, watch.composite_alarm_arn))

pulumi.export("vpc_id", main.network.vpc_id)
pulumi.export("availability_zones", main.network.availability_zones)
pulumi.export("public_subnet_ids", main.network.public_subnet_ids)
pulumi.export("app_subnet_ids", main.network.app_subnet_ids)
pulumi.export("data_subnet_ids", main.network.data_subnet_ids)
pulumi.export("nat_public_ips", main.network.nat_public_ips)
pulumi.export("alb_dns_name", main.web.alb_dns_name)
pulumi.export("origin_url", main.web.origin_url)
pulumi.export("asg_name", main.fleet.asg_name)
pulumi.export("release_key", main.web.release_key)
pulumi.export("image_id", main.web.image_id)
pulumi.export("database_writer_endpoint", main.database.writer_endpoint)
pulumi.export("database_reader_endpoint", main.database.reader_endpoint)
pulumi.export("database_secret_arn", main.database.secret_arn)
pulumi.export("database_app_secret_arn", main.database.app_secret_arn)
pulumi.export("cache_primary_endpoint", main.cache.primary_endpoint)
pulumi.export("site_url", site.site_url if site else main.web.origin_url)
pulumi.export("alarm_topic_arn", watch.topic_arn)
pulumi.export("dashboard_url", watch.dashboard_url)
pulumi.export("composite_alarm_arn", watch.composite_alarm_arn)
pulumi.export("drill_template_ids", drills.experiment_template_ids)
pulumi.export("zonal_autoshift", drills.autoshift_status)
if dr is not None and standby is not None and global_cluster is not None:
    pulumi.export("dr", regional.dr_output(s, dr, global_cluster, main, standby))  # what stack/failover.py reads
