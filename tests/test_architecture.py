"""The architecture pictures (docs/architecture/) are drawn from what the stacks declare and kept fresh."""

import copy
import re

import pytest

from stack import architecture
from stack.mock_cloud import Recording

STALE = "docs/architecture/ is stale: run `make docs` and commit the result"
EDGE = re.compile(r'^  (\w+) -> (\w+) \[label="([^"]*)", color="(#\w+)"', re.MULTILINE)
FAILOVER_COLOUR = "#d1242f"


def edges(dot: str, failover: bool) -> set[tuple[str, str, str]]:
    """(tail, head, label) of the request-path edges, or of the failover edges."""
    return {(t, h, label) for t, h, label, colour in EDGE.findall(dot) if (colour == FAILOVER_COLOUR) == failover}


def labels(dot: str) -> dict[str, str]:
    """Node id -> its label (line breaks as \\n)."""
    return dict(re.findall(r"^\s+(\w+) \[label=\"([^\"]*)\"", dot, re.MULTILINE))


@pytest.fixture(scope="module")
def drawn(dev: Recording, prod: Recording) -> dict[str, str]:
    """Each stack's DOT, drawn from the same run of the program the other stack tests read."""
    return {"dev": architecture.draw(dev, "dev"), "prod": architecture.draw(prod, "prod")}


@pytest.mark.parametrize("stack", architecture.STACKS)
def test_committed_picture_is_what_the_stack_declares(drawn: dict[str, str], stack: str) -> None:
    committed = architecture.PICTURES / f"{stack}.dot"
    assert committed.exists(), STALE
    assert committed.read_text() == drawn[stack], STALE


@pytest.mark.parametrize("stack", architecture.STACKS)
def test_svg_is_rendered_from_the_committed_dot(stack: str) -> None:
    """The SVG names the sha256 of the DOT it was rendered from (so no Graphviz is needed to tell it is stale)."""
    dot = (architecture.PICTURES / f"{stack}.dot").read_text()
    svg = (architecture.PICTURES / f"{stack}.svg").read_text()
    assert architecture.svg_sha256(svg) == architecture.sha256(dot), STALE
    assert svg.lstrip().startswith("<?xml")
    assert svg.rstrip().endswith("</svg>")


def test_prod_draws_every_zone_with_its_three_tiers(drawn: dict[str, str], prod: Recording) -> None:
    dot = drawn["prod"]
    zones = sorted({str(s.inputs["availabilityZone"]) for s in prod.of_type(architecture.SUBNET)})
    assert len(zones) == 3
    for zone in zones:
        assert f'label="{zone} (' in dot
    assert (
        dot.count('label="public subnet"') == dot.count('label="app subnet"') == dot.count('label="data subnet"') == 3
    )


def test_prod_request_path_runs_from_users_to_the_data_tier(drawn: dict[str, str]) -> None:
    """CloudFront -> WAF -> origin group -> ALB -> instances in every AZ -> Aurora's writer and the cache."""
    traffic = {(t, h) for t, h, _ in edges(drawn["prod"], failover=False)}
    assert {("users", "n_edge_cdn"), ("n_edge_cdn", "n_edge_waf"), ("n_edge_waf", "n_edge_cdn_pages")} <= traffic
    assert ("n_edge_cdn_pages", "n_web_alb") in traffic
    instances = {h for t, h in traffic if t == "n_web_alb"}
    assert instances == {f"n_web_instances_us_east_1{z}" for z in "abc"}
    for node in instances:
        assert {(node, "n_database_cluster"), (node, "n_cache_redis")} <= traffic
    assert ("n_database_cluster", "n_database_instance_a") in traffic
    assert "Aurora writer (promotion tier 0)" in labels(drawn["prod"])["n_database_instance_a"]


def test_prod_failover_paths(drawn: dict[str, str]) -> None:
    """Origin group -> maintenance page, Aurora writer -> each reader, cache primary -> each replica, zonal shift."""
    failover = {(t, h) for t, h, _ in edges(drawn["prod"], failover=True)}
    assert failover == {
        ("n_edge_cdn_pages", "n_edge_maintenance"),
        ("n_database_instance_a", "n_database_instance_b"),
        ("n_database_instance_a", "n_database_instance_c"),
        ("n_cache_redis_0", "n_cache_redis_1"),
        ("n_cache_redis_0", "n_cache_redis_2"),
        ("n_web_alb_zonal_shift", "n_web_alb"),
    }
    assert "autoshift enabled" in labels(drawn["prod"])["n_web_alb_zonal_shift"]
    assert ("n_edge_cdn_pages", "n_edge_maintenance", "failover on 500, 502, 503, 504") in edges(
        drawn["prod"], failover=True
    )


def test_dev_shows_what_it_lacks(drawn: dict[str, str]) -> None:
    """dev: a single-AZ RDS primary and one cache node (no failover for either), an internal ALB behind a VPC
    origin, one NAT gateway."""
    dot, nodes = drawn["dev"], labels(drawn["dev"])
    failover = {(t, h) for t, h, _ in edges(dot, failover=True)}
    assert failover == {("n_edge_cdn_pages", "n_edge_maintenance"), ("n_web_alb_zonal_shift", "n_web_alb")}
    assert "single-AZ: no standby" in nodes["n_database_primary"]
    assert "no automatic failover" in nodes["n_cache_redis"]
    assert "(internal)" in nodes["n_web_alb"]
    assert ("n_edge_alb", "n_web_alb") in {(t, h) for t, h, _ in edges(dot, failover=False)}
    assert sum(1 for node in nodes if node.startswith("n_network_nat_")) == 1


def test_the_picture_follows_the_declarations(prod: Recording) -> None:
    """One reader fewer declared, one failover edge fewer drawn: nothing in the picture is hand-kept."""
    fewer = copy.copy(prod)
    fewer.resources = [r for r in prod.resources if r.name != "database-instance-c"]
    failover = {(t, h) for t, h, _ in edges(architecture.draw(fewer, "prod"), failover=True)}
    assert ("n_database_instance_a", "n_database_instance_b") in failover
    assert ("n_database_instance_a", "n_database_instance_c") not in failover


def test_an_untagged_subnet_is_an_error_not_a_guess(prod: Recording) -> None:
    broken = copy.deepcopy(prod)
    subnet = broken.of_type(architecture.SUBNET)[0]
    subnet.inputs["tags"].pop("ha-stack:tier")
    with pytest.raises(ValueError, match=rf"without an ha-stack:tier tag .*: {subnet.name}"):
        architecture.subnets(broken)


def test_subnets_in_a_second_region_are_refused_not_drawn_into_the_first(prod: Recording) -> None:
    two = copy.deepcopy(prod)
    two.of_type(architecture.SUBNET)[0].inputs["availabilityZone"] = "eu-west-1a"
    with pytest.raises(ValueError, match=r"one region; prod declares them in \['eu-west-1', 'us-east-1'\]"):
        architecture.draw(two, "prod")


def test_a_standby_region_is_named_in_the_title_and_left_out(prod: Recording) -> None:
    """Subnets of another provider's region (the dr setting's standby) are said, not drawn into this region's box."""
    two = copy.deepcopy(prod)
    standby = two.of_type(architecture.SUBNET)[0]
    standby.inputs["availabilityZone"], standby.provider = (
        "us-west-2a",
        "urn:pulumi:prod::ha-stack::pulumi:providers:aws::standby::id",
    )
    dot = architecture.draw(two, "prod")
    assert dot.startswith('digraph "ha-stack prod: 3 AZs in us-east-1 (standby region us-west-2 declared, not drawn)"')
    assert "us-west-2a" not in dot
