"""HaDatabase: prod's Aurora, dev's single-AZ RDS, RDS with replicas, and what a reusing project gets."""

import asyncio
import json
import re
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pytest

from ha_stack import DatabaseEngine, HaDatabase, HaDatabaseArgs, catalogue, options
from ha_stack.database import check, plan
from stack.ha_summary import database_facts
from stack.mock_cloud import RecordedResource, Recording
from tests.conftest import DATA_TIER, build, parented_children, published, refusal, run_stack, stack_config

CLUSTER = "aws:rds/cluster:Cluster"
MEMBER = "aws:rds/clusterInstance:ClusterInstance"
INSTANCE = "aws:rds/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
RANDOM_ID = "random:index/randomId:RandomId"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


AURORA_MAJORS = ", ".join(catalogue.rds_major_versions("aurora-postgresql"))


def args(**overrides: Any) -> HaDatabaseArgs:
    return cast(HaDatabaseArgs, {**DATA_TIER, **overrides})


@pytest.fixture(scope="module")
def rds_multi_az() -> Recording:
    return build(
        lambda: HaDatabase(
            "db",
            args(engine=DatabaseEngine.POSTGRES, instance_class="db.m7g.large", parameter_path="/shop/test/"),
        )
    )


def final_snapshot_keepers(**overrides: Any) -> dict[str, Any]:
    """What keeps the final-snapshot suffix of a database built with these arguments."""
    rec = build(lambda: HaDatabase("db", args(**overrides)))
    return dict(rec.named("db-final-snapshot", RANDOM_ID).inputs["keepers"])


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
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 4)
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


def test_rds_mode_is_a_multi_az_primary_whose_standby_aws_places(rds_multi_az):
    rec = rds_multi_az
    (primary,) = rec.of_type(INSTANCE)
    assert primary.name == "db-primary"
    assert primary.inputs["multiAz"] is True
    assert "availabilityZone" not in primary.inputs  # AWS places the primary and its standby
    assert primary.inputs["manageMasterUserPassword"] is True


def test_rds_mode_reads_and_writes_on_the_primary(rds_multi_az):
    rec = rds_multi_az
    parameters = published(rec)
    address = rec.named("db-primary", INSTANCE).outputs["address"]
    assert parameters["/shop/test/database/writer_endpoint"] == address
    assert parameters["/shop/test/database/reader_endpoint"] == address


def test_rds_read_replicas_are_refused_because_aws_refuses_them_with_a_managed_master_password():
    # RDS user guide, "Limitations for Secrets Manager integration with Amazon RDS": creating read replicas of a
    # source whose credentials Secrets Manager manages is not supported (all engines but SQL Server).
    with pytest.raises(ValueError, match=re.escape("HaDatabase.reader_count: engine postgres takes 0: AWS refuses")):
        plan(args(engine=DatabaseEngine.POSTGRES, reader_count=2))
    assert plan(args(engine=DatabaseEngine.POSTGRES)).args["reader_count"] == 0


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


@pytest.fixture(scope="module")
def prod_alone() -> Recording:
    """prod's stack file without its dr pair: one region's Aurora cluster, outside any global database."""
    config = stack_config("prod")
    del config["ha-stack:dr"]
    return run_stack("prod", config)


