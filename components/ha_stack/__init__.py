"""ha-stack: highly available AWS web architecture as reusable Pulumi components."""

from ha_stack.database import DatabaseEngine, HaDatabase, HaDatabaseArgs
from ha_stack.network import HaNetwork, HaNetworkArgs, NatGateways
from ha_stack.web import HaWebTier, HaWebTierArgs

COMPONENTS = ("HaNetwork", "HaWebTier", "HaDatabase")
"""The component classes this package hosts for other languages."""

__all__ = [
    "COMPONENTS",
    "DatabaseEngine",
    "HaDatabase",
    "HaDatabaseArgs",
    "HaNetwork",
    "HaNetworkArgs",
    "HaWebTier",
    "HaWebTierArgs",
    "NatGateways",
]
