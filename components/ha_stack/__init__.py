"""ha-stack: highly available AWS web architecture as reusable Pulumi components."""

from ha_stack.network import HaNetwork, HaNetworkArgs, NatGateways

COMPONENTS = ("HaNetwork",)
"""The component classes this package hosts for other languages."""

__all__ = ["COMPONENTS", "HaNetwork", "HaNetworkArgs", "NatGateways"]
