"""HaWebTier: what prod and dev get from their real stack files, and what a reusing project gets."""

import asyncio
import base64
import dataclasses
import importlib
import inspect
import json
import re
import shutil
import subprocess
from typing import cast

import pulumi
import pulumi_aws as aws
import pytest

from app.config import from_env
from ha_stack import HaWebFleet, HaWebFleetArgs, HaWebTier, HaWebTierArgs, catalogue, options
from ha_stack.fleet import plan as fleet_plan
from ha_stack.release import SERVICE, Launch, package, render_unit, render_user_data
from ha_stack.web import ARGS, DERIVED_NAMES, architecture, check, plan
from stack import mock_cloud
from stack.ha_summary import web_facts
from stack.mock_cloud import MockCloud, RecordedResource, Recording
from tests.conftest import ROOT, ZONES3, build, parented_children, run_stack, stack_config

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LISTENER = "aws:lb/listener:Listener"
SG = "aws:ec2/securityGroup:SecurityGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"


def args(**overrides) -> HaWebTierArgs:
    base = {
        "vpc_id": "vpc-1",
        "public_subnet_ids": ["subnet-pa", "subnet-pb"],
        "app_directory": str(ROOT / "app"),
        "runtime_config_path": "/shop/test/",
    }
    return cast(HaWebTierArgs, {**base, **overrides})


def fleet_args(**overrides) -> HaWebFleetArgs:
    base = {
        "subnet_ids": ["subnet-aa", "subnet-ab"],
        "launch_template_id": "lt-1",
        "launch_template_version": "3",
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1",
    }
    return cast(HaWebFleetArgs, {**base, **overrides})


def rules_of(rec, typ, group_name):
    group = rec.named(group_name, SG)
    return [r for r in rec.of_type(typ) if r.inputs["securityGroupId"] == group.id]


def user_data(rec) -> str:
    (template,) = rec.of_type(LAUNCH_TEMPLATE)
    return base64.b64decode(template.inputs["userData"]).decode()


def policies(rec):
    """Every IAM and bucket policy document of a stack, parsed."""
    docs = [json.loads(p.inputs["policy"]) for p in rec.of_type("aws:iam/rolePolicy:RolePolicy")]
    docs += [json.loads(p.inputs["policy"]) for p in rec.of_type("aws:s3/bucketPolicy:BucketPolicy")]
    return docs


@pytest.fixture(scope="module")
def prod(prod: Recording) -> Recording:
    """prod's primary region. Its stack file turns dr on: the standby region's copies (standby-*, built by the same
    code under that region's provider) are tests/test_dr.py's and the standby tests below."""
    return dataclasses.replace(prod, resources=[r for r in prod.resources if not r.name.startswith("standby-")])


# 1. Security groups


def test_prod_alb_admits_only_cloudfront_on_https(prod):
    (rule,) = rules_of(prod, INGRESS, "web-alb")
    assert rule.inputs["prefixListId"].startswith("pl-")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (443, 443, "tcp")
    assert "cidrIpv4" not in rule.inputs


def test_dev_alb_admits_only_cloudfront_on_http_as_it_has_no_certificate(dev):
    """Item 26: the internal ALB admits exactly one source, CloudFront's origin-facing prefix list, on its listener.

    The VPC origin's service-managed group (CloudFront-VPCOrigins-Service-SG) does not exist before CloudFront
    creates the VPC origin, so it is not referenced; nothing in the VPC and no CIDR is admitted.
    """
    (rule,) = rules_of(dev, INGRESS, "web-alb")
    assert rule.inputs["prefixListId"].startswith("pl-")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (80, 80, "tcp")
    assert not {"cidrIpv4", "cidrIpv6", "referencedSecurityGroupId"} & set(rule.inputs)
    assert "aws:ec2/getManagedPrefixList:getManagedPrefixList" in dev.invokes


def test_dev_alb_is_internal_in_the_app_subnets_of_a_vpc_with_an_internet_gateway(dev):
    """Item 26: dev's ALB has no public address; it sits in the instances' (app) subnets, and its VPC keeps an
    internet gateway attached, which CloudFront requires of a VPC origin's VPC."""
    alb = dev.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is True
    (group,) = dev.of_type(GROUP)
    assert sorted(alb.inputs["subnets"]) == sorted(group.inputs["vpcZoneIdentifiers"])
    tiers = {s.id: s.inputs["tags"]["ha-stack:tier"] for s in dev.of_type("aws:ec2/subnet:Subnet")}
    assert {tiers[subnet] for subnet in alb.inputs["subnets"]} == {"app"}
    vpc_id = dev.named("web-alb", SG).inputs["vpcId"]
    assert [g.inputs["vpcId"] for g in dev.of_type("aws:ec2/internetGateway:InternetGateway")] == [vpc_id]


def test_prod_alb_stays_internet_facing_in_the_public_subnets_behind_its_https_origin(prod):
    alb = prod.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False
    (group,) = prod.of_type(GROUP)
    assert not set(alb.inputs["subnets"]) & set(group.inputs["vpcZoneIdentifiers"])
    assert prod.of_type("aws:cloudfront/vpcOrigin:VpcOrigin") == []


def test_an_internal_alb_goes_in_the_given_private_subnets():
    rec = build(
        lambda: HaWebTier(
            "web",
            cast(
                HaWebTierArgs,
                {
                    **{k: v for k, v in args().items() if k != "public_subnet_ids"},
                    "internal_subnet_ids": ["subnet-aa", "subnet-ab"],
                    "cloudfront_only": True,
                },
            ),
        )
    )
    alb = rec.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    assert (alb.inputs["internal"], alb.inputs["subnets"]) == (True, ["subnet-aa", "subnet-ab"])


