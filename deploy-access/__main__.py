"""Run once per AWS account: the roles ha-stack's GitHub workflows assume (see the README, "CI/CD")."""

import pulumi

from ha_stack.deploy_access import HaDeployAccess, HaDeployAccessArgs

config = pulumi.Config()
args: HaDeployAccessArgs = {
    "repository": config.require("repository"),
    "owner_id": config.require_int("owner_id"),
    "repository_id": config.require_int("repository_id"),
    "tags": {"project": "ha-stack", "stack": pulumi.get_stack()},
}
if stacks := config.get_object("stacks"):
    args["stacks"] = stacks
if provider := config.get("existing_provider_arn"):
    args["existing_provider_arn"] = provider
try:
    access = HaDeployAccess("github", args)
except ValueError as problem:
    raise pulumi.RunError(f"invalid config: {problem}") from None

pulumi.export("provider_arn", access.provider_arn)
pulumi.export("deploy_role_arns", access.deploy_role_arns)
pulumi.export("preview_role_arns", access.preview_role_arns)
