"""HaNetwork: a VPC with public, app and data subnets in every AZ and per-AZ NAT egress.

Without NAT, the app subnets reach AWS through interface endpoints (ssm, secretsmanager, logs, ...) and S3 (the
release and Amazon Linux's package repositories) through the gateway endpoint; see INSTANCE_ENDPOINTS.
"""

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import checks, naming, options
from ha_stack.cidr import DEFAULT_EXTRA_BITS, SubnetPlan, Tier, default_prefix_lengths, plan_subnets, tier_blocks
from ha_stack.iam import Account, Statement, caller_account, log_group_key_policy, policy_document
from ha_stack.naming import az_letter, component_tags, type_token

INSTANCE_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "secretsmanager", "logs", "monitoring", "ec2")
"""What an instance of the web tier calls besides S3, so what it needs as interface endpoints without a NAT:
the SSM agent (ssm, ssmmessages, ec2messages), the service's settings (ssm GetParametersByPath, secretsmanager
GetSecretValue; both decrypt server-side, so no kms endpoint), the CloudWatch agent (logs, monitoring, and ec2
DescribeTags for its AutoScalingGroupName dimension, as instance tags are off in the instance metadata)."""

INTERFACE_SERVICES = (
    *INSTANCE_ENDPOINTS,
    "kms",
    "sts",
    "autoscaling",
    "elasticloadbalancing",
    "ecr.api",
    "ecr.dkr",
    "sqs",
    "sns",
    "events",
    "xray",
)
"""Services HaNetwork makes interface endpoints for (com.amazonaws.<region>.<service>)."""
ZONE = r"[a-z]{2}(-[a-z]+)+-\d+[a-h]"
"""An availability zone name whose letter has a CIDR slot (cidr.AZ_SLOTS: a..h)."""


class NatGateways(str, Enum):
    """How the app subnets reach the internet."""

    NONE = "none"
    """No NAT: app subnets have no internet route; AWS APIs through interface endpoints, S3 through its gateway."""
    SINGLE = "single"
    """One NAT in the first AZ: cheap, but a single point of failure for egress."""
    ONE_PER_AZ = "one_per_az"
    """A NAT in every AZ, each app route table on its own AZ's NAT: survives an AZ loss."""


class HaNetworkArgs(TypedDict):
    """Inputs for HaNetwork (defaults and checks: ARGS)."""

    availability_zones: list[str]
    """Zone names to span (at least 2, distinct, zone letters a..h), e.g. ["us-east-1a", "us-east-1b",
    "us-east-1c"]."""
    cidr_block: NotRequired[str]
    """VPC IPv4 CIDR: a private (RFC 1918) network from /16 (the largest VPC AWS allows) to /22 (the smallest
    that holds 8 zone slots of each tier), given by its network address."""
    nat_gateways: NotRequired[NatGateways]
    """NAT mode for the app subnets."""
    interface_endpoints: NotRequired[list[str]]
    """AWS services to reach through interface endpoints in every app subnet (private DNS on, HTTPS from the VPC
    only), e.g. ["ssm", "logs"]: among ssm, ssmmessages, ec2messages, secretsmanager, logs, monitoring, ec2, kms,
    sts, autoscaling, elasticloadbalancing, ecr.api, ecr.dkr, sqs, sns, events, xray. Each endpoint costs an hourly
    fee per zone."""
    enable_flow_logs: NotRequired[bool]
    """Send VPC flow logs (all traffic) to CloudWatch Logs, encrypted with a rotating KMS key."""
    flow_log_retention_days: NotRequired[int]
    """Days to keep flow logs; a value CloudWatch Logs accepts."""
    public_subnet_prefix_length: NotRequired[int]
    """Prefix length of each public subnet (/16 to /28)."""
    app_subnet_prefix_length: NotRequired[int]
    """Prefix length of each app subnet (/16 to /28)."""
    data_subnet_prefix_length: NotRequired[int]
    """Prefix length of each data subnet (/16 to /28)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child."""


