"""Stack settings: the only reader of pulumi.Config.

`parse_settings` turns the raw `ha-stack:*` objects into frozen, typed settings, or raises
`SettingsError` listing every problem at once. `load_settings` does that for the running stack and
turns the problems into a `pulumi.RunError`, so `pulumi up` prints those lines and no traceback.
"""

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from ha_stack.cache import DEFAULT_VERSIONS as CACHE_DEFAULT_VERSIONS
from ha_stack.cache import ENGINE_VERSIONS as CACHE_VERSIONS
from ha_stack.cache import engine_release
from ha_stack.checks import LOG_RETENTION_DAYS
from ha_stack.database import AURORA_TOO_SMALL
from ha_stack.database import INSTANCE_CLASS as DB_INSTANCE_CLASS
from ha_stack.resilience import AUTOSHIFT_DATE, AUTOSHIFT_WINDOW, DRILL_MINUTES_RANGE
from ha_stack.web import AMI_ID, INSTANCE_TYPE
from stack.fields import Problems, Section
from stack.static_stability import AzLossSizing

PROJECT = "ha-stack"
TIERS = ("network", "web", "database", "cache", "edge", "monitoring", "resilience")
ENVIRONMENTS = ("dev", "staging", "prod")

NAT_MODES = ("none", "single", "one_per_az")
DATABASE_ENGINES = ("aurora-postgresql", "postgres")
POSTGRES_MAJOR_VERSIONS = ("13", "14", "15", "16", "17")
CACHE_ENGINES = ("redis", "valkey")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")

CACHE_NODE_TYPE = r"cache\.[a-z]+\d+[a-z-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)"
HOSTNAME = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,63}"
REGION = r"[a-z]{2}(-[a-z]+)+-\d"
ZONE = r"[a-z]{2}(-[a-z]+)+-\d[a-z]"


