"""HaWebFleet: the web tier's Auto Scaling group and its scaling policies, launched once the service can start.

The group is its own component so that a caller can order it after what the service needs at boot (the data tier,
its Parameter Store settings and the secret grants) with an ordinary `depends_on` on this component. It cannot be
a child of HaWebTier: the data tier admits HaWebTier's instance security group and the grants name its instance
role, so HaWebTier must exist before the data tier, and a hosted (multi-language) component only returns its
outputs once every child exists, so a group inside it could never wait for the data tier.
"""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.naming import component_tags, type_token

COMPONENT = "HaWebFleet"
ASG_METRICS = [
    aws.autoscaling.Metric(name)
    for name in (
        "GroupMinSize",
        "GroupMaxSize",
        "GroupDesiredCapacity",
        "GroupInServiceInstances",
        "GroupPendingInstances",
        "GroupTerminatingInstances",
        "GroupTotalInstances",
    )
]
ROLLOUT_MIN_HEALTHY_PERCENT = 90
ROLLOUT_MAX_HEALTHY_PERCENT = 190
"""Launch replacements before terminating (up to 100 points above the minimum, the most AWS allows)."""


class HaWebFleetArgs(TypedDict):
    """Inputs for HaWebFleet (defaults and checks: ARGS)."""

    subnet_ids: list[pulumi.Input[str]]
    """Private subnets for the instances, one per AZ (at least 2)."""
    launch_template_id: pulumi.Input[str]
    """Launch template the instances start from (HaWebTier.launch_template_id)."""
    launch_template_version: pulumi.Input[str]
    """Template version to launch; a new version rolls the fleet (HaWebTier.launch_template_version)."""
    target_group_arn: pulumi.Input[str]
    """Target group the instances join; its health checks decide when an instance is replaced
    (HaWebTier.target_group_arn)."""
    min_size: NotRequired[int]
    """Fewest instances; at least one per AZ for high availability (0 only for a pilot-light standby region, whose
    group is scaled up when it takes over)."""
    max_size: NotRequired[int]
    """Most instances the autoscaler may run."""
    desired_capacity: NotRequired[int]
    """Instances at creation; afterwards the autoscaler owns this."""
    cpu_target_percent: NotRequired[int]
    """Average CPU the autoscaler holds the group at."""
    requests_per_target: NotRequired[int]
    """Also scale on ALB requests per instance per minute at this target (needs alb_arn_suffix and
    target_group_arn_suffix)."""
    alb_arn_suffix: NotRequired[pulumi.Input[str]]
    """The load balancer's ARN suffix (HaWebTier.alb_arn_suffix), for scaling on requests."""
    target_group_arn_suffix: NotRequired[pulumi.Input[str]]
    """The target group's ARN suffix (HaWebTier.target_group_arn_suffix), for scaling on requests."""
    health_check_grace_seconds: NotRequired[int]
    """Seconds a new instance has to boot and start the service before health checks count. The default is the
    worst boot measured by the boot test (54 s, docs/boot.md) times 3 for what a real instance adds."""
    instance_warmup_seconds: NotRequired[int]
    """Seconds before a new instance's metrics count for scaling and rollouts."""
    tags: NotRequired[dict[str, str]]
    """Tags added to the group and propagated to its instances."""


def _min_size(values: Mapping[str, Any]) -> int:
    """min_size"""
    return int(values.get("min_size", 2))