def test_prod_encrypts_storage_secret_and_insights_with_the_stacks_rotating_key(prod, prod_alone):
    for rec in (prod, prod_alone):
        key = rec.named("database-key", "aws:kms/key:Key")
        assert key.inputs["enableKeyRotation"] is True
        assert key.protect is True
        cluster = rec.named("database-cluster", CLUSTER)
        assert cluster.inputs["storageEncrypted"] is True
        assert cluster.inputs["kmsKeyId"] == key.outputs["arn"]
        for member in rec.of_type(MEMBER):
            assert member.inputs["performanceInsightsEnabled"] is True
            assert member.inputs["performanceInsightsKmsKeyId"] == key.outputs["arn"]
    # Alone, RDS manages the master secret under the stack's key; in a global database it cannot (Aurora user guide,
    # "Password management with Amazon Aurora and AWS Secrets Manager", Limitations), so the primary generates it and
    # keeps it under the same key, replicated to the standby region.
    alone_key = prod_alone.named("database-key", "aws:kms/key:Key").outputs["arn"]
    alone = prod_alone.named("database-cluster", CLUSTER)
    assert (alone.inputs["manageMasterUserPassword"], alone.inputs["masterUserSecretKmsKeyId"]) == (True, alone_key)
    member = prod.named("database-cluster", CLUSTER)
    assert "manageMasterUserPassword" not in member.inputs
    secret = prod.named("database-master-secret", "aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"] == prod.named("database-key", "aws:kms/key:Key").outputs["arn"]
    assert [r["region"] for r in secret.inputs["replicas"]] == ["us-west-2"]


def test_dev_uses_the_aws_managed_key(dev):
    assert [k.name for k in dev.of_type("aws:kms/key:Key") if k.name.startswith("database")] == []
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
        prefix + k
        for k in ("app_secret_arn", "name", "port", "reader_endpoint", "secret_arn", "sslmode", "writer_endpoint")
    ]
    assert parameters[prefix + "name"] == "shop"
    assert parameters[prefix + "port"] == "5432"
    # dev's RDS-managed master secret is named by RDS; prod's global primary generates its own (a global database
    # takes no managed master password).
    owner = "rds!" if stack == "dev" else "database-master-secret-"
    assert parameters[prefix + "secret_arn"].startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{owner}")
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


def test_every_child_is_parented_to_the_component(rds_multi_az):
    parented_children(rds_multi_az)


# Bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"engine": "mysql"}, "HaDatabase.engine: must be one of aurora-postgresql, postgres, got 'mysql'"),
        (
            {"engine_version": "9.6"},
            f"HaDatabase.engine_version: must be a major version AWS offers for aurora-postgresql ({AURORA_MAJORS}), "
            "cfn-lint's AWS catalogue, got '9.6'",
        ),
        ({"engine_version": "16.4"}, "HaDatabase.engine_version: must be the major version only ('16')"),
        ({"reader_count": 3}, "HaDatabase.reader_count: must be < the number of zones (3)"),
        (
            {"instance_class": "r6g.large"},
            "HaDatabase.instance_class: must be an RDS instance class offered for aurora-postgresql (cfn-lint's AWS "
            "catalogue), got 'r6g.large' (nearest: db.r6g.large",
        ),
        ({"instance_class": "db.t4g.micro"}, "HaDatabase.instance_class: Aurora PostgreSQL needs db.t3.medium"),
        ({"backup_retention_days": 0}, "HaDatabase.backup_retention_days: Aurora keeps at least 1 day"),
        ({"reader_count": 2, "reader_autoscaling_max": 2}, "HaDatabase.reader_autoscaling_max: must be more than"),
        ({"app_username": "App"}, "HaDatabase.app_username: must be a lower-case identifier"),
        ({"app_username": "user"}, "HaDatabase.app_username: must not be a PostgreSQL reserved word or role"),
        ({"app_username": "pg_app"}, "HaDatabase.app_username: must not be a PostgreSQL reserved word or role"),
        ({"app_username": "rds_app"}, "HaDatabase.app_username: must not be a PostgreSQL reserved word or role"),
        ({"app_username": "public"}, "HaDatabase.app_username: must not be a PostgreSQL reserved word or role"),
        ({"app_username": "app_admin"}, "HaDatabase.app_username: must differ from master_username"),
        ({"apply_immediately": "yes"}, "HaDatabase.apply_immediately: must be true or false, got 'yes'"),
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


# Issue 17: every bad input is one line naming the argument, the value and what is allowed, before anything exists


def refused(given: object, name: str = "db") -> tuple[list[str], Recording]:
    """Build HaDatabase on its own with these arguments: the lines it refused them with, and what was registered."""
    return refusal(HaDatabase, given, name)