COMPONENT = "HaNetwork"
DEFAULT_CIDR = "10.0.0.0/16"
VPC_PREFIXES = (16, 22)
"""AWS's largest VPC is a /16 (CreateVpc, EC2 API reference: "the largest uses a /16 netmask"); below /22 the
three tiers' 8 zone slots no longer fit subnets of at least /28, AWS's smallest."""
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
"""RFC 1918's private ranges. AWS also takes publicly routable ranges for a VPC; HaNetwork refuses them on purpose
(as the stack file did before): a VPC on someone else's public addresses cannot reach those addresses on the
internet, and every private range fits the tiers' layout."""
PREFIX_FIELDS = {
    Tier.PUBLIC: "public_subnet_prefix_length",
    Tier.APP: "app_subnet_prefix_length",
    Tier.DATA: "data_subnet_prefix_length",
}
DERIVED_NAMES = {"flow-logs": naming.IAM_ROLE}
"""Physical names Pulumi derives from the component's name: the flow-log role "<name>-flow-logs-<7 random>"
(pulumi-aws autonames IAM roles to at most 64 characters; IAM's RoleName takes [\\w+=,.@-])."""
LOG_GROUP_CHARACTERS = r"[.\-_/#A-Za-z0-9]+"
"""CloudWatch Logs' CreateLogGroup logGroupName pattern: the flow-log group "/ha-stack/<name>/<vpc id>/flow-logs"
holds the name as it is."""


def _cidr_rule(value: str) -> str | None:
    """A private IPv4 network address from /16 to /22."""
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        canonical = _canonical(value)
        if canonical:
            return f"must be a network address (AWS would store {canonical}), got {options.shown(value)}"
        return f"must be an IPv4 CIDR such as {DEFAULT_CIDR}, got {options.shown(value)}"
    low, high = VPC_PREFIXES
    if not low <= network.prefixlen <= high or not any(network.subnet_of(r) for r in PRIVATE_RANGES):
        return (
            f"must be a private (RFC 1918: 10/8, 172.16/12, 192.168/16) IPv4 CIDR from /{low} to /{high}, "
            f"got {options.shown(value)}"
        )
    return None


def _canonical(value: str) -> str | None:
    """The network a CIDR with host bits set stands for (AWS stores that one), or None if it is no CIDR."""
    try:
        return str(ipaddress.IPv4Network(value, strict=False)) if "/" in value else None
    except ValueError:
        return None


def _prefix_default(tier: Tier) -> Callable[[Mapping[str, Any]], int]:
    """The tier's default prefix length: the VPC's prefix plus the tier's extra bits."""

    def default(values: Mapping[str, Any]) -> int:
        return default_prefix_lengths(str(values.get("cidr_block", DEFAULT_CIDR)))[tier]

    default.__doc__ = f"VPC prefix + {DEFAULT_EXTRA_BITS[tier]} (/{16 + DEFAULT_EXTRA_BITS[tier]} in a /16)"
    return default


def _endpoints_default(values: Mapping[str, Any]) -> list[str]:
    """with nat_gateways=none, what the web tier's instances call (ssm, ssmmessages, ec2messages, secretsmanager, logs, monitoring, ec2); with a NAT, none (egress goes through it)"""  # noqa: E501
    nat = values.get("nat_gateways", NatGateways.ONE_PER_AZ)
    return list(INSTANCE_ENDPOINTS) if nat is NatGateways.NONE else []


def _distinct(what: str) -> options.Check:
    """No item of a list twice."""

    def check(values: list[str]) -> str | None:
        repeated = sorted({v for v in values if values.count(v) > 1})
        return f"must not repeat {what}, got {options.shown(repeated)} more than once" if repeated else None

    return check