class SettingsError(ValueError):
    """Every problem found in a stack's config, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class NetworkSettings:
    """ha-stack:network."""

    cidr: str
    az_count: int
    availability_zones: list[str]
    """Zones pinned by name (empty: the first az_count zones offering the instance type and DB class)."""
    nat_gateways: str
    enable_flow_logs: bool
    flow_log_retention_days: int


@dataclass(frozen=True)
class WebSettings:
    """ha-stack:web."""

    instance_type: str
    ami_id: str | None
    app_port: int
    min_size: int
    max_size: int
    desired_capacity: int
    cpu_target_percent: int
    requests_per_target: int | None
    peak_requests_per_second: float | None
    """Stack-level: the peak the web tier must carry with one AZ lost (static stability; required in prod)."""
    health_check_path: str
    health_check_grace_seconds: int
    deregistration_delay_seconds: int
    instance_warmup_seconds: int
    root_volume_gib: int
    deletion_protection: bool


@dataclass(frozen=True)
class DatabaseSettings:
    """ha-stack:database."""

    engine: str
    engine_version: str
    instance_class: str
    reader_count: int
    reader_autoscaling_max: int | None
    multi_az: bool
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    database_name: str
    port: int
    backup_retention_days: int
    deletion_protection: bool
    customer_managed_key: bool
    apply_immediately: bool


@dataclass(frozen=True)
class CacheSettings:
    """ha-stack:cache."""

    engine: str
    engine_version: str
    node_type: str
    node_count: int
    automatic_failover: bool
    port: int
    snapshot_retention_days: int
    product_ttl_seconds: int
    apply_immediately: bool


@dataclass(frozen=True)
class EdgeSettings:
    """ha-stack:edge."""

    enabled: bool
    domain: str | None
    hosted_zone: str | None
    price_class: str
    static_ttl_seconds: int
    enable_waf: bool
    rate_limit_per_5min: int
    log_glacier_days: int
    log_expire_days: int


@dataclass(frozen=True)
class MonitoringSettings:
    """ha-stack:monitoring."""

    alarm_emails: list[str]
    cpu_alarm_percent: int
    alb_5xx_rate_percent: float
    p99_latency_seconds: float
    enable_cloudtrail: bool
    log_glacier_days: int
    log_expire_days: int


@dataclass(frozen=True)
class ResilienceSettings:
    """ha-stack:resilience (HaResilience's plain arguments)."""

    enable_zonal_autoshift: bool
    autoshift_blocked_windows: list[str]
    autoshift_blocked_dates: list[str]
    enable_network_drills: bool
    drill_minutes: int


@dataclass(frozen=True)
class Settings:
    """Everything one stack is built from."""

    project: str
    stack: str
    environment: str
    region: str
    network: NetworkSettings
    web: WebSettings
    database: DatabaseSettings
    cache: CacheSettings
    edge: EdgeSettings
    monitoring: MonitoringSettings
    resilience: ResilienceSettings

    @property
    def is_prod(self) -> bool:
        """Production gets the strict rules: HA everywhere, protection on."""
        return self.environment == "prod"

    def base_tags(self) -> dict[str, str]:
        """Tags every resource of this stack carries."""
        return {"project": self.project, "stack": self.stack, "environment": self.environment}


def _key(tier: str) -> str:
    return f"{PROJECT}:{tier}"


def _network(raw: object, problems: Problems) -> NetworkSettings:
    s = Section(_key("network"), raw, problems)
    cidr = s.text("cidr", "10.0.0.0/16")
    try:
        net = ipaddress.IPv4Network(cidr)
        if not 16 <= net.prefixlen <= 22 or not net.is_private:
            s.problem("cidr", f"must be a private IPv4 CIDR from /16 to /22, got {cidr!r}")
    except ValueError:
        s.problem("cidr", f"must be an IPv4 network such as 10.0.0.0/16, got {cidr!r}")
    result = NetworkSettings(
        cidr=cidr,
        az_count=s.integer("az_count", 3, 2, 6),
        availability_zones=s.strings(
            "availability_zones", [], lambda z: re.fullmatch(ZONE, z) is not None, "a zone name such as us-east-1a"
        ),
        nat_gateways=s.choice("nat_gateways", "one_per_az", NAT_MODES),
        enable_flow_logs=s.boolean("enable_flow_logs", True),
        flow_log_retention_days=_retention(s, "flow_log_retention_days", 90),
    )
    pinned = result.availability_zones
    if pinned and s.ok("az_count", "availability_zones"):
        if len(set(pinned)) != len(pinned):
            s.problem("availability_zones", f"must not repeat a zone, got {pinned}")
        elif len(pinned) != result.az_count:
            s.problem("availability_zones", f"must list az_count ({result.az_count}) zones, got {len(pinned)}")
    s.finish()
    return result


def _retention(s: Section, field: str, default: int) -> int:
    value = s.integer(field, default, 1, 3653, " days")
    if s.ok(field) and value not in LOG_RETENTION_DAYS:
        s.problem(
            field, f"must be a CloudWatch Logs retention ({', '.join(map(str, LOG_RETENTION_DAYS))}), got {value}"
        )
    return value


def _web(raw: object, problems: Problems) -> WebSettings:
    s = Section(_key("web"), raw, problems)
    min_size = s.integer("min_size", 2, 1, 100)
    result = WebSettings(
        instance_type=s.text(
            "instance_type", "t3.small", INSTANCE_TYPE, "a t, m, c or r family instance type such as t3.small"
        ),
        ami_id=s.optional_text("ami_id", AMI_ID, "an image id such as ami-0123456789abcdef0"),
        app_port=s.integer("app_port", 8000, 1024, 65535, " (unprivileged ports only)"),
        min_size=min_size,
        max_size=s.integer("max_size", 4, 1, 100),
        desired_capacity=s.integer("desired_capacity", min_size, 1, 100),
        cpu_target_percent=s.integer("cpu_target_percent", 60, 10, 90, " percent"),
        requests_per_target=s.optional_integer("requests_per_target", 1, 100_000),
        peak_requests_per_second=_optional_number(s, "peak_requests_per_second", 0.1, 1_000_000.0),
        health_check_path=s.text("health_check_path", "/health", r"/[A-Za-z0-9/_.-]*", "a path starting with /"),
        health_check_grace_seconds=s.integer("health_check_grace_seconds", 180, 0, 7200, " seconds"),
        deregistration_delay_seconds=s.integer("deregistration_delay_seconds", 30, 0, 3600, " seconds"),
        instance_warmup_seconds=s.integer("instance_warmup_seconds", 120, 0, 3600, " seconds"),
        root_volume_gib=s.integer("root_volume_gib", 20, 8, 1024, " GiB"),
        deletion_protection=s.boolean("deletion_protection", True),
    )
    if result.app_port in (2049, 3306, 5432, 6379, 11211) and s.ok("app_port"):
        s.problem("app_port", f"{result.app_port} is reserved for a data-tier service; pick another port")
    if s.ok("min_size", "max_size") and result.min_size > result.max_size:
        s.problem("min_size", f"must be <= max_size ({result.max_size}), got {result.min_size}")
    elif s.ok("min_size", "max_size", "desired_capacity") and not (
        result.min_size <= result.desired_capacity <= result.max_size
    ):
        s.problem(
            "desired_capacity",
            f"must be between min_size ({result.min_size}) and max_size ({result.max_size}), "
            f"got {result.desired_capacity}",
        )
    s.finish()
    return result


def _optional_number(s: Section, field: str, low: float, high: float) -> float | None:
    """A number from low to high, or None when the key is absent."""
    if field not in s.raw:
        s.known.append(field)  # still a known key, for the "did you mean" of a misspelt one
        return None
    return s.number(field, 0.0, low, high)


def _static_stability(st: Settings, problems: Problems) -> None:
    """Prod's web tier carries its peak with any one AZ lost, on instances already running (no launch needed).

    Checked whenever a peak is given; prod must give one, with the request-count scaling target that says what one
    instance carries (stack/static_stability.py has the arithmetic and AWS's wording).
    """
    web, zones = st.web, st.network.az_count
    keys = [f"{PROJECT}:web.{k}" for k in ("peak_requests_per_second", "requests_per_target", "min_size")]
    if not problems.ok(*keys, f"{PROJECT}:network.az_count"):
        return
    if st.is_prod and web.peak_requests_per_second is None:
        problems.add(keys[0], "prod needs the peak load (requests per second) the web tier must carry with one AZ lost")
        return
    if web.peak_requests_per_second is None:
        return
    if web.requests_per_target is None:
        problems.add(keys[1], "needed with peak_requests_per_second: it is what one instance carries at the target")
        return
    sizing = AzLossSizing(zones, web.min_size, web.peak_requests_per_second, web.requests_per_target)
    if not sizing.stable:
        problems.add(
            keys[2],
            f"not statically stable: losing one of {zones} AZs leaves {sizing.survivors} of {web.min_size} instances, "
            f"but peak_requests_per_second {web.peak_requests_per_second:g} at requests_per_target "
            f"{web.requests_per_target} per instance per minute needs {sizing.needed}; min_size must be >= "
            f"{sizing.required_min_size}",
        )


def _version(s: Section, field: str, default: str, majors: tuple[str, ...]) -> str:
    value = s.text(field, default, r"\d+(\.\d+)?", "a version such as 16.4")
    if s.ok(field) and value.split(".")[0] not in majors:
        s.problem(field, f"major version must be one of {', '.join(majors)}, got {value!r}")
    return value


def _database(raw: object, problems: Problems) -> DatabaseSettings:
    s = Section(_key("database"), raw, problems)
    engine = s.choice("engine", "aurora-postgresql", DATABASE_ENGINES)
    storage = s.integer("allocated_storage_gib", 100, 20, 65536, " GiB")
    result = DatabaseSettings(
        engine=engine,
        engine_version=_version(s, "engine_version", "16", POSTGRES_MAJOR_VERSIONS),
        instance_class=s.text(
            "instance_class", "db.r6g.large", DB_INSTANCE_CLASS, "an RDS instance class such as db.r6g.large"
        ),
        reader_count=s.integer("reader_count", 2 if engine == "aurora-postgresql" else 0, 0, 15),
        reader_autoscaling_max=s.optional_integer("reader_autoscaling_max", 1, 15),
        multi_az=s.boolean("multi_az", True),
        allocated_storage_gib=storage,
        max_allocated_storage_gib=s.integer("max_allocated_storage_gib", storage * 4, 20, 65536, " GiB"),
        database_name=s.text(
            "database_name", "app", r"[a-z][a-z0-9_]{0,62}", "a lower-case identifier of up to 63 characters"
        ),
        port=s.integer("port", 5432, 1150, 65535),
        backup_retention_days=s.integer("backup_retention_days", 14, 0, 35, " days"),
        deletion_protection=s.boolean("deletion_protection", True),
        customer_managed_key=s.boolean("customer_managed_key", True),
        apply_immediately=s.boolean("apply_immediately", False),
    )
    if (
        s.ok("max_allocated_storage_gib", "allocated_storage_gib")
        and result.max_allocated_storage_gib < result.allocated_storage_gib
    ):
        s.problem(
            "max_allocated_storage_gib",
            f"must be >= allocated_storage_gib ({result.allocated_storage_gib}), got "
            f"{result.max_allocated_storage_gib}",
        )
    _database_engine_rules(s, result)
    if result.reader_autoscaling_max is not None and s.ok("reader_autoscaling_max", "reader_count", "engine"):
        if engine != "aurora-postgresql":
            s.problem("reader_autoscaling_max", "reader auto scaling needs engine aurora-postgresql")
        elif result.reader_autoscaling_max <= result.reader_count:
            s.problem(
                "reader_autoscaling_max",
                f"must be > reader_count ({result.reader_count}) so auto scaling can add a reader, "
                f"got {result.reader_autoscaling_max}",
            )
    s.finish()
    return result


def _database_engine_rules(s: Section, db: DatabaseSettings) -> None:
    """What each engine needs: a major version only, a day of backups and a class (Aurora), no replicas (RDS)."""
    if s.ok("engine_version") and "." in db.engine_version:
        s.problem(
            "engine_version",
            f"must be the major version only (e.g. {db.engine_version.split('.')[0]!r}): AWS picks and upgrades "
            f"the minor, and a pinned one fails the next deploy after it does, got {db.engine_version!r}",
        )
    if s.ok("backup_retention_days", "engine") and db.backup_retention_days == 0 and db.engine == "aurora-postgresql":
        s.problem("backup_retention_days", "aurora-postgresql keeps at least 1 day of backups, got 0")
    if s.ok("reader_count", "engine") and db.engine == "postgres" and db.reader_count:
        s.problem(
            "reader_count",
            "engine postgres takes 0: AWS refuses read replicas of a primary whose master password Secrets Manager "
            f"manages; use aurora-postgresql for readers, got {db.reader_count}",
        )
    if (
        s.ok("instance_class", "engine")
        and db.engine == "aurora-postgresql"
        and re.fullmatch(AURORA_TOO_SMALL, db.instance_class)
    ):
        s.problem(
            "instance_class",
            f"aurora-postgresql needs db.t3.medium / db.t4g.medium or larger, got {db.instance_class!r}",
        )


def _cache_version(s: Section, engine: str) -> str:
    """A version HaCache's table has for the engine (what ElastiCache offers): checked here so it is a line, not
    a traceback from the component."""
    value = s.text("engine_version", CACHE_DEFAULT_VERSIONS[engine], r"\d+(\.(\d+|x))?", "a version such as 7 or 7.1")
    if s.ok("engine_version") and engine_release(engine, value) is None:
        allowed = ", ".join(CACHE_VERSIONS[engine])
        s.problem("engine_version", f"must be a {engine} version ElastiCache offers ({allowed}), got {value!r}")
    return value


def _cache(raw: object, problems: Problems) -> CacheSettings:
    s = Section(_key("cache"), raw, problems)
    engine = s.choice("engine", "redis", CACHE_ENGINES)
    result = CacheSettings(
        engine=engine,
        engine_version=_cache_version(s, engine),
        node_type=s.text(
            "node_type", "cache.r7g.large", CACHE_NODE_TYPE, "an ElastiCache node type such as cache.r7g.large"
        ),
        node_count=s.integer("node_count", 3, 1, 6),
        automatic_failover=s.boolean("automatic_failover", True),
        port=s.integer("port", 6379, 1024, 65535),
        snapshot_retention_days=s.integer("snapshot_retention_days", 7, 0, 35, " days"),
        product_ttl_seconds=s.integer("product_ttl_seconds", 3600, 1, 86400, " seconds"),
        apply_immediately=s.boolean("apply_immediately", False),
    )
    if s.ok("automatic_failover", "node_count") and result.automatic_failover and result.node_count < 2:
        s.problem(
            "automatic_failover",
            f"needs node_count >= 2 (a replica to fail over to), got node_count "
            f"{result.node_count}; set automatic_failover: false for one node",
        )
    s.finish()
    return result


def _edge(raw: object, problems: Problems) -> EdgeSettings:
    s = Section(_key("edge"), raw, problems)
    result = EdgeSettings(
        enabled=s.boolean("enabled", True),
        domain=s.optional_text("domain", HOSTNAME, "a lower-case DNS name such as shop.example.com"),
        hosted_zone=s.optional_text("hosted_zone", HOSTNAME, "a Route 53 hosted zone name such as example.com"),
        price_class=s.choice("price_class", "PriceClass_100", PRICE_CLASSES),
        static_ttl_seconds=s.integer("static_ttl_seconds", 604800, 0, 31_536_000, " seconds"),
        enable_waf=s.boolean("enable_waf", True),
        rate_limit_per_5min=s.integer("rate_limit_per_5min", 2000, 10, 2_000_000_000, " requests per 5 minutes"),
        log_glacier_days=s.integer("log_glacier_days", 30, 1, 3650, " days"),
        log_expire_days=s.integer("log_expire_days", 365, 1, 3650, " days"),
    )
    _domain_in_zone(s, result.domain, result.hosted_zone)
    _archive_before_expiry(s, result.log_glacier_days, result.log_expire_days)
    s.finish()
    return result


def _domain_in_zone(s: Section, domain: str | None, zone: str | None) -> None:
    if not s.ok("domain", "hosted_zone"):
        return
    if (domain is None) != (zone is None):
        missing = "hosted_zone" if zone is None else "domain"
        s.problem(missing, "domain and hosted_zone go together: set both or neither")
    elif domain and zone and not (domain == zone or domain.endswith("." + zone)):
        s.problem("domain", f"must be inside hosted_zone {zone!r}, got {domain!r}")


def _archive_before_expiry(s: Section, glacier: int, expire: int) -> None:
    if s.ok("log_glacier_days", "log_expire_days") and expire <= glacier:
        s.problem("log_expire_days", f"must be after log_glacier_days ({glacier}), got {expire}")


def _monitoring(raw: object, problems: Problems, prod: bool) -> MonitoringSettings:
    """CloudTrail is opt-in outside prod: a multi-region trail per stack pays again for the same account's calls."""
    s = Section(_key("monitoring"), raw, problems)
    result = MonitoringSettings(
        alarm_emails=s.strings("alarm_emails", [], lambda v: re.fullmatch(EMAIL, v) is not None, "an e-mail address"),
        cpu_alarm_percent=s.integer("cpu_alarm_percent", 80, 1, 100, " percent"),
        alb_5xx_rate_percent=s.number("alb_5xx_rate_percent", 5.0, 0.1, 100.0),
        p99_latency_seconds=s.number("p99_latency_seconds", 1.0, 0.01, 60.0),
        enable_cloudtrail=s.boolean("enable_cloudtrail", prod),
        log_glacier_days=s.integer("log_glacier_days", 90, 1, 3650, " days"),
        log_expire_days=s.integer("log_expire_days", 365, 1, 3650, " days"),
    )
    _archive_before_expiry(s, result.log_glacier_days, result.log_expire_days)
    s.finish()
    return result


def _resilience(raw: object, problems: Problems, prod: bool) -> ResilienceSettings:
    """Zonal autoshift is on in prod by default (its weekly practice runs shift a third of dev's two AZs too)."""
    s = Section(_key("resilience"), raw, problems)
    result = ResilienceSettings(
        enable_zonal_autoshift=s.boolean("enable_zonal_autoshift", prod),
        autoshift_blocked_windows=s.strings(
            "autoshift_blocked_windows",
            [],
            lambda v: re.fullmatch(AUTOSHIFT_WINDOW, v) is not None,
            "a weekly UTC window such as Fri:16:00-Mon:08:00",
        ),
        autoshift_blocked_dates=s.strings(
            "autoshift_blocked_dates", [], lambda v: re.fullmatch(AUTOSHIFT_DATE, v) is not None, "a date YYYY-MM-DD"
        ),
        enable_network_drills=s.boolean("enable_network_drills", True),
        drill_minutes=s.integer("drill_minutes", 10, *DRILL_MINUTES_RANGE, " minutes"),
    )
    s.finish()
    return result


def _cross_tier(st: Settings, problems: Problems) -> None:
    """Rules that need two tiers, or the environment: HA in prod, readers and nodes that fit the AZs.

    A rule is skipped when one of its keys was already reported, so no line is about a stand-in default.
    """
    azs, db, cache, web = st.network.az_count, st.database, st.cache, st.web
    rules: list[tuple[bool, tuple[str, ...], str]] = [
        (
            db.reader_count >= azs,
            ("database.reader_count", "network.az_count"),
            f"must be < network.az_count ({azs}) so the writer and each reader get their own AZ, got {db.reader_count}",
        ),
        (
            cache.node_count > azs,
            ("cache.node_count", "network.az_count"),
            f"must be <= network.az_count ({azs}) so each node gets its own AZ, got {cache.node_count}",
        ),
    ]
    if st.is_prod:
        rules += [
            (
                st.network.nat_gateways != "one_per_az",
                ("network.nat_gateways",),
                f"prod needs one_per_az (a NAT in every AZ), got {st.network.nat_gateways!r}",
            ),
            (
                web.min_size < azs,
                ("web.min_size", "network.az_count"),
                f"prod needs an instance in every AZ: >= az_count ({azs}), got {web.min_size}",
            ),
            (
                db.engine == "postgres" and not db.multi_az,
                ("database.multi_az", "database.engine"),
                "prod needs true for engine postgres",
            ),
            (
                db.engine == "aurora-postgresql" and db.reader_count < 1,
                ("database.reader_count", "database.engine"),
                "prod needs >= 1 reader so Aurora spans 2 AZs and can fail over, got 0",
            ),
            (
                db.backup_retention_days < 7,
                ("database.backup_retention_days",),
                f"prod needs >= 7 days, got {db.backup_retention_days}",
            ),
            (
                cache.node_count < 2,
                ("cache.node_count",),
                f"prod needs >= 2 nodes in distinct AZs, got {cache.node_count}",
            ),
            (not cache.automatic_failover, ("cache.automatic_failover",), "prod needs true"),
            (not db.deletion_protection, ("database.deletion_protection",), "prod needs true"),
            (not web.deletion_protection, ("web.deletion_protection",), "prod needs true"),
            (not st.monitoring.alarm_emails, ("monitoring.alarm_emails",), "prod needs at least one address"),
        ]
    for broken, keys, message in rules:
        full_keys = [f"{PROJECT}:{key}" for key in keys]
        if broken and problems.ok(*full_keys):
            problems.add(full_keys[0], message)


def parse_settings(config: Mapping[str, Any], *, stack: str) -> Settings:
    """Parse `project:key` config values (objects as dicts or JSON strings); raise SettingsError with all problems."""
    problems = Problems()
    raw = {key.split(":", 1)[1]: _decode(value) for key, value in config.items() if key.startswith(f"{PROJECT}:")}
    for key in raw:
        if key not in (*TIERS, "environment"):
            problems.add(f"{PROJECT}:{key}", f"unknown key; known keys: environment, {', '.join(TIERS)}")
    environment = raw.get("environment")
    if environment not in ENVIRONMENTS:
        problems.add(f"{PROJECT}:environment", f"must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    region = _decode(config.get("aws:region"))
    if not isinstance(region, str) or not re.fullmatch(REGION, region):
        problems.add("aws:region", f"must be an AWS region such as us-east-1, got {region!r}")
    settings = Settings(
        project=PROJECT,
        stack=stack,
        environment=str(environment),
        region=str(region),
        network=_network(raw.get("network"), problems),
        web=_web(raw.get("web"), problems),
        database=_database(raw.get("database"), problems),
        cache=_cache(raw.get("cache"), problems),
        edge=_edge(raw.get("edge"), problems),
        monitoring=_monitoring(raw.get("monitoring"), problems, environment == "prod"),
        resilience=_resilience(raw.get("resilience"), problems, environment == "prod"),
    )
    _cross_tier(settings, problems)
    _static_stability(settings, problems)
    if problems.lines:
        raise SettingsError(problems.lines)
    return settings


def _decode(value: object) -> object:
    """Pulumi hands object config over as JSON text; YAML files give it as data."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_settings() -> Settings:
    """Settings of the running stack; a bad config becomes a RunError that lists every problem."""
    # The whole config map, not only the keys we know: a misspelt `ha-stack:netwrok` must be reported.
    everything = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    config = {k: v for k, v in everything.items() if k.startswith(f"{PROJECT}:")}
    config["aws:region"] = pulumi.Config("aws").get("region")
    try:
        return parse_settings(config, stack=pulumi.get_stack())
    except SettingsError as err:
        raise pulumi.RunError(
            f"invalid stack config ({len(err.problems)} problems):\n  " + "\n  ".join(err.problems)
        ) from None
