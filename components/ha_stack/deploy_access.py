"""HaDeployAccess: GitHub Actions reaches AWS through OpenID Connect, one role per stack and purpose, no stored keys.

Each stack (dev, prod, ...) gets two roles. Its *deploy* role may run `pulumi up` of the ha-stack program and is
trusted only by jobs that run in the GitHub environment named after the stack, so a prod deploy waits for the prod
environment's required reviewers before AWS hands out a credential. Its *preview* role is trusted by jobs in the
environment `<stack>-preview` and may only make the read calls a `pulumi preview` of the program makes.

The trust policies match GitHub's immutable subject claims, where the owner and the repository carry their numeric
ids (`repo:octo@123/ha-stack@456:environment:prod`): the default for repositories created or renamed since
2026-07-15, and opt-in for older ones. A renamed or re-registered name can then never assume these roles.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.iam import Statement, policy_document
from ha_stack.naming import IAM_ROLE, NameRule, check_derived_names, component_tags, type_token

COMPONENT = "HaDeployAccess"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
"""GitHub's OIDC issuer host: the provider's URL and the prefix of its condition keys."""
AUDIENCE = "sts.amazonaws.com"
"""The audience aws-actions/configure-aws-credentials asks GitHub for."""

_REPOSITORY = r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}"
_ENVIRONMENT = r"[a-z][a-z0-9-]{0,30}"
_PROVIDER_ARN = r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/" + re.escape(GITHUB_ISSUER)

DEPLOY_SERVICES: dict[str, tuple[str, ...]] = {
    "acm": ("acm:*",),
    "application-autoscaling": ("application-autoscaling:*",),
    "autoscaling": ("autoscaling:*",),
    # AWS Backup (the dr pair's vaults, plan and selection); creating a vault also needs backup-storage:MountCapsule
    # (AWS Backup developer guide, "Backup vault creation and deletion" permissions; AWSBackupFullAccess grants it).
    "backup": ("backup:*",),
    "backup-storage": ("backup-storage:MountCapsule",),
    "cloudfront": ("cloudfront:*",),
    "cloudtrail": ("cloudtrail:*",),
    "cloudwatch": ("cloudwatch:*",),
    "ec2": ("ec2:*",),
    "elasticache": ("elasticache:*",),
    "fis": (
        "fis:CreateExperimentTemplate",
        "fis:GetExperimentTemplate",
        "fis:UpdateExperimentTemplate",
        "fis:DeleteExperimentTemplate",
        "fis:ListExperimentTemplates",
        "fis:TagResource",
        "fis:UntagResource",
        "fis:ListTagsForResource",
    ),
    "arc-zonal-shift": ("arc-zonal-shift:*",),
    "elasticloadbalancing": ("elasticloadbalancing:*",),
    "logs": ("logs:*",),
    "lambda": (
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:ListVersionsByFunction",
        "lambda:PublishVersion",
        "lambda:CreateFunctionUrlConfig",
        "lambda:GetFunctionUrlConfig",
        "lambda:UpdateFunctionUrlConfig",
        "lambda:DeleteFunctionUrlConfig",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:GetPolicy",
        "lambda:ListTags",
        "lambda:TagResource",
        "lambda:UntagResource",
    ),
    "rds": ("rds:*",),
    "route53": ("route53:*",),
    "s3": ("s3:*",),
    "sns": ("sns:*",),
    "wafv2": ("wafv2:*",),
    "kms": (
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:DeleteAlias",
        "kms:UpdateAlias",
        "kms:DescribeKey",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:PutKeyPolicy",
        "kms:ListAliases",
        "kms:ListResourceTags",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
        "kms:CreateGrant",
        "kms:GenerateDataKey*",
        "kms:Decrypt",
        "kms:Encrypt",
    ),
    "secretsmanager": (
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:RotateSecret",
        "secretsmanager:CancelRotateSecret",
    ),
    "ssm": (
        "ssm:PutParameter",
        "ssm:DeleteParameter",
        "ssm:DeleteParameters",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:DescribeParameters",
        "ssm:AddTagsToResource",
        "ssm:RemoveTagsFromResource",
        "ssm:ListTagsForResource",
    ),
    "iam": (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:CreateInstanceProfile",
        "iam:DeleteInstanceProfile",
        "iam:GetInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
    ),
    "sts": ("sts:GetCallerIdentity",),
}
"""What `pulumi up` of the ha-stack program may call, per IAM service prefix.

