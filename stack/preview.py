"""Offline preview: evaluate a whole stack under the mock cloud and print what would be created.

    python -m stack.preview prod          # human-readable plan
    python -m stack.preview prod --json   # the same, for machines

A bad stack file or config exits 1 with its problems only, one line each; nothing is evaluated.
"""

import argparse
import json
import runpy
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pulumi

from ha_stack.options import ArgsError
from stack.ha_summary import TierSummary, split_regions, summarize, tier_rank
from stack.mock_cloud import RecordedResource, Recording, run_program
from stack.resilience_report import as_json as resilience_json
from stack.resilience_report import render as render_resilience
from stack.resilience_report import report as resilience_report
from stack.settings import parse_settings
from stack.stack_file import read_config

ROOT = Path(__file__).resolve().parent.parent

# Resource type -> the inputs worth showing, as (label, input key).
KEY_SETTINGS: dict[str, list[tuple[str, str]]] = {
    "aws:ec2/vpc:Vpc": [("cidr", "cidrBlock")],
    "aws:ec2/subnet:Subnet": [("cidr", "cidrBlock"), ("az", "availabilityZone")],
    "aws:ec2/natGateway:NatGateway": [("subnet", "subnetId")],
    "aws:ec2/route:Route": [
        ("table", "routeTableId"),
        ("to", "destinationCidrBlock"),
        ("via", "natGatewayId"),
        ("via", "gatewayId"),
    ],
    "aws:ec2/routeTableAssociation:RouteTableAssociation": [("subnet", "subnetId"), ("table", "routeTableId")],
    "aws:ec2/vpcEndpoint:VpcEndpoint": [("service", "serviceName"), ("type", "vpcEndpointType")],
    "aws:ec2/flowLog:FlowLog": [("traffic", "trafficType"), ("to", "logDestinationType")],
    "aws:cloudwatch/logGroup:LogGroup": [("retention_days", "retentionInDays")],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        ("port", "fromPort"),
        ("from", "cidrIpv4"),
        ("from", "referencedSecurityGroupId"),
        ("from", "prefixListId"),
    ],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [
        ("port", "fromPort"),
        ("to", "cidrIpv4"),
        ("to", "referencedSecurityGroupId"),
    ],
    "aws:lb/loadBalancer:LoadBalancer": [
        ("internal", "internal"),
        ("zonal_shift", "enableZonalShift"),
        ("deletion_protection", "enableDeletionProtection"),
        ("drop_invalid_headers", "dropInvalidHeaderFields"),
    ],
    "aws:lb/targetGroup:TargetGroup": [
        ("port", "port"),
        ("health", "healthCheck.path"),
        ("deregistration_delay", "deregistrationDelay"),
    ],
    "aws:lb/listener:Listener": [("port", "port"), ("protocol", "protocol"), ("tls", "sslPolicy")],
    "aws:ec2/launchTemplate:LaunchTemplate": [
        ("type", "instanceType"),
        ("imds_tokens", "metadataOptions.httpTokens"),
    ],
    "aws:autoscaling/group:Group": [
        ("min", "minSize"),
        ("max", "maxSize"),
        ("desired", "desiredCapacity"),
        ("health", "healthCheckType"),
    ],
    "aws:autoscaling/policy:Policy": [
        ("metric", "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType"),
        ("target", "targetTrackingConfiguration.targetValue"),
    ],
    "aws:s3/bucketObjectv2:BucketObjectv2": [("key", "key")],
    "aws:rds/cluster:Cluster": [
        ("engine", "engine"),
        ("version", "engineVersion"),
        ("backups_days", "backupRetentionPeriod"),
        ("deletion_protection", "deletionProtection"),
    ],
    "aws:rds/clusterInstance:ClusterInstance": [
        ("class", "instanceClass"),
        ("az", "availabilityZone"),
        ("promotion_tier", "promotionTier"),
    ],
    "aws:rds/instance:Instance": [
        ("class", "instanceClass"),
        ("multi_az", "multiAz"),
        ("az", "availabilityZone"),
        ("replica_of", "replicateSourceDb"),
    ],
    "aws:ssm/parameter:Parameter": [("name", "name")],
    "aws:cloudfront/distribution:Distribution": [
        ("aliases", "aliases"),
        ("price_class", "priceClass"),
        ("http", "httpVersion"),
        ("web_acl", "webAclId"),
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [
        ("metric", "metricName"),
        ("stat", "statistic"),
        ("stat", "extendedStatistic"),
        ("threshold", "threshold"),
        ("region", "region"),
    ],
    "aws:cloudtrail/trail:Trail": [("name", "name"), ("multi_region", "isMultiRegionTrail")],
    "aws:wafv2/webAcl:WebAcl": [("scope", "scope"), ("region", "region")],
    "aws:route53/healthCheck:HealthCheck": [("type", "type"), ("fqdn", "fqdn"), ("path", "resourcePath")],
    "aws:route53/record:Record": [("name", "name"), ("type", "type"), ("set", "setIdentifier")],
    "aws:fis/experimentTemplate:ExperimentTemplate": [("drill", "description")],
    "aws:arczonalshift/zonalAutoshiftConfiguration:ZonalAutoshiftConfiguration": [
        ("autoshift", "zonalAutoshiftStatus"),
        ("blocked", "blockedWindows"),
        ("blocked_dates", "blockedDates"),
    ],
    "aws:elasticache/replicationGroup:ReplicationGroup": [
        ("engine", "engine"),
        ("nodes", "numCacheClusters"),
        ("type", "nodeType"),
        ("failover", "automaticFailoverEnabled"),
        ("multi_az", "multiAzEnabled"),
    ],
}


