"""Which Availability Zones the stack spans: the pinned ones, or the first `az_count` default zones of the region
that offer what the tiers need there.

AWS offers instance types and database classes per zone (DescribeInstanceTypeOfferings,
DescribeOrderableDBInstanceOptions), and CloudFront's VPC origins are not offered in a few zone ids, so a zone is
usable only when it offers all of them. A problem is one line (a `pulumi.RunError`), raised before any resource
is declared.
"""

import pulumi
import pulumi_aws as aws

from ha_stack.edge import VPC_ORIGIN_EXCLUDED_ZONE_IDS
from stack.settings import PROJECT, Settings


def lacking(settings: Settings, zones: list[str], invoke: pulumi.InvokeOptions | None = None) -> dict[str, list[str]]:
    """Zone -> the web tier's instance type and the database's class it does not offer (zones lacking nothing
    omitted).

    ElastiCache has no per-zone offering API (its node types are listed per region only), so the cache's node
    type cannot be checked here.
    """
    instance_type, db_class = _wanted(settings)
    ec2 = aws.ec2.get_instance_type_offerings(
        location_type="availability-zone",
        filters=[{"name": "instance-type", "values": [instance_type]}, {"name": "location", "values": zones}],
        opts=invoke,
    )
    rds = aws.rds.get_orderable_db_instance(
        engine=str(settings.database["engine"].value),
        engine_latest_version=True,
        preferred_instance_classes=[db_class],
        vpc=True,
        opts=invoke,
    )
    missing: dict[str, list[str]] = {}
    for zone in zones:
        for kind, offered in ((instance_type, ec2.locations), (db_class, rds.availability_zones)):
            if zone not in offered:
                missing.setdefault(zone, []).append(kind)
    return missing


def _wanted(settings: Settings) -> tuple[str, str]:
    """The web tier's instance type and the database's instance class (each component's default when not set)."""
    return str(settings.web["instance_type"]), str(settings.database["instance_class"])


def pick_zones(settings: Settings, standby: pulumi.ProviderResource | None = None) -> list[str]:
    """The pinned zones, or the first az_count default zones (no opt-in Local or Wavelength Zones) that offer the
    web tier's instance type and the database's class: an Auto Scaling group or RDS cannot place them anywhere else.
    Unpinned, a zone that starts offering a type would shift the choice (and replace subnets), so a deployed stack
    pins its zones in network.availability_zones.

    With `standby` (the aws.Provider of the dr setting's secondary region), the standby's dr.standby_az_count zones,
    asked of that region: zones and offerings are per region, and the pinned zones are the primary's."""
    invoke = pulumi.InvokeOptions(provider=standby) if standby is not None else None
    found = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}], opts=invoke
    )
    names = sorted(found.names)
    missing = lacking(settings, names, invoke)
    if settings.vpc_origin:  # the internal load balancer's zones must be ones where CloudFront offers VPC origins
        for name, zone_id in zip(found.names, found.zone_ids, strict=True):
            if zone_id in VPC_ORIGIN_EXCLUDED_ZONE_IDS:
                missing.setdefault(name, []).append(f"CloudFront VPC origins ({zone_id})")
    usable = [zone for zone in names if zone not in missing]
    instance_type, db_class = _wanted(settings)
    offering = f"web.instance_type {instance_type} and database.instance_class {db_class}"
    pinned = settings.network.get("availability_zones") if standby is None else None
    if pinned:
        wrong = [
            f"{z} {'lacks ' + ', '.join(missing[z]) if z in missing else 'is not a usable zone'}"
            for z in pinned
            if z not in usable
        ]
        if wrong:
            raise pulumi.RunError(
                f"{PROJECT}:network.availability_zones: {'; '.join(wrong)}; zones of {settings.region} offering "
                f"{offering}: {', '.join(usable) or 'none'}"
            )
        return list(pinned)
    count, key, region = settings.az_count, "az_count", settings.region
    if standby is not None and settings.dr is not None:
        count, key, region = settings.dr["standby_az_count"], "dr.standby_az_count", settings.dr["secondary_region"]
    if len(usable) < count:
        gaps = "".join(f"; {zone} lacks {', '.join(kinds)}" for zone, kinds in missing.items())
        raise pulumi.RunError(
            f"{PROJECT}:{key}: must be at most the {len(usable)} zones of {region} offering {offering} "
            f"({', '.join(usable) or 'none'}{gaps}), got {count}"
        )
    return usable[:count]
