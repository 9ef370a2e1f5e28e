"""HaDatabase: PostgreSQL that survives an AZ loss: Aurora with readers in other AZs, or RDS Multi-AZ with replicas."""

import re
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ha_stack import checks
from ha_stack.iam import assume_role_policy, caller_account
from ha_stack.naming import az_letter, component_tags, type_token
from ha_stack.parameters import publish_parameters
from ha_stack.secrets import stored_secret
from ha_stack.security import client_only_security_group

POSTGRES_MAJOR_VERSIONS = ("13", "14", "15", "16", "17")
DEFAULT_MAJOR_VERSION = "16"
"""Major versions only: AWS picks the minor at creation and auto minor upgrades move it in the maintenance window.
The AWS provider keeps `engine_version` "16" as long as the running version starts with "16." (its
compareActualEngineVersion), so an upgrade AWS made is never undone by the next deploy."""
INSTANCE_CLASS = r"db\.[a-z]+\d+[a-z-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)"
AURORA_TOO_SMALL = r"db\.t\d+g?\.(micro|small)"
"""Aurora PostgreSQL starts at db.t3.medium / db.t4g.medium."""
SLOW_STATEMENT_MS = 500
"""Statements slower than this are logged (log_min_duration_statement)."""
READER_CPU_TARGET_PERCENT = 70
BACKUP_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"
"""UTC; after the backup window, never overlapping it."""
ENHANCED_MONITORING_SECONDS = 60
PERFORMANCE_INSIGHTS_DAYS = 7
"""The free tier of Performance Insights retention."""
APP_PASSWORD_LENGTH = 40
"""Letters and digits only, so the password needs no escaping in a connection string."""
POSTGRES_RESERVED_WORDS = frozenset(
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint "  # noqa: SIM905
    "create current_catalog current_date current_role current_time current_timestamp current_user "
    "default deferrable desc distinct do else end except false fetch for foreign from grant group having "
    "in initially intersect into lateral leading limit localtime localtimestamp not null offset on only "
    "or order placing primary references returning select session_user some symmetric table then to "
    "trailing true union unique user using variadic when where window with".split()
)
"""PostgreSQL's reserved key words (`SELECT word FROM pg_get_keywords() WHERE catcode = 'R'` on PostgreSQL 15)."""
RESERVED_ROLE_NAMES = frozenset({"public", "none", "rdsadmin"})
"""Names CREATE ROLE refuses ("role name ... is reserved"), and the RDS administrator role every instance has."""
RESERVED_ROLE_PREFIXES = ("pg_", "rds_")
"""pg_ roles are reserved by PostgreSQL; rds_ roles (rds_superuser, ...) are RDS's own."""


class DatabaseEngine(str, Enum):
    """Which PostgreSQL service runs the database."""

    AURORA_POSTGRESQL = "aurora-postgresql"
    """Aurora: shared storage over 3 AZs, a writer and readers, failover in about 30 s, a reader endpoint."""
    POSTGRES = "postgres"
    """RDS PostgreSQL: a Multi-AZ primary with a synchronous standby, plus asynchronous read replicas."""


