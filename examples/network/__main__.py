"""HaNetwork on its own: a VPC over three AZs with public, private (app) and isolated (data) subnets per AZ.

A NAT gateway per AZ (each app route table on its own zone's NAT, so losing a zone does not cut the others' egress),
flow logs, and an S3 gateway endpoint. The zones are the region's first three that need no opt-in.
"""

import pulumi
import pulumi_aws as aws

from ha_stack import HaNetwork, NatGateways

config = pulumi.Config()
zones = aws.get_availability_zones(
    state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
)

network = HaNetwork(
    "network",
    {
        "availability_zones": sorted(zones.names)[: config.get_int("az_count") or 3],
        "cidr_block": config.get("cidr_block") or "10.30.0.0/16",
        "nat_gateways": NatGateways.ONE_PER_AZ,
    },
)

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("app_subnet_ids", network.app_subnet_ids)
pulumi.export("data_subnet_ids", network.data_subnet_ids)
