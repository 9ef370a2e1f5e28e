"""Stack settings: the real stack files parse, and every bad config is refused with a clear line."""

import json

import pulumi
import pytest

from ha_stack import fleet, options
from stack import tiers
from stack.mock_cloud import run_program
from stack.settings import DR_ARGS, Approach, SettingsError, load_settings, parse_settings
from tests.conftest import stack_config


def problems_of(config):
    with pytest.raises(SettingsError) as err:
        parse_settings(config, stack="test")
    return err.value.problems


def test_prod_file_takes_the_seeds_numbers():
    s = parse_settings(stack_config("prod"), stack="prod")
    assert (s.region, s.az_count, s.network["nat_gateways"]) == ("us-east-1", 3, "one_per_az")
    assert (s.fleet["min_size"], s.fleet["max_size"], s.fleet["cpu_target_percent"]) == (3, 6, 60)
    assert (s.database["engine"], s.database["reader_count"], s.database["backup_retention_days"]) == (
        "aurora-postgresql",
        2,
        14,
    )
    assert (s.cache["node_count"], s.cache["automatic_failover"], s.service["product_ttl_seconds"]) == (3, True, 3600)
    assert s.cache["apply_immediately"] is False  # prod's cache changes in its maintenance window
    assert s.edge["static_ttl_seconds"] == 604800
    assert (s.keys["domain"], s.keys["hosted_zone"], s.alb_domain) == (
        "shop.example.com",
        "example.com",
        "origin.shop.example.com",
    )
    assert s.monitoring["alarm_emails"]


def test_dev_file_is_cheap_and_says_so():
    s = parse_settings(stack_config("dev"), stack="dev")
    assert (s.az_count, s.network["nat_gateways"]) == (2, "single")
    assert (s.database["engine"], s.database["multi_az"], s.database["reader_count"]) == ("postgres", False, 0)
    assert (s.cache["node_count"], s.cache["automatic_failover"]) == (1, False)
    assert s.cache["apply_immediately"] is True
    assert "domain" not in s.keys
    assert s.vpc_origin
    assert s.monitoring["alarm_emails"] == []


def test_each_tier_is_its_components_arguments_with_the_components_defaults():
    """What the stack file leaves out is the component's own default (the one declaration), not a stack copy."""
    s = parse_settings(stack_config("dev", fleet=None), stack="dev")
    assert s.fleet == fleet.check({}, options.Problems("x"), tiers.FLEET.wired)


# (overrides, the line expected): a stack-level rule (cross-tier, prod, static stability) or a component's own line
# under the key path the user wrote. Components' own messages are theirs: their rows check the key and the value.
BAD_CONFIGS = [
    ({"network": {"nat_gateways": "two"}}, "ha-stack:network.nat_gateways: ", "'two'"),
    ({"network": {"nat_gatways": "single"}}, "ha-stack:network.nat_gatways: ", "did you mean 'nat_gateways'"),
    ({"network": {"cidr_block": "10.0.0.300/16"}}, "ha-stack:network.cidr_block: ", "'10.0.0.300/16'"),
    ({"az_count": 1}, "ha-stack:az_count: must be from 2 to 6, got 1", ""),
    ({"az_count": "three"}, "ha-stack:az_count: must be a whole number, got 'three'", ""),
    ({"network": {"enable_flow_logs": "yes"}}, "ha-stack:network.enable_flow_logs: must be true or false", "'yes'"),
    ({"fleet": {"min_size": 5, "max_size": 4}}, "ha-stack:fleet.min_size: must be <= max_size (4), got 5", ""),
    (
        {"fleet": {"desired_capacity": 9}},
        "ha-stack:fleet.desired_capacity: must be between min_size (3) and max_size (6), got 9",
        "",
    ),
    ({"web": {"instance_type": "t3.huge"}}, "ha-stack:web.instance_type: ", "'t3.huge'"),
    ({"fleet": {"cpu_target_percent": 95}}, "ha-stack:fleet.cpu_target_percent: must be from 10 to 90 percent", ""),
    (
        {"fleet": {"min_size": 2}},
        "ha-stack:fleet.min_size: prod needs an instance in every AZ: >= az_count (3), got 2",
        "",
    ),
    ({"database": {"engine": "mysql"}}, "ha-stack:database.engine: ", "'mysql'"),
    (
        {"database": {"reader_count": 3}},
        "ha-stack:database.reader_count: must be < az_count (3) so the writer and each reader get their own AZ, got 3",
        "",
    ),
    ({"database": {"backup_retention_days": 3}}, "ha-stack:database.backup_retention_days: prod needs >= 7 days", ""),
    (
        {"database": {"enable_deletion_protection": False}},
        "ha-stack:database.enable_deletion_protection: prod needs true, got false",
        "",
    ),
    (
        {"database": {"engine": "postgres", "multi_az": False, "reader_count": 0, "reader_autoscaling_max": None}},
        "ha-stack:database.multi_az: prod needs true for engine postgres, got false",
        "",
    ),
    ({"cache": {"node_count": 4}}, "ha-stack:cache.node_count: must be <= az_count (3) so each node gets", ""),
    (
        {"cache": {"automatic_failover": False}},
        "ha-stack:cache.automatic_failover: prod needs true, got false",
        "",
    ),
    ({"service": {"product_ttl_seconds": 0}}, "ha-stack:service.product_ttl_seconds: must be from 1 to 86400", ""),
    ({"domain": "shop.example.org"}, "ha-stack:domain: must be inside hosted_zone 'example.com'", ""),
    ({"hosted_zone": None}, "ha-stack:hosted_zone: domain and hosted_zone go together: set both or neither", ""),
    (
        {"domain": "a" * 50 + ".example.com"},
        "ha-stack:domain: must be at most 57 characters: ACM's first certificate name is at most 64",
        "",
    ),
    ({"edge": {"price_class": "PriceClass_50"}}, "ha-stack:edge.price_class: ", "'PriceClass_50'"),
    ({"monitoring": {"alarm_emails": []}}, "ha-stack:monitoring.alarm_emails: prod needs at least one address", ""),
]


