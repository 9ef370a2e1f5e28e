"""The examples (examples/) run under the mock cloud and put each component where a reusing project expects."""

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.mock_cloud import MockCloud, RecordedResource, Recording, run_program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REGION = "eu-west-1"
CLIENT = "sg-0c11e47c11e47c11e"
"""The application security group the data-tier examples are told to admit."""
EXISTING = MockCloud(REGION)
(VPC,) = EXISTING.existing_vpcs()


def existing(tier: str) -> list[dict[str, Any]]:
    """The mock account's existing subnets of one tier, in zone order."""
    subnets = [s for s in EXISTING.existing_subnets() if s["tags"]["Tier"] == tier]
    return sorted(subnets, key=lambda s: s["availabilityZone"])


def run_example(name: str, **config: str) -> Recording:
    """Run examples/<name>/__main__.py as its own project, with `config` in that project's namespace."""
    project = yaml.safe_load((EXAMPLES / name / "Pulumi.yaml").read_text())["name"]
    values = {"aws:region": REGION, **{f"{project}:{key}": value for key, value in config.items()}}
    return run_program(
        lambda: runpy.run_path(str(EXAMPLES / name / "__main__.py")), stack="example", config=values, project=project
    )


def ingress_sources(rec: Recording, group: RecordedResource) -> list[dict[str, Any]]:
    """What each ingress rule of a security group admits: a group, a CIDR or a prefix list, and the port."""
    return [
        {k: rule.inputs.get(k) for k in ("referencedSecurityGroupId", "cidrIpv4", "cidrIpv6", "prefixListId")}
        for rule in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if rule.inputs["securityGroupId"] == group.id
    ]


def test_every_example_is_a_complete_project_with_its_config_documented() -> None:
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    assert [p.name for p in folders] == [
        "cache-in-existing-vpc",
        "database-in-existing-vpc",
        "network",
        "web-tier-in-existing-vpc",
    ]
    index = (EXAMPLES / "README.md").read_text()
    for folder in folders:
        assert {"Pulumi.yaml", "__main__.py", "README.md", "requirements.txt"} <= {p.name for p in folder.iterdir()}
        project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
        assert project["runtime"]["name"] == "python"
        readme = (folder / "README.md").read_text()
        keys = set(
            re.findall(r"config\.(?:get|require|get_int|get_bool)\(\"(\w+)\"\)", (folder / "__main__.py").read_text())
        )
        assert keys, folder.name
        assert [key for key in sorted(keys) if f"`{key}`" not in readme] == [], f"{folder.name}: config not in README"
        assert f"]({folder.name}/)" in index
        for link in re.findall(r"\]\((\.\./\.\./[^)]+)\)", readme):
            assert (folder / link).resolve().exists(), f"{folder.name}: broken link {link}"


def test_database_lands_in_the_looked_up_subnets_and_admits_only_the_client() -> None:
    rec = run_example("database-in-existing-vpc", client_security_group_id=CLIENT)
    data = existing("database")
    (subnet_group,) = rec.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == [s["id"] for s in data]
    (group,) = rec.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == VPC["id"]
    sources = ingress_sources(rec, group)
    assert sources == [{"referencedSecurityGroupId": CLIENT, "cidrIpv4": None, "cidrIpv6": None, "prefixListId": None}]
    instances = sorted(rec.of_type("aws:rds/clusterInstance:ClusterInstance"), key=lambda r: r.inputs["promotionTier"])
    assert [i.inputs["availabilityZone"] for i in instances] == [s["availabilityZone"] for s in data[:2]]
    (cluster,) = rec.of_type("aws:rds/cluster:Cluster")
    assert cluster.inputs["databaseName"] == "orders"
    assert rec.exports["writer_endpoint"] == cluster.outputs["endpoint"]


def test_cache_puts_a_node_in_each_looked_up_zone_and_admits_only_the_client() -> None:
    rec = run_example("cache-in-existing-vpc", client_security_group_id=CLIENT)
    data = existing("database")
    (subnet_group,) = rec.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == [s["id"] for s in data]
    (group,) = rec.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.inputs["preferredCacheClusterAzs"] == [s["availabilityZone"] for s in data]
    assert group.inputs["numCacheClusters"] == len(data)
    assert group.inputs["automaticFailoverEnabled"] is True
    assert group.inputs["transitEncryptionEnabled"] is True
    (security_group,) = rec.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert security_group.inputs["vpcId"] == VPC["id"]
    assert [s["referencedSecurityGroupId"] for s in ingress_sources(rec, security_group)] == [CLIENT]
    assert [s["cidrIpv4"] for s in ingress_sources(rec, security_group)] == [None]


def test_web_tier_and_fleet_sit_behind_the_looked_up_subnets() -> None:
    rec = run_example("web-tier-in-existing-vpc")
    public, private = existing("public"), existing("private")
    (alb,) = rec.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["subnets"] == [s["id"] for s in public]
    assert alb.inputs["internal"] is False
    (target_group,) = rec.of_type("aws:lb/targetGroup:TargetGroup")
    assert target_group.inputs["vpcId"] == VPC["id"]
    (group,) = rec.of_type("aws:autoscaling/group:Group")
    assert group.inputs["vpcZoneIdentifiers"] == [s["id"] for s in private]
    assert group.inputs["targetGroupArns"] == [target_group.outputs["arn"]]
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (len(private), 2 * len(private))
    assert {g.inputs["vpcId"] for g in rec.of_type("aws:ec2/securityGroup:SecurityGroup")} == {VPC["id"]}


def test_network_alone_spans_three_zones_with_a_nat_per_zone() -> None:
    rec = run_example("network")
    zones = [zone for zone, _ in EXISTING.zones()[:3]]
    subnets = rec.of_type("aws:ec2/subnet:Subnet")
    tiers = {(s.inputs["tags"]["ha-stack:tier"], s.inputs["availabilityZone"]) for s in subnets}
    assert tiers == {(tier, zone) for tier in ("public", "app", "data") for zone in zones}
    zone_of = {s.id: s.inputs["availabilityZone"] for s in subnets}
    nats = rec.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(zone_of[n.inputs["subnetId"]] for n in nats) == zones
    # Each app subnet's default route leaves through the NAT gateway of its own zone.
    nat_zone = {n.id: zone_of[n.inputs["subnetId"]] for n in nats}
    via = {
        r.inputs["routeTableId"]: r.inputs["natGatewayId"]
        for r in rec.of_type("aws:ec2/route:Route")
        if "natGatewayId" in r.inputs
    }
    associations = rec.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    app = {s.id for s in subnets if s.inputs["tags"]["ha-stack:tier"] == "app"}
    egress = {
        zone_of[a.inputs["subnetId"]]: nat_zone[via[a.inputs["routeTableId"]]]
        for a in associations
        if a.inputs["subnetId"] in app
    }
    assert egress == {zone: zone for zone in zones}
    (vpc,) = rec.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.30.0.0/16"
    assert rec.exports["vpc_id"] == vpc.id


def test_a_lookup_that_finds_no_subnets_is_a_line_naming_the_argument() -> None:
    """A wrong Tier tag finds no subnets: the component's check names its argument and what it needs."""
    with pytest.raises(Exception, match=r"HaDatabase\.(subnet_ids|availability_zones): need .*at least 2") as error:
        run_example("database-in-existing-vpc", client_security_group_id=CLIENT, subnet_tier="databse")
    assert "Traceback" not in str(error.value)
