"""The mock cloud: answers Pulumi's resource and invoke calls the way AWS would, and records them.

One module serves both the tests and the offline preview. Ids carry AWS's prefixes, ARNs carry the
stack's region and a fixed account, invokes return the configured region's zones, and load balancers,
databases, caches and distributions get realistic endpoints. Everything is derived from the logical
name, so two runs of the same program give the same values.
"""

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

ACCOUNT_ID = "123456789012"
AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

ZONES_BY_REGION: dict[str, list[tuple[str, str]]] = {
    "us-east-1": [
        ("a", "use1-az6"),
        ("b", "use1-az1"),
        ("c", "use1-az2"),
        ("d", "use1-az4"),
        ("e", "use1-az3"),
        ("f", "use1-az5"),
    ],
    "us-east-2": [("a", "use2-az1"), ("b", "use2-az2"), ("c", "use2-az3")],
    "us-west-2": [("a", "usw2-az2"), ("b", "usw2-az1"), ("c", "usw2-az3"), ("d", "usw2-az4")],
    "eu-west-1": [("a", "euw1-az3"), ("b", "euw1-az1"), ("c", "euw1-az2")],
    "eu-central-1": [("a", "euc1-az2"), ("b", "euc1-az3"), ("c", "euc1-az1")],
    "ap-southeast-2": [("a", "apse2-az1"), ("b", "apse2-az3"), ("c", "apse2-az2")],
}
"""Zones per region as AWS lists them; other regions get a, b and c."""

UNOFFERED: dict[str, frozenset[str]] = {}
"""Zone name -> EC2 instance types and RDS instance classes that zone does not offer. AWS offers types per zone
(DescribeInstanceTypeOfferings, DescribeOrderableDBInstanceOptions); empty here, so every zone offers everything,
until a test models a zone that lacks one."""

EXISTING_VPC_NAME = "shared"
EXISTING_VPC_CIDR = "10.50.0.0/16"
EXISTING_TIERS = ("public", "private", "database")
"""A VPC that already exists in the mock account, as a project reusing one component finds it (examples/): tagged
Name=shared, with one subnet per tier (tag Tier=public/private/database) in each of the region's first three zones.
Looked up with aws.ec2.get_vpc / get_subnets / get_subnet, filtered as EC2 filters (vpc-id, tag:<key>,
availability-zone, subnet-id, cidr-block, state)."""

S3_HOSTED_ZONES = {"us-east-1": "Z3AQBSTGFYJSTF", "us-east-2": "Z2O1EMRO9K5GLX", "us-west-2": "Z3BJ6K6RIION7M"}
"""Route 53 zone of S3 (website) endpoints per region, as AWS lists them."""

# Resource token -> id prefix. Types not listed get their logical name plus a hash.
ID_PREFIXES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/route:Route": "r-rtb-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:kms/key:Key": "",
    "aws:cloudfront/distribution:Distribution": "E",
    "aws:route53/healthCheck:HealthCheck": "",
}

# Types whose physical name Pulumi generates from the logical name when none is given.
AUTONAMED = (
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:s3/bucket:Bucket",
    "aws:sns/topic:Topic",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:autoscaling/group:Group",
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:cloudtrail/trail:Trail",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:wafv2/webAcl:WebAcl",
    "aws:cloudfront/cachePolicy:CachePolicy",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:lambda/function:Function",
    "aws:backup/vault:Vault",
    "aws:backup/plan:Plan",
    "aws:backup/selection:Selection",
)


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
"""How Pulumi's wire format marks a secret value: {SECRET_SIG_KEY: SECRET_SIG, "value": ...}."""
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _plain(value: Any) -> Any:
    """Inputs as plain data: assets and archives become what they hold, so two runs compare equal by content;
    a secret becomes {"secret": value}, so tests can tell what Pulumi keeps encrypted."""
    if isinstance(value, pulumi.FileAsset):
        path = Path(str(value.path))
        return {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {key: _plain(item) for key, item in value.assets.items()}}
    if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG:
        return {"secret": _plain(value.get("value"))}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


