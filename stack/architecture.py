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

Blue edges are the request path, red dashed edges the failover paths. The DOT text is deterministic (every list is
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
SHA_COMMENT = "<!-- dot-sha256: {} -->"
LEVELS = ("users", "cdn", "waf", "origin group", "origins", "load balancer", "public", "app", "endpoints", "data")
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


@dataclass
class Picture:
    """Nodes placed per (zone, tier) subnet or in a named group, and edges; rendered as DOT."""

    title: str
    subnets: list[Subnet]
    in_subnet: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    in_group: dict[str, list[str]] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)
    rows: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for subnet in self.subnets:  # each subnet's range on its tier's row
            self.rows.setdefault(subnet.tier, []).append(ident(subnet.name, "range"))

    @property
    def zones(self) -> list[str]:
        """The zones the stack's subnets span, in order."""
        return sorted({s.zone for s in self.subnets})

    def place(self, zone: str, tier: str, node_id: str, label: str, attrs: str = "") -> None:
        """A node inside the subnet of this tier in this zone (on that tier's row)."""
        self.in_subnet.setdefault((zone, tier), []).append(_node(node_id, label, attrs))
        self.rows.setdefault(tier, []).append(node_id)

    def group(self, group: str, node_id: str, label: str, attrs: str = "", *, row: str) -> None:
        """A node in a group ("edge": global services, "region" or "vpc"), on one of the LEVELS rows."""
        self.in_group.setdefault(group, []).append(_node(node_id, label, attrs))
        self.rows.setdefault(row, []).append(node_id)

    def has(self, node_id: str) -> bool:
        """True when a node of this id is drawn."""
        return any(node_id in ids for ids in self.rows.values())

    def link(self, tail: str, head: str, label: str, style: str) -> None:
        """An edge; `style` is TRAFFIC or FAILOVER."""
        self.edges.append(f"{tail} -> {head} [label={quoted(label)}, {style}];")

    def dot(self, region: str, vpc_label: str) -> str:
        """The whole graph as DOT text."""
        lines = [
            f"digraph {quoted(self.title)} {{",
            f"  graph [label={quoted(self.title + chr(10) + 'blue: request path   red dashed: failover path')}, "
            'labelloc=t, fontname="Helvetica", fontsize=14, compound=true, newrank=true, nodesep=0.3, ranksep=0.45];',
            '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
            *_cluster("edge", "Global edge (CloudFront)", self.in_group.get("edge", []), "#f6f8fa", 1),
            "  subgraph cluster_region {",
            f'    label={quoted("Region " + region)}; style=rounded; color="#57606a";',
            *(f"    {line}" for line in self.in_group.get("region", [])),
            "    subgraph cluster_vpc {",
            f'      label={quoted(vpc_label)}; style=rounded; color="#8250df";',
            *(f"      {line}" for line in self.in_group.get("vpc", [])),
            *self._zones(indent=3),
            "    }",
            "  }",
            *(f"  {edge}" for edge in self.edges),
            *(f"  {{rank=same; {'; '.join(self.rows[row])};}}" for row in LEVELS if self.rows.get(row)),
            *self._zone_order(),
            "}",
            "",
        ]
        return "\n".join(lines)

    def _zone_order(self) -> Iterator[str]:
        """Invisible edges between the zones' public subnets, so the zones stand left to right in order."""
        firsts = [ident(s.name, "range") for s in self.subnets if s.tier == TIERS[0]]
        if len(firsts) > 1:
            yield f"  {' -> '.join(firsts)} [style=invis];"

    def _zones(self, indent: int) -> Iterator[str]:
        pad = "  " * indent
        by_zone = {s.zone: s.zone_id for s in self.subnets}
        for zone in self.zones:
            yield f"{pad}subgraph {ident(zone, prefix='cluster')} {{"
            yield f'{pad}  label={quoted(f"{zone} ({by_zone[zone]})")}; style=rounded; color="#2da44e";'
            column = []
            for subnet in [s for s in self.subnets if s.zone == zone]:
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


def draw(rec: Recording, stack: str) -> str:
    """The stack's picture as DOT text."""
    # The stack's own region: its default provider's subnets. A standby region (the dr setting, declared through
    # another provider) is named in the title, not drawn: it would need a region box of its own.
    home = sorted({str(r.inputs["availabilityZone"])[:-1] for r in rec.of_type(SUBNET) if not r.provider})
    if len(home) != 1:
        raise ValueError(f"the picture draws the subnets of one region; {stack} declares them in {home or 'none'}")
    (region,) = home
    everywhere = subnets(rec)
    nets = [s for s in everywhere if s.zone[:-1] == region]
    zone_of = {s.id: s for s in nets}
    others = sorted({s.zone[:-1] for s in everywhere} - {region})
    title = f"ha-stack {stack}: {len({s.zone for s in nets})} AZs in {region}"
    if others:
        title += f" (standby region {', '.join(others)} declared, not drawn)"
    picture = Picture(title, nets)
    _network(rec, picture, zone_of)
    alb = _web(rec, picture, zone_of)
    clients = _instances(rec, picture, zone_of, alb)
    _database(rec, picture, clients)
    _cache(rec, picture, clients)
    _edge(rec, picture, alb)
    _zonal_shift(rec, picture, alb)
    vpc_label = " ".join(["VPC", *(str(v.inputs.get("cidrBlock", "")) for v in _sorted(rec, VPC))])
    return picture.dot(region, vpc_label)


