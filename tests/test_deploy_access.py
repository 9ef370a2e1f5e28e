"""HaDeployAccess: who may assume the CI roles, and whether those roles can do what the workflows ask of them."""

import json
import re
import runpy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
import yaml

from ha_stack import options
from ha_stack.deploy_access import (
    ARGS,
    DEPLOY_SERVICES,
    PREVIEW_ACTIONS,
    HaDeployAccess,
    HaDeployAccessArgs,
    plan,
)
from stack.mock_cloud import ACCOUNT_ID, Recording, run_program
from tests.conftest import ROOT, build

REPO: HaDeployAccessArgs = {"repository": "octo-org/ha-stack", "owner_id": 123456, "repository_id": 456789}
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"

# Resource modules of pulumi-aws whose IAM service prefix differs from the module's name.
IAM_PREFIX_OF_MODULE = {
    "alb": "elasticloadbalancing",
    "lb": "elasticloadbalancing",
    "appautoscaling": "application-autoscaling",
    "arczonalshift": "arc-zonal-shift",
    "vpc": "ec2",
    "cloudwatch/logGroup": "logs",
    "cloudwatch/logMetricFilter": "logs",
    "cloudwatch/logResourcePolicy": "logs",
}


def access(**overrides: object) -> Recording:
    return build(lambda: HaDeployAccess("github", {**REPO, **overrides}))  # type: ignore[typeddict-item]


def trust(rec: Recording, role: str) -> Any:
    return json.loads(rec.named(role, "aws:iam/role:Role").inputs["assumeRolePolicy"])


def policy(rec: Recording, role: str) -> Any:
    return json.loads(rec.named(role, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])


def allowed_actions(document: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def allows(actions: set[str], action: str) -> bool:
    prefix = action.split(":", maxsplit=1)[0]
    return action in actions or f"{prefix}:*" in actions


def iam_prefix(token: str) -> str:
    """The IAM service prefix of a resource type token such as `aws:cloudwatch/logGroup:LogGroup`."""
    module, resource = token.split(":")[1].split("/")
    return IAM_PREFIX_OF_MODULE.get(f"{module}/{resource}") or IAM_PREFIX_OF_MODULE.get(module, module)


@pytest.fixture(scope="module")
def roles() -> Recording:
    return access()


def test_prod_deploys_only_from_jobs_in_the_prod_environment_of_this_repository_by_its_immutable_ids(roles):
    (statement,) = trust(roles, "github-prod-deploy")["Statement"]
    (provider,) = roles.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert statement["Principal"] == {"Federated": provider.outputs["arn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:octo-org@123456/ha-stack@456789:environment:prod",
        }
    }


def test_each_stack_has_a_deploy_and_a_preview_role_trusted_by_its_own_environment_only(roles):
    subjects = {
        r.name: json.loads(r.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ]
        for r in roles.of_type("aws:iam/role:Role")
    }
    prefix = "repo:octo-org@123456/ha-stack@456789:environment:"
    assert subjects == {
        "github-dev-deploy": prefix + "dev",
        "github-dev-preview": prefix + "dev-preview",
        "github-prod-deploy": prefix + "prod",
        "github-prod-preview": prefix + "prod-preview",
    }


def test_trust_conditions_use_exact_string_operators_only(roles):
    for role in roles.of_type("aws:iam/role:Role"):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            assert set(statement["Condition"]) <= {"StringEquals", "StringLike"}
            assert "*" not in json.dumps(statement["Condition"])


def test_the_provider_is_githubs_for_the_sts_audience_or_the_accounts_existing_one(roles):
    (provider,) = roles.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    reused = access(existing_provider_arn=PROVIDER_ARN)
    assert reused.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert trust(reused, "github-prod-deploy")["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}


def test_no_role_is_an_administrator_and_iam_reaches_only_roles_and_passes_them_only_to_the_stacks_services(roles):
    document = policy(roles, "github-prod-deploy")
    actions = allowed_actions(document)
    assert "*" not in actions
    assert "iam:*" not in actions
    assert not {"ssm:SendCommand", "ssm:StartSession", "secretsmanager:*", "kms:*", "sts:AssumeRole"} & actions
    (passing,) = [s for s in document["Statement"] if s["Action"] == "iam:PassRole"]
    assert "ec2.amazonaws.com" in passing["Condition"]["StringEquals"]["iam:PassedToService"]


@pytest.fixture(scope="module")
def stacks(dev: Recording, prod_pair: Recording) -> dict[str, Recording]:
    """Both stacks as their stack files define them, prod's standby region included (built once per session)."""
    return {"dev": dev, "prod": prod_pair}


def test_the_deploy_role_may_manage_every_resource_type_both_stacks_declare(roles, stacks):
    actions = allowed_actions(policy(roles, "github-prod-deploy"))
    granted = {a.split(":")[0] for a in actions}
    types = {r.typ for rec in stacks.values() for r in rec.resources if r.typ.startswith("aws:")}
    missing = sorted(t for t in types if not t.startswith("aws:index/") and iam_prefix(t) not in granted)
    assert missing == [], "add the service to DEPLOY_SERVICES in ha_stack/deploy_access.py"
    assert set(DEPLOY_SERVICES) == granted


def test_the_preview_role_may_make_every_lookup_the_program_makes_and_nothing_else(roles, stacks):
    invokes = set().union(*(rec.invokes for rec in stacks.values()))
    assert invokes
    unknown = sorted(invokes - set(PREVIEW_ACTIONS))
    assert unknown == [], "add the invoke's IAM actions to PREVIEW_ACTIONS in ha_stack/deploy_access.py"
    actions = allowed_actions(policy(roles, "github-prod-preview"))
    needed = {a for token in invokes for a in PREVIEW_ACTIONS[token]}
    assert all(allows(actions, a) for a in needed)
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"repository": "no-slash"},
            "HaDeployAccess.repository: must be owner/name as GitHub spells it, got 'no-slash'",
        ),
        ({"owner_id": "123"}, "HaDeployAccess.owner_id: must be a whole number, got '123'"),
        ({"repository_id": 0}, "HaDeployAccess.repository_id: must be GitHub's positive numeric id, got 0"),
        ({"stacks": []}, "HaDeployAccess.stacks: must be a non-empty list of stack names, got []"),
        (
            {"stacks": ["Prod"]},
            "HaDeployAccess.stacks: each must be a lower-case name such as prod (at most 31 characters), got 'Prod'",
        ),
        ({"stacks": ["dev", "dev"]}, "HaDeployAccess.stacks: must not repeat a stack, got ['dev', 'dev']"),
        ({"max_session_seconds": 60}, "HaDeployAccess.max_session_seconds: must be from 3600 to 43200 seconds, got 60"),
    ],
)
def test_bad_arguments_get_one_clear_line_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        plan({**REPO, **overrides})


