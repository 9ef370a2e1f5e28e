"""Stack settings: the real stack files parse, and every bad config is refused with a clear line."""

import pulumi
import pytest

from stack.mock_cloud import run_program
from stack.settings import SettingsError, load_settings, parse_settings
from tests.conftest import stack_config


def problems_of(config):
    with pytest.raises(SettingsError) as err:
        parse_settings(config, stack="test")
    return err.value.problems


def test_prod_file_takes_the_seeds_numbers():
    s = parse_settings(stack_config("prod"), stack="prod")
    assert (s.region, s.network.az_count, s.network.nat_gateways) == ("us-east-1", 3, "one_per_az")
    assert (s.web.min_size, s.web.max_size, s.web.cpu_target_percent) == (3, 6, 60)
    assert (s.database.engine, s.database.reader_count, s.database.backup_retention_days) == (
        "aurora-postgresql",
        2,
        14,
    )
    assert (s.cache.node_count, s.cache.automatic_failover, s.cache.product_ttl_seconds) == (3, True, 3600)
    assert s.cache.apply_immediately is False  # prod's cache changes in its maintenance window
    assert (s.edge.static_ttl_seconds, s.edge.domain, s.edge.hosted_zone) == (604800, "shop.example.com", "example.com")
    assert s.monitoring.alarm_emails


def test_dev_file_is_cheap_and_says_so():
    s = parse_settings(stack_config("dev"), stack="dev")
    assert (s.network.az_count, s.network.nat_gateways) == (2, "single")
    assert (s.database.engine, s.database.multi_az, s.database.reader_count) == ("postgres", False, 0)
    assert (s.cache.node_count, s.cache.automatic_failover) == (1, False)
    assert s.cache.apply_immediately is True
    assert s.edge.domain is None
    assert s.monitoring.alarm_emails == []


