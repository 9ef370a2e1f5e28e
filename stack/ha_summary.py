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
PROVIDER = "pulumi:providers:aws"
HOURS_PER_MONTH = 730
"""AWS bills running resources by the hour; its pricing pages use 730 hours for a month."""


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
    write_origin: str | None = None
    """Domain of the origin the API behaviours that allow writes use with a standby (the Route 53 failover name)."""


WRITE_ORIGIN = "write"
"""HaEdge's origin id for write_origin_domain_name."""


def _origin_domain(cdn: RecordedResource, origin_id: str) -> str | None:
    origins = cdn.inputs["origins"]
    listed = origins["secret"] if isinstance(origins, dict) else origins
    return next((str(o["domainName"]) for o in listed if o["originId"] == origin_id), None)


def _alb_origin(cdn: RecordedResource) -> str:
    """How CloudFront reaches the load balancer: through a VPC origin, or over the internet with which protocol."""
    origins = cdn.inputs["origins"]
    listed = origins["secret"] if isinstance(origins, dict) else origins
    (alb,) = [o for o in listed if o["originId"] == "alb"]
    if alb.get("vpcOriginConfig"):
        return "through a VPC origin (inside AWS's network, no public address)"
    return f"over the internet, {alb['customOriginConfig']['originProtocolPolicy']}"


def _edge_health_check(rec: Recording, cdn: RecordedResource) -> RecordedResource | None:
    """The edge's own health check (a sibling of the distribution): a DR stack also has the regional DNS's."""
    checks = [c for c in rec.of_type("aws:route53/healthCheck:HealthCheck") if c.parent == cdn.parent]
    return checks[0] if checks else None


def edge_facts(rec: Recording) -> EdgeFacts:
    """Read the distribution (origin groups, API behaviours), its web ACL and the health check."""
    (cdn,) = rec.of_type("aws:cloudfront/distribution:Distribution")
    acls = rec.of_type("aws:wafv2/webAcl:WebAcl")
    check = _edge_health_check(rec, cdn)
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
            str(b["pathPattern"])
            for b in cdn.inputs.get("orderedCacheBehaviors") or []
            if b["targetOriginId"] in ("alb", WRITE_ORIGIN)
        ],
        write_origin=_origin_domain(cdn, WRITE_ORIGIN),
        health_check=f"{check.inputs['type']} {check.inputs['fqdn']}{check.inputs['resourcePath']}"
        if check
        else "none",
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
        *(
            [f"API paths go to {f.write_origin} (the Route 53 failover name): CloudFront never fails writes over"]
            if f.write_origin
            else []
        ),
        f"load balancer reached {f.alb_origin}",
    ]
    if not f.waf_rules:
        summary.facts.append("no WAF: SQL injection, XSS and floods reach the load balancer")
    return summary


def alarms_by_tier(rec: Recording) -> dict[str, list[str]]:
    """Alarm child names (without the component prefix) per tier, tiers front to back, names sorted."""
    tiers: dict[str, list[str]] = {tier: [] for tier in ALARM_TIERS}
    components = {c.urn: c.name for c in rec.components()}
    for alarm in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        owner = components.get(alarm.parent)
        key = alarm.name.removeprefix(f"{owner}-") if owner else alarm.name.split("-", 1)[1]
        tiers[str(alarm.inputs["tags"]["ha-stack:tier"])].append(key)
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


def provider_regions(rec: Recording) -> dict[str, str]:
    """Reference ("<urn>::<id>") of every explicit aws.Provider -> its region."""
    return {f"{p.urn}::{p.id}": str(p.inputs.get("region", "")) for p in rec.of_type(PROVIDER)}


def _region_of_parts(rec: Recording) -> dict[str, str | None]:
    """URN -> region of its explicit provider (None: the default provider, the stack's own region).

    A component takes the region of its cloud resources (children inherit the provider a component was given), so
    a component built with `opts=ResourceOptions(provider=<standby provider>)` belongs to the standby.
    """
    providers = provider_regions(rec)
    region: dict[str, str | None] = {
        r.urn: providers.get(r.provider) if r.provider else None for r in rec.resources if r.custom
    }
    children: dict[str, list[str]] = {}
    for r in rec.resources:
        children.setdefault(r.parent, []).append(r.urn)

    def of_component(urn: str) -> str | None:
        for child in children.get(urn, []):
            found = region[child] if child in region else of_component(child)
            if found is not None:
                return found
        return None

    for r in rec.resources:
        if not r.custom:
            region[r.urn] = of_component(r.urn)
    return region