Whole services where the program creates, tags, updates and deletes many resource types of that service and the
provider calls dozens of Describe/Modify actions for them: an exact list could not be proven complete without a real
deploy. Narrow lists where a whole service would reach data or hosts the stack does not own: Secrets Manager and
Parameter Store (no reading of other applications' secrets in bulk, no `ssm:SendCommand` shell on instances), Lambda
(no invoking of other functions), FIS (templates only: starting an experiment is the drill runner's job), KMS
(no key administration beyond what the stack's own keys need), IAM (roles and instance profiles only; see
`PASSED_TO_SERVICES`), STS (identity only). `tests/test_deploy_access.py` checks that every resource type both stacks
declare falls under one of these prefixes.
"""

PASSED_TO_SERVICES = (
    "ec2.amazonaws.com",
    "monitoring.rds.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "delivery.logs.amazonaws.com",
    "application-autoscaling.amazonaws.com",
    "lambda.amazonaws.com",
    "fis.amazonaws.com",
    "backup.amazonaws.com",
    "s3.amazonaws.com",
)
"""The services the stack's roles are handed to (iam:PassRole is refused for any other)."""

LINKED_ROLE_SERVICES = (
    "autoscaling.amazonaws.com",
    "elasticache.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
    "rds.application-autoscaling.amazonaws.com",
)
"""Service-linked roles a first deploy in a fresh account makes AWS create."""

PREVIEW_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": ("ec2:DescribeAvailabilityZones",),
    "aws:index/getRegion:getRegion": ("ec2:DescribeRegions",),
    "aws:index/getCallerIdentity:getCallerIdentity": ("sts:GetCallerIdentity",),
    "aws:index/getPartition:getPartition": (),
    "aws:ssm/getParameter:getParameter": ("ssm:GetParameter",),
    "aws:elb/getServiceAccount:getServiceAccount": (),
    "aws:route53/getZone:getZone": (
        "route53:ListHostedZones",
        "route53:ListHostedZonesByName",
        "route53:GetHostedZone",
        "route53:ListTagsForResource",
    ),
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": (
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
    ),
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": ("ec2:DescribeInstanceTypeOfferings",),
    "aws:rds/getOrderableDbInstance:getOrderableDbInstance": ("rds:DescribeOrderableDBInstanceOptions",),
    "aws:ec2/getAmi:getAmi": ("ec2:DescribeImages",),
}
"""The IAM actions behind each invoke (data source) the program can make: all a preview needs from AWS.

A preview computes diffs in the provider without calling AWS; only invokes reach it. Local answers (partition, the
static ELB account table) need no action. `tests/test_deploy_access.py` fails when the program makes an invoke that
is not listed here, so the preview role cannot fall behind the program.
"""


class HaDeployAccessArgs(TypedDict):
    """Inputs for HaDeployAccess (defaults and checks: ARGS)."""

    repository: str
    """The GitHub repository, `owner/name`, whose workflows may assume the roles."""
    owner_id: int
    """The owner's immutable numeric id (`gh api repos/OWNER/NAME --jq .owner.id`)."""
    repository_id: int
    """The repository's immutable numeric id (`gh api repos/OWNER/NAME --jq .id`)."""
    stacks: NotRequired[list[str]]
    """Stacks (and so GitHub environments `<stack>` and `<stack>-preview`) to create roles for: lower-case names."""
    existing_provider_arn: NotRequired[pulumi.Input[str]]
    """ARN of the account's GitHub OIDC provider when one exists already (an account holds one per URL)."""
    max_session_seconds: NotRequired[int]
    """Longest credential a role hands out, in seconds (IAM allows 3,600 to 43,200): a long `pulumi up` fits."""
    tags: NotRequired[Mapping[str, str]]
    """Tags for every taggable child."""


