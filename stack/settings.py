"""Stack settings: the only reader of pulumi.Config.

A stack file has a few stack-level keys (`ha-stack:environment`, `az_count`, `domain`, `hosted_zone`, `enable_edge`,
`peak_requests_per_second`; `aws:region`) and one object per tier, `ha-stack:<tier>`, which IS that component's
arguments by the same names, read by the component's own `check` (stack/tiers.py). This module adds only what is
stack-level: namespaces, the region, names derived from the stack name, rules across tiers, prod's rules and static
stability. `parse_settings` gathers every problem with the key path the user wrote and raises `SettingsError` before
anything is declared; `load_settings` turns that into a `pulumi.RunError`, so `pulumi up` prints the lines only.
"""

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi.runtime import config as pulumi_config

from ha_stack import catalogue, fleet, options
from ha_stack.cache import HaCacheArgs
from ha_stack.database import GLOBAL_INSTANCE_FAMILIES, DatabaseEngine, HaDatabaseArgs
from ha_stack.edge import HaEdgeArgs
from ha_stack.fleet import HaWebFleetArgs
from ha_stack.monitoring import HaMonitoringArgs
from ha_stack.network import HaNetworkArgs
from ha_stack.resilience import HaResilienceArgs
from ha_stack.web import HaWebTierArgs
from stack import tiers
from stack.runtime_config import ServiceArgs
from stack.static_stability import AzLossSizing

PROJECT = "ha-stack"
ENVIRONMENTS = ("dev", "staging", "prod")
HOSTNAME = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
ACM_FIRST_NAME_CHARACTERS = 64
"""ACM API reference, RequestCertificate DomainName: "the length of the domain name (technically, the Common Name) that
you provide cannot exceed 64 octets (characters), including periods"."""
ORIGIN_LABEL = "origin."
"""Behind CloudFront the site's name points at the distribution, so the load balancer gets its own origin name."""
STACK_NAME = r"[A-Za-z0-9]+([_-][A-Za-z0-9]+)*"
"""What `<project>-<stack>` names need: CloudWatch dashboards take only A-Z, a-z, 0-9, - and _ (PutDashboard), and
CloudTrail trail names start and end with a letter or digit with no two of . _ - side by side (CreateTrail)."""
DERIVED_NAMES = {"CloudTrail trail": ("{prefix}-audit", 128), "CloudWatch dashboard": ("{prefix}-overview", 255)}
"""Names AWS needs fixed that the stack builds from `<project>-<stack>` (HaMonitoring.name_prefix), with AWS's
length limit (CreateTrail: 3 to 128 characters; PutDashboard: at most 255)."""


class StackArgs(TypedDict):
    """The stack-level keys, `ha-stack:<key>`: what no one component owns."""

    environment: str
    """dev, staging or prod: prod gets the strict rules (HA everywhere, protection on)."""
    az_count: NotRequired[int]
    """Availability Zones every tier spans (network.availability_zones pins which)."""
    domain: NotRequired[str]
    """The site's DNS name; with hosted_zone, HTTPS with ACM certificates and Route 53 records."""
    hosted_zone: NotRequired[str]
    """Route 53 public hosted zone that holds domain."""
    enable_edge: NotRequired[bool]
    """CloudFront, WAF and the static bucket in front of the load balancer."""
    peak_requests_per_second: NotRequired[float]
    """The peak the web tier must carry with one AZ lost (static stability; required in prod)."""


STACK_ARGS = options.Spec(
    PROJECT,
    StackArgs,
    environment=options.Arg(check=options.one_of(ENVIRONMENTS)),
    az_count=options.Arg(3, options.between(2, 6)),
    domain=options.Arg(check=options.matches(HOSTNAME, "a lower-case DNS name such as shop.example.com")),
    hosted_zone=options.Arg(check=options.matches(HOSTNAME, "a Route 53 hosted zone name such as example.com")),
    enable_edge=options.Arg(True),
    peak_requests_per_second=options.Arg(check=options.between(0.1, 1_000_000.0)),
)