LONG = "x" * 10_000
REFUSED = [
    # wrong types, where the old checks raised from deep inside or took the value as it came
    ({"reader_count": "2"}, "HaDatabase.reader_count: must be a whole number, got '2'"),
    ({"multi_az": "yes"}, "HaDatabase.multi_az: must be true or false, got 'yes'"),
    ({"enable_deletion_protection": "no"}, "HaDatabase.enable_deletion_protection: must be true or false, got 'no'"),
    ({"tags": {1: "x"}}, "HaDatabase.tags: must be an object of strings, got {1: 'x'}"),
    ({"availability_zones": None}, "HaDatabase.availability_zones: must be a list of strings, got None"),
    # an Output where a plain value decides what is declared
    (
        {"availability_zones": pulumi.Output.from_input(["us-east-1a", "us-east-1b"])},
        "HaDatabase.availability_zones: must be a plain value known before deploy, not an Output",
    ),
    # catalogue misses: a family or size that never shipped, a version AWS does not offer
    (
        {"instance_class": "db.r6g.64xlarge"},
        "HaDatabase.instance_class: must be an RDS instance class offered for aurora-postgresql (cfn-lint's AWS "
        "catalogue), got 'db.r6g.64xlarge' (nearest: ",
    ),
    (
        {"engine": "postgres", "instance_class": "db.q9.large"},
        "HaDatabase.instance_class: must be an RDS instance class offered for postgres (cfn-lint's AWS catalogue), "
        "got 'db.q9.large'",
    ),
    ({"engine_version": "99"}, "HaDatabase.engine_version: must be a major version AWS offers for aurora-postgresql"),
    # reserved words and AWS's limits
    ({"database_name": "user"}, "HaDatabase.database_name: must not be a PostgreSQL key word CREATE DATABASE refuses"),
    (
        {"database_name": "authorization"},
        "HaDatabase.database_name: must not be a PostgreSQL key word CREATE DATABASE refuses",
    ),
    (
        {"master_username": "shop_administrator"},
        "HaDatabase.master_username: must be a lower-case identifier of up to 16",
    ),
    ({"master_username": "rdsadmin"}, "HaDatabase.master_username: must not be a PostgreSQL reserved word or role"),
    # a 10,000-character value is shown cut
    ({"database_name": LONG}, "HaDatabase.database_name: must be a lower-case identifier of up to 63 characters"),
    # an unknown argument, and a required one left out
    ({"reader_cont": 2}, "HaDatabase.reader_cont: unknown argument (did you mean 'reader_count'?)"),
    ({"vpc_id": None}, "HaDatabase.vpc_id: must be a string (or an Output of one), got None"),
]


@pytest.mark.parametrize(("overrides", "line"), REFUSED, ids=lambda v: str(v)[:40])
def test_each_class_of_bad_input_is_one_line_and_nothing_is_declared(overrides, line):
    lines, rec = refused(args(**overrides))
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert LONG[:100] not in lines[0]  # a value is never echoed whole
    assert rec.resources == []


def test_a_long_value_is_shown_cut_with_its_length():
    lines, _ = refused(args(database_name=LONG))
    assert lines[0].endswith("... (10002 characters)")


def test_a_missing_required_argument_is_named():
    given = {k: v for k, v in args().items() if k != "vpc_id"}
    lines, rec = refused(given)
    assert lines == ["HaDatabase.vpc_id: is required"]
    assert rec.resources == []


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "d" * 45,
            "HaDatabase.name: the component's name makes the instance identifier 64 characters ('" + "d" * 45,
        ),
        ("Shop_DB", "HaDatabase.name: the component's name must be lower-case letters, digits and single hyphens"),
        ("db-", "HaDatabase.name: the component's name must be lower-case letters, digits and single hyphens"),
    ],
)
def test_a_name_that_makes_an_invalid_rds_identifier_is_refused_before_anything_is_declared(name, line):
    # RDS: identifiers are 1 to 63 letters, digits or hyphens, first a letter, no "--", no hyphen at the end; Pulumi
    # appends "-" and 7 characters to "<name>-cluster" and does not cut it to 63.
    lines, rec = refused(args(), name=name)
    assert lines[0].startswith(line)
    assert rec.resources == []