@pytest.mark.parametrize(("overrides", "key", "shown"), BAD_CONFIGS, ids=[k[:60] for _, k, _ in BAD_CONFIGS])
def test_bad_prod_config_is_refused_with_a_line_naming_key_value_and_rule(overrides, key, shown):
    config = stack_config("prod", **overrides)
    if overrides.get("database", {}).get("reader_autoscaling_max", 0) is None:
        del config["ha-stack:database"]["reader_autoscaling_max"]
    problems = problems_of(config)
    assert any(p.startswith(key) and shown in p for p in problems), problems


def test_every_problem_is_reported_at_once_one_line_each():
    problems = problems_of(stack_config("prod", network={"nat_gateways": "two"}, fleet={"min_size": 7, "max_size": 6}))
    assert len(problems) == 2
    assert problems[0].startswith("ha-stack:network.nat_gateways:")
    assert problems[1] == "ha-stack:fleet.min_size: must be <= max_size (6), got 7"


def test_unknown_key_environment_and_region_are_refused():
    config = {**stack_config("dev"), "ha-stack:netwrok": {}, "ha-stack:environment": "production", "aws:region": "mars"}
    problems = problems_of(config)
    assert problems[0].startswith("ha-stack:netwrok: unknown key (did you mean 'network'?); known keys: environment,")
    assert "ha-stack:environment: must be one of dev, staging, prod, got 'production'" in problems
    assert any(p.startswith("aws:region: must be a region of AWS's standard partition") for p in problems)


def test_a_tier_that_is_not_an_object_is_refused():
    assert "ha-stack:web: must be an object of HaWebTier's arguments, got 'big'" in problems_of(
        {**stack_config("dev"), "ha-stack:web": "big"}
    )


def test_dev_may_opt_out_of_what_prod_must_have():
    parse_settings(stack_config("dev", database={"backup_retention_days": 0}), stack="dev")


def test_a_prod_rule_on_a_default_says_it_is_the_default():
    config = stack_config("prod")
    del config["ha-stack:fleet"]["min_size"], config["ha-stack:fleet"]["desired_capacity"]
    assert problems_of(config) == [
        "ha-stack:fleet.min_size: prod needs an instance in every AZ: >= az_count (3), got 2 (the default; set it "
        "in Pulumi.test.yaml)",
    ]


def test_pulumi_hands_scalars_as_text_and_objects_as_json():
    """Under `pulumi up` every value arrives as text: az_count "3", enable_edge "true", each tier as JSON."""
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config("prod").items()}
    s = parse_settings(config, stack="prod")
    assert (s.az_count, s.keys["enable_edge"], s.keys["peak_requests_per_second"]) == (3, True, 15.0)
    assert s.fleet["min_size"] == 3


