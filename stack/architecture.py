"""Architecture pictures of the stacks, drawn from the resources the program declares (docs/architecture/).

    python -m stack.architecture dev prod   # make docs: <stack>.dot, and <stack>.svg rendered by Graphviz's dot

The stack program (__main__.py) runs under the mock cloud with the stack's own file, exactly as the tests and the
offline preview run it, and the picture is read off what it registered: the AZs from the subnets' zones, each
subnet's tier from its `ha-stack:tier` tag, NAT gateways by the subnet they sit in, the load balancer's and the
Auto Scaling group's zones from their subnets, Aurora's writer and readers (and their promotion tiers), the RDS
primary and its Multi-AZ standby, the cache's nodes from the replication group's zones (the first is the primary:
"The primary cluster is created in the first AZ in the list", CreateReplicationGroup), CloudFront's origins and
origin group, WAF, the VPC origin and ARC zonal shift. Nothing is drawn that the program did not declare, so the
picture cannot drift from the code; tests/test_architecture.py regenerates the DOT and compares.

A stack with the dr setting declares a standby region through a second aws.Provider (docs/dr.md): each resource's
region is its `region` argument, else its provider's, else the stack's (as stack/preview.py reads it), and each
region gets a box of its own with its zones and tiers, drawn by the same functions. Between the regions: CloudFront's
page origin group (primary ALB, then the standby's), the write origin's Route 53 failover name (PRIMARY -> primary
ALB, SECONDARY -> standby ALB), the Aurora Global Database's replication from the primary cluster to the secondary,
S3 replication of the static bucket to its replica, and AWS Backup's copy into the standby's vault, each only when
the program declares it.

Blue edges are the request path, red dashed edges the failover paths, purple dotted edges the copies of data
(replication into the standby region, backups and their copies). The DOT text is deterministic (every list is
sorted; the mock cloud derives ids from names), and the SVG carries the DOT's sha256 in a comment, so the test can
tell a stale SVG without Graphviz.
"""

import argparse
import hashlib
import runpy
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stack.mock_cloud import RecordedResource, Recording, run_program

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "docs" / "architecture"
STACKS = ("dev", "prod")
TIERS = ("public", "app", "data")
"""Subnet tiers as HaNetwork tags them (ha-stack:tier), top to bottom in each AZ."""
TRAFFIC = 'color="#1f6feb", fontcolor="#1f6feb", penwidth=1.6'
FAILOVER = 'color="#d1242f", fontcolor="#d1242f", style=dashed, penwidth=1.4'
COPY = 'color="#8250df", fontcolor="#8250df", style=dotted, penwidth=1.6, constraint=false'
"""Data copied (into another region). A copy leaves the ranks alone: Graphviz's dot (newrank) fails in init_rank
when an edge or a rank=same row ties nodes of two region boxes together (measured), so each region's rows are
its own too."""
SHA_COMMENT = "<!-- dot-sha256: {} -->"
LEVELS = (
    "users",
    "cdn",
    "waf",
    "origin group",
    "origins",
    "load balancer",
    "public",
    "app",
    "endpoints",
    "data",
)
"""Rows of the picture, top to bottom: the request path reads downwards."""

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ALB = "aws:lb/loadBalancer:LoadBalancer"
ASG = "aws:autoscaling/group:Group"
AURORA_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
AURORA_CLUSTER = "aws:rds/cluster:Cluster"
READER_SCALING = "aws:appautoscaling/target:Target"
RDS_INSTANCE = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
BUCKET = "aws:s3/bucket:Bucket"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
AUTOSHIFT = "aws:arczonalshift/zonalAutoshiftConfiguration:ZonalAutoshiftConfiguration"
VPC = "aws:ec2/vpc:Vpc"
PROVIDER = "pulumi:providers:aws"
RECORD = "aws:route53/record:Record"
GLOBAL_CLUSTER = "aws:rds/globalCluster:GlobalCluster"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_VAULT = "aws:backup/vault:Vault"


def declared(stack: str, root: Path = ROOT) -> Recording:
    """What <root>/__main__.py declares for a stack, from its Pulumi.<stack>.yaml, under the mock cloud."""
    config = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]
    return run_program(lambda: runpy.run_path(str(root / "__main__.py")), stack=stack, config=config)