def test_the_longest_names_aws_takes_are_accepted():
    # Aurora: "<name>-instance-a" + "-xxxxxxx" must fit RDS's 63 (44 characters); RDS PostgreSQL:
    # "<name>-monitoring" + "-xxxxxxx" must fit IAM's 64 for role names (45).
    assert plan(args(), "d" * 44).aurora
    with pytest.raises(
        ValueError, match=re.escape("over AWS's limit of 63: use a name of at most 44 characters, got 45")
    ):
        plan(args(), "d" * 45)
    rds = args(engine="postgres", instance_class="db.m7g.large", reader_count=0)
    assert not plan(rds, "d" * 45).aurora
    with pytest.raises(ValueError, match=re.escape("the monitoring role name 65 characters")):
        plan(rds, "d" * 46)


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(options.ArgsError, match="HaDatabase") as raised:
        plan(args(engine_version="16.4", multi_az="yes", database_name="select", reader_cont=1), "db")
    fields = [line.split(":")[0] for line in str(raised.value).splitlines()]
    assert sorted(fields) == [
        "HaDatabase.database_name",
        "HaDatabase.engine_version",
        "HaDatabase.multi_az",
        "HaDatabase.reader_cont",
    ]


def test_the_stack_can_check_the_stack_file_before_the_wiring_exists():
    problems = options.Problems("ha-stack:database.")
    wiring = frozenset({"vpc_id", "subnet_ids", "availability_zones", "client_security_group_ids"})
    checked = check({"engine": "postgres", "instance_class": "db.t4g.micro", "reader_count": 1}, problems, wiring)
    assert problems.lines == [
        "ha-stack:database.reader_count: engine postgres takes 0: AWS refuses read replicas of a primary whose master "
        "password Secrets Manager manages; use engine aurora-postgresql for readers, got 1"
    ]
    assert "availability_zones" not in checked


# Item 7: major versions only


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_the_major_version_is_declared_so_aws_minor_upgrades_never_fight_the_next_deploy(stack, request):
    # The provider keeps engine_version "16" while the running version starts with "16." (compareActualEngineVersion),
    # so an automatic upgrade to 16.8 shows no diff; a declared "16.4" would be sent back and refused.
    rec = request.getfixturevalue(stack)
    holder = (rec.of_type(CLUSTER) or rec.of_type(INSTANCE))[0]
    assert holder.inputs["engineVersion"] == "16"
    assert all("engineVersion" not in m.inputs for m in rec.of_type(MEMBER))  # members follow the cluster
    assert all(i.inputs["autoMinorVersionUpgrade"] is True for i in rec.of_type(MEMBER) + rec.of_type(INSTANCE))


