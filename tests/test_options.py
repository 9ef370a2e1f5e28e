"""One declaration per option: a Spec reads arguments the way a user gives them, and every problem is one line."""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pytest

from ha_stack import options


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class DemoArgs(TypedDict):
    """Inputs of a demo component."""

    vpc_id: pulumi.Input[str]
    """A wiring input: a plain string or an Output."""
    size: NotRequired[int]
    """A plain number."""
    copies: NotRequired[int]
    """Defaults to size."""
    ratio: NotRequired[float]
    """A number."""
    colour: NotRequired[Colour]
    """An enum, given as a member or its value."""
    names: NotRequired[list[str]]
    """A list of strings."""
    tags: NotRequired[dict[str, str]]
    """An object of strings."""
    label: NotRequired[str]
    """Off unless given."""


def _size(values: dict[str, object]) -> object:
    """size"""
    return values.get("size", 2)


SPEC = options.Spec(
    "Demo",
    DemoArgs,
    vpc_id=options.Arg(),
    size=options.Arg(2, options.between(1, 10)),
    copies=options.Arg(_size),
    ratio=options.Arg(0.5, options.between(0, 1)),
    colour=options.Arg(Colour.RED),
    names=options.Arg([]),
    tags=options.Arg({}),
    label=options.Arg(check=options.at_most_characters(20)),
)


def read(given: object) -> tuple[dict[str, object], list[str]]:
    problems = options.Problems("Demo.")
    values = SPEC.read(given, problems)
    return dict(values), problems.lines


def test_defaults_apply_and_values_are_converted_to_their_declared_types():
    values, lines = read({"vpc_id": "vpc-1", "size": 4, "ratio": 1, "colour": "blue"})
    assert lines == []
    assert values == {
        "vpc_id": "vpc-1",
        "size": 4,
        "copies": 4,
        "ratio": 1.0,
        "colour": Colour.BLUE,
        "names": [],
        "tags": {},
    }


@pytest.mark.parametrize(
    ("given", "line"),
    [
        ({"size": True}, "Demo.size: must be a whole number, got True"),
        ({"size": "3"}, "Demo.size: must be a whole number, got '3'"),
        ({"size": None}, "Demo.size: must be a whole number, got None"),
        ({"size": 11}, "Demo.size: must be from 1 to 10, got 11"),
        ({"colour": "green"}, "Demo.colour: must be one of red, blue, got 'green'"),
        ({"names": ["a", 1]}, "Demo.names: must be a list of strings, got ['a', 1]"),
        ({"tags": {1: "x"}}, "Demo.tags: must be an object of strings, got {1: 'x'}"),
        ({"vpc_id": 7}, "Demo.vpc_id: must be a string (or an Output of one), got 7"),
        ({"sise": 3}, "Demo.sise: unknown argument (did you mean 'size'?)"),
        ({1: 2}, "Demo.1: argument names are strings, got the key 1"),
    ],
)
def test_each_bad_argument_is_one_line_naming_the_field_the_value_and_what_is_allowed(given, line):
    _, lines = read({"vpc_id": "vpc-1", **given})
    assert any(found.startswith(line) for found in lines), lines


def test_an_output_where_a_plain_value_decides_what_is_declared_is_refused():
    _, lines = read({"vpc_id": pulumi.Output.from_input("vpc-1"), "size": pulumi.Output.from_input(3)})
    assert lines == ["Demo.size: must be a plain value known before deploy, not an Output: it decides what is declared"]


def test_a_long_value_is_shown_cut_with_its_length():
    _, lines = read({"vpc_id": "vpc-1", "label": "x" * 10_000})
    (line,) = lines
    assert line.startswith("Demo.label: must be at most 20 characters, got 10000: 'xxxx")
    assert line.endswith("... (10002 characters)")
    assert len(line) < 200


def test_a_long_unknown_argument_name_is_shown_cut():
    _, lines = read({"vpc_id": "vpc-1", "k" * 10_000: 1})
    (line,) = lines
    assert line.startswith("Demo.'kkkk")
    assert "(10002 characters): unknown argument" in line
    assert len(line) < 300


def test_every_problem_is_reported_at_once_and_required_fields_are_named():
    _, lines = read({"size": 0, "ratio": 2, "colour": 3})
    assert [line.split(":")[0] for line in lines] == ["Demo.vpc_id", "Demo.size", "Demo.ratio", "Demo.colour"]


def test_arguments_that_are_not_an_object_are_one_line():
    _, lines = read(["size", 3])
    assert lines == ["Demo.: must be an object of arguments, got ['size', 3]"]


def test_the_stack_s_wiring_must_not_be_given_and_is_not_required():
    problems = options.Problems("ha-stack:demo.")
    values = SPEC.read({"vpc_id": "vpc-1"}, problems, skip=frozenset({"vpc_id"}))
    assert "vpc_id" not in values
    assert problems.lines == ["ha-stack:demo.vpc_id: is set by the stack from the other tiers, not in the stack file"]


def test_raise_any_raises_one_error_with_every_line():
    problems = options.Problems("Demo.")
    SPEC.read({"size": 0}, problems)
    with pytest.raises(options.ArgsError) as caught:
        problems.raise_any()
    assert str(caught.value).splitlines() == ["Demo.vpc_id: is required", "Demo.size: must be from 1 to 10, got 0"]


def test_a_spec_that_misses_or_invents_a_field_is_refused_at_import():
    with pytest.raises(TypeError, match=r"no Arg for \['label'\]; Arg without a field: \['lable'\]"):
        options.Spec(
            "Demo",
            DemoArgs,
            **{name: options.Arg() for name in DemoArgs.__annotations__ if name != "label"},
            lable=options.Arg(),
        )


def test_the_declaration_carries_type_default_and_description_for_the_reference():
    fields = SPEC.fields
    assert fields["size"].default_text == "2"
    assert fields["copies"].default_text == "size"
    assert fields["label"].default_text == "none (off)"
    assert fields["vpc_id"].default_text == "required"
    assert fields["colour"].default_text == "'red'"
    assert fields["copies"].doc == "Defaults to size."
    assert fields["vpc_id"].plain is False
    assert fields["size"].plain is True
    assert options.describe(fields["names"].annotation) == "a list of strings"