def split_regions(rec: Recording) -> tuple[Recording, dict[str, Recording]]:
    """The stack's own region (default provider) and each other region (an explicit aws.Provider), each as a
    Recording of its resources, so every tier's facts are read per region. One-region stacks: (rec, {})."""
    if not rec.of_type(PROVIDER):
        return rec, {}
    region = _region_of_parts(rec)
    primary = Recording(
        [r for r in rec.resources if region.get(r.urn) is None and r.typ != PROVIDER], rec.exports, rec.invokes
    )
    others: dict[str, Recording] = {}
    for r in rec.resources:
        where = region.get(r.urn)
        if where and r.typ != PROVIDER:
            others.setdefault(where, Recording([], rec.exports, rec.invokes)).resources.append(r)
    return primary, others


@dataclass(frozen=True)
class StandbyFacts:
    """The standby region as the program declares it: what runs there and how the data gets there."""

    region: str
    approach: str
    fleet: str
    components: list[str]
    resource_count: int
    global_database: str
    replication: list[str]
    failover_records: list[str]
    cold: list[str]
    warm_inventory: list[str]
    """What is billed by the hour while the standby waits, with its hours per month."""


def _fleet(standby: Recording) -> tuple[str, str, int]:
    """The standby group's approach, its capacity line and its minimum."""
    groups = standby.of_type("aws:autoscaling/group:Group")
    if not groups:
        return "no fleet", "no Auto Scaling group", 0
    (group,) = groups
    low, high = int(group.inputs["minSize"]), int(group.inputs["maxSize"])
    desired = int(group.inputs.get("desiredCapacity", low))
    approach = "pilot light" if low == 0 else "warm standby"
    return approach, f"min {low} / desired {desired} / max {high}", low


def _global_database(rec: Recording, region: str) -> str:
    """The global cluster and which cluster is in which region, or what stands in for it."""
    globals_ = rec.of_type("aws:rds/globalCluster:GlobalCluster")
    if not globals_:
        copies = rec.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
        where = f"automated backups replicated to {region}" if copies else "no backups replicated there"
        return f"no standby database (RDS PostgreSQL: recovery is a point-in-time restore in the standby; {where})"
    (gc,) = globals_
    gid = str(gc.outputs.get("globalClusterIdentifier", gc.inputs.get("globalClusterIdentifier", gc.id)))
    region_of = _region_of_parts(rec)
    members = [
        f"{c.name} ({region_of.get(c.urn) or 'primary region'}"
        + (", secondary" if c.inputs.get("replicationSourceIdentifier") or region_of.get(c.urn) == region else "")
        + ")"
        for c in rec.of_type("aws:rds/cluster:Cluster")
        if c.inputs.get("globalClusterIdentifier") in (gid, gc.id)
    ]
    return f"Aurora global database {gid}: {', '.join(members) or 'no member cluster'}"


def _replication(rec: Recording) -> list[str]:
    """Each S3 replication rule: source bucket -> destination, and whether RTC bounds it."""
    names = {r.id: r.name for r in rec.resources if r.custom}
    lines = []
    for config in rec.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        for rule in config.inputs.get("rules", []):
            destination = rule.get("destination", {})
            rtc = destination.get("replicationTime", {}).get("status") == "Enabled"
            source = str(config.inputs.get("bucket", "?"))
            target = str(destination.get("bucket", "?")).rsplit(":", 1)[-1]
            lines.append(
                f"{names.get(source, source)} -> {names.get(target, target)} ({rule.get('id', '?')}"
                + (", RTC: 99.99% within 15 min)" if rtc else ", no RTC: no time bound)")
            )
    return lines


def _failover_records(rec: Recording) -> list[str]:
    """Route 53 failover records: name, role, and the health check that decides."""
    lines = []
    for record in rec.of_type("aws:route53/record:Record"):
        policies = record.inputs.get("failoverRoutingPolicies") or []
        if policies:
            role = policies[0]["type"]
            checked = "health-checked" if record.inputs.get("healthCheckId") else "no health check"
            lines.append(f"{record.inputs['name']} {role} ({checked})")
    return sorted(lines)


