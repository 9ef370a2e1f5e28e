"""One declaration per option: a component's args TypedDict gives each argument's type and description, its `Spec`
gives the default and the check, and everything else (the component's own checks, the stack file, the generated
reference) reads those two.

Pulumi's schema inference (hosting for other languages) reads the TypedDict and does not accept `Annotated`
metadata, so the default and the check live beside it in a `Spec`, which refuses at import time to miss or invent
a field. A component reads its arguments with `Spec.read`, which checks every field, collects every problem with
the field's key, then lets the component add its rules across fields before `Problems.raise_any`.
"""

import ast
import collections.abc
import difflib
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, NotRequired, Required, TypeVar, Union, get_args, get_origin, get_type_hints

import pulumi

Check = Callable[[Any], str | None]
"""A rule on a value of the right type: None when it holds, else "must be ..., got ..."."""
T = TypeVar("T")
SHOWN_CHARACTERS = 60
"""A value longer than this is shown cut, with its length: an error line never echoes unbounded input."""


class _NoDefault:
    def __repr__(self) -> str:
        return "no default"


NO_DEFAULT: Any = _NoDefault()
"""An optional argument that stays absent (off) unless given."""


@dataclass(frozen=True)
class Arg:
    """The default and the check of one argument (its type and description are the TypedDict's)."""

    default: Any = NO_DEFAULT
    """Applied when the argument is absent; a callable takes the arguments read so far (e.g. a default from
    another field) and its `__doc__` says the default in the reference."""
    check: Check | None = None
    """Rule beyond the type: a range, a catalogue, a pattern."""