ARGS = options.Spec(
    COMPONENT,
    HaNetworkArgs,
    availability_zones=options.Arg(
        check=options.each(options.matches(ZONE, "zone names such as us-east-1a (zone letters a..h)"))
    ),
    cidr_block=options.Arg(DEFAULT_CIDR, _cidr_rule),
    nat_gateways=options.Arg(NatGateways.ONE_PER_AZ),
    interface_endpoints=options.Arg(
        _endpoints_default,
        options.all_of(
            options.each(options.one_of(INTERFACE_SERVICES, "a service HaNetwork knows")), _distinct("a service")
        ),
    ),
    enable_flow_logs=options.Arg(True),
    flow_log_retention_days=options.Arg(90, checks.log_retention),
    public_subnet_prefix_length=options.Arg(_prefix_default(Tier.PUBLIC), options.between(16, 28)),
    app_subnet_prefix_length=options.Arg(_prefix_default(Tier.APP), options.between(16, 28)),
    data_subnet_prefix_length=options.Arg(_prefix_default(Tier.DATA), options.between(16, 28)),
    tags=options.Arg({}),
)


def _zone_rules(args: HaNetworkArgs, problems: options.Problems) -> None:
    """At least 2 distinct zones of one region."""
    zones = args.get("availability_zones")
    if zones is None:
        return
    if len(zones) < 2:
        problems.add("availability_zones", f"need at least 2 zones for high availability, got {options.shown(zones)}")
    elif message := _distinct("a zone")(zones):
        problems.add("availability_zones", message)
    elif len(regions := sorted({zone[:-1] for zone in zones})) > 1:
        problems.add(
            "availability_zones",
            f"must all be in one region (a VPC's subnets are in its region), got zones of {options.shown(regions)}",
        )


def _lengths(args: HaNetworkArgs) -> dict[Tier, int]:
    """Each tier's subnet prefix length (all present once read: each has a default)."""
    values: Mapping[str, Any] = args
    return {tier: values[field] for tier, field in PREFIX_FIELDS.items()}


def _fit_rule(args: HaNetworkArgs, problems: options.Problems, given: frozenset[str]) -> None:
    """The tiers' 8 zone slots fit in the VPC; said on a prefix length the caller gave, else on cidr_block."""
    cidr = args.get("cidr_block")
    if cidr is None or not problems.ok("cidr_block", *PREFIX_FIELDS.values()):
        return
    try:
        tier_blocks(cidr, _lengths(args))
    except ValueError as err:
        named = [field for field in PREFIX_FIELDS.values() if field in given]
        problems.add(named[0] if named else "cidr_block", str(err))


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaNetworkArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    _zone_rules(args, problems)
    keys = frozenset(k for k in given if isinstance(k, str)) if isinstance(given, Mapping) else frozenset()
    _fit_rule(args, problems, keys)
    return args


def check_name(name: str, problems: options.Problems) -> None:
    """The component's name makes physical names AWS accepts (DERIVED_NAMES, LOG_GROUP_CHARACTERS)."""
    if naming.check_derived_names(name, DERIVED_NAMES, problems) and not re.fullmatch(LOG_GROUP_CHARACTERS, name):
        problems.add(
            "name",
            "names the flow-log group, which CloudWatch Logs takes only of letters, digits and . - _ / #: "
            f"got {options.shown(name)}",
        )


@dataclass(frozen=True)
class NetworkPlan:
    """The checked arguments and what HaNetwork derives from them before declaring anything."""

    args: HaNetworkArgs
    """Every argument, defaults applied."""
    subnets: list[SubnetPlan]
    """Every subnet of every tier in every zone."""

    def subnets_of(self, tier: Tier) -> list[SubnetPlan]:
        """This tier's subnets in zone order."""
        return [s for s in self.subnets if s.tier is tier]

    def nat_letters(self) -> list[str]:
        """Zone letters that get a NAT gateway."""
        letters = [az_letter(z) for z in self.args["availability_zones"]]
        return {NatGateways.NONE: [], NatGateways.SINGLE: letters[:1], NatGateways.ONE_PER_AZ: letters}[
            self.args["nat_gateways"]
        ]


