"""HA facts per tier, read off a Recording: AZs covered, redundancy, single points of failure.

The preview prints these, and the stack tests assert on the same facts, so what a user reads in the
preview is what the tests prove.
"""

from dataclasses import dataclass, field

from ha_stack.monitoring import TIERS as ALARM_TIERS
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
    if services := _interface_services(rec):
        summary.facts.append(f"AWS APIs reached through interface endpoints: {', '.join(services)}")
    for zone, nat in sorted(f.app_egress.items()):
        if nat is not None and nat != zone:
            summary.single_points_of_failure.append(f"app egress in {zone} depends on the NAT in {nat}")
    return summary


def _interface_services(rec: Recording) -> list[str]:
    """Services with an interface endpoint ("com.amazonaws.us-east-1.ecr.api" -> "ecr.api")."""
    return sorted(
        str(e.inputs["serviceName"]).split(".", 3)[3]
        for e in rec.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs.get("vpcEndpointType") == "Interface"
    )


def _subnet_zones(rec: Recording, subnet_ids: list[str]) -> list[str]:
    subnets = {s.id: s for s in rec.of_type(SUBNET)}
    return sorted(str(subnets[i].inputs["availabilityZone"]) for i in subnet_ids if i in subnets)


@dataclass(frozen=True)
class WebFacts:
    """The web tier's shape: where the ALB and instances are, capacity, scaling, and how clients reach it."""

    alb_zones: list[str]
    instance_zones: list[str]
    min_size: int
    max_size: int
    desired_capacity: int
    health_check_type: str
    scaling: list[str]
    listeners: list[str]
    open_to: str
    internal: bool


def web_facts(rec: Recording) -> WebFacts:
    """Follow the ALB's and the Auto Scaling group's subnets to their zones; read capacity, policies, listeners."""
    (alb,) = rec.of_type("aws:lb/loadBalancer:LoadBalancer")
    (group,) = rec.of_type("aws:autoscaling/group:Group")
    scaling = []
    for policy in rec.of_type("aws:autoscaling/policy:Policy"):
        config = policy.inputs.get("targetTrackingConfiguration", {})
        metric = config.get("predefinedMetricSpecification", {}).get("predefinedMetricType", "?")
        scaling.append(f"{metric} {int(config.get('targetValue', 0))}")
    listeners = [
        f"{int(listener.inputs['port'])} {listener.inputs['protocol']}"
        + (" -> redirect" if listener.inputs["defaultActions"][0]["type"] == "redirect" else "")
        for listener in rec.of_type("aws:lb/listener:Listener")
    ]
    alb_sg = set(alb.inputs["securityGroups"])
    sources = [
        "CloudFront prefix list" if rule.inputs.get("prefixListId") else str(rule.inputs.get("cidrIpv4"))
        for rule in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if rule.inputs["securityGroupId"] in alb_sg
    ]
    return WebFacts(
        alb_zones=_subnet_zones(rec, alb.inputs["subnets"]),
        instance_zones=_subnet_zones(rec, group.inputs["vpcZoneIdentifiers"]),
        min_size=int(group.inputs["minSize"]),
        max_size=int(group.inputs["maxSize"]),
        desired_capacity=int(group.inputs["desiredCapacity"]),
        health_check_type=str(group.inputs["healthCheckType"]),
        scaling=sorted(scaling),
        listeners=sorted(listeners),
        open_to=", ".join(sorted(set(sources))),
        internal=bool(alb.inputs.get("internal", False)),
    )


def web_summary(rec: Recording) -> TierSummary:
    """AZ spread of the ALB and the instances, capacity and scaling, and whether clients get HTTPS."""
    f = web_facts(rec)
    summary = TierSummary("web", f.instance_zones)
    summary.facts += [
        f"{'internal' if f.internal else 'internet-facing'} load balancer in {len(f.alb_zones)} AZs; "
        f"instances in {len(f.instance_zones)} AZs",
        f"capacity min {f.min_size} / desired {f.desired_capacity} / max {f.max_size}, "
        f"{f.health_check_type} health checks",
        f"scaling: target tracking on {', '.join(f.scaling) or 'nothing'}",
        f"listeners: {', '.join(f.listeners)}; load balancer open to {f.open_to}",
    ]
    if not any("HTTPS" in listener for listener in f.listeners):
        summary.facts.append("HTTP only: no domain, so no certificate (set ha-stack:domain for HTTPS)")
    if len(f.alb_zones) < 2 or len(f.instance_zones) < 2:
        summary.single_points_of_failure.append("the web tier is in one AZ")
    if f.min_size < len(f.instance_zones):
        summary.single_points_of_failure.append(
            f"min_size {f.min_size} leaves some of the {len(f.instance_zones)} AZs without an instance"
        )
    return summary


@dataclass(frozen=True)
class DatabaseFacts:
    """The database's shape: engine, where the writer and readers are, and how the data is kept."""

    engine: str
    writer_zone: str | None
    reader_zones: list[str]
    multi_az: bool
    encrypted: bool
    customer_managed_key: bool
    backup_retention_days: int
    deletion_protection: bool
    protected: bool


