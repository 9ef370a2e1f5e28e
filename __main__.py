"""ha-stack: load the stack's settings, assemble the components, export what operators need."""

import pulumi
import pulumi_aws as aws

from ha_stack import HaNetwork, NatGateways
from stack.settings import load_settings

settings = load_settings()
tags = settings.base_tags()


def pick_zones(count: int) -> list[str]:
    """The first `count` default zones of the region (no opt-in Local or Wavelength Zones)."""
    zones = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    )
    names = sorted(zones.names)
    if len(names) < count:
        raise pulumi.RunError(
            f"ha-stack:network.az_count: {settings.region} has {len(names)} usable zones "
            f"({', '.join(names)}), got az_count {count}"
        )
    return names[:count]


network = HaNetwork(
    "network",
    {
        "availability_zones": pick_zones(settings.network.az_count),
        "cidr_block": settings.network.cidr,
        "nat_gateways": NatGateways(settings.network.nat_gateways),
        "enable_flow_logs": settings.network.enable_flow_logs,
        "flow_log_retention_days": settings.network.flow_log_retention_days,
        "tags": tags,
    },
)

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("availability_zones", network.availability_zones)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("app_subnet_ids", network.app_subnet_ids)
pulumi.export("data_subnet_ids", network.data_subnet_ids)
pulumi.export("nat_public_ips", network.nat_public_ips)
