"""The `dr` setting under the mock cloud (issue 16): dev stays one region, prod is a primary/standby pair whose
standby is placed by the same code in its own region, joined to the primary only where AWS requires it."""

import json

import pytest

from stack import failover
from stack.mock_cloud import RecordedResource, Recording
from tests.conftest import run_stack, stack_config

STANDBY = "us-west-2"
PROVIDER = "pulumi:providers:aws"
ASG = "aws:autoscaling/group:Group"


def descendants(rec: Recording, roots: list[RecordedResource]) -> list[RecordedResource]:
    """Every resource under these components (their children, theirs, ...)."""
    found, frontier = [], {r.urn for r in roots}
    while frontier:
        children = [r for r in rec.resources if r.parent in frontier]
        found += children
        frontier = {r.urn for r in children}
    return found


def standby_resources(rec: Recording) -> list[RecordedResource]:
    """The cloud resources of the standby's components (named standby-*), the standby's only placement."""
    roots = [r for r in rec.components() if r.name.startswith("standby-") and r.parent.endswith("::ha-stack-prod")]
    assert {r.name for r in roots} >= {
        "standby-network",
        "standby-web",
        "standby-database",
        "standby-cache",
        "standby-runtime-config",
        "standby-monitoring",
    }
    return [r for r in descendants(rec, roots) if r.custom]


def in_region(rec: Recording, resource: RecordedResource) -> str:
    """The region AWS would act in for this resource: its `region` argument, else its provider's, else aws:region."""
    if resource.inputs.get("region"):
        return str(resource.inputs["region"])
    if resource.provider:
        (provider,) = [p for p in rec.of_type(PROVIDER) if resource.provider.startswith(p.urn + "::")]
        return str(provider.inputs.get("region") or "us-east-1")
    return "us-east-1"


@pytest.fixture(scope="module")
def pair(prod_pair: Recording) -> Recording:
    """prod as its stack file defines it: dr on, us-east-1 -> us-west-2, warm standby."""
    return prod_pair


def test_dev_stays_one_region_with_no_dr_resource_or_output(dev):
    assert dev.of_type(PROVIDER) == []
    assert [r.name for r in dev.resources if r.name.startswith("standby")] == []
    assert [r.name for r in dev.resources if r.provider] == []
    for typ in (
        "aws:rds/globalCluster:GlobalCluster",
        "aws:backup/plan:Plan",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    ):
        assert dev.of_type(typ) == []
    assert "dr" not in dev.exports
    assert {region for _, region in dev.invoke_regions} == {"us-east-1"}


def test_every_standby_resource_is_made_in_the_standby_region(pair):
    resources = [r for r in standby_resources(pair) if r.typ.startswith("aws:")]  # random: values, no region
    elsewhere = sorted((r.name, in_region(pair, r)) for r in resources if in_region(pair, r) != STANDBY)
    # Route 53 publishes health-check metrics in us-east-1 only: the alarm on the standby origin's health check, and
    # the topic (with its key, policy and subscription) it notifies, are made there on purpose (HaMonitoring).
    assert elsewhere == [
        ("standby-monitoring-alarms-global", "us-east-1"),
        ("standby-monitoring-alarms-global", "us-east-1"),
        ("standby-monitoring-alarms-global-email-1", "us-east-1"),
        ("standby-monitoring-key-global", "us-east-1"),
        ("standby-monitoring-standby-health-check", "us-east-1"),
    ]
    kinds = {r.typ for r in resources}
    assert {
        "aws:ec2/vpc:Vpc",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:autoscaling/group:Group",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:ssm/parameter:Parameter",
    } <= kinds
    # The mock cloud answers for the provider's region, so the standby's endpoints name it.
    (alb,) = [r for r in resources if r.typ == "aws:lb/loadBalancer:LoadBalancer"]
    assert f".{STANDBY}.elb.amazonaws.com" in alb.outputs["dnsName"]


def test_the_standby_asks_its_own_region_for_zones_and_images(pair):
    asked = {(token.rsplit(":", 1)[-1], region) for token, region in pair.invoke_regions}
    assert ("getAvailabilityZones", STANDBY) in asked
    assert ("getParameter", STANDBY) in asked  # the standby's AMI is its region's (AMI ids are regional)
    zones = {r.inputs["availabilityZone"] for r in standby_resources(pair) if r.typ == "aws:ec2/subnet:Subnet"}
    assert zones == {f"{STANDBY}a", f"{STANDBY}b", f"{STANDBY}c"}


def test_the_standby_runs_its_approach_and_can_grow_to_the_primary(pair):
    primary, standby = pair.named("web-instances", ASG), pair.named("standby-web-instances", ASG)
    assert (standby.inputs["minSize"], standby.inputs["desiredCapacity"]) == (3, 3)
    assert standby.inputs["maxSize"] == primary.inputs["maxSize"] == 6
    (cache,) = [r for r in standby_resources(pair) if r.typ == "aws:elasticache/replicationGroup:ReplicationGroup"]
    assert cache.inputs["numCacheClusters"] == 1
    assert cache.inputs["automaticFailoverEnabled"] is False


