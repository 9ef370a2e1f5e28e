"""Security groups of the data tier: one port, reachable only from the named client groups."""

import pulumi
import pulumi_aws as aws

from ha_stack.naming import merge_tags


def client_only_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    clients: dict[str, pulumi.Input[str]],
    port: int,
    service: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.SecurityGroup:
    """A group admitting `port` from each client group and nothing else, with no egress of its own.

    Each client group also gets an egress rule to this group on the port, so clients whose egress is
    locked down (the web tier's is) can connect. Rules are named by role: `{name}-from-{role}`. Every rule
    carries the group's tags (rules are taggable resources of their own), with its own Name.
    """
    group = aws.ec2.SecurityGroup(
        f"{name}-sg",
        vpc_id=vpc_id,
        description=f"{name}: {service} from its clients only",
        tags=tags,
        opts=opts,
    )
    for role, client in clients.items():
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-{role}",
            security_group_id=group.id,
            referenced_security_group_id=client,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{service} from {role}",
            tags=merge_tags(tags, None, name=f"{name}-from-{role}"),
            opts=opts,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress-from-{role}",
            security_group_id=client,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{role} to {service}",
            tags=merge_tags(tags, None, name=f"{name}-egress-from-{role}"),
            opts=opts,
        )
    return group