ARGS = options.Spec(
    COMPONENT,
    HaWebFleetArgs,
    subnet_ids=options.Arg(),
    launch_template_id=options.Arg(),
    launch_template_version=options.Arg(),
    target_group_arn=options.Arg(),
    min_size=options.Arg(2, options.between(0, 100)),
    max_size=options.Arg(4, options.between(1, 100)),
    desired_capacity=options.Arg(_min_size, options.between(0, 100)),
    cpu_target_percent=options.Arg(60, options.between(10, 90, " percent")),
    requests_per_target=options.Arg(check=options.between(1, 100_000)),
    alb_arn_suffix=options.Arg(),
    target_group_arn_suffix=options.Arg(),
    health_check_grace_seconds=options.Arg(180, options.between(0, 7200, " seconds")),
    instance_warmup_seconds=options.Arg(120, options.between(0, 3600, " seconds")),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaWebFleetArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    subnets = args.get("subnet_ids")
    if subnets is not None and len(subnets) < 2:
        problems.add("subnet_ids", f"need subnets in at least 2 AZs for high availability, got {len(subnets)}")
    low, high, desired = args.get("min_size"), args.get("max_size"), args.get("desired_capacity")
    if low is not None and high is not None and low > high:
        problems.add("min_size", f"must be <= max_size ({high}), got {low}")
    elif low is not None and high is not None and desired is not None and not low <= desired <= high:
        problems.add("desired_capacity", f"must be between min_size ({low}) and max_size ({high}), got {desired}")
    wired = {"alb_arn_suffix", "target_group_arn_suffix"}
    if "requests_per_target" in args and not wired & skip and not wired <= args.keys():
        problems.add("requests_per_target", "needs alb_arn_suffix and target_group_arn_suffix to name the metric")
    return args


def plan(args: HaWebFleetArgs) -> HaWebFleetArgs:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    problems.raise_any()
    return checked


class HaWebFleet(pulumi.ComponentResource):
    """An Auto Scaling group of identical instances in every AZ behind the web tier's load balancer.

    Give it `depends_on` on whatever the service needs at boot: its children are registered only after those
    exist, so a first deploy does not launch instances that fail and are replaced until the data tier is ready.
    """

    asg_name: pulumi.Output[str]
    """The Auto Scaling group's name."""
    asg_arn: pulumi.Output[str]
    """The Auto Scaling group's ARN."""

    def __init__(self, name: str, args: HaWebFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        group = self._auto_scaling_group(args)
        self._scaling_policies(group, args)
        self.asg_name = group.name
        self.asg_arn = group.arn
        self.register_outputs({"asg_name": self.asg_name, "asg_arn": self.asg_arn})

    def _auto_scaling_group(self, args: HaWebFleetArgs) -> aws.autoscaling.Group:
        """Every subnet, ELB health checks, the given template version, and a rolling refresh on each change."""
        name, p = self._name, self._plan
        tags = component_tags(COMPONENT, p["tags"], name=f"{name}-instance")
        return aws.autoscaling.Group(
            f"{name}-instances",
            vpc_zone_identifiers=args["subnet_ids"],
            min_size=p["min_size"],
            max_size=p["max_size"],
            desired_capacity=p["desired_capacity"],
            health_check_type="ELB",
            health_check_grace_period=p["health_check_grace_seconds"],
            default_instance_warmup=p["instance_warmup_seconds"],
            target_group_arns=[args["target_group_arn"]],
            launch_template={"id": args["launch_template_id"], "version": args["launch_template_version"]},
            capacity_rebalance=True,
            # Equal instances per AZ; when launches fail in an impaired AZ, launch in the healthy ones ("Auto
            # Scaling group Availability Zone distribution", EC2 Auto Scaling user guide). AWS's default, stated.
            availability_zone_distribution={"capacity_distribution_strategy": "balanced-best-effort"},
            enabled_metrics=ASG_METRICS,
            metrics_granularity="1Minute",
            instance_refresh={
                "strategy": "Rolling",
                "preferences": {
                    "min_healthy_percentage": ROLLOUT_MIN_HEALTHY_PERCENT,
                    "max_healthy_percentage": ROLLOUT_MAX_HEALTHY_PERCENT,
                    "auto_rollback": True,
                    "instance_warmup": str(p["instance_warmup_seconds"]),
                    "skip_matching": True,
                },
            },
            wait_for_capacity_timeout="15m",
            tags=[{"key": key, "value": value, "propagate_at_launch": True} for key, value in tags.items()],
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(ignore_changes=["desiredCapacity"])),
        )

    def _scaling_policies(self, group: aws.autoscaling.Group, args: HaWebFleetArgs) -> None:
        """Target tracking on average CPU, and on requests per instance when a target is set.

        Scaling policies take no tags (aws.autoscaling.Policy has no tags argument).
        """
        name, p = self._name, self._plan
        aws.autoscaling.Policy(
            f"{name}-cpu-target",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "ASGAverageCPUUtilization"},
                "target_value": p["cpu_target_percent"],
            },
            opts=self._child,
        )
        requests = p.get("requests_per_target")
        alb, target_group = p.get("alb_arn_suffix"), p.get("target_group_arn_suffix")
        if requests is None or alb is None or target_group is None:
            return
        aws.autoscaling.Policy(
            f"{name}-requests-target",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": pulumi.Output.concat(alb, "/", target_group),
                },
                "target_value": requests,
            },
            opts=self._child,
        )