# Item 5 (infra side): the service's own login


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_service_gets_its_own_generated_login_in_a_secret_published_by_arn(stack, request):
    rec = request.getfixturevalue(stack)
    password = rec.named("database-app-password", "random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32
    secret = rec.named("database-app-secret", SECRET)
    version = rec.named("database-app-secret", SECRET_VERSION)
    assert version.inputs["secretId"] == secret.id
    login = json.loads(version.inputs["secretString"]["secret"])  # kept secret in state and previews
    assert login == {"username": "ha_app", "password": password.outputs["result"]["secret"]}
    assert published(rec)[f"/ha-stack/{stack}/database/app_secret_arn"] == secret.outputs["arn"]
    assert all(login["password"] not in str(p.inputs) for p in rec.of_type("aws:ssm/parameter:Parameter"))
    if stack == "prod":
        assert secret.inputs["kmsKeyId"] == rec.named("database-key", "aws:kms/key:Key").outputs["arn"]
    else:
        assert "kmsKeyId" not in secret.inputs  # the stack has no database key: Secrets Manager's own


def test_app_username_is_configurable_and_is_the_output_secrets_user():
    databases: list[HaDatabase] = []
    rec = build(lambda: databases.append(HaDatabase("db", args(app_username="shop_web"))))
    version = rec.named("db-app-secret", SECRET_VERSION)
    assert json.loads(version.inputs["secretString"]["secret"])["username"] == "shop_web"
    (db,) = databases
    arn = asyncio.get_event_loop().run_until_complete(db.app_secret_arn.future())
    assert arn == rec.named("db-app-secret", SECRET).outputs["arn"]


# Item 16: reader auto scaling that can add readers


def test_reader_auto_scaling_must_be_able_to_add_a_reader():
    with pytest.raises(ValueError, match=re.escape("must be more than reader_count (2) and at most 15")):
        plan(args(reader_count=2, reader_autoscaling_max=2))
    assert plan(args(reader_count=2, reader_autoscaling_max=3)).args["reader_autoscaling_max"] == 3


# Item 19: a final-snapshot name per replacement


REPLACING = [
    {"database_name": "shop"},
    {"master_username": "shop_admin"},
    {"enable_customer_managed_key": False},
    {"engine": DatabaseEngine.POSTGRES, "reader_count": 0, "instance_class": "db.m7g.large"},
]
"""Changes the provider replaces the cluster or primary for (ForceNew: database_name, master_username, kms_key_id,
engine)."""
IN_PLACE = [
    {"instance_class": "db.r7g.large"},
    {"backup_retention_days": 7},
    {"apply_immediately": True},
    {"reader_count": 2},
    {"port": 6432},
]
"""Changes AWS applies to the running database: its final snapshot keeps its name."""


@pytest.mark.parametrize("change", REPLACING, ids=lambda c: next(iter(c)))
def test_every_replacement_gets_a_final_snapshot_name_no_earlier_one_holds(change):
    # The replaced database is deleted with the name in its state; the new one gets a new suffix because the
    # RandomId's keepers changed (and a changed keeper replaces the RandomId). A second replacement then deletes the
    # new one under that new name, so two replacements never collide on DBClusterSnapshotAlreadyExists.
    assert final_snapshot_keepers(**change) != final_snapshot_keepers()


@pytest.mark.parametrize("change", IN_PLACE, ids=lambda c: next(iter(c)))
def test_an_in_place_change_keeps_the_final_snapshot_name(change):
    assert final_snapshot_keepers(**change) == final_snapshot_keepers()


def test_a_single_az_primary_gets_a_new_snapshot_name_when_its_zone_forces_a_replacement():
    rds = {"engine": DatabaseEngine.POSTGRES, "instance_class": "db.m7g.large"}
    assert final_snapshot_keepers(**rds, multi_az=False) != final_snapshot_keepers(**rds)


# Item 20: changes wait for the maintenance window unless asked


@pytest.mark.parametrize(("stack", "immediately"), [("dev", True), ("prod", False)])
def test_prod_changes_wait_for_the_maintenance_window_and_dev_changes_apply_at_once(stack, immediately, request):
    rec = request.getfixturevalue(stack)
    databases = rec.of_type(CLUSTER) + rec.of_type(MEMBER) + rec.of_type(INSTANCE)
    assert databases
    assert {resource.inputs["applyImmediately"] for resource in databases} == {immediately}


def test_apply_immediately_reaches_the_cluster_and_every_instance():
    rec = build(lambda: HaDatabase("db", args(apply_immediately=True, reader_count=2)))
    applied = [r.inputs["applyImmediately"] for r in rec.of_type(CLUSTER) + rec.of_type(MEMBER)]
    assert applied == [True] * 4


# Issue 16: a warm standby as the secondary cluster of an Aurora Global Database

GLOBAL_CLUSTER = "aws:rds/globalCluster:GlobalCluster"
PROVIDER = "pulumi:providers:aws"
WEST_DATA_TIER = {
    "vpc_id": "vpc-west",
    "subnet_ids": ["subnet-wa", "subnet-wb", "subnet-wc"],
    "availability_zones": ["us-west-2a", "us-west-2b", "us-west-2c"],
    "client_security_group_ids": {"web": "sg-web-west"},
}
REPLICATED_SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:primary-master-secret-AbCdEf"
REPLICATED_APP_SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:primary-app-secret-AbCdEf"


@pytest.fixture(scope="module")
def warm_pair() -> Recording:
    """A global cluster, its primary in the stack's region (us-east-1), a secondary built with a us-west-2 provider."""

    def program() -> None:
        west = aws.Provider("us-west-2", region="us-west-2")
        global_cluster = aws.rds.GlobalCluster(
            "global",
            global_cluster_identifier="shop",
            engine="aurora-postgresql",
            engine_version="16",
            storage_encrypted=True,
        )
        primary = HaDatabase(
            "primary",
            args(
                global_cluster_identifier=global_cluster.id,
                secret_replica_regions=["us-west-2"],
                database_name="shop",
                parameter_path="/shop/prod/",
            ),
        )
        secondary: dict[str, Any] = {
            **WEST_DATA_TIER,
            "global_cluster_identifier": global_cluster.id,
            "global_role": "secondary",
            "database_name": "shop",
            "primary_secret_arn": REPLICATED_SECRET,
            "primary_app_secret_arn": REPLICATED_APP_SECRET,
            "parameter_path": "/shop/prod/",
        }
        HaDatabase(
            "standby",
            cast(HaDatabaseArgs, secondary),
            opts=pulumi.ResourceOptions(provider=west, depends_on=[primary]),
        )

    return build(program)


def children_of(rec: Recording, component: str) -> list[RecordedResource]:
    """The cloud resources a component built (its URN's type chain names it)."""
    (parent,) = [c for c in rec.components() if c.name == component]
    return [r for r in rec.resources if r.custom and r.parent == parent.urn]


def parameters_of(rec: Recording, component: str) -> dict[str, str]:
    """Parameter Store in one component's region: name -> value of the parameters it published."""
    return {
        p.inputs["name"]: p.inputs["insecureValue"]
        for p in children_of(rec, component)
        if p.typ == "aws:ssm/parameter:Parameter"
    }


def test_the_primary_and_the_secondary_join_the_same_global_cluster(warm_pair):
    global_id = warm_pair.named("global", GLOBAL_CLUSTER).id
    primary = warm_pair.named("primary-cluster", CLUSTER)
    secondary = warm_pair.named("standby-cluster", CLUSTER)
    assert primary.inputs["globalClusterIdentifier"] == global_id
    assert secondary.inputs["globalClusterIdentifier"] == global_id
    assert secondary.inputs["engine"] == primary.inputs["engine"] == "aurora-postgresql"
    # AWS replicates the primary's storage to the secondary: neither declares a replication source.
    assert "replicationSourceIdentifier" not in primary.inputs
    assert "replicationSourceIdentifier" not in secondary.inputs


def test_the_secondary_is_built_in_the_other_region_and_the_primary_in_the_stacks(warm_pair):
    west = warm_pair.named("us-west-2", PROVIDER)
    assert west.inputs["region"] == "us-west-2"
    standby = children_of(warm_pair, "standby")
    assert standby
    assert {r.provider.rsplit("::", 1)[0] for r in standby if r.typ.startswith("aws:")} == {west.urn}
    assert {r.provider for r in children_of(warm_pair, "primary")} == {""}  # the stack's default provider
    assert warm_pair.named("standby-cluster", CLUSTER).dependencies  # ordered after the primary


def test_the_secondary_has_no_master_login_no_database_and_no_secret_of_its_own(warm_pair):
    secondary = warm_pair.named("standby-cluster", CLUSTER)
    for absent in ("masterUsername", "masterPassword", "manageMasterUserPassword", "databaseName"):
        assert absent not in secondary.inputs
    made = {r.typ for r in children_of(warm_pair, "standby")}
    assert SECRET not in made
    assert "random:index/randomPassword:RandomPassword" not in made
    # Its storage is encrypted with its own region's key (a KMS key is regional).
    assert secondary.inputs["kmsKeyId"] == warm_pair.named("standby-key", "aws:kms/key:Key").outputs["arn"]


def test_the_global_primary_keeps_its_own_master_secret_because_aws_does_not_manage_it_for_global_members(warm_pair):
    # Aurora user guide, "Password management with Amazon Aurora and AWS Secrets Manager": managing master user
    # passwords with Secrets Manager isn't supported for "DB clusters that are part of an Aurora global database".
    primary = warm_pair.named("primary-cluster", CLUSTER)
    assert "manageMasterUserPassword" not in primary.inputs
    password = warm_pair.named("primary-master-password", "random:index/randomPassword:RandomPassword")
    assert primary.inputs["masterPassword"] == password.outputs["result"]
    version = warm_pair.named("primary-master-secret", SECRET_VERSION)
    login = json.loads(version.inputs["secretString"]["secret"])
    assert login == {"username": "app_admin", "password": password.outputs["result"]["secret"]}
    secret = warm_pair.named("primary-master-secret", SECRET)
    assert secret.inputs["kmsKeyId"] == warm_pair.named("primary-key", "aws:kms/key:Key").outputs["arn"]
    assert parameters_of(warm_pair, "primary")["/shop/prod/database/secret_arn"] == secret.outputs["arn"]


def test_the_primary_replicates_both_logins_to_the_standby_region(warm_pair):
    for name in ("primary-master-secret", "primary-app-secret"):
        assert warm_pair.named(name, SECRET).inputs["replicas"] == [{"region": "us-west-2"}]
        assert "replicas" not in warm_pair.named(name, SECRET_VERSION).inputs


def test_the_standby_publishes_its_own_endpoint_and_the_replicated_secrets(warm_pair):
    standby = warm_pair.named("standby-cluster", CLUSTER)
    parameters = parameters_of(warm_pair, "standby")
    assert parameters["/shop/prod/database/writer_endpoint"] == standby.outputs["endpoint"]
    assert parameters["/shop/prod/database/name"] == "shop"
    assert parameters["/shop/prod/database/secret_arn"] == REPLICATED_SECRET
    assert parameters["/shop/prod/database/app_secret_arn"] == REPLICATED_APP_SECRET


def test_a_switchover_or_failover_is_not_undone_by_the_next_deploy(warm_pair, prod_alone):
    # After a switchover AWS gives the old primary a ReplicationSourceIdentifier (the new primary); declared as absent,
    # the provider would try to promote it and fail ("promoting to standalone is not supported",
    # terraform-provider-aws#42919). A detach-and-promote empties global_cluster_identifier; a global engine upgrade
    # moves engine_version. A cluster outside a global database ignores nothing.
    for name in ("primary-cluster", "standby-cluster"):
        assert set(warm_pair.named(name, CLUSTER).ignore_changes) == {
            "replicationSourceIdentifier",
            "globalClusterIdentifier",
            "engineVersion",
        }
    assert prod_alone.named("database-cluster", CLUSTER).ignore_changes == []


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {
                "engine": "postgres",
                "instance_class": "db.r6g.large",
                "reader_count": 0,
                "global_cluster_identifier": "g",
            },
            "HaDatabase.global_cluster_identifier: an Aurora Global Database needs engine aurora-postgresql; RDS "
            "PostgreSQL gets its cross-region recovery from AWS Backup copies",
        ),
        (
            {"global_cluster_identifier": "g", "instance_class": "db.t4g.medium"},
            "HaDatabase.instance_class: an Aurora Global Database needs a memory-optimized class (db.r*, db.x*), "
            "got 'db.t4g.medium'",
        ),
        (
            {"global_cluster_identifier": "g", "global_role": "secondary", "master_username": "shop_admin"},
            "HaDatabase.master_username: leave it out with global_role secondary: the secondary takes it from the "
            "primary",
        ),
        (
            {"global_cluster_identifier": "g", "primary_secret_arn": "arn:aws:secretsmanager:x"},
            "HaDatabase.primary_secret_arn: leave it out with global_role primary: it is for a secondary",
        ),
        (
            {"global_role": "secondary"},
            "HaDatabase.global_role: applies only to a member of a global database: set global_cluster_identifier",
        ),
        (
            {"global_cluster_identifier": "g", "global_role": "standby"},
            "HaDatabase.global_role: must be one of primary, secondary, got 'standby'",
        ),
        (
            {"global_cluster_identifier": "g", "secret_replica_regions": ["us-west-9"]},
            "HaDatabase.secret_replica_regions: must be an AWS region (cfn-lint's AWS catalogue), got 'us-west-9'",
        ),
    ],
)
def test_a_global_member_that_aws_would_refuse_is_one_line(overrides, line):
    lines, rec = refused(args(**overrides))
    assert lines[0].startswith(line), lines
    assert rec.resources == []


