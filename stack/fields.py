"""A reader for one `ha-stack:<tier>` config object that collects problems instead of raising.

Every accessor checks one key, records a problem naming ``ha-stack:<tier>.<key>``, the value and what
is allowed, and returns the default so parsing goes on and all problems are reported together.
"""

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


class Problems:
    """Every problem of one parse, one line each, and the keys they were about.

    A rule across several keys asks ``ok`` first, so no line is ever about a stand-in default.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._keys: set[str] = set()

    def add(self, key: str, message: str) -> None:
        """Record ``key: message``; ``key`` is a full config key such as ``ha-stack:web.min_size``."""
        self._keys.add(key)
        self.lines.append(f"{key}: {message}")

    def ok(self, *keys: str) -> bool:
        """True when none of these keys has a problem yet."""
        return not self._keys.intersection(keys)


class Section:
    """Reads the keys of one config object and remembers which ones were asked for."""

    def __init__(self, key: str, raw: object, problems: Problems) -> None:
        self.key = key
        self.problems = problems
        self.known: list[str] = []
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.add(key, f"must be an object of settings, got {raw!r}")
            raw = {}
        self.raw: Mapping[str, Any] = raw

    def problem(self, field: str, message: str) -> None:
        """Record a problem with one key of this object."""
        self.problems.add(f"{self.key}.{field}", message)

    def ok(self, *fields: str) -> bool:
        """True when none of these keys had a problem, so a rule across them is worth checking."""
        return self.problems.ok(*(f"{self.key}.{f}" for f in fields))

    def _get(self, field: str, default: object, required: bool) -> object:
        self.known.append(field)
        value = self.raw.get(field, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.problem(field, "is required")
            return _MISSING
        return value

    def _typed(self, field: str, default: T, kind: type, label: str, required: bool = False) -> T | object:
        value = self._get(field, default, required)
        if value is _MISSING:
            return default
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            self.problem(field, f"must be {label}, got {value!r}")
            return _MISSING
        return value

    def integer(self, field: str, default: int, lo: int, hi: int, unit: str = "") -> int:
        """An integer in lo..hi."""
        value = self._typed(field, default, int, "a whole number")
        if value is _MISSING:
            return default
        assert isinstance(value, int)
        if not lo <= value <= hi:
            self.problem(field, f"must be between {lo} and {hi}{unit}, got {value}")
            return default
        return value

    def optional_integer(self, field: str, lo: int, hi: int) -> int | None:
        """An integer in lo..hi, or absent/null for 'off'."""
        if self.raw.get(field) is None:
            self.known.append(field)
            return None
        return self.integer(field, lo, lo, hi)

    def number(self, field: str, default: float, lo: float, hi: float) -> float:
        """A number (int or float) in lo..hi."""
        value = self._typed(field, default, (int, float), "a number")  # type: ignore[arg-type]
        if value is _MISSING:
            return default
        assert isinstance(value, (int, float))
        if not lo <= value <= hi:
            self.problem(field, f"must be between {lo} and {hi}, got {value}")
            return default
        return float(value)

    def boolean(self, field: str, default: bool) -> bool:
        """true or false."""
        value = self._typed(field, default, bool, "true or false")
        return default if value is _MISSING else bool(value)

    def text(
        self, field: str, default: str, pattern: str | None = None, allowed: str = "", required: bool = False
    ) -> str:
        """A string, optionally matching a regular expression described by ``allowed``."""
        value = self._typed(field, default, str, "a string", required)
        if value is _MISSING:
            return default
        assert isinstance(value, str)
        if pattern and not re.fullmatch(pattern, value):
            self.problem(field, f"must be {allowed}, got {value!r}")
            return default
        return value

    def optional_text(self, field: str, pattern: str, allowed: str) -> str | None:
        """A string matching ``pattern``, or absent/null."""
        if self.raw.get(field) is None:
            self.known.append(field)
            return None
        value = self.text(field, "", pattern, allowed)
        return value or None

    def choice(self, field: str, default: str, choices: Sequence[str]) -> str:
        """One of a fixed set of strings."""
        value = self._typed(field, default, str, f"one of {', '.join(choices)}")
        if value is _MISSING:
            return default
        if value not in choices:
            hint = _did_you_mean(str(value), choices)
            self.problem(field, f"must be one of {', '.join(choices)}, got {value!r}{hint}")
            return default
        return str(value)

    def strings(self, field: str, default: Sequence[str], check: Callable[[str], bool], allowed: str) -> list[str]:
        """A list of strings, each passing ``check``."""
        value = self._typed(field, list(default), list, "a list")
        if value is _MISSING:
            return list(default)
        assert isinstance(value, list)
        wrong = [v for v in value if not isinstance(v, str) or not check(v)]
        if wrong:
            self.problem(field, f"every entry must be {allowed}, got {wrong!r}")
            return list(default)
        return list(value)

    def finish(self) -> None:
        """Report every key nobody asked for, with the nearest known key as a hint."""
        for field in self.raw:
            if field not in self.known:
                hint = _did_you_mean(field, self.known)
                self.problem(field, f"unknown key{hint}; known keys: {', '.join(sorted(self.known))}")


def _did_you_mean(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