def quoted(text: str) -> str:
    """A DOT string: quotes and backslashes escaped, newlines as DOT's centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def ident(*parts: str, prefix: str = "n") -> str:
    """A DOT id from logical names (letters, digits and underscores); Graphviz draws a subgraph as a box only
    when its id starts with "cluster"."""
    return "_".join([prefix, *("".join(c if c.isalnum() else "_" for c in part) for part in parts)])


def plain(value: Any) -> Any:
    """An input as data: the mock cloud records a secret as {"secret": value}."""
    if isinstance(value, dict) and set(value) == {"secret"}:
        return value["secret"]
    return value


@dataclass(frozen=True)
class Subnet:
    """One subnet as declared: its tier, zone and range."""

    name: str
    id: str
    tier: str
    zone: str
    zone_id: str
    cidr: str


@dataclass(frozen=True)
class RegionBox:
    """One region of the picture: its subnets (zones and tiers) and its VPC's ranges."""

    name: str
    subnets: list[Subnet]
    vpc_label: str
    standby: bool = False
    """A region the stack declares through another aws.Provider (the dr setting's standby)."""

    @property
    def zones(self) -> list[str]:
        """The zones this region's subnets span, in order."""
        return sorted({s.zone for s in self.subnets})

    @property
    def zone_of(self) -> dict[str, Subnet]:
        """Subnet id -> subnet, for this region's subnets."""
        return {s.id: s for s in self.subnets}

    def cluster_id(self, what: str) -> str:
        """The DOT id of this region's box ("region") or VPC box ("vpc"): the stack's own region keeps the ids a
        one-region picture always had."""
        return f"cluster_{what}" if not self.standby else ident(what, self.name, prefix="cluster")


@dataclass
class Picture:
    """Nodes placed per (zone, tier) subnet or in a named group, and edges, in one box per region; rendered as DOT."""

    title: str
    regions: list[RegionBox]
    """The stack's own region first, then the standby regions."""
    in_subnet: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    in_group: dict[str, list[str]] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)
    rows: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(row, region) -> the node ids on that row in that region's box (the edge's nodes: the stack's region)."""

    def __post_init__(self) -> None:
        for region in self.regions:  # each subnet's range on its tier's row
            for subnet in region.subnets:
                self.rows.setdefault((subnet.tier, region.name), []).append(ident(subnet.name, "range"))

    def place(self, zone: str, tier: str, node_id: str, label: str, attrs: str = "") -> None:
        """A node inside the subnet of this tier in this zone (on that tier's row)."""
        (region,) = [r.name for r in self.regions if zone in r.zones]
        self.in_subnet.setdefault((zone, tier), []).append(_node(node_id, label, attrs))
        self.rows.setdefault((tier, region), []).append(node_id)

    def group(self, group: str, node_id: str, label: str, attrs: str = "", *, row: str, region: str = "") -> None:
        """A node in a group ("edge": global services; "region" or "vpc" of a region, the stack's own by default),
        on one of the LEVELS rows."""
        region = region or self.regions[0].name
        key = group if group == "edge" else f"{group}:{region}"
        self.in_group.setdefault(key, []).append(_node(node_id, label, attrs))
        self.rows.setdefault((row, region), []).append(node_id)

    def has(self, node_id: str) -> bool:
        """True when a node of this id is drawn."""
        return any(node_id in ids for ids in self.rows.values())

    def link(self, tail: str, head: str, label: str, style: str) -> None:
        """An edge; `style` is TRAFFIC, FAILOVER or COPY."""
        self.edges.append(f"{tail} -> {head} [label={quoted(label)}, {style}];")

    def dot(self) -> str:
        """The whole graph as DOT text."""
        legend = "blue: request path   red dashed: failover path"
        if any(COPY in edge for edge in self.edges):
            legend += "   purple dotted: data copies (replication, backups)"
        lines = [
            f"digraph {quoted(self.title)} {{",
            f"  graph [label={quoted(self.title + chr(10) + legend)}, "
            'labelloc=t, fontname="Helvetica", fontsize=14, compound=true, newrank=true, nodesep=0.3, ranksep=0.45];',
            '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
            *_cluster("edge", "Global edge (CloudFront)", self.in_group.get("edge", []), "#f6f8fa", 1),
            *(line for region in self.regions for line in self._region(region)),
            *(f"  {edge}" for edge in self.edges),
            *(
                f"  {{rank=same; {'; '.join(self.rows[row, region.name])};}}"
                for row in LEVELS
                for region in self.regions
                if self.rows.get((row, region.name))
            ),
            *(line for region in self.regions for line in self._zone_order(region)),
            "}",
            "",
        ]
        return "\n".join(lines)

    def _region(self, region: RegionBox) -> Iterator[str]:
        """A region's box: its regional services, and its VPC with the zones' subnets."""
        label = f"Region {region.name}{' (standby)' if region.standby else ''}"
        yield f"  subgraph {region.cluster_id('region')} {{"
        yield f'    label={quoted(label)}; style=rounded; color="#57606a";'
        yield from (f"    {line}" for line in self.in_group.get(f"region:{region.name}", []))
        yield f"    subgraph {region.cluster_id('vpc')} {{"
        yield f'      label={quoted(region.vpc_label)}; style=rounded; color="#8250df";'
        yield from (f"      {line}" for line in self.in_group.get(f"vpc:{region.name}", []))
        yield from self._zones(region, indent=3)
        yield "    }"
        yield "  }"

    @staticmethod
    def _zone_order(region: RegionBox) -> Iterator[str]:
        """Invisible edges between the zones' public subnets, so the zones stand left to right in order."""
        firsts = [ident(s.name, "range") for s in region.subnets if s.tier == TIERS[0]]
        if len(firsts) > 1:
            yield f"  {' -> '.join(firsts)} [style=invis];"

    def _zones(self, region: RegionBox, indent: int) -> Iterator[str]:
        pad = "  " * indent
        by_zone = {s.zone: s.zone_id for s in region.subnets}
        for zone in region.zones:
            yield f"{pad}subgraph {ident(zone, prefix='cluster')} {{"
            yield f'{pad}  label={quoted(f"{zone} ({by_zone[zone]})")}; style=rounded; color="#2da44e";'
            column = []
            for subnet in [s for s in region.subnets if s.zone == zone]:
                tier = subnet.tier
                anchor = ident(subnet.name, "range")
                column.append(anchor)
                nodes = [
                    _node(anchor, subnet.cidr, "shape=plaintext, style=solid"),
                    *self.in_subnet.get((zone, tier), []),
                ]
                yield from (f"{pad}  {line}" for line in _cluster(subnet.name, f"{tier} subnet", nodes, _FILL[tier], 0))
            if len(column) > 1:  # the tiers of one zone stacked top to bottom
                yield f"{pad}  {' -> '.join(column)} [style=invis];"
            yield f"{pad}}}"