class Approach(str, Enum):
    """What the standby region keeps running (docs/dr.md section 1)."""

    PILOT_LIGHT = "pilot_light"
    """Data replicated, infrastructure deployed, no instances (standby_min_size 0): recovery waits for a boot."""
    WARM_STANDBY = "warm_standby"
    """A scaled-down working copy (at least one instance per standby AZ) that already serves the read failover."""


class DrArgs(TypedDict):
    """`ha-stack:dr`: the stack becomes a primary/standby pair (docs/dr.md). Absent: one region, as before."""

    secondary_region: str
    """The standby region: one of AWS's standard partition, not aws:region."""
    approach: NotRequired[Approach]
    """pilot_light or warm_standby."""
    standby_az_count: NotRequired[int]
    """Availability Zones the standby spans (its own zones, picked in that region); the stack's az_count when absent."""
    standby_min_size: NotRequired[int]
    """The standby fleet's min and desired size (its max is the primary's, so a failover can scale it to the
    primary's capacity): 0 for pilot_light, at least one instance per standby AZ for warm_standby."""


def _standby_min(values: Mapping[str, Any]) -> int:
    """0 for pilot_light; for warm_standby one instance per standby AZ (standby_az_count)."""
    return 0 if values.get("approach") is Approach.PILOT_LIGHT else int(values.get("standby_az_count", 2))


DR_ARGS = options.Spec(
    f"{PROJECT}:dr",
    DrArgs,
    secondary_region=options.Arg(
        check=options.member_of(catalogue.regions, "a region of AWS's standard partition", catalogue.SOURCE)
    ),
    approach=options.Arg(Approach.WARM_STANDBY),
    standby_az_count=options.Arg(check=options.between(2, 6)),
    standby_min_size=options.Arg(_standby_min, options.between(0, 100)),
)
"""The `dr` setting's declaration (the stack fills standby_az_count in from az_count before reading it)."""
STANDBY_LABEL = "origin-standby."
"""The standby load balancer's own name (its certificate's first name)."""
WRITE_LABEL = "origin-write."
"""The Route 53 failover name (PRIMARY: the primary load balancer, SECONDARY: the standby's): the origin of the
behaviors that allow writes, which CloudFront's origin groups cannot serve."""


def name_prefix(stack: str) -> str:
    """`<project>-<stack>`: the prefix of the names AWS needs fixed (trail, dashboard, alarms)."""
    return f"{PROJECT}-{stack}"


def parameter_path(stack: str) -> str:
    """Parameter Store path of the service's settings (docs/runtime-config.md)."""
    return f"/{PROJECT}/{stack}/"


class SettingsError(options.ArgsError):
    """Every problem found in a stack's config, one line each."""


