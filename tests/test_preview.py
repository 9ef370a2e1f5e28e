"""The offline preview: the README's main command prints the plan, or the config problems only."""

import contextlib
import io
import json
import re
from typing import Any

import pytest
import yaml

from stack import preview
from stack.resilience_report import as_json as resilience_json
from stack.resilience_report import report as resilience_report
from stack.settings import parse_settings
from tests.conftest import ROOT, run_stack, stack_config
from tests.test_resilience import ONE_REGION, with_standby


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
    # prod has a standby: pages fail over to its load balancer, the API goes to the failover name
    assert "pages fail over alb -> standby on 500/502/503/504; API paths straight to the origin: /products*" in out
    assert "API paths go to origin-write.shop.example.com (the Route 53 failover name)" in out
    assert re.search(r"health check \(alarms only\) HTTPS d\w+\.cloudfront\.net/health", out)


def test_dev_preview_names_the_single_az_data_tier(dev_out):
    out = dev_out
    assert "the database runs in one AZ: losing it stops writes until a restore" in out
    assert "one cache node: losing it empties the cache" in out
    assert "notifies: nobody (no alarm_emails)" in out


def test_json_preview_carries_counts_summary_and_exports(capsys):
    assert preview.main(["prod", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["resource_counts"]["aws:ec2/natGateway:NatGateway"] == 6  # 3 a region: prod has a standby
    assert plan["resource_counts"]["aws:ec2/subnet:Subnet"] == 18
    assert plan["standby_regions"] == ["us-west-2"]
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


# --- Issue 16: both regions of a dr stack, and the region loss.


def test_prod_preview_shows_both_regions_and_the_region_loss(prod_out):
    assert "Regions: us-east-1 (primary), us-west-2 (standby)" in prod_out
    assert re.search(r'HaWebTier "\S+" \(us-west-2 standby, \d+ resources\)', prod_out)
    assert "  web (standby us-west-2): 3 AZs (us-west-2a, us-west-2b, us-west-2c)" in prod_out
    assert "  disaster recovery (standby us-west-2): " in prod_out
    assert re.search(r"Region lost \(us-west-2 takes over\) \[Region\]: RTO \d+ s, RPO 1 s", prod_out)
    assert "kept running to be ready: " in prod_out
    assert "cold after the failover: cache (1 node(s), empty" in prod_out


def test_dev_preview_has_one_region_and_no_standby(dev_out):
    assert "Regions:" not in dev_out
    assert "standby" not in dev_out
    assert "Region lost [Region]: RTO n/a, RPO n/a" in dev_out


def test_the_rendering_labels_each_standby_component_and_tier(one_region_standby):
    rec, settings = one_region_standby
    result = preview.plan("prod", rec, {"environment": "prod", "region": "us-east-1"})
    result["resilience"] = resilience_json(resilience_report(rec, settings))
    out = preview.render(result)
    assert result["standby_regions"] == ["us-west-2"]
    assert "Regions: us-east-1 (primary), us-west-2 (standby)" in out
    standby = [c for c in result["components"] if c["standby_region"]]
    assert {c["name"] for c in standby} == {c["name"] for c in result["components"] if c["name"].endswith("-standby")}
    # the primary's components come first, then the standby's
    flags = [bool(c["standby_region"]) for c in result["components"]]
    assert flags == sorted(flags)
    assert "Region lost (us-west-2 takes over) [Region]: RTO 450 s, RPO 1 s" in out
    assert "  disaster recovery (standby us-west-2): 3 AZs (us-west-2a, us-west-2b, us-west-2c)" in out


@pytest.fixture(scope="module")
def one_region_standby() -> tuple[Any, Any]:
    """prod without dr plus a standby built from its own resources (tests/test_resilience.py: with_standby)."""
    return with_standby(run_stack("prod", ONE_REGION), fleet_min=3), parse_settings(ONE_REGION, stack="prod")