FILTERED_ATTRIBUTES = {
    "vpc-id": "vpcId",
    "subnet-id": "id",
    "availability-zone": "availabilityZone",
    "availability-zone-id": "availabilityZoneId",
    "cidr-block": "cidrBlock",
    "cidr": "cidrBlock",
    "state": "state",
}
"""EC2 filter name -> the attribute it tests (DescribeVpcs / DescribeSubnets filters the mock cloud models)."""


def _matches(item: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """True when an existing VPC or subnet passes a data source's arguments: id, vpcId, availabilityZone, cidrBlock
    and state as given, every tag in `tags`, and every filter (any of its values)."""
    for key in ("id", "vpcId", "availabilityZone", "cidrBlock", "state"):
        if query.get(key) is not None and item.get(key) != query[key]:
            return False
    tags = item.get("tags", {})
    if any(tags.get(key) != value for key, value in (query.get("tags") or {}).items()):
        return False
    for flt in query.get("filters") or []:
        name, values = str(flt["name"]), [str(v) for v in flt["values"]]
        if name.startswith("tag:"):
            actual = tags.get(name.removeprefix("tag:"))
        elif name in FILTERED_ATTRIBUTES:
            actual = item.get(FILTERED_ATTRIBUTES[name])
        else:
            raise NotImplementedError(
                f"the mock cloud does not model the EC2 filter {name!r}; add it in stack/mock_cloud.py"
            )
        if actual is None or str(actual) not in values:
            return False
    return True


def _digest(*parts: str, size: int = 17) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:size]


@dataclass
class RecordedResource:
    """One registered resource: what the program asked for, what the mock cloud answered, and its options."""

    typ: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    custom: bool
    protect: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    dependencies: list[str] = field(default_factory=list)
    """URNs this resource waits for: its depends_on and the resources its inputs come from."""
    provider: str = ""
    """The provider reference ("<provider urn>::<id>") the SDK resolved for it: an explicit or inherited aws.Provider
    (another region), empty for the default provider."""

    @property
    def is_component(self) -> bool:
        """True for component resources (ours), false for cloud resources."""
        return not self.custom


@dataclass
class Recording:
    """Everything one program run registered, in registration order, plus its stack exports."""

    resources: list[RecordedResource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    invokes: set[str] = field(default_factory=set)
    """Token of every invoke (data source) the program made: what a preview needs to read from AWS."""
    invoke_regions: set[tuple[str, str]] = field(default_factory=set)
    """(token, region) of every invoke: which region each data source asked (its provider's, or its `region`)."""

    def of_type(self, typ: str) -> list[RecordedResource]:
        """All resources of one type token."""
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str, typ: str | None = None) -> RecordedResource:
        """The one resource with this logical name (and type: children of different types may share a name)."""
        (match,) = [r for r in self.resources if r.name == name and typ in (None, r.typ)]
        return match

    def by_id(self, resource_id: str) -> RecordedResource:
        """The resource the mock cloud gave this id."""
        (match,) = [r for r in self.resources if r.id == resource_id]
        return match

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        """Direct children of a resource."""
        return [r for r in self.resources if r.parent == parent.urn]

    def components(self) -> list[RecordedResource]:
        """Component resources, outermost first."""
        return [r for r in self.resources if r.is_component and r.typ != "pulumi:pulumi:Stack"]

    def region_of(self, resource: RecordedResource, home: str) -> str:
        """Where AWS makes a cloud resource: its `region` argument (pulumi-aws 7), else its aws.Provider's region,
        else the stack's (`home`)."""
        if resource.inputs.get("region"):
            return str(resource.inputs["region"])
        for provider in self.of_type("pulumi:providers:aws"):
            if resource.provider.startswith(provider.urn + "::"):
                return str(provider.inputs.get("region") or home)
        return home

    def primary_region(self, home: str) -> "Recording":
        """The part of the recording the stack's own provider makes in its region `home` (global services included,
        every declared provider kept): a dr stack's primary region. A component belongs where any of its resources
        is (or everywhere when it has none). Tests of one region's tiers read this; tests of the pair read the whole
        recording."""
        aws = [r for r in self.resources if r.custom and r.typ.startswith("aws:")]
        kept = {r.urn for r in aws if not r.provider and r.inputs.get("region") in (None, "", home)}
        kept |= {r.urn for r in self.resources if r.typ.startswith("pulumi:providers:")}
        for component in reversed(self.components()):  # innermost first
            below = [
                r for r in self.resources if r.parent == component.urn and (r.typ.startswith("aws:") or not r.custom)
            ]
            if not below or any(r.urn in kept for r in below):
                kept.add(component.urn)
        # Other providers' resources (random values) belong with their component.
        kept |= {
            r.urn for r in self.resources if r.custom and not r.typ.startswith(("aws:", "pulumi:")) and r.parent in kept
        }
        root = [r.urn for r in self.resources if r.parent and not any(r.parent == c.urn for c in self.resources)]
        kept |= {
            r.urn for r in self.resources if r.custom and not r.typ.startswith(("aws:", "pulumi:")) and r.urn in root
        }
        return Recording(
            resources=[r for r in self.resources if r.urn in kept],
            exports=self.exports,
            invokes=self.invokes,
            invoke_regions={(token, where) for token, where in self.invoke_regions if where == home},
        )


