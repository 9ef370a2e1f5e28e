"""Checks of plain component arguments, with errors that name the component, the field, the value and the rule."""

import re
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from ha_stack import options
from ha_stack.naming import az_letter

E = TypeVar("E", bound=Enum)
PARAMETER_PATH = r"(/[A-Za-z0-9_.-]+)+/"


def fail(component: str, field: str, message: str) -> ValueError:
    """The error every check raises: `HaX.field: message`."""
    return ValueError(f"{component}.{field}: {message}")


def integer(component: str, args: Mapping[str, object], field: str, default: int, low: int, high: int) -> int:  # noqa: PLR0917
    """args[field] (or the default), an integer from low to high."""
    value = args.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise fail(component, field, f"must be an integer from {low} to {high}, got {value!r}")
    return value


def boolean(component: str, args: Mapping[str, object], field: str, default: bool) -> bool:
    """args[field] (or the default), true or false (not a truthy string such as "false")."""
    value = args.get(field, default)
    if not isinstance(value, bool):
        raise fail(component, field, f"must be true or false, got {value!r}")
    return value


def number(component: str, args: Mapping[str, object], field: str, default: float, low: float, high: float) -> float:  # noqa: PLR0917
    """args[field] (or the default), a number from low to high."""
    value = args.get(field, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise fail(component, field, f"must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)
"""The retention periods CloudWatch Logs accepts (PutRetentionPolicy; 0, "never expire", is left out on purpose)."""


def log_retention_days(component: str, args: Mapping[str, object], field: str, default: int) -> int:
    """args[field] (or the default), a retention period CloudWatch Logs accepts; any other fails at deploy."""
    value = args.get(field, default)
    if isinstance(value, bool) or value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise fail(component, field, f"must be a CloudWatch Logs retention ({allowed} days), got {value!r}")
    assert isinstance(value, int)
    return value


def archive_days(
    component: str, args: Mapping[str, object], glacier_default: int, expire_default: int
) -> tuple[int, int]:
    """log_glacier_days and log_expire_days, 1 to 3650 each, and expiry after the move to Glacier."""
    glacier = integer(component, args, "log_glacier_days", glacier_default, 1, 3650)
    expire = integer(component, args, "log_expire_days", expire_default, 1, 3650)
    if expire <= glacier:
        raise fail(component, "log_expire_days", f"must be after log_glacier_days ({glacier}), got {expire}")
    return glacier, expire


def choice(component: str, field: str, value: object, modes: type[E]) -> E:
    """A member of the enum, given as a member or its value."""
    try:
        return modes(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in modes)
        raise fail(component, field, f"must be one of {allowed}, got {value!r}") from None


def parameter_path(component: str, field: str, value: object) -> str:
    """A Parameter Store path that starts and ends with /."""
    if not isinstance(value, str) or not re.fullmatch(PARAMETER_PATH, value):
        raise fail(component, field, f"must be a Parameter Store path such as /ha-stack/prod/, got {value!r}")
    return value


def data_tier_zones(
    component: str, zones: list[str], subnet_ids: list[object], clients: Mapping[str, object]
) -> list[str]:
    """At least 2 distinct zones, one subnet per zone, and at least one client group named by a short role."""
    if len(zones) < 2 or len(set(zones)) != len(zones):
        raise fail(component, "availability_zones", f"need at least 2 distinct zones, got {zones!r}")
    for zone in zones:
        try:
            az_letter(zone)
        except ValueError as err:
            raise fail(component, "availability_zones", str(err)) from None
    if len(subnet_ids) != len(zones):
        raise fail(component, "subnet_ids", f"need one subnet per zone ({len(zones)}), got {len(subnet_ids)}")
    if not clients:
        raise fail(
            component, "client_security_group_ids", "need at least one client security group (nothing could connect)"
        )
    for role in clients:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", role):
            raise fail(
                component, "client_security_group_ids", f"role names must be short lower-case words, got {role!r}"
            )
    return zones


# Checks for options.Spec (each returns None or the line's message) and rules across fields that several components
# share. The raising helpers above go once every component reads its arguments through a Spec.

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
            try:
                az_letter(zone)
            except ValueError as err:
                problems.add("availability_zones", str(err))
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
