"""The offline preview: the README's main command prints the plan, or the config problems only."""

import contextlib
import io
import json
import re

import pytest
import yaml

from stack import preview
from tests.conftest import ROOT, stack_config


def printed(argv: list[str]) -> str:
    """What `python -m stack.preview <argv>` prints, after checking it exits 0."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert preview.main(argv) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def prod_out() -> str:
    """The prod preview, evaluated once for this module's readers."""
    return printed(["prod"])


@pytest.fixture(scope="module")
def dev_out() -> str:
    """The dev preview, evaluated once."""
    return printed(["dev"])


def test_prod_preview_shows_3_azs_3_nats_and_own_az_egress(prod_out):
    out = prod_out
    assert "ha-stack offline preview: stack prod (prod, us-east-1)" in out
    assert "subnets per tier: public 3, app 3, data 3 (across 3 AZs)" in out
    assert "3 NAT gateway(s); 3 of 3 app route tables use the NAT in their own AZ" in out
    assert "network-app-egress-b         table=network-app-rt-b  to=0.0.0.0/0  via=network-nat-b" in out
    assert "single points of failure: none" in out


def test_dev_preview_names_the_single_nat_as_a_single_point_of_failure(dev_out):
    out = dev_out
    assert "network: 2 AZs (us-east-1a, us-east-1b)" in out
    assert "1 NAT gateway(s); 1 of 2 app route tables use the NAT in their own AZ" in out
    assert "single points of failure: app egress in us-east-1b depends on the NAT in us-east-1a" in out


def test_prod_preview_shows_the_web_tiers_spread_capacity_and_scaling(prod_out):
    out = prod_out
    assert "  web: 3 AZs (us-east-1a, us-east-1b, us-east-1c)" in out
    assert "load balancer in 3 AZs; instances in 3 AZs" in out
    assert "capacity min 3 / desired 3 / max 6, ELB health checks" in out
    assert "scaling: target tracking on ALBRequestCountPerTarget 1000, ASGAverageCPUUtilization 60" in out
    assert "listeners: 443 HTTPS, 80 HTTP -> redirect; load balancer open to CloudFront prefix list" in out


def test_dev_preview_says_the_web_tier_is_http_only(dev_out):
    out = dev_out
    assert "HTTP only: no domain, so no certificate (set ha-stack:domain for HTTPS)" in out


def test_preview_lists_alarms_per_tier_and_every_tiers_ha_facts(prod_out):
    out = prod_out
    assert "    - instances alarms (3): instances-below-min, instances-cpu, instances-disk" in out
    assert "    - audit alarms (3): iam-policy-changes, root-usage, unauthorized-api-calls" in out
    assert "CloudTrail: ha-stack-prod-audit (multi-region, validated, KMS; CloudWatch Logs " in out
    assert "/ha-stack/ha-stack-prod/cloudtrail)" in out
    assert "    - edge alarms (3): cdn-5xx-rate, site-health-check, waf-blocks-above-normal" in out
    assert "  database: 3 AZs (us-east-1a, us-east-1b, us-east-1c)" in out
    assert "aurora-postgresql: writer in us-east-1a; 2 reader(s) in us-east-1b, us-east-1c" in out
    assert "  cache: 3 AZs (us-east-1a, us-east-1b, us-east-1c)" in out
    assert "pages fail over alb -> maintenance on 500/502/503/504; API paths straight to the origin: /products*" in out
    assert re.search(r"health check \(alarms only\) HTTPS d\w+\.cloudfront\.net/health", out)


def test_dev_preview_names_the_single_az_data_tier(dev_out):
    out = dev_out
    assert "the database runs in one AZ: losing it stops writes until a restore" in out
    assert "one cache node: losing it empties the cache" in out
    assert "notifies: nobody (no alarm_emails)" in out


def test_json_preview_carries_counts_summary_and_exports(capsys):
    assert preview.main(["prod", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["resource_counts"]["aws:ec2/natGateway:NatGateway"] == 3
    assert plan["resource_counts"]["aws:ec2/subnet:Subnet"] == 9
    assert plan["ha_summary"][0]["zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert len(plan["exports"]["nat_public_ips"]) == 3


@pytest.fixture
def bad_stack_file():
    path = ROOT / "Pulumi.broken-test.yaml"
    config = stack_config("prod", network={"nat_gateways": "two"}, fleet={"min_size": 7, "max_size": 6})
    path.write_text(yaml.safe_dump({"config": config}))
    yield "broken-test"
    path.unlink()


def test_bad_config_exits_non_zero_with_one_line_per_problem_and_nothing_else(bad_stack_file, capsys):
    assert preview.main([bad_stack_file]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    first, nat, sizes = captured.err.splitlines()
    assert first == "invalid stack config in Pulumi.broken-test.yaml (2 problems):"
    assert nat.startswith("  ha-stack:network.nat_gateways: ")
    assert "'two'" in nat
    assert sizes == "  ha-stack:fleet.min_size: must be <= max_size (6), got 7"


def test_unknown_stack_names_the_stacks_that_exist():
    with pytest.raises(SystemExit, match=r"no stack file Pulumi\.qa\.yaml; stacks here: dev, prod"):
        preview.main(["qa"])


def test_prod_preview_lists_drills_autoshift_and_a_resilience_report(prod_out):
    assert "ZonalAutoshiftConfiguration resilience-autoshift         autoshift=ENABLED" in prod_out
    assert "drill=resilience: fail the Aurora writer over to a reader in another AZ" in prod_out
    report = prod_out.split("Resilience (estimated RTO / RPO per disruption, from this configuration)")[1]
    for line in [
        "  one instance lost [Application]: RTO 10 s, RPO 0 s",  # 2 failed checks x 5 s
        "  one AZ lost [AZ]: RTO 60 s, RPO 0 s",
        "  database primary lost [Infrastructure]: RTO 60 s, RPO 0 s",
        "  cache primary lost [Infrastructure]: RTO 0 s, RPO 0 s",
        "  Region lost [Region]: RTO n/a, RPO n/a",
    ]:
        assert line in report.splitlines()
    assert "2 instances left carry 33 rps at the target (peak 15: statically stable)" in report
    assert "measured: boot to healthy: 54 s worst of 5 runs (docs/boot.md)" in report


def test_dev_preview_reports_its_single_az_database_as_minutes_and_data_at_risk(dev_out):
    assert "  database primary lost [Infrastructure]: RTO 600 s, RPO 300 s" in dev_out.splitlines()
    assert "autoshift=DISABLED" in dev_out


@pytest.fixture
def unstable_stack_file():
    path = ROOT / "Pulumi.unstable-test.yaml"
    path.write_text(yaml.safe_dump({"config": stack_config("prod", peak_requests_per_second=40)}))
    yield "unstable-test"
    path.unlink()


def test_a_prod_stack_that_would_need_launches_after_an_az_loss_is_refused_in_one_line(unstable_stack_file, capsys):
    assert preview.main([unstable_stack_file]) == 1
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  ha-stack:fleet.min_size: not statically stable: losing one of 3 AZs leaves 2 of 3 instances, but "
        "peak_requests_per_second 40 at requests_per_target 1000 per instance per minute needs 3; min_size must be "
        ">= 5, got 3"
    ]
