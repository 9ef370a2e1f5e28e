"""HaWebTier and HaWebFleet on their own, behind the subnets of a VPC that already exists.

The load balancer goes into the subnets tagged Tier=public (internet-facing: no CloudFront in front here), the
Auto Scaling group into those tagged Tier=private, one instance per zone at least. The instances run the service
in app_directory (this repository's service unless configured) and read its settings under runtime_config_path.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from ha_stack import HaWebFleet, HaWebTier

config = pulumi.Config()
vpc_id = config.get("vpc_id")
vpc = aws.ec2.get_vpc(id=vpc_id) if vpc_id else aws.ec2.get_vpc(tags={"Name": config.get("vpc_name") or "shared"})


def subnet_ids(tier: str) -> list[pulumi.Input[str]]:
    """The VPC's subnets tagged Tier=<tier>, in zone order."""
    ids = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}], tags={"Tier": tier}).ids
    return [s.id for s in sorted((aws.ec2.get_subnet(id=i) for i in ids), key=lambda s: s.availability_zone)]


public, private = subnet_ids("public"), subnet_ids("private")
web = HaWebTier(
    "shop",
    {
        "vpc_id": vpc.id,
        "public_subnet_ids": public,
        "app_directory": config.get("app_directory") or str(Path(__file__).resolve().parents[2] / "app"),
        "runtime_config_path": config.get("runtime_config_path") or "/shop/example/",
        "cloudfront_only": False,
        # An example is destroyed again; a real load balancer keeps the defaults.
        "enable_deletion_protection": False,
        "force_destroy_buckets": True,
    },
)
# The instances join the tier's target group; a caller whose service needs a database gives this depends_on it.
fleet = HaWebFleet(
    "shop",
    {
        "subnet_ids": private,
        "launch_template_id": web.launch_template_id,
        "launch_template_version": web.launch_template_version,
        "target_group_arn": web.target_group_arn,
        "min_size": len(private),
        "max_size": 2 * len(private),
    },
)

pulumi.export("url", web.origin_url)
pulumi.export("asg_name", fleet.asg_name)
pulumi.export("instance_security_group_id", web.instance_security_group_id)
