"""Pure CIDR planner: carves a VPC into one public, app and data subnet per AZ.

Each tier owns a fixed block of ``AZ_SLOTS`` equal subnets and an AZ's subnet is the slot of its
zone letter (a=0, b=1, ...). A subnet's CIDR therefore depends only on (tier, zone letter), never on
how many AZs are in use, so adding an AZ adds subnets and moves none.
"""

import ipaddress
from dataclasses import dataclass
from enum import Enum

AZ_SLOTS = 8
"""Zone letters a..h each own a slot; no AWS region has more zones than that."""


class Tier(str, Enum):
    """Subnet tiers, largest first: blocks are laid out in this order so each stays aligned."""

    APP = "app"
    DATA = "data"
    PUBLIC = "public"


DEFAULT_EXTRA_BITS: dict[Tier, int] = {Tier.APP: 4, Tier.DATA: 6, Tier.PUBLIC: 6}
"""Default subnet prefix = VPC prefix + these bits: a /16 gives /20 app, /22 data, /22 public subnets."""

MIN_SUBNET_PREFIX, MAX_SUBNET_PREFIX = 16, 28
"""AWS subnets are /16 to /28."""


@dataclass(frozen=True)
class SubnetPlan:
    """One subnet to create: its tier, zone, zone letter and CIDR."""

    tier: Tier
    zone: str
    letter: str
    cidr: str


def default_prefix_lengths(vpc_cidr: str) -> dict[Tier, int]:
    """Subnet prefix length per tier when the caller gives none."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    return {tier: vpc.prefixlen + bits for tier, bits in DEFAULT_EXTRA_BITS.items()}


def _slot(zone: str) -> tuple[str, int]:
    letter = zone[-1]
    index = ord(letter) - ord("a")
    if not 0 <= index < AZ_SLOTS:
        raise ValueError(f"availability zone {zone!r}: zone letter must be a..h, got {letter!r}")
    return letter, index


def tier_blocks(vpc_cidr: str, prefix_lengths: dict[Tier, int]) -> dict[Tier, ipaddress.IPv4Network]:
    """The block each tier's slots live in, laid out largest first from the VPC's base address."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    blocks: dict[Tier, ipaddress.IPv4Network] = {}
    cursor = int(vpc.network_address)
    for tier in sorted(Tier, key=lambda t: prefix_lengths[t]):
        prefix = prefix_lengths[tier]
        if not max(MIN_SUBNET_PREFIX, vpc.prefixlen) <= prefix <= MAX_SUBNET_PREFIX:
            raise ValueError(
                f"{tier.value} subnet prefix length must be between /{max(MIN_SUBNET_PREFIX, vpc.prefixlen)} "
                f"and /{MAX_SUBNET_PREFIX}, got /{prefix}"
            )
        block = ipaddress.IPv4Network((cursor, prefix - 3))  # 8 slots = 3 bits
        if not block.subnet_of(vpc):
            raise ValueError(
                f"subnets do not fit in {vpc_cidr}: 8 AZ slots of /{prefix_lengths[Tier.APP]} app, "
                f"/{prefix_lengths[Tier.DATA]} data and /{prefix_lengths[Tier.PUBLIC]} public subnets need more room"
            )
        blocks[tier] = block
        cursor = int(block.broadcast_address) + 1
    return blocks


def plan_subnets(vpc_cidr: str, zones: list[str], prefix_lengths: dict[Tier, int] | None = None) -> list[SubnetPlan]:
    """Every subnet of every tier in every zone; raises ValueError naming what does not fit."""
    lengths = {**default_prefix_lengths(vpc_cidr), **(prefix_lengths or {})}
    blocks = tier_blocks(vpc_cidr, lengths)
    plans: list[SubnetPlan] = []
    for tier in (Tier.PUBLIC, Tier.APP, Tier.DATA):
        slots = list(blocks[tier].subnets(new_prefix=lengths[tier]))
        for zone in zones:
            letter, index = _slot(zone)
            plans.append(SubnetPlan(tier, zone, letter, str(slots[index])))
    return plans