class HaDatabaseArgs(TypedDict):
    """Inputs for HaDatabase."""

    vpc_id: pulumi.Input[str]
    """VPC of the subnets."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated data subnets, one per AZ (at least 2)."""
    availability_zones: list[str]
    """The subnets' zones, in order: the writer goes in the first, each reader in the next."""
    client_security_group_ids: dict[str, pulumi.Input[str]]
    """Security groups allowed on the database port, keyed by a stable role name ("web") used in child names."""
    engine: NotRequired[DatabaseEngine]
    """Aurora PostgreSQL or RDS PostgreSQL. Default aurora-postgresql."""
    engine_version: NotRequired[str]
    """PostgreSQL major version, 13 to 17, e.g. "16". No minor: AWS picks it and upgrades it in the maintenance
    window; a pinned minor fails the next deploy after such an upgrade ("Cannot upgrade ... from 16.8 to 16.4").
    A major upgrade is a deliberate step (README). Default 16."""
    instance_class: NotRequired[str]
    """Instance class of the writer and readers, e.g. db.r6g.large. Default db.r6g.large."""
    reader_count: NotRequired[int]
    """Aurora only: readers, each in its own AZ after the writer's. RDS PostgreSQL takes 0: AWS refuses read replicas
    of a primary whose master password Secrets Manager manages. Default 1 (Aurora), 0 (RDS)."""
    reader_autoscaling_max: NotRequired[int]
    """Aurora only: let Application Auto Scaling add readers on CPU up to this many, more than reader_count.
    Default off."""
    multi_az: NotRequired[bool]
    """RDS only: a synchronous standby in another AZ with automatic failover. Default true."""
    allocated_storage_gib: NotRequired[int]
    """RDS only: initial gp3 storage, 20 to 65536 GiB. Default 100."""
    max_allocated_storage_gib: NotRequired[int]
    """RDS only: storage autoscaling ceiling, >= allocated_storage_gib. Default 4x allocated."""
    database_name: NotRequired[str]
    """Database created at launch. Default app."""
    master_username: NotRequired[str]
    """Master user; RDS generates its password and keeps it in Secrets Manager. Default app_admin."""
    app_username: NotRequired[str]
    """The service's own login role: a lower-case PostgreSQL identifier, not a reserved word, not pg_* / rds_*, not
    the master user. Its generated password is kept in a Secrets Manager secret (JSON username and password) that
    the service creates the role with. Default ha_app."""
    port: NotRequired[int]
    """Port the database listens on. Default 5432."""
    backup_retention_days: NotRequired[int]
    """Days of automated backups and point-in-time recovery, 0 to 35 (Aurora and replicas need >= 1). Default 14."""
    apply_immediately: NotRequired[bool]
    """Apply modifications now instead of in the weekly maintenance window (a restart may follow at once).
    Default false."""
    enable_deletion_protection: NotRequired[bool]
    """Deletion protection, a final snapshot, and Pulumi protect on the database and its key. Default true."""
    enable_customer_managed_key: NotRequired[bool]
    """Encrypt storage, the master secret and Performance Insights with a new rotating KMS key (else AWS's
    managed key). Default true."""
    parameter_path: NotRequired[str]
    """Publish endpoints, port, name and secret ARN under this Parameter Store path (e.g. /ha-stack/prod/).
    Default: not published."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child. Default none."""


@dataclass(frozen=True)
class DatabasePlan:
    """HaDatabaseArgs with defaults applied and every plain value checked."""

    zones: list[str]
    clients: list[str]
    engine: DatabaseEngine
    engine_version: str
    instance_class: str
    reader_count: int
    reader_autoscaling_max: int | None
    multi_az: bool
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    database_name: str
    master_username: str
    app_username: str
    port: int
    backup_retention_days: int
    apply_immediately: bool
    enable_deletion_protection: bool
    enable_customer_managed_key: bool
    parameter_path: str | None
    tags: dict[str, str]

    @property
    def aurora(self) -> bool:
        """True for Aurora PostgreSQL."""
        return self.engine is DatabaseEngine.AURORA_POSTGRESQL

    @property
    def family(self) -> str:
        """Parameter group family, e.g. aurora-postgresql16."""
        return f"{self.engine.value}{self.engine_version}"

    def reader_zones(self) -> list[str]:
        """The zones of the readers: the ones after the writer's, one each."""
        return self.zones[1 : 1 + self.reader_count]


COMPONENT = "HaDatabase"
_fail = partial(checks.fail, COMPONENT)
_int = partial(checks.integer, COMPONENT)


def _version(value: object) -> str:
    """A major version only: a pinned minor breaks the first deploy after AWS's automatic minor upgrade."""
    allowed = ", ".join(POSTGRES_MAJOR_VERSIONS)
    major = value.split(".")[0] if isinstance(value, str) else value
    if major not in POSTGRES_MAJOR_VERSIONS:
        raise _fail("engine_version", f"major version must be one of {allowed}, got {value!r}")
    if value != major:
        raise _fail(
            "engine_version",
            f"must be the major version only ({major!r}): AWS picks and upgrades the minor, got {value!r}",
        )
    return str(major)


