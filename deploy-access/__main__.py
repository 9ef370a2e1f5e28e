"""Run once per AWS account: the roles ha-stack's GitHub workflows assume (see the README, "CI/CD").

The stack file's keys are HaDeployAccessArgs' names (`ha-stack-deploy-access:repository`, ...), read through the
component's own Spec: every problem is one line naming the key, all of them before anything is declared.
"""

import json

import pulumi
import pulumi.runtime.config as pulumi_config

from ha_stack import options
from ha_stack.deploy_access import ARGS, HaDeployAccess, check

NAME = "github"
"""The component's name: the roles are github-<stack>-deploy and github-<stack>-preview (with a stack name of at most
31 characters, well within IAM's 64 once Pulumi adds its 8)."""


def stack_file_arguments(project: str) -> dict[str, object]:
    """Every `<project>:<key>` of the stack (known or not, so a misspelt key is reported), typed as given.

    The Pulumi CLI hands every value over as text; a field declared as a string keeps its text, any other is read as
    the YAML/JSON value it was written as (`owner_id: 123` is a number, `stacks: [dev, prod]` a list).
    """
    everything = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    arguments: dict[str, object] = {}
    for key, text in everything.items():
        if not key.startswith(f"{project}:"):
            continue
        field = key.removeprefix(f"{project}:")
        declared = ARGS.fields.get(field)
        arguments[field] = text if declared is not None and declared.annotation is str else _value(text)
    return arguments


def _value(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    """Check the stack file, then declare the provider and the roles."""
    project = pulumi.get_project()
    problems = options.Problems(f"{project}:")
    args = check(stack_file_arguments(project), problems)
    if problems.lines:
        raise pulumi.RunError(
            f"invalid stack config ({len(problems.lines)} problems):\n  " + "\n  ".join(problems.lines)
        )
    args["tags"] = {"project": "ha-stack", "stack": pulumi.get_stack(), **args["tags"]}
    access = HaDeployAccess(NAME, args)
    pulumi.export("provider_arn", access.provider_arn)
    pulumi.export("deploy_role_arns", access.deploy_role_arns)
    pulumi.export("preview_role_arns", access.preview_role_arns)


main()
