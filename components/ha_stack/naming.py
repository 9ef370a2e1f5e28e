"""Type tokens, child names and tags shared by every ha-stack component."""

import re
from collections.abc import Mapping

TOKEN_PACKAGE = "ha-stack"
"""Package part of every type token; changing it would change every child URN."""

_ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$")


def type_token(component: str) -> str:
    """The schema type token of a component, e.g. ``ha-stack:index:HaNetwork``."""
    return f"{TOKEN_PACKAGE}:index:{component}"


def az_letter(zone: str) -> str:
    """The letter that ends an AZ name ("us-east-1c" -> "c"), used in stable child names."""
    if not _ZONE_NAME.match(zone):
        raise ValueError(f"availability zone {zone!r} is not a zone name like 'us-east-1a'")
    return zone[-1]


def merge_tags(base: Mapping[str, str], extra: Mapping[str, str] | None, *, name: str) -> dict[str, str]:
    """Base tags, then the caller's tags, then ``Name`` last so no caller tag can clobber it."""
    return {**base, **(extra or {}), "Name": name}


def component_tags(component: str, extra: Mapping[str, str] | None, *, name: str) -> dict[str, str]:
    """Tags of a component's child: who manages it and which component made it, the caller's, then Name."""
    return merge_tags({"managed-by": "pulumi", "ha-stack:component": component}, extra, name=name)
