"""HaDatabase: PostgreSQL that survives an AZ loss: Aurora with readers in other AZs, or RDS Multi-AZ with replicas."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ha_stack import catalogue, checks, options
from ha_stack.iam import assume_role_policy, caller_account
from ha_stack.naming import az_letter, component_tags, type_token
from ha_stack.parameters import publish_parameters
from ha_stack.secrets import stored_secret
from ha_stack.security import client_only_security_group

COMPONENT = "HaDatabase"
DEFAULT_MAJOR_VERSION = "16"
"""Major versions only: AWS picks the minor at creation and auto minor upgrades move it in the maintenance window.
The AWS provider keeps `engine_version` "16" as long as the running version starts with "16." (its
compareActualEngineVersion), so an upgrade AWS made is never undone by the next deploy."""
INSTANCE_CLASS = r"db\.[a-z]+\d+[a-z-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)"
"""Kept only for stack/settings.py, which still imports it until the stack layer reads `check` (issue 17); the
component checks classes against the catalogue instead."""
AURORA_TOO_SMALL = r"db\.t\d+g?\.(micro|small)"
"""Aurora PostgreSQL starts at db.t3.medium / db.t4g.medium (Aurora user guide, "Supported DB engines for DB instance
classes": the micro and small burstable classes are Aurora MySQL's only). cfn-lint's per-engine list still carries
db.t3.small for aurora-postgresql, so this rule runs before the catalogue."""
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
"""PostgreSQL's reserved key words: `SELECT word FROM pg_get_keywords() WHERE catcode = 'R'`, run on Debian's
postgresql-15 (15.18) here; the same as the "reserved" column of the PostgreSQL manual's Appendix C, "SQL Key Words".
CREATE ROLE refuses them unquoted."""
POSTGRES_TYPE_FUNCTION_WORDS = frozenset(
    "authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join "  # noqa: SIM905
    "left like natural notnull outer overlaps right similar tablesample verbose".split()
)
"""Key words reserved except as function or type names (`catcode = 'T'` in the same query): CREATE DATABASE refuses
them unquoted too (measured on 15.18: `CREATE DATABASE authorization` is a syntax error, while `CREATE ROLE` takes
it), so a database name must avoid both sets."""
RESERVED_ROLE_NAMES = frozenset({"public", "none", "rdsadmin"})
"""Names CREATE ROLE refuses ("role name ... is reserved"), and the RDS administrator role every instance has."""
RESERVED_ROLE_PREFIXES = ("pg_", "rds_")
"""pg_ roles are reserved by PostgreSQL; rds_ roles (rds_superuser, ...) are RDS's own."""
RDS_IDENTIFIER_CHARACTERS = 63
"""DB instance and Aurora DB cluster identifiers: 1 to 63 letters, digits or hyphens, first a letter, no two
consecutive hyphens, no hyphen at the end (RDS API reference, CreateDBInstance DBInstanceIdentifier and
CreateDBCluster DBClusterIdentifier)."""
RDS_NAME_CHARACTERS = 255
"""Final snapshot identifiers, parameter group and subnet group names: at most 255 (DeleteDBCluster and
DeleteDBInstance FinalDBSnapshotIdentifier, CreateDBParameterGroup DBParameterGroupName)."""
IAM_ROLE_NAME_CHARACTERS = 64
"""IAM role names: at most 64 characters (IAM API reference, CreateRole RoleName)."""
AUTONAME_SUFFIX = "-0000000"
"""What Pulumi appends to a logical name to make a physical one: a hyphen and 7 random characters, without cutting the
name to AWS's limit (pulumi-aws provider/resources.go: rds Instance `identifier` autonaming, Randlen 7, Maxlen 255;
the same for clusters and every `name`)."""


class DatabaseEngine(str, Enum):
    """Which PostgreSQL service runs the database."""

    AURORA_POSTGRESQL = "aurora-postgresql"
    """Aurora: shared storage over 3 AZs, a writer and readers, failover in about 30 s, a reader endpoint."""
    POSTGRES = "postgres"
    """RDS PostgreSQL: a Multi-AZ primary with a synchronous standby, plus asynchronous read replicas."""


class GlobalRole(str, Enum):
    """The cluster's part in an Aurora Global Database (AWS's model: one primary cluster that writes, up to 10
    read-only secondary clusters in other regions that replicate its storage; a switchover or failover swaps them)."""

    PRIMARY = "primary"
    """The cluster that writes: it creates the database and the master login."""
    SECONDARY = "secondary"
    """A read-only cluster in another region that follows the primary: no master login, no database of its own."""


class HaDatabaseArgs(TypedDict):
    """Inputs for HaDatabase (defaults and checks: ARGS)."""

    vpc_id: pulumi.Input[str]
    """VPC of the subnets."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated data subnets, one per AZ (at least 2)."""
    availability_zones: list[str]
    """The subnets' zones, in order: the writer goes in the first, each reader in the next."""
    client_security_group_ids: dict[str, pulumi.Input[str]]
    """Security groups allowed on the database port, keyed by a stable role name ("web") used in child names."""
    engine: NotRequired[DatabaseEngine]
    """Aurora PostgreSQL or RDS PostgreSQL."""
    engine_version: NotRequired[str]
    """PostgreSQL major version, e.g. "16", one AWS offers for the engine (cfn-lint's AWS catalogue). No minor: AWS
    picks it and upgrades it in the maintenance window; a pinned minor fails the next deploy after such an upgrade
    ("Cannot upgrade ... from 16.8 to 16.4"). A major upgrade is a deliberate step (README)."""
    instance_class: NotRequired[str]
    """Instance class of the writer and readers, e.g. db.r6g.large: one RDS offers for the engine in some region
    (cfn-lint's AWS catalogue); Aurora PostgreSQL starts at db.t3.medium / db.t4g.medium."""
    reader_count: NotRequired[int]
    """Aurora only: readers, each in its own AZ after the writer's. RDS PostgreSQL takes 0: AWS refuses read replicas
    of a primary whose master password Secrets Manager manages."""
    reader_autoscaling_max: NotRequired[int]
    """Aurora only: let Application Auto Scaling add readers on CPU up to this many, more than reader_count."""
    multi_az: NotRequired[bool]
    """RDS only: a synchronous standby in another AZ with automatic failover."""
    allocated_storage_gib: NotRequired[int]
    """RDS only: initial gp3 storage in GiB."""
    max_allocated_storage_gib: NotRequired[int]
    """RDS only: storage autoscaling ceiling in GiB, at least allocated_storage_gib."""
    database_name: NotRequired[str]
    """Database created at launch (a global secondary creates none: the primary's name, published for the service): a
    lower-case PostgreSQL identifier (letters, digits, underscores, first a letter,
    at most 63) that is not a PostgreSQL key word CREATE DATABASE refuses. Lower case because PostgreSQL folds
    unquoted names to it, so the published name is the one every client's connection string works with."""
    master_username: NotRequired[str]
    """Master user (RDS generates its password and keeps it in Secrets Manager): a lower-case identifier of at most
    16 characters (RDS's limit), not a reserved word or role."""
    app_username: NotRequired[str]
    """The service's own login role: a lower-case PostgreSQL identifier, not a reserved word, not pg_* / rds_*, not
    the master user. Its generated password is kept in a Secrets Manager secret (JSON username and password) that
    the service creates the role with."""
    port: NotRequired[int]
    """Port the database listens on."""
    backup_retention_days: NotRequired[int]
    """Days of automated backups and point-in-time recovery (Aurora keeps at least 1)."""
    apply_immediately: NotRequired[bool]
    """Apply modifications now instead of in the weekly maintenance window (a restart may follow at once)."""
    enable_deletion_protection: NotRequired[bool]
    """Deletion protection, a final snapshot, and Pulumi protect on the database and its key."""
    enable_customer_managed_key: NotRequired[bool]
    """Encrypt storage, the master secret and Performance Insights with a new rotating KMS key (else AWS's
    managed key)."""
    parameter_path: NotRequired[str]
    """Publish endpoints, port, name and secret ARN under this Parameter Store path (e.g. /ha-stack/prod/); not
    published when absent."""
    backup_replication_region: NotRequired[str]
    """RDS PostgreSQL only: replicate the automated backups (snapshots and transaction logs) to this region, so the
    database can be restored there to a point in time if its region is lost. This engine's cross-region recovery:
    AWS refuses a cross-region read replica of a primary whose master password Secrets Manager manages."""
    global_cluster_identifier: NotRequired[pulumi.Input[str]]
    """Aurora only: join this aws.rds.GlobalCluster (its id) as a regional cluster of an Aurora Global Database, for
    a warm standby in another region. The global cluster is the caller's: create it empty (engine and version, no
    source cluster) so the primary joins it like the secondaries."""
    global_role: NotRequired[GlobalRole]
    """With global_cluster_identifier: primary (the writer's cluster, the default) or secondary (a read-only cluster
    in another region: give the component an aws.Provider for that region in its opts)."""
    secret_replica_regions: NotRequired[list[str]]
    """Global primary only: regions the master and service logins are replicated to (Secrets Manager replicas, each
    encrypted with that region's aws/secretsmanager key), so a standby region can read them after a failover."""
    primary_secret_arn: NotRequired[pulumi.Input[str]]
    """Global secondary only: the primary's master login secret as replicated into this region; published and
    returned as secret_arn."""
    primary_app_secret_arn: NotRequired[pulumi.Input[str]]
    """Global secondary only: the primary's service login secret as replicated into this region; published and
    returned as app_secret_arn."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child."""


def _reader_count(values: Mapping[str, Any]) -> int:
    """1 with aurora-postgresql, 0 with postgres"""
    return 0 if values.get("engine") is DatabaseEngine.POSTGRES else 1


def _max_storage(values: Mapping[str, Any]) -> int:
    """4 x allocated_storage_gib, at most 65536"""
    return min(4 * int(values.get("allocated_storage_gib", 100)), 65536)


def _version_shape(value: str) -> str | None:
    """Digits and dots; which majors exist depends on the engine (check)."""
    if re.fullmatch(r"\d+(\.\d+)*", value):
        return None
    return f"must be a PostgreSQL major version such as {DEFAULT_MAJOR_VERSION!r}, got {options.shown(value)}"


def _identifier(limit: int) -> options.Check:
    """A lower-case PostgreSQL identifier of at most `limit` characters (RDS: letters, digits, underscores, first a
    letter; PostgreSQL folds unquoted names to lower case)."""
    return options.matches(
        rf"[a-z][a-z0-9_]{{0,{limit - 1}}}",
        f"a lower-case identifier of up to {limit} characters (letters, digits, underscores; first a letter)",
    )


def _not_reserved(words: frozenset[str], what: str) -> options.Check:
    def check(value: str) -> str | None:
        return f"must not be {what}, got {options.shown(value)}" if value in words else None

    return check


def _not_a_role_name(value: str) -> str | None:
    """Not a name CREATE ROLE refuses or that RDS keeps for itself."""
    if value in POSTGRES_RESERVED_WORDS or value in RESERVED_ROLE_NAMES or value.startswith(RESERVED_ROLE_PREFIXES):
        return (
            "must not be a PostgreSQL reserved word or role (public, none, pg_*, rdsadmin, rds_*), "
            f"got {options.shown(value)}"
        )
    return None


_DATABASE_NAME = options.all_of(
    _identifier(63),
    _not_reserved(
        POSTGRES_RESERVED_WORDS | POSTGRES_TYPE_FUNCTION_WORDS,
        "a PostgreSQL key word CREATE DATABASE refuses (PostgreSQL manual, Appendix C)",
    ),
)

ARGS = options.Spec(
    COMPONENT,
    HaDatabaseArgs,
    vpc_id=options.Arg(),
    subnet_ids=options.Arg(),
    availability_zones=options.Arg(),
    client_security_group_ids=options.Arg(),
    engine=options.Arg(DatabaseEngine.AURORA_POSTGRESQL),
    engine_version=options.Arg(DEFAULT_MAJOR_VERSION, _version_shape),
    instance_class=options.Arg("db.r6g.large"),
    reader_count=options.Arg(_reader_count, options.between(0, 15)),
    reader_autoscaling_max=options.Arg(check=options.between(1, 15)),
    multi_az=options.Arg(True),
    allocated_storage_gib=options.Arg(100, options.between(20, 65536, " GiB")),
    max_allocated_storage_gib=options.Arg(_max_storage, options.between(20, 65536, " GiB")),
    database_name=options.Arg("app", _DATABASE_NAME),
    master_username=options.Arg("app_admin", options.all_of(_identifier(16), _not_a_role_name)),
    app_username=options.Arg("ha_app", options.all_of(_identifier(63), _not_a_role_name)),
    port=options.Arg(5432, options.between(1150, 65535)),
    backup_retention_days=options.Arg(14, options.between(0, 35, " days")),
    apply_immediately=options.Arg(False),
    enable_deletion_protection=options.Arg(True),
    enable_customer_managed_key=options.Arg(True),
    parameter_path=options.Arg(check=checks.parameter_path_rule),
    backup_replication_region=options.Arg(
        check=options.member_of(catalogue.regions, "an AWS region", catalogue.SOURCE)
    ),
    global_cluster_identifier=options.Arg(),
    global_role=options.Arg(),
    secret_replica_regions=options.Arg(
        check=options.each(options.member_of(catalogue.regions, "an AWS region", catalogue.SOURCE))
    ),
    primary_secret_arn=options.Arg(),
    primary_app_secret_arn=options.Arg(),
    tags=options.Arg({}),
)


def _engine(args: HaDatabaseArgs, problems: options.Problems) -> DatabaseEngine | None:
    """The engine when it was read fine (rules that depend on it are skipped otherwise)."""
    engine = args.get("engine")
    return engine if isinstance(engine, DatabaseEngine) and problems.ok("engine") else None


def _check_version(args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None) -> None:
    """A major version AWS offers for the engine, and nothing after it."""
    version = args.get("engine_version")
    if version is None:
        return
    engines = [engine] if engine else list(DatabaseEngine)
    majors = sorted({m for e in engines for m in catalogue.rds_major_versions(e.value)}, key=int)
    major = version.split(".")[0]
    if major not in majors:
        what = f"a major version AWS offers for {engine.value if engine else 'PostgreSQL'} ({', '.join(majors)})"
        problems.add("engine_version", f"must be {what}, {catalogue.SOURCE}, got {options.shown(version)}")
    elif version != major:
        problems.add(
            "engine_version",
            f"must be the major version only ({major!r}): AWS picks and upgrades the minor, "
            f"got {options.shown(version)}",
        )


def _check_class(args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None) -> None:
    """A class RDS offers for the engine; Aurora's smallest is a medium."""
    value = args.get("instance_class")
    if value is None:
        return
    if engine is DatabaseEngine.AURORA_POSTGRESQL and re.fullmatch(AURORA_TOO_SMALL, value):
        problems.add("instance_class", f"Aurora PostgreSQL needs db.t3.medium / db.t4g.medium or larger, got {value!r}")
        return
    engines = [engine] if engine else list(DatabaseEngine)
    classes = sorted({c for e in engines for c in catalogue.db_instance_classes(e.value)})
    what = f"an RDS instance class offered for {engine.value if engine else 'PostgreSQL'}"
    message = options.member_of(classes, what, catalogue.SOURCE)(value)
    if message:
        problems.add("instance_class", message)


def _check_readers(args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None) -> None:
    """Aurora readers each in their own zone; RDS takes none (replicas of a managed-password primary are refused)."""
    readers, ceiling, zones = (
        args.get("reader_count"),
        args.get("reader_autoscaling_max"),
        args.get("availability_zones"),
    )
    if readers and engine is DatabaseEngine.POSTGRES:
        problems.add(
            "reader_count",
            "engine postgres takes 0: AWS refuses read replicas of a primary whose master password Secrets Manager "
            f"manages; use engine aurora-postgresql for readers, got {readers}",
        )
    elif readers is not None and zones is not None and problems.ok("availability_zones") and readers >= len(zones):
        problems.add(
            "reader_count",
            f"must be < the number of zones ({len(zones)}) so each reader gets its own AZ, got {readers}",
        )
    if ceiling is None:
        return
    if engine is DatabaseEngine.POSTGRES:
        problems.add("reader_autoscaling_max", "reader auto scaling needs engine aurora-postgresql")
    elif readers is not None and ceiling <= readers:
        problems.add(
            "reader_autoscaling_max",
            f"must be more than reader_count ({readers}) and at most 15, or auto scaling could add no reader, "
            f"got {ceiling}",
        )


def _check_storage_and_backups(args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None) -> None:
    storage, ceiling = args.get("allocated_storage_gib"), args.get("max_allocated_storage_gib")
    if storage is not None and ceiling is not None and ceiling < storage:
        problems.add("max_allocated_storage_gib", f"must be >= allocated_storage_gib ({storage}), got {ceiling}")
    if args.get("backup_retention_days") == 0 and engine is DatabaseEngine.AURORA_POSTGRESQL:
        problems.add("backup_retention_days", "Aurora keeps at least 1 day of backups, got 0")


def _check_backup_replication(args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None) -> None:
    """Instance backups replicate for RDS only (an Aurora cluster's cross-region copy is a global database), and only
    when there are automated backups to replicate."""
    if "backup_replication_region" not in args:
        return
    if engine is DatabaseEngine.AURORA_POSTGRESQL:
        problems.add(
            "backup_replication_region",
            "is for engine postgres: Aurora recovers in another region as a global database "
            "(global_cluster_identifier)",
        )
    elif args.get("backup_retention_days") == 0:
        problems.add("backup_replication_region", "needs automated backups: backup_retention_days is 0")


def _check_logins(args: HaDatabaseArgs, problems: options.Problems) -> None:
    app, master = args.get("app_username"), args.get("master_username")
    if app is not None and app == master:
        problems.add(
            "app_username", f"must differ from master_username: the service must not log in as it, got {app!r}"
        )


SECONDARY_TAKES_FROM_PRIMARY = ("master_username", "app_username", "secret_replica_regions")
"""What a secondary cluster has from the global cluster's primary: its roles and logins (database_name stays: it is the
primary's database, published for the service, never sent to AWS)."""
PRIMARY_ONLY_INPUTS = ("primary_secret_arn", "primary_app_secret_arn")
GLOBAL_INSTANCE_FAMILIES = r"db\.(r|x)\d+[a-z]*\..+"
"""Memory-optimized classes: "An Aurora global database requires DB instance classes that are optimized for
memory-intensive applications" (Aurora user guide, "Configuration requirements of an Amazon Aurora global database")."""


def _check_global(
    given: object, args: HaDatabaseArgs, problems: options.Problems, engine: DatabaseEngine | None, *, wired: bool
) -> None:
    """An Aurora Global Database member: Aurora, a memory-optimized class, and a secondary that brings no login.

    `wired`: the stack supplies global_cluster_identifier later, so a global_role in its stack file makes a member.
    """
    written = given if isinstance(given, Mapping) else {}
    member = "global_cluster_identifier" in args or (wired and "global_role" in args)
    if not member:
        for name in ("global_role", *PRIMARY_ONLY_INPUTS, "secret_replica_regions"):
            if name in args and not wired:
                problems.add(name, "applies only to a member of a global database: set global_cluster_identifier")
        return
    if engine is DatabaseEngine.POSTGRES:
        problems.add(
            "global_cluster_identifier",
            "an Aurora Global Database needs engine aurora-postgresql; RDS PostgreSQL gets its cross-region recovery "
            "from AWS Backup copies (a cross-region read replica is refused with a managed master password)",
        )
        return
    value = args.get("instance_class")
    if value is not None and problems.ok("instance_class") and not re.fullmatch(GLOBAL_INSTANCE_FAMILIES, value):
        problems.add(
            "instance_class",
            f"an Aurora Global Database needs a memory-optimized class (db.r*, db.x*), got {options.shown(value)}",
        )
    secondary = args.get("global_role") is GlobalRole.SECONDARY
    for name in SECONDARY_TAKES_FROM_PRIMARY if secondary else PRIMARY_ONLY_INPUTS:
        if name in written:
            role = "the secondary takes it from the primary" if secondary else "it is for a secondary"
            problems.add(name, f"leave it out with global_role {'secondary' if secondary else 'primary'}: {role}")


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaDatabaseArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    engine = _engine(args, problems)
    checks.zones_subnets_clients(args, problems)
    _check_version(args, problems, engine)
    _check_class(args, problems, engine)
    _check_readers(args, problems, engine)
    _check_storage_and_backups(args, problems, engine)
    _check_logins(args, problems)
    _check_backup_replication(args, problems, engine)
    _check_global(given, args, problems, engine, wired="global_cluster_identifier" in skip)
    return args


def derived_names(name: str, args: HaDatabaseArgs) -> dict[str, tuple[str, int]]:
    """The physical names AWS will be given, as Pulumi derives them from the component's name, with AWS's limit."""
    zones = args.get("availability_zones") or ["a"]
    letters = [zone[-1] for zone in zones]
    longest_letter = max(letters, key=len)
    names: dict[str, tuple[str, int]] = {
        "final snapshot identifier": (f"{name}-final-00000000", RDS_NAME_CHARACTERS),
        "monitoring role name": (f"{name}-monitoring{AUTONAME_SUFFIX}", IAM_ROLE_NAME_CHARACTERS),
    }
    if args.get("engine", DatabaseEngine.AURORA_POSTGRESQL) is DatabaseEngine.POSTGRES:
        names["instance identifier"] = (f"{name}-primary{AUTONAME_SUFFIX}", RDS_IDENTIFIER_CHARACTERS)
        names["parameter group name"] = (f"{name}-params{AUTONAME_SUFFIX}", RDS_NAME_CHARACTERS)
    else:
        names["cluster identifier"] = (f"{name}-cluster{AUTONAME_SUFFIX}", RDS_IDENTIFIER_CHARACTERS)
        names["instance identifier"] = (
            f"{name}-instance-{longest_letter}{AUTONAME_SUFFIX}",
            RDS_IDENTIFIER_CHARACTERS,
        )
        names["parameter group name"] = (f"{name}-cluster-params{AUTONAME_SUFFIX}", RDS_NAME_CHARACTERS)
    return names


def check_name(name: object, args: HaDatabaseArgs, problems: options.Problems) -> None:
    """The component's name makes valid RDS identifiers: lower-case letters, digits and single hyphens, first a
    letter (terraform-provider-aws refuses anything else before AWS is called), and short enough for every derived
    name's limit."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z](-?[a-z0-9])*", name):
        problems.add(
            "name",
            "the component's name must be lower-case letters, digits and single hyphens, first a letter and no "
            f"hyphen at the end (it starts every RDS identifier), got {options.shown(name)}",
        )
        return
    over = [
        (limit - (len(derived) - len(name)), what, derived, limit)
        for what, (derived, limit) in derived_names(name, args).items()
        if len(derived) > limit
    ]
    if over:
        allowed, what, derived, limit = min(over)
        problems.add(
            "name",
            f"the component's name makes the {what} {len(derived)} characters ({options.shown(derived)}), over "
            f"AWS's limit of {limit}: use a name of at most {allowed} characters, got {len(name)}",
        )


@dataclass(frozen=True)
class DatabasePlan:
    """The checked arguments (defaults applied) and what is derived from them."""

    args: HaDatabaseArgs
    engine: DatabaseEngine
    """The engine as an enum member, whatever form it was given in."""
    global_role: GlobalRole | None
    """The cluster's part in a global database, None outside one."""

    @property
    def secondary(self) -> bool:
        """True for a read-only secondary cluster of a global database."""
        return self.global_role is GlobalRole.SECONDARY

    @property
    def aurora(self) -> bool:
        """True for Aurora PostgreSQL."""
        return self.engine is DatabaseEngine.AURORA_POSTGRESQL

    @property
    def family(self) -> str:
        """Parameter group family, e.g. aurora-postgresql16."""
        return f"{self.engine.value}{self.args['engine_version']}"

    def reader_zones(self) -> list[str]:
        """The zones of the readers: the ones after the writer's, one each."""
        return self.args["availability_zones"][1 : 1 + self.args["reader_count"]]


def plan(args: HaDatabaseArgs, name: str | None = None) -> DatabasePlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks. With the component's
    name, the names derived from it are checked too."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    if name is not None:
        check_name(name, checked, problems)
    problems.raise_any()
    role = checked.get("global_role", GlobalRole.PRIMARY) if "global_cluster_identifier" in checked else None
    return DatabasePlan(checked, checked["engine"], role)


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
    secret_arn: pulumi.Output[str] | None
    """None for a global secondary given no replicated secret: nothing to publish."""
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
        "database_name": "" if p.secondary else p.args["database_name"],
        "master_username": "" if p.secondary else p.args["master_username"],
        "kms_key_id": key_arn if key_arn is not None else "aws-managed",
    }
    if p.aurora:
        keepers["db_subnet_group_name"] = subnet_group_name
    elif not p.args["multi_az"]:
        keepers["availability_zone"] = p.args["availability_zones"][0]
    return keepers


