"""HaNetwork: a VPC with public, app and data subnets in every AZ and per-AZ NAT egress."""

from dataclasses import dataclass
from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import checks
from ha_stack.cidr import SubnetPlan, Tier, plan_subnets
from ha_stack.iam import assume_role_policy, policy_document
from ha_stack.naming import az_letter, component_tags, type_token

FLOW_LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The retention periods CloudWatch Logs accepts."""


class NatGateways(str, Enum):
    """How the app subnets reach the internet."""

    NONE = "none"
    """No NAT: app subnets have no internet route (use VPC endpoints)."""
    SINGLE = "single"
    """One NAT in the first AZ: cheap, but a single point of failure for egress."""
    ONE_PER_AZ = "one_per_az"
    """A NAT in every AZ, each app route table on its own AZ's NAT: survives an AZ loss."""


class HaNetworkArgs(TypedDict):
    """Inputs for HaNetwork."""

    availability_zones: list[str]
    """Zone names to span (at least 2, letters a..h), e.g. ["us-east-1a", "us-east-1b", "us-east-1c"]."""
    cidr_block: NotRequired[str]
    """VPC IPv4 CIDR, /16 to /22. Default 10.0.0.0/16."""
    nat_gateways: NotRequired[NatGateways]
    """NAT mode for the app subnets. Default one_per_az."""
    enable_flow_logs: NotRequired[bool]
    """Send VPC flow logs (all traffic) to CloudWatch Logs. Default true."""
    flow_log_retention_days: NotRequired[int]
    """Days to keep flow logs; a value CloudWatch Logs accepts. Default 90."""
    public_subnet_prefix_length: NotRequired[int]
    """Prefix length of each public subnet. Default VPC prefix + 6 (/22 in a /16)."""
    app_subnet_prefix_length: NotRequired[int]
    """Prefix length of each app subnet. Default VPC prefix + 4 (/20 in a /16)."""
    data_subnet_prefix_length: NotRequired[int]
    """Prefix length of each data subnet. Default VPC prefix + 6 (/22 in a /16)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child. Default none."""


@dataclass(frozen=True)
class NetworkPlan:
    """HaNetworkArgs with defaults applied and every plain value checked."""

    zones: list[str]
    cidr_block: str
    nat_gateways: NatGateways
    enable_flow_logs: bool
    flow_log_retention_days: int
    subnets: list[SubnetPlan]
    tags: dict[str, str]

    def subnets_of(self, tier: Tier) -> list[SubnetPlan]:
        """This tier's subnets in zone order."""
        return [s for s in self.subnets if s.tier is tier]

    def nat_letters(self) -> list[str]:
        """Zone letters that get a NAT gateway."""
        letters = [az_letter(z) for z in self.zones]
        return {NatGateways.NONE: [], NatGateways.SINGLE: letters[:1], NatGateways.ONE_PER_AZ: letters}[
            self.nat_gateways
        ]


def _check_zones(zones: list[str]) -> None:
    if len(zones) < 2:
        raise ValueError(f"HaNetwork.availability_zones: need at least 2 zones for high availability, got {zones!r}")
    if len(set(zones)) != len(zones):
        raise ValueError(f"HaNetwork.availability_zones: zones must be distinct, got {zones!r}")
    for zone in zones:
        try:
            az_letter(zone)
        except ValueError as err:
            raise ValueError(f"HaNetwork.availability_zones: {err}") from None


def plan(args: HaNetworkArgs) -> NetworkPlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    zones = list(args["availability_zones"])
    _check_zones(zones)
    cidr = args.get("cidr_block", "10.0.0.0/16")
    retention = args.get("flow_log_retention_days", 90)
    if retention not in FLOW_LOG_RETENTION_DAYS:
        raise ValueError(
            f"HaNetwork.flow_log_retention_days: must be one of {FLOW_LOG_RETENTION_DAYS}, got {retention!r}"
        )
    lengths = {
        tier: args[key]  # type: ignore[literal-required]
        for tier, key in (
            (Tier.PUBLIC, "public_subnet_prefix_length"),
            (Tier.APP, "app_subnet_prefix_length"),
            (Tier.DATA, "data_subnet_prefix_length"),
        )
        if key in args
    }
    try:
        subnets = plan_subnets(cidr, zones, lengths)
    except ValueError as err:
        raise ValueError(f"HaNetwork.cidr_block: {cidr!r}: {err}") from None
    return NetworkPlan(
        zones=zones,
        cidr_block=cidr,
        nat_gateways=checks.choice(
            "HaNetwork", "nat_gateways", args.get("nat_gateways", NatGateways.ONE_PER_AZ), NatGateways
        ),
        enable_flow_logs=args.get("enable_flow_logs", True),
        flow_log_retention_days=retention,
        subnets=subnets,
        tags=dict(args.get("tags") or {}),
    )


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

    def __init__(self, name: str, args: HaNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("HaNetwork"), name, None, opts)
        p = plan(args)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=p.cidr_block,
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
        self._s3_endpoint(vpc, [*app_rts.values(), *data_rts.values()])
        if p.enable_flow_logs:
            self._flow_logs(vpc)

        self.vpc_id = vpc.id
        self.vpc_cidr_block = vpc.cidr_block
        self.availability_zones = pulumi.Output.from_input(p.zones)
        self.public_subnet_ids = _ids(list(subnets[Tier.PUBLIC].values()))
        self.app_subnet_ids = _ids(list(subnets[Tier.APP].values()))
        self.data_subnet_ids = _ids(list(subnets[Tier.DATA].values()))
        self.nat_gateway_ids = _ids([nat for nat, _ in nats.values()])
        self.nat_public_ips = pulumi.Output.all(*[eip.public_ip for _, eip in nats.values()])
        self.public_route_table_id = public_rt.id
        self.app_route_table_ids = _ids(list(app_rts.values()))
        self.data_route_table_ids = _ids(list(data_rts.values()))
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
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags("HaNetwork", self._plan.tags, name=name)

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

    def _s3_endpoint(self, vpc: aws.ec2.Vpc, tables: list[aws.ec2.RouteTable]) -> None:
        """S3 gateway endpoint: artifact and log traffic stays off the NAT (free, and works with no NAT)."""
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self))
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            vpc_id=vpc.id,
            vpc_endpoint_type="Gateway",
            service_name=region.region.apply(lambda r: f"com.amazonaws.{r}.s3"),
            route_table_ids=[t.id for t in tables],
            tags=self._tags(f"{self._name}-s3"),
            opts=self._child,
        )

    def _flow_logs(self, vpc: aws.ec2.Vpc) -> None:
        """All-traffic flow logs to a log group with a retention, written by a role scoped to that group."""
        name = self._name
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=self._plan.flow_log_retention_days,
            tags=self._tags(f"{name}-flow-logs"),
            opts=self._child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            tags=self._tags(f"{name}-flow-logs"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: policy_document(
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    }
                )
            ),
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