@dataclass(frozen=True)
class Settings:
    """Everything one stack is built from: the stack-level keys and each tier's checked arguments."""

    project: str
    stack: str
    region: str
    name_prefix: str
    """`<project>-<stack>`: the prefix of the names AWS needs fixed (trail, dashboard, alarms)."""
    parameter_path: str
    """Parameter Store path of the service's settings (docs/runtime-config.md): `/<project>/<stack>/`."""
    keys: StackArgs
    network: HaNetworkArgs
    web: HaWebTierArgs
    fleet: HaWebFleetArgs
    database: HaDatabaseArgs
    cache: HaCacheArgs
    service: ServiceArgs
    edge: HaEdgeArgs
    monitoring: HaMonitoringArgs
    resilience: HaResilienceArgs
    dr: DrArgs | None = None
    """The `dr` setting with its defaults filled in (secondary_region, approach, standby_min_size,
    standby_az_count), or None for a one-region stack."""

    @property
    def environment(self) -> str:
        """dev, staging or prod."""
        return self.keys["environment"]

    @property
    def az_count(self) -> int:
        """Availability Zones every tier spans."""
        return self.keys["az_count"]

    @property
    def is_prod(self) -> bool:
        """Production gets the strict rules: HA everywhere, protection on."""
        return self.environment == "prod"

    @property
    def vpc_origin(self) -> bool:
        """Behind the edge without a domain the load balancer has no certificate, so it is internal and CloudFront
        reaches it through a VPC origin: neither requests nor the origin secret cross the internet in clear. With a
        domain it stays internet-facing behind an HTTPS origin (moving a deployed prod ALB to internal replaces it)."""
        return self.keys["enable_edge"] and "domain" not in self.keys

    @property
    def alb_domain(self) -> str | None:
        """The load balancer's own name: the site's behind CloudFront's, else the site's."""
        domain = self.keys.get("domain")
        if domain is None:
            return None
        return ORIGIN_LABEL + domain if self.keys["enable_edge"] else domain

    @property
    def force_destroy_buckets(self) -> bool:
        """Outside prod, `pulumi destroy` empties the components' versioned buckets; prod keeps its data."""
        return not self.is_prod

    def base_tags(self) -> dict[str, str]:
        """Tags every resource of this stack carries."""
        return {"project": self.project, "stack": self.stack, "environment": self.environment}


class _Reading:
    """The stack file as read so far: each tier's checked values, what the user wrote, which fields had a problem.

    Tier "" is the stack-level keys (`ha-stack:<key>`).
    """

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.lines: list[str] = []
        self.values: dict[str, Mapping[str, Any]] = {}
        self.given: dict[str, Mapping[Any, Any]] = {}
        self.problems: dict[str, options.Problems] = {}

    def problems_of(self, tier: str) -> options.Problems:
        """The Problems of one tier (prefix `ha-stack:<tier>.`), sharing this reading's lines."""
        if tier not in self.problems:
            prefix = f"{PROJECT}:{tier}." if tier else f"{PROJECT}:"
            self.problems[tier] = options.Problems(prefix, self.lines)
        return self.problems[tier]

    def value(self, tier: str, field: str) -> Any:
        """The checked value, or None when it is absent or had a problem (no rule runs on a stand-in)."""
        if not self.problems_of(tier).ok(field):
            return None
        return self.values.get(tier, {}).get(field)

    def refuse(self, tier: str, field: str, message: str, got: object) -> None:
        """Record "<key>: <message>, got <value>", saying so when the value is a default the user never wrote."""
        default = "" if field in self.given.get(tier, {}) else f" (the default; set it in Pulumi.{self.stack}.yaml)"
        self.problems_of(tier).add(field, f"{message}, got {_as_written(got)}{default}")