def _instance_class(value: object, engine: DatabaseEngine) -> str:
    if not isinstance(value, str) or not re.fullmatch(INSTANCE_CLASS, value):
        raise _fail("instance_class", f"must be an RDS instance class such as db.r6g.large, got {value!r}")
    if engine is DatabaseEngine.AURORA_POSTGRESQL and re.fullmatch(AURORA_TOO_SMALL, value):
        raise _fail("instance_class", f"Aurora PostgreSQL needs db.t3.medium / db.t4g.medium or larger, got {value!r}")
    return value


def _readers(args: HaDatabaseArgs, zones: list[str], engine: DatabaseEngine) -> tuple[int, int | None]:
    """Aurora readers in their own zones; RDS takes none (replicas of a managed-password primary are refused)."""
    aurora = engine is DatabaseEngine.AURORA_POSTGRESQL
    readers = _int(args, "reader_count", 1 if aurora else 0, 0, 15)
    if readers and not aurora:
        raise _fail(
            "reader_count",
            "engine postgres takes 0: AWS refuses read replicas of a primary whose master password Secrets Manager "
            f"manages; use engine aurora-postgresql for readers, got {readers}",
        )
    if readers >= len(zones):
        raise _fail(
            "reader_count",
            f"must be < the number of zones ({len(zones)}) so each reader gets its own AZ, got {readers}",
        )
    ceiling = args.get("reader_autoscaling_max")
    if ceiling is not None:
        if engine is not DatabaseEngine.AURORA_POSTGRESQL:
            raise _fail("reader_autoscaling_max", "reader auto scaling needs engine aurora-postgresql")
        if not isinstance(ceiling, int) or isinstance(ceiling, bool) or not readers < ceiling <= 15:
            raise _fail(
                "reader_autoscaling_max",
                f"must be more than reader_count ({readers}) and at most 15, or auto scaling could add no reader, "
                f"got {ceiling!r}",
            )
    return readers, ceiling


def _backups(args: HaDatabaseArgs, engine: DatabaseEngine) -> int:
    """Days of backups; Aurora always keeps at least one."""
    days = _int(args, "backup_retention_days", 14, 0, 35)
    if days == 0 and engine is DatabaseEngine.AURORA_POSTGRESQL:
        raise _fail("backup_retention_days", "Aurora keeps at least 1 day of backups, got 0")
    return days


def _flag(args: HaDatabaseArgs, field: str, *, default: bool) -> bool:
    value = args.get(field, default)
    if not isinstance(value, bool):
        raise _fail(field, f"must be true or false, got {value!r}")
    return value


def _text(args: HaDatabaseArgs, field: str, default: str) -> str:
    value = args.get(field, default)
    if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", value):
        raise _fail(field, f"must be a lower-case identifier of up to 63 characters, got {value!r}")
    return value


def _app_username(args: HaDatabaseArgs, master: str) -> str:
    """A role name CREATE ROLE accepts unquoted, that is neither RDS's nor the master user's."""
    name = _text(args, "app_username", "ha_app")
    if name in POSTGRES_RESERVED_WORDS or name in RESERVED_ROLE_NAMES or name.startswith(RESERVED_ROLE_PREFIXES):
        raise _fail(
            "app_username",
            f"must not be a PostgreSQL reserved word or role (public, none, pg_*, rdsadmin, rds_*), got {name!r}",
        )
    if name == master:
        raise _fail(
            "app_username", f"must differ from master_username: the service must not log in as it, got {name!r}"
        )
    return name