def _positive_id(value: int) -> str | None:
    return None if value > 0 else f"must be GitHub's positive numeric id, got {options.shown(value)}"


def _stacks(stacks: list[str]) -> str | None:
    """At least one stack, each a short lower-case name (it names roles and GitHub environments), none twice."""
    if not stacks:
        return "must be a non-empty list of stack names, got []"
    for stack in stacks:
        if not re.fullmatch(_ENVIRONMENT, stack):
            return f"each must be a lower-case name such as prod (at most 31 characters), got {options.shown(stack)}"
    if len(set(stacks)) != len(stacks):
        return f"must not repeat a stack, got {options.shown(stacks)}"
    return None


ARGS = options.Spec(
    COMPONENT,
    HaDeployAccessArgs,
    repository=options.Arg(check=options.matches(_REPOSITORY, "owner/name as GitHub spells it")),
    owner_id=options.Arg(check=_positive_id),
    repository_id=options.Arg(check=_positive_id),
    stacks=options.Arg(["dev", "prod"], _stacks),
    existing_provider_arn=options.Arg(
        check=options.matches(_PROVIDER_ARN, f"the ARN of the account's {GITHUB_ISSUER} OIDC provider")
    ),
    max_session_seconds=options.Arg(7200, options.between(3600, 43200, " seconds")),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaDeployAccessArgs:
    """Every argument, all problems recorded (a program reading its stack file passes its own prefix)."""
    return ARGS.read(given, problems, skip=skip)


def role_names(stacks: list[str]) -> dict[str, NameRule]:
    """Each role's logical-name suffix (`<stack>-deploy`, `<stack>-preview`) and the rule of its physical name."""
    return {f"{stack}-{purpose}": IAM_ROLE for stack in stacks for purpose in ("deploy", "preview")}


@dataclass(frozen=True)
class DeployAccessPlan:
    """The checked arguments (defaults applied) and what is derived from them."""

    args: HaDeployAccessArgs

    def subject(self, environment: str) -> str:
        """The `sub` claim of a job that runs in this GitHub environment (immutable-id format)."""
        owner, name = self.args["repository"].split("/")
        return f"repo:{owner}@{self.args['owner_id']}/{name}@{self.args['repository_id']}:environment:{environment}"


def plan(args: HaDeployAccessArgs, name: str | None = None) -> DeployAccessPlan:
    """Defaults and checks before any resource exists, every problem in one ArgsError; with the component's `name`,
    also the role names Pulumi derives from it (IAM CreateRole RoleName: at most 64 characters)."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    stacks = checked.get("stacks")
    if name is not None and stacks is not None:
        check_derived_names(name, role_names(stacks), problems)
    problems.raise_any()
    return DeployAccessPlan(checked)


def trust_policy(provider_arn: str, subject: str) -> str:
    """Only GitHub tokens for AWS, and only for this repository's jobs in one environment, exact matches."""
    return policy_document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{GITHUB_ISSUER}:aud": AUDIENCE, f"{GITHUB_ISSUER}:sub": subject},
            },
        }
    )


