"""The architecture pictures (docs/architecture/) are drawn from what the stacks declare and kept fresh."""

import copy
import re

import pytest

from stack import architecture
from stack.mock_cloud import Recording
from tests.conftest import run_stack, stack_config

STALE = "docs/architecture/ is stale: run `make docs` and commit the result"
EDGE = re.compile(r'^  (\w+) -> (\w+) \[label="([^"]*)", color="(#\w+)"', re.MULTILINE)
KINDS = {"#1f6feb": "traffic", "#d1242f": "failover", "#8250df": "copy"}
"""Edge colour -> what it draws: the request path, a failover path, data copied (into the standby region)."""
STANDBY = "us-west-2"


def edges(dot: str, failover: bool) -> set[tuple[str, str, str]]:
    """(tail, head, label) of the request-path edges, or of the failover edges."""
    wanted = "failover" if failover else "traffic"
    return {(t, h, label) for t, h, label, colour in EDGE.findall(dot) if KINDS[colour] == wanted}


def copies(dot: str) -> set[tuple[str, str, str]]:
    """(tail, head, label) of the edges that copy data (replication, backup copies)."""
    return {(t, h, label) for t, h, label, colour in EDGE.findall(dot) if KINDS[colour] == "copy"}


def box(dot: str, cluster: str) -> str:
    """The DOT text of one subgraph (a region's box), from its opening line to its closing brace."""
    lines = dot.split("\n")
    (start,) = [i for i, line in enumerate(lines) if line.strip() == f"subgraph {cluster} {{"]
    depth = 0
    for end in range(start, len(lines)):
        depth += lines[end].count("{") - lines[end].count("}")
        if depth == 0:
            return "\n".join(lines[start : end + 1])
    raise AssertionError(f"{cluster} is not closed")


def node_ids(text: str) -> set[str]:
    """The ids of the nodes declared in a piece of DOT."""
    return set(re.findall(r"^\s+(\w+) \[label=", text, re.MULTILINE))


def labels(dot: str) -> dict[str, str]:
    """Node id -> its label (line breaks as \\n)."""
    return dict(re.findall(r"^\s+(\w+) \[label=\"([^\"]*)\"", dot, re.MULTILINE))


@pytest.fixture(scope="module")
def pair() -> Recording:
    """prod as its stack file defines it, both regions: the picture draws the whole recording (the shared fixtures
    may narrow prod to one region for the tier tests)."""
    return run_stack("prod")


@pytest.fixture(scope="module")
def drawn(dev: Recording, pair: Recording) -> dict[str, str]:
    """Each stack's DOT, drawn from a run of the program with the stack's own file."""
    return {"dev": architecture.draw(dev, "dev"), "prod": architecture.draw(pair, "prod")}


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


def test_prod_draws_every_zone_of_both_regions_with_its_three_tiers(drawn: dict[str, str], pair: Recording) -> None:
    """prod is a primary/standby pair: each region's box holds its own three zones, each with its three tiers."""
    dot = drawn["prod"]
    assert dot.startswith(f'digraph "ha-stack prod: 3 AZs in us-east-1, standby 3 AZs in {STANDBY}"')
    for cluster, region in (("cluster_region", "us-east-1"), (f"cluster_region_{STANDBY.replace('-', '_')}", STANDBY)):
        inside = box(dot, cluster)
        assert f'label="Region {region}{" (standby)" if region == STANDBY else ""}"' in inside
        zones = sorted({str(s.inputs["availabilityZone"]) for s in pair.of_type(architecture.SUBNET)})
        mine = [zone for zone in zones if zone.startswith(region)]
        assert len(mine) == 3
        for zone in mine:
            assert f'label="{zone} (' in inside
        for tier in architecture.TIERS:
            assert inside.count(f'label="{tier} subnet"') == 3


