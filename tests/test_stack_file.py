"""Every class of bad stack file a new user writes gets one clear line, through the offline preview (`python -m
stack.preview <stack>` reading a real file) and through `parse_settings`; nothing is declared, nothing is echoed at
unbounded length, no traceback."""

import contextlib
import io
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from stack import preview
from stack.settings import SettingsError, parse_settings
from tests.conftest import ROOT, run_stack, stack_config

LONGEST_LINE = 400
"""No problem line is longer than this, whatever the input (a value is shown cut)."""
LONG = "x" * 10_000


def preview_problems(root: Path, stack: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lines `python -m stack.preview <stack>` prints for Pulumi.<stack>.yaml under root, after checking it exits
    1, prints nothing on stdout and no traceback."""
    monkeypatch.setattr(preview, "ROOT", root)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert preview.main([stack]) == 1
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"invalid stack config in Pulumi.{stack}.yaml (")
    assert "Traceback" not in err.getvalue()
    assert all(len(line) <= LONGEST_LINE for line in lines), max(lines, key=len)
    return [line.strip() for line in lines[1:]]


def written(config: dict[Any, Any]) -> str:
    """A stack file holding this config."""
    return yaml.safe_dump({"config": config}, sort_keys=False, width=100_000)


PROD = stack_config("prod")

# (row id, the stack file's text, the exact line expected): what YAML itself refuses, or the file's shape.
FILE_ROWS: list[tuple[str, str | bytes, str]] = [
    (
        "yaml-syntax",
        "config:\n  aws:region: [us-east-1\n  ha-stack:environment: prod\n",
        "Pulumi.t.yaml line 3, column 23: while parsing a flow sequence expected ',' or ']', but got ':'",
    ),
    (
        "tab",
        "config:\n  ha-stack:fleet:\n\tmin_size: 2\n",
        "Pulumi.t.yaml line 3, column 1: while scanning for the next token found character '\\t' that cannot start "
        "any token (YAML indents with spaces, never tabs)",
    ),
    (
        "not-utf8",
        b"config:\n  ha-stack:domain: caf\xe9.example.com\n",
        "Pulumi.t.yaml line 2: not UTF-8 text (byte 0xe9)",
    ),
    (
        "duplicate-key",
        "config:\n  ha-stack:environment: prod\n  ha-stack:fleet:\n    min_size: 3\n    min_size: 2\n",
        "Pulumi.t.yaml line 5, column 5: the key 'min_size' is given twice (lines 4 and 5); YAML keeps only one of "
        "them: remove the other",
    ),
    (
        "duplicate-tier",
        "config:\n  ha-stack:web: {}\n  ha-stack:environment: dev\n  ha-stack:web: {}\n",
        "Pulumi.t.yaml line 4, column 3: the key 'ha-stack:web' is given twice (lines 2 and 4)",
    ),
    (
        "config-a-list",
        "config:\n  - ha-stack:environment: prod\n",
        "Pulumi.t.yaml config: must be a mapping of keys such as ha-stack:environment, got [{'ha-stack:environment': "
        "'prod'}]",
    ),
    ("config-a-string", "config: prod\n", "Pulumi.t.yaml config: must be a mapping of keys such as"),
    ("file-a-list", "- config\n", "Pulumi.t.yaml: must be a mapping with a config: key, got ['config']"),
]


@pytest.mark.parametrize(("text", "expected"), [r[1:] for r in FILE_ROWS], ids=[r[0] for r in FILE_ROWS])
def test_a_stack_file_yaml_refuses_is_one_line_naming_where(text, expected, tmp_path, monkeypatch):
    path = tmp_path / "Pulumi.t.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    (line,) = preview_problems(tmp_path, "t", monkeypatch)
    assert line.startswith(expected), line


def _with(**changes: Any) -> dict[Any, Any]:
    """Prod's config with keys set (a value of None removes the key)."""
    config: dict[Any, Any] = {**PROD}
    for key, value in changes.items():
        config.pop(key, None)
        if value is not None:
            config[key] = value
    return config


def _without(tier: str, field: str) -> dict[Any, Any]:
    """Prod's config with one field of a tier left out (so its default applies)."""
    return _with(**{f"ha-stack:{tier}": {k: v for k, v in PROD[f"ha-stack:{tier}"].items() if k != field}})


# (row id, stack name, config, a line expected among the problems): one class of the issue each.
CONFIG_ROWS: list[tuple[str, str, dict[Any, Any], str]] = [
    ("key-not-a-string", "t", {**PROD, 1: 2}, "config key 1: keys are strings such as ha-stack:environment"),
    ("key-null", "t", {**PROD, None: 3}, "config key None: keys are strings such as ha-stack:environment"),
    (
        "namespace-underscore",
        "t",
        {**PROD, "ha_stack:web": {"instance_type": "t3.large"}},
        "ha_stack:web: unknown namespace 'ha_stack' (did you mean ha-stack:web?); this program reads only "
        "ha-stack:* keys, so this one would be ignored",
    ),
    (
        "namespace-squashed",
        "t",
        {**PROD, "hastack:web": {}},
        "hastack:web: unknown namespace 'hastack' (did you mean ha-stack:web?)",
    ),
    ("no-namespace", "t", {**PROD, "web": {}}, "web: config keys are namespaced: write ha-stack:web"),
    (
        "unknown-tier",
        "t",
        {**PROD, "ha-stack:webb": {}},
        "ha-stack:webb: unknown key (did you mean 'web'?); known keys: environment, az_count, domain, hosted_zone, "
        "enable_edge, peak_requests_per_second, dr, network, web, fleet, database, cache, service, edge, monitoring, "
        "resilience",
    ),
    (
        "old-tier-key",
        "t",
        _with(**{"ha-stack:network": {**PROD["ha-stack:network"], "cidr": "10.0.0.0/16"}}),
        'ha-stack:network.cidr: is now ha-stack:network.cidr_block (README: "Moving an existing stack file")',
    ),
    (
        "region-made-up",
        "t",
        _with(**{"aws:region": "mars-west-1"}),
        "aws:region: must be a region of AWS's standard partition (cfn-lint's AWS catalogue) (the edge makes its "
        "certificate and WAF in us-east-1 of that partition), got 'mars-west-1'",
    ),
    (
        "region-china",
        "t",
        _with(**{"aws:region": "cn-north-1"}),
        "aws:region: must be a region of AWS's standard partition (cfn-lint's AWS catalogue) (the edge makes its "
        "certificate and WAF in us-east-1 of that partition), got 'cn-north-1'",
    ),
    ("region-govcloud", "t", _with(**{"aws:region": "us-gov-west-1"}), "aws:region: must be a region of AWS's"),
    (
        "stack-name-dot",
        "my.stack",
        PROD,
        "stack name 'my.stack': must be letters and digits, joined by single - or _ (no dots): it names CloudTrail "
        "trail 'ha-stack-my.stack-audit', CloudWatch dashboard 'ha-stack-my.stack-overview'",
    ),
    (
        "stack-name-too-long",
        "s" * 114,
        PROD,
        f"stack name '{'s' * 59}... (116 characters): must be at most 113 characters (114 given)",
    ),
    (
        "value-10000-characters",
        "t",
        _with(**{"ha-stack:domain": LONG}),
        f"ha-stack:domain: must be a lower-case DNS name such as shop.example.com, got '{'x' * 59}... (10002 "
        "characters)",
    ),
    (
        "key-10000-characters",
        "t",
        _with(**{"ha-stack:fleet": {**PROD["ha-stack:fleet"], LONG: 1}}),
        f"ha-stack:fleet.{'x' * 60}...: unknown argument (a 10000-character name)",
    ),
    (
        "tier-not-an-object",
        "t",
        _with(**{"ha-stack:web": "big"}),
        "ha-stack:web: must be an object of HaWebTier's arguments, got 'big'",
    ),
    (
        "wired-field-given",
        "t",
        _with(**{"ha-stack:web": {**PROD["ha-stack:web"], "vpc_id": "vpc-1"}}),
        "ha-stack:web.vpc_id: is set by the stack from the other tiers, not in the stack file",
    ),
    (
        "prod-rule-on-a-default",
        "prod",
        _without("monitoring", "alarm_emails"),
        "ha-stack:monitoring.alarm_emails: prod needs at least one address, got [] (the default; set it in "
        "Pulumi.prod.yaml)",
    ),
    (
        "prod-rule-on-a-written-value",
        "prod",
        _with(**{"ha-stack:monitoring": {**PROD["ha-stack:monitoring"], "alarm_emails": []}}),
        "ha-stack:monitoring.alarm_emails: prod needs at least one address, got []",
    ),
]


def _line_in(expected: str, problems: list[str]) -> bool:
    return any(line.startswith(expected) for line in problems)


@pytest.mark.parametrize(("stack", "config", "expected"), [r[1:] for r in CONFIG_ROWS], ids=[r[0] for r in CONFIG_ROWS])
def test_each_class_is_one_line_through_parse_settings(stack, config, expected):
    with pytest.raises(SettingsError) as err:
        parse_settings(config, stack=stack)
    assert _line_in(expected, err.value.problems), err.value.problems
    assert all(len(line) <= LONGEST_LINE for line in err.value.problems)


@pytest.mark.parametrize(
    ("stack", "config", "expected"),
    [r[1:] for r in CONFIG_ROWS if r[1] != "s" * 114],  # a file name that long is refused by the file system itself
    ids=[r[0] for r in CONFIG_ROWS if r[1] != "s" * 114],
)
def test_each_class_is_one_line_through_the_preview_of_a_stack_file(stack, config, expected, tmp_path, monkeypatch):
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(written(config))  # `1: 2` and `null: 3` as a user writes them
    assert _line_in(expected, preview_problems(tmp_path, stack, monkeypatch))


def test_the_too_long_stack_name_says_the_limit_it_computed():
    with pytest.raises(SettingsError) as err:
        parse_settings(PROD, stack="s" * 114)
    assert err.value.problems == [
        f"stack name '{'s' * 59}... (116 characters): must be at most 113 characters (114 given): "
        "ha-stack-<stack>-audit names the CloudTrail trail, which AWS limits to 128"
    ]
    parse_settings(PROD, stack="s" * 113)


def test_other_providers_namespaces_stay_allowed():
    parse_settings({**PROD, "aws:profile": "ops", "aws:skipCredentialsValidation": "true", "random:x": 1}, stack="t")


def test_every_problem_of_every_tier_and_the_stack_level_at_once():
    config = stack_config(
        "prod",
        az_count=7,
        network={"nat_gateways": "two"},
        fleet={"min_size": 5, "max_size": 4},
        service={"product_ttl_seconds": 0},
    )
    with pytest.raises(SettingsError) as err:
        parse_settings({**config, "ha_stack:cache": {}}, stack="prod")
    assert err.value.problems[0].startswith("ha_stack:cache: unknown namespace 'ha_stack'")
    assert err.value.problems[1:] == [
        "ha-stack:az_count: must be from 2 to 6, got 7",
        "ha-stack:network.nat_gateways: must be one of none, single, one_per_az, got 'two'",
        "ha-stack:fleet.min_size: must be <= max_size (4), got 5",
        "ha-stack:service.product_ttl_seconds: must be from 1 to 86400 seconds, got 0",
    ]


@pytest.fixture
def stack_file_in_the_repository():
    """Write Pulumi.<name>.yaml beside the real program (the preview evaluates __main__.py from there)."""
    made: list[Path] = []

    def write(name: str, config: dict[str, Any]) -> str:
        path = ROOT / f"Pulumi.{name}.yaml"
        path.write_text(written(config))
        made.append(path)
        return name

    yield write
    for path in made:
        path.unlink()


def test_more_azs_than_the_region_has_is_one_line_under_the_preview(stack_file_in_the_repository, capsys):
    config = stack_config("dev", az_count=4, enable_edge=False)
    config["aws:region"] = "us-east-2"  # three zones
    stack = stack_file_in_the_repository("azs-test", config)
    assert preview.main([stack]) == 1
    captured = capsys.readouterr()
    expected = (
        "ha-stack:az_count: must be at most the 3 zones of us-east-2 offering web.instance_type t3.micro and "
        "database.instance_class db.t4g.micro (us-east-2a, us-east-2b, us-east-2c), got 4"
    )
    assert (captured.out, captured.err.splitlines()) == ("", [expected])


def test_more_azs_than_the_region_has_is_a_run_error_line_before_any_resource():
    config = stack_config("dev", az_count=4, enable_edge=False)
    config["aws:region"] = "us-east-2"
    with pytest.raises(pulumi.RunError, match=r"^ha-stack:az_count: must be at most the 3 zones of us-east-2"):
        run_stack("dev", config)