def _warm_inventory(standby: Recording, fleet_min: int) -> list[str]:
    """What the standby bills by the hour while it waits (count x type, hours a month)."""
    items: list[tuple[int, str]] = []
    if fleet_min:
        types = [str(t.inputs.get("instanceType")) for t in standby.of_type("aws:ec2/launchTemplate:LaunchTemplate")]
        items.append((fleet_min, f"EC2 {types[0] if types else '?'} instance"))
    items.append((len(standby.of_type("aws:lb/loadBalancer:LoadBalancer")), "Application Load Balancer"))
    items.append((len(standby.of_type(NAT)), "NAT gateway"))
    for kind in sorted(
        {str(i.inputs.get("instanceClass")) for i in standby.of_type("aws:rds/clusterInstance:ClusterInstance")}
    ):
        count = sum(
            1
            for i in standby.of_type("aws:rds/clusterInstance:ClusterInstance")
            if i.inputs.get("instanceClass") == kind
        )
        items.append((count, f"Aurora {kind} instance"))
    for group in standby.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        items.append((int(group.inputs.get("numCacheClusters", 1)), f"ElastiCache {group.inputs['nodeType']} node"))
    endpoints = [
        e for e in standby.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs.get("vpcEndpointType") == "Interface"
    ]
    subnets_per = max((len(e.inputs.get("subnetIds", [])) for e in endpoints), default=0)
    items.append((len(endpoints) * subnets_per, "interface endpoint ENI (endpoint x AZ)"))
    return [f"{n} x {what} = {n * HOURS_PER_MONTH} hours/month" for n, what in items if n]


def standby_facts(rec: Recording, region: str, standby: Recording) -> StandbyFacts:
    """Read the standby region's components, the global database, replication and the failover records."""
    approach, fleet, fleet_min = _fleet(standby)
    components = sorted({c.typ.split(":")[-1] for c in standby.components()})
    cold = [
        f"cache ({int(group.inputs.get('numCacheClusters', 1))} node(s), empty: a cache-aside copy with a TTL, "
        "never data)"
        for group in standby.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    ]
    if approach == "pilot light":
        cold.append("the fleet: no instance runs until the failover scales it out")
    return StandbyFacts(
        region=region,
        approach=approach,
        fleet=fleet,
        components=components,
        resource_count=sum(1 for r in standby.resources if r.custom),
        global_database=_global_database(rec, region),
        replication=_replication(rec),
        failover_records=_failover_records(rec),
        cold=cold,
        warm_inventory=_warm_inventory(standby, fleet_min),
    )


def standby_summary(rec: Recording, region: str, standby: Recording) -> TierSummary:
    """The disaster-recovery pair: where the standby is, what it runs, how data reaches it, what is cold."""
    f = standby_facts(rec, region, standby)
    zones = sorted({str(s.inputs["availabilityZone"]) for s in standby.of_type(SUBNET)})
    summary = TierSummary(f"disaster recovery (standby {region})", zones)
    summary.facts += [
        f"{f.approach} in {region}: {', '.join(f.components)} ({f.resource_count} resources); fleet {f.fleet}",
        f.global_database,
        f"S3 replication: {'; '.join(f.replication) or 'none'}",
        f"failover records: {'; '.join(f.failover_records) or 'none'}",
        f"cold in the standby: {'; '.join(f.cold) or 'nothing'}",
        f"kept running for the standby: {'; '.join(f.warm_inventory) or 'nothing'}",
    ]
    if not f.replication:
        summary.single_points_of_failure.append("no S3 replication: the standby serves no copy of the static assets")
    if not any(" SECONDARY " in record for record in f.failover_records):
        summary.single_points_of_failure.append(
            "no Route 53 failover record: writes (the API behind CloudFront) do not move to the standby by DNS"
        )
    if f.global_database.startswith("no standby database"):
        summary.single_points_of_failure.append("no standby database: a region loss waits for a restore")
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
    """One summary per component present, in tier order (network, web, ...), whatever order they registered in;
    then, for each standby region, its tiers (named "<tier> (standby <region>)") and the disaster-recovery pair."""
    primary, standbys = split_regions(rec)
    summaries = _tiers(primary)
    for region, standby in sorted(standbys.items()):
        for tier in _tiers(standby):
            tier.tier = f"{tier.tier} (standby {region})"
            summaries.append(tier)
        summaries.append(standby_summary(rec, region, standby))
    return summaries


def _tiers(rec: Recording) -> list[TierSummary]:
    present = {c.typ for c in rec.components()}
    return [summary(rec) for typ, summary in SUMMARIES.items() if typ in present]


def tier_rank(component_type: str) -> int:
    """Position of a component type in tier order; unknown types go last."""
    order = list(SUMMARIES)
    return order.index(component_type) if component_type in order else len(order)
