"""Type tokens, child names and tags shared by every ha-stack component."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ha_stack import options

TOKEN_PACKAGE = "ha-stack"
"""Package part of every type token; changing it would change every child URN."""

ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$")


def type_token(component: str) -> str:
    """The schema type token of a component, e.g. ``ha-stack:index:HaNetwork``."""
    return f"{TOKEN_PACKAGE}:index:{component}"


def az_letter(zone: str) -> str:
    """The letter that ends an AZ name ("us-east-1c" -> "c"), used in stable child names."""
    if not ZONE_NAME.match(zone):
        raise ValueError(f"availability zone {zone!r} is not a zone name like 'us-east-1a'")
    return zone[-1]


def merge_tags(base: Mapping[str, str], extra: Mapping[str, str] | None, *, name: str) -> dict[str, str]:
    """Base tags, then the caller's tags, then ``Name`` last so no caller tag can clobber it."""
    return {**base, **(extra or {}), "Name": name}


def component_tags(component: str, extra: Mapping[str, str] | None, *, name: str) -> dict[str, str]:
    """Tags of a component's child: who manages it and which component made it, the caller's, then Name."""
    return merge_tags({"managed-by": "pulumi", "ha-stack:component": component}, extra, name=name)


AUTONAME_SUFFIX_CHARACTERS = 8
"""Pulumi names a child that is given no physical name <logical name>-<7 random characters> (pulumi-terraform-bridge
AutoName/AutoNameTransform: "an 8 character random suffix ("-"+7 random chars)"); S3 buckets lower-cased first
(pulumi-aws provider/resources.go: aws_s3_bucket "bucket" AutoNameTransform(63, strings.ToLower))."""


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as one kind of physical name: at most `limit` characters matching `pattern` (`what`)."""

    kind: str
    limit: int
    pattern: str
    what: str
    lower: bool = False
    """Pulumi lower-cases the logical name first (S3 buckets)."""


S3_BUCKET = NameRule(
    "S3 bucket",
    63,
    r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9-]*",
    "lower-case letters, digits and '-', starting with a letter or digit",
    lower=True,
)
"""S3 user guide, "General purpose bucket naming rules": 3 to 63 characters, lower-case letters, numbers, periods and
hyphens, beginning with a letter or number, not starting with xn--, sthree- or amzn-s3-demo-. Periods are refused
here on purpose: "If you include periods in a bucket's name, you can't use virtual-host-style addressing over
HTTPS" (the same page), which is how CloudFront and the SDKs reach ha-stack's buckets."""
IAM_ROLE = NameRule("IAM role", 64, r"[\w+=,.@-]+", "letters, digits and + = , . @ _ -")
"""IAM API reference, CreateRole RoleName: 1 to 64 characters of [\\w+=,.@-]."""
LAMBDA_FUNCTION = NameRule("Lambda function", 64, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
"""Lambda API reference, CreateFunction FunctionName: "If you specify only the function name, it is limited to 64
characters in length" ([a-zA-Z0-9-_]+)."""


def derived_name_problem(name: str, children: Mapping[str, NameRule]) -> str | None:
    """Why AWS would refuse a physical name Pulumi derives from a component's `name`, or None.

    `children` maps a child's logical-name suffix (f"{name}-{suffix}") to the rule of its physical name. The line
    says the longest name every child allows, so one change fixes them all.
    """
    most = min(rule.limit - len(suffix) - 1 - AUTONAME_SUFFIX_CHARACTERS for suffix, rule in children.items())
    for suffix, rule in children.items():
        logical = f"{name}-{suffix}"
        physical = (logical.lower() if rule.lower else logical) + "-" + "0" * (AUTONAME_SUFFIX_CHARACTERS - 1)
        if len(physical) > rule.limit:
            return (
                f"must be at most {most} characters: the {rule.kind} Pulumi names {logical[:40]!r}... plus 8 random "
                f"characters would be {len(physical)} characters, AWS allows {rule.limit}; got {len(name)} characters"
            )
        if not re.fullmatch(rule.pattern, physical):
            return (
                f"makes the {rule.kind} name {logical[:60]!r} + 7 random characters, which AWS refuses (it takes "
                f"{rule.what})"
            )
    return None


def check_derived_names(name: str, children: Mapping[str, NameRule], problems: options.Problems) -> bool:
    """Record under "name" why AWS would refuse a physical name derived from `name` (derived_name_problem);
    True when every child's name is one AWS accepts."""
    message = derived_name_problem(name, children)
    if message:
        problems.add("name", message)
    return message is None