def test_the_global_cluster_links_both_clusters(pair):
    (glob,) = pair.of_type("aws:rds/globalCluster:GlobalCluster")
    assert glob.inputs["engine"] == "aurora-postgresql"
    assert glob.inputs["storageEncrypted"] is True
    clusters = {r.name: r for r in pair.of_type("aws:rds/cluster:Cluster")}
    assert set(clusters) == {"database-cluster", "standby-database-cluster"}
    assert {c.inputs["globalClusterIdentifier"] for c in clusters.values()} == {glob.id}
    assert in_region(pair, clusters["standby-database-cluster"]) == STANDBY
    # The secondary brings no login: the primary's secrets are replicated to the standby region.
    assert "masterUsername" not in clusters["standby-database-cluster"].inputs
    secrets = [r for r in pair.of_type("aws:secretsmanager/secret:Secret") if r.name.startswith("database-")]
    assert secrets
    assert all(s.inputs.get("replicas") == [{"region": STANDBY}] for s in secrets)


def test_the_static_bucket_is_replicated_to_the_standby(pair):
    (config,) = pair.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    static = pair.named("edge-static", "aws:s3/bucket:Bucket")
    assert config.inputs["bucket"] == static.id
    assert in_region(pair, config) == "us-east-1"
    (rule,) = config.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["destination"]["replicationTime"]["status"] == "Enabled"
    replica = pair.by_id(rule["destination"]["bucket"].removeprefix("arn:aws:s3:::"))
    assert in_region(pair, replica) == STANDBY


def test_backups_are_copied_to_a_vault_in_the_standby(pair):
    vaults = {r.name: r for r in pair.of_type("aws:backup/vault:Vault")}
    assert {n: in_region(pair, v) for n, v in vaults.items()} == {
        "database-backup-vault": "us-east-1",
        "database-backup-copies": STANDBY,
    }
    keys = {r.name: in_region(pair, r) for r in pair.of_type("aws:kms/key:Key") if r.name.startswith("database-backup")}
    assert keys == {"database-backup-vault-key": "us-east-1", "database-backup-copies-key": STANDBY}
    (plan,) = pair.of_type("aws:backup/plan:Plan")
    (rule,) = plan.inputs["rules"]
    assert rule["targetVaultName"] == vaults["database-backup-vault"].outputs["name"]
    assert [c["destinationVaultArn"] for c in rule["copyActions"]] == [vaults["database-backup-copies"].outputs["arn"]]
    (selection,) = pair.of_type("aws:backup/selection:Selection")
    cluster = pair.named("database-cluster")
    assert selection.inputs["resources"] == [f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster.id}"]
    role = pair.by_id(selection.inputs["iamRoleArn"].rsplit("/", 1)[-1])
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    attached = {
        a.inputs["policyArn"]
        for a in pair.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("database-backup")
    }
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }


ALLOWED_PRIMARY_DEPENDENCIES = {
    "database-global": "the global cluster both clusters join (AWS: a secondary joins an existing global cluster)",
    "database": "the primary cluster and its replicated secrets (a secondary joins a global cluster that has its "
    "primary; the secret replicas are made by the primary secret's replica configuration)",
    "web": "the origin secret (one CloudFront distribution sends one header value to both load balancers)",
    "edge": "the static bucket's name: the SourceBucket dimension of the standby's replication alarms (S3 publishes "
    "replication metrics in the destination's region); a value from the state, no call to the primary region",
}


def top_component(rec: Recording, resource: RecordedResource) -> str:
    """The name of the stack-level component a resource belongs to (its own name at the top)."""
    by_urn = {r.urn: r for r in rec.resources}
    while resource.parent in by_urn:
        resource = by_urn[resource.parent]
    return resource.name


def test_the_standby_depends_on_the_primary_region_only_where_aws_requires_it(pair):
    by_urn = {r.urn: r for r in pair.resources}
    standby = standby_resources(pair)
    inside = {r.urn for r in standby}
    reached = set()
    for resource in standby:
        for urn in resource.dependencies:
            dep = by_urn.get(urn)
            if dep is None or urn in inside or not dep.custom or in_region(pair, dep) == STANDBY:
                continue
            if dep.typ.startswith(("aws:iam/", "aws:route53/", "pulumi:providers")):
                continue  # global services: no region to lose
            reached.add(top_component(pair, dep))
    assert reached <= set(ALLOWED_PRIMARY_DEPENDENCIES), reached - set(ALLOWED_PRIMARY_DEPENDENCIES)
    # The release the standby boots from is uploaded to its own bucket, not copied from the primary's.
    objects = [r for r in standby if r.typ == "aws:s3/bucketObjectv2:BucketObjectv2"]
    assert objects
    assert all(in_region(pair, o) == STANDBY for o in objects)