_FILL = {"public": "#ddf4ff", "app": "#dafbe1", "data": "#fff8c5"}


def _node(node_id: str, label: str, attrs: str) -> str:
    return f"{node_id} [label={quoted(label)}{', ' + attrs if attrs else ''}];"


def _cluster(name: str, label: str, nodes: Iterable[str], fill: str, indent: int) -> list[str]:
    pad = "  " * indent
    body = list(nodes)
    if not body:
        return []
    return [
        f"{pad}subgraph {ident(name, prefix='cluster')} {{",
        f'{pad}  label={quoted(label)}; style="rounded,filled"; fillcolor="{fill}"; color="#d0d7de";',
        *(f"{pad}  {line}" for line in body),
        f"{pad}}}",
    ]


def subnets(rec: Recording) -> list[Subnet]:
    """Every subnet the stack declares, with the tier HaNetwork tags it with."""
    found = [
        Subnet(
            name=r.name,
            id=r.id,
            tier=str(r.inputs.get("tags", {}).get("ha-stack:tier", "")),
            zone=str(r.inputs["availabilityZone"]),
            zone_id=str(r.outputs.get("availabilityZoneId", "")),
            cidr=str(r.inputs["cidrBlock"]),
        )
        for r in rec.of_type(SUBNET)
    ]
    untiered = [s.name for s in found if s.tier not in TIERS]
    if untiered:
        raise ValueError(f"subnets without an ha-stack:tier tag of {', '.join(TIERS)}: {', '.join(untiered)}")
    return sorted(found, key=lambda s: (s.zone, TIERS.index(s.tier)))


def _sorted(rec: Recording, typ: str) -> list[RecordedResource]:
    return sorted(rec.of_type(typ), key=lambda r: r.name)


def regions_of(rec: Recording, home: str) -> dict[str, str]:
    """URN -> the region AWS acts in for each cloud resource: its `region` argument (pulumi-aws 7), else the region of
    the aws.Provider it was made through (a standby component's children inherit it), else the stack's own."""
    # A provider reference is "<provider URN>::<provider id>"; the id names the provider (as stack/mock_cloud.py reads
    # it), the URN part depends on how the SDK spelled the provider's parent.
    providers = {p.id: str(p.inputs.get("region") or home) for p in rec.of_type(PROVIDER)}
    found = {}
    for r in rec.resources:
        ref = r.provider.rsplit("::", 1)[-1] if r.provider else ""
        if ref and ref not in providers:
            raise ValueError(f"{r.name} is made through a provider the program did not declare: {r.provider}")
        found[r.urn] = str(r.inputs.get("region") or (providers[ref] if ref else home))
    return found