# (tier overrides, the exact problem line expected) - each a config a user could plausibly write.
BAD_CONFIGS = [
    (
        {"network": {"nat_gateways": "two"}},
        "ha-stack:network.nat_gateways: must be one of none, single, one_per_az, got 'two'",
    ),
    (
        {"network": {"nat_gatways": "single"}},
        "ha-stack:network.nat_gatways: unknown key (did you mean 'nat_gateways'?)",
    ),
    (
        {"network": {"cidr": "10.0.0.0/8"}},
        "ha-stack:network.cidr: must be a private IPv4 CIDR from /16 to /22, got '10.0.0.0/8'",
    ),
    (
        {"network": {"cidr": "8.8.0.0/16"}},
        "ha-stack:network.cidr: must be a private IPv4 CIDR from /16 to /22, got '8.8.0.0/16'",
    ),
    (
        {"network": {"cidr": "10.0.0.300/16"}},
        "ha-stack:network.cidr: must be an IPv4 network such as 10.0.0.0/16, got '10.0.0.300/16'",
    ),
    ({"network": {"az_count": 1}}, "ha-stack:network.az_count: must be between 2 and 6, got 1"),
    ({"network": {"az_count": "3"}}, "ha-stack:network.az_count: must be a whole number, got '3'"),
    (
        {"network": {"flow_log_retention_days": 10}},
        "ha-stack:network.flow_log_retention_days: must be a CloudWatch Logs retention (1, 3, 5, 7, 14",
    ),
    ({"network": {"enable_flow_logs": "yes"}}, "ha-stack:network.enable_flow_logs: must be true or false, got 'yes'"),
    ({"web": {"min_size": 5, "max_size": 4}}, "ha-stack:web.min_size: must be <= max_size (4), got 5"),
    (
        {"web": {"desired_capacity": 9}},
        "ha-stack:web.desired_capacity: must be between min_size (3) and max_size (6), got 9",
    ),
    (
        {"web": {"app_port": 80}},
        "ha-stack:web.app_port: must be between 1024 and 65535 (unprivileged ports only), got 80",
    ),
    ({"web": {"app_port": 5432}}, "ha-stack:web.app_port: 5432 is reserved for a data-tier service"),
    (
        {"web": {"instance_type": "t3.huge"}},
        "ha-stack:web.instance_type: must be a t, m, c or r family instance type such as t3.small, got 't3.huge'",
    ),
    (
        {"web": {"instance_type": "x9.large"}},
        "ha-stack:web.instance_type: must be a t, m, c or r family instance type such as t3.small, got 'x9.large'",
    ),
    ({"web": {"cpu_target_percent": 95}}, "ha-stack:web.cpu_target_percent: must be between 10 and 90 percent, got 95"),
    ({"web": {"min_size": 2}}, "ha-stack:web.min_size: prod needs an instance in every AZ: >= az_count (3), got 2"),
    (
        {"database": {"engine": "mysql"}},
        "ha-stack:database.engine: must be one of aurora-postgresql, postgres, got 'mysql'",
    ),
    ({"database": {"engine": "aurora-postgres"}}, "got 'aurora-postgres' (did you mean 'aurora-postgresql'?)"),
    (
        {"database": {"engine_version": "9.6"}},
        "ha-stack:database.engine_version: major version must be one of 13, 14, 15, 16, 17, got '9.6'",
    ),
    (
        {"database": {"instance_class": "r6g.large"}},
        "ha-stack:database.instance_class: must be an RDS instance class such as db.r6g.large, got 'r6g.large'",
    ),
    (
        {"database": {"reader_count": 3}},
        "ha-stack:database.reader_count: must be < network.az_count (3) so the writer and each reader get their own AZ",
    ),
    (
        {"database": {"backup_retention_days": 3}},
        "ha-stack:database.backup_retention_days: prod needs >= 7 days, got 3",
    ),
    (
        {"database": {"backup_retention_days": 0}},
        "ha-stack:database.backup_retention_days: aurora-postgresql keeps at least 1 day of backups, got 0",
    ),
    (
        {"database": {"backup_retention_days": 36}},
        "ha-stack:database.backup_retention_days: must be between 0 and 35 days, got 36",
    ),
    ({"database": {"deletion_protection": False}}, "ha-stack:database.deletion_protection: prod needs true"),
    (
        {"database": {"instance_class": "db.t4g.micro"}},
        "ha-stack:database.instance_class: aurora-postgresql needs db.t3.medium / db.t4g.medium or larger, "
        "got 'db.t4g.micro'",
    ),
    (
        {"database": {"engine": "postgres", "multi_az": False}},
        "ha-stack:database.multi_az: prod needs true for engine postgres",
    ),
    (
        {"database": {"reader_autoscaling_max": 2}},
        "ha-stack:database.reader_autoscaling_max: must be > reader_count (2) so auto scaling can add a reader, got 2",
    ),
    (
        {"cache": {"node_count": 1}},
        "ha-stack:cache.automatic_failover: needs node_count >= 2 (a replica to fail over to), got node_count 1",
    ),
    ({"cache": {"engine": "memcached"}}, "ha-stack:cache.engine: must be one of redis, valkey, got 'memcached'"),
    (
        {"cache": {"engine_version": "7.5"}},
        "ha-stack:cache.engine_version: must be a redis version ElastiCache offers (6, 6.x, 6.0, 6.2, 7, 7.0, 7.1), "
        "got '7.5'",
    ),
    (
        {"cache": {"engine": "valkey", "engine_version": "7.1"}},
        "ha-stack:cache.engine_version: must be a valkey version ElastiCache offers (7, 7.2, 8, 8.0, 8.1, 8.2), "
        "got '7.1'",
    ),
    (
        {"cache": {"node_type": "r7g.large"}},
        "ha-stack:cache.node_type: must be an ElastiCache node type such as cache.r7g.large, got 'r7g.large'",
    ),
    ({"cache": {"node_count": 4}}, "ha-stack:cache.node_count: must be <= network.az_count (3)"),
    ({"cache": {"product_ttl_seconds": 0}}, "ha-stack:cache.product_ttl_seconds: must be between 1 and 86400 seconds"),
    (
        {"edge": {"domain": "shop.example.org"}},
        "ha-stack:edge.domain: must be inside hosted_zone 'example.com', got 'shop.example.org'",
    ),
    (
        {"edge": {"price_class": "PriceClass_50"}},
        "ha-stack:edge.price_class: must be one of PriceClass_100, PriceClass_200, PriceClass_All, got 'PriceClass_50'",
    ),
    ({"edge": {"static_ttl_seconds": -1}}, "ha-stack:edge.static_ttl_seconds: must be between 0 and 31536000 seconds"),
    ({"edge": {"hosted_zone": None}}, "ha-stack:edge.hosted_zone: domain and hosted_zone go together"),
    (
        {"edge": {"log_glacier_days": 400}},
        "ha-stack:edge.log_expire_days: must be after log_glacier_days (400), got 365",
    ),
    (
        {"monitoring": {"alarm_emails": ["ops-at-example.com"]}},
        "ha-stack:monitoring.alarm_emails: every entry must be an e-mail address, got ['ops-at-example.com']",
    ),
    ({"monitoring": {"alarm_emails": []}}, "ha-stack:monitoring.alarm_emails: prod needs at least one address"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_CONFIGS, ids=[e[:60] for _, e in BAD_CONFIGS])
def test_bad_prod_config_is_refused_with_a_line_naming_key_value_and_rule(overrides, expected):
    problems = problems_of(stack_config("prod", **overrides))
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once_one_line_each():
    problems = problems_of(stack_config("prod", network={"nat_gateways": "two"}, web={"min_size": 7, "max_size": 6}))
    assert len(problems) == 2
    assert problems[0].startswith("ha-stack:network.nat_gateways:")
    assert problems[1].startswith("ha-stack:web.min_size:")


def test_unknown_tier_environment_and_region_are_refused():
    config = {**stack_config("dev"), "ha-stack:netwrok": {}, "ha-stack:environment": "production", "aws:region": "mars"}
    problems = problems_of(config)
    assert (
        "ha-stack:netwrok: unknown key; known keys: environment, network, web, database, cache, edge, monitoring, "
        "resilience" in (problems)
    )
    assert "ha-stack:environment: must be one of dev, staging, prod, got 'production'" in problems
    assert "aws:region: must be an AWS region such as us-east-1, got 'mars'" in problems


def test_a_tier_that_is_not_an_object_is_refused():
    assert "ha-stack:web: must be an object of settings, got 'big'" in problems_of(
        {**stack_config("dev"), "ha-stack:web": "big"}
    )


def test_dev_may_opt_out_of_what_prod_must_have():
    parse_settings(stack_config("dev", database={"backup_retention_days": 0}), stack="dev")


def test_backups_stay_on_where_aurora_or_replicas_need_them():
    aurora = stack_config("dev", database={"engine": "aurora-postgresql", "instance_class": "db.t4g.medium"})
    assert problems_of(
        {**aurora, "ha-stack:database": {**aurora["ha-stack:database"], "backup_retention_days": 0}}
    ) == ["ha-stack:database.backup_retention_days: aurora-postgresql keeps at least 1 day of backups, got 0"]
    replicas = stack_config("dev", database={"reader_count": 1})
    assert problems_of(replicas) == [
        "ha-stack:database.reader_count: engine postgres takes 0: AWS refuses read replicas of a primary whose "
        "master password Secrets Manager manages; use aurora-postgresql for readers, got 1"
    ]
    pinned = stack_config("dev", database={"engine_version": "16.4"})
    assert problems_of(pinned) == [
        "ha-stack:database.engine_version: must be the major version only (e.g. '16'): AWS picks and upgrades the "
        "minor, and a pinned one fails the next deploy after it does, got '16.4'"
    ]


def test_under_pulumi_a_bad_config_is_a_run_error_listing_the_problems_not_a_traceback():
    config = stack_config("prod", network={"nat_gateways": "two"}, web={"min_size": 7, "max_size": 6})
    with pytest.raises(pulumi.RunError) as err:
        run_program(load_settings, stack="prod", config=config)
    assert str(err.value).splitlines() == [
        "invalid stack config (2 problems):",
        "  ha-stack:network.nat_gateways: must be one of none, single, one_per_az, got 'two'",
        "  ha-stack:web.min_size: must be <= max_size (6), got 7",
    ]


def test_prod_file_is_statically_stable_for_its_peak():
    s = parse_settings(stack_config("prod"), stack="prod")
    # 3 instances over 3 AZs: one AZ lost leaves 2, each carrying 1000 requests a minute at the target (16.7 rps);
    # with 2 AZs and 2 instances the one left carries 16.7 rps, still above the peak.
    assert (s.web.peak_requests_per_second, s.web.requests_per_target, s.web.min_size) == (15.0, 1000, 3)


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        (
            {"peak_requests_per_second": 40},
            "ha-stack:web.min_size: not statically stable: losing one of 3 AZs leaves 2 of 3 instances, but "
            "peak_requests_per_second 40 at requests_per_target 1000 per instance per minute needs 3; "
            "min_size must be >= 5",
        ),
        (
            {"peak_requests_per_second": 100, "min_size": 6, "desired_capacity": 6},
            "ha-stack:web.min_size: not statically stable: losing one of 3 AZs leaves 4 of 6 instances, but "
            "peak_requests_per_second 100 at requests_per_target 1000 per instance per minute needs 6; "
            "min_size must be >= 9",
        ),
        (
            {"peak_requests_per_second": "lots"},
            "ha-stack:web.peak_requests_per_second: must be a number, got 'lots'",
        ),
    ],
)
def test_prod_that_would_need_launches_after_an_az_loss_is_refused(web, expected):
    assert expected in problems_of(stack_config("prod", web=web))


