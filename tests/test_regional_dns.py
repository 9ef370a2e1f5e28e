"""HaRegionalDns: the failover name that follows the writer, and a health check on each region's own origin name."""

import asyncio
from typing import Any, cast

import pulumi
import pytest

from ha_stack import HaRegionalDns, HaRegionalDnsArgs, options
from ha_stack.regional_dns import plan
from stack.mock_cloud import Recording
from tests.conftest import build, parented_children

RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
PRIMARY_ALB = "web-alb-1234.us-east-1.elb.amazonaws.com"
STANDBY_ALB = "web-standby-alb-5678.us-west-2.elb.amazonaws.com"


def args(**overrides: Any) -> HaRegionalDnsArgs:
    base = {
        "hosted_zone_id": "Z1",
        "record_name": "origin-write.shop.example.com",
        "primary_alias_name": PRIMARY_ALB,
        "primary_alias_zone_id": "Z35SXDOTRQ7X7K",
        "primary_health_check_name": "origin.shop.example.com",
        "secondary_alias_name": STANDBY_ALB,
        "secondary_alias_zone_id": "Z1H1FL5HABSF5",
        "secondary_health_check_name": "origin-standby.shop.example.com",
    }
    return cast(HaRegionalDnsArgs, {**base, **overrides})


@pytest.fixture(scope="module")
def pair() -> Recording:
    return build(lambda: HaRegionalDns("origin-write", args()))


def records(rec: Recording) -> dict[str, dict[str, Any]]:
    """The failover records by their failover type."""
    return {r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs for r in rec.of_type(RECORD)}


def checks_by_name(rec: Recording) -> dict[str, Any]:
    return {c.inputs["fqdn"]: c for c in rec.of_type(HEALTH_CHECK)}


def test_the_failover_name_is_a_primary_secondary_pair_of_aliases_to_the_two_load_balancers(pair):
    pair_ = records(pair)
    assert set(pair_) == {"PRIMARY", "SECONDARY"}
    assert {r["name"] for r in pair_.values()} == {"origin-write.shop.example.com"}
    assert {r["type"] for r in pair_.values()} == {"A"}
    assert {r["zoneId"] for r in pair_.values()} == {"Z1"}
    assert len({r["setIdentifier"] for r in pair_.values()}) == 2
    assert [a["name"] for a in pair_["PRIMARY"]["aliases"]] == [PRIMARY_ALB]
    assert [a["name"] for a in pair_["SECONDARY"]["aliases"]] == [STANDBY_ALB]
    assert pair_["PRIMARY"]["aliases"][0]["zoneId"] == "Z35SXDOTRQ7X7K"


def test_the_primary_answers_only_while_its_own_regions_health_check_passes(pair):
    by_name = checks_by_name(pair)
    primary_check = by_name["origin.shop.example.com"]
    assert records(pair)["PRIMARY"]["healthCheckId"] == primary_check.id
    assert records(pair)["PRIMARY"]["aliases"][0]["evaluateTargetHealth"] is True
    # The secondary is answered whenever the primary is not, even while the standby's fleet scales out.
    assert "healthCheckId" not in records(pair)["SECONDARY"]
    assert records(pair)["SECONDARY"]["aliases"][0]["evaluateTargetHealth"] is False


def test_each_region_is_probed_over_https_on_its_own_name_never_the_failover_name(pair):
    by_name = checks_by_name(pair)
    assert set(by_name) == {"origin.shop.example.com", "origin-standby.shop.example.com"}
    for health_check in by_name.values():
        inputs = health_check.inputs
        assert (inputs["type"], inputs["port"], inputs["resourcePath"], inputs["enableSni"]) == (
            "HTTPS",
            443,
            "/health",
            True,
        )
        # 10 s x 3: a checker calls a region unhealthy after about 30 s; one lost probe moves nothing.
        assert (inputs["requestInterval"], inputs["failureThreshold"]) == (10, 3)


def test_the_health_check_ids_are_outputs_for_alarms():
    made: list[HaRegionalDns] = []
    rec = build(lambda: made.append(HaRegionalDns("origin-write", args())))
    loop = asyncio.get_event_loop()
    primary, secondary = (
        loop.run_until_complete(o.future())
        for o in (made[0].primary_health_check_id, made[0].secondary_health_check_id)
    )
    by_name = checks_by_name(rec)
    expected = (by_name["origin.shop.example.com"].id, by_name["origin-standby.shop.example.com"].id)
    assert (primary, secondary) == expected


def test_every_child_is_parented_to_the_component(pair):
    assert len(parented_children(pair)) == 4


def refused(given: object) -> list[str]:
    """The problem lines HaRegionalDns raised, after checking nothing was declared."""
    caught: list[options.ArgsError] = []

    def program() -> None:
        try:
            HaRegionalDns("origin-write", cast(HaRegionalDnsArgs, given))
        except options.ArgsError as err:
            caught.append(err)

    rec = build(program)
    assert [r.name for r in rec.resources if r.custom] == []
    (error,) = caught
    return error.problems


@pytest.mark.parametrize(
    ("given", "line"),
    [
        pytest.param(
            args(primary_health_check_name="origin-write.shop.example.com"),
            "HaRegionalDns.primary_health_check_name: is the failover name 'origin-write.shop.example.com': a health "
            "check probes its region's own origin name, never the name whose answer it decides",
            id="probes-the-failover-name",
        ),
        pytest.param(
            args(secondary_health_check_name="ORIGIN.shop.example.com"),
            "HaRegionalDns.secondary_health_check_name: is the primary's 'origin.shop.example.com': each region's "
            "own name",
            id="same-name-twice",
        ),
        pytest.param(
            args(request_interval_seconds=5),
            "HaRegionalDns.request_interval_seconds: must be one of 10, 30, got 5",
            id="interval-route53-refuses",
        ),
        pytest.param(
            args(failure_threshold=11),
            "HaRegionalDns.failure_threshold: must be from 1 to 10, got 11",
            id="threshold",
        ),
        pytest.param(
            args(record_name="origin-write.shop.example.com."),
            "HaRegionalDns.record_name: must be a DNS name such as origin.shop.example.com",
            id="trailing-dot",
        ),
        pytest.param(
            args(record_name=pulumi.Output.from_input("origin-write.shop.example.com")),
            "HaRegionalDns.record_name: must be a plain value known before deploy, not an Output",
            id="output",
        ),
        pytest.param(
            args(health_check_path="/" + "h" * 10_000),
            "HaRegionalDns.health_check_path: must be at most 255 characters",
            id="long-path",
        ),
        pytest.param(
            args(primary_health_check_nam="origin.shop.example.com"),
            "HaRegionalDns.primary_health_check_nam: unknown argument (did you mean 'primary_health_check_name'?)",
            id="unknown",
        ),
        pytest.param(
            {k: v for k, v in args().items() if k != "secondary_alias_zone_id"},
            "HaRegionalDns.secondary_alias_zone_id: is required",
            id="missing",
        ),
    ],
)
def test_each_bad_input_is_one_line_and_nothing_is_declared(given, line):
    lines = refused(given)
    assert [x for x in lines if x.startswith(line)] != [], lines


def test_several_bad_arguments_are_all_reported_in_one_error():
    with pytest.raises(options.ArgsError) as caught:
        plan(args(failure_threshold=0, request_interval_seconds=60, record_name="x"))
    assert [line.split(":")[0] for line in caught.value.problems] == [
        "HaRegionalDns.record_name",
        "HaRegionalDns.request_interval_seconds",
        "HaRegionalDns.failure_threshold",
    ]
