"""The component reference (docs/reference/) is generated from the code and cannot go stale."""

import re
from pathlib import Path

import pytest

import ha_stack
from ha_stack import fleet
from stack import reference
from stack.tiers import TIERS

STALE = "docs/reference/ is stale: run `make docs` and commit the result"


def test_committed_reference_is_what_the_code_declares() -> None:
    """Every page, the index included, equals a fresh generation; no page of a removed component remains."""
    generated = reference.pages()
    committed = {path.name: path.read_text() for path in reference.REFERENCE.glob("*.md")}
    assert sorted(committed) == sorted(generated), STALE
    stale = [name for name, text in generated.items() if committed[name] != text]
    assert stale == [], f"{STALE} ({', '.join(stale)})"


def test_every_component_has_a_page_linked_from_the_index() -> None:
    generated = reference.pages()
    components = generated[reference.INDEX].split("## Stack file keys", 1)[0]
    assert re.findall(r"\]\((Ha\w+)\.md\)", components) == list(ha_stack.COMPONENTS)
    extra = {reference.page_of(tier, ha_stack.COMPONENTS) for tier in reference.settings_tiers(ha_stack.COMPONENTS)}
    assert extra == {"ha-stack-service.md"}
    assert set(generated) == {f"{name}.md" for name in ha_stack.COMPONENTS} | {reference.INDEX} | extra


def test_every_stack_file_key_leads_to_the_page_of_its_arguments() -> None:
    """A user reading `ha-stack:<tier>` in a stack file finds that tier's arguments, and which ones the stack sets."""
    generated = reference.pages()
    keys = re.findall(r"^\| `ha-stack:(\w+)` \| \[[^]]+\]\(([^)]+)\) \|$", generated[reference.INDEX], re.MULTILINE)
    assert [tier for tier, _ in keys] == [tier.name for tier in TIERS]
    for tier, page in keys:
        assert f"`ha-stack:{tier}` in `Pulumi.<stack>.yaml` takes the arguments below" in generated[page]
    database = generated["HaDatabase.md"].split("## In a stack file", 1)[1].split("## Inputs", 1)[0]
    assert "`vpc_id`" in database
    assert "`engine`" not in database  # the stack file sets it
    service = rows(generated["ha-stack-service.md"], "Inputs")
    assert service["product_ttl_seconds"][:3] == ["a whole number", "`3600`", "plain"]


def test_a_component_without_a_spec_fails_the_generation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A component not yet converted is an error naming it, never a page silently left out."""
    monkeypatch.setattr(ha_stack, "COMPONENTS", ("HaWebFleet",))
    monkeypatch.delattr(fleet, "ARGS")
    with pytest.raises(reference.MissingSpecError, match=r"^HaWebFleet: ha_stack.fleet declares no ARGS"):
        reference.pages()
    assert reference.main(["--directory", str(tmp_path / "reference")]) == 1
    assert not (tmp_path / "reference").exists()


def rows(page: str, heading: str) -> dict[str, list[str]]:
    """Name -> the other cells of each row of the table under a heading."""
    section = page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in table]
    return {row[0].strip("`"): row[1:] for row in cells}


def test_fleet_inputs_show_type_default_and_whether_outputs_are_taken() -> None:
    """What a user looks up: the type, the default the component applies, and whether an Output may be given."""
    inputs = rows(reference.page("HaWebFleet"), "Inputs")
    assert list(inputs) == list(fleet.ARGS.fields)
    assert inputs["min_size"] == [
        "a whole number",
        "`2`",
        "plain",
        "Fewest instances; at least one per AZ for high availability (0 only for a pilot-light standby region, whose "
        "group is scaled up when it takes over).",
    ]
    assert inputs["subnet_ids"][:3] == [
        "a list of strings (each item may be an Output)",
        "**required**",
        "plain, items Input",
    ]
    assert inputs["launch_template_id"][:3] == ["a string (or an Output of one)", "**required**", "Input"]
    assert inputs["requests_per_target"][1] == "none (off)"
    assert inputs["desired_capacity"][1] == "min_size"  # a computed default is shown by its docstring
    assert inputs["health_check_grace_seconds"][1] == f"`{fleet.ARGS.fields['health_check_grace_seconds'].arg.default}`"


def test_outputs_are_what_the_component_registers() -> None:
    """Each page lists exactly the class's Output attributes, with their docstrings."""
    for name in ha_stack.COMPONENTS:
        outputs = rows(reference.page(name), "Outputs")
        declared = [n for n, _, _ in reference.outputs_of(getattr(ha_stack, name))]
        assert list(outputs) == declared, name
        assert all(cells[1] for cells in outputs.values()), f"{name}: an output without a docstring"
    fleet_outputs = rows(reference.page("HaWebFleet"), "Outputs")
    assert fleet_outputs == {
        "asg_name": ["a string", "The Auto Scaling group's name."],
        "asg_arn": ["a string", "The Auto Scaling group's ARN."],
    }


def test_a_pipe_in_a_docstring_does_not_break_the_table() -> None:
    assert reference.cell("a | b\n  c") == "a \\| b c"
