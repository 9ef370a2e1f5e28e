"""HaNetwork: what prod and dev get from their real stack files, and what a reusing project gets."""

import importlib
import inspect
import json

import pulumi
import pytest

from ha_stack import HaNetwork, HaNetworkArgs, NatGateways, options
from ha_stack.cidr import Tier
from ha_stack.network import INSTANCE_ENDPOINTS, check, plan
from stack.ha_summary import network_facts, network_summary
from stack.mock_cloud import ACCOUNT_ID, Recording
from tests.conftest import ZONES3, build, parented_children, refusal, run_stack, stack_config


def args(**overrides) -> HaNetworkArgs:
    return {"availability_zones": ZONES3, **overrides}  # type: ignore[typeddict-item]


def test_prod_spans_3_azs_with_every_tier_in_each(prod):
    facts = network_facts(prod)
    assert facts.subnet_zones == {"public": ZONES3, "app": ZONES3, "data": ZONES3}


def test_prod_has_a_nat_per_az_and_each_app_route_table_uses_its_own_azs_nat(prod):
    facts = network_facts(prod)
    assert facts.nat_zones == ZONES3
    assert facts.app_egress == {z: z for z in ZONES3}


def test_dev_spans_2_azs_with_one_nat_shared_by_both_app_route_tables(dev):
    facts = network_facts(dev)
    assert facts.subnet_zones["app"] == ["us-east-1a", "us-east-1b"]
    assert facts.nat_zones == ["us-east-1a"]
    assert facts.app_egress == {"us-east-1a": "us-east-1a", "us-east-1b": "us-east-1a"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_subnets_have_no_route_to_the_internet(stack, request):
    rec = request.getfixturevalue(stack)
    assert network_facts(rec).data_internet_routes == 0
    data_tables = {r.id for r in rec.of_type("aws:ec2/routeTable:RouteTable") if "-data-rt-" in r.name}
    assert len(data_tables) == (3 if stack == "prod" else 2)
    routes_from_data = [r for r in rec.of_type("aws:ec2/route:Route") if r.inputs["routeTableId"] in data_tables]
    assert routes_from_data == []


def test_only_the_public_route_table_reaches_the_internet_gateway(prod):
    (igw,) = prod.of_type("aws:ec2/internetGateway:InternetGateway")
    via_igw = [r for r in prod.of_type("aws:ec2/route:Route") if r.inputs.get("gatewayId") == igw.id]
    assert [prod.by_id(r.inputs["routeTableId"]).name for r in via_igw] == ["network-public-rt"]


def test_no_subnet_hands_out_public_ips(prod):
    subnets = prod.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 9
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_subnets_follow_the_vpc_cidr_of_the_stack_file(prod):
    (vpc,) = prod.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.20.0.0/16"
    assert vpc.inputs["enableDnsHostnames"] is True
    assert prod.named("network-app-b").inputs["cidrBlock"] == "10.20.16.0/20"


def test_default_security_group_is_stripped_of_every_rule(prod):
    (default_sg,) = prod.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs["vpcId"] == prod.of_type("aws:ec2/vpc:Vpc")[0].id
    assert not default_sg.inputs.get("ingress")
    assert not default_sg.inputs.get("egress")


def test_s3_gateway_endpoint_serves_every_app_and_data_route_table(prod):
    (endpoint,) = prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    names = sorted(prod.by_id(t).name for t in endpoint.inputs["routeTableIds"])
    assert names == [f"network-{tier}-rt-{x}" for tier in ("app", "data") for x in "abc"]


def test_flow_logs_capture_all_traffic_into_a_log_group_kept_for_the_configured_days(prod):
    (flow_log,) = prod.of_type("aws:ec2/flowLog:FlowLog")
    group = prod.named("network-flow-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["retentionInDays"] == 365
    (policy,) = [p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "network-flow-logs"]
    write, describe = json.loads(policy.inputs["policy"])["Statement"]
    assert write["Resource"] == [group.outputs["arn"], group.outputs["arn"] + ":*"]
    assert "*" not in write["Action"]
    assert describe["Resource"] == f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:*"


def flow_log_policies(rec):
    role = rec.named("net-flow-logs", "aws:iam/role:Role")
    (policy,) = [p for p in rec.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return json.loads(role.inputs["assumeRolePolicy"]), json.loads(policy.inputs["policy"])


def test_flow_log_role_has_every_permission_aws_lists_for_publishing_to_cloudwatch_logs():
    _, policy = flow_log_policies(build(lambda: HaNetwork("net", args())))
    granted = {
        a for st in policy["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    # VPC user guide, "IAM role for publishing flow logs to CloudWatch Logs" (the group exists: no CreateLogGroup).
    assert granted == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"}


def test_only_this_accounts_flow_logs_may_assume_the_flow_log_role():
    trust, _ = flow_log_policies(build(lambda: HaNetwork("net", args())))
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc-flow-log/*"},
    }


def test_flow_log_group_is_encrypted_with_a_rotating_key_cloudwatch_logs_may_use_for_that_group_only():
    rec = build(lambda: HaNetwork("net", args()))
    group = rec.named("net-flow-logs", "aws:cloudwatch/logGroup:LogGroup")
    key = rec.named("net-flow-logs", "aws:kms/key:Key")
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {st["Sid"]: st for st in json.loads(key.inputs["policy"])["Statement"]}
    (logs,) = [st for st in statements.values() if st["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}]
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": group.outputs["arn"]}}
    assert statements["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    assert len(statements) == 2


def test_flow_log_group_name_is_unique_per_vpc():
    rec = build(lambda: HaNetwork("net", args()))
    (vpc,) = rec.of_type("aws:ec2/vpc:Vpc")
    group = rec.named("net-flow-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/ha-stack/net/{vpc.id}/flow-logs"


def test_flow_logs_can_be_turned_off():
    rec = build(lambda: HaNetwork("net", args(enable_flow_logs=False)))
    assert rec.of_type("aws:ec2/flowLog:FlowLog") == []


def test_no_nat_mode_leaves_app_subnets_without_internet_route():
    rec = build(lambda: HaNetwork("net", args(nat_gateways=NatGateways.NONE)))
    facts = network_facts(rec)
    assert facts.nat_zones == []
    assert facts.app_egress == dict.fromkeys(ZONES3)


def interface_endpoints(rec):
    """service -> endpoint, for the interface endpoints of a build."""
    return {
        e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1."): e
        for e in rec.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    }


def test_without_nat_instances_reach_every_aws_service_they_call_in_every_zone():
    rec = build(lambda: HaNetwork("net", args(nat_gateways=NatGateways.NONE)))
    endpoints = interface_endpoints(rec)
    # SSM agent; the service's settings and secrets; CloudWatch agent's logs, metrics and DescribeTags.
    assert set(endpoints) == {"ssm", "ssmmessages", "ec2messages", "secretsmanager", "logs", "monitoring", "ec2"}
    app_subnets = sorted(rec.named(f"net-app-{x}").id for x in "abc")
    (group,) = [g for g in rec.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name == "net-endpoints"]
    for endpoint in endpoints.values():
        assert sorted(endpoint.inputs["subnetIds"]) == app_subnets
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == [group.id]


def test_the_preview_says_how_instances_reach_aws_without_nat():
    facts = network_summary(build(lambda: HaNetwork("net", args(nat_gateways="none")))).facts
    assert "no NAT gateways: app subnets have no internet egress" in facts
    assert (
        "AWS APIs reached through interface endpoints: ec2, ec2messages, logs, monitoring, secretsmanager, ssm, "
        "ssmmessages" in facts
    )


def test_interface_endpoints_admit_https_from_the_vpc_only():
    rec = build(lambda: HaNetwork("net", args(nat_gateways=NatGateways.NONE)))
    group = rec.named("net-endpoints", "aws:ec2/securityGroup:SecurityGroup")
    rules = [
        r
        for r in rec.resources
        if r.typ.startswith("aws:vpc/securityGroup") and r.inputs["securityGroupId"] == group.id
    ]
    assert [
        (r.typ.rsplit(":", 1)[-1], r.inputs["cidrIpv4"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules
    ] == [("SecurityGroupIngressRule", "10.0.0.0/16", 443, 443)]


def test_with_a_nat_interface_endpoints_are_made_only_when_asked():
    assert interface_endpoints(build(lambda: HaNetwork("net", args()))) == {}
    chosen = build(lambda: HaNetwork("net", args(nat_gateways="single", interface_endpoints=["ssm", "kms"])))
    assert set(interface_endpoints(chosen)) == {"ssm", "kms"}


def test_without_nat_the_endpoints_can_be_explicitly_left_out():
    rec = build(lambda: HaNetwork("net", args(nat_gateways="none", interface_endpoints=[])))
    assert interface_endpoints(rec) == {}
    assert plan(args(nat_gateways="none")).args["interface_endpoints"] == list(INSTANCE_ENDPOINTS)


def sdk_accepts_tags(typ: str) -> bool:
    """Whether the pulumi-aws resource behind a type token takes tags (e.g. "aws:ec2/vpc:Vpc" -> aws.ec2.Vpc)."""
    module, cls = typ.split(":")[1].split("/", maxsplit=1)[0], typ.rsplit(":", 1)[-1]
    resource = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    return "tags" in inspect.signature(resource._internal_init).parameters


def test_every_taggable_child_carries_the_callers_tags():
    rec = build(lambda: HaNetwork("net", args(nat_gateways=NatGateways.NONE, tags={"team": "shop"})))
    taggable = [r for r in parented_children(rec) if sdk_accepts_tags(r.typ)]
    assert {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:kms/key:Key"} <= {r.typ for r in taggable}
    assert [f"{r.typ} {r.name}" for r in taggable if (r.inputs.get("tags") or {}).get("team") != "shop"] == []


def test_mode_given_as_plain_string_works_as_it_does_from_other_languages():
    rec = build(lambda: HaNetwork("net", args(nat_gateways="single")))
    assert network_facts(rec).nat_zones == ["us-east-1a"]


def test_adding_an_az_replaces_nothing():
    config = stack_config(
        "prod",
        fleet={"min_size": 2},
        cache={"node_count": 2},
        database={"reader_count": 1, "reader_autoscaling_max": 2},
    )
    config["ha-stack:az_count"] = 2
    # The primary region's AZs (the standby has its own standby_az_count; its readers follow the stack file's).
    two = run_stack("prod", config).primary_region("us-east-1")
    three = run_stack("prod").primary_region("us-east-1")
    before = {r.urn: r.inputs for r in two.resources if r.custom}
    after = {r.urn: r.inputs for r in three.resources if r.custom}
    assert set(before) < set(after)
    kind = {r.urn: f"{r.typ.rsplit(':', 1)[-1]} {r.name}" for r in three.resources}
    changed = {kind[urn] for urn, inputs in before.items() if after[urn] != inputs}
    # Only lists of members grow, each an in-place update: the S3 endpoint's route tables, the load balancer's,
    # the Auto Scaling group's, the database's and the cache's subnets; the reader scaling range follows the third
    # reader and the cache gains its third node (both in place). No subnet, NAT, route, template or instance moves.
    assert changed == {
        "VpcEndpoint network-s3",
        "LoadBalancer web-alb",
        "Group web-instances",
        "SubnetGroup database-subnets",
        "Target database-readers",
        "SubnetGroup cache-subnets",
        "ReplicationGroup cache-redis",
        # Monitoring follows: the new minimum, the third node in the hit rate, the dashboard's graphs.
        "MetricAlarm monitoring-instances-below-min",
        "MetricAlarm monitoring-cache-hit-rate",
        "Dashboard monitoring-dashboard",
        # The drills' role may cut the new zone's subnets too (a policy update in place).
        "RolePolicy resilience-fis-drills",
    }
    added = sorted(urn.split("::")[-1] for urn in set(after) - set(before))
    assert "network-app-c" in added
    assert "network-nat-c" in added
    assert "database-instance-c" in added


def test_every_child_is_parented_to_the_component():
    rec = build(lambda: HaNetwork("net", args()))
    assert len(parented_children(rec)) > 30


def test_tags_put_name_last_so_caller_tags_cannot_clobber_it():
    rec = build(lambda: HaNetwork("net", args(tags={"team": "shop", "Name": "mine"})))
    vpc = rec.named("net-vpc")
    assert vpc.inputs["tags"] == {
        "managed-by": "pulumi",
        "ha-stack:component": "HaNetwork",
        "team": "shop",
        "Name": "net-vpc",
    }


BAD_ARGS = [
    ({"availability_zones": ["us-east-1a"]}, "HaNetwork.availability_zones: need at least 2 zones"),
    (
        {"availability_zones": ["us-east-1a", "us-east-1a"]},
        "HaNetwork.availability_zones: must not repeat a zone, got ['us-east-1a'] more than once",
    ),
    (
        {"availability_zones": ["east", "west"]},
        "HaNetwork.availability_zones: must be zone names such as us-east-1a (zone letters a..h), got 'east'",
    ),
    ({"nat_gateways": "two"}, "HaNetwork.nat_gateways: must be one of none, single, one_per_az, got 'two'"),
    ({"interface_endpoints": "ssm"}, "HaNetwork.interface_endpoints: must be a list of strings, got 'ssm'"),
    (
        {"interface_endpoints": ["ssm", "s3"]},
        "HaNetwork.interface_endpoints: must be a service HaNetwork knows (ssm, ssmmessages, ec2messages, "
        "secretsmanager, logs, monitoring, ec2, kms, sts, autoscaling, elasticloadbalancing, ecr.api, ecr.dkr, sqs, "
        "sns, events, xray), got 's3'",
    ),
    (
        {"interface_endpoints": ["logs", "logs"]},
        "HaNetwork.interface_endpoints: must not repeat a service, got ['logs'] more than once",
    ),
    (
        {"flow_log_retention_days": 10},
        "HaNetwork.flow_log_retention_days: must be a CloudWatch Logs retention in days (1, 3",
    ),
    (
        {"cidr_block": "10.0.0.0/27"},
        "HaNetwork.cidr_block: must be a private (RFC 1918: 10/8, 172.16/12, 192.168/16) IPv4 CIDR from /16 to /22, "
        "got '10.0.0.0/27'",
    ),
    (
        {"app_subnet_prefix_length": 17},
        "HaNetwork.app_subnet_prefix_length: subnets do not fit in 10.0.0.0/16: 8 AZ slots of /17 app",
    ),
]


@pytest.mark.parametrize(("bad", "expected"), BAD_ARGS, ids=[e[:60] for _, e in BAD_ARGS])
def test_plan_names_the_bad_argument_and_value(bad, expected):
    with pytest.raises(options.ArgsError) as raised:
        plan(args(**bad))
    assert raised.value.problems == [expected] or raised.value.problems[0].startswith(expected)
    assert len(raised.value.problems) == 1


# Issue 17: every bad input is one line naming the argument, the value and what is allowed, before anything exists


def refused(given: object, name: str = "net") -> tuple[list[str], Recording]:
    """Build HaNetwork on its own with these arguments: the lines it refused them with, and what was registered."""
    return refusal(HaNetwork, given, name)


LONG = "x" * 10_000
REFUSED = [
    # wrong types (the old plan iterated None, took "false" for a flag, passed non-string tag keys to Pulumi)
    ({"availability_zones": None}, "HaNetwork.availability_zones: must be a list of strings, got None"),
    ({"enable_flow_logs": "false"}, "HaNetwork.enable_flow_logs: must be true or false, got 'false'"),
    ({"tags": {1: "x"}}, "HaNetwork.tags: must be an object of strings, got {1: 'x'}"),
    ({"cidr_block": 10}, "HaNetwork.cidr_block: must be a string, got 10"),
    ({"app_subnet_prefix_length": "20"}, "HaNetwork.app_subnet_prefix_length: must be a whole number, got '20'"),
    # an Output where a plain value decides what is declared
    (
        {"availability_zones": pulumi.Output.from_input(ZONES3)},
        "HaNetwork.availability_zones: must be a plain value known before deploy, not an Output",
    ),
    (
        {"cidr_block": pulumi.Output.from_input("10.0.0.0/16")},
        "HaNetwork.cidr_block: must be a plain value known before deploy, not an Output",
    ),
    # what AWS refuses or rewrites
    ({"cidr_block": "10.0.0.1/16"}, "HaNetwork.cidr_block: must be a network address (AWS would store 10.0.0.0/16)"),
    ({"cidr_block": "8.8.0.0/16"}, "HaNetwork.cidr_block: must be a private (RFC 1918"),
    ({"cidr_block": "10.0.0.0/8"}, "HaNetwork.cidr_block: must be a private (RFC 1918"),
    ({"cidr_block": "10.0.0.0"}, "HaNetwork.cidr_block: must be a private (RFC 1918"),
    ({"cidr_block": "ten"}, "HaNetwork.cidr_block: must be an IPv4 CIDR such as 10.0.0.0/16, got 'ten'"),
    ({"data_subnet_prefix_length": 29}, "HaNetwork.data_subnet_prefix_length: must be from 16 to 28, got 29"),
    ({"availability_zones": []}, "HaNetwork.availability_zones: need at least 2 zones for high availability, got []"),
    ({"availability_zones": ["us-east-1i", "us-east-1a"]}, "HaNetwork.availability_zones: must be zone names"),
    (
        {"availability_zones": ["us-east-1a", "eu-west-1b"]},
        "HaNetwork.availability_zones: must all be in one region (a VPC's subnets are in its region), got zones of "
        "['eu-west-1', 'us-east-1']",
    ),
    # a 10,000-character value is shown cut
    ({"cidr_block": LONG}, "HaNetwork.cidr_block: must be an IPv4 CIDR such as 10.0.0.0/16, got 'xxxxx"),
    ({"availability_zones": [LONG, "us-east-1a"]}, "HaNetwork.availability_zones: must be zone names"),
    # an unknown argument
    ({"cidr_blok": "10.0.0.0/16"}, "HaNetwork.cidr_blok: unknown argument (did you mean 'cidr_block'?)"),
]


@pytest.mark.parametrize(("overrides", "line"), REFUSED, ids=lambda v: str(v)[:40])
def test_each_class_of_bad_input_is_one_line_and_nothing_is_declared(overrides, line):
    lines, rec = refused(args(**overrides))
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert LONG[:100] not in lines[0]  # a value is never echoed whole
    assert rec.resources == []


def test_a_long_value_is_shown_cut_with_its_length():
    lines, _ = refused(args(cidr_block=LONG))
    assert lines[0].endswith("... (10002 characters)")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("n" * 47, "HaNetwork.name: must be at most 46 characters: the IAM role Pulumi names"),
        (
            "my net",
            "HaNetwork.name: makes the IAM role name 'my net-flow-logs' + 7 random characters, which AWS refuses",
        ),
        ("net+1", "HaNetwork.name: names the flow-log group, which CloudWatch Logs takes only of letters, digits"),
        (LONG, "HaNetwork.name: must be at most 46 characters"),
    ],
)
def test_a_name_that_makes_an_invalid_flow_log_role_or_group_is_refused_before_anything_is_declared(name, line):
    """IAM RoleName: 1 to 64 of [\\w+=,.@-], and Pulumi names the role "<name>-flow-logs-" + 7 characters; the flow-log
    group "/ha-stack/<name>/<vpc>/flow-logs" takes [.-_/#A-Za-z0-9] only (CreateLogGroup)."""
    lines, rec = refused(args(), name=name)
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert LONG[:100] not in lines[0]
    assert rec.resources == []


def test_the_longest_name_the_flow_log_role_takes_is_accepted():
    rec = build(lambda: HaNetwork("n" * 46, args()))
    assert len(f"{'n' * 46}-flow-logs-abcdef0") == 64
    assert rec.named(f"{'n' * 46}-flow-logs", "aws:iam/role:Role")


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(options.ArgsError, match="HaNetwork") as raised:
        plan(args(cidr_block="8.8.0.0/16", nat_gateways="two", enable_flow_logs="no", zones=["a"]), "a b")
    fields = [line.split(":")[0] for line in str(raised.value).splitlines()]
    assert sorted(fields) == [
        "HaNetwork.cidr_block",
        "HaNetwork.enable_flow_logs",
        "HaNetwork.name",
        "HaNetwork.nat_gateways",
        "HaNetwork.zones",
    ]


def test_the_stack_can_check_the_stack_file_before_the_zones_are_picked():
    problems = options.Problems("ha-stack:network.")
    checked = check(
        {"cidr_block": "10.20.0.0/16", "nat_gateways": "single"}, problems, frozenset({"availability_zones"})
    )
    assert problems.lines == []
    assert checked["nat_gateways"] is NatGateways.SINGLE
    assert (checked["app_subnet_prefix_length"], checked["interface_endpoints"]) == (20, [])
    assert "availability_zones" not in checked


def test_a_smaller_vpc_gets_proportionally_smaller_subnets():
    p = plan(args(cidr_block="192.168.4.0/22"))
    assert (p.args["app_subnet_prefix_length"], p.args["data_subnet_prefix_length"]) == (26, 28)
    assert [s.cidr for s in p.subnets_of(Tier.DATA)] == ["192.168.6.0/28", "192.168.6.16/28", "192.168.6.32/28"]
