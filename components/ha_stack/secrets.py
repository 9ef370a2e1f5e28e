"""A value the stack generates, kept in Secrets Manager for the service: one shape for every such secret."""

import pulumi
import pulumi_aws as aws

RECOVERY_WINDOW_DAYS = 7
"""Days a deleted secret can still be restored: long enough to notice a mistaken `pulumi destroy`."""


def stored_secret(  # noqa: PLR0917
    name: str,
    description: str,
    value: pulumi.Input[str],
    kms_key: pulumi.Input[str] | None,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.secretsmanager.Secret:
    """A secret named `name` holding `value` (a Pulumi secret in state), encrypted with `kms_key` when given."""
    secret = aws.secretsmanager.Secret(
        name,
        description=description,
        kms_key_id=kms_key,
        recovery_window_in_days=RECOVERY_WINDOW_DAYS,
        tags=tags,
        opts=opts,
    )
    aws.secretsmanager.SecretVersion(name, secret_id=secret.id, secret_string=value, opts=opts)
    return secret