def test_prod_must_state_its_peak_and_what_one_instance_carries():
    config = stack_config("prod")
    web = {k: v for k, v in config["ha-stack:web"].items() if k != "peak_requests_per_second"}
    assert problems_of({**config, "ha-stack:web": web}) == [
        "ha-stack:web.peak_requests_per_second: prod needs the peak load (requests per second) the web tier must "
        "carry with one AZ lost"
    ]
    no_target = {**web, "peak_requests_per_second": 15}
    del no_target["requests_per_target"]
    assert problems_of({**config, "ha-stack:web": no_target}) == [
        "ha-stack:web.requests_per_target: needed with peak_requests_per_second: it is what one instance carries at "
        "the target"
    ]


def test_dev_runs_the_same_static_stability_rule_when_it_states_a_peak():
    """Dev need not size for an AZ loss, but a peak it states goes through the same rule (2 AZs, 20 rps each)."""
    parse_settings(stack_config("dev", web={"peak_requests_per_second": 20, "requests_per_target": 1200}), stack="dev")
    assert problems_of(stack_config("dev", web={"peak_requests_per_second": 30, "requests_per_target": 1200})) == [
        "ha-stack:web.min_size: not statically stable: losing one of 2 AZs leaves 1 of 2 instances, but "
        "peak_requests_per_second 30 at requests_per_target 1200 per instance per minute needs 2; min_size must be "
        ">= 4"
    ]


