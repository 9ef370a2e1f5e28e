"""HaRegionalDns: one name that answers the primary region's load balancer while it is healthy, else the standby's.

A disaster-recovery pair has a load balancer per region, each with its own name (origin.<domain>,
origin-standby.<domain>), and writes need one name that follows the database's writer (origin-write.<domain>):
CloudFront refuses an origin group on a behaviour that allows POST, PUT, PATCH or DELETE, so HaEdge sends those to this
name, and so does a user without CloudFront. This component declares what Route 53 needs for it:

- A health check per region, HTTPS on each region's *own* origin name (never the failover name: a health check on
  the name it decides would follow its own answer). Route 53 "has health checkers in locations around the world
  ... you can specify the interval between checks: every 10 seconds or every 30 seconds", and each checker counts
  "a number of consecutive health checks that you specify (the failure threshold)" (Route 53 developer guide, "How
  Amazon Route 53 determines whether a health check is healthy"). The load balancers must let the checkers reach the
  path (HaWebTier admit_route53_health_checks when it admits only CloudFront).
- A failover alias pair under one name: PRIMARY to the primary load balancer with the primary's health check, and
  SECONDARY to the standby's. "When responding to queries, Route 53 includes only the healthy primary resources. If
  all the primary resources are unhealthy, Route 53 begins to include only the healthy secondary resources" (Route 53
  developer guide, "Active-active and active-passive failover").
"""

import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.naming import component_tags, type_token

COMPONENT = "HaRegionalDns"
DNS_NAME_CHARACTERS = 253
"""The longest DNS name (RFC 1035; Route 53's FullyQualifiedDomainName of a health check is at most 255)."""
DNS_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
HTTPS_PORT = 443
REQUEST_INTERVALS = (10, 30)
"""The only intervals Route 53 offers (RequestInterval: 10 or 30 seconds; it cannot be changed after creation)."""
FAILURE_THRESHOLDS = (1, 10)
"""Route 53 HealthCheckConfig FailureThreshold: "Valid values are integers between 1 and 10"."""
PATH_CHARACTERS = 255
"""Route 53 HealthCheckConfig ResourcePath: at most 255 characters."""


def hostname(value: str) -> str | None:
    """A DNS name of two or more labels, at most 253 characters, no trailing dot or wildcard."""
    labels = value.split(".")
    if len(value) > DNS_NAME_CHARACTERS or len(labels) < 2 or not all(re.fullmatch(DNS_LABEL, x) for x in labels):
        return (
            f"must be a DNS name such as origin.shop.example.com (labels of 1 to 63 letters, digits or '-', at most "
            f"{DNS_NAME_CHARACTERS} characters, no trailing dot or wildcard), got {options.shown(value)}"
        )
    return None


class HaRegionalDnsArgs(TypedDict):
    """Inputs for HaRegionalDns (defaults and checks: ARGS)."""

    hosted_zone_id: pulumi.Input[str]
    """Route 53 hosted zone that holds record_name."""
    record_name: str
    """The failover name, e.g. origin-write.shop.example.com: the origin of the writes (HaEdge
    write_origin_domain_name), on both load balancers' certificates (HaWebTier subject_alternative_names)."""
    primary_alias_name: pulumi.Input[str]
    """The primary region's load balancer DNS name (HaWebTier alb_dns_name)."""
    primary_alias_zone_id: pulumi.Input[str]
    """The primary load balancer's Route 53 zone id (HaWebTier alb_zone_id)."""
    primary_health_check_name: str
    """The primary region's own origin name the health check probes over HTTPS, e.g. origin.shop.example.com."""
    secondary_alias_name: pulumi.Input[str]
    """The standby region's load balancer DNS name."""
    secondary_alias_zone_id: pulumi.Input[str]
    """The standby load balancer's Route 53 zone id."""
    secondary_health_check_name: str
    """The standby region's own origin name, e.g. origin-standby.shop.example.com: its health check feeds alarms."""
    health_check_path: NotRequired[str]
    """Path the health checks request (HTTPS, 2xx or 3xx is healthy): the service's cheap liveness path."""
    request_interval_seconds: NotRequired[int]
    """Seconds between one checker's requests, 10 or 30. 10 (Route 53's "fast" interval, an extra monthly charge
    per check) because writes wait for this detection before they move: with the failure threshold of 3, about
    30 s, against 90 s at 30 s."""
    failure_threshold: NotRequired[int]
    """Consecutive failed (or passed) requests, 1 to 10, before a checker changes its verdict. 3 rather than 1: one
    lost probe does not move the writes to the standby region, whose requests then cross regions to the writer."""
    tags: NotRequired[dict[str, str]]
    """Tags added to the health checks."""