def draw(rec: Recording, stack: str) -> str:
    """The stack's picture as DOT text: the stack's own region, and a box per standby region."""
    # The stack's own region: the zones of the subnets made through the default provider.
    home = sorted(
        {
            str(r.inputs["availabilityZone"])[:-1]
            for r in rec.of_type(SUBNET)
            if not r.provider and "region" not in r.inputs
        }
    )
    if len(home) != 1:
        raise ValueError(f"the picture draws the subnets of one region; {stack} declares them in {home or 'none'}")
    (region,) = home
    where = regions_of(rec, region)
    region_of_subnet = {r.id: where[r.urn] for r in rec.of_type(SUBNET)}
    everywhere = subnets(rec)
    for subnet in everywhere:
        if not subnet.zone.startswith(region_of_subnet[subnet.id]):
            raise ValueError(
                f"subnet {subnet.name} is in zone {subnet.zone}, outside its provider's region "
                f"{region_of_subnet[subnet.id]}"
            )
    names = [region, *sorted(set(region_of_subnet.values()) - {region})]
    boxes = [
        RegionBox(
            name,
            [s for s in everywhere if region_of_subnet[s.id] == name],
            " ".join(["VPC", *(str(v.inputs.get("cidrBlock", "")) for v in _sorted(rec, VPC) if where[v.urn] == name)]),
            standby=name != region,
        )
        for name in names
    ]
    title = f"ha-stack {stack}: {len(boxes[0].zones)} AZs in {region}"
    title += "".join(f", standby {len(box.zones)} AZs in {box.name}" for box in boxes[1:])
    picture = Picture(title, boxes)
    albs = {box.name: _region_tiers(rec, picture, box) for box in boxes}
    _edge(rec, picture, albs[region], where)
    for box in boxes:
        _zonal_shift(rec, picture, albs[box.name], box)
    _global_database(rec, picture, where, region)
    _replication(rec, picture, where)
    _backup_copies(rec, picture, where)
    return picture.dot()


def _region_tiers(rec: Recording, picture: Picture, box: RegionBox) -> str | None:
    """One region's network, load balancer, instances, database and cache; returns its load balancer's node id."""
    zone_of = box.zone_of
    _network(rec, picture, zone_of)
    alb = _web(rec, picture, box)
    clients = _instances(rec, picture, zone_of, alb)
    _database(rec, picture, clients, box)
    _cache(rec, picture, clients, box)
    return alb


def _network(rec: Recording, picture: Picture, zone_of: dict[str, Subnet]) -> None:
    """NAT gateways in their public subnets."""
    for nat in [n for n in _sorted(rec, NAT) if str(n.inputs["subnetId"]) in zone_of]:
        subnet = zone_of[str(nat.inputs["subnetId"])]
        picture.place(subnet.zone, subnet.tier, ident(nat.name), f"NAT gateway\n{nat.name}")


def _web(rec: Recording, picture: Picture, box: RegionBox) -> str | None:
    """The region's load balancer (one node: it spans its subnets' zones); returns its node id."""
    zone_of = box.zone_of
    albs = [a for a in _sorted(rec, ALB) if all(str(i) in zone_of for i in a.inputs.get("subnets", []))]
    if not albs:
        return None
    (alb,) = albs
    homes = [zone_of[str(s)] for s in alb.inputs.get("subnets", [])]
    scheme = "internal" if alb.inputs.get("internal") else "internet-facing"
    where = f"{homes[0].tier if homes else '?'} subnets of {', '.join(sorted(s.zone[-1] for s in homes))}"
    picture.group(
        "vpc",
        ident(alb.name),
        f"Application Load Balancer ({scheme})\n{alb.name}\nnodes in {where}",
        row="load balancer",
        region=box.name,
    )
    return ident(alb.name)


def _instances(rec: Recording, picture: Picture, zone_of: dict[str, Subnet], alb: str | None) -> list[str]:
    """The Auto Scaling group's instances in each of its zones; returns their node ids."""
    nodes = []
    for group in [g for g in _sorted(rec, ASG) if all(str(i) in zone_of for i in g.inputs["vpcZoneIdentifiers"])]:
        size = f"{int(group.inputs.get('minSize', 0))} to {int(group.inputs.get('maxSize', 0))} in all"
        for subnet_id in sorted(group.inputs.get("vpcZoneIdentifiers", []), key=lambda i: zone_of[i].zone):
            subnet = zone_of[str(subnet_id)]
            node = ident(group.name, subnet.zone)
            picture.place(subnet.zone, subnet.tier, node, f"EC2 instances\n{group.name} ({size})", "shape=box3d")
            nodes.append(node)
            if alb:
                picture.link(alb, node, "HTTP", TRAFFIC)
    return nodes