def test_resilience_settings_autoshift_in_prod_with_a_users_blocked_windows_and_off_in_dev():
    prod = parse_settings(stack_config("prod"), stack="prod").resilience
    weekend = ["Fri:16:00-Fri:23:59", "Sat:00:00-Sat:23:59", "Sun:00:00-Sun:23:59", "Mon:00:00-Mon:08:00"]
    assert (prod.enable_zonal_autoshift, prod.autoshift_blocked_windows) == (True, weekend)
    dev = parse_settings(stack_config("dev"), stack="dev").resilience
    assert (dev.enable_zonal_autoshift, dev.drill_minutes) == (False, 5)


@pytest.mark.parametrize(
    ("resilience", "expected"),
    [
        (
            {"autoshift_blocked_windows": ["Friday 16:00"]},
            "ha-stack:resilience.autoshift_blocked_windows: every entry must be a weekly UTC window such as "
            "Fri:16:00-Mon:08:00",
        ),
        ({"autoshift_blocked_dates": ["24.12.2026"]}, "ha-stack:resilience.autoshift_blocked_dates: every entry"),
        ({"drill_minutes": 721}, "ha-stack:resilience.drill_minutes: must be"),
        ({"enable_zonal_autoshit": True}, "ha-stack:resilience.enable_zonal_autoshit: unknown key (did you mean"),
    ],
)
def test_bad_resilience_settings_are_one_line_each(resilience, expected):
    assert any(expected in p for p in problems_of(stack_config("prod", resilience=resilience)))