def deploy_policy(account_id: str) -> str:
    """What `pulumi up` of the stack may do (see DEPLOY_SERVICES and PASSED_TO_SERVICES)."""
    iam_resources = [f"arn:aws:iam::{account_id}:role/*", f"arn:aws:iam::{account_id}:instance-profile/*"]
    statements: list[Statement] = [
        {"Sid": "ManageStackServices", "Effect": "Allow", "Resource": "*", "Action": sorted(_non_iam_actions())},
        {
            "Sid": "ManageStackRoles",
            "Effect": "Allow",
            "Resource": iam_resources,
            "Action": list(DEPLOY_SERVICES["iam"]),
        },
        {
            "Sid": "PassStackRolesToTheirServices",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{account_id}:role/*",
            "Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}},
        },
        {
            "Sid": "CreateServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:aws:iam::{account_id}:role/aws-service-role/*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(LINKED_ROLE_SERVICES)}},
        },
    ]
    return policy_document(*statements)


def _non_iam_actions() -> set[str]:
    return {action for prefix, actions in DEPLOY_SERVICES.items() if prefix != "iam" for action in actions}


def preview_policy() -> str:
    """The read calls a `pulumi preview` makes (see PREVIEW_ACTIONS); public AMI parameters only for SSM."""
    actions = {a for acts in PREVIEW_ACTIONS.values() for a in acts if not a.startswith("ssm:")}
    return policy_document(
        {"Sid": "PreviewLookups", "Effect": "Allow", "Resource": "*", "Action": sorted(actions)},
        {
            "Sid": "PublicAmiParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": "arn:aws:ssm:*::parameter/aws/service/*",
        },
    )


class HaDeployAccess(pulumi.ComponentResource):
    """GitHub's OIDC provider (or the account's existing one) and a deploy and a preview role per stack."""

    provider_arn: pulumi.Output[str]
    """ARN of the GitHub OIDC provider the roles trust."""
    deploy_role_arns: pulumi.Output[dict[str, str]]
    """Stack -> role that `pulumi up` assumes (GitHub environment `<stack>`)."""
    preview_role_arns: pulumi.Output[dict[str, str]]
    """Stack -> role that `pulumi preview` assumes (GitHub environment `<stack>-preview`)."""

    def __init__(self, name: str, args: HaDeployAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args, name)
        child = pulumi.ResourceOptions(parent=self)
        tags = p.args["tags"]
        existing = p.args.get("existing_provider_arn")
        if existing is not None:
            provider_arn = pulumi.Output.from_input(existing)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github",
                url=f"https://{GITHUB_ISSUER}",
                client_id_lists=[AUDIENCE],
                tags=component_tags(COMPONENT, tags, name=f"{name}-github"),
                opts=child,
            )
            provider_arn = provider.arn
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        deploy: dict[str, pulumi.Output[str]] = {}
        preview: dict[str, pulumi.Output[str]] = {}
        for stack in p.args["stacks"]:
            deploy[stack] = _role(
                f"{name}-{stack}-deploy",
                provider_arn,
                p.subject(stack),
                account_id.apply(deploy_policy),
                p,
                tags,
                child,
            )
            preview[stack] = _role(
                f"{name}-{stack}-preview", provider_arn, p.subject(f"{stack}-preview"), preview_policy(), p, tags, child
            )
        self.provider_arn = provider_arn
        self.deploy_role_arns = pulumi.Output.all(**deploy)
        self.preview_role_arns = pulumi.Output.all(**preview)
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "deploy_role_arns": self.deploy_role_arns,
                "preview_role_arns": self.preview_role_arns,
            }
        )


def _role(  # noqa: PLR0917
    name: str,
    provider_arn: pulumi.Output[str],
    subject: str,
    policy: pulumi.Input[str],
    p: DeployAccessPlan,
    tags: Mapping[str, str] | None,
    child: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """A role GitHub jobs with this subject may assume, with its one inline policy; returns its ARN."""
    role = aws.iam.Role(
        name,
        assume_role_policy=provider_arn.apply(lambda arn: trust_policy(arn, subject)),
        max_session_duration=p.args["max_session_seconds"],
        tags=component_tags(COMPONENT, tags, name=name),
        opts=child,
    )
    aws.iam.RolePolicy(name, role=role.name, policy=policy, opts=child)
    return role.arn
