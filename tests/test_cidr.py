"""The CIDR planner: no overlaps, everything inside the VPC, and stable when an AZ is added."""

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_stack.cidr import AZ_SLOTS, Tier, plan_subnets

LETTERS = "abcdefgh"[:AZ_SLOTS]

vpc_cidrs = st.builds(
    lambda base, prefix: str(ipaddress.IPv4Network((base, prefix), strict=False)),
    st.sampled_from(["10.0.0.0", "10.128.0.0", "172.16.0.0", "192.168.0.0", "10.77.64.0"]),
    st.integers(min_value=16, max_value=22),
)
zone_sets = st.lists(st.sampled_from(LETTERS), min_size=1, max_size=AZ_SLOTS, unique=True).map(
    lambda letters: [f"eu-west-1{x}" for x in sorted(letters)]
)


@given(vpc_cidrs, zone_sets)
def test_subnets_never_overlap_and_stay_inside_the_vpc(vpc_cidr, zones):
    vpc = ipaddress.IPv4Network(vpc_cidr)
    nets = [ipaddress.IPv4Network(p.cidr) for p in plan_subnets(vpc_cidr, zones)]
    assert len(nets) == 3 * len(zones)
    assert all(n.subnet_of(vpc) for n in nets)
    for a, b in itertools.combinations(nets, 2):
        assert not a.overlaps(b), f"{a} overlaps {b}"


@given(vpc_cidrs, zone_sets, st.sampled_from(LETTERS))
def test_adding_a_zone_moves_no_existing_subnet(vpc_cidr, zones, extra):
    before = {(p.tier, p.zone): p.cidr for p in plan_subnets(vpc_cidr, zones)}
    grown = sorted({*zones, f"eu-west-1{extra}"})
    after = {(p.tier, p.zone): p.cidr for p in plan_subnets(vpc_cidr, grown)}
    assert {k: after[k] for k in before} == before


def test_a_slash_16_gets_large_app_subnets_and_smaller_public_and_data_ones():
    plans = {(p.tier, p.letter): p.cidr for p in plan_subnets("10.0.0.0/16", ["us-east-1a", "us-east-1b"])}
    assert plans[(Tier.APP, "a")] == "10.0.0.0/20"
    assert plans[(Tier.APP, "b")] == "10.0.16.0/20"
    assert plans[(Tier.DATA, "a")] == "10.0.128.0/22"
    assert plans[(Tier.PUBLIC, "b")] == "10.0.164.0/22"


def test_subnets_too_large_for_the_vpc_are_refused_with_the_sizes():
    with pytest.raises(ValueError, match=r"do not fit in 10.0.0.0/16.*/17 app"):
        plan_subnets("10.0.0.0/16", ["us-east-1a"], {Tier.APP: 17})


def test_a_zone_letter_beyond_h_is_refused():
    with pytest.raises(ValueError, match=r"zone letter must be a\.\.h, got 'i'"):
        plan_subnets("10.0.0.0/16", ["us-east-1i"])