def _database(rec: Recording, picture: Picture, clients: list[str], box: RegionBox) -> None:
    """Aurora (writer, readers by promotion tier; a global secondary's instances all read) or RDS (primary,
    Multi-AZ standby), in this region's zones."""
    for cluster in _sorted(rec, AURORA_CLUSTER):
        members = sorted(
            (r for r in rec.of_type(AURORA_INSTANCE) if r.inputs.get("clusterIdentifier") == cluster.id),
            key=lambda r: (int(r.inputs.get("promotionTier", 1)), r.name),
        )
        if not members or any(str(m.inputs["availabilityZone"]) not in box.zones for m in members):
            continue  # another region's cluster
        # A global database's secondary cluster is read-only until it is promoted (Aurora User Guide, "Using
        # Amazon Aurora Global Database"): no writer in it, and no failover inside it to draw.
        secondary = box.standby and bool(cluster.inputs.get("globalClusterIdentifier"))
        endpoint = ident(cluster.name)
        scaling = [t for t in rec.of_type(READER_SCALING) if t.inputs.get("resourceId") == f"cluster:{cluster.id}"]
        more = f"\nreaders scale {int(scaling[0].inputs['minCapacity'])} to {int(scaling[0].inputs['maxCapacity'])}"
        role = (
            "global secondary: reader endpoint, read-only until promoted" if secondary else "writer + reader endpoints"
        )
        picture.group(
            "vpc",
            endpoint,
            f"Aurora {cluster.inputs.get('engine', '')} {cluster.inputs.get('engineVersion', '')}\n{cluster.name}\n"
            f"{role}{more if scaling else ''}",
            "shape=cylinder",
            row="endpoints",
            region=box.name,
        )
        for client in clients:
            picture.link(client, endpoint, "SQL (reads)" if secondary else "SQL", TRAFFIC)
        writer, readers = (None, members) if secondary else (members[0], members[1:])
        for member in members:
            kind = "writer" if member is writer else "reader"
            label = f"Aurora {kind} (promotion tier {int(member.inputs.get('promotionTier', 1))})\n{member.name}\n"
            picture.place(
                str(member.inputs["availabilityZone"]),
                "data",
                ident(member.name),
                label + str(member.inputs.get("instanceClass", "")),
                "shape=cylinder",
            )
            picture.link(endpoint, ident(member.name), "writes" if member is writer else "reads", TRAFFIC)
        if writer is not None:
            for reader in readers:
                picture.link(ident(writer.name), ident(reader.name), "failover: promoted", FAILOVER)
    for primary in _sorted(rec, RDS_INSTANCE):
        zone = str(primary.inputs.get("availabilityZone", ""))
        if zone not in box.zones:
            continue
        node = ident(primary.name)
        picture.place(
            zone,
            "data",
            node,
            f"RDS {primary.inputs.get('engine', '')} {primary.inputs.get('engineVersion', '')} primary\n"
            f"{primary.name}\n{primary.inputs.get('instanceClass', '')}"
            f"{'' if primary.inputs.get('multiAz') else chr(10) + 'single-AZ: no standby'}",
            "shape=cylinder",
        )
        for client in clients:
            picture.link(client, node, "SQL", TRAFFIC)
        if primary.inputs.get("multiAz"):
            standby = ident(primary.name, "standby")
            picture.group(
                "vpc",
                standby,
                "Multi-AZ standby\n(synchronous, in another AZ RDS picks)",
                "shape=cylinder",
                row="data",
                region=box.name,
            )
            picture.link(node, standby, "failover: standby takes over", FAILOVER)


def _cache(rec: Recording, picture: Picture, clients: list[str], box: RegionBox) -> None:
    """The replication group's nodes in their zones: the first is the primary, the others replicas."""
    for group in _sorted(rec, CACHE):
        zones = [str(z) for z in group.inputs.get("preferredCacheClusterAzs", [])]
        if not set(zones) <= set(box.zones):
            continue
        endpoint = ident(group.name)
        failover = bool(group.inputs.get("automaticFailoverEnabled"))
        picture.group(
            "vpc",
            endpoint,
            f"ElastiCache {group.inputs.get('engine', '')} {group.inputs.get('engineVersion', '')}\n{group.name}\n"
            f"primary + reader endpoints, {'automatic failover' if failover else 'no automatic failover'}",
            "shape=cylinder",
            row="endpoints",
            region=box.name,
        )
        for client in clients:
            picture.link(client, endpoint, "cache-aside", TRAFFIC)
        nodes = [ident(group.name, str(i)) for i in range(len(zones))]
        for i, (zone, node) in enumerate(zip(zones, nodes, strict=True)):
            role = "primary" if i == 0 else "replica"
            label = f"cache {role}\n{group.inputs.get('nodeType', '')}"
            picture.place(zone, "data", node, label, "shape=cylinder")
            picture.link(endpoint, node, "reads and writes" if i == 0 else "reads", TRAFFIC)
        if failover:
            for replica in nodes[1:]:
                picture.link(nodes[0], replica, "failover: promoted", FAILOVER)