def test_each_region_box_holds_its_own_tiers(drawn: dict[str, str]) -> None:
    """The standby's load balancer, instances, Aurora secondary and cold cache node are drawn in the standby's box,
    the primary's in the primary's: the region comes from each resource's aws.Provider, not from its name."""
    dot = drawn["prod"]
    primary, standby = node_ids(box(dot, "cluster_region")), node_ids(box(dot, "cluster_region_us_west_2"))
    assert {"n_web_alb", "n_database_cluster", "n_cache_redis", "n_edge_static"} <= primary
    assert {f"n_web_instances_us_east_1{z}" for z in "abc"} <= primary
    assert {"n_standby_web_alb", "n_standby_database_cluster", "n_standby_cache_redis"} <= standby
    assert {f"n_standby_web_instances_us_west_2{z}" for z in "abc"} <= standby
    assert not primary & standby
    labels_ = labels(dot)
    assert "read-only until promoted" in labels_["n_standby_database_cluster"]
    assert "no automatic failover" in labels_["n_standby_cache_redis"]


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
    """Origin group -> the standby's load balancer, the write name's SECONDARY -> the standby's load balancer,
    Aurora writer -> each reader, cache primary -> each replica, zonal shift in each region; none inside the
    standby's global secondary cluster (no writer there until it is promoted) or its one cache node."""
    failover = {(t, h) for t, h, _ in edges(drawn["prod"], failover=True)}
    assert failover == {
        ("n_edge_cdn_pages", "n_standby_web_alb"),
        ("n_route53_origin_write_shop_example_com", "n_standby_web_alb"),
        ("n_database_instance_a", "n_database_instance_b"),
        ("n_database_instance_a", "n_database_instance_c"),
        ("n_cache_redis_0", "n_cache_redis_1"),
        ("n_cache_redis_0", "n_cache_redis_2"),
        ("n_web_alb_zonal_shift", "n_web_alb"),
        ("n_standby_web_alb_zonal_shift", "n_standby_web_alb"),
    }
    assert "autoshift enabled" in labels(drawn["prod"])["n_web_alb_zonal_shift"]
    assert ("n_edge_cdn_pages", "n_standby_web_alb", "failover on 500, 502, 503, 504") in edges(
        drawn["prod"], failover=True
    )


def test_prod_cross_region_paths(drawn: dict[str, str]) -> None:
    """Pages: the origin group, primary ALB then standby ALB. Writes: the Route 53 failover name, PRIMARY to the
    primary ALB while its health check passes, SECONDARY to the standby's. Data: the global database's replication
    from the primary cluster to the secondary, S3 replication of the static bucket (RTC), AWS Backup's copy into the
    standby's vault."""
    dot = drawn["prod"]
    traffic, failover = edges(dot, failover=False), edges(dot, failover=True)
    assert ("n_edge_cdn_pages", "n_web_alb", "primary") in traffic
    assert ("n_edge_cdn_pages", "n_standby_web_alb", "failover on 500, 502, 503, 504") in failover
    write = "n_route53_origin_write_shop_example_com"
    (to_write,) = [label for t, h, label in traffic if (t, h) == ("n_edge_waf", write)]
    assert {"/orders*", "/products*"} <= set(to_write.split(", "))
    assert (write, "n_web_alb", "PRIMARY while health check https://origin.shop.example.com/health passes") in traffic
    assert (write, "n_standby_web_alb", "SECONDARY: when the primary is unhealthy") in failover
    assert {(t, h) for t, h, _ in copies(dot)} == {
        ("n_database_cluster", "n_standby_database_cluster"),
        ("n_edge_static", "n_static_replica_replica"),
        ("n_database_cluster", "n_database_backup_plan"),
        ("n_database_backup_plan", "n_database_backup_copies"),
    }
    said = {(t, h): label for t, h, label in copies(dot)}
    assert said["n_database_cluster", "n_standby_database_cluster"].startswith("Aurora Global Database ha-stack-prod")
    assert "RTC: 99.99% within 15 min" in said["n_edge_static", "n_static_replica_replica"]
    standby = node_ids(box(dot, "cluster_region_us_west_2"))
    assert {"n_static_replica_replica", "n_database_backup_copies"} <= standby


