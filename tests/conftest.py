"""Shared test helpers: run the real stack program or one component against the mock cloud."""

import copy
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ha_stack import options
from stack.mock_cloud import RecordedResource, Recording, run_program

ROOT = Path(__file__).resolve().parent.parent
ZONES3 = ["us-east-1a", "us-east-1b", "us-east-1c"]
"""The zones prod spans in us-east-1."""
DATA_TIER = {
    "vpc_id": "vpc-1",
    "subnet_ids": ["subnet-da", "subnet-db", "subnet-dc"],
    "availability_zones": ZONES3,
    "client_security_group_ids": {"web": "sg-web"},
}
"""Placement of a data-tier component built on its own: data subnets in 3 zones, the web tier as client."""


def stack_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's config, with keys of `ha-stack:<tier>` objects replaced by the overrides (a dict) and
    stack-level keys (`az_count=2`) set; None removes a stack-level key."""
    config: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    for key, value in overrides.items():
        if isinstance(value, dict):
            config[f"ha-stack:{key}"] = {**config.get(f"ha-stack:{key}", {}), **value}
        elif value is None:
            config.pop(f"ha-stack:{key}", None)
        else:
            config[f"ha-stack:{key}"] = value
    return config


def run_stack(stack: str, config: dict[str, Any] | None = None, root: Path = ROOT) -> Recording:
    """Run <root>/__main__.py for a stack (its real stack file unless a config is given).

    `root` lets a test run the program against a copy of the repository's service (a changed app/).
    """
    return run_program(
        lambda: runpy.run_path(str(root / "__main__.py")), stack=stack, config=config or stack_config(stack)
    )


def build(fn: Callable[[], object], region: str = "us-east-1") -> Recording:
    """Build resources outside any stack file (one component, as a reusing project would)."""

    def program() -> None:
        fn()

    return run_program(program, stack="test", config={"aws:region": region})


def refusal(component: Callable[[str, Any], object], given: object, name: str) -> tuple[list[str], Recording]:
    """Build one component on its own with these arguments: the lines it refused them with (options.ArgsError),
    and what was registered meanwhile (nothing, when every check runs before the component registers)."""
    lines: list[str] = []

    def program() -> None:
        try:
            component(name, given)
        except options.ArgsError as err:
            lines.extend(err.problems)

    return lines, build(program)


def parented_children(rec: Recording) -> list[RecordedResource]:
    """The cloud resources of a one-component build, after checking each is a child of that component.

    A missing `parent=self` would put a resource at the stack's root, outside the component's URN.
    """
    (component,) = rec.components()
    children = [r for r in rec.resources if r.custom]
    assert children
    assert [r.name for r in children if r.parent != component.urn] == []
    return children


def published(rec: Recording, containing: str = "", *, standby: bool = False) -> dict[str, str]:
    """Parameter Store of the stack's region as the program would fill it (of the dr standby's region with
    `standby`: each region has its own, under the same path): name -> value of every parameter whose name has
    `containing`."""
    return {
        p.inputs["name"]: p.inputs["insecureValue"]
        for p in rec.of_type("aws:ssm/parameter:Parameter")
        if containing in p.inputs["name"] and bool(p.provider) == standby
    }


@pytest.fixture(scope="session")
def prod_pair() -> Recording:
    """The prod stack, as its stack file defines it: a dr pair, both regions (built once: the tests only read it)."""
    return run_stack("prod")


@pytest.fixture(scope="session")
def prod(prod_pair: Recording) -> Recording:
    """prod's primary region (us-east-1, global services included): what the tests of one region's tiers check.
    The standby region is the same code under another provider; tests/test_dr.py checks it on prod_pair."""
    return prod_pair.primary_region("us-east-1")


@pytest.fixture(scope="session")
def dev() -> Recording:
    """The dev stack, as its stack file defines it."""
    return run_stack("dev")