def test_without_the_edge_the_alb_is_open_to_the_internet_on_80_and_443():
    # A dr pair needs the edge (its reads fail over in CloudFront): prod without the edge is prod without dr.
    rec = run_stack("prod", {**stack_config("prod", dr=None), "ha-stack:enable_edge": False})
    rules = rules_of(rec, INGRESS, "web-alb")
    assert sorted((r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in rules) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    assert rec.of_type("aws:lb/listenerRule:ListenerRule") == []
    (https,) = [listener for listener in rec.of_type(LISTENER) if listener.inputs["port"] == 443]
    assert https.inputs["defaultActions"][0]["type"] == "forward"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_instances_admit_only_the_alb_group_on_the_app_port_and_send_only_https(stack, request):
    rec = request.getfixturevalue(stack)
    alb_sg = rec.named("web-alb", SG)
    (ingress,) = rules_of(rec, INGRESS, "web-instances")
    assert ingress.inputs["referencedSecurityGroupId"] == alb_sg.id
    assert (ingress.inputs["fromPort"], ingress.inputs["toPort"]) == (8000, 8000)
    to_https = [r for r in rules_of(rec, EGRESS, "web-instances") if "cidrIpv4" in r.inputs]
    assert [(r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in to_https] == [
        (443, 443, "0.0.0.0/0")
    ]
    (alb_out,) = rules_of(rec, EGRESS, "web-alb")
    assert alb_out.inputs["referencedSecurityGroupId"] == rec.named("web-instances", SG).id
    assert alb_out.inputs["fromPort"] == 8000


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_rule_anywhere_opens_ssh_or_all_ports(stack, request):
    rec = request.getfixturevalue(stack)
    rules = rec.of_type(INGRESS) + rec.of_type(EGRESS)
    assert rules
    for rule in rules:
        assert rule.inputs["ipProtocol"] == "tcp", rule.name
        assert not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"], rule.name


# 2. Load balancer, listeners, target group


def test_prod_alb_spans_the_public_subnets_of_all_3_azs_and_is_hardened(prod):
    assert web_facts(prod).alb_zones == ZONES3
    alb = prod.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["desyncMitigationMode"] == "defensive"
    assert alb.inputs["enableHttp2"] is True
    # Its own group (CloudFront only), and one admitting only Route 53's health checkers: prod's dr probes
    # https://origin.<domain>/health to decide where writes go.
    assert alb.inputs["securityGroups"] == [prod.named("web-alb", SG).id, prod.named("web-alb-health-checks", SG).id]


def test_dev_alb_can_be_deleted_as_its_stack_file_says(dev):
    assert dev.named("web-alb", "aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is False


def test_alb_access_logs_go_to_a_private_sse_s3_bucket_elb_log_delivery_may_write(prod):
    alb = prod.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    bucket = prod.named("web-access-logs", "aws:s3/bucket:Bucket")
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["bucket"], "prefix": "alb", "enabled": True}
    sse = prod.named(
        "web-access-logs", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = prod.named("web-access-logs", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    policy = json.loads(prod.named("web-access-logs", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny, delivery = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert delivery["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"arn:aws:s3:::{bucket.id}/alb/AWSLogs/123456789012/*"


@pytest.mark.parametrize("region", ["eu-central-2", "me-central-1", "us-east-1"])
def test_alb_access_logs_are_delivered_in_regions_with_and_without_a_legacy_elb_account(region):
    # Zurich and UAE opened after August 2022: no ELB account exists there, only the log-delivery service.
    rec = build(lambda: HaWebTier("web", args()), region=region)
    policy = json.loads(rec.named("web-access-logs", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (delivery,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    bucket = rec.named("web-access-logs", "aws:s3/bucket:Bucket")
    assert delivery["Resource"] == f"arn:aws:s3:::{bucket.id}/alb/AWSLogs/123456789012/*"


def test_prod_serves_https_with_a_tls13_policy_and_redirects_http(prod):
    listeners = {int(listener.inputs["port"]): listener for listener in prod.of_type(LISTENER)}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    certificate = prod.named("web-certificate", "aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == "origin.shop.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    assert https.inputs["certificateArn"] == certificate.outputs["arn"]  # the validated certificate
    assert listeners[80].inputs["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]


def test_prod_certificate_is_validated_by_a_record_in_the_hosted_zone(prod):
    # One CNAME per name on the certificate: origin.<domain>, and origin-write.<domain> (the dr pair's write origin).
    record = prod.named("web-certificate-validation", "aws:route53/record:Record")
    write = prod.named("web-certificate-validation-origin-write-shop-example-com", "aws:route53/record:Record")
    assert record.inputs["name"].endswith(".origin.shop.example.com.")
    assert write.inputs["name"].endswith(".origin-write.shop.example.com.")
    assert record.inputs["type"] == write.inputs["type"] == "CNAME"
    validation = prod.named("web-certificate", "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"], write.outputs["fqdn"]]
    alias = prod.named("web-alias", "aws:route53/record:Record")
    assert alias.inputs["zoneId"] == record.inputs["zoneId"]
    assert (
        alias.inputs["aliases"][0]["name"]
        == prod.named("web-alb", "aws:lb/loadBalancer:LoadBalancer").outputs["dnsName"]
    )


def test_dev_without_a_domain_serves_http_only(dev):
    (listener,) = dev.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert dev.of_type("aws:acm/certificate:Certificate") == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_requests_without_the_origin_secret_get_403(stack, request):
    rec = request.getfixturevalue(stack)
    serving = max(rec.of_type(LISTENER), key=lambda listener: listener.inputs["port"])
    assert serving.inputs["defaultActions"] == [
        {
            "type": "fixed-response",
            "fixedResponse": {"contentType": "text/plain", "messageBody": "Forbidden", "statusCode": "403"},
        }
    ]
    rule = rec.named("web-from-cloudfront", "aws:lb/listenerRule:ListenerRule")
    # Any other rule forwards only the health check path (prod's dr health checks), nothing else without the secret.
    others = [r.inputs["conditions"] for r in rec.of_type("aws:lb/listenerRule:ListenerRule") if r is not rule]
    assert others in ([], [[{"pathPattern": {"values": ["/health"]}}]])
    secret = rec.named("web-origin-secret").outputs["result"]["secret"]
    assert rule.inputs["listenerArn"] == serving.outputs["arn"]
    # The whole condition is a Pulumi secret: encrypted in state, masked in previews.
    assert rule.inputs["conditions"] == {
        "secret": [{"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": [secret]}}]
    }
    target_group = rec.named("web-app", "aws:lb/targetGroup:TargetGroup")
    assert rule.inputs["actions"] == [{"type": "forward", "targetGroupArn": target_group.outputs["arn"]}]


def test_the_origin_secret_is_a_pulumi_secret():
    tiers = []
    build(lambda: tiers.append(HaWebTier("web", args(cloudfront_only=True))))
    (tier,) = tiers
    loop = asyncio.get_event_loop()
    assert loop.run_until_complete(tier.origin_secret.is_secret()) is True
    assert len(loop.run_until_complete(tier.origin_secret.future()) or "") == 40


def test_target_group_checks_health_and_outlasts_the_service_drain(prod):
    target_group = prod.named("web-app", "aws:lb/targetGroup:TargetGroup")
    assert (target_group.inputs["port"], target_group.inputs["protocol"]) == (8000, "HTTP")
    check = target_group.inputs["healthCheck"]
    assert (check["path"], check["matcher"], check["port"]) == ("/health", "200", "traffic-port")
    # An instance that dies is out of rotation after ~10 s (docs/resilience.md: instance-crash-fast-check).
    assert (check["interval"], check["timeout"], check["healthyThreshold"], check["unhealthyThreshold"]) == (5, 3, 2, 2)
    service = from_env(
        {"HA_DB_WRITER": "db", "HA_DB_NAME": "shop", "HA_DB_USER": "u", "HA_DB_PASSWORD": "p", "HA_REDIS_HOST": "r"}
    )
    # The ALB keeps sending in-flight requests for the delay; the service must finish its drain inside it.
    assert service.shutdown_grace_seconds < target_group.inputs["deregistrationDelay"] == 30


# 3. Launch template and user data


@pytest.mark.parametrize(("stack", "instance_type"), [("dev", "t3.micro"), ("prod", "t3.medium")])
def test_launch_template_requires_imdsv2_and_encrypts_a_gp3_root(stack, instance_type, request):
    rec = request.getfixturevalue(stack)
    (template,) = rec.of_type(LAUNCH_TEMPLATE)
    assert template.inputs["instanceType"] == instance_type
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (disk,) = template.inputs["blockDeviceMappings"]
    assert disk["ebs"] == {"volumeSize": 20, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert template.inputs["monitoring"] == {"enabled": True}
    assert template.inputs["iamInstanceProfile"] == {
        "arn": rec.named("web-instances", "aws:iam/instanceProfile:InstanceProfile").outputs["arn"]
    }
    assert template.inputs["vpcSecurityGroupIds"] == [rec.named("web-instances", SG).id]
    assert "keyName" not in template.inputs  # no SSH key: Session Manager instead


def test_image_is_amazon_linux_2023_from_awss_public_parameter(prod):
    (template,) = prod.of_type(LAUNCH_TEMPLATE)
    assert template.inputs["imageId"].startswith("ami-")
    tier = plan(args(instance_type="m7g.large"))
    assert tier.arch == "arm64"
    assert plan(args(instance_type="t3.medium")).arch == "x86_64"


PUBLISHED_IMAGE = "ami-0fedcba9876543210"
PINNED_IMAGE = "ami-0123456789abcdef0"


def newer_image_published(monkeypatch) -> None:
    """AWS publishes a newer Amazon Linux 2023: its public parameter now names another image."""
    answer = MockCloud.call

    def call(self, call_args):
        result, failures = answer(self, call_args)
        if "ami-amazon-linux-latest" in str(call_args.args.get("name")):
            result = {**result, "value": PUBLISHED_IMAGE, "insecureValue": PUBLISHED_IMAGE}
        return result, failures

    monkeypatch.setattr(MockCloud, "call", call)


def applied(resource: RecordedResource) -> dict[str, object]:
    """The inputs the engine would apply: those not under ignore_changes."""
    return {key: value for key, value in resource.inputs.items() if key not in resource.ignore_changes}


def test_a_newly_published_image_changes_nothing_the_engine_would_apply(monkeypatch):
    before = build(lambda: HaWebTier("web", args()))
    newer_image_published(monkeypatch)
    after = build(lambda: HaWebTier("web", args()))
    old, new = (rec.named("web-instances", LAUNCH_TEMPLATE) for rec in (before, after))
    assert old.inputs["imageId"] != new.inputs["imageId"] == PUBLISHED_IMAGE  # the parameter moved on...
    assert applied(old) == applied(new)  # ...but the template keeps its image: no new version, no fleet rollout


def test_pinning_ami_id_rolls_the_fleet_onto_that_image_and_only_then():
    before = build(lambda: HaWebTier("web", args()))
    pinned = build(lambda: HaWebTier("web", args(ami_id=PINNED_IMAGE)))
    old, new = (rec.named("web-instances", LAUNCH_TEMPLATE) for rec in (before, pinned))
    assert new.inputs["imageId"] == PINNED_IMAGE
    assert "imageId" not in new.ignore_changes
    assert applied(old) != applied(new)  # a new template version: the fleet's instance refresh rolls onto it
    assert new.outputs["latestVersion"] != old.outputs["latestVersion"]


def test_moving_to_graviton_gets_a_template_with_an_arm64_image_not_the_kept_x86_one():
    before = build(lambda: HaWebTier("web", args(instance_type="t3.small")))
    after = build(lambda: HaWebTier("web", args(instance_type="t4g.small")))
    (old,), (new,) = before.of_type(LAUNCH_TEMPLATE), after.of_type(LAUNCH_TEMPLATE)
    # A new resource, so the x86 template's kept image (ignore_changes) does not carry over to arm64 instances.
    assert (old.name, new.name) == ("web-instances", "web-instances-arm64")
    assert new.inputs["imageId"] != old.inputs["imageId"]
    assert new.inputs["instanceType"] == "t4g.small"


def test_the_stack_pins_the_image_from_its_stack_file():
    rec = run_stack("dev", stack_config("dev", web={"ami_id": PINNED_IMAGE}))
    (template,) = rec.of_type(LAUNCH_TEMPLATE)
    assert template.inputs["imageId"] == PINNED_IMAGE
    group = rec.named("web-instances", GROUP)
    assert group.inputs["launchTemplate"]["version"] == str(template.outputs["latestVersion"])


def test_user_data_installs_the_release_and_starts_the_unit(prod):
    script = user_data(prod)
    release = prod.named("web-release", "aws:s3/bucketObjectv2:BucketObjectv2")
    bucket = prod.named("web-artifacts", "aws:s3/bucket:Bucket").outputs["bucket"]
    assert f"s3://{bucket}/{release.inputs['key']}" in script
    assert "Environment=HA_SSM_PATH=/ha-stack/prod/" in script
    assert f"User={SERVICE}" in script
    assert "Restart=on-failure" in script
    assert f"systemctl enable --now {SERVICE}.service" in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_user_data_holds_no_secret(stack, request):
    rec = request.getfixturevalue(stack)
    script = user_data(rec)
    origin_secret = rec.named("web-origin-secret").outputs["result"]["secret"]
    assert origin_secret not in script
    assert not re.search(r"(?i)(password|secret|token|aws_secret_access_key)\s*[=:]", script)


def test_systemd_unit_parses(tmp_path):
    launch = Launch("app", "bucket", "releases/app-1.zip", "0" * 64, "us-east-1", "/ha-stack/prod/", "lg", 40)
    unit = tmp_path / f"{SERVICE}.service"
    unit.write_text(render_unit(launch))
    found = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    # Only complaints about this machine (no such user or venv here) are acceptable, never a syntax error.
    complaints = [line for line in found.stderr.splitlines() if str(unit) in line or "Unknown" in line]
    assert [c for c in complaints if "not executable" not in c and "No such file" not in c] == []
    assert "TimeoutStopSec=40" in unit.read_text()


def test_service_gets_longer_to_stop_than_the_alb_drain(prod):
    # systemd must not SIGKILL the service while the ALB still drains it (delay 30 s + 10 s margin).
    assert "TimeoutStopSec=40" in user_data(prod)


def test_rendered_user_data_is_valid_bash_for_any_release():
    launch = Launch("svc", "b", "releases/svc-x.zip", "f" * 64, "eu-west-1", "/p/q/", "lg", 10)
    subprocess.run(["bash", "-n"], input=render_user_data(launch), text=True, check=True)


# 4. App delivery


def test_release_is_a_content_addressed_object_in_a_private_versioned_bucket(prod):
    release = prod.named("web-release", "aws:s3/bucketObjectv2:BucketObjectv2")
    digest = package(str(ROOT / "app")).digest
    assert release.inputs["key"] == f"releases/app-{digest[:20]}.zip"
    assert "app/__main__.py" in release.inputs["source"]["archive"]
    assert not any("__pycache__" in path for path in release.inputs["source"]["archive"])
    assert prod.named("web-release").retain_on_delete is True  # rollbacks still find the previous release
    versioning = prod.named("web-artifacts", "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(prod.named("web-artifacts", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport"]


def test_changing_the_service_rolls_out_a_new_release_and_touches_nothing_else(tmp_path):
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    before = run_stack("prod", root=tmp_path)
    with (tmp_path / "app" / "routes.py").open("a") as routes:
        routes.write("\n# a new release\n")
    after = run_stack("prod", root=tmp_path)
    old = {(r.typ, r.name): r.inputs for r in before.resources if r.custom}
    new = {(r.typ, r.name): r.inputs for r in after.resources if r.custom}
    assert old.keys() == new.keys()
    changed = {key for key in old if old[key] != new[key]}
    # Both regions of prod's dr pair roll: the standby's tier uploads the same release into its own bucket.
    assert changed == {
        (typ, prefix + name)
        for prefix in ("", "standby-")
        for typ, name in (
            ("aws:s3/bucketObjectv2:BucketObjectv2", "web-release"),
            ("aws:ec2/launchTemplate:LaunchTemplate", "web-instances"),
            ("aws:autoscaling/group:Group", "web-instances"),
        )
    }
    assert (
        old[("aws:s3/bucketObjectv2:BucketObjectv2", "web-release")]["key"]
        != new[("aws:s3/bucketObjectv2:BucketObjectv2", "web-release")]["key"]
    )
    old_group, new_group = (rec.named("web-instances", GROUP).inputs for rec in (before, after))
    # The group moves to the new template version; its instance refresh then replaces the instances.
    assert old_group["launchTemplate"]["version"] != new_group["launchTemplate"]["version"]
    assert {k: v for k, v in old_group.items() if k != "launchTemplate"} == {
        k: v for k, v in new_group.items() if k != "launchTemplate"
    }


# 5. Instance role


def test_instance_role_reads_only_its_releases_and_its_config_path(prod):
    role_policy = prod.named("web-instances-release-and-config", "aws:iam/rolePolicy:RolePolicy")
    read_releases, read_config = json.loads(role_policy.inputs["policy"])["Statement"]
    bucket_arn = prod.named("web-artifacts", "aws:s3/bucket:Bucket").outputs["arn"]
    assert (read_releases["Action"], read_releases["Resource"]) == ("s3:GetObject", f"{bucket_arn}/releases/*")
    assert read_config["Resource"] == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/ha-stack/prod",
        "arn:aws:ssm:us-east-1:123456789012:parameter/ha-stack/prod/*",
    ]
    attached = sorted(
        a.inputs["policyArn"]
        for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("web-instances")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ]
    trust = json.loads(prod.named("web-instances", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_policy_allows_any_action_on_any_resource(stack, request):
    docs = policies(request.getfixturevalue(stack))
    assert docs
    for doc in docs:
        for statement in doc["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), statement
            # "*" only for lookups IAM cannot scope to a resource (Describe calls, tag:GetResources), never for an
            # action that changes or reads data: FIS resolves its targets with these.
            if "*" in resources:
                lookups = [a for a in actions if a.split(":")[1].startswith("Describe") or a == "tag:GetResources"]
                assert lookups == actions, statement


# 6. Auto Scaling group


def test_prod_group_spans_all_3_azs_with_the_seeds_capacity(prod):
    facts = web_facts(prod)
    assert facts.instance_zones == ZONES3
    assert (facts.min_size, facts.desired_capacity, facts.max_size) == (3, 3, 6)
    group = prod.named("web-instances", GROUP)
    assert group.inputs["healthCheckType"] == "ELB"
    assert group.inputs["healthCheckGracePeriod"] == 180  # docs/boot.md: 3x the worst measured boot
    assert group.inputs["targetGroupArns"] == [prod.named("web-app", "aws:lb/targetGroup:TargetGroup").outputs["arn"]]
    assert group.inputs["capacityRebalance"] is True
    assert "GroupInServiceInstances" in group.inputs["enabledMetrics"]
    assert group.ignore_changes == ["desiredCapacity"]  # the autoscaler owns it after creation


def test_group_follows_the_templates_latest_version_and_rolls_out_safely(prod):
    group = prod.named("web-instances", GROUP)
    template = prod.named("web-instances", LAUNCH_TEMPLATE)
    assert group.inputs["launchTemplate"] == {"id": template.id, "version": str(template.outputs["latestVersion"])}
    refresh = group.inputs["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["minHealthyPercentage"] == 90
    assert refresh["preferences"]["maxHealthyPercentage"] > 100  # launch before terminating
    assert refresh["preferences"]["autoRollback"] is True
    assert refresh["preferences"]["instanceWarmup"] == "120"


def test_prod_scales_on_cpu_60_and_on_requests_per_target(prod):
    assert web_facts(prod).scaling == ["ALBRequestCountPerTarget 1000", "ASGAverageCPUUtilization 60"]
    requests = prod.named("web-requests-target", "aws:autoscaling/policy:Policy")
    alb = prod.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    target_group = prod.named("web-app", "aws:lb/targetGroup:TargetGroup")
    label = requests.inputs["targetTrackingConfiguration"]["predefinedMetricSpecification"]["resourceLabel"]
    assert label == f"{alb.outputs['arnSuffix']}/{target_group.outputs['arnSuffix']}"


def test_dev_group_spans_both_azs_and_scales_on_cpu_only(dev):
    facts = web_facts(dev)
    assert facts.instance_zones == ["us-east-1a", "us-east-1b"]
    assert (facts.min_size, facts.max_size) == (2, 3)
    assert facts.scaling == ["ASGAverageCPUUtilization 60"]


def ancestors(rec: Recording, resource: RecordedResource) -> list[RecordedResource]:
    """The components a resource sits in, innermost first."""
    by_urn = {r.urn: r for r in rec.resources}
    chain = []
    while resource.parent in by_urn:
        resource = by_urn[resource.parent]
        chain.append(resource)
    return chain


def inside(rec: Recording, component_type: str) -> list[RecordedResource]:
    """Every cloud resource anywhere under the component of this type."""
    return [r for r in rec.resources if r.custom and any(a.typ == component_type for a in ancestors(rec, r))]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_instances_launch_only_once_the_data_tier_its_settings_and_grants_exist(stack, request):
    rec = request.getfixturevalue(stack)
    group = rec.named("web-instances", GROUP)
    needed = [
        r
        for typ in ("ha-stack:index:HaDatabase", "ha-stack:index:HaCache", "ha-stack:stack:RuntimeConfig")
        for r in inside(rec, typ)
    ]
    # What the service needs at boot: the servers, their endpoints in Parameter Store, the read grant on the secrets.
    kinds = {r.typ for r in needed}
    assert {"aws:elasticache/replicationGroup:ReplicationGroup", "aws:ssm/parameter:Parameter"} <= kinds
    assert "aws:iam/rolePolicy:RolePolicy" in kinds
    assert kinds & {"aws:rds/clusterInstance:ClusterInstance", "aws:rds/instance:Instance"}
    waits_for = {urn for r in [group, *ancestors(rec, group)] for urn in r.dependencies}
    assert [r.name for r in needed if r.urn not in waits_for] == []
    order = [r.urn for r in rec.resources]
    assert order.index(group.urn) > max(order.index(r.urn) for r in needed)


def test_the_load_balancer_and_template_do_not_wait_for_the_data_tier(prod):
    # Only the instances wait: the front (ALB, certificate, template) is built while the database is.
    data = {r.urn for r in inside(prod, "ha-stack:index:HaDatabase")}
    for resource in inside(prod, "ha-stack:index:HaWebTier"):
        chain = [resource, *ancestors(prod, resource)]
        assert not data & {urn for r in chain for urn in r.dependencies}, resource.name


# 7. Zones


@pytest.fixture
def zone_lacks(monkeypatch):
    """Make one zone of the mock cloud lack instance types or DB classes, as some real zones do."""

    def lack(zone: str, *kinds: str) -> None:
        monkeypatch.setitem(mock_cloud.UNOFFERED, zone, frozenset(kinds))

    return lack


PROD_TYPES = (
    stack_config("prod")["ha-stack:web"]["instance_type"],
    stack_config("prod")["ha-stack:database"]["instance_class"],
)


@pytest.mark.parametrize("missing", PROD_TYPES)
def test_zones_are_the_first_that_offer_the_instance_type_and_the_database_class(zone_lacks, missing):
    zone_lacks("us-east-1b", missing)
    whole = run_stack("prod")
    rec = dataclasses.replace(whole, resources=[r for r in whole.resources if not r.name.startswith("standby-")])
    chosen = ["us-east-1a", "us-east-1c", "us-east-1d"]
    assert rec.exports["availability_zones"] == chosen
    facts = web_facts(rec)
    assert facts.instance_zones == facts.alb_zones == chosen
    data_zones = {
        r.inputs["availabilityZone"]
        for r in rec.of_type("aws:rds/clusterInstance:ClusterInstance") + rec.of_type("aws:rds/instance:Instance")
        if "availabilityZone" in r.inputs
    }
    assert data_zones
    assert data_zones <= set(chosen)


def test_fewer_zones_offering_the_types_than_az_count_is_one_clear_line(zone_lacks):
    instance_type, db_class = PROD_TYPES
    zone_lacks("eu-west-1b", instance_type)
    config = {**stack_config("prod"), "aws:region": "eu-west-1"}
    line = (
        f"ha-stack:az_count: must be at most the 2 zones of eu-west-1 offering web.instance_type {instance_type} "
        f"and database.instance_class {db_class} (eu-west-1a, eu-west-1c; eu-west-1b lacks {instance_type}), got 3"
    )
    with pytest.raises(Exception, match=re.escape(line)):
        run_stack("prod", config)


def test_a_zone_that_starts_offering_the_type_shifts_unpinned_zones_but_never_pinned_ones(zone_lacks):
    instance_type, _ = PROD_TYPES
    pinned = stack_config("prod", network={"availability_zones": ["us-east-1a", "us-east-1c", "us-east-1d"]})
    zone_lacks("us-east-1b", instance_type)
    first = run_stack("prod")
    zone_lacks("us-east-1b")  # AWS now offers the type in us-east-1b too
    assert first.exports["availability_zones"] == ["us-east-1a", "us-east-1c", "us-east-1d"]
    assert run_stack("prod").exports["availability_zones"] == ZONES3  # unpinned: subnets would move
    assert run_stack("prod", pinned).exports["availability_zones"] == ["us-east-1a", "us-east-1c", "us-east-1d"]


def test_a_pinned_zone_without_the_types_is_one_clear_line(zone_lacks):
    instance_type, db_class = PROD_TYPES
    zone_lacks("us-east-1c", db_class)
    config = stack_config("prod", network={"availability_zones": ["us-east-1a", "us-east-1b", "us-east-1c"]})
    line = (
        f"ha-stack:network.availability_zones: us-east-1c lacks {db_class}; zones of us-east-1 offering "
        f"web.instance_type {instance_type} and database.instance_class {db_class}: "
        "us-east-1a, us-east-1b, us-east-1d, us-east-1e, us-east-1f"
    )
    with pytest.raises(Exception, match=re.escape(line)):
        run_stack("prod", config)


def test_dev_keeps_its_internal_alb_out_of_the_zone_without_cloudfront_vpc_origins(zone_lacks):
    """Item 26: CloudFront offers no VPC origins in us-east-1's zone use1-az3 (us-east-1e in the mock account)."""
    dev = stack_config("dev")
    instance_type, db_class = dev["ha-stack:web"]["instance_type"], dev["ha-stack:database"]["instance_class"]
    config = stack_config("dev", network={"availability_zones": ["us-east-1a", "us-east-1e"]})
    line = (
        "ha-stack:network.availability_zones: us-east-1e lacks CloudFront VPC origins (use1-az3); zones of us-east-1 "
        f"offering web.instance_type {instance_type} and database.instance_class {db_class}: "
        "us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f"
    )
    with pytest.raises(Exception, match=re.escape(line)):
        run_stack("dev", config)
    for zone in ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"):
        zone_lacks(zone, instance_type)
    with pytest.raises(Exception, match=re.escape("us-east-1e lacks CloudFront VPC origins (use1-az3)")):
        run_stack("dev")


def test_pinned_zones_must_match_az_count():
    config = stack_config("prod", network={"availability_zones": ["us-east-1a", "us-east-1b"]})
    with pytest.raises(Exception, match=re.escape("ha-stack:network.availability_zones: must list az_count (3)")):
        run_stack("prod", config)


# 8. Tags


def takes_tags(typ: str) -> bool:
    """Whether the installed SDK's resource for this type token accepts tags (what AWS lets us tag)."""
    package, module_path, kind = typ.split(":")
    module = importlib.import_module(f"pulumi_{package}.{module_path.split('/')[0]}")
    return "tags" in inspect.signature(getattr(module, f"{kind}Args").__init__).parameters


def tag_map(resource: RecordedResource) -> dict[str, str]:
    tags = resource.inputs.get("tags") or {}
    if isinstance(tags, list):  # an Auto Scaling group's tags are propagated key/value entries
        return {t["key"]: t["value"] for t in tags}
    return tags


@pytest.mark.parametrize("component", ["ha-stack:index:HaWebTier", "ha-stack:index:HaWebFleet"])
def test_every_taggable_web_resource_carries_the_stacks_tags(prod, component):
    stack_tags = {"project": "ha-stack", "stack": "prod", "environment": "prod"}
    resources = inside(prod, component)
    taggable = [r for r in resources if r.typ.startswith("aws:") and takes_tags(r.typ)]
    assert {INGRESS, EGRESS} <= {r.typ for r in taggable} or component.endswith("Fleet")
    untagged = [(r.typ, r.name) for r in taggable if stack_tags.items() - tag_map(r).items()]
    assert untagged == []


def test_scaling_policies_cannot_be_tagged():
    # Checked against the SDK, so the test above is not silently skipping something AWS would let us tag.
    assert not takes_tags("aws:autoscaling/policy:Policy")
    assert takes_tags(INGRESS)
    assert takes_tags("aws:s3/bucketObjectv2:BucketObjectv2")


# 9. Outputs


def test_stack_exports_the_web_tiers_entry_points(prod):
    assert prod.exports["alb_dns_name"].endswith(".us-east-1.elb.amazonaws.com")
    assert prod.exports["origin_url"] == "https://origin.shop.example.com"
    assert prod.exports["asg_name"] == prod.named("web-instances", GROUP).id
    assert prod.exports["image_id"] == prod.named("web-instances", LAUNCH_TEMPLATE).inputs["imageId"]


def test_every_child_is_parented_to_the_component():
    parented_children(build(lambda: HaWebTier("web", args())))
    parented_children(build(lambda: HaWebFleet("web", fleet_args())))


# Bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"app_port": 80}, "HaWebTier.app_port: must be from 1024 to 65535, got 80"),
        ({"app_port": 6379}, "HaWebTier.app_port: 6379 is reserved for a data-tier service"),
        (
            {"instance_type": "x9.large"},
            "HaWebTier.instance_type: must be an EC2 instance type (cfn-lint's AWS catalogue), got 'x9.large'",
        ),
        ({"public_subnet_ids": ["subnet-pa"]}, "HaWebTier.public_subnet_ids: need subnets in at least 2 AZs"),
        ({"domain_name": "origin.example.com"}, "HaWebTier.domain_name: domain_name and hosted_zone_id go together"),
        ({"runtime_config_path": "ha-stack/prod"}, "HaWebTier.runtime_config_path: must be a Parameter Store path"),
        ({"app_directory": "/nonexistent"}, "HaWebTier.app_directory: '/nonexistent' must be a Python package"),
        ({"ami_id": "ami-xyz"}, "HaWebTier.ami_id: must be an image id such as ami-0123456789abcdef0, got 'ami-xyz'"),
        (
            {"internal_subnet_ids": ["subnet-aa", "subnet-ab"]},
            "HaWebTier.public_subnet_ids: give public_subnet_ids (internet-facing load balancer) or "
            "internal_subnet_ids (internal, reached through CloudFront's VPC origin), exactly one, got "
            "public_subnet_ids, internal_subnet_ids",
        ),
        (
            {"public_subnet_ids": None},
            "HaWebTier.public_subnet_ids: must be a list of",
        ),
        (
            {"force_destroy_buckets": "false"},
            "HaWebTier.force_destroy_buckets: must be true or false, got 'false'",
        ),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": 5, "max_size": 3}, "HaWebFleet.min_size: must be <= max_size (3), got 5"),
        ({"desired_capacity": 9}, "HaWebFleet.desired_capacity: must be between min_size (2) and max_size (4), got 9"),
        ({"subnet_ids": ["subnet-aa"]}, "HaWebFleet.subnet_ids: need subnets in at least 2 AZs"),
        ({"requests_per_target": 0}, "HaWebFleet.requests_per_target: must be from 1 to 100000, got 0"),
        ({"requests_per_target": 500}, "HaWebFleet.requests_per_target: needs alb_arn_suffix and target_group_arn"),
    ],
)
def test_bad_fleet_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fleet_plan(fleet_args(**overrides))


def test_subnets_are_refused_unless_exactly_one_kind_is_given_and_internal_needs_cloudfront():
    without = {k: v for k, v in args().items() if k != "public_subnet_ids"}
    with pytest.raises(ValueError, match=re.escape("exactly one, got neither")):
        plan(cast(HaWebTierArgs, without))
    internal = cast(HaWebTierArgs, {**without, "internal_subnet_ids": ["subnet-aa", "subnet-ab"]})
    with pytest.raises(
        ValueError, match=re.escape("HaWebTier.internal_subnet_ids: an internal load balancer is reached only")
    ):
        plan(internal)
    assert plan(cast(HaWebTierArgs, {**internal, "cloudfront_only": True})).internal is True


# Every class of bad input, through the component on its own (issue 17)


def refused(given: object, name: str = "web") -> tuple[list[str], Recording]:
    """The problem lines HaWebTier raised for these arguments, and what the program had declared by then."""
    caught: list[options.ArgsError] = []

    def attempt() -> None:
        try:
            HaWebTier(name, cast(HaWebTierArgs, given))
        except options.ArgsError as err:
            caught.append(err)

    rec = build(attempt)
    assert len(caught) == 1, "HaWebTier accepted these arguments"
    return caught[0].problems, rec


def bad_app_directory(tmp_path) -> str:
    """A service package whose lock no longer pins what requirements.txt asks for."""
    shutil.copytree(ROOT / "app", tmp_path / "svc", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    (tmp_path / "svc" / "requirements.txt").write_text("fastapi==0.0.1\n")
    return str(tmp_path / "svc")


LONG_NAME = "storefront-production-web"
WIRING = frozenset(
    {
        "vpc_id",
        "public_subnet_ids",
        "internal_subnet_ids",
        "app_directory",
        "runtime_config_path",
        "cloudfront_only",
        "domain_name",
        "hosted_zone_id",
        "tags",
        "force_destroy_buckets",
    }
)
"""What a stack would supply itself (the stack file may not set these)."""


@pytest.mark.parametrize(
    ("given", "line"),
    [
        pytest.param(
            lambda _: args(app_port="8000"), "HaWebTier.app_port: must be a whole number, got '8000'", id="type"
        ),
        pytest.param(
            lambda _: args(instance_type=None), "HaWebTier.instance_type: must be a string, got None", id="none"
        ),
        pytest.param(
            lambda _: args(instance_type=pulumi.Output.from_input("t3.small")),
            "HaWebTier.instance_type: must be a plain value known before deploy, not an Output: it decides what is "
            "declared",
            id="output",
        ),
        pytest.param(
            lambda _: args(instance_type="x9.large"),
            "HaWebTier.instance_type: must be an EC2 instance type (cfn-lint's AWS catalogue), got 'x9.large'",
            id="catalogue-miss",
        ),
        pytest.param(
            lambda _: args(instance_type="mac2.metal"),
            "HaWebTier.instance_type: Mac instance types run macOS on Dedicated Hosts, not Amazon Linux 2023, got "
            "'mac2.metal'",
            id="not-amazon-linux",
        ),
        pytest.param(
            lambda _: args(health_check_path="/" + "a" * 9999),
            "HaWebTier.health_check_path: must be at most 1024 characters, got 10000: '/"
            + "a" * 58
            + "... (10002 characters)",
            id="10000-characters-shown-cut",
        ),
        pytest.param(
            lambda _: args(domain_name="origin." + "a" * 50 + ".example.com", hosted_zone_id="Z1"),
            "HaWebTier.domain_name: must be at most 64 characters (ACM's limit on a certificate's first domain name), "
            "got 69: 'origin." + "a" * 50 + ".e... (71 characters)",
            id="acm-first-name",
        ),
        pytest.param(
            lambda _: args(domain_name=f"{'b' * 64}.example.com", hosted_zone_id="Z1"),
            "HaWebTier.domain_name: labels are at most 63 characters (DNS), got one of 64: '" + "b" * 59 + "... "
            "(78 characters)",
            id="dns-label",
        ),
        pytest.param(
            lambda _: args(domain_name="origin.example.com."),
            "HaWebTier.domain_name: must be a hostname such as origin.shop.example.com (labels of letters, digits and "
            "hyphens, no trailing dot or wildcard), got 'origin.example.com.'",
            id="trailing-dot",
        ),
        pytest.param(
            lambda _: args(log_retention_days=2),
            "HaWebTier.log_retention_days: must be a CloudWatch Logs retention in days (1, 3, 5, 7, 14, 30, 60, 90, "
            "120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got 2",
            id="retention-aws-refuses",
        ),
        pytest.param(
            lambda _: args(app_port=6379),
            "HaWebTier.app_port: 6379 is reserved for a data-tier service (2049, 3306, 5432, 6379, 11211); pick "
            "another port",
            id="reserved-port",
        ),
        pytest.param(
            lambda _: args(instnce_type="t3.small"),
            "HaWebTier.instnce_type: unknown argument (did you mean 'instance_type'?); known: "
            + ", ".join(sorted(ARGS.fields)),
            id="unknown-did-you-mean",
        ),
        pytest.param(
            lambda _: {**cast(dict[object, object], args()), 1: 2},
            "HaWebTier.1: argument names are strings, got the key 1",
            id="non-string-key",
        ),
        pytest.param(
            lambda _: args(tags={1: "a"}), "HaWebTier.tags: must be an object of strings, got {1: 'a'}", id="tags"
        ),
        pytest.param(
            lambda _: args(public_subnet_ids=[]),
            "HaWebTier.public_subnet_ids: need subnets in at least 2 AZs for high availability, got 0",
            id="empty-list",
        ),
        pytest.param(
            lambda _: ["vpc-1"], "HaWebTier.: must be an object of arguments, got ['vpc-1']", id="not-an-object"
        ),
        pytest.param(
            lambda _: {k: v for k, v in args().items() if k != "app_directory"},
            "HaWebTier.app_directory: is required",
            id="missing",
        ),
        pytest.param(
            lambda _: args(app_directory=5), "HaWebTier.app_directory: must be a string, got 5", id="path-type"
        ),
        pytest.param(
            lambda tmp_path: args(app_directory=bad_app_directory(tmp_path)),
            "HaWebTier.app_directory: requirements.lock is out of date with requirements.txt: fastapi==0.0.1 (lock: ",
            id="packaging",
        ),
    ],
)
def test_each_class_of_bad_input_is_one_line_before_anything_is_declared(given, line, tmp_path):
    lines, rec = refused(given(tmp_path))
    assert len(lines) == 1, lines
    if line.endswith("(lock: "):
        assert lines[0].startswith(line)
    else:
        assert re.fullmatch(re.escape(line) + r"( \(nearest: [a-z0-9.-]+(, [a-z0-9.-]+)*\))?", lines[0]), lines[0]
    assert [r.name for r in rec.resources if r.custom] == []


def test_a_release_that_cannot_be_built_is_a_line_with_the_others(monkeypatch):
    """pip timing out while it downloads the wheels (no PyPI in reach) is a line, not a traceback."""

    def timed_out(root: object, machine: str) -> list[object]:
        raise subprocess.TimeoutExpired(["pip", "download"], 900)

    monkeypatch.setattr("ha_stack.release.wheels", timed_out)
    with pytest.raises(options.ArgsError) as raised:
        plan(args(app_port=80))
    assert raised.value.problems == [
        "HaWebTier.app_port: must be from 1024 to 65535, got 80",
        "HaWebTier.app_directory: cannot be packaged: \"Command '['pip', 'download']' timed out after 900 seconds\"",
    ]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            LONG_NAME,
            f"HaWebTier name: '{LONG_NAME}' makes names AWS refuses: load balancer '{LONG_NAME}-alb-' + 7 random "
            f"characters is 37 (at most 32); target group '{LONG_NAME}-app-' + 7 random characters is 37 (at most 32) "
            "(a name of at most 20 letters, digits and hyphens fits them all)",
        ),
        (
            "my_web",
            "HaWebTier name: 'my_web' makes names AWS refuses: load balancer 'my_web-alb-'... has characters AWS "
            "refuses (letters, digits, hyphens; not internal-...); target group 'my_web-app-'... has characters AWS "
            "refuses (letters, digits, hyphens); access-log bucket 'my_web-access-logs-'... has characters AWS refuses "
            "(lower-case letters, digits, . and -); artifact bucket 'my_web-artifacts-'... has characters AWS refuses "
            "(lower-case letters, digits, . and -) (a name of at most 20 letters, digits and hyphens fits them all)",
        ),
    ],
)
def test_a_component_name_that_derives_a_name_aws_refuses_is_one_line(name, line):
    """The load balancer and target group are autonamed `<name>-alb-` / `<name>-app-` plus 7 random characters, at
    most 32 characters of letters, digits and hyphens (ELB); the buckets lowercased, at most 63 (S3)."""
    lines, rec = refused(args(), name=name)
    assert lines == [line]
    assert [r.name for r in rec.resources if r.custom] == []


def test_every_derived_name_of_a_20_character_name_fits_awss_limits():
    rec = build(lambda: HaWebTier("a" * 20, args()))
    limits = {"aws:lb/loadBalancer:LoadBalancer": 32, "aws:lb/targetGroup:TargetGroup": 32, "aws:s3/bucket:Bucket": 63}
    names = {(r.typ, r.id) for r in rec.resources if r.typ in limits}
    assert len(names) == 4
    assert [(typ, name) for typ, name in names if len(name) > limits[typ]] == []
    assert {d.what for d in DERIVED_NAMES} >= {"load balancer", "target group", "access-log bucket", "artifact bucket"}


def test_several_bad_arguments_are_all_reported_in_one_error():
    with pytest.raises(options.ArgsError) as raised:
        plan(
            args(
                app_port=80,
                instance_type="x9.large",
                public_subnet_ids=["subnet-pa"],
                domain_name="origin.example.com",
                log_retention_days=2,
                health_check_path="health",
            )
        )
    assert [line.split(":")[0] for line in raised.value.problems] == [
        "HaWebTier.instance_type",
        "HaWebTier.app_port",
        "HaWebTier.health_check_path",
        "HaWebTier.log_retention_days",
        "HaWebTier.public_subnet_ids",
        "HaWebTier.domain_name",
    ]


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t4g.small", "arm64"),
        ("m7g.large", "arm64"),
        ("c7gn.large", "arm64"),
        ("im4gn.large", "arm64"),
        ("is4gen.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("x2gd.large", "arm64"),
        ("hpc7g.4xlarge", "arm64"),
        ("t3.small", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("c7a.large", "x86_64"),
        ("inf2.xlarge", "x86_64"),
        ("gr6.4xlarge", "x86_64"),
    ],
)
def test_any_catalogue_instance_type_amazon_linux_boots_is_accepted_with_its_architecture(instance_type, arch):
    """AWS's naming rule: `g` among the capabilities after the generation means Graviton (arm64)."""
    assert instance_type in catalogue.instance_types()
    assert architecture(instance_type) == arch
    assert plan(args(instance_type=instance_type)).arch == arch


def test_the_stack_checks_its_own_part_and_leaves_the_wiring_to_the_program():
    problems = options.Problems("ha-stack:web.")
    checked = check({"instance_type": "t4g.small", "app_port": 8080}, problems, skip=WIRING)
    assert problems.lines == []
    assert (checked["instance_type"], checked["app_port"], checked["health_check_path"]) == (
        "t4g.small",
        8080,
        "/health",
    )
    check({"vpc_id": "vpc-1", "domain_name": "x.example.com"}, problems, skip=WIRING)
    assert problems.lines == [
        "ha-stack:web.vpc_id: is set by the stack from the other tiers, not in the stack file",
        "ha-stack:web.domain_name: is set by the stack from the other tiers, not in the stack file",
    ]


def test_the_plan_holds_the_checked_arguments_with_defaults_and_only_what_it_derives():
    tier = plan(args())
    assert {field.name for field in dataclasses.fields(tier)} == {"args", "arch", "internal", "release"}
    checked = tier.args
    assert (checked["instance_type"], checked["app_port"], checked["log_retention_days"]) == ("t3.small", 8000, 90)
    assert checked["enable_deletion_protection"] is True
    assert "domain_name" not in checked
    assert (tier.https, tier.serving_port, tier.internal, tier.arch) == (False, 80, False, "x86_64")


# Teardown (item 11)


def _versioned_buckets(rec: Recording, component: str) -> dict[str, bool]:
    """Bucket name -> forceDestroy, for every versioned bucket the component declared."""
    owners = {c.urn for c in rec.components() if c.typ == f"ha-stack:index:{component}"}
    versioned = {v.inputs["bucket"] for v in rec.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    return {
        b.name: bool(b.inputs.get("forceDestroy", False))
        for b in rec.of_type("aws:s3/bucket:Bucket")
        if b.parent in owners and b.id in versioned
    }


@pytest.mark.parametrize("component", ["HaWebTier", "HaEdge"])
def test_dev_destroys_its_versioned_buckets_with_every_version_and_prod_keeps_them(dev, prod, component):
    """Item 11: `pulumi destroy` of dev empties the web tier's and the edge's buckets; prod's data is kept."""
    in_dev, in_prod = _versioned_buckets(dev, component), _versioned_buckets(prod, component)
    assert len(in_dev) == 2
    assert set(in_dev.values()) == {True}
    assert set(in_prod) == set(in_dev)
    assert set(in_prod.values()) == {False}


def test_buckets_are_kept_unless_asked():
    rec = build(lambda: HaWebTier("web", args()))
    assert [b.inputs.get("forceDestroy", False) for b in rec.of_type("aws:s3/bucket:Bucket")] == [False, False]


# Disaster recovery (issue 16): the standby's load balancer, built by the same code in another region

PRIMARY = "origin.shop.example.com"
FAILOVER = "origin-write.shop.example.com"
RECORD = "aws:route53/record:Record"
RULE = "aws:lb/listenerRule:ListenerRule"


def test_the_certificate_covers_the_failover_name_and_each_name_is_proved_in_the_zone():
    rec = build(
        lambda: HaWebTier(
            "web",
            args(domain_name=PRIMARY, hosted_zone_id="Z1", subject_alternative_names=[FAILOVER], cloudfront_only=True),
        )
    )
    (certificate,) = rec.of_type("aws:acm/certificate:Certificate")
    assert (certificate.inputs["domainName"], certificate.inputs["subjectAlternativeNames"]) == (PRIMARY, [FAILOVER])
    proofs = {r.inputs["name"].split(".", 1)[1]: r for r in rec.of_type(RECORD) if r.inputs["type"] == "CNAME"}
    assert set(proofs) == {f"{PRIMARY}.", f"{FAILOVER}."}
    assert {r.inputs["zoneId"] for r in proofs.values()} == {"Z1"}
    validation = rec.named("web-certificate", "aws:acm/certificateValidation:CertificateValidation")
    # The HTTPS listener waits for a certificate valid for every name, not only the first.
    assert sorted(validation.inputs["validationRecordFqdns"]) == sorted(r.outputs["fqdn"] for r in proofs.values())
    # The first name's proof keeps its logical name: adding the failover name replaces nothing.
    assert rec.named("web-certificate-validation", RECORD).inputs["name"].endswith(f".{PRIMARY}.")
    # Only the tier's own name gets an alias: the failover name is routed by HaRegionalDns.
    aliases = [r.inputs["name"] for r in rec.of_type(RECORD) if r.inputs["type"] == "A"]
    assert aliases == [PRIMARY]


def test_a_standby_requires_the_primarys_origin_secret_and_generates_none():
    tiers: list[HaWebTier] = []
    shared = pulumi.Output.secret("the-primarys-secret")
    rec = build(lambda: tiers.append(HaWebTier("web", args(cloudfront_only=True, origin_secret=shared))))
    assert rec.of_type("random:index/randomPassword:RandomPassword") == []
    (rule,) = rec.of_type(RULE)
    assert rule.inputs["conditions"] == {
        "secret": [{"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": ["the-primarys-secret"]}}]
    }
    loop = asyncio.get_event_loop()
    assert loop.run_until_complete(tiers[0].origin_secret.future()) == "the-primarys-secret"
    assert loop.run_until_complete(tiers[0].origin_secret.is_secret()) is True


def test_route53_health_checkers_reach_the_health_path_alone_through_a_group_of_their_own():
    rec = build(
        lambda: HaWebTier(
            "web",
            args(domain_name=PRIMARY, hosted_zone_id="Z1", cloudfront_only=True, admit_route53_health_checks=True),
        ),
        region="us-west-2",
    )
    (cloudfront,) = rules_of(rec, INGRESS, "web-alb")
    (checkers,) = rules_of(rec, INGRESS, "web-alb-health-checks")
    assert (checkers.inputs["fromPort"], checkers.inputs["toPort"]) == (443, 443)
    assert checkers.inputs["prefixListId"] != cloudfront.inputs["prefixListId"]
    alb = rec.named("web-alb", "aws:lb/loadBalancer:LoadBalancer")
    groups = {rec.named("web-alb", SG).id, rec.named("web-alb-health-checks", SG).id}
    assert set(alb.inputs["securityGroups"]) == groups
    rules = {r.name: r for r in rec.of_type(RULE)}
    assert rules["web-health-checks"].inputs["conditions"] == [{"pathPattern": {"values": ["/health"]}}]
    # Everything else still needs the secret, and the secret rule is evaluated first.
    assert rules["web-from-cloudfront"].inputs["priority"] < rules["web-health-checks"].inputs["priority"]


def test_route53_health_checkers_are_looked_up_in_the_load_balancers_region(monkeypatch):
    asked: list[dict[str, object]] = []
    answer = MockCloud.call

    def recording(self, call_args):
        if call_args.token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            asked.append(dict(call_args.args))
        return answer(self, call_args)

    monkeypatch.setattr(MockCloud, "call", recording)
    build(lambda: HaWebTier("web", args(cloudfront_only=True, admit_route53_health_checks=True)), region="eu-west-1")
    names = sorted(str(a["name"]) for a in asked)
    assert names == ["com.amazonaws.eu-west-1.route53-healthchecks", "com.amazonaws.global.cloudfront.origin-facing"]


def test_a_standby_tier_with_another_regions_provider_makes_every_child_and_asks_every_question_there(monkeypatch):
    """The standby region's tier is the same code given a provider for that region: every AWS child is created
    through it and every lookup (the account, the region, CloudFront's prefix list, the Amazon Linux image) asks it,
    so the image is the standby region's and nothing lands in the stack's own region."""
    asked: list[tuple[str, str]] = []
    answer = MockCloud.call

    def recording(self, call_args):
        asked.append((call_args.token, call_args.provider))
        return answer(self, call_args)

    monkeypatch.setattr(MockCloud, "call", recording)

    def program() -> None:
        standby = aws.Provider("standby", region="us-west-2")
        HaWebTier(
            "web-standby",
            args(
                domain_name="origin-standby.shop.example.com",
                hosted_zone_id="Z1",
                subject_alternative_names=[FAILOVER],
                cloudfront_only=True,
                origin_secret="shared",
                admit_route53_health_checks=True,
            ),
            opts=pulumi.ResourceOptions(provider=standby),
        )

    rec = build(program)
    (provider,) = rec.of_type("pulumi:providers:aws")
    reference = f"{provider.urn}::{provider.id}"
    children = [r for r in rec.resources if r.custom and r.typ.startswith("aws:")]
    assert len(children) > 20
    assert [r.name for r in children if r.provider != reference] == []
    questions = {token for token, _ in asked}
    assert "aws:ssm/getParameter:getParameter" in questions  # the image: a per-region parameter
    assert [token for token, via in asked if via != reference] == []


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        pytest.param(
            {"subject_alternative_names": [FAILOVER]},
            "HaWebTier.subject_alternative_names: are names on domain_name's certificate: needs domain_name",
            id="names-without-domain",
        ),
        pytest.param(
            {"domain_name": PRIMARY, "hosted_zone_id": "Z1", "subject_alternative_names": [PRIMARY.upper()]},
            f"HaWebTier.subject_alternative_names: repeats domain_name {PRIMARY!r}",
            id="repeats-domain",
        ),
        pytest.param(
            {"domain_name": PRIMARY, "hosted_zone_id": "Z1", "subject_alternative_names": ["*.shop.example.com"]},
            "HaWebTier.subject_alternative_names: must be hostnames such as origin-write.shop.example.com",
            id="wildcard",
        ),
        pytest.param(
            {"domain_name": PRIMARY, "hosted_zone_id": "Z1", "subject_alternative_names": []},
            "HaWebTier.subject_alternative_names: must be a list of 1 to 99 hostnames (ACM takes at most 100 names",
            id="empty",
        ),
        pytest.param(
            {
                "domain_name": PRIMARY,
                "hosted_zone_id": "Z1",
                "subject_alternative_names": [f"n{i}.shop.example.com" for i in range(100)],
            },
            "HaWebTier.subject_alternative_names: must be a list of 1 to 99 hostnames",
            id="over-acm-limit",
        ),
        pytest.param(
            {"domain_name": PRIMARY, "hosted_zone_id": "Z1", "subject_alternative_names": [FAILOVER, FAILOVER]},
            "HaWebTier.subject_alternative_names: must be distinct names",
            id="duplicate",
        ),
        pytest.param(
            {"origin_secret": "shared"},
            "HaWebTier.origin_secret: is the header value CloudFront must send: only with cloudfront_only true",
            id="secret-on-an-open-alb",
        ),
        pytest.param(
            {"admit_route53_health_checks": "yes"},
            "HaWebTier.admit_route53_health_checks: must be true or false, got 'yes'",
            id="flag-type",
        ),
    ],
)
def test_bad_disaster_recovery_arguments_are_one_line_each_and_declare_nothing(overrides, line):
    lines, rec = refused(args(**overrides))
    assert [x for x in lines if x.startswith(line)] != [], lines
    assert [r for r in rec.resources if r.custom] == []


def test_prod_each_load_balancer_certificate_covers_the_write_name_cloudfront_connects_to():
    """CloudFront reaches the API through origin-write.<domain>, which Route 53 answers with either region's load
    balancer: the TLS handshake names origin-write, so both certificates must cover it or writes get 502."""
    rec = run_stack("prod")
    routed = {r.inputs["name"] for r in rec.of_type(RECORD) if r.name.startswith("origin-failover")}
    assert routed == {FAILOVER}
    certificates = {
        r.name: [r.inputs["domainName"], *r.inputs.get("subjectAlternativeNames", [])]
        for r in rec.of_type("aws:acm/certificate:Certificate")
        if r.name.endswith("web-certificate")
    }
    assert set(certificates) == {"web-certificate", "standby-web-certificate"}
    assert [name for name, names in certificates.items() if FAILOVER not in names] == []