def _edge(rec: Recording, picture: Picture, alb: str | None, where: dict[str, str]) -> None:
    """Users -> CloudFront -> WAF -> origins; the origin group fails pages over to its second member (the
    maintenance origin, or the standby region's load balancer)."""
    for distribution in _sorted(rec, DISTRIBUTION):
        cdn = ident(distribution.name)
        picture.group("edge", "users", "users", "shape=oval", row="users")
        picture.group("edge", cdn, f"CloudFront distribution\n{distribution.name}", row="cdn")
        picture.link("users", cdn, "HTTPS", TRAFFIC)
        entry = cdn
        acl = [a for a in rec.of_type(WEB_ACL) if a.outputs.get("arn") == distribution.inputs.get("webAclId")]
        if acl:
            entry = ident(acl[0].name)
            picture.group("edge", entry, f"WAF web ACL\n{acl[0].name}", "shape=octagon", row="waf")
            picture.link(cdn, entry, "every request", TRAFFIC)
        origins = {str(o["originId"]): o for o in plain(distribution.inputs.get("origins", []))}
        targets = {
            origin_id: _origin(rec, picture, origin, alb, where) for origin_id, origin in sorted(origins.items())
        }
        paths = _paths_by_origin(distribution.inputs)
        for group in distribution.inputs.get("originGroups", []):
            group_node = ident(distribution.name, str(group["originId"]))
            primary, *secondaries = [str(m["originId"]) for m in group["members"]]
            codes = ", ".join(str(int(c)) for c in group["failoverCriteria"]["statusCodes"])
            label = f"origin group {group['originId']}\n{primary} first"
            picture.group("edge", group_node, label, "shape=diamond", row="origin group")
            picture.link(entry, group_node, ", ".join(paths.pop(str(group["originId"]), [])), TRAFFIC)
            picture.link(group_node, targets[primary], "primary", TRAFFIC)
            for secondary in secondaries:
                picture.link(group_node, targets[secondary], f"failover on {codes}", FAILOVER)
        for origin_id, patterns in sorted(paths.items()):
            picture.link(entry, targets[origin_id], ", ".join(patterns), TRAFFIC)


def _paths_by_origin(inputs: dict[str, Any]) -> dict[str, list[str]]:
    """Origin id -> the path patterns CloudFront sends to it ("default" for the default behaviour)."""
    paths: dict[str, list[str]] = {}
    for behaviour in inputs.get("orderedCacheBehaviors", []):
        paths.setdefault(str(behaviour["targetOriginId"]), []).append(str(behaviour["pathPattern"]))
    default = inputs.get("defaultCacheBehavior", {})
    if default:
        paths.setdefault(str(default["targetOriginId"]), []).append("default (*)")
    return paths


def _origin(rec: Recording, picture: Picture, origin: dict[str, Any], alb: str | None, where: dict[str, str]) -> str:
    """The node an origin reaches: the static bucket, the maintenance function, a load balancer by its DNS name or
    the Route 53 name that aliases it (a failover name: its own node), or the stack's load balancer (through a
    CloudFront VPC origin when it is internal)."""
    domain = str(origin.get("domainName", ""))
    for bucket in rec.of_type(BUCKET):
        if bucket.outputs.get("bucketRegionalDomainName") == domain:
            return _bucket(picture, bucket, where, "S3 bucket\n{}\n(origin access control)")
    for url in rec.of_type(FUNCTION_URL):
        if domain and domain in str(url.outputs.get("functionUrl", "")):
            node = ident(url.name)
            label = f"maintenance page\nLambda function URL {url.name}"
            picture.group("region", node, label, "shape=note", row="origins", region=where[url.urn])
            return node
    if alb is None:
        raise ValueError(f"origin {origin.get('originId')} ({domain}) matches no declared bucket, function or ALB")
    vpc_origins = [v for v in rec.of_type(VPC_ORIGIN) if "vpcOriginConfig" in origin]
    if vpc_origins:
        node = ident(vpc_origins[0].name)
        if not picture.has(node):
            label = f"CloudFront VPC origin\n{vpc_origins[0].name}\n(private path to the ALB)"
            picture.group("edge", node, label, row="origins")
            picture.link(node, alb, "HTTP inside AWS", TRAFFIC)
        return node
    return _named(rec, picture, domain) or alb


def _dns(name: Any) -> str:
    """A DNS name as compared: lower case, no trailing dot, no ELB "dualstack." prefix."""
    return str(name).lower().rstrip(".").removeprefix("dualstack.")


