"""HaDatabase: prod's Aurora, dev's single-AZ RDS, RDS with replicas, and what a reusing project gets."""

import asyncio
import json
import re
from typing import Any, cast

import pytest

from ha_stack import DatabaseEngine, HaDatabase, HaDatabaseArgs
from ha_stack.database import plan
from stack.ha_summary import database_facts
from stack.mock_cloud import Recording
from tests.conftest import DATA_TIER, build, parented_children, published

CLUSTER = "aws:rds/cluster:Cluster"
MEMBER = "aws:rds/clusterInstance:ClusterInstance"
INSTANCE = "aws:rds/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def args(**overrides: Any) -> HaDatabaseArgs:
    return cast(HaDatabaseArgs, {**DATA_TIER, **overrides})


@pytest.fixture(scope="module")
def rds_with_replicas() -> Recording:
    return build(
        lambda: HaDatabase(
            "db",
            args(
                engine=DatabaseEngine.POSTGRES,
                reader_count=2,
                instance_class="db.m7g.large",
                parameter_path="/shop/test/",
            ),
        )
    )


# 1. Engines and placement


def test_prod_is_aurora_with_a_writer_and_2_readers_in_3_distinct_azs(prod):
    facts = database_facts(prod)
    assert facts.engine == "aurora-postgresql"
    assert facts.writer_zone == "us-east-1a"
    assert facts.reader_zones == ["us-east-1b", "us-east-1c"]
    members = prod.of_type(MEMBER)
    assert sorted(m.inputs["promotionTier"] for m in members) == [0, 1, 2]
    cluster = prod.named("database-cluster", CLUSTER)
    assert all(m.inputs["clusterIdentifier"] == cluster.id for m in members)
    assert all(m.inputs["instanceClass"] == "db.r6g.large" for m in members)
    assert cluster.inputs["engineVersion"] == "16.4"


def test_prod_exposes_cluster_and_reader_endpoints(prod):
    cluster = prod.named("database-cluster", CLUSTER)
    assert prod.exports["database_writer_endpoint"] == cluster.outputs["endpoint"]
    assert prod.exports["database_reader_endpoint"] == cluster.outputs["readerEndpoint"]
    assert ".cluster-ro-" in prod.exports["database_reader_endpoint"]