def run_deploy_access_program(config: dict[str, object]) -> Recording:
    """deploy-access/__main__.py as `pulumi up` runs it, with its example stack file's config."""
    return run_program(
        lambda: runpy.run_path(str(ROOT / "deploy-access" / "__main__.py")),
        stack="main-account",
        config=config,
        project="ha-stack-deploy-access",
    )


def example_config() -> dict[str, object]:
    return dict(yaml.safe_load((ROOT / "deploy-access" / "Pulumi.example.yaml").read_text())["config"])


def test_the_once_per_account_program_builds_the_roles_from_its_example_stack_file():
    rec = run_deploy_access_program(example_config())
    assert sorted(r.name for r in rec.of_type("aws:iam/role:Role")) == [
        "github-dev-deploy",
        "github-dev-preview",
        "github-prod-deploy",
        "github-prod-preview",
    ]
    assert set(rec.exports) == {"provider_arn", "deploy_role_arns", "preview_role_arns"}
    assert set(rec.exports["deploy_role_arns"]) == {"dev", "prod"}


def test_the_program_turns_a_bad_config_into_one_line_per_key_not_a_traceback():
    config = {
        **example_config(),
        "ha-stack-deploy-access:repository_id": "-4",
        "ha-stack-deploy-access:owner_id": "octo",
        "ha-stack-deploy-access:stack": '["dev"]',
        "ha-stack-deploy-access:repository": "x" * 10_000,
    }
    with pytest.raises(Exception, match="invalid stack config") as raised:
        run_deploy_access_program(config)
    lines = str(raised.value).split("\n")[1:]
    assert [line.strip() for line in lines] == [
        "ha-stack-deploy-access:stack: unknown argument (did you mean 'stacks'?); known: existing_provider_arn, "
        "max_session_seconds, owner_id, repository, repository_id, stacks, tags",
        f"ha-stack-deploy-access:repository: must be owner/name as GitHub spells it, got {options.shown('x' * 10_000)}",
        "ha-stack-deploy-access:owner_id: must be a whole number, got 'octo'",
        "ha-stack-deploy-access:repository_id: must be GitHub's positive numeric id, got -4",
    ]