def database_facts(rec: Recording) -> DatabaseFacts:
    """Read Aurora clusters and instances, or an RDS primary and its replicas."""
    clusters = rec.of_type("aws:rds/cluster:Cluster")
    if clusters:
        (cluster,) = clusters
        members = sorted(
            rec.of_type("aws:rds/clusterInstance:ClusterInstance"), key=lambda i: i.inputs["promotionTier"]
        )
        writer, readers, holder = members[0], members[1:], cluster
        multi_az = len({m.inputs["availabilityZone"] for m in members}) > 1
    else:
        instances = rec.of_type("aws:rds/instance:Instance")
        (writer,) = [i for i in instances if not i.inputs.get("replicateSourceDb")]
        readers = [i for i in instances if i.inputs.get("replicateSourceDb")]
        holder, multi_az = writer, bool(writer.inputs.get("multiAz"))
    return DatabaseFacts(
        engine=str(holder.inputs["engine"]),
        writer_zone=writer.inputs.get("availabilityZone"),
        reader_zones=sorted(str(r.inputs["availabilityZone"]) for r in readers),
        multi_az=multi_az,
        encrypted=bool(holder.inputs.get("storageEncrypted")),
        customer_managed_key=bool(holder.inputs.get("kmsKeyId")),
        backup_retention_days=int(holder.inputs["backupRetentionPeriod"]),
        deletion_protection=bool(holder.inputs.get("deletionProtection")),
        protected=holder.protect,
    )


def database_summary(rec: Recording) -> TierSummary:
    """Where the writer and readers run, whether a standby takes over, and how the data is kept."""
    f = database_facts(rec)
    zones = sorted({z for z in [f.writer_zone, *f.reader_zones] if z})
    summary = TierSummary("database", zones)
    writer = f"writer in {f.writer_zone}" if f.writer_zone else "primary with a standby in a second AZ (AWS picks both)"
    summary.facts += [
        f"{f.engine}: {writer}; {len(f.reader_zones)} reader(s) in {', '.join(f.reader_zones) or 'no AZ'}",
        f"encrypted with {'a customer-managed KMS key' if f.customer_managed_key else 'the AWS-managed key'}; "
        f"backups kept {f.backup_retention_days} days; deletion protection {'on' if f.deletion_protection else 'off'}"
        + ("; Pulumi protect on" if f.protected else ""),
    ]
    if not f.multi_az:
        summary.single_points_of_failure.append("the database runs in one AZ: losing it stops writes until a restore")
    return summary


@dataclass(frozen=True)
class CacheFacts:
    """The cache's shape: node zones, failover, encryption."""

    engine: str
    node_zones: list[str]
    automatic_failover: bool
    multi_az: bool
    encrypted_at_rest: bool
    tls_required: bool


def cache_facts(rec: Recording) -> CacheFacts:
    """Read the replication group."""
    (group,) = rec.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    i = group.inputs
    return CacheFacts(
        engine=f"{i['engine']} {i['engineVersion']}",
        node_zones=list(i["preferredCacheClusterAzs"]),
        automatic_failover=bool(i.get("automaticFailoverEnabled")),
        multi_az=bool(i.get("multiAzEnabled")),
        encrypted_at_rest=bool(i.get("atRestEncryptionEnabled")),
        # Without a mode (Redis OSS 6, which takes none) TLS set at creation is the only way in.
        tls_required=bool(i.get("transitEncryptionEnabled"))
        and i.get("transitEncryptionMode", "required") == "required",
    )


def cache_summary(rec: Recording) -> TierSummary:
    """Where the nodes are and whether a replica takes over on its own."""
    f = cache_facts(rec)
    summary = TierSummary("cache", sorted(set(f.node_zones)))
    summary.facts += [
        f"{f.engine}: {len(f.node_zones)} node(s), primary in {f.node_zones[0]}",
        f"automatic failover {'on' if f.automatic_failover else 'off'}, Multi-AZ {'on' if f.multi_az else 'off'}; "
        f"encrypted at rest: {f.encrypted_at_rest}; TLS required: {f.tls_required}",
    ]
    if not f.automatic_failover:
        summary.single_points_of_failure.append(
            "one cache node: losing it empties the cache (the service falls back to the database)"
        )
    return summary


@dataclass(frozen=True)
class EdgeFacts:
    """What stands in front of the load balancer."""

    aliases: list[str]
    price_class: str
    viewer_policy: str
    minimum_tls: str
    waf_rules: list[str]
    origin_failover: list[str]
    api_paths: list[str]
    health_check: str
    alb_origin: str


def _alb_origin(cdn: RecordedResource) -> str:
    """How CloudFront reaches the load balancer: through a VPC origin, or over the internet with which protocol."""
    origins = cdn.inputs["origins"]
    listed = origins["secret"] if isinstance(origins, dict) else origins
    (alb,) = [o for o in listed if o["originId"] == "alb"]
    if alb.get("vpcOriginConfig"):
        return "through a VPC origin (inside AWS's network, no public address)"
    return f"over the internet, {alb['customOriginConfig']['originProtocolPolicy']}"