def plan(args: HaDatabaseArgs) -> DatabasePlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    zones = checks.data_tier_zones(
        COMPONENT, list(args["availability_zones"]), list(args["subnet_ids"]), args["client_security_group_ids"]
    )
    engine = checks.choice(COMPONENT, "engine", args.get("engine", DatabaseEngine.AURORA_POSTGRESQL), DatabaseEngine)
    readers, ceiling = _readers(args, zones, engine)
    storage = _int(args, "allocated_storage_gib", 100, 20, 65536)
    max_storage = _int(args, "max_allocated_storage_gib", storage * 4, 20, 65536)
    if max_storage < storage:
        raise _fail("max_allocated_storage_gib", f"must be >= allocated_storage_gib ({storage}), got {max_storage}")
    path = args.get("parameter_path")
    master = _text(args, "master_username", "app_admin")
    return DatabasePlan(
        zones=zones,
        clients=list(args["client_security_group_ids"]),
        engine=engine,
        engine_version=_version(args.get("engine_version", DEFAULT_MAJOR_VERSION)),
        instance_class=_instance_class(args.get("instance_class", "db.r6g.large"), engine),
        reader_count=readers,
        reader_autoscaling_max=ceiling,
        multi_az=args.get("multi_az", True),
        allocated_storage_gib=storage,
        max_allocated_storage_gib=max_storage,
        database_name=_text(args, "database_name", "app"),
        master_username=master,
        app_username=_app_username(args, master),
        port=_int(args, "port", 5432, 1150, 65535),
        backup_retention_days=_backups(args, engine),
        apply_immediately=_flag(args, "apply_immediately", default=False),
        enable_deletion_protection=args.get("enable_deletion_protection", True),
        enable_customer_managed_key=args.get("enable_customer_managed_key", True),
        parameter_path=None if path is None else checks.parameter_path(COMPONENT, "parameter_path", path),
        tags=dict(args.get("tags") or {}),
    )


@dataclass(frozen=True)
class _Shared:
    """What the writer and every reader share."""

    subnet_group: aws.rds.SubnetGroup
    security_group: aws.ec2.SecurityGroup
    key_arn: pulumi.Output[str] | None
    monitoring_role_arn: pulumi.Output[str]
    final_snapshot: pulumi.Output[str]


@dataclass(frozen=True)
class _Endpoints:
    """What the service and monitoring need from whichever engine was built."""

    writer: pulumi.Output[str]
    reader: pulumi.Output[str]
    readers: pulumi.Output[list[str]]
    secret_arn: pulumi.Output[str]
    cluster_identifier: pulumi.Output[str]
    instance_identifiers: pulumi.Output[list[str]]


def replacement_keepers(
    p: DatabasePlan, subnet_group_name: pulumi.Input[str], key_arn: pulumi.Input[str] | None
) -> dict[str, pulumi.Input[str]]:
    """The inputs whose change makes AWS (the provider's ForceNew) replace the cluster or primary.

    The final-snapshot suffix is kept by them: a replacement gets a new suffix, so the replaced database's final
    snapshot never takes a name an earlier one already holds (DBClusterSnapshotAlreadyExists). Inputs that are
    updated in place are left out, so they never rename a snapshot for nothing.
    """
    keepers: dict[str, pulumi.Input[str]] = {
        "engine": p.engine.value,
        "database_name": p.database_name,
        "master_username": p.master_username,
        "kms_key_id": key_arn if key_arn is not None else "aws-managed",
    }
    if p.aurora:
        keepers["db_subnet_group_name"] = subnet_group_name
    elif not p.multi_az:
        keepers["availability_zone"] = p.zones[0]
    return keepers