class MockCloud(pulumi.runtime.Mocks):
    """Answers like AWS in one region and account; see the module docstring."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.home_region = region
        """The stack's region (aws:region): the default provider's."""
        self.provider_regions: dict[str, str] = {}
        """Id of each explicit aws.Provider registered -> its region, so a resource or invoke made through it is
        answered for that region, as AWS would."""
        self.answering = threading.local()
        """Per thread: the region of the resource or invoke being answered (None: the home region)."""
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.invokes: set[str] = set()
        """Token of every invoke answered."""
        self.invoke_regions: set[tuple[str, str]] = set()
        """(token, region) of every invoke answered."""
        self.registering = threading.local()
        """Per thread (registrations run concurrently): outputs the engine would mark secret."""

    @property
    def region(self) -> str:
        """The region of what is being answered: a per-resource `region` argument (pulumi-aws 7), else the region of
        the aws.Provider it was made through, else the stack's."""
        return getattr(self.answering, "region", None) or self.home_region

    def region_of(self, provider: str | None, arguments: Mapping[str, Any]) -> str:
        """Where AWS would act: the `region` argument, else the provider's region ("<urn>::<id>" reference)."""
        given = arguments.get("region")
        if isinstance(given, str) and given:
            return given
        if provider:
            return self.provider_regions.get(provider.rsplit("::", maxsplit=1)[-1], self.home_region)
        return self.home_region

    def zones(self) -> list[tuple[str, str]]:
        """(zone name, zone id) pairs of the region."""
        letters = ZONES_BY_REGION.get(self.region, [("a", "az1"), ("b", "az2"), ("c", "az3")])
        return [(f"{self.region}{letter}", zone_id) for letter, zone_id in letters]

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.inputs[(args.typ, args.name)] = _plain(dict(args.inputs))
        if not args.custom:
            return f"{args.name}-component", {}
        resource_id = self._id(args.typ, args.name, args.inputs)
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[resource_id] = str(args.inputs.get("region") or self.home_region)
            return resource_id, dict(args.inputs)
        self.answering.region = self.region_of(args.provider, args.inputs)
        try:
            outputs = {**args.inputs, **self._outputs(args.typ, args.name, resource_id, args.inputs)}
        finally:
            self.answering.region = None
        for key in getattr(self.registering, "secret_outputs", ()):
            if key in outputs:
                outputs[key] = {SECRET_SIG_KEY: SECRET_SIG, "value": outputs[key]}
        return resource_id, outputs

    def _id(self, typ: str, name: str, inputs: Mapping[str, Any]) -> str:
        if typ in AUTONAMED:
            return str(inputs.get("name") or f"{name}-{_digest(typ, name, size=7)}")
        prefix = ID_PREFIXES.get(typ)
        if prefix is None:
            return f"{name}-{_digest(typ, name, size=8)}"
        return f"{prefix}{_digest(typ, name)}"

    def _arn(self, typ: str, resource_id: str) -> str:
        service = typ.split(":")[1].split("/", maxsplit=1)[0]
        kind = re.sub(r"(?<!^)(?=[A-Z])", "-", typ.rsplit(":", maxsplit=1)[-1]).lower()
        if service == "iam":
            return f"arn:aws:iam::{ACCOUNT_ID}:{kind.split('-')[-1]}/{resource_id}"
        if service == "s3":
            return f"arn:aws:s3:::{resource_id}"
        if service == "secretsmanager":
            return (
                f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{resource_id}-{_digest(resource_id, size=6)}"
            )
        if service == "cloudwatch" and kind == "log-group":
            return f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{resource_id}"
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{kind}/{resource_id}"

    def _outputs(self, typ: str, name: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"arn": self._arn(typ, resource_id)}
        if typ in AUTONAMED:
            out["name"] = resource_id
        octets = [int(_digest(typ, name, str(i), size=2), 16) for i in range(3)]
        extra: dict[str, Callable[[], dict[str, Any]]] = {
            "aws:ec2/vpc:Vpc": lambda: {
                "defaultSecurityGroupId": f"sg-{_digest(name, 'default')}",
                "mainRouteTableId": f"rtb-{_digest(name, 'main')}",
            },
            "aws:ec2/eip:Eip": lambda: {
                "allocationId": resource_id,
                "publicIp": f"54.{octets[0]}.{octets[1]}.{octets[2]}",
            },
            "aws:ec2/natGateway:NatGateway": lambda: {"publicIp": f"54.{octets[0]}.{octets[1]}.{octets[2]}"},
            "aws:ec2/subnet:Subnet": lambda: {
                "availabilityZoneId": dict(self.zones()).get(str(inputs.get("availabilityZone")), "az1")
            },
            "aws:lb/loadBalancer:LoadBalancer": lambda: {
                "dnsName": f"{resource_id}-{_digest(name, size=9)}.{self.region}.elb.amazonaws.com",
                "zoneId": "Z35SXDOTRQ7X7K",
                "arnSuffix": f"app/{resource_id}/{_digest(name, size=16)}",
            },
            "aws:lb/targetGroup:TargetGroup": lambda: {
                "arnSuffix": f"targetgroup/{resource_id}/{_digest(name, size=16)}"
            },
            "random:index/randomId:RandomId": lambda: {"hex": _digest(name, "id", size=8)},
            "aws:rds/clusterInstance:ClusterInstance": lambda: {
                "identifier": resource_id,
                "endpoint": f"{resource_id}.{_digest(name, size=12)}.{self.region}.rds.amazonaws.com",
                "writer": inputs.get("promotionTier") == 0,
            },
            "aws:rds/cluster:Cluster": lambda: {
                "clusterIdentifier": resource_id,
                "masterUserSecrets": self._managed_secret(name, inputs),
                "endpoint": f"{resource_id}.cluster-{_digest(name, size=12)}.{self.region}.rds.amazonaws.com",
                "readerEndpoint": f"{resource_id}.cluster-ro-{_digest(name, size=12)}.{self.region}.rds.amazonaws.com",
                "port": inputs.get("port", 5432),
            },
            "aws:rds/instance:Instance": lambda: {
                "identifier": resource_id,
                "masterUserSecrets": self._managed_secret(name, inputs),
                "address": f"{resource_id}.{_digest(name, size=12)}.{self.region}.rds.amazonaws.com",
                "port": inputs.get("port", 5432),
            },
            "aws:elasticache/replicationGroup:ReplicationGroup": lambda: {
                "memberClusters": [f"{resource_id}-{i:03d}" for i in range(1, int(inputs["numCacheClusters"]) + 1)],
                "primaryEndpointAddress": f"master.{resource_id}.{_digest(name, size=6)}.use1.cache.amazonaws.com",
                "readerEndpointAddress": f"replica.{resource_id}.{_digest(name, size=6)}.use1.cache.amazonaws.com",
            },
            "aws:cloudfront/distribution:Distribution": lambda: {
                "arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{resource_id}",
                "domainName": f"d{_digest(name, size=13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            },
            "aws:kms/key:Key": lambda: {"keyId": resource_id},
            "aws:wafv2/webAcl:WebAcl": lambda: {
                "arn": f"arn:aws:wafv2:{inputs.get('region') or self.region}:{ACCOUNT_ID}:"
                f"{'global' if inputs.get('scope') == 'CLOUDFRONT' else 'regional'}/webacl/{resource_id}/"
                f"{_digest(name, size=8)}-{_digest(name, 'b', size=4)}",
            },
            "aws:s3/bucket:Bucket": lambda: {
                "bucket": resource_id,
                "bucketDomainName": f"{resource_id}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{resource_id}.s3.{self.region}.amazonaws.com",
                "hostedZoneId": S3_HOSTED_ZONES.get(self.region, "Z3AQBSTGFYJSTF"),
            },
            "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration": lambda: {
                "websiteDomain": f"s3-website-{self.region}.amazonaws.com",
                "websiteEndpoint": f"{inputs['bucket']}.s3-website-{self.region}.amazonaws.com",
            },
            "aws:ec2/launchTemplate:LaunchTemplate": lambda: {
                # AWS numbers versions 1, 2, ...; here a changed template gets a different number, as on AWS.
                "latestVersion": int(_digest(json.dumps(dict(inputs), sort_keys=True, default=str), size=6), 16),
            },
            "aws:acm/certificate:Certificate": lambda: {
                # ACM asks for one validation record per name on the certificate, the alternative names included.
                "domainValidationOptions": [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_{_digest(name, *([domain] if i else []), size=32)}.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{_digest(name, 'v', *([domain] if i else []), size=32)}"
                        ".acm-validations.aws.",
                    }
                    for i, domain in enumerate([inputs["domainName"], *inputs.get("subjectAlternativeNames", [])])
                ]
            },
            "aws:acm/certificateValidation:CertificateValidation": lambda: {"certificateArn": inputs["certificateArn"]},
            "aws:route53/record:Record": lambda: {"fqdn": str(inputs.get("name", "")).rstrip(".")},
            "aws:lambda/functionUrl:FunctionUrl": lambda: {
                "functionUrl": f"https://{_digest(name, 'url', size=32)}.lambda-url.{self.region}.on.aws/"
            },
            "random:index/randomPassword:RandomPassword": lambda: {"result": _digest(name, "secret", size=40)},
        }
        if typ in extra:
            out.update(extra[typ]())
        return out

    def _managed_secret(self, name: str, inputs: Mapping[str, Any]) -> list[dict[str, str]]:
        """The secret RDS creates when it manages the master password (none otherwise)."""
        if not inputs.get("manageMasterUserPassword"):
            return []
        arn = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:rds!{_digest(name, size=12)}-AbCdEf"
        return [
            {"secretArn": arn, "secretStatus": "active", "kmsKeyId": str(inputs.get("masterUserSecretKmsKeyId", ""))}
        ]

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        self.invokes.add(args.token)
        self.answering.region = self.region_of(args.provider, args.args)
        self.invoke_regions.add((args.token, self.region))
        try:
            return self._answer(args), []
        finally:
            self.answering.region = None

    def _answer(self, args: MockCallArgs) -> dict[str, Any]:
        """The invoke's result, for the region being answered (self.region)."""
        region = self.region
        answers: dict[str, Callable[[], dict[str, Any]]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda: {
                "names": [n for n, _ in self.zones()],
                "zoneIds": [z for _, z in self.zones()],
                "id": region,
                "groupNames": [region],
            },
            "aws:index/getRegion:getRegion": lambda: {
                "region": region,
                "name": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            },
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDAMOCK",
                "id": ACCOUNT_ID,
            },
            "aws:index/getPartition:getPartition": lambda: {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
            "aws:ssm/getParameter:getParameter": lambda: {
                "name": args.args.get("name"),
                "type": "String",
                "value": f"ami-{_digest(str(args.args))}",
                "insecureValue": f"ami-{_digest(str(args.args))}",
            },
            "aws:elb/getServiceAccount:getServiceAccount": lambda: {
                "arn": "arn:aws:iam::127311923021:root",
                "id": "127311923021",
                "region": region,
            },
            "aws:route53/getZone:getZone": lambda: {
                "zoneId": f"Z{_digest(str(args.args.get('name')), size=20).upper()}",
                "id": f"Z{_digest(str(args.args.get('name')), size=20).upper()}",
                "name": args.args.get("name"),
                "arn": f"arn:aws:route53:::hostedzone/Z{_digest(str(args.args.get('name')), size=20).upper()}",
            },
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": lambda: self._instance_type_offerings(
                args.args
            ),
            "aws:rds/getOrderableDbInstance:getOrderableDbInstance": lambda: self._orderable_db_instance(args.args),
            "aws:ec2/getVpc:getVpc": lambda: self._one("VPC", self.existing_vpcs(), args.args),
            "aws:ec2/getSubnets:getSubnets": lambda: {
                "id": region,
                "ids": [s["id"] for s in self.existing_subnets() if _matches(s, args.args)],
            },
            "aws:ec2/getSubnet:getSubnet": lambda: self._one("Subnet", self.existing_subnets(), args.args),
            "aws:ec2/getManagedPrefixList:getManagedPrefixList": lambda: {
                "id": f"pl-{_digest(str(args.args), size=8)}",
                "name": args.args.get("name"),
            },
        }
        if args.token not in answers:
            raise NotImplementedError(
                f"the mock cloud has no answer for invoke {args.token}; add one in stack/mock_cloud.py"
            )
        return answers[args.token]()

    def existing_vpcs(self) -> list[dict[str, Any]]:
        """The VPC that already exists in the account (EXISTING_VPC_NAME), as DescribeVpcs describes it."""
        vpc_id = f"vpc-{_digest('existing', self.region)}"
        return [
            {
                "id": vpc_id,
                "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:vpc/{vpc_id}",
                "cidrBlock": EXISTING_VPC_CIDR,
                "state": "available",
                "default": False,
                "ownerId": ACCOUNT_ID,
                "tags": {"Name": EXISTING_VPC_NAME},
            }
        ]

    def existing_subnets(self) -> list[dict[str, Any]]:
        """Its subnets: one per tier in each of the region's first three zones, a /24 each."""
        (vpc,) = self.existing_vpcs()
        subnets = []
        for t, tier in enumerate(EXISTING_TIERS):
            for z, (zone, zone_id) in enumerate(self.zones()[:3]):
                subnet_id = f"subnet-{_digest('existing', self.region, tier, zone)}"
                subnets.append(
                    {
                        "id": subnet_id,
                        "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:subnet/{subnet_id}",
                        "vpcId": vpc["id"],
                        "availabilityZone": zone,
                        "availabilityZoneId": zone_id,
                        "cidrBlock": f"10.50.{10 * t + z}.0/24",
                        "state": "available",
                        "mapPublicIpOnLaunch": tier == "public",
                        "ownerId": ACCOUNT_ID,
                        "tags": {"Name": f"{EXISTING_VPC_NAME}-{tier}-{zone}", "Tier": tier},
                    }
                )
        return subnets

    @staticmethod
    def _one(kind: str, items: list[dict[str, Any]], query: Mapping[str, Any]) -> dict[str, Any]:
        """The single item a singular data source (get_vpc, get_subnet) matches; none or several fail as in AWS's
        provider ("no matching EC2 VPC found", "multiple EC2 Subnets matched")."""
        found = [item for item in items if _matches(item, query)]
        if len(found) != 1:
            problem = "no matching" if not found else "multiple"
            raise ValueError(f"{problem} EC2 {kind}{'s matched' if found else ' found'}; query {dict(query)}")
        return found[0]

    def _instance_type_offerings(self, query: Mapping[str, Any]) -> dict[str, Any]:
        """One (type, location) row per offered type in each zone, filtered as EC2 filters them."""
        filters = {f["name"]: list(f["values"]) for f in query.get("filters") or []}
        by_id = query.get("locationType") == "availability-zone-id"
        rows = [
            (kind, zone_id if by_id else zone)
            for zone, zone_id in self.zones()
            for kind in filters.get("instance-type", [])
            if kind not in UNOFFERED.get(zone, frozenset())
            and ("location" not in filters or (zone_id if by_id else zone) in filters["location"])
        ]
        return {
            "id": self.region,
            "instanceTypes": [kind for kind, _ in rows],
            "locations": [location for _, location in rows],
            "locationTypes": [str(query.get("locationType"))] * len(rows),
        }

    def _orderable_db_instance(self, query: Mapping[str, Any]) -> dict[str, Any]:
        """The first preferred class offered anywhere in the region, with the zones that offer it (as RDS does)."""
        classes = list(query.get("preferredInstanceClasses") or [query.get("instanceClass")])
        for klass in classes:
            zones = [zone for zone, _ in self.zones() if klass not in UNOFFERED.get(zone, frozenset())]
            if zones:
                return {
                    "id": self.region,
                    "engine": query.get("engine"),
                    "instanceClass": klass,
                    "availabilityZones": zones,
                    "multiAzCapable": True,
                    "readReplicaCapable": True,
                    "vpc": True,
                }
        raise ValueError("no RDS DB Instance Classes match the criteria; try different search criteria")


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps each registration's parent and resource options."""

    def __init__(self, cloud: MockCloud) -> None:
        super().__init__(cloud)
        self.cloud = cloud
        self.recording = Recording()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        # The engine, not the SDK, makes these outputs secret (e.g. RandomPassword.result): the cloud does too.
        self.cloud.registering.secret_outputs = list(request.additionalSecretOutputs)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        self.recording.resources.append(
            RecordedResource(
                typ=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                inputs=self.cloud.inputs[(request.type, request.name)],
                outputs=_plain(dict(registration.state)),
                id=registration.id or "",
                custom=request.custom,
                protect=request.protect,
                ignore_changes=list(request.ignoreChanges),
                retain_on_delete=request.retainOnDelete,
                dependencies=list(request.dependencies),
                provider=request.provider,
            )
        )
        return response