def test_under_pulumi_a_bad_config_is_a_run_error_listing_the_problems_not_a_traceback():
    config = stack_config("prod", network={"nat_gateways": "two"}, fleet={"min_size": 7, "max_size": 6})
    with pytest.raises(pulumi.RunError) as err:
        run_program(load_settings, stack="prod", config=config)
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid stack config (2 problems):"
    assert lines[1].startswith("  ha-stack:network.nat_gateways:")
    assert lines[2] == "  ha-stack:fleet.min_size: must be <= max_size (6), got 7"


def test_under_pulumi_a_mistyped_namespace_is_reported_too():
    config = {**stack_config("dev"), "ha_stack:web": {"instance_type": "t3.large"}}
    with pytest.raises(pulumi.RunError, match=r"ha_stack:web: unknown namespace 'ha_stack'"):
        run_program(load_settings, stack="dev", config=config)


def test_prod_file_is_statically_stable_for_its_peak():
    s = parse_settings(stack_config("prod"), stack="prod")
    # 3 instances over 3 AZs: one AZ lost leaves 2, each carrying 1000 requests a minute at the target (16.7 rps);
    # with 2 AZs and 2 instances the one left carries 16.7 rps, still above the peak.
    assert (s.keys["peak_requests_per_second"], s.fleet["requests_per_target"], s.fleet["min_size"]) == (15.0, 1000, 3)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"peak_requests_per_second": 40},
            "ha-stack:fleet.min_size: not statically stable: losing one of 3 AZs leaves 2 of 3 instances, but "
            "peak_requests_per_second 40 at requests_per_target 1000 per instance per minute needs 3; "
            "min_size must be >= 5, got 3",
        ),
        (
            {"peak_requests_per_second": 100, "fleet": {"min_size": 6, "desired_capacity": 6}},
            "ha-stack:fleet.min_size: not statically stable: losing one of 3 AZs leaves 4 of 6 instances, but "
            "peak_requests_per_second 100 at requests_per_target 1000 per instance per minute needs 6; "
            "min_size must be >= 9, got 6",
        ),
        ({"peak_requests_per_second": "lots"}, "ha-stack:peak_requests_per_second: must be a number, got 'lots'"),
    ],
)
def test_prod_that_would_need_launches_after_an_az_loss_is_refused(overrides, expected):
    assert expected in problems_of(stack_config("prod", **overrides))


def test_prod_must_state_its_peak_and_what_one_instance_carries():
    assert problems_of(stack_config("prod", peak_requests_per_second=None)) == [
        "ha-stack:peak_requests_per_second: prod needs the peak load (requests per second) the web tier must carry "
        "with one AZ lost; set it in Pulumi.test.yaml"
    ]
    no_target = stack_config("prod")
    del no_target["ha-stack:fleet"]["requests_per_target"]
    assert problems_of(no_target) == [
        "ha-stack:fleet.requests_per_target: needed with peak_requests_per_second: it is what one instance carries "
        "at the target"
    ]


def test_dev_runs_the_same_static_stability_rule_when_it_states_a_peak():
    """Dev need not size for an AZ loss, but a peak it states goes through the same rule (2 AZs, 20 rps each)."""
    target = {"requests_per_target": 1200}
    parse_settings(stack_config("dev", peak_requests_per_second=20, fleet=target), stack="dev")
    assert problems_of(stack_config("dev", peak_requests_per_second=30, fleet=target)) == [
        "ha-stack:fleet.min_size: not statically stable: losing one of 2 AZs leaves 1 of 2 instances, but "
        "peak_requests_per_second 30 at requests_per_target 1200 per instance per minute needs 2; min_size must be "
        ">= 4, got 2"
    ]


def test_resilience_settings_autoshift_in_prod_with_a_users_blocked_windows_and_off_in_dev():
    prod = parse_settings(stack_config("prod"), stack="prod").resilience
    assert prod["enable_zonal_autoshift"] is True
    assert prod["autoshift_blocked_windows"] == [
        "Fri:16:00-Fri:23:59",
        "Sat:00:00-Sat:23:59",
        "Sun:00:00-Sun:23:59",
        "Mon:00:00-Mon:08:00",
    ]
    dev = parse_settings(stack_config("dev"), stack="dev").resilience
    assert (dev["enable_zonal_autoshift"], dev["drill_minutes"]) == (False, 5)