def shown(value: object) -> str:
    """repr of a value, cut to SHOWN_CHARACTERS with its length said."""
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def did_you_mean(value: str, options: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for the nearest option, or nothing."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ArgsError(ValueError):
    """Every problem of one component's (or one stack's) arguments, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.problems = lines


class Problems:
    """Problems of one set of arguments, each as "<prefix><field>: message"; keys with a problem are remembered so a
    rule across fields runs only on values that are themselves fine (no line about a stand-in)."""

    def __init__(self, prefix: str, lines: list[str] | None = None) -> None:
        self.prefix = prefix
        self.lines: list[str] = [] if lines is None else lines
        self._bad: set[str] = set()

    def add(self, name: str, message: str) -> None:
        """Record a problem with one field."""
        self._bad.add(name)
        self.lines.append(f"{self.prefix}{name}: {message}")

    def ok(self, *names: str) -> bool:
        """True when none of these fields has a problem."""
        return not self._bad.intersection(names)

    def within(self, prefix: str) -> "Problems":
        """Problems of a nested object (same list of lines, longer prefix)."""
        return Problems(f"{self.prefix}{prefix}", self.lines)

    def raise_any(self) -> None:
        """Raise ArgsError with every line, if there is any."""
        if self.lines:
            raise ArgsError(self.lines)


@dataclass(frozen=True)
class Field:
    """One argument as declared: name, type, whether it must be given, default, check and description."""

    name: str
    annotation: Any
    required: bool
    arg: Arg
    doc: str

    @property
    def default_text(self) -> str:
        """The default as the reference states it."""
        default = self.arg.default
        if default is NO_DEFAULT:
            return "required" if self.required else "none (off)"
        if callable(default):
            return (default.__doc__ or "computed").strip()
        if isinstance(default, Enum):
            return repr(default.value)
        return repr(default)

    @property
    def plain(self) -> bool:
        """True when only a value known before deploy is taken (no Output): it decides what is declared."""
        return not _accepts_output(self.annotation)


class Spec(Generic[T]):
    """The declarations of one component's arguments: its args TypedDict plus an Arg per field."""

    def __init__(self, component: str, args_type: type[T], **args: Arg) -> None:
        hints = get_type_hints(args_type, localns={"Output": pulumi.Output, "T": Any}, include_extras=True)
        missing, extra = set(hints) - set(args), set(args) - set(hints)
        if missing or extra:
            raise TypeError(f"{component} Spec: no Arg for {sorted(missing)}; Arg without a field: {sorted(extra)}")
        docs = attribute_docs(args_type)
        required: frozenset[str] = getattr(args_type, "__required_keys__", frozenset())
        self.component = component
        self.args_type = args_type
        self.fields = {
            name: Field(name, _unwrap(hint), name in required, args[name], docs.get(name, ""))
            for name, hint in hints.items()
        }

    def read(self, given: object, problems: Problems, *, skip: frozenset[str] = frozenset()) -> T:
        """The arguments with defaults applied, every field checked; problems are recorded, not raised.

        `skip` names fields the caller will supply later (the stack's wiring): they must not be given here.
        A field with a problem is left out of the result.
        """
        if not isinstance(given, Mapping):
            problems.add("", f"must be an object of arguments, got {shown(given)}")
            return typing.cast(T, {})
        names = [n for n in self.fields if n not in skip]
        for key in given:
            if not isinstance(key, str):
                problems.add(shown(key), f"argument names are strings, got the key {shown(key)}")
            elif key in skip:
                problems.add(key, "is set by the stack from the other tiers, not in the stack file")
            elif key not in self.fields:
                known = f"{did_you_mean(key, names)}; known: {', '.join(sorted(names))}"
                problems.add(key if len(key) <= SHOWN_CHARACTERS else shown(key), f"unknown argument{known}")
        values: dict[str, Any] = {}
        for name in names:
            declared = self.fields[name]
            if name in given:
                value = _conform(given[name], declared, problems)
                if value is not _BAD:
                    values[name] = value
            elif declared.required:
                problems.add(name, "is required")
            elif declared.arg.default is not NO_DEFAULT:
                default = declared.arg.default
                values[name] = default(values) if callable(default) and not isinstance(default, Enum) else default
        return typing.cast(T, values)


_BAD = object()


def _conform(value: object, declared: Field, problems: Problems) -> object:
    """The value converted to the declared type (enums from their values), checked; _BAD after a problem."""
    name = declared.name
    if declared.plain and isinstance(value, pulumi.Output):
        problems.add(name, "must be a plain value known before deploy, not an Output: it decides what is declared")
        return _BAD
    converted = _typed(value, declared.annotation)
    if converted is _BAD:
        problems.add(name, f"must be {describe(declared.annotation)}, got {shown(value)}")
        return _BAD
    if declared.arg.check is not None and not _is_deferred(converted):
        message = declared.arg.check(converted)
        if message:
            problems.add(name, message)
            return _BAD
    return converted


def _is_deferred(value: object) -> bool:
    return isinstance(value, pulumi.Output) or inspect.isawaitable(value)


def _typed(value: object, annotation: Any) -> object:
    """value as `annotation` (int, float, bool, str, Enum, list[..], dict[str, ..], unions, pulumi.Input[..])."""
    origin, params = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        if _is_deferred(value) and _accepts_output(annotation):
            return value
        for option in params:
            if option is not type(None) and get_origin(option) is not pulumi.Output:
                result = _typed(value, option)
                if result is not _BAD:
                    return result
        return None if value is None and type(None) in params else _BAD
    if origin in (list, Sequence, dict, Mapping):
        return _typed_container(value, origin, params)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return annotation(value)
        except ValueError:
            return _BAD
    if annotation is Any:
        return value
    if annotation is float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else _BAD
    if annotation is int and isinstance(value, bool):
        return _BAD
    return value if isinstance(annotation, type) and isinstance(value, annotation) else _BAD


def _typed_container(value: object, origin: Any, params: tuple[Any, ...]) -> object:
    """A list of params[0], or an object of string keys to params[1], each item typed."""
    if origin in (list, Sequence):
        if not isinstance(value, list):
            return _BAD
        items = [_typed(item, params[0]) for item in value]
        return _BAD if any(item is _BAD for item in items) else items
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        return _BAD
    entries = {k: _typed(v, params[1]) for k, v in value.items()}
    return _BAD if any(v is _BAD for v in entries.values()) else entries


def _accepts_output(annotation: Any) -> bool:
    """True for pulumi.Input[..] (which includes Output[..]) anywhere in the annotation."""
    if get_origin(annotation) is pulumi.Output:
        return True
    return any(_accepts_output(param) for param in get_args(annotation))


def describe(annotation: Any) -> str:
    """What a value of this type is, in words (for error lines and the reference)."""
    origin, params = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        if _accepts_output(annotation):
            plain = [p for p in params if get_origin(p) not in (pulumi.Output, collections.abc.Awaitable)]
            return f"{' or '.join(describe(p) for p in plain if p is not type(None))} (or an Output of one)"
        return " or ".join("null" if p is type(None) else describe(p) for p in params)
    if origin in (list, Sequence):
        return f"a list of {_plural(describe(params[0]))}"
    if origin in (dict, Mapping):
        return f"an object of {_plural(describe(params[1]))}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(str(m.value) for m in annotation)
    return {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}.get(annotation, "any")


_PLURALS = (
    ("a whole number", "whole numbers"),
    ("a number", "numbers"),
    ("a string", "strings"),
    ("a list of", "lists of"),
    ("an object of", "objects of"),
    ("(or an Output of one)", "(or Outputs of them)"),
)


def _plural(text: str) -> str:
    """'a string (or an Output of one)' -> 'strings (or Outputs of them)', for the items of a list or an object."""
    for one, many in _PLURALS:
        text = text.replace(one, many)
    return text


def _unwrap(hint: Any) -> Any:
    """The type inside NotRequired[..] / Required[..]."""
    while get_origin(hint) in (NotRequired, Required):
        (hint,) = get_args(hint)
    return hint


def attribute_docs(cls: type) -> dict[str, str]:
    """Field -> the docstring under it in the class body (the convention Sphinx and Pulumi's schema inference read)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = typing.cast(ast.ClassDef, ast.parse(source).body[0]).body
    docs: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


# Checks: each returns None when the rule holds, else the line's message.


def between(low: float, high: float, unit: str = "") -> Check:
    """low <= value <= high."""

    def check(value: float) -> str | None:
        if low <= value <= high:
            return None
        return f"must be from {_number(low)} to {_number(high)}{unit}, got {shown(value)}"

    return check


def _number(value: float) -> str:
    """A bound as written: whole numbers in full (31536000, not 3.1536e+07), others without trailing zeros."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def matches(pattern: str, what: str) -> Check:
    """A string matching a regular expression, described in words (`what`) in the line."""

    def check(value: str) -> str | None:
        return None if re.fullmatch(pattern, value) else f"must be {what}, got {shown(value)}"

    return check


def one_of(values: Sequence[object], what: str = "") -> Check:
    """One of a short fixed list (all of it is said in the line)."""

    def check(value: object) -> str | None:
        if value in values:
            return None
        listed = ", ".join(str(v) for v in values)
        return f"must be {what + ' (' + listed + ')' if what else 'one of ' + listed}, got {shown(value)}"

    return check


def at_most_characters(limit: int) -> Check:
    """A string of at most `limit` characters."""

    def check(value: str) -> str | None:
        return None if len(value) <= limit else f"must be at most {limit} characters, got {len(value)}: {shown(value)}"

    return check


def all_of(*checks: Check) -> Check:
    """Every check, first failure reported."""

    def check(value: object) -> str | None:
        for one in checks:
            message = one(value)
            if message:
                return message
        return None

    return check


def each(item_check: Check) -> Check:
    """Every item of a list passes `item_check`."""

    def check(values: list[Any]) -> str | None:
        for value in values:
            message = item_check(value)
            if message:
                return message
        return None

    return check


def member_of(catalogue: Callable[[], Sequence[str]] | Sequence[str], what: str, source: str = "") -> Check:
    """One of a list (a catalogue, loaded on first use): the nearest entries are suggested, never the whole list."""

    def check(value: str) -> str | None:
        allowed = catalogue() if callable(catalogue) else catalogue
        if value in allowed:
            return None
        close = difflib.get_close_matches(value, list(allowed), n=3, cutoff=0.6)
        hint = f" (nearest: {', '.join(close)})" if close else ""
        origin = f" ({source})" if source else ""
        return f"must be {what}{origin}, got {shown(value)}{hint}"

    return check
