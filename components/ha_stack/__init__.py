"""ha-stack: highly available AWS web architecture as reusable Pulumi components."""

from ha_stack.cache import CacheEngine, HaCache, HaCacheArgs
from ha_stack.database import DatabaseEngine, GlobalRole, HaDatabase, HaDatabaseArgs
from ha_stack.deploy_access import HaDeployAccess, HaDeployAccessArgs
from ha_stack.edge import HaEdge, HaEdgeArgs, PriceClass
from ha_stack.fleet import HaWebFleet, HaWebFleetArgs
from ha_stack.monitoring import HaMonitoring, HaMonitoringArgs
from ha_stack.network import HaNetwork, HaNetworkArgs, NatGateways
from ha_stack.regional_dns import HaRegionalDns, HaRegionalDnsArgs
from ha_stack.replication import HaBucketReplication, HaBucketReplicationArgs
from ha_stack.resilience import HaResilience, HaResilienceArgs
from ha_stack.web import HaWebTier, HaWebTierArgs

COMPONENTS = (
    "HaNetwork",
    "HaWebTier",
    "HaWebFleet",
    "HaDatabase",
    "HaCache",
    "HaEdge",
    "HaMonitoring",
    "HaDeployAccess",
    "HaResilience",
    "HaRegionalDns",
    "HaBucketReplication",
)
"""The component classes this package hosts for other languages."""

__all__ = [
    "COMPONENTS",
    "CacheEngine",
    "DatabaseEngine",
    "GlobalRole",
    "HaBucketReplication",
    "HaBucketReplicationArgs",
    "HaCache",
    "HaCacheArgs",
    "HaDatabase",
    "HaDatabaseArgs",
    "HaDeployAccess",
    "HaDeployAccessArgs",
    "HaEdge",
    "HaEdgeArgs",
    "HaMonitoring",
    "HaMonitoringArgs",
    "HaNetwork",
    "HaNetworkArgs",
    "HaRegionalDns",
    "HaRegionalDnsArgs",
    "HaResilience",
    "HaResilienceArgs",
    "HaWebFleet",
    "HaWebFleetArgs",
    "HaWebTier",
    "HaWebTierArgs",
    "NatGateways",
    "PriceClass",
]