def plan(args: HaNetworkArgs, name: str | None = None) -> NetworkPlan:
    """Defaults and validation before any resource exists (of the name too, when given); pure, so it is tested
    without mocks. Raises options.ArgsError with every problem."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    if name is not None:
        check_name(name, problems)
    problems.raise_any()
    return NetworkPlan(checked, plan_subnets(checked["cidr_block"], checked["availability_zones"], _lengths(checked)))


def _ids(
    resources: list[aws.ec2.Subnet] | list[aws.ec2.RouteTable] | list[aws.ec2.NatGateway],
) -> pulumi.Output[list[str]]:
    return pulumi.Output.all(*[r.id for r in resources])


class HaNetwork(pulumi.ComponentResource):
    """A VPC across N AZs: public, app and data subnets per AZ; data subnets never reach the internet."""

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    vpc_cidr_block: pulumi.Output[str]
    """The VPC IPv4 CIDR."""
    availability_zones: pulumi.Output[list[str]]
    """The zones spanned, in the order of every subnet-id list."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets (load balancers, NAT gateways), one per zone."""
    app_subnet_ids: pulumi.Output[list[str]]
    """Private app subnets (instances), one per zone, egress through NAT."""
    data_subnet_ids: pulumi.Output[list[str]]
    """Isolated data subnets (databases, caches), one per zone, no internet route."""
    nat_gateway_ids: pulumi.Output[list[str]]
    """NAT gateways, in zone order (empty with nat_gateways=none)."""
    nat_public_ips: pulumi.Output[list[str]]
    """The NAT gateways' public IPs: the addresses the app's outbound traffic comes from."""
    public_route_table_id: pulumi.Output[str]
    """The public route table (default route to the internet gateway)."""
    app_route_table_ids: pulumi.Output[list[str]]
    """App route tables, one per zone."""
    data_route_table_ids: pulumi.Output[list[str]]
    """Data route tables, one per zone (local and S3 endpoint routes only)."""
    interface_endpoint_ids: pulumi.Output[list[str]]
    """Interface endpoints, in the order of interface_endpoints (empty when there are none)."""

    def __init__(self, name: str, args: HaNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        p = plan(args, name)  # before registering anything: bad arguments leave no trace in the stack
        super().__init__(type_token(COMPONENT), name, None, opts)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=p.args["cidr_block"],
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tags(f"{name}-vpc"),
            opts=self._child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags=self._tags(f"{name}-default-locked"), opts=self._child
        )
        subnets = {tier: self._subnets(vpc, tier) for tier in Tier}
        public_rt = self._public_routing(vpc, subnets[Tier.PUBLIC])
        nats = self._nat_gateways(subnets[Tier.PUBLIC])
        app_rts = self._private_routing(vpc, Tier.APP, subnets[Tier.APP], nats)
        data_rts = self._private_routing(vpc, Tier.DATA, subnets[Tier.DATA], {})
        account = caller_account(self)
        self._s3_endpoint(vpc, [*app_rts.values(), *data_rts.values()], account)
        endpoints = self._interface_endpoints(vpc, list(subnets[Tier.APP].values()), account)
        if p.args["enable_flow_logs"]:
            self._flow_logs(vpc, account)

        self.vpc_id = vpc.id
        self.vpc_cidr_block = vpc.cidr_block
        self.availability_zones = pulumi.Output.from_input(p.args["availability_zones"])
        self.public_subnet_ids = _ids(list(subnets[Tier.PUBLIC].values()))
        self.app_subnet_ids = _ids(list(subnets[Tier.APP].values()))
        self.data_subnet_ids = _ids(list(subnets[Tier.DATA].values()))
        self.nat_gateway_ids = _ids([nat for nat, _ in nats.values()])
        self.nat_public_ips = pulumi.Output.all(*[eip.public_ip for _, eip in nats.values()])
        self.public_route_table_id = public_rt.id
        self.app_route_table_ids = _ids(list(app_rts.values()))
        self.data_route_table_ids = _ids(list(data_rts.values()))
        self.interface_endpoint_ids = pulumi.Output.all(*[e.id for e in endpoints])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr_block": self.vpc_cidr_block,
                "availability_zones": self.availability_zones,
                "public_subnet_ids": self.public_subnet_ids,
                "app_subnet_ids": self.app_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
                "nat_gateway_ids": self.nat_gateway_ids,
                "nat_public_ips": self.nat_public_ips,
                "public_route_table_id": self.public_route_table_id,
                "app_route_table_ids": self.app_route_table_ids,
                "data_route_table_ids": self.data_route_table_ids,
                "interface_endpoint_ids": self.interface_endpoint_ids,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags("HaNetwork", self._plan.args["tags"], name=name)

    def _subnets(self, vpc: aws.ec2.Vpc, tier: Tier) -> dict[str, aws.ec2.Subnet]:
        """One subnet per zone, keyed by zone letter; no subnet hands out public IPs."""
        result: dict[str, aws.ec2.Subnet] = {}
        for s in self._plan.subnets_of(tier):
            label = f"{self._name}-{tier.value}-{s.letter}"
            result[s.letter] = aws.ec2.Subnet(
                label,
                vpc_id=vpc.id,
                cidr_block=s.cidr,
                availability_zone=s.zone,
                map_public_ip_on_launch=False,
                tags={**self._tags(label), "ha-stack:tier": tier.value},
                opts=self._child,
            )
        return result

    def _public_routing(self, vpc: aws.ec2.Vpc, subnets: dict[str, aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        name = self._name
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=self._tags(f"{name}-igw"), opts=self._child)
        table = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=self._tags(f"{name}-public-rt"), opts=self._child
        )
        aws.ec2.Route(
            f"{name}-public-internet",
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=self._child,
        )
        for letter, subnet in subnets.items():
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{letter}", subnet_id=subnet.id, route_table_id=table.id, opts=self._child
            )
        return table

    def _nat_gateways(self, public: dict[str, aws.ec2.Subnet]) -> dict[str, tuple[aws.ec2.NatGateway, aws.ec2.Eip]]:
        """A NAT gateway with its Elastic IP in the public subnet of each NAT zone, keyed by zone letter."""
        nats: dict[str, tuple[aws.ec2.NatGateway, aws.ec2.Eip]] = {}
        for letter in self._plan.nat_letters():
            label = f"{self._name}-nat-{letter}"
            eip = aws.ec2.Eip(f"{label}-eip", domain="vpc", tags=self._tags(f"{label}-eip"), opts=self._child)
            nat = aws.ec2.NatGateway(
                label,
                allocation_id=eip.allocation_id,
                subnet_id=public[letter].id,
                connectivity_type="public",
                tags=self._tags(label),
                opts=self._child,
            )
            nats[letter] = (nat, eip)
        return nats

    def _private_routing(
        self,
        vpc: aws.ec2.Vpc,
        tier: Tier,
        subnets: dict[str, aws.ec2.Subnet],
        nats: dict[str, tuple[aws.ec2.NatGateway, aws.ec2.Eip]],
    ) -> dict[str, aws.ec2.RouteTable]:
        """A route table per zone; app tables default-route through their own zone's NAT, else the only one."""
        tables: dict[str, aws.ec2.RouteTable] = {}
        for letter, subnet in subnets.items():
            label = f"{self._name}-{tier.value}-rt-{letter}"
            table = aws.ec2.RouteTable(label, vpc_id=vpc.id, tags=self._tags(label), opts=self._child)
            aws.ec2.RouteTableAssociation(
                f"{self._name}-{tier.value}-rta-{letter}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
            if nats:
                nat, _ = nats.get(letter) or next(iter(nats.values()))
                aws.ec2.Route(
                    f"{self._name}-{tier.value}-egress-{letter}",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat.id,
                    opts=self._child,
                )
            tables[letter] = table
        return tables

    def _s3_endpoint(self, vpc: aws.ec2.Vpc, tables: list[aws.ec2.RouteTable], account: Account) -> None:
        """S3 gateway endpoint: artifact and log traffic stays off the NAT (free, and works with no NAT)."""
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            vpc_id=vpc.id,
            vpc_endpoint_type="Gateway",
            service_name=pulumi.Output.concat("com.amazonaws.", account.region, ".s3"),
            route_table_ids=[t.id for t in tables],
            tags=self._tags(f"{self._name}-s3"),
            opts=self._child,
        )

    def _interface_endpoints(
        self, vpc: aws.ec2.Vpc, app_subnets: list[aws.ec2.Subnet], account: Account
    ) -> list[aws.ec2.VpcEndpoint]:
        """An interface endpoint per chosen service in every app subnet, answering the service's public name
        (private DNS) and admitting HTTPS from the VPC only."""
        services = self._plan.args["interface_endpoints"]
        if not services:
            return []
        name = f"{self._name}-endpoints"
        group = aws.ec2.SecurityGroup(
            name,
            vpc_id=vpc.id,
            description=f"{self._name}: interface endpoints, HTTPS from the VPC",
            tags=self._tags(name),
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-vpc",
            security_group_id=group.id,
            cidr_ipv4=vpc.cidr_block,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS to AWS APIs from the VPC",
            tags=self._tags(f"{name}-from-vpc"),
            opts=self._child,
        )
        return [
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service}",
                vpc_id=vpc.id,
                vpc_endpoint_type="Interface",
                service_name=pulumi.Output.concat("com.amazonaws.", account.region, f".{service}"),
                subnet_ids=[s.id for s in app_subnets],
                security_group_ids=[group.id],
                private_dns_enabled=True,
                tags=self._tags(f"{self._name}-{service}"),
                opts=self._child,
            )
            for service in services
        ]

    def _flow_logs(self, vpc: aws.ec2.Vpc, account: Account) -> None:
        """All-traffic flow logs to a KMS-encrypted log group with a retention, written by a role only this
        account's flow logs may assume, scoped to that group."""
        name = self._name
        # Named before it exists (the key policy names it), and unique per VPC.
        group_name = pulumi.Output.concat("/ha-stack/", name, "/", vpc.id, "/flow-logs")
        values = pulumi.Output.all(
            partition=account.partition, region=account.region, account=account.account_id, group=group_name
        )
        key = aws.kms.Key(
            f"{name}-flow-logs",
            description=f"{name}: VPC flow log group",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=values.apply(
                lambda v: log_group_key_policy(v["account"], v["partition"], v["region"], log_group=v["group"])
            ),
            tags=self._tags(f"{name}-flow-logs"),
            opts=self._child,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=group_name,
            kms_key_id=key.arn,
            retention_in_days=self._plan.args["flow_log_retention_days"],
            tags=self._tags(f"{name}-flow-logs"),
            opts=self._child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=values.apply(_flow_log_trust_policy),
            tags=self._tags(f"{name}-flow-logs"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=pulumi.Output.all(arn=group.arn, v=values).apply(lambda a: _flow_log_role_policy(a["arn"], a["v"])),
            opts=self._child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=self._tags(f"{name}-flow-log"),
            opts=self._child,
        )


def _flow_log_trust_policy(v: dict[str, str]) -> str:
    """Only VPC flow logs of this account may assume the role (the confused-deputy guard AWS recommends).

    The flow log's id is unknown before the role exists, so its ARN is matched with a wildcard, as the VPC user
    guide's "IAM role for publishing flow logs to CloudWatch Logs" allows.
    """
    return policy_document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": v["account"]},
                "ArnLike": {"aws:SourceArn": f"arn:{v['partition']}:ec2:{v['region']}:{v['account']}:vpc-flow-log/*"},
            },
        }
    )


def _flow_log_role_policy(group_arn: str, v: dict[str, str]) -> str:
    """Write to the flow log group; list log groups (the service checks its destination) in this account only."""
    statements: list[Statement] = [
        {
            "Sid": "WriteFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [group_arn, f"{group_arn}:*"],
        },
        {
            "Sid": "FindTheLogGroup",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": f"arn:{v['partition']}:logs:{v['region']}:{v['account']}:log-group:*",
        },
    ]
    return policy_document(*statements)
