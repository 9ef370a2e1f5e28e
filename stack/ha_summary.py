"""HA facts per tier, read off a Recording: AZs covered, redundancy, single points of failure.

The preview prints these, and the stack tests assert on the same facts, so what a user reads in the
preview is what the tests prove.
"""

from dataclasses import dataclass, field

from stack.mock_cloud import RecordedResource, Recording

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"


@dataclass
class TierSummary:
    """What one tier looks like from an availability point of view."""

    tier: str
    zones: list[str]
    facts: list[str] = field(default_factory=list)
    single_points_of_failure: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NetworkFacts:
    """The network's shape: subnet zones per tier, NAT zones, and each app route table's NAT zone."""

    subnet_zones: dict[str, list[str]]
    nat_zones: list[str]
    app_egress: dict[str, str | None]
    """App subnet zone -> zone of the NAT its route table uses (None: no internet route)."""
    data_internet_routes: int


def _tier_of(subnet: RecordedResource) -> str:
    return str(subnet.inputs.get("tags", {}).get("ha-stack:tier", "unknown"))


def network_facts(rec: Recording) -> NetworkFacts:
    """Follow subnets -> route tables -> default routes -> NAT gateways -> their subnets' zones."""
    subnets = {s.id: s for s in rec.of_type(SUBNET)}
    zones: dict[str, list[str]] = {}
    for s in subnets.values():
        zones.setdefault(_tier_of(s), []).append(str(s.inputs["availabilityZone"]))
    nat_zone = {n.id: str(subnets[n.inputs["subnetId"]].inputs["availabilityZone"]) for n in rec.of_type(NAT)}
    default_routes = {
        r.inputs["routeTableId"]: r for r in rec.of_type(ROUTE) if r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"
    }
    app_egress: dict[str, str | None] = {}
    data_internet = 0
    for assoc in rec.of_type(ASSOCIATION):
        subnet = subnets[assoc.inputs["subnetId"]]
        route = default_routes.get(assoc.inputs["routeTableId"])
        if _tier_of(subnet) == "app":
            nat_id = route.inputs.get("natGatewayId") if route else None
            app_egress[str(subnet.inputs["availabilityZone"])] = nat_zone.get(str(nat_id)) if nat_id else None
        elif _tier_of(subnet) == "data" and route is not None:
            data_internet += 1
    return NetworkFacts({t: sorted(z) for t, z in zones.items()}, sorted(nat_zone.values()), app_egress, data_internet)


def network_summary(rec: Recording) -> TierSummary:
    """AZ spread of the subnets and how app egress survives the loss of one AZ."""
    f = network_facts(rec)
    all_zones = sorted({z for zs in f.subnet_zones.values() for z in zs})
    summary = TierSummary("network", all_zones)
    spread = ", ".join(f"{t} {len(f.subnet_zones.get(t, []))}" for t in ("public", "app", "data"))
    summary.facts.append(f"subnets per tier: {spread} (across {len(all_zones)} AZs)")
    own = sum(1 for zone, nat in f.app_egress.items() if nat == zone)
    summary.facts.append(
        f"{len(f.nat_zones)} NAT gateway(s); {own} of {len(f.app_egress)} app route tables use the NAT in their own AZ"
    )
    summary.facts.append(f"data subnets with an internet route: {f.data_internet_routes}")
    if len(all_zones) < 2:
        summary.single_points_of_failure.append("the whole network is in one AZ")
    if not f.nat_zones:
        summary.facts.append("no NAT gateways: app subnets have no internet egress")
    for zone, nat in sorted(f.app_egress.items()):
        if nat is not None and nat != zone:
            summary.single_points_of_failure.append(f"app egress in {zone} depends on the NAT in {nat}")
    return summary


SUMMARIES = {"ha-stack:index:HaNetwork": network_summary}
"""Component type -> its summary; each new component adds its own."""


def summarize(rec: Recording) -> list[TierSummary]:
    """One summary per component that has a summarizer, in registration order."""
    return [SUMMARIES[c.typ](rec) for c in rec.components() if c.typ in SUMMARIES]
