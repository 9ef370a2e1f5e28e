"""The tiers a stack file configures: each `ha-stack:<tier>` object is one component's arguments, read by that
component's own `check`, minus the wiring `__main__.py` supplies (ids, subnets, paths, tags, names derived from the
stack-level keys). Nothing here declares an option: the components' args TypedDicts and Specs do.
"""

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ha_stack import cache, database, edge, fleet, monitoring, network, options, resilience, web
from stack import runtime_config

T = TypeVar("T", bound=Mapping[str, Any])
Checker = Callable[[object, options.Problems, frozenset[str]], T]


@dataclass(frozen=True)
class Tier(Generic[T]):
    """One `ha-stack:<tier>` object: the component that reads it and the fields the stack wires itself."""

    name: str
    spec: options.Spec[Any]
    check: Checker[T]
    wired: frozenset[str]
    """Set by __main__.py from the other tiers and the stack-level keys: refused in the stack file."""
    pinnable: frozenset[str] = frozenset()
    """Wired unless the stack file sets it (network.availability_zones: a deployed stack pins its zones)."""

    def skip(self, given: object) -> frozenset[str]:
        """The fields the stack file must not set here (a pinnable one it does set is read, not wired)."""
        pinned = self.pinnable & set(given) if isinstance(given, Mapping) else frozenset()
        return self.wired - pinned

    def read(self, given: object, problems: options.Problems) -> T:
        """The tier's arguments, checked by the component, every problem recorded in `problems`."""
        if given is None:  # `ha-stack:web:` with nothing under it: every default
            given = {}
        if not isinstance(given, Mapping):
            problems.lines.append(
                f"{problems.prefix[:-1]}: must be an object of {self.spec.component}'s arguments, "
                f"got {options.shown(given)}"
            )
            return typing.cast(T, {})
        moved = MOVED.get(self.name, {})
        for key in given.keys() & moved.keys():
            problems.add(key, f'is now {moved[key]} (README: "Moving an existing stack file")')
        long = [key for key in given if isinstance(key, str) and len(key) > options.SHOWN_CHARACTERS]
        for key in long:  # Spec.read would echo the whole name
            problems.add(f"{key[: options.SHOWN_CHARACTERS]}...", f"unknown argument (a {len(key)}-character name)")
        kept = {key: value for key, value in given.items() if key not in moved and key not in long}
        return self.check(kept, problems, self.skip(kept))


MOVED: dict[str, dict[str, str]] = {
    "network": {"cidr": "ha-stack:network.cidr_block", "az_count": "ha-stack:az_count"},
    "web": {
        "deletion_protection": "ha-stack:web.enable_deletion_protection",
        "peak_requests_per_second": "ha-stack:peak_requests_per_second",
        **{
            key: f"ha-stack:fleet.{key}"
            for key in (
                "min_size",
                "max_size",
                "desired_capacity",
                "cpu_target_percent",
                "requests_per_target",
                "health_check_grace_seconds",
                "instance_warmup_seconds",
            )
        },
    },
    "database": {
        "deletion_protection": "ha-stack:database.enable_deletion_protection",
        "customer_managed_key": "ha-stack:database.enable_customer_managed_key",
    },
    "cache": {"product_ttl_seconds": "ha-stack:service.product_ttl_seconds"},
    "edge": {"enabled": "ha-stack:enable_edge", "domain": "ha-stack:domain", "hosted_zone": "ha-stack:hosted_zone"},
}
"""Keys of stack files written before each tier became its component's arguments -> where they are now: a line
that says so instead of "unknown argument" (none of these names is an argument of the tier's component)."""

_TAGS = frozenset({"tags"})
_PLACEMENT = frozenset({"vpc_id", "subnet_ids", "availability_zones", "client_security_group_ids", "parameter_path"})

NETWORK = Tier(
    "network", network.ARGS, network.check, _TAGS | {"availability_zones"}, frozenset({"availability_zones"})
)
WEB = Tier(
    "web",
    web.ARGS,
    web.check,
    _TAGS
    | {
        "vpc_id",
        "public_subnet_ids",
        "internal_subnet_ids",
        "app_directory",
        "runtime_config_path",
        "domain_name",
        "hosted_zone_id",
        "cloudfront_only",
        "force_destroy_buckets",
        "subject_alternative_names",
        "origin_secret",
    },
)
FLEET = Tier(
    "fleet",
    fleet.ARGS,
    fleet.check,
    _TAGS
    | {
        "subnet_ids",
        "launch_template_id",
        "launch_template_version",
        "target_group_arn",
        "alb_arn_suffix",
        "target_group_arn_suffix",
    },
)
_GLOBAL = frozenset(
    {
        "global_cluster_identifier",
        "global_role",
        "secret_replica_regions",
        "primary_secret_arn",
        "primary_app_secret_arn",
    }
)
"""A global database's membership: set by the stack from the `dr` setting (stack/regional.py), never written."""
DATABASE = Tier("database", database.ARGS, database.check, _TAGS | _PLACEMENT | _GLOBAL)
CACHE = Tier("cache", cache.ARGS, cache.check, _TAGS | _PLACEMENT)
SERVICE = Tier("service", runtime_config.ARGS, runtime_config.check, frozenset())
EDGE = Tier(
    "edge",
    edge.ARGS,
    edge.check,
    _TAGS
    | {
        "origin_domain_name",
        "origin_https",
        "origin_vpc_alb_arn",
        "origin_secret",
        "standby_origin_domain_name",
        "write_origin_domain_name",
        "static_directory",
        "domain_name",
        "hosted_zone_id",
        "force_destroy_buckets",
    },
)
MONITORING = Tier(
    "monitoring",
    monitoring.ARGS,
    monitoring.check,
    _TAGS
    | {
        "region",
        "alb_arn_suffix",
        "target_group_arn_suffix",
        "asg_name",
        "asg_min_size",
        "database_engine",
        "database_cluster_identifier",
        "database_instance_identifiers",
        "database_storage_gib",
        "cache_member_ids",
        "distribution_id",
        "health_check_id",
        "web_acl_name",
        "force_destroy_buckets",
        "name_prefix",
        "global_secondary_cluster_identifier",
        "replication_source_bucket",
        "replication_destination_bucket",
        "replication_rule_ids",
        "standby_health_check_id",
    },
)
RESILIENCE = Tier(
    "resilience",
    resilience.ARGS,
    resilience.check,
    _TAGS
    | {
        "availability_zones",
        "stop_alarm_arn",
        "asg_name",
        "vpc_id",
        "zone_subnet_ids",
        "database_engine",
        "database_cluster_identifier",
        "database_instance_identifier",
        "database_multi_az",
        "cache_replication_group_id",
        "cache_target_tags",
        "cache_availability_zones",
        "alb_arn",
    },
)
TIERS: tuple[Tier[Any], ...] = (NETWORK, WEB, FLEET, DATABASE, CACHE, SERVICE, EDGE, MONITORING, RESILIENCE)
"""Every tier, in the order the stack builds them (and reports their problems)."""
