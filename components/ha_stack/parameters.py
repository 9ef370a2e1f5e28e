"""Runtime configuration for the service, published as plain Parameter Store values (docs/runtime-config.md)."""

import pulumi
import pulumi_aws as aws

from ha_stack.naming import merge_tags


def publish_parameters(
    label: str,
    *,
    path: str,
    section: str,
    values: dict[str, pulumi.Input[str]],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> None:
    """One String parameter per value at `<path><section>/<key>` (`<path><key>` with no section), child
    `<label>-<key>`.

    Only endpoints, ports, names and secret ARNs go here, never a secret value, so they are stored as
    `insecure_value`: readable in state and previews on purpose.
    """
    for key, value in values.items():
        child = f"{label}-{key.replace('_', '-')}"
        aws.ssm.Parameter(
            child,
            name=f"{path}{section}/{key}" if section else f"{path}{key}",
            type="String",
            insecure_value=value,
            tags=merge_tags(tags, None, name=child),
            opts=opts,
        )