@pytest.mark.parametrize(
    ("resilience", "expected"),
    [
        ({"autoshift_blocked_windows": ["Friday 16:00"]}, "ha-stack:resilience.autoshift_blocked_windows: "),
        ({"autoshift_blocked_dates": ["24.12.2026"]}, "ha-stack:resilience.autoshift_blocked_dates: "),
        ({"drill_minutes": 721}, "ha-stack:resilience.drill_minutes: must be"),
        ({"enable_zonal_autoshit": True}, "ha-stack:resilience.enable_zonal_autoshit: unknown argument (did you mean"),
    ],
)
def test_bad_resilience_settings_are_one_line_each(resilience, expected):
    assert any(p.startswith(expected) for p in problems_of(stack_config("prod", resilience=resilience)))


DR = {"secondary_region": "us-west-2", "approach": "warm_standby"}


def test_dr_defaults_come_from_the_stack_and_the_approach():
    """standby_az_count is the stack's az_count; warm_standby's min size is one instance per standby AZ, and
    pilot_light's is 0."""
    config = stack_config("prod")
    config["ha-stack:dr"] = {"secondary_region": "us-west-2"}
    dr = parse_settings(config, stack="prod").dr
    assert dr is not None
    assert (dr["approach"], dr["standby_az_count"], dr["standby_min_size"]) == (Approach.WARM_STANDBY, 3, 3)
    problems = options.Problems("dr.")
    pilot = DR_ARGS.read({"secondary_region": "us-west-2", "approach": "pilot_light", "standby_az_count": 3}, problems)
    assert problems.lines == []
    assert pilot["standby_min_size"] == 0
    assert parse_settings(stack_config("dev"), stack="dev").dr is None


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"dr": {**DR, "secondary_region": "us-east-1"}},
            "ha-stack:dr.secondary_region: must differ from aws:region (us-east-1): the standby survives its loss",
        ),
        (
            {"dr": {**DR, "secondary_region": "us-wst-2"}},
            "ha-stack:dr.secondary_region: must be a region of AWS's standard partition (cfn-lint's AWS catalogue), "
            "got 'us-wst-2' (nearest: us-west-2, us-west-1, us-east-2)",
        ),
        (
            {"dr": {**DR, "approach": "cold"}},
            "ha-stack:dr.approach: must be one of pilot_light, warm_standby, got 'cold'",
        ),
        (
            {"dr": {**DR, "approach": "pilot_light", "standby_min_size": 2}},
            "ha-stack:dr.standby_min_size: pilot_light runs no instances in the standby: must be 0, got 2",
        ),
        (
            {"dr": {**DR, "standby_min_size": 2}},
            "ha-stack:dr.standby_min_size: warm_standby runs at least one instance per standby AZ: must be >= "
            "standby_az_count (3), got 2",
        ),
        (
            {"dr": {**DR, "standby_min_size": 9}},
            "ha-stack:dr.standby_min_size: must be <= fleet.max_size (6), the standby's max, got 9",
        ),
        ({"dr": {**DR, "standby_az_count": 1}}, "ha-stack:dr.standby_az_count: must be from 2 to 6, got 1"),
        (
            {"dr": {**DR, "secondry_region": "x"}},
            "ha-stack:dr.secondry_region: unknown argument (did you mean 'secondary_region'?)",
        ),
        (
            {"dr": "us-west-2"},
            "ha-stack:dr: must be an object (secondary_region, approach, standby_min_size, standby_az_count), "
            "got 'us-west-2'",
        ),
        (
            {"dr": DR, "domain": None, "hosted_zone": None},
            "ha-stack:dr: needs ha-stack:domain and ha-stack:hosted_zone: each region's load balancer gets its own "
            "name (origin.<domain>, origin-standby.<domain>) and writes follow origin-write.<domain>",
        ),
        (
            {"dr": DR, "database": {"instance_class": "db.t4g.medium"}},
            "ha-stack:database.instance_class: with dr, Aurora is a global database, which needs a memory-optimized "
            "class (db.r*, db.x*), got 'db.t4g.medium'",
        ),
    ],
)
def test_each_dr_problem_is_one_line_before_anything_is_declared(overrides, line):
    lines = problems_of(stack_config("prod", **overrides))
    assert any(got.startswith(line) for got in lines), lines