def _network(rec: Recording, picture: Picture, zone_of: dict[str, Subnet]) -> None:
    """NAT gateways in their public subnets."""
    for nat in [n for n in _sorted(rec, NAT) if str(n.inputs["subnetId"]) in zone_of]:
        subnet = zone_of[str(nat.inputs["subnetId"])]
        picture.place(subnet.zone, subnet.tier, ident(nat.name), f"NAT gateway\n{nat.name}")


def _web(rec: Recording, picture: Picture, zone_of: dict[str, Subnet]) -> str | None:
    """The load balancer (one node: it spans its subnets' zones); returns its node id."""
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


def _database(rec: Recording, picture: Picture, clients: list[str]) -> None:
    """Aurora (writer, readers by promotion tier) or RDS (primary, Multi-AZ standby)."""
    for cluster in _sorted(rec, AURORA_CLUSTER):
        members = sorted(
            (r for r in rec.of_type(AURORA_INSTANCE) if r.inputs.get("clusterIdentifier") == cluster.id),
            key=lambda r: (int(r.inputs.get("promotionTier", 1)), r.name),
        )
        if not members or any(str(m.inputs["availabilityZone"]) not in picture.zones for m in members):
            continue  # another region's cluster
        endpoint = ident(cluster.name)
        scaling = [t for t in rec.of_type(READER_SCALING) if t.inputs.get("resourceId") == f"cluster:{cluster.id}"]
        more = f"\nreaders scale {int(scaling[0].inputs['minCapacity'])} to {int(scaling[0].inputs['maxCapacity'])}"
        picture.group(
            "vpc",
            endpoint,
            f"Aurora {cluster.inputs.get('engine', '')} {cluster.inputs.get('engineVersion', '')}\n{cluster.name}\n"
            f"writer + reader endpoints{more if scaling else ''}",
            "shape=cylinder",
            row="endpoints",
        )
        for client in clients:
            picture.link(client, endpoint, "SQL", TRAFFIC)
        writer, readers = members[0], members[1:]
        for member in members:
            role = "writer" if member is writer else "reader"
            label = f"Aurora {role} (promotion tier {int(member.inputs.get('promotionTier', 1))})\n{member.name}\n"
            picture.place(
                str(member.inputs["availabilityZone"]),
                "data",
                ident(member.name),
                label + str(member.inputs.get("instanceClass", "")),
                "shape=cylinder",
            )
            picture.link(endpoint, ident(member.name), "writes" if member is writer else "reads", TRAFFIC)
        for reader in readers:
            picture.link(ident(writer.name), ident(reader.name), "failover: promoted", FAILOVER)
    for primary in _sorted(rec, RDS_INSTANCE):
        zone = str(primary.inputs.get("availabilityZone", ""))
        if zone not in picture.zones:
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
                "vpc", standby, "Multi-AZ standby\n(synchronous, in another AZ RDS picks)", "shape=cylinder", row="data"
            )
            picture.link(node, standby, "failover: standby takes over", FAILOVER)


def _cache(rec: Recording, picture: Picture, clients: list[str]) -> None:
    """The replication group's nodes in their zones: the first is the primary, the others replicas."""
    for group in _sorted(rec, CACHE):
        zones = [str(z) for z in group.inputs.get("preferredCacheClusterAzs", [])]
        if not set(zones) <= set(picture.zones):
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


def _edge(rec: Recording, picture: Picture, alb: str | None) -> None:
    """Users -> CloudFront -> WAF -> origins; the origin group fails pages over to the maintenance origin."""
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
        targets = {origin_id: _origin(rec, picture, origin, alb) for origin_id, origin in sorted(origins.items())}
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


def _origin(rec: Recording, picture: Picture, origin: dict[str, Any], alb: str | None) -> str:
    """The node an origin reaches: the static bucket, the maintenance function, or the load balancer (through a
    CloudFront VPC origin when it is internal)."""
    domain = str(origin.get("domainName", ""))
    for bucket in rec.of_type(BUCKET):
        if bucket.outputs.get("bucketRegionalDomainName") == domain:
            node = ident(bucket.name)
            label = f"S3 bucket\n{bucket.name}\n(origin access control)"
            picture.group("region", node, label, "shape=folder", row="origins")
            return node
    for url in rec.of_type(FUNCTION_URL):
        if domain and domain in str(url.outputs.get("functionUrl", "")):
            node = ident(url.name)
            label = f"maintenance page\nLambda function URL {url.name}"
            picture.group("region", node, label, "shape=note", row="origins")
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
    return alb


def _zonal_shift(rec: Recording, picture: Picture, alb: str | None) -> None:
    """ARC zonal shift, when the load balancer is registered for it (enableZonalShift), and autoshift's status."""
    balancers = [b for b in _sorted(rec, ALB) if b.inputs.get("enableZonalShift") and ident(b.name) == alb]
    if alb is None or not balancers:
        return
    configs = [c for c in _sorted(rec, AUTOSHIFT) if c.inputs.get("resourceArn") == balancers[0].outputs.get("arn")]
    status = str(configs[0].inputs.get("zonalAutoshiftStatus", "")).lower() if configs else "not configured"
    node = ident(balancers[0].name, "zonal_shift")
    label = f"ARC zonal shift\n(load balancer registered)\nautoshift {status}"
    picture.group("region", node, label, "shape=hexagon", row="load balancer")
    picture.link(node, alb, "failover: shift traffic away from an impaired AZ", FAILOVER)


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
