"""Reading a `Pulumi.<stack>.yaml` file into its `config:` mapping, with a line (not a traceback) for a file that is
not UTF-8, is not YAML, indents with a tab, repeats a key, or has a `config:` that is not a mapping.

The Pulumi CLI reads the same file (Go's yaml.v3, which refuses a repeated key), so the offline preview refuses what
`pulumi up` would refuse, and reads dates as the text the CLI hands the program.
"""

from pathlib import Path
from typing import Any

import yaml

from ha_stack.options import ArgsError, shown

MESSAGE_CHARACTERS = 200
"""YAML's own message is cut here: it quotes the text it stopped at, which may be long."""


class _StackFileLoader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated key (naming both lines) and keeps dates as text (as the CLI passes them)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {shown(key)} is given twice (lines {first[key]} and {line}); YAML keeps only one "
                        "of them: remove the other",
                        key_node.start_mark,
                    )
                first[key] = line
            except TypeError:  # an unhashable key (a list or a mapping): SafeLoader names it below
                pass
        return super().construct_mapping(node, deep=deep)


_StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_config(path: Path) -> dict[object, object]:
    """The `config:` mapping of a stack file; ArgsError with one line per problem of the file itself."""
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ArgsError(
            [f"{name} line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"]
        ) from None
    try:
        document = yaml.load(text, Loader=_StackFileLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        raise ArgsError([_yaml_problem(name, err)]) from None
    except yaml.YAMLError as err:
        raise ArgsError([f"{name}: not valid YAML: {shown(str(err))}"]) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ArgsError([f"{name}: must be a mapping with a config: key, got {shown(document)}"])
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ArgsError([f"{name} config: must be a mapping of keys such as ha-stack:environment, got {shown(config)}"])
    return config


def _yaml_problem(name: str, err: yaml.MarkedYAMLError) -> str:
    """'<file> line L, column C: <what YAML says>', with the fix for a tab."""
    mark = err.problem_mark or err.context_mark
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = " ".join(part for part in (err.context, err.problem) if part) or "not valid YAML"
    if "\\t" in what or "\t" in what:
        what += " (YAML indents with spaces, never tabs)"
    return f"{name}{where}: {what if len(what) <= MESSAGE_CHARACTERS else what[:MESSAGE_CHARACTERS] + '...'}"
