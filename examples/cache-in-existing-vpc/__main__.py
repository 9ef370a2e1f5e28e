"""HaCache on its own, inside a VPC that already exists (found by its Name tag, or by id).

One cache node per subnet tagged Tier=database, in zone order (the primary in the first zone, a replica in each
next one, automatic failover between them), reachable only from the security group given as
client_security_group_id, with TLS and an AUTH token kept in Secrets Manager.
"""

import pulumi
import pulumi_aws as aws

from ha_stack import HaCache

config = pulumi.Config()
vpc_id = config.get("vpc_id")
vpc = aws.ec2.get_vpc(id=vpc_id) if vpc_id else aws.ec2.get_vpc(tags={"Name": config.get("vpc_name") or "shared"})
subnet_ids = aws.ec2.get_subnets(
    filters=[{"name": "vpc-id", "values": [vpc.id]}], tags={"Tier": config.get("subnet_tier") or "database"}
).ids
subnets = sorted((aws.ec2.get_subnet(id=subnet_id) for subnet_id in subnet_ids), key=lambda s: s.availability_zone)

cache = HaCache(
    "sessions",
    {
        "vpc_id": vpc.id,
        "subnet_ids": [subnet.id for subnet in subnets],
        "availability_zones": [subnet.availability_zone for subnet in subnets],
        "client_security_group_ids": {"app": config.require("client_security_group_id")},
        "node_count": len(subnets),
    },
)

pulumi.export("primary_endpoint", cache.primary_endpoint)
pulumi.export("reader_endpoint", cache.reader_endpoint)
pulumi.export("auth_secret_arn", cache.auth_secret_arn)
pulumi.export("security_group_id", cache.security_group_id)