def test_rds_postgres_recovers_in_another_region_from_replicated_automated_backups():
    # A cross-region read replica is refused with a managed master password (as in-region replicas are); RDS user
    # guide, "Replicating automated backups to another AWS Region": snapshots and transaction logs are copied as
    # soon as they are ready, so the database can be restored there to a point in time.
    rds = {"engine": "postgres", "instance_class": "db.m7g.large", "backup_retention_days": 7}
    rec = build(lambda: HaDatabase("db", args(**rds, backup_replication_region="us-west-2")))
    replication = rec.named(
        "db-backups-us-west-2", "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
    )
    key = rec.named("db-backups-us-west-2-key", "aws:kms/key:Key")
    assert replication.inputs["region"] == key.inputs["region"] == "us-west-2"
    assert replication.inputs["sourceDbInstanceArn"] == rec.named("db-primary", INSTANCE).outputs["arn"]
    assert replication.inputs["retentionPeriod"] == 7
    assert replication.inputs["kmsKeyId"] == key.outputs["arn"]  # a key of the destination region
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is True
    plain = build(lambda: HaDatabase("db", args(**rds)))
    assert plain.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication") == []


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"backup_replication_region": "us-west-2"},
            "HaDatabase.backup_replication_region: is for engine postgres: Aurora recovers in another region as a "
            "global database",
        ),
        (
            {
                "engine": "postgres",
                "reader_count": 0,
                "backup_retention_days": 0,
                "backup_replication_region": "us-west-2",
            },
            "HaDatabase.backup_replication_region: needs automated backups: backup_retention_days is 0",
        ),
        (
            {"engine": "postgres", "reader_count": 0, "backup_replication_region": "us-wets-2"},
            "HaDatabase.backup_replication_region: must be an AWS region (cfn-lint's AWS catalogue), got 'us-wets-2' "
            "(nearest: us-west-2",
        ),
    ],
)
def test_backup_replication_aws_would_refuse_is_one_line(overrides, line):
    lines, rec = refused(args(**overrides))
    assert lines[0].startswith(line), lines
    assert rec.resources == []


def test_the_stack_file_can_make_a_secondary_before_the_global_cluster_exists():
    # The stack wires global_cluster_identifier (a GlobalCluster it declares): its stack file only says the role.
    problems = options.Problems("ha-stack:database.")
    wiring = frozenset(
        {"vpc_id", "subnet_ids", "availability_zones", "client_security_group_ids", "global_cluster_identifier"}
    )
    check({"global_role": "secondary", "master_username": "shop_admin"}, problems, wiring)
    assert problems.lines == [
        "ha-stack:database.master_username: leave it out with global_role secondary: the secondary takes it from "
        "the primary"
    ]