def test_each_cross_region_path_is_drawn_only_when_declared(pair: Recording) -> None:
    """Without the global cluster, the replication rule or the backup plan, its copy edge goes; the rest stays."""
    for typ, gone in (
        (architecture.GLOBAL_CLUSTER, ("n_database_cluster", "n_standby_database_cluster")),
        (architecture.BUCKET_REPLICATION, ("n_edge_static", "n_static_replica_replica")),
        (architecture.BACKUP_PLAN, ("n_database_backup_plan", "n_database_backup_copies")),
    ):
        fewer = copy.copy(pair)
        fewer.resources = [r for r in pair.resources if r.typ != typ]
        drawn = {(t, h) for t, h, _ in copies(architecture.draw(fewer, "prod"))}
        assert gone not in drawn
        assert len(drawn) == 4 - (2 if typ == architecture.BACKUP_PLAN else 1)


def test_prod_without_dr_draws_one_region() -> None:
    """Removing the dr key from prod's stack file removes the standby's box and every cross-region path: pages
    fail over to the maintenance page again."""
    dot = architecture.draw(run_stack("prod", stack_config("prod", dr=None)), "prod")
    assert dot.startswith('digraph "ha-stack prod: 3 AZs in us-east-1" {')
    assert "standby" not in dot
    assert STANDBY not in dot
    assert copies(dot) == set()
    assert ("n_edge_cdn_pages", "n_edge_maintenance", "failover on 500, 502, 503, 504") in edges(dot, failover=True)


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


def test_the_picture_follows_the_declarations(pair: Recording) -> None:
    """One reader fewer declared, one failover edge fewer drawn: nothing in the picture is hand-kept."""
    fewer = copy.copy(pair)
    fewer.resources = [r for r in pair.resources if r.name != "database-instance-c"]
    failover = {(t, h) for t, h, _ in edges(architecture.draw(fewer, "prod"), failover=True)}
    assert ("n_database_instance_a", "n_database_instance_b") in failover
    assert ("n_database_instance_a", "n_database_instance_c") not in failover


def test_an_untagged_subnet_is_an_error_not_a_guess(pair: Recording) -> None:
    broken = copy.deepcopy(pair)
    subnet = broken.of_type(architecture.SUBNET)[0]
    subnet.inputs["tags"].pop("ha-stack:tier")
    with pytest.raises(ValueError, match=rf"without an ha-stack:tier tag .*: {subnet.name}"):
        architecture.subnets(broken)


def test_subnets_in_a_second_region_are_refused_not_drawn_into_the_first(pair: Recording) -> None:
    two = copy.deepcopy(pair)
    two.of_type(architecture.SUBNET)[0].inputs["availabilityZone"] = "eu-west-1a"
    with pytest.raises(ValueError, match=r"one region; prod declares them in \['eu-west-1', 'us-east-1'\]"):
        architecture.draw(two, "prod")


def test_a_subnet_outside_its_providers_region_is_an_error(pair: Recording) -> None:
    """A standby subnet whose zone is not in its provider's region would be drawn into the wrong box: refused."""
    wrong = copy.deepcopy(pair)
    (subnet,) = [s for s in wrong.of_type(architecture.SUBNET) if s.name == "standby-network-public-a"]
    subnet.inputs["availabilityZone"] = "us-east-1a"
    with pytest.raises(ValueError, match=r"standby-network-public-a is in zone us-east-1a, outside .* us-west-2"):
        architecture.draw(wrong, "prod")


def test_a_resource_of_an_undeclared_provider_is_an_error(pair: Recording) -> None:
    stray = copy.deepcopy(pair)
    stray.of_type(architecture.SUBNET)[0].provider = "urn:pulumi:prod::ha-stack::pulumi:providers:aws::other::id"
    with pytest.raises(ValueError, match=r"provider the program did not declare: .*::other::id"):
        architecture.draw(stray, "prod")