class HaDatabase(pulumi.ComponentResource):
    """Encrypted PostgreSQL across AZs with a managed master password, TLS forced and backups kept."""

    writer_endpoint: pulumi.Output[str]
    """Hostname that always reaches the writer (Aurora cluster endpoint, or the RDS primary)."""
    reader_endpoint: pulumi.Output[str]
    """Hostname for reads (Aurora reader endpoint, else the first replica, else the writer)."""
    reader_endpoints: pulumi.Output[list[str]]
    """Each reader's own hostname, in zone order."""
    port: pulumi.Output[int]
    """The database port."""
    database_name: pulumi.Output[str]
    """The database created at launch."""
    secret_arn: pulumi.Output[str]
    """Secrets Manager secret RDS keeps the master credentials in (JSON with username and password)."""
    security_group_id: pulumi.Output[str]
    """The database's security group."""
    kms_key_arn: pulumi.Output[str]
    """The customer-managed key (empty with AWS's managed key)."""
    cluster_identifier: pulumi.Output[str]
    """Aurora cluster id: the DBClusterIdentifier dimension of its metrics (empty for RDS)."""
    instance_identifiers: pulumi.Output[list[str]]
    """Writer first, then readers: the DBInstanceIdentifier dimension of their metrics."""
    app_secret_arn: pulumi.Output[str]
    """Secrets Manager secret of the service's own role (JSON username and password), encrypted with kms_key_arn."""

    def __init__(self, name: str, args: HaDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("HaDatabase"), name, None, opts)
        p = plan(args)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        self._stateful = pulumi.ResourceOptions(parent=self, protect=p.enable_deletion_protection)
        key = self._key() if p.enable_customer_managed_key else None
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args["subnet_ids"], tags=self._tags(f"{name}-subnets"), opts=self._child
        )
        shared = _Shared(
            subnet_group=subnet_group,
            security_group=client_only_security_group(
                name,
                vpc_id=args["vpc_id"],
                clients=args["client_security_group_ids"],
                port=p.port,
                service="PostgreSQL",
                tags=self._tags(f"{name}-sg"),
                opts=self._child,
            ),
            key_arn=key.arn if key else None,
            monitoring_role_arn=self._monitoring_role(),
            final_snapshot=random.RandomId(
                f"{name}-final-snapshot",
                byte_length=4,
                keepers=replacement_keepers(p, subnet_group.name, key.arn if key else None),
                opts=self._child,
            ).hex.apply(lambda suffix: f"{name}-final-{suffix}"),
        )
        endpoints = self._aurora(shared) if p.aurora else self._rds(shared)
        app_secret = self._app_secret(key.arn if key else None)
        if p.parameter_path:
            self._publish(p.parameter_path, endpoints, app_secret.arn)

        self.writer_endpoint = endpoints.writer
        self.reader_endpoint = endpoints.reader
        self.reader_endpoints = endpoints.readers
        self.port = pulumi.Output.from_input(p.port)
        self.database_name = pulumi.Output.from_input(p.database_name)
        self.secret_arn = endpoints.secret_arn
        self.security_group_id = shared.security_group.id
        self.kms_key_arn = key.arn if key else pulumi.Output.from_input("")
        self.cluster_identifier = endpoints.cluster_identifier
        self.instance_identifiers = endpoints.instance_identifiers
        self.app_secret_arn = app_secret.arn
        self.register_outputs(
            {
                "writer_endpoint": self.writer_endpoint,
                "reader_endpoint": self.reader_endpoint,
                "reader_endpoints": self.reader_endpoints,
                "port": self.port,
                "database_name": self.database_name,
                "secret_arn": self.secret_arn,
                "security_group_id": self.security_group_id,
                "kms_key_arn": self.kms_key_arn,
                "cluster_identifier": self.cluster_identifier,
                "instance_identifiers": self.instance_identifiers,
                "app_secret_arn": self.app_secret_arn,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags("HaDatabase", self._plan.tags, name=name)

    def _key(self) -> aws.kms.Key:
        """A rotating key for storage, the master secret and Performance Insights; protected with the data."""
        return aws.kms.Key(
            f"{self._name}-key",
            description=f"{self._name}: database storage, master secret and Performance Insights",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=self._tags(f"{self._name}-key"),
            opts=self._stateful,
        )

    def _app_secret(self, key_arn: pulumi.Output[str] | None) -> aws.secretsmanager.Secret:
        """The service role's generated password, in a secret shaped like RDS's own (username, password).

        The component only generates and stores it; the service creates the role with it (the master user can,
        the component cannot reach the database). The password stays a Pulumi secret in state.
        """
        name, p = f"{self._name}-app", self._plan
        password = random.RandomPassword(
            f"{name}-password", length=APP_PASSWORD_LENGTH, special=False, opts=self._child
        )
        secret = stored_secret(
            f"{name}-secret",
            f"{self._name}: login of the service's role {p.app_username} (JSON username, password)",
            pulumi.Output.json_dumps({"username": p.app_username, "password": password.result}),
            key_arn,
            self._tags(f"{name}-secret"),
            self._child,
        )
        return secret

    def _monitoring_role(self) -> pulumi.Output[str]:
        """The role RDS enhanced monitoring publishes OS metrics with."""
        name = f"{self._name}-monitoring"
        role = aws.iam.Role(
            name,
            assume_role_policy=assume_role_policy("monitoring.rds.amazonaws.com"),
            tags=self._tags(name),
            opts=self._child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            name,
            role=role.name,
            policy_arn=caller_account(self).managed_policy("service-role/AmazonRDSEnhancedMonitoringRole"),
            opts=self._child,
        )
        return pulumi.Output.all(role.arn, attachment.id).apply(lambda v: str(v[0]))

    def _parameters(self) -> list[aws.rds.ClusterParameterGroupParameterArgsDict]:
        return [
            {"name": "rds.force_ssl", "value": "1"},
            {"name": "log_min_duration_statement", "value": str(SLOW_STATEMENT_MS)},
        ]

    def _monitoring(self, key_arn: pulumi.Output[str] | None, role_arn: pulumi.Output[str]) -> dict[str, Any]:
        """What every instance shares: Performance Insights, enhanced monitoring, minor upgrades, apply timing."""
        return {
            "performance_insights_enabled": True,
            "performance_insights_kms_key_id": key_arn,
            "performance_insights_retention_period": PERFORMANCE_INSIGHTS_DAYS,
            "monitoring_interval": ENHANCED_MONITORING_SECONDS,
            "monitoring_role_arn": role_arn,
            "auto_minor_version_upgrade": True,
            "publicly_accessible": False,
            "apply_immediately": self._plan.apply_immediately,
        }

    def _aurora(self, shared: _Shared) -> _Endpoints:
        """A cluster over the data subnets, a writer in the first zone and a reader in each next one."""
        name, p = self._name, self._plan
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-cluster-params",
            family=p.family,
            description=f"{name}: TLS only, slow statements logged",
            parameters=self._parameters(),
            tags=self._tags(f"{name}-cluster-params"),
            opts=self._child,
        )
        cluster = aws.rds.Cluster(
            f"{name}-cluster",
            engine=p.engine.value,
            engine_version=p.engine_version,
            database_name=p.database_name,
            master_username=p.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=shared.key_arn,
            port=p.port,
            db_subnet_group_name=shared.subnet_group.name,
            vpc_security_group_ids=[shared.security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            kms_key_id=shared.key_arn,
            backup_retention_period=p.backup_retention_days,
            preferred_backup_window=BACKUP_WINDOW,
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=p.enable_deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=shared.final_snapshot,
            enabled_cloudwatch_logs_exports=["postgresql"],
            apply_immediately=p.apply_immediately,
            tags=self._tags(f"{name}-cluster"),
            opts=self._stateful,
        )
        monitoring = self._monitoring(shared.key_arn, shared.monitoring_role_arn)
        instances = []
        for tier, zone in enumerate([p.zones[0], *p.reader_zones()]):
            label = f"{name}-instance-{az_letter(zone)}"
            instances.append(
                aws.rds.ClusterInstance(
                    label,
                    cluster_identifier=cluster.id,
                    # No engine_version: the cluster's is the one AWS upgrades; the instances follow it.
                    engine=aws.rds.EngineType(p.engine.value),
                    instance_class=p.instance_class,
                    availability_zone=zone,
                    promotion_tier=tier,
                    db_subnet_group_name=shared.subnet_group.name,
                    copy_tags_to_snapshot=True,
                    tags=self._tags(label),
                    opts=self._stateful,
                    **monitoring,
                )
            )
        if p.reader_autoscaling_max is not None:
            self._reader_autoscaling(cluster, instances)
        readers = instances[1:]
        return _Endpoints(
            writer=cluster.endpoint,
            reader=cluster.reader_endpoint,
            readers=pulumi.Output.all(*[r.endpoint for r in readers]),
            secret_arn=cluster.master_user_secrets.apply(lambda s: s[0].secret_arn or ""),
            cluster_identifier=cluster.cluster_identifier,
            instance_identifiers=pulumi.Output.all(*[i.identifier for i in instances]),
        )

    def _reader_autoscaling(self, cluster: aws.rds.Cluster, instances: list[aws.rds.ClusterInstance]) -> None:
        """Application Auto Scaling adds readers (beyond the declared ones) when their average CPU runs high."""
        name, p = self._name, self._plan
        target = aws.appautoscaling.Target(
            f"{name}-readers",
            service_namespace="rds",
            scalable_dimension="rds:cluster:ReadReplicaCount",
            resource_id=pulumi.Output.concat("cluster:", cluster.cluster_identifier),
            min_capacity=p.reader_count,
            max_capacity=p.reader_autoscaling_max,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=instances)),
        )
        aws.appautoscaling.Policy(
            f"{name}-readers-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "RDSReaderAverageCPUUtilization"},
                "target_value": READER_CPU_TARGET_PERCENT,
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 300,
            },
            opts=self._child,
        )

    def _rds(self, shared: _Shared) -> _Endpoints:
        """A primary, Multi-AZ (a synchronous standby AWS places in another zone) unless opted out.

        No read replicas: AWS refuses them for a primary whose master password Secrets Manager manages (RDS user
        guide, "Limitations for Secrets Manager integration with Amazon RDS"); plan() refuses reader_count > 0.
        """
        name, p = self._name, self._plan
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=p.family,
            description=f"{name}: TLS only, slow statements logged",
            parameters=self._parameters(),
            tags=self._tags(f"{name}-params"),
            opts=self._child,
        )
        monitoring = self._monitoring(shared.key_arn, shared.monitoring_role_arn)
        primary = aws.rds.Instance(
            f"{name}-primary",
            engine=p.engine.value,
            engine_version=p.engine_version,
            instance_class=p.instance_class,
            multi_az=p.multi_az,
            # AWS refuses an AZ for Multi-AZ: it picks the primary's and the standby's AZs itself.
            availability_zone=None if p.multi_az else p.zones[0],
            allocated_storage=p.allocated_storage_gib,
            max_allocated_storage=p.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=shared.key_arn,
            db_name=p.database_name,
            username=p.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=shared.key_arn,
            port=p.port,
            db_subnet_group_name=shared.subnet_group.name,
            vpc_security_group_ids=[shared.security_group.id],
            parameter_group_name=parameters.name,
            backup_retention_period=p.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=p.enable_deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=shared.final_snapshot,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            tags=self._tags(f"{name}-primary"),
            opts=self._stateful,
            **monitoring,
        )
        return _Endpoints(
            writer=primary.address,
            reader=primary.address,
            readers=pulumi.Output.from_input([]),
            secret_arn=primary.master_user_secrets.apply(lambda s: s[0].secret_arn or ""),
            cluster_identifier=pulumi.Output.from_input(""),
            instance_identifiers=pulumi.Output.all(primary.identifier),
        )

    def _publish(self, path: str, endpoints: _Endpoints, app_secret_arn: pulumi.Output[str]) -> None:
        """The service's database settings under the stack's path (docs/runtime-config.md): no secret values."""
        p = self._plan
        values: dict[str, pulumi.Input[str]] = {
            "writer_endpoint": endpoints.writer,
            "reader_endpoint": endpoints.reader,
            "port": str(p.port),
            "name": p.database_name,
            "secret_arn": endpoints.secret_arn,
            "app_secret_arn": app_secret_arn,
            "sslmode": "require",  # the parameter group refuses plain connections, in dev too
        }
        publish_parameters(
            f"{self._name}-param",
            path=path,
            section="database",
            values=values,
            tags=self._tags(self._name),
            opts=self._child,
        )
