"""Small helpers __main__.py wires the tiers with: lists of outputs whose length the settings fix, and the
Route 53 zone id of the stack's hosted zone."""

import pulumi
import pulumi_aws as aws


def per_item(values: pulumi.Output[list[str]], count: int) -> list[pulumi.Input[str]]:
    """One output per item of a list whose length the settings fix (zones, instances, cache nodes).

    Components take such lists plainly, so they can check their length before declaring anything.
    """

    def item(index: int) -> pulumi.Output[str]:
        return values.apply(lambda items: items[index])

    return [item(i) for i in range(count)]


def by_zone(zones: list[str], *tiers: list[pulumi.Input[str]]) -> dict[str, list[pulumi.Input[str]]]:
    """Zone -> the stack's subnet of each tier in it (the network lists each tier's subnets in zone order)."""
    return {zone: [tier[i] for tier in tiers] for i, zone in enumerate(zones)}


def hosted_zone_id(zone_name: str | None) -> pulumi.Output[str] | None:
    """The public hosted zone's id, looked up by name (None without a domain)."""
    if zone_name is None:
        return None
    return aws.route53.get_zone_output(name=zone_name, private_zone=False).zone_id