def _replicated_to(regions: list[str]) -> pulumi.ResourceTransformation:
    """Add Secrets Manager replicas in these regions to the secret stored_secret declares (its version is left as it
    is: AWS replicates the value), keeping stored_secret the one shape of a generated secret. Each replica is
    encrypted with its region's aws/secretsmanager key: a customer key is regional."""

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not isinstance(args.resource, aws.secretsmanager.Secret):
            return None
        replicas = [{"region": region} for region in regions]
        return pulumi.ResourceTransformationResult({**args.props, "replicas": replicas}, args.opts)

    return transformation


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
        p = plan(args, name)  # before registering anything: bad arguments leave no trace in the stack
        super().__init__(type_token(COMPONENT), name, None, opts)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        self._stateful = pulumi.ResourceOptions(parent=self, protect=p.args["enable_deletion_protection"])
        key = self._key() if p.args["enable_customer_managed_key"] else None
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args["subnet_ids"], tags=self._tags(f"{name}-subnets"), opts=self._child
        )
        shared = _Shared(
            subnet_group=subnet_group,
            security_group=client_only_security_group(
                name,
                vpc_id=args["vpc_id"],
                clients=args["client_security_group_ids"],
                port=p.args["port"],
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
        app_secret_arn = self._app_secret_arn(key.arn if key else None)
        path = p.args.get("parameter_path")
        if path:
            self._publish(path, endpoints, app_secret_arn)

        self.writer_endpoint = endpoints.writer
        self.reader_endpoint = endpoints.reader
        self.reader_endpoints = endpoints.readers
        self.port = pulumi.Output.from_input(p.args["port"])
        self.database_name = pulumi.Output.from_input(p.args["database_name"])
        self.secret_arn = endpoints.secret_arn or pulumi.Output.from_input("")
        self.security_group_id = shared.security_group.id
        self.kms_key_arn = key.arn if key else pulumi.Output.from_input("")
        self.cluster_identifier = endpoints.cluster_identifier
        self.instance_identifiers = endpoints.instance_identifiers
        self.app_secret_arn = app_secret_arn or pulumi.Output.from_input("")
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
        return component_tags("HaDatabase", self._plan.args["tags"], name=name)

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

    def _app_secret_arn(self, key_arn: pulumi.Output[str] | None) -> pulumi.Output[str] | None:
        """The service role's generated password, in a secret shaped like RDS's own (username, password).

        The component only generates and stores it; the service creates the role with it (the master user can,
        the component cannot reach the database). The password stays a Pulumi secret in state. A global secondary
        makes none: the role and its password are the primary's, replicated with the data and the secret.
        """
        name, p = f"{self._name}-app", self._plan
        if p.secondary:
            given = p.args.get("primary_app_secret_arn")
            return None if given is None else pulumi.Output.from_input(given)
        password = random.RandomPassword(
            f"{name}-password", length=APP_PASSWORD_LENGTH, special=False, opts=self._child
        )
        login: dict[str, pulumi.Input[str]] = {"username": p.args["app_username"], "password": password.result}
        return self._login_secret(f"{name}-secret", f"service's role {p.args['app_username']}", login, key_arn)

    def _login_secret(
        self, name: str, whose: str, login: dict[str, pulumi.Input[str]], key_arn: pulumi.Output[str] | None
    ) -> pulumi.Output[str]:
        """A login (JSON username and password) in Secrets Manager; a global primary's is replicated to the regions
        that may take over, so their service reads it there after a failover."""
        regions = self._plan.args.get("secret_replica_regions") or []
        opts = self._child
        if regions:
            opts = pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(transformations=[_replicated_to(regions)])
            )
        secret = stored_secret(
            name,
            f"{self._name}: login of the {whose} (JSON username, password)",
            pulumi.Output.json_dumps(login),
            key_arn,
            self._tags(name),
            opts,
        )
        return secret.arn

    def _master_login(self, key_arn: pulumi.Output[str] | None) -> tuple[dict[str, Any], pulumi.Output[str] | None]:
        """The cluster's master login arguments, and the secret that holds the login (when not RDS's own).

        Outside a global database RDS generates, keeps and rotates the password ("managed master user password").
        AWS does not support that for "DB clusters that are part of an Aurora global database" (Aurora user guide,
        "Password management with Amazon Aurora and AWS Secrets Manager", Limitations), so a global primary
        generates its own, hands it to RDS and keeps it in a secret of the same shape; a secondary declares no login
        at all: it has the primary's, replicated with the storage.
        """
        p = self._plan
        if p.secondary:
            given = p.args.get("primary_secret_arn")
            return {}, None if given is None else pulumi.Output.from_input(given)
        names = {"database_name": p.args["database_name"], "master_username": p.args["master_username"]}
        if p.global_role is None:
            return {**names, "manage_master_user_password": True, "master_user_secret_kms_key_id": key_arn}, None
        password = random.RandomPassword(
            f"{self._name}-master-password", length=APP_PASSWORD_LENGTH, special=False, opts=self._child
        )
        login: dict[str, pulumi.Input[str]] = {"username": p.args["master_username"], "password": password.result}
        secret_arn = self._login_secret(f"{self._name}-master-secret", "master user", login, key_arn)
        return {**names, "master_password": password.result}, secret_arn

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
            "apply_immediately": self._plan.args["apply_immediately"],
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
        login, login_secret_arn = self._master_login(shared.key_arn)
        cluster = aws.rds.Cluster(
            f"{name}-cluster",
            engine=p.engine.value,
            engine_version=p.args["engine_version"],
            global_cluster_identifier=p.args.get("global_cluster_identifier"),
            port=p.args["port"],
            db_subnet_group_name=shared.subnet_group.name,
            vpc_security_group_ids=[shared.security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            kms_key_id=shared.key_arn,
            backup_retention_period=p.args["backup_retention_days"],
            preferred_backup_window=BACKUP_WINDOW,
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=p.args["enable_deletion_protection"],
            skip_final_snapshot=False,
            final_snapshot_identifier=shared.final_snapshot,
            enabled_cloudwatch_logs_exports=["postgresql"],
            apply_immediately=p.args["apply_immediately"],
            tags=self._tags(f"{name}-cluster"),
            opts=self._cluster_options(),
            **login,
        )
        monitoring = self._monitoring(shared.key_arn, shared.monitoring_role_arn)
        instances = []
        for tier, zone in enumerate([p.args["availability_zones"][0], *p.reader_zones()]):
            label = f"{name}-instance-{az_letter(zone)}"
            instances.append(
                aws.rds.ClusterInstance(
                    label,
                    cluster_identifier=cluster.id,
                    # No engine_version: the cluster's is the one AWS upgrades; the instances follow it.
                    engine=aws.rds.EngineType(p.engine.value),
                    instance_class=p.args["instance_class"],
                    availability_zone=zone,
                    promotion_tier=tier,
                    db_subnet_group_name=shared.subnet_group.name,
                    copy_tags_to_snapshot=True,
                    tags=self._tags(label),
                    opts=self._stateful,
                    **monitoring,
                )
            )
        if p.args.get("reader_autoscaling_max") is not None:
            self._reader_autoscaling(cluster, instances)
        readers = instances[1:]
        return _Endpoints(
            writer=cluster.endpoint,
            reader=cluster.reader_endpoint,
            readers=pulumi.Output.all(*[r.endpoint for r in readers]),
            secret_arn=login_secret_arn
            if p.global_role is not None
            else cluster.master_user_secrets.apply(lambda s: s[0].secret_arn or ""),
            cluster_identifier=cluster.cluster_identifier,
            instance_identifiers=pulumi.Output.all(*[i.identifier for i in instances]),
        )

    def _cluster_options(self) -> pulumi.ResourceOptions:
        """Protected as stateful; a global database member also leaves alone what a switchover or failover changes.

        After a switchover or a managed failover AWS makes the old primary a secondary: it gets the new primary as
        its ReplicationSourceIdentifier. Declared as absent, the provider would "promote" it back to a standalone
        cluster and fail ("promoting to standalone is not supported", terraform-provider-aws issue 42919); pulumi-aws
        says "If DB Cluster is part of a Global Cluster, use the ignoreChanges resource option" for it. A detach and
        promote (unplanned failover) empties global_cluster_identifier, which the next deploy must not try to undo
        (joining an existing cluster to a global one is not an in-place change). An engine upgrade of the global
        cluster upgrades its members, so their engine_version is left to it (pulumi-aws rds.GlobalCluster,
        "Upgrading Engine Versions").
        """
        if self._plan.global_role is None:
            return self._stateful
        return pulumi.ResourceOptions.merge(
            self._stateful,
            pulumi.ResourceOptions(
                ignore_changes=["replicationSourceIdentifier", "globalClusterIdentifier", "engineVersion"]
            ),
        )

    def _reader_autoscaling(self, cluster: aws.rds.Cluster, instances: list[aws.rds.ClusterInstance]) -> None:
        """Application Auto Scaling adds readers (beyond the declared ones) when their average CPU runs high."""
        name, p = self._name, self._plan
        target = aws.appautoscaling.Target(
            f"{name}-readers",
            service_namespace="rds",
            scalable_dimension="rds:cluster:ReadReplicaCount",
            resource_id=pulumi.Output.concat("cluster:", cluster.cluster_identifier),
            min_capacity=p.args["reader_count"],
            max_capacity=p.args.get("reader_autoscaling_max"),
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
            engine_version=p.args["engine_version"],
            instance_class=p.args["instance_class"],
            multi_az=p.args["multi_az"],
            # AWS refuses an AZ for Multi-AZ: it picks the primary's and the standby's AZs itself.
            availability_zone=None if p.args["multi_az"] else p.args["availability_zones"][0],
            allocated_storage=p.args["allocated_storage_gib"],
            max_allocated_storage=p.args["max_allocated_storage_gib"],
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=shared.key_arn,
            db_name=p.args["database_name"],
            username=p.args["master_username"],
            manage_master_user_password=True,
            master_user_secret_kms_key_id=shared.key_arn,
            port=p.args["port"],
            db_subnet_group_name=shared.subnet_group.name,
            vpc_security_group_ids=[shared.security_group.id],
            parameter_group_name=parameters.name,
            backup_retention_period=p.args["backup_retention_days"],
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=p.args["enable_deletion_protection"],
            skip_final_snapshot=False,
            final_snapshot_identifier=shared.final_snapshot,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            tags=self._tags(f"{name}-primary"),
            opts=self._stateful,
            **monitoring,
        )
        region = p.args.get("backup_replication_region")
        if region:
            self._replicate_backups(primary, region)
        return _Endpoints(
            writer=primary.address,
            reader=primary.address,
            readers=pulumi.Output.from_input([]),
            secret_arn=primary.master_user_secrets.apply(lambda s: s[0].secret_arn or ""),
            cluster_identifier=pulumi.Output.from_input(""),
            instance_identifiers=pulumi.Output.all(primary.identifier),
        )

    def _replicate_backups(self, primary: aws.rds.Instance, region: str) -> None:
        """The primary's automated backups copied to another region as they are taken (RDS user guide,
        "Replicating automated backups to another AWS Region": "RDS initiates a cross-Region copy of all snapshots
        and transaction logs as soon as they are ready"), kept as long as the primary's, encrypted with a key of
        that region (KMS keys are regional; the replication takes "the ARN for the KMS encryption key in the
        destination AWS Region"). Both are declared in that region through pulumi-aws 7's per-resource region."""
        name = f"{self._name}-backups-{region}"
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{self._name}: automated backups replicated to {region}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=region,
            tags=self._tags(f"{name}-key"),
            opts=self._stateful,
        )
        aws.rds.InstanceAutomatedBackupsReplication(
            name,
            source_db_instance_arn=primary.arn,
            retention_period=self._plan.args["backup_retention_days"],
            kms_key_id=key.arn,
            region=region,
            opts=self._child,
        )

    def _publish(self, path: str, endpoints: _Endpoints, app_secret_arn: pulumi.Output[str] | None) -> None:
        """The service's database settings under the stack's path (docs/runtime-config.md): no secret values.

        A global secondary publishes its own cluster endpoint as the writer: read-only until the cluster is promoted
        by a switchover or failover, then the region's writer, with no change to the settings.
        """
        p = self._plan
        values: dict[str, pulumi.Input[str]] = {
            "writer_endpoint": endpoints.writer,
            "reader_endpoint": endpoints.reader,
            "port": str(p.args["port"]),
            "name": p.args["database_name"],
            "sslmode": "require",  # the parameter group refuses plain connections, in dev too
        }
        for key, arn in (("secret_arn", endpoints.secret_arn), ("app_secret_arn", app_secret_arn)):
            if arn is not None:
                values[key] = arn
        publish_parameters(
            f"{self._name}-param",
            path=path,
            section="database",
            values=values,
            tags=self._tags(self._name),
            opts=self._child,
        )