def test_prod_lets_aurora_add_readers_on_cpu_between_its_min_and_max(prod):
    target = prod.named("database-readers", "aws:appautoscaling/target:Target")
    cluster = prod.named("database-cluster", CLUSTER)
    assert target.inputs["scalableDimension"] == "rds:cluster:ReadReplicaCount"
    assert target.inputs["resourceId"] == f"cluster:{cluster.outputs['clusterIdentifier']}"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 2)
    policy = prod.named("database-readers-cpu", "aws:appautoscaling/policy:Policy")
    spec = policy.inputs["targetTrackingScalingPolicyConfiguration"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "RDSReaderAverageCPUUtilization"


def test_dev_is_single_az_rds_postgres_through_the_same_code_paths(dev):
    facts = database_facts(dev)
    assert (facts.engine, facts.multi_az, facts.writer_zone, facts.reader_zones) == (
        "postgres",
        False,
        "us-east-1a",
        [],
    )
    (primary,) = dev.of_type(INSTANCE)
    assert primary.inputs["instanceClass"] == "db.t4g.micro"
    assert primary.inputs["storageEncrypted"] is True
    assert primary.inputs["manageMasterUserPassword"] is True
    assert primary.inputs["storageType"] == "gp3"
    assert (primary.inputs["allocatedStorage"], primary.inputs["maxAllocatedStorage"]) == (20, 80)
    assert dev.of_type(CLUSTER) == []


def test_rds_mode_is_a_multi_az_primary_with_replicas_of_it_each_in_its_own_az(rds_with_replicas):
    rec = rds_with_replicas
    primary = rec.named("db-primary", INSTANCE)
    assert primary.inputs["multiAz"] is True
    assert "availabilityZone" not in primary.inputs  # AWS places the primary and its standby
    replicas = [rec.named(f"db-replica-{x}", INSTANCE) for x in "bc"]
    assert [r.inputs["replicateSourceDb"] for r in replicas] == [primary.outputs["identifier"]] * 2
    assert [r.inputs["availabilityZone"] for r in replicas] == ["us-east-1b", "us-east-1c"]
    assert all("manageMasterUserPassword" not in r.inputs for r in replicas)


def test_rds_mode_writes_to_the_primary_and_reads_from_the_first_replica(rds_with_replicas):
    rec = rds_with_replicas
    parameters = published(rec)
    assert parameters["/shop/test/database/writer_endpoint"] == rec.named("db-primary", INSTANCE).outputs["address"]
    assert parameters["/shop/test/database/reader_endpoint"] == rec.named("db-replica-b", INSTANCE).outputs["address"]


# 2. Network


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_the_web_instances_reach_the_database_port(stack, request):
    rec = request.getfixturevalue(stack)
    db_sg = rec.named("database-sg", SG)
    rules = [r for r in rec.of_type(INGRESS) if r.inputs["securityGroupId"] == db_sg.id]
    (rule,) = rules
    assert rule.inputs["referencedSecurityGroupId"] == rec.named("web-instances", SG).id
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (5432, 5432, "tcp")
    egress = rec.named("database-egress-from-web", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert egress.inputs["securityGroupId"] == rec.named("web-instances", SG).id
    assert egress.inputs["referencedSecurityGroupId"] == db_sg.id


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_data_subnets_hold_the_database(stack, request):
    rec = request.getfixturevalue(stack)
    group = rec.named("database-subnets", "aws:rds/subnetGroup:SubnetGroup")
    tiers = {rec.by_id(s).inputs["tags"]["ha-stack:tier"] for s in group.inputs["subnetIds"]}
    assert tiers == {"data"}
    assert len(group.inputs["subnetIds"]) == (3 if stack == "prod" else 2)
    holders = rec.of_type(CLUSTER) + rec.of_type(INSTANCE)
    assert all(
        h.inputs.get("dbSubnetGroupName") == group.outputs["name"]
        for h in holders
        if "replicateSourceDb" not in h.inputs
    )
    assert all(m.inputs.get("publiclyAccessible") is False for m in rec.of_type(MEMBER) + rec.of_type(INSTANCE))


# 3. Secrets and encryption


def test_prod_encrypts_storage_secret_and_insights_with_the_stacks_rotating_key(prod):
    key = prod.named("database-key", "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is True
    cluster = prod.named("database-cluster", CLUSTER)
    assert cluster.inputs["storageEncrypted"] is True
    assert cluster.inputs["kmsKeyId"] == key.outputs["arn"]
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert cluster.inputs["masterUserSecretKmsKeyId"] == key.outputs["arn"]
    for member in prod.of_type(MEMBER):
        assert member.inputs["performanceInsightsEnabled"] is True
        assert member.inputs["performanceInsightsKmsKeyId"] == key.outputs["arn"]


def test_dev_uses_the_aws_managed_key(dev):
    assert [k.name for k in dev.of_type("aws:kms/key:Key")] == ["monitoring-key"]
    (primary,) = dev.of_type(INSTANCE)
    assert "kmsKeyId" not in primary.inputs
    assert primary.inputs["storageEncrypted"] is True


# 4. Parameters, logs, monitoring, upgrades, windows


@pytest.mark.parametrize(
    ("stack", "kind"),
    [("prod", "aws:rds/clusterParameterGroup:ClusterParameterGroup"), ("dev", "aws:rds/parameterGroup:ParameterGroup")],
)
def test_tls_is_forced_and_slow_statements_are_logged(stack, kind, request):
    rec = request.getfixturevalue(stack)
    (group,) = rec.of_type(kind)
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == {"rds.force_ssl": "1", "log_min_duration_statement": "500"}
    assert group.inputs["family"] == ("aurora-postgresql16" if stack == "prod" else "postgres16")
    holder = (rec.of_type(CLUSTER) or rec.of_type(INSTANCE))[0]
    used = holder.inputs.get("dbClusterParameterGroupName") or holder.inputs.get("parameterGroupName")
    assert used == group.outputs["name"]
    assert "postgresql" in holder.inputs["enabledCloudwatchLogsExports"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_instances_have_enhanced_monitoring_insights_and_minor_upgrades(stack, request):
    rec = request.getfixturevalue(stack)
    role = rec.named("database-monitoring", "aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"
    }
    for instance in rec.of_type(MEMBER) + rec.of_type(INSTANCE):
        assert instance.inputs["monitoringInterval"] == 60
        assert instance.inputs["monitoringRoleArn"] == role.outputs["arn"]
        assert instance.inputs["performanceInsightsEnabled"] is True
        assert instance.inputs["autoMinorVersionUpgrade"] is True


def test_backup_and_maintenance_windows_are_explicit_and_do_not_overlap(prod):
    cluster = prod.named("database-cluster", CLUSTER)
    assert cluster.inputs["preferredBackupWindow"] == "03:00-04:00"
    assert cluster.inputs["preferredMaintenanceWindow"] == "sun:04:30-sun:05:30"


# 5. Backups and protection


def test_prod_keeps_14_days_of_backups_a_final_snapshot_and_is_protected(prod):
    cluster = prod.named("database-cluster", CLUSTER)
    assert cluster.inputs["backupRetentionPeriod"] == 14
    assert cluster.inputs["copyTagsToSnapshot"] is True
    assert cluster.inputs["skipFinalSnapshot"] is False
    assert cluster.inputs["finalSnapshotIdentifier"].startswith("database-final-")
    assert cluster.inputs["deletionProtection"] is True
    assert cluster.protect is True
    assert all(m.protect for m in prod.of_type(MEMBER))


def test_dev_can_be_torn_down_but_still_takes_a_final_snapshot(dev):
    (primary,) = dev.of_type(INSTANCE)
    assert primary.inputs["deletionProtection"] is False
    assert primary.protect is False
    assert primary.inputs["skipFinalSnapshot"] is False
    assert primary.inputs["backupRetentionPeriod"] == 1


# 6. Runtime config


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_settings_are_published_under_the_stacks_path(stack, request):
    rec = request.getfixturevalue(stack)
    parameters = published(rec, "/database/")
    prefix = f"/ha-stack/{stack}/database/"
    assert sorted(parameters) == [
        prefix + k for k in ("name", "port", "reader_endpoint", "secret_arn", "sslmode", "writer_endpoint")
    ]
    assert parameters[prefix + "name"] == "shop"
    assert parameters[prefix + "port"] == "5432"
    assert parameters[prefix + "secret_arn"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!")
    assert parameters[prefix + "writer_endpoint"] == rec.exports["database_writer_endpoint"]
    assert all(p.inputs["type"] == "String" for p in rec.of_type("aws:ssm/parameter:Parameter"))


# 7. Outputs and parenting


def test_outputs_name_what_monitoring_watches():
    databases: list[HaDatabase] = []
    build(lambda: databases.append(HaDatabase("db", args(reader_count=2))))
    (db,) = databases
    loop = asyncio.get_event_loop()
    identifiers = loop.run_until_complete(db.instance_identifiers.future())
    assert identifiers is not None
    assert len(identifiers) == 3
    assert loop.run_until_complete(db.cluster_identifier.future())


def test_every_child_is_parented_to_the_component(rds_with_replicas):
    parented_children(rds_with_replicas)


# Bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"engine": "mysql"}, "HaDatabase.engine: must be one of aurora-postgresql, postgres, got 'mysql'"),
        ({"engine_version": "9.6"}, "HaDatabase.engine_version: major version must be one of 13, 14, 15, 16, 17"),
        ({"reader_count": 3}, "HaDatabase.reader_count: must be < the number of zones (3)"),
        ({"instance_class": "r6g.large"}, "HaDatabase.instance_class: must be an RDS instance class"),
        ({"instance_class": "db.t4g.micro"}, "HaDatabase.instance_class: Aurora PostgreSQL needs db.t3.medium"),
        ({"backup_retention_days": 0}, "HaDatabase.backup_retention_days: Aurora keeps at least 1 day"),
        (
            {"engine": "postgres", "reader_count": 1, "backup_retention_days": 0},
            "HaDatabase.backup_retention_days: read replicas need backups",
        ),
        (
            {"reader_autoscaling_max": 1, "engine": "postgres"},
            "HaDatabase.reader_autoscaling_max: reader auto scaling needs",
        ),
        ({"client_security_group_ids": {}}, "HaDatabase.client_security_group_ids: need at least one client"),
        ({"subnet_ids": ["subnet-da"]}, "HaDatabase.subnet_ids: need one subnet per zone (3), got 1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))