def _ensure_event_loop() -> None:
    """Pulumi's runtime uses the thread's current loop; an earlier asyncio.run() may have left none."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(
    program: Callable[[], object], *, stack: str, config: Mapping[str, Any], project: str = "ha-stack"
) -> Recording:
    """Run a Pulumi program against the mock cloud with this config; return what it registered.

    ``config`` maps ``project:key`` to values; objects may be given as data and are passed as JSON,
    as the Pulumi CLI does.
    """
    _ensure_event_loop()
    region = str(config.get("aws:region") or "us-east-1")
    cloud = MockCloud(region)
    monitor = RecordingMonitor(cloud)
    runtime_settings.ROOT.set(None)  # a fresh root stack per run, so exports never leak between runs
    pulumi.runtime.set_mocks(cloud, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    recording = monitor.recording

    def program_then_exports() -> pulumi.Output[None]:
        program()
        root = runtime_settings.get_root_resource()
        outputs: dict[str, Any] = getattr(root, "outputs", {})
        return pulumi.Output.all(**outputs).apply(recording.exports.update)

    pulumi.runtime.test(program_then_exports)()  # type: ignore[no-untyped-call]
    recording.invokes = set(cloud.invokes)
    recording.invoke_regions = set(cloud.invoke_regions)
    return recording