def test_the_programs_stack_file_keys_are_the_components_argument_names():
    keys = {k.removeprefix("ha-stack-deploy-access:") for k in example_config() if k.startswith("ha-stack-deploy")}
    assert keys <= set(ARGS.fields)
    config = {**example_config(), "ha-stack-deploy-access:max_session_seconds": "3600"}
    config["ha-stack-deploy-access:tags"] = '{"team": "platform"}'
    rec = run_deploy_access_program(config)
    role = rec.named("github-prod-deploy", "aws:iam/role:Role")
    assert role.inputs["maxSessionDuration"] == 3600
    assert role.inputs["tags"]["team"] == "platform"
    assert role.inputs["tags"]["stack"] == "main-account"


# Every class of bad input through the component on its own: one line naming the argument, nothing declared.


def refused(given: Mapping[str, Any], name: str = "github") -> tuple[list[str], Recording]:
    """The problem lines of HaDeployAccess(name, given) and what the program declared before refusing."""
    caught: list[options.ArgsError] = []

    def program() -> None:
        made = {k: pulumi.Output.from_input(v.value) if isinstance(v, AnOutput) else v for k, v in given.items()}
        try:
            HaDeployAccess(name, made)  # type: ignore[arg-type]
        except options.ArgsError as err:
            caught.append(err)

    rec = build(program)
    assert caught, "the arguments were accepted"
    return caught[0].problems, rec


@dataclass(frozen=True)
class AnOutput:
    """Stands for pulumi.Output.from_input(value), made inside the program (an Output needs the running engine)."""

    value: Any


LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        ({"owner_id": True}, "HaDeployAccess.owner_id: must be a whole number, got True"),
        ({"repository_id": None}, "HaDeployAccess.repository_id: must be a whole number, got None"),
        ({"stacks": "prod"}, "HaDeployAccess.stacks: must be a list of strings, got 'prod'"),
        (
            {"stacks": AnOutput(["prod"])},
            "HaDeployAccess.stacks: must be a plain value known before deploy, not an Output: it decides what is "
            "declared",
        ),
        (
            {"repository": AnOutput("octo-org/ha-stack")},
            "HaDeployAccess.repository: must be a plain value known before deploy, not an Output",
        ),
        ({"stacks": [LONG]}, "HaDeployAccess.stacks: each must be a lower-case name such as prod (at most 31 "),
        (
            {"repository": LONG},
            f"HaDeployAccess.repository: must be owner/name as GitHub spells it, got {options.shown(LONG)}",
        ),
        ({"repository": "octo/" + "r" * 101}, "HaDeployAccess.repository: must be owner/name as GitHub spells it"),
        (
            {"existing_provider_arn": "arn:aws:iam::123456789012:oidc-provider/accounts.google.com"},
            "HaDeployAccess.existing_provider_arn: must be the ARN of the account's "
            "token.actions.githubusercontent.com OIDC provider",
        ),
        ({"tags": {1: "x"}}, "HaDeployAccess.tags: must be an object of strings, got {1: 'x'}"),
        ({"max_session_seconds": 43201}, "HaDeployAccess.max_session_seconds: must be from 3600 to 43200 seconds"),
        ({"stack": ["prod"]}, "HaDeployAccess.stack: unknown argument (did you mean 'stacks'?)"),
    ],
)
def test_each_class_of_bad_input_is_one_line_naming_the_argument_and_nothing_is_declared(bad, line):
    problems, rec = refused({**REPO, **bad})
    assert [p for p in problems if p.startswith(line)] != [], problems
    assert all(len(p) < 300 for p in problems)
    assert [r.name for r in rec.resources if r.custom] == []


def test_a_name_that_makes_a_role_name_longer_than_iam_allows_is_refused_before_anything_is_declared():
    """IAM CreateRole RoleName takes at most 64 characters; Pulumi adds 8 to `<name>-<stack>-preview`."""
    (line,), rec = refused(REPO, name="g" * 44)
    assert line.startswith("HaDeployAccess.name: must be at most 43 characters: the IAM role Pulumi names")
    assert [r.name for r in rec.resources if r.custom] == []
    built = build(lambda: HaDeployAccess("g" * 43, REPO))
    assert max(len(r.id) for r in built.of_type("aws:iam/role:Role")) == 64


def test_every_bad_argument_is_reported_in_one_error():
    problems, rec = refused(
        {"repository": "no-slash", "owner_id": 0, "stacks": ["dev", "dev"], "max_session_seconds": 60, "tag": {}}
    )
    assert [p.split(":")[0] for p in problems] == [
        "HaDeployAccess.tag",
        "HaDeployAccess.repository",
        "HaDeployAccess.owner_id",
        "HaDeployAccess.repository_id",
        "HaDeployAccess.stacks",
        "HaDeployAccess.max_session_seconds",
    ]
    assert [r.name for r in rec.resources if r.custom] == []