def _named(rec: Recording, picture: Picture, domain: str) -> str | None:
    """The drawn load balancer a DNS name reaches: its own name, or a Route 53 alias to it; for a failover name (a
    PRIMARY and a SECONDARY record), a node for the name with an edge to each region's load balancer (Route 53
    Developer Guide, "Active-active and active-passive failover": "Route 53 includes only the healthy primary
    resources. If all the primary resources are unhealthy, Route 53 begins to include only the healthy secondary
    resources")."""
    albs = {_dns(a.outputs.get("dnsName")): ident(a.name) for a in rec.of_type(ALB) if picture.has(ident(a.name))}
    if _dns(domain) in albs:
        return albs[_dns(domain)]
    records = [
        r for r in _sorted(rec, RECORD) if _dns(r.inputs.get("name", "")) == _dns(domain) and r.inputs.get("aliases")
    ]
    failover = sorted(
        (r for r in records if r.inputs.get("failoverRoutingPolicies")),
        key=lambda r: str(r.inputs["failoverRoutingPolicies"][0]["type"]) != "PRIMARY",
    )
    if not failover:
        found = [
            albs[_dns(r.inputs["aliases"][0]["name"])] for r in records if _dns(r.inputs["aliases"][0]["name"]) in albs
        ]
        return found[0] if found else None
    node = ident("route53", _dns(domain))
    if not picture.has(node):
        picture.group("edge", node, f"Route 53 failover name\n{_dns(domain)}", "shape=component", row="origins")
        for record in failover:
            target = albs.get(_dns(record.inputs["aliases"][0]["name"]))
            if target is None:
                continue
            if str(record.inputs["failoverRoutingPolicies"][0]["type"]) == "PRIMARY":
                picture.link(node, target, f"PRIMARY while {_health_check(rec, record)} passes", TRAFFIC)
            else:
                picture.link(node, target, "SECONDARY: when the primary is unhealthy", FAILOVER)
    return node


def _health_check(rec: Recording, record: RecordedResource) -> str:
    """What a record's Route 53 health check probes (protocol, name, path), or that it has none."""
    checks = [
        c for c in rec.of_type("aws:route53/healthCheck:HealthCheck") if c.id == record.inputs.get("healthCheckId")
    ]
    if not checks:
        return "its alias target's health"
    check = checks[0].inputs
    return f"health check {str(check.get('type', '')).lower()}://{check.get('fqdn', '')}{check.get('resourcePath', '')}"


def _bucket(picture: Picture, bucket: RecordedResource, where: dict[str, str], label: str) -> str:
    """A bucket's node (drawn once) in its region's box, on the origins row; `label` has {} for its name."""
    node = ident(bucket.name)
    if not picture.has(node):
        picture.group(
            "region", node, label.format(bucket.name), "shape=folder", row="origins", region=where[bucket.urn]
        )
    return node


def _zonal_shift(rec: Recording, picture: Picture, alb: str | None, box: RegionBox) -> None:
    """ARC zonal shift, when the load balancer is registered for it (enableZonalShift), and autoshift's status."""
    balancers = [b for b in _sorted(rec, ALB) if b.inputs.get("enableZonalShift") and ident(b.name) == alb]
    if alb is None or not balancers:
        return
    configs = [c for c in _sorted(rec, AUTOSHIFT) if c.inputs.get("resourceArn") == balancers[0].outputs.get("arn")]
    status = str(configs[0].inputs.get("zonalAutoshiftStatus", "")).lower() if configs else "not configured"
    node = ident(balancers[0].name, "zonal_shift")
    label = f"ARC zonal shift\n(load balancer registered)\nautoshift {status}"
    picture.group("region", node, label, "shape=hexagon", row="load balancer", region=box.name)
    picture.link(node, alb, "failover: shift traffic away from an impaired AZ", FAILOVER)


def _global_database(rec: Recording, picture: Picture, where: dict[str, str], home: str) -> None:
    """An Aurora global database: its primary cluster (the stack's region) replicates to each secondary cluster.

    Aurora User Guide, "Using Amazon Aurora Global Database": "one primary AWS Region where your data is written,
    and up to 10 read-only secondary AWS Regions"; Aurora replicates to them "with typical latency of under a
    second", using dedicated infrastructure."""
    for world in _sorted(rec, GLOBAL_CLUSTER):
        names = {world.id, str(world.inputs.get("globalClusterIdentifier", ""))}
        members = [
            c
            for c in _sorted(rec, AURORA_CLUSTER)
            if str(c.inputs.get("globalClusterIdentifier", "")) in names and picture.has(ident(c.name))
        ]
        primaries = [c for c in members if where[c.urn] == home]
        if len(primaries) != 1:
            continue
        name = world.inputs.get("globalClusterIdentifier", world.name)
        label = f"Aurora Global Database {name}\nreplication, typically under 1 s"
        for secondary in [c for c in members if c is not primaries[0]]:
            picture.link(ident(primaries[0].name), ident(secondary.name), label, COPY)


def _replication(rec: Recording, picture: Picture, where: dict[str, str]) -> None:
    """S3 replication: each enabled rule from its source bucket to its destination bucket, with Replication Time
    Control's objective when the rule turns it on (S3 User Guide, "Meeting compliance requirements with S3
    Replication Time Control": S3 RTC "replicates 99.99 percent of these objects within 15 minutes")."""
    buckets = list(rec.of_type(BUCKET))
    for config in _sorted(rec, BUCKET_REPLICATION):
        sources = [b for b in buckets if config.inputs.get("bucket") in (b.id, b.outputs.get("bucket"))]
        if not sources:
            continue
        for rule in sorted(config.inputs.get("rules", []), key=lambda r: str(r.get("id", ""))):
            destination = rule.get("destination", {})
            targets = [b for b in buckets if b.outputs.get("arn") == destination.get("bucket")]
            if rule.get("status") != "Enabled" or not targets:
                continue
            source = _bucket(picture, sources[0], where, "S3 bucket\n{}")
            target = _bucket(picture, targets[0], where, "S3 bucket (replica)\n{}")
            timing = destination.get("replicationTime", {})
            within = (
                f"RTC: 99.99% within {int(timing.get('time', {}).get('minutes', 15))} min"
                if timing.get("status") == "Enabled"
                else "no time objective"
            )
            picture.link(source, target, f"S3 replication (rule {rule.get('id', '')})\n{within}", COPY)


