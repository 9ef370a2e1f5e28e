"""HaDatabase on its own, inside a VPC that already exists (found by its Name tag, or by id).

The database goes into the VPC's subnets tagged Tier=database, one per AZ, in zone order (the writer in the first
zone, each reader in the next), and admits exactly one client: the security group given as client_security_group_id.
"""

import pulumi
import pulumi_aws as aws

from ha_stack import DatabaseEngine, HaDatabase

config = pulumi.Config()
vpc_id = config.get("vpc_id")
vpc = aws.ec2.get_vpc(id=vpc_id) if vpc_id else aws.ec2.get_vpc(tags={"Name": config.get("vpc_name") or "shared"})
subnet_ids = aws.ec2.get_subnets(
    filters=[{"name": "vpc-id", "values": [vpc.id]}], tags={"Tier": config.get("subnet_tier") or "database"}
).ids
# The component takes each subnet's zone too (plain values: it checks there are >= 2 before declaring anything).
subnets = sorted((aws.ec2.get_subnet(id=subnet_id) for subnet_id in subnet_ids), key=lambda s: s.availability_zone)

database = HaDatabase(
    "orders-db",
    {
        "vpc_id": vpc.id,
        "subnet_ids": [subnet.id for subnet in subnets],
        "availability_zones": [subnet.availability_zone for subnet in subnets],
        "client_security_group_ids": {"app": config.require("client_security_group_id")},
        "engine": DatabaseEngine.AURORA_POSTGRESQL,
        "reader_count": 1,
        "database_name": "orders",
        # An example is destroyed again; a real database keeps the default (true).
        "enable_deletion_protection": False,
    },
)

pulumi.export("writer_endpoint", database.writer_endpoint)
pulumi.export("reader_endpoint", database.reader_endpoint)
pulumi.export("master_secret_arn", database.secret_arn)
pulumi.export("security_group_id", database.security_group_id)