def load_config(stack: str) -> dict[Any, Any]:
    """The `config:` block of Pulumi.<stack>.yaml; ArgsError (one line a problem) for a file that is not one."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
        raise SystemExit(f"no stack file {path.name[:100]}; stacks here: {', '.join(known)}")
    return read_config(path)


def evaluate(stack: str, config: dict[str, Any]) -> Recording:
    """Run __main__.py under the mock cloud."""
    sys.path.insert(0, str(ROOT))

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"))

    return run_program(program, stack=stack, config=config)


def _lookup(inputs: dict[str, Any], dotted: str) -> Any:
    """inputs["a"]["b"] for "a.b"; None when any step is missing."""
    value: Any = inputs
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _settings_of(r: RecordedResource, names: dict[str, str]) -> dict[str, Any]:
    """Key inputs of a resource; ids of other resources (``names``: id -> logical name) are shown as names."""
    shown: dict[str, Any] = {}
    for label, key in KEY_SETTINGS.get(r.typ, []):
        value = _lookup(r.inputs, key)
        if value is not None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # the wire format has only floats
            shown[label] = names.get(value, value) if isinstance(value, str) else value
    return shown


def plan(stack: str, rec: Recording, settings_summary: dict[str, str]) -> dict[str, Any]:
    """The preview as data: components with their resources, counts by type, HA summary, exports."""
    names = {r.id: r.name for r in rec.resources if r.custom}
    _, standbys = split_regions(rec)
    standby_of = {r.urn: region for region, part in standbys.items() for r in part.resources}
    components = []
    for comp in sorted(rec.components(), key=lambda c: (c.urn in standby_of, tier_rank(c.typ))):
        children = sorted((r for r in rec.children(comp) if r.custom), key=lambda r: (r.typ, r.name))
        components.append(
            {
                "type": comp.typ,
                "name": comp.name,
                "standby_region": standby_of.get(comp.urn),
                "resources": [
                    {"type": r.typ, "name": r.name, "protect": r.protect, "settings": _settings_of(r, names)}
                    for r in children
                ],
            }
        )
    counts = Counter(r.typ for r in rec.resources if r.custom)
    return {
        "stack": stack,
        **settings_summary,
        "standby_regions": sorted(standbys),
        "components": components,
        "resource_counts": dict(sorted(counts.items())),
        "total_resources": sum(counts.values()),
        "ha_summary": [asdict(s) for s in summarize(rec)],
        "exports": rec.exports,
    }


def render(p: dict[str, Any]) -> str:
    """The human-readable preview."""
    lines = [
        f"ha-stack offline preview: stack {p['stack']} ({p['environment']}, {p['region']})",
        "Evaluated with the mock cloud: nothing was sent to AWS.",
    ]
    if p.get("standby_regions"):
        lines.append(f"Regions: {p['region']} (primary), {', '.join(p['standby_regions'])} (standby)")
    lines += ["", "Resources by component"]
    for comp in p["components"]:
        where = f"{comp['standby_region']} standby, " if comp.get("standby_region") else ""
        lines.append(f'  {comp["type"].split(":")[-1]} "{comp["name"]}" ({where}{len(comp["resources"])} resources)')
        for r in comp["resources"]:
            shown = "  ".join(f"{k}={v}" for k, v in r["settings"].items())
            lines.append(f"    {r['type'].split(':')[-1]:<22} {r['name']:<28} {shown}".rstrip())
    lines += ["", f"Resources by type ({p['total_resources']} in all)"]
    lines += [f"  {n:>3}  {typ}" for typ, n in p["resource_counts"].items()]
    lines += ["", "High availability"]
    for tier in p["ha_summary"]:
        s = TierSummary(**tier)
        where = f"{len(s.zones)} AZ{'' if len(s.zones) == 1 else 's'} ({', '.join(s.zones)})" if s.zones else "global"
        lines.append(f"  {s.tier}: {where}")
        lines += [f"    - {fact}" for fact in s.facts]
        spofs = "; ".join(s.single_points_of_failure) or "none"
        lines.append(f"    - single points of failure: {spofs}")
    if p.get("resilience"):
        lines += ["", *render_resilience(p["resilience"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.stack)
        settings = parse_settings(config, stack=args.stack)
    except ArgsError as err:
        print(f"invalid stack config in Pulumi.{args.stack}.yaml ({len(err.problems)} problems):", file=sys.stderr)
        print("\n".join(f"  {line}" for line in err.problems), file=sys.stderr)
        return 1
    try:
        rec = evaluate(args.stack, config)
    except pulumi.RunError as err:
        print(str(err), file=sys.stderr)
        return 1
    result = plan(args.stack, rec, {"environment": settings.environment, "region": settings.region})
    result["resilience"] = resilience_json(resilience_report(rec, settings))
    print(json.dumps(result, indent=2, default=str) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