def _backup_copies(rec: Recording, picture: Picture, where: dict[str, str]) -> None:
    """AWS Backup plans whose rules copy each recovery point into a vault of another region: database -> plan ->
    that vault."""
    databases = {
        str(r.outputs.get(key) or r.id): ident(r.name)
        for typ, key in ((AURORA_CLUSTER, "clusterIdentifier"), (RDS_INSTANCE, "identifier"))
        for r in rec.of_type(typ)
        if picture.has(ident(r.name))
    }
    vaults = {str(v.outputs.get("arn")): v for v in rec.of_type(BACKUP_VAULT)}
    for plan in _sorted(rec, BACKUP_PLAN):
        copies = [
            (rule, action)
            for rule in plan.inputs.get("rules", [])
            for action in rule.get("copyActions", [])
            if str(action.get("destinationVaultArn")) in vaults
            and where[vaults[str(action["destinationVaultArn"])].urn] != where[plan.urn]
        ]
        chosen = [s for s in rec.of_type(BACKUP_SELECTION) if s.inputs.get("planId") == plan.id]
        sources = sorted(
            {
                databases[i]
                for s in chosen
                for arn in s.inputs.get("resources", [])
                if (i := _last_part(arn)) in databases
            }
        )
        if not copies or not sources:
            continue
        node = ident(plan.name)
        schedules = ", ".join(sorted({str(rule.get("schedule", "")) for rule, _ in copies}))
        picture.group(
            "region",
            node,
            f"AWS Backup plan\n{plan.name}\n{schedules}",
            "shape=note",
            row="origins",
            region=where[plan.urn],
        )
        for source in sources:
            picture.link(source, node, "recovery points", COPY)
        for rule, action in copies:
            vault = vaults[str(action["destinationVaultArn"])]
            target = ident(vault.name)
            if not picture.has(target):
                label = f"AWS Backup vault (copies)\n{vault.name}"
                picture.group("region", target, label, "shape=folder", row="origins", region=where[vault.urn])
            days = action.get("lifecycle", {}).get("deleteAfter")
            kept = f", kept {int(days)} days" if days else ""
            label = f"copy of each recovery point\n(rule {rule.get('ruleName', '')}{kept})"
            picture.link(node, target, label, COPY)


def _last_part(arn: Any) -> str:
    """The identifier at the end of an ARN (after its last ':' or '/')."""
    return str(arn).rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def sha256(text: str) -> str:
    """The hex sha256 of a DOT text, as the SVG's comment carries it."""
    return hashlib.sha256(text.encode()).hexdigest()


def svg_sha256(svg: str) -> str | None:
    """The DOT sha256 an SVG says it was rendered from."""
    prefix, _, rest = SHA_COMMENT.partition("{}")
    start = svg.find(prefix)
    if start < 0:
        return None
    return svg[start + len(prefix) :].split(rest, 1)[0]


def render(dot_text: str) -> str:
    """The SVG Graphviz's dot renders, with the DOT's sha256 in a comment after the XML declaration."""
    binary = shutil.which("dot")
    if binary is None:
        raise FileNotFoundError("Graphviz's dot is not installed: `make docs` installs it (Debian package graphviz)")
    svg = subprocess.run([binary, "-Tsvg"], input=dot_text, capture_output=True, text=True, check=True).stdout
    head, _, body = svg.partition("\n")
    return f"{head}\n{SHA_COMMENT.format(sha256(dot_text))}\n{body}"


def write(stack: str, directory: Path = PICTURES, root: Path = ROOT) -> tuple[Path, Path]:
    """Regenerate <stack>.dot and <stack>.svg."""
    text = draw(declared(stack, root), stack)
    directory.mkdir(parents=True, exist_ok=True)
    dot_path, svg_path = directory / f"{stack}.dot", directory / f"{stack}.svg"
    dot_path.write_text(text)
    svg_path.write_text(render(text))
    return dot_path, svg_path


def main(argv: list[str] | None = None) -> int:
    """Draw the named stacks (default: dev and prod)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="*", default=list(STACKS))
    for stack in parser.parse_args(argv).stacks:
        for path in write(stack):
            print(f"architecture: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