def test_the_dr_output_is_what_the_failover_command_reads(pair):
    parsed = failover.read_pair(pair.exports)
    clusters = {in_region(pair, c): c.id for c in pair.of_type("aws:rds/cluster:Cluster")}
    assert parsed.global_cluster_id == "ha-stack-prod-global"
    assert parsed.primary_region == "us-east-1"
    assert (parsed.active_capacity, parsed.standby_capacity) == (3, 3)
    assert {r: s.cluster_arn for r, s in parsed.sides.items()} == {
        r: f"arn:aws:rds:{r}:123456789012:cluster:{cid}" for r, cid in clusters.items()
    }
    assert {r: s.asg_name for r, s in parsed.sides.items()} == {
        "us-east-1": pair.named("web-instances", ASG).id,
        STANDBY: pair.named("standby-web-instances", ASG).id,
    }


def test_the_origin_group_is_the_two_load_balancers_and_writes_follow_the_failover_name(pair):
    (distribution,) = pair.of_type("aws:cloudfront/distribution:Distribution")
    given = distribution.inputs["origins"]  # secret: the origin secret is in the custom headers
    origins = {o["originId"]: o["domainName"] for o in given.get("secret", given)}
    (group,) = distribution.inputs["originGroups"]
    members = [origins[m["originId"]] for m in group["members"]]
    assert members == ["origin.shop.example.com", "origin-standby.shop.example.com"]
    writes = [b for b in distribution.inputs["orderedCacheBehaviors"] if "POST" in b["allowedMethods"]]
    assert writes
    assert {origins[b["targetOriginId"]] for b in writes} == {"origin-write.shop.example.com"}
    records = [r for r in pair.of_type("aws:route53/record:Record") if r.name.startswith("origin-failover")]
    alb = {r.name: r.outputs["dnsName"] for r in pair.of_type("aws:lb/loadBalancer:LoadBalancer")}
    by_role = {r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs["aliases"][0]["name"] for r in records}
    assert by_role == {"PRIMARY": alb["web-alb"], "SECONDARY": alb["standby-web-alb"]}


def test_the_standby_load_balancer_takes_the_primarys_origin_secret_and_the_failover_name(pair):
    standby_web = pair.named("standby-web", "ha-stack:index:HaWebTier")
    certs = [r for r in descendants(pair, [standby_web]) if r.typ == "aws:acm/certificate:Certificate"]
    (cert,) = certs
    assert cert.inputs["domainName"] == "origin-standby.shop.example.com"
    assert cert.inputs["subjectAlternativeNames"] == ["origin-write.shop.example.com"]
    secrets = [r for r in pair.of_type("random:index/randomPassword:RandomPassword") if "origin" in r.name]
    assert [s.name for s in secrets] == ["web-origin-secret"]


def test_pilot_light_keeps_an_empty_standby_group_that_the_failover_scales_to_the_primarys_size():
    """pilot_light's standby runs no instance (the group exists at 0, ready; max = the primary's) while the rest of the
    standby is deployed; the failover command scales it (stack/failover.py reads active_capacity)."""
    config = stack_config("prod", dr={"approach": "pilot_light", "standby_min_size": 0})
    rec = run_stack("prod", config)
    group = rec.named("standby-web-instances", ASG)
    assert (group.inputs["minSize"], group.inputs["desiredCapacity"]) == (0, 0)
    assert group.inputs["maxSize"] == rec.named("web-instances", ASG).inputs["maxSize"]
    assert in_region(rec, group) == STANDBY
    assert failover.read_pair(rec.exports).standby_capacity == 0


def test_rds_postgresql_replicates_its_backups_and_the_standby_has_no_database():
    """postgres: no global cluster; the automated backups go to the standby region (a point-in-time restore there is
    its recovery), which runs everything but a database; the failover command's `dr` output needs a global cluster,
    so there is none."""
    config = stack_config("prod", database={"engine": "postgres", "reader_count": 0, "multi_az": True})
    del config["ha-stack:database"]["reader_autoscaling_max"]  # Aurora's
    rec = run_stack("prod", config)
    assert rec.of_type("aws:rds/globalCluster:GlobalCluster") == []
    (replication,) = rec.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert in_region(rec, replication) == STANDBY
    assert [r.name for r in rec.of_type("aws:rds/instance:Instance") if in_region(rec, r) == STANDBY] == []
    assert rec.named("standby-web-instances", ASG).inputs["minSize"] == 3
    (selection,) = rec.of_type("aws:backup/selection:Selection")
    writer = rec.named("database-primary", "aws:rds/instance:Instance")
    assert selection.inputs["resources"] == [f"arn:aws:rds:us-east-1:123456789012:db:{writer.id}"]
    assert "dr" not in rec.exports


def test_the_primary_region_view_is_the_primary_region_only(prod, pair):
    """What the one-region tests read (conftest `prod`): the stack provider's resources in us-east-1, none of the
    standby's, and every resource of the pair that is there."""
    assert {r.name for r in prod.resources if r.custom and r.name.startswith("standby-")} == set()
    assert {r.urn for r in prod.resources if r.typ.startswith("aws:")} == {
        r.urn
        for r in pair.resources
        if r.typ.startswith("aws:") and in_region(pair, r) == "us-east-1" and not r.provider
    }
