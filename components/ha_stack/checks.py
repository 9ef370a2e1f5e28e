"""Checks and rules across fields that several components share (each check returns None or the line's message)."""

import re
from collections.abc import Mapping

from ha_stack import options
from ha_stack.naming import ZONE_NAME

PARAMETER_PATH = r"(/[A-Za-z0-9_.-]+)+/"

LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)
"""The retention periods CloudWatch Logs accepts (PutRetentionPolicy; 0, "never expire", is left out on purpose)."""


log_retention = options.one_of(LOG_RETENTION_DAYS, "a CloudWatch Logs retention in days")
"""A retention period CloudWatch Logs accepts; any other fails at deploy."""
parameter_path_rule = options.matches(PARAMETER_PATH, "a Parameter Store path such as /ha-stack/prod/")
archive_days_range = options.between(1, 3650, " days")


def archive_order(args: Mapping[str, object], problems: options.Problems) -> None:
    """log_expire_days after log_glacier_days (an object must reach Glacier before it expires)."""
    glacier, expire = args.get("log_glacier_days"), args.get("log_expire_days")
    if isinstance(glacier, int) and isinstance(expire, int) and expire <= glacier:
        problems.add("log_expire_days", f"must be after log_glacier_days ({glacier}), got {expire}")


def zones_subnets_clients(args: Mapping[str, object], problems: options.Problems) -> None:
    """A data tier's placement: at least 2 distinct zones, one subnet per zone, at least one client group named by a
    short role. Fields the caller has not given yet (the stack's wiring) are not judged."""
    zones = args.get("availability_zones")
    if isinstance(zones, list):
        if len(zones) < 2 or len(set(zones)) != len(zones):
            problems.add("availability_zones", f"need at least 2 distinct zones, got {options.shown(zones)}")
        for zone in zones:
            if not isinstance(zone, str) or not ZONE_NAME.fullmatch(zone):
                problems.add("availability_zones", f"must be zone names like 'us-east-1a', got {options.shown(zone)}")
        subnets = args.get("subnet_ids")
        if isinstance(subnets, list) and len(subnets) != len(zones):
            problems.add("subnet_ids", f"need one subnet per zone ({len(zones)}), got {len(subnets)}")
    clients = args.get("client_security_group_ids")
    if isinstance(clients, Mapping):
        if not clients:
            problems.add("client_security_group_ids", "need at least one client security group (nothing could connect)")
        for role in clients:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", str(role)):
                problems.add(
                    "client_security_group_ids", f"role names must be short lower-case words, got {options.shown(role)}"
                )
