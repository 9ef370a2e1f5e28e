"""HaNetwork: a VPC with public, app and data subnets in every AZ and per-AZ NAT egress.

Without NAT, the app subnets reach AWS through interface endpoints (ssm, secretsmanager, logs, ...) and S3 (the
release and Amazon Linux's package repositories) through the gateway endpoint; see INSTANCE_ENDPOINTS.
"""

from dataclasses import dataclass
from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import checks
from ha_stack.cidr import SubnetPlan, Tier, plan_subnets
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


class NatGateways(str, Enum):
    """How the app subnets reach the internet."""

    NONE = "none"
    """No NAT: app subnets have no internet route; AWS APIs through interface endpoints, S3 through its gateway."""
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
    interface_endpoints: NotRequired[list[str]]
    """AWS services to reach through interface endpoints in every app subnet (private DNS on, HTTPS from the VPC
    only), e.g. ["ssm", "logs"]. Default: with nat_gateways=none, what the web tier's instances call (ssm,
    ssmmessages, ec2messages, secretsmanager, logs, monitoring, ec2); with a NAT, none (egress goes through it).
    Each endpoint costs an hourly fee per zone."""
    enable_flow_logs: NotRequired[bool]
    """Send VPC flow logs (all traffic) to CloudWatch Logs, encrypted with a rotating KMS key. Default true."""
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
    interface_endpoints: list[str]
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


def _check_endpoints(services: object) -> list[str]:
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise ValueError(f"HaNetwork.interface_endpoints: must be a list of service names, got {services!r}")
    unknown = [s for s in services if s not in INTERFACE_SERVICES]
    if unknown:
        raise ValueError(
            f"HaNetwork.interface_endpoints: must be among {', '.join(INTERFACE_SERVICES)}, got {unknown!r}"
        )
    if len(set(services)) != len(services):
        raise ValueError(f"HaNetwork.interface_endpoints: services must be distinct, got {services!r}")
    return list(services)


def plan(args: HaNetworkArgs) -> NetworkPlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    zones = list(args["availability_zones"])
    _check_zones(zones)
    cidr = args.get("cidr_block", "10.0.0.0/16")
    retention = checks.log_retention_days("HaNetwork", args, "flow_log_retention_days", 90)
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
    nat = checks.choice("HaNetwork", "nat_gateways", args.get("nat_gateways", NatGateways.ONE_PER_AZ), NatGateways)
    default_endpoints = list(INSTANCE_ENDPOINTS) if nat is NatGateways.NONE else []
    return NetworkPlan(
        zones=zones,
        cidr_block=cidr,
        nat_gateways=nat,
        interface_endpoints=_check_endpoints(args.get("interface_endpoints", default_endpoints)),
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
    interface_endpoint_ids: pulumi.Output[list[str]]
    """Interface endpoints, in the order of interface_endpoints (empty when there are none)."""

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
        account = caller_account(self)
        self._s3_endpoint(vpc, [*app_rts.values(), *data_rts.values()], account)
        endpoints = self._interface_endpoints(vpc, list(subnets[Tier.APP].values()), account)
        if p.enable_flow_logs:
            self._flow_logs(vpc, account)

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
        services = self._plan.interface_endpoints
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
            retention_in_days=self._plan.flow_log_retention_days,
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