def edge_facts(rec: Recording) -> EdgeFacts:
    """Read the distribution (origin groups, API behaviours), its web ACL and the health check."""
    (cdn,) = rec.of_type("aws:cloudfront/distribution:Distribution")
    acls = rec.of_type("aws:wafv2/webAcl:WebAcl")
    (check,) = rec.of_type("aws:route53/healthCheck:HealthCheck")
    failover = [
        f"{' -> '.join(m['originId'] for m in group['members'])} on "
        f"{'/'.join(str(int(code)) for code in group['failoverCriteria']['statusCodes'])}"
        for group in cdn.inputs.get("originGroups") or []
    ]
    certificate = cdn.inputs["viewerCertificate"]
    return EdgeFacts(
        aliases=list(cdn.inputs.get("aliases") or []),
        price_class=str(cdn.inputs["priceClass"]),
        viewer_policy=str(cdn.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"]),
        minimum_tls=str(certificate.get("minimumProtocolVersion", "CloudFront default certificate")),
        waf_rules=[str(rule["name"]) for acl in acls for rule in acl.inputs["rules"]],
        origin_failover=failover,
        api_paths=[
            str(b["pathPattern"]) for b in cdn.inputs.get("orderedCacheBehaviors") or [] if b["targetOriginId"] == "alb"
        ],
        health_check=f"{check.inputs['type']} {check.inputs['fqdn']}{check.inputs['resourcePath']}",
        alb_origin=_alb_origin(cdn),
    )


def edge_summary(rec: Recording) -> TierSummary:
    """CloudFront, WAF and origin failover: global, so no AZs of its own."""
    f = edge_facts(rec)
    summary = TierSummary("edge", [])
    summary.facts += [
        f"CloudFront {f.price_class} for {', '.join(f.aliases) or 'its cloudfront.net name'}; viewers "
        f"{f.viewer_policy}, minimum TLS {f.minimum_tls}",
        f"WAF: {', '.join(f.waf_rules) or 'none'}",
        f"pages fail over {', '.join(f.origin_failover) or 'nowhere'}; API paths straight to the origin: "
        f"{', '.join(f.api_paths) or 'none'}",
        f"health check (alarms only) {f.health_check}",
        f"load balancer reached {f.alb_origin}",
    ]
    if not f.waf_rules:
        summary.facts.append("no WAF: SQL injection, XSS and floods reach the load balancer")
    return summary


def alarms_by_tier(rec: Recording) -> dict[str, list[str]]:
    """Alarm child names (without the component prefix) per tier, tiers front to back, names sorted."""
    tiers: dict[str, list[str]] = {tier: [] for tier in ALARM_TIERS}
    for alarm in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        tiers[str(alarm.inputs["tags"]["ha-stack:tier"])].append(alarm.name.split("-", 1)[1])
    return {tier: sorted(names) for tier, names in tiers.items() if names}


def monitoring_summary(rec: Recording) -> TierSummary:
    """The alarms of each tier, where they notify, and the audit trail."""
    summary = TierSummary("monitoring", [])
    for tier, names in alarms_by_tier(rec).items():
        summary.facts.append(f"{tier} alarms ({len(names)}): {', '.join(names)}")
    composites = rec.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    summary.facts.append(f"composite: {', '.join(str(c.inputs['alarmName']) for c in composites) or 'none'}")
    subscriptions = rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    emails = sorted({str(s.inputs["endpoint"]) for s in subscriptions})
    summary.facts.append(f"notifies: {', '.join(emails) or 'nobody (no alarm_emails): subscribe to the topic'}")
    trails = rec.of_type("aws:cloudtrail/trail:Trail")
    logs = {
        str(g.outputs.get("arn")): str(g.outputs.get("name", g.name))
        for g in rec.of_type("aws:cloudwatch/logGroup:LogGroup")
    }
    described = [
        f"{t.inputs['name']} (multi-region, validated, KMS; CloudWatch Logs "
        f"{logs.get(str(t.inputs.get('cloudWatchLogsGroupArn', '')).removesuffix(':*'), 'none')})"
        for t in trails
    ]
    off = "off (opt-in outside prod; an AWS Organizations trail may already record this account)"
    summary.facts.append("CloudTrail: " + (", ".join(described) or off))
    return summary


SUMMARIES = {
    "ha-stack:index:HaNetwork": network_summary,
    "ha-stack:index:HaWebTier": web_summary,
    "ha-stack:index:HaDatabase": database_summary,
    "ha-stack:index:HaCache": cache_summary,
    "ha-stack:index:HaEdge": edge_summary,
    "ha-stack:index:HaMonitoring": monitoring_summary,
}
"""Component type -> its summary; each new component adds its own."""


def summarize(rec: Recording) -> list[TierSummary]:
    """One summary per component present, in tier order (network, web, ...), whatever order they registered in."""
    present = {c.typ for c in rec.components()}
    return [summary(rec) for typ, summary in SUMMARIES.items() if typ in present]


def tier_rank(component_type: str) -> int:
    """Position of a component type in tier order; unknown types go last."""
    order = list(SUMMARIES)
    return order.index(component_type) if component_type in order else len(order)