ARGS = options.Spec(
    COMPONENT,
    HaRegionalDnsArgs,
    hosted_zone_id=options.Arg(),
    record_name=options.Arg(check=hostname),
    primary_alias_name=options.Arg(),
    primary_alias_zone_id=options.Arg(),
    primary_health_check_name=options.Arg(check=hostname),
    secondary_alias_name=options.Arg(),
    secondary_alias_zone_id=options.Arg(),
    secondary_health_check_name=options.Arg(check=hostname),
    health_check_path=options.Arg(
        "/health",
        options.all_of(
            options.at_most_characters(PATH_CHARACTERS),
            options.matches(r"/[A-Za-z0-9/_.~-]*", "a path starting with / (letters, digits, / _ . ~ -)"),
        ),
    ),
    request_interval_seconds=options.Arg(10, options.one_of(REQUEST_INTERVALS)),
    failure_threshold=options.Arg(3, options.between(*FAILURE_THRESHOLDS)),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaRegionalDnsArgs:
    """Every argument, then: each health check probes its own region's name, never the failover name, and the two
    regions' names differ."""
    args = ARGS.read(given, problems, skip=skip)
    record = args.get("record_name")
    probed = {role: args.get(f"{role}_health_check_name") for role in ("primary", "secondary")}
    for role, probe in probed.items():
        if isinstance(record, str) and isinstance(probe, str) and probe.lower() == record.lower():
            problems.add(
                f"{role}_health_check_name",
                f"is the failover name {options.shown(record)}: a health check probes its region's own origin name, "
                "never the name whose answer it decides",
            )
    first, second = probed["primary"], probed["secondary"]
    if isinstance(first, str) and isinstance(second, str) and first.lower() == second.lower():
        problems.add("secondary_health_check_name", f"is the primary's {options.shown(first)}: each region's own name")
    return args


@dataclass(frozen=True)
class RegionalDnsPlan:
    """The checked arguments (HaRegionalDns derives nothing else from them)."""

    args: HaRegionalDnsArgs


def plan(args: HaRegionalDnsArgs) -> RegionalDnsPlan:
    """Every problem raised at once (options.ArgsError) before anything is declared; pure, tested without mocks."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    problems.raise_any()
    return RegionalDnsPlan(checked)


class HaRegionalDns(pulumi.ComponentResource):
    """Route 53 health checks on each region's own origin name, and a PRIMARY/SECONDARY failover alias pair under
    one name that answers the primary load balancer while its health check passes, else the standby's."""

    primary_health_check_id: pulumi.Output[str]
    """The primary region's health check: it decides the failover record, and feeds alarms."""
    secondary_health_check_id: pulumi.Output[str]
    """The standby region's health check: for alarms (the standby's load balancer and instances answer)."""
    record_name: pulumi.Output[str]
    """The failover name."""

    def __init__(self, name: str, args: HaRegionalDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        a = plan(args).args
        self._name, self._args = name, a
        self._child = pulumi.ResourceOptions(parent=self)
        primary = self._health_check("primary", a["primary_health_check_name"])
        secondary = self._health_check("secondary", a["secondary_health_check_name"])
        self._record("primary", a["primary_alias_name"], a["primary_alias_zone_id"], primary)
        self._record("secondary", a["secondary_alias_name"], a["secondary_alias_zone_id"], None)
        self.primary_health_check_id = primary.id
        self.secondary_health_check_id = secondary.id
        self.record_name = pulumi.Output.from_input(a["record_name"])
        self.register_outputs(
            {
                "primary_health_check_id": self.primary_health_check_id,
                "secondary_health_check_id": self.secondary_health_check_id,
                "record_name": self.record_name,
            }
        )

    def _health_check(self, role: str, fqdn: str) -> aws.route53.HealthCheck:
        """HTTPS on the region's own name, with SNI so its load balancer presents that name's certificate."""
        label = f"{self._name}-{role}-health"
        return aws.route53.HealthCheck(
            label,
            type="HTTPS",
            fqdn=fqdn,
            port=HTTPS_PORT,
            resource_path=self._args["health_check_path"],
            enable_sni=True,
            request_interval=self._args["request_interval_seconds"],
            failure_threshold=self._args["failure_threshold"],
            tags=component_tags(COMPONENT, self._args["tags"], name=label),
            opts=self._child,
        )

    def _record(
        self,
        role: str,
        alias_name: pulumi.Input[str],
        alias_zone_id: pulumi.Input[str],
        health_check: aws.route53.HealthCheck | None,
    ) -> aws.route53.Record:
        """One half of the failover pair.

        The primary is answered while its health check passes and its load balancer has healthy targets (evaluate
        target health). The secondary has no condition of its own: it is answered whenever the primary is not, even
        while the standby's fleet is still scaling out (pilot light: no instance yet), because that is when the
        failover step needs the name to point at it; its health check only feeds alarms.
        """
        return aws.route53.Record(
            f"{self._name}-{role}",
            zone_id=self._args["hosted_zone_id"],
            name=self._args["record_name"],
            type="A",
            set_identifier=role,
            failover_routing_policies=[{"type": role.upper()}],
            health_check_id=health_check.id if health_check is not None else None,
            aliases=[{"name": alias_name, "zone_id": alias_zone_id, "evaluate_target_health": role == "primary"}],
            opts=self._child,
        )