def _as_written(value: object) -> str:
    """A value as the stack file spells it: true/false, enum values, cut when long."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return options.shown(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return options.shown(value)


def parse_settings(config: Mapping[Any, Any], *, stack: str) -> Settings:
    """Parse `namespace:key` config values (objects as data or JSON text); raise SettingsError with all problems."""
    reading = _Reading(stack)
    own = _namespaces(config, reading)
    top = {k: v for k, v in own.items() if k not in {t.name for t in tiers.TIERS} and k != "dr"}
    reading.given[""] = {k: _decode(v, STACK_ARGS.fields[k].annotation) for k, v in top.items()}
    reading.values[""] = STACK_ARGS.read(reading.given[""], reading.problems_of(""))
    region = _region(config.get("aws:region"), reading)
    dr = _dr_args(own.get("dr"), region, reading)
    for tier in tiers.TIERS:
        raw = _decode(own.get(tier.name), dict)
        reading.given[tier.name] = raw if isinstance(raw, Mapping) else {}
        reading.values[tier.name] = tier.read(raw, reading.problems_of(tier.name))
    _stack_name(stack, reading)
    _domain(reading)
    _zones(reading)
    if reading.value("", "environment") == "prod":
        _prod(reading)
    _static_stability(reading)
    if dr is not None:
        _dr_rules(dr, reading)
    if reading.lines:
        raise SettingsError(reading.lines)
    v = reading.values
    return Settings(
        project=PROJECT,
        stack=stack,
        region=region,
        name_prefix=name_prefix(stack),
        parameter_path=parameter_path(stack),
        keys=v[""],  # type: ignore[arg-type]
        network=v["network"],  # type: ignore[arg-type]
        web=v["web"],  # type: ignore[arg-type]
        fleet=v["fleet"],  # type: ignore[arg-type]
        database=v["database"],  # type: ignore[arg-type]
        cache=v["cache"],  # type: ignore[arg-type]
        service=v["service"],  # type: ignore[arg-type]
        edge=v["edge"],  # type: ignore[arg-type]
        monitoring=v["monitoring"],  # type: ignore[arg-type]
        resilience=v["resilience"],  # type: ignore[arg-type]
        dr=dr,
    )


def _namespaces(config: Mapping[Any, Any], reading: _Reading) -> dict[str, object]:
    """The `ha-stack:*` keys by name; a key that is not a string, has no namespace, or whose namespace is a typo of
    the project's is refused (a tier under `ha_stack:web` would otherwise be ignored and replaced by defaults).
    Other namespaces (`aws:`, `pulumi:`, a provider's) are theirs and stay allowed."""
    own: dict[str, object] = {}
    known = [*STACK_ARGS.fields, "dr", *(t.name for t in tiers.TIERS)]
    for key, value in config.items():
        if not isinstance(key, str):
            reading.lines.append(f"config key {options.shown(key)}: keys are strings such as {PROJECT}:environment")
            continue
        namespace, colon, name = key.partition(":")
        if not colon:
            reading.lines.append(f"{_cut(key)}: config keys are namespaced: write {PROJECT}:{_cut(key)}")
        elif namespace == PROJECT:
            if name in known:
                own[name] = value
            else:
                hint = options.did_you_mean(name, known)
                reading.lines.append(f"{PROJECT}:{_cut(name)}: unknown key{hint}; known keys: {', '.join(known)}")
        elif _like_project(namespace):
            reading.lines.append(
                f"{_cut(key)}: unknown namespace {options.shown(namespace)} (did you mean {PROJECT}:{_cut(name)}?); "
                f"this program reads only {PROJECT}:* keys, so this one would be ignored"
            )
    return own


def _cut(text: str) -> str:
    """A key as written, cut when long (no line echoes unbounded input)."""
    return text if len(text) <= options.SHOWN_CHARACTERS else f"{text[: options.SHOWN_CHARACTERS]}..."


def _like_project(namespace: str) -> bool:
    """A namespace that is the project's name mistyped: other punctuation or case (ha_stack, HaStack), or close."""
    squashed = re.sub(r"[^a-z0-9]", "", namespace.lower())
    return squashed == re.sub(r"[^a-z0-9]", "", PROJECT) or bool(difflib.get_close_matches(namespace, [PROJECT]))


def _decode(value: object, annotation: object) -> object:
    """Pulumi hands the program objects as JSON text and scalars as text ("3", "true"); a stack file read here gives
    them as data. Text is decoded only where the declared type is not text."""
    if not isinstance(value, str) or annotation is str:
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return value if isinstance(decoded, str) else decoded


def _region(value: object, reading: _Reading) -> str:
    """aws:region: a region of AWS's standard partition, where the edge makes its certificate and WAF in us-east-1."""
    allowed = catalogue.regions()
    if isinstance(value, str) and value in allowed:
        return value
    close = difflib.get_close_matches(str(value), allowed, n=3, cutoff=0.6) if isinstance(value, str) else []
    hint = f" (nearest: {', '.join(close)})" if close else ""
    why = " (the edge makes its certificate and WAF in us-east-1 of that partition)" if _edge_on(reading) else ""
    reading.lines.append(
        f"aws:region: must be a region of AWS's standard partition ({catalogue.SOURCE}){why}, "
        f"got {options.shown(value)}{hint}"
    )
    return ""


def _edge_on(reading: _Reading) -> bool:
    return reading.value("", "enable_edge") is not False


def _stack_name(stack: str, reading: _Reading) -> None:
    """The stack name goes into names AWS needs fixed: refuse one that makes any of them invalid, with the limit."""
    prefix = name_prefix(stack)
    limit = min(length - len(template.format(prefix=PROJECT + "-")) for template, length in DERIVED_NAMES.values())
    shown = f"{PROJECT}-{_cut(stack)}"
    where = ", ".join(f"{kind} '{template.format(prefix=shown)}'" for kind, (template, _) in DERIVED_NAMES.items())
    if not re.fullmatch(STACK_NAME, stack):
        reading.lines.append(
            f"stack name {options.shown(stack)}: must be letters and digits, joined by single - or _ (no dots): "
            f"it names {where}"
        )
    elif len(stack) > limit:
        reading.lines.append(
            f"stack name {options.shown(stack)}: must be at most {limit} characters ({len(stack)} given): "
            f"{PROJECT}-<stack>-audit names the CloudTrail trail, which AWS limits to 128"
        )
    else:
        _derived(reading, tiers.MONITORING, "name_prefix", prefix, f"stack name {stack!r}")
        for tier in (tiers.WEB, tiers.DATABASE, tiers.CACHE):
            field = "runtime_config_path" if tier is tiers.WEB else "parameter_path"
            _derived(reading, tier, field, parameter_path(stack), f"stack name {stack!r}")


def _derived(reading: _Reading, tier: tiers.Tier[Any], field: str, value: object, source: str) -> None:
    """A wired value the stack derives from a key the user wrote, checked by the component's own rule for it."""
    declared = tier.spec.fields.get(field)
    message = declared.arg.check(value) if declared is not None and declared.arg.check is not None else None
    if message:
        reading.lines.append(f"{source}: makes {tier.spec.component}.{field} {options.shown(value)} invalid: {message}")


def _domain(reading: _Reading) -> None:
    """domain and hosted_zone together, the domain inside the zone, and names ACM can put in a certificate."""
    domain, zone = reading.value("", "domain"), reading.value("", "hosted_zone")
    if not reading.problems_of("").ok("domain", "hosted_zone"):
        return
    if (domain is None) != (zone is None):
        missing = "hosted_zone" if zone is None else "domain"
        reading.problems_of("").add(missing, "domain and hosted_zone go together: set both or neither")
        return
    if domain is None:
        return
    if not (domain == zone or domain.endswith("." + zone)):
        reading.problems_of("").add("domain", f"must be inside hosted_zone {zone!r}, got {options.shown(domain)}")
        return
    origin = ORIGIN_LABEL + domain if _edge_on(reading) else domain
    if len(origin) > ACM_FIRST_NAME_CHARACTERS:
        room = ACM_FIRST_NAME_CHARACTERS - (len(ORIGIN_LABEL) if _edge_on(reading) else 0)
        reading.problems_of("").add(
            "domain",
            f"must be at most {room} characters: ACM's first certificate name is at most "
            f"{ACM_FIRST_NAME_CHARACTERS} and the load balancer's is {origin[:20]!r}..., got {len(domain)} characters",
        )
        return
    _derived(reading, tiers.WEB, "domain_name", origin, f"{PROJECT}:domain")
    if _edge_on(reading):
        _derived(reading, tiers.EDGE, "domain_name", domain, f"{PROJECT}:domain")


def _zones(reading: _Reading) -> None:
    """Each tier fits the AZs: pinned zones match az_count, a database reader and a cache node per AZ."""
    azs = reading.value("", "az_count")
    if azs is None:
        return
    pinned = reading.value("network", "availability_zones")
    if pinned is not None and len(pinned) != azs:
        reading.problems_of("network").add(
            "availability_zones", f"must list az_count ({azs}) zones, got {len(pinned)}: {options.shown(pinned)}"
        )
    readers = reading.value("database", "reader_count")
    if readers is not None and readers >= azs:
        reading.refuse(
            "database",
            "reader_count",
            f"must be < az_count ({azs}) so the writer and each reader get their own AZ",
            readers,
        )
    nodes = reading.value("cache", "node_count")
    if nodes is not None and nodes > azs:
        reading.refuse("cache", "node_count", f"must be <= az_count ({azs}) so each node gets its own AZ", nodes)


def _prod(reading: _Reading) -> None:
    """Production: HA in every tier, protection on, someone told of alarms (each rule on a value read fine)."""
    value, refuse = reading.value, reading.refuse
    azs = value("", "az_count")
    nat = value("network", "nat_gateways")
    if nat is not None and _plain(nat) != "one_per_az":
        refuse("network", "nat_gateways", "prod needs one_per_az (a NAT in every AZ)", nat)
    low = value("fleet", "min_size")
    if low is not None and azs is not None and low < azs:
        refuse("fleet", "min_size", f"prod needs an instance in every AZ: >= az_count ({azs})", low)
    engine = _plain(value("database", "engine"))
    if engine == "postgres" and value("database", "multi_az") is False:
        refuse("database", "multi_az", "prod needs true for engine postgres", False)
    readers = value("database", "reader_count")
    if engine == "aurora-postgresql" and readers == 0:
        refuse("database", "reader_count", "prod needs >= 1 reader so Aurora spans 2 AZs and can fail over", 0)
    backups = value("database", "backup_retention_days")
    if backups is not None and backups < 7:
        refuse("database", "backup_retention_days", "prod needs >= 7 days", backups)
    nodes = value("cache", "node_count")
    if nodes is not None and nodes < 2:
        refuse("cache", "node_count", "prod needs >= 2 nodes in distinct AZs", nodes)
    for tier, field in (
        ("cache", "automatic_failover"),
        ("database", "enable_deletion_protection"),
        ("web", "enable_deletion_protection"),
    ):
        if value(tier, field) is False:
            refuse(tier, field, "prod needs true", False)
    if value("monitoring", "alarm_emails") == []:
        refuse("monitoring", "alarm_emails", "prod needs at least one address", [])
    if reading.problems_of("").ok("peak_requests_per_second") and value("", "peak_requests_per_second") is None:
        reading.problems_of("").add(
            "peak_requests_per_second",
            f"prod needs the peak load (requests per second) the web tier must carry with one AZ lost; set it in "
            f"Pulumi.{reading.stack}.yaml",
        )


def _dr_args(given: object, region: str, reading: _Reading) -> DrArgs | None:
    """`ha-stack:dr` read through DR_ARGS, its defaults from az_count filled in; None when absent."""
    given = _decode(given, dict)
    if given is None:
        return None
    problems = reading.problems_of("dr")
    if not isinstance(given, Mapping):
        reading.lines.append(
            f"{PROJECT}:dr: must be an object (secondary_region, approach, standby_min_size, standby_az_count), "
            f"got {options.shown(given)}"
        )
        return None
    reading.given["dr"] = given
    azs = reading.value("", "az_count")
    dr = DR_ARGS.read({"standby_az_count": azs, **given} if azs is not None else given, problems)
    reading.values["dr"] = dr
    secondary = dr.get("secondary_region")
    if secondary is not None and secondary == region:
        problems.add("secondary_region", f"must differ from aws:region ({region}): the standby survives its loss")
    return dr


def _dr_rules(dr: DrArgs, reading: _Reading) -> None:
    """What a primary/standby pair needs from the other keys: a domain for the regions' origin names, the edge for
    the read failover, a standby fleet sized for its approach, and a global database's memory-optimized class."""
    problems = reading.problems_of("dr")
    if reading.problems_of("").ok("domain") and reading.value("", "domain") is None:
        reading.lines.append(
            f"{PROJECT}:dr: needs {PROJECT}:domain and {PROJECT}:hosted_zone: each region's load balancer gets its "
            f"own name (origin.<domain>, {STANDBY_LABEL}<domain>) and writes follow {WRITE_LABEL}<domain>"
        )
    if reading.value("", "enable_edge") is False:
        reading.lines.append(
            f"{PROJECT}:dr: needs {PROJECT}:enable_edge true: reads fail over in CloudFront's origin group "
            "(primary load balancer, then the standby's)"
        )
    approach, low, azs = dr.get("approach"), dr.get("standby_min_size"), dr.get("standby_az_count")
    if problems.ok("approach", "standby_min_size") and low is not None:
        if approach is Approach.PILOT_LIGHT and low != 0:
            problems.add("standby_min_size", f"pilot_light runs no instances in the standby: must be 0, got {low}")
        elif approach is Approach.WARM_STANDBY and azs is not None and low < azs:
            problems.add(
                "standby_min_size",
                f"warm_standby runs at least one instance per standby AZ: must be >= standby_az_count ({azs}), "
                f"got {low}",
            )
        fleet_rule = fleet.ARGS.fields["min_size"].arg.check
        refused = fleet_rule(low) if fleet_rule is not None else None
        if refused:
            problems.add(
                "standby_min_size", f"the standby's HaWebFleet.min_size and desired_capacity take it: {refused}"
            )
        high = reading.value("fleet", "max_size")
        if high is not None and low > high:
            problems.add("standby_min_size", f"must be <= fleet.max_size ({high}), the standby's max, got {low}")
    if _plain(reading.value("database", "engine")) == DatabaseEngine.AURORA_POSTGRESQL.value:
        klass = reading.value("database", "instance_class")
        if klass is not None and not re.fullmatch(GLOBAL_INSTANCE_FAMILIES, klass):
            reading.refuse(
                "database",
                "instance_class",
                "with dr, Aurora is a global database, which needs a memory-optimized class (db.r*, db.x*)",
                klass,
            )


def _plain(value: object) -> object:
    """An enum's value (the stack file's spelling), anything else as is."""
    return value.value if isinstance(value, Enum) else value


def _static_stability(reading: _Reading) -> None:
    """The web tier carries its peak with any one AZ lost, on instances already running (no launch needed).

    Checked whenever a peak is given (prod must give one), with the request-count scaling target that says what one
    instance carries (stack/static_stability.py has the arithmetic and AWS's wording).
    """
    peak, zones = reading.value("", "peak_requests_per_second"), reading.value("", "az_count")
    target, low = reading.value("fleet", "requests_per_target"), reading.value("fleet", "min_size")
    if peak is None or zones is None or not reading.problems_of("fleet").ok("requests_per_target", "min_size"):
        return
    if target is None:
        reading.problems_of("fleet").add(
            "requests_per_target", "needed with peak_requests_per_second: it is what one instance carries at the target"
        )
        return
    if low is None:
        return
    sizing = AzLossSizing(zones, low, peak, target)
    if not sizing.stable:
        reading.refuse(
            "fleet",
            "min_size",
            f"not statically stable: losing one of {zones} AZs leaves {sizing.survivors} of {low} instances, but "
            f"peak_requests_per_second {peak:g} at requests_per_target {target} per instance per minute needs "
            f"{sizing.needed}; min_size must be >= {sizing.required_min_size}",
            low,
        )


def load_settings() -> Settings:
    """Settings of the running stack; a bad config becomes a RunError that lists every problem."""
    # The whole config map, every namespace: a misspelt `ha-stack:netwrok` or `ha_stack:web` must be reported.
    config: dict[str, object] = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    config.setdefault("aws:region", pulumi.Config("aws").get("region"))
    try:
        return parse_settings(config, stack=pulumi.get_stack())
    except SettingsError as err:
        raise pulumi.RunError(
            f"invalid stack config ({len(err.problems)} problems):\n  " + "\n  ".join(err.problems)
        ) from None
