"""HaWebTier: an ALB over every AZ, and the launch template, role and release the service's instances start from.

The instances themselves (the Auto Scaling group) are HaWebFleet's, declared once the data tier exists.
"""

import base64
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ha_stack import catalogue, checks, options
from ha_stack.buckets import Archive, BucketSpec, bucket_policy, private_bucket
from ha_stack.certificates import dns_validated_certificate
from ha_stack.iam import Account, Statement, assume_role_policy, caller_account, policy_document
from ha_stack.naming import component_tags, type_token
from ha_stack.release import Launch, Release, ReleaseError, directory_problem, package, render_user_data

COMPONENT = "HaWebTier"
RESERVED_PORTS = (2049, 3306, 5432, 6379, 11211)
"""Data-tier ports (NFS, MySQL, PostgreSQL, Redis, Memcached): never the app's."""
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""TLS 1.3 and 1.2 only, forward-secret ciphers: AWS's recommended policy for HTTPS listeners."""
ORIGIN_HEADER = "X-Origin-Verify"
"""Header CloudFront adds to every origin request; the ALB forwards only requests that carry its secret."""
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
ROUTE53_HEALTH_CHECK_PREFIX_LIST = "com.amazonaws.{region}.route53-healthchecks"
"""AWS-managed prefix list of the Route 53 health checkers' IPv4 ranges, per region (Route 53 developer guide,
"Configuring router and firewall rules for Amazon Route 53 health checks": "modify your security group to allow
inbound traffic from com.amazonaws.<region>.route53-healthchecks, where the <region> is the AWS Region of your
Amazon EC2 instance or resource"). It weighs 25 rules and CloudFront's origin-facing list about 55, so it goes in a
security group of its own: together they would pass the default 60 inbound rules of one group."""
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
"""The service that writes ALB access logs, in every region. The older grant to a per-region ELB account
(elb.get_service_account) has no account at all in regions opened since August 2022, and AWS's guide now
recommends replacing it with this principal where it still exists."""
AMI_ID = r"ami-([0-9a-f]{8}|[0-9a-f]{17})"
"""EC2 image ids: ami- and 8 or 17 hex digits."""
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
DRAIN_MARGIN_SECONDS = 10
"""systemd waits this much longer than the target group's deregistration delay before it kills the service."""
HEALTH_CHECK_PATH = r"/[A-Za-z0-9/_.-]*"
HEALTH_CHECK_PATH_CHARACTERS = 1024
"""ELB's limit on a target group's HealthCheckPath ("Length Constraints: Minimum length of 1. Maximum length of
1024", CreateTargetGroup, Elastic Load Balancing API reference)."""
ACM_FIRST_NAME_CHARACTERS = 64
"""ACM RequestCertificate: "the length of the domain name (technically, the Common Name) that you provide cannot
exceed 64 octets (characters), including periods" (RFC 5280). domain_name is the certificate's first name."""
DNS_NAME_CHARACTERS, DNS_LABEL_CHARACTERS = 253, 63
"""A DNS name is at most 253 octets and no label longer than 63 (ACM RequestCertificate, RFC 1035)."""
DNS_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
"""A hostname label: letters, digits and hyphens, not starting or ending with a hyphen (ACM's DomainName pattern)."""
ACM_NAMES_PER_CERTIFICATE = 100
"""ACM User Guide, Quotas: "The default quota is 10 domain names for each ACM certificate" (the first name
included), and "You can request up to 100 domain names" with a quota increase: more than 100 is never accepted."""
NOT_AMAZON_LINUX = {
    "mac": "Mac instance types run macOS on Dedicated Hosts, not Amazon Linux 2023",
    "a1": "Amazon Linux 2023 does not support A1 instances",
}
"""Catalogue families the Amazon Linux 2023 launch template cannot boot, by family prefix."""
AUTONAME_SUFFIX = 8
"""Pulumi names a resource `<logical name>-` plus 7 random characters (pulumi-terraform-bridge AutoName)."""


def architecture(instance_type: str) -> str:
    """arm64 for AWS Graviton instance types, else x86_64, by AWS's naming rule: the letters after the generation
    are the type's capabilities, and `g` among them means Graviton (t4g, c7gn, im4gn, g5g); the `a` series is the
    first Graviton. The same rule as AWS CDK's InstanceType.architecture (aws-cdk-lib/aws-ec2/lib/instance-types.ts)."""
    found = re.match(r"([a-z]+)(\d+)([a-z]*)", instance_type)
    if found and (found[1] == "a" or "g" in found[3]):
        return "arm64"
    return "x86_64"


def _boots_amazon_linux(value: str) -> str | None:
    """None unless the type's family is one the Amazon Linux 2023 image cannot run on."""
    for prefix, reason in NOT_AMAZON_LINUX.items():
        if value.startswith(prefix):
            return f"{reason}, got {options.shown(value)}"
    return None


def _not_reserved(port: int) -> str | None:
    if port in RESERVED_PORTS:
        return f"{port} is reserved for a data-tier service ({', '.join(map(str, RESERVED_PORTS))}); pick another port"
    return None


def _hostname(value: str) -> str | None:
    """A hostname ACM will put first on a certificate and Route 53 will hold: labels of letters, digits and
    hyphens, each at most 63 characters, the whole at most 64 (ACM's limit, tighter than DNS's 253)."""
    labels = value.split(".")
    long_label = next((label for label in labels if len(label) > DNS_LABEL_CHARACTERS), None)
    if long_label is not None:
        return (
            f"labels are at most {DNS_LABEL_CHARACTERS} characters (DNS), got one of {len(long_label)}: "
            f"{options.shown(value)}"
        )
    if len(labels) < 2 or not all(re.fullmatch(DNS_LABEL, label) for label in labels):
        return (
            "must be a hostname such as origin.shop.example.com (labels of letters, digits and hyphens, no "
            f"trailing dot or wildcard), got {options.shown(value)}"
        )
    if len(value) > ACM_FIRST_NAME_CHARACTERS:
        limit = "DNS" if len(value) > DNS_NAME_CHARACTERS else "ACM's limit on a certificate's first domain name"
        return (
            f"must be at most {ACM_FIRST_NAME_CHARACTERS} characters ({limit}), got {len(value)}: "
            f"{options.shown(value)}"
        )
    return None


def _alternative_name(value: str) -> str | None:
    """A hostname ACM puts in a certificate's Subject Alternative Name extension: up to 253 characters (DNS), unlike
    the first name's 64 (ACM RequestCertificate: the SAN field "supports names up to 253 octets in length")."""
    labels = value.split(".")
    if len(value) > DNS_NAME_CHARACTERS or len(labels) < 2 or not all(re.fullmatch(DNS_LABEL, x) for x in labels):
        return (
            "must be hostnames such as origin-write.shop.example.com (labels of 1 to 63 letters, digits and hyphens, "
            f"at most {DNS_NAME_CHARACTERS} characters, no wildcard), got {options.shown(value)}"
        )
    return None


def _alternative_names(values: list[str]) -> str | None:
    """1 to 99 distinct hostnames (ACM takes at most 100 names on a certificate, the first one included)."""
    if not values or len(values) > ACM_NAMES_PER_CERTIFICATE - 1:
        return (
            f"must be a list of 1 to {ACM_NAMES_PER_CERTIFICATE - 1} hostnames (ACM takes at most "
            f"{ACM_NAMES_PER_CERTIFICATE} names per certificate, domain_name included; 10 without a quota increase), "
            f"got {options.shown(values)}"
        )
    if len({v.lower() for v in values}) != len(values):
        return f"must be distinct names, got {options.shown(values)}"
    return options.each(_alternative_name)(values)


class HaWebTierArgs(TypedDict):
    """Inputs for HaWebTier (defaults and checks: ARGS)."""

    vpc_id: pulumi.Input[str]
    """VPC of the subnets."""
    public_subnet_ids: NotRequired[list[pulumi.Input[str]]]
    """Public subnets for an internet-facing load balancer, one per AZ (at least 2). Give this or
    internal_subnet_ids."""
    internal_subnet_ids: NotRequired[list[pulumi.Input[str]]]
    """Private (app) subnets for an internal load balancer, one per AZ (at least 2), that CloudFront reaches through
    a VPC origin (HaEdge origin_vpc_alb_arn): the load balancer has no public address and nothing between CloudFront
    and it crosses the internet. Needs cloudfront_only, and an internet gateway attached to the VPC (CloudFront
    developer guide, "Restrict access with VPC origins"). Give this or public_subnet_ids."""
    app_directory: str
    """Directory of the Python service package (with __main__.py, requirements.txt and requirements.lock) to install
    and run."""
    runtime_config_path: str
    """Parameter Store path the service reads its settings from, e.g. /ha-stack/prod/ (instances may read it)."""
    instance_type: NotRequired[str]
    """EC2 instance type: any type AWS offers in some region (cfn-lint's AWS catalogue) that Amazon Linux 2023 boots
    (not Mac or A1). Graviton types (t4g, m7g, ...) get the arm64 image."""
    ami_id: NotRequired[str]
    """Image the instances boot, e.g. ami-0123456789abcdef0 (for the instance type's architecture). Unset: the
    latest Amazon Linux 2023 at the first deploy, then kept, so a newly published image never rolls the fleet by
    itself; set this to roll the fleet onto a chosen image (a rolling instance refresh)."""
    app_port: NotRequired[int]
    """Port the service listens on, 1024 to 65535, not a data-tier port."""
    health_check_path: NotRequired[str]
    """Cheap liveness path the load balancer checks (200 expected), at most 1024 characters."""
    deregistration_delay_seconds: NotRequired[int]
    """Seconds the ALB lets in-flight requests finish on a leaving instance; the service drains within it."""
    root_volume_gib: NotRequired[int]
    """Encrypted gp3 root volume size, 8 to 1024 GiB."""
    enable_deletion_protection: NotRequired[bool]
    """Refuse to delete the load balancer."""
    enable_zonal_shift: NotRequired[bool]
    """Register the load balancer with ARC zonal shift (attribute zonal_shift.config.enabled, off by default on AWS),
    so an operator, or zonal autoshift, moves its traffic off an impaired AZ in one step."""
    domain_name: NotRequired[str]
    """Hostname for the load balancer (e.g. origin.shop.example.com), at most 64 characters (ACM's limit on a
    certificate's first name): HTTPS with a DNS-validated certificate, HTTP redirected to HTTPS, and an alias
    record. Needs hosted_zone_id. Unset: HTTP only."""
    hosted_zone_id: NotRequired[pulumi.Input[str]]
    """Route 53 hosted zone that holds domain_name."""
    subject_alternative_names: NotRequired[list[str]]
    """More names on the load balancer's certificate (e.g. origin-write.shop.example.com, the failover name a
    disaster-recovery pair shares), each validated by its own DNS record in hosted_zone_id, so each must be in that
    zone. Needs domain_name. ACM takes 10 names per certificate (domain_name included) unless the account's quota is
    raised, 100 at most. No alias record is made for them: the name's owner (HaRegionalDns) routes it."""
    cloudfront_only: NotRequired[bool]
    """Admit only CloudFront's origin-facing addresses, and only requests carrying the origin secret (others get
    403). False: open to the internet."""
    origin_secret: NotRequired[pulumi.Input[str]]
    """The origin secret to require instead of generating one: a standby region's load balancer takes the primary's
    (HaWebTier.origin_secret), because one CloudFront distribution sends one header value to both. Only with
    cloudfront_only."""
    admit_route53_health_checks: NotRequired[bool]
    """With cloudfront_only, also admit Route 53's health checkers (their managed prefix list, in a security group
    of its own) to health_check_path alone, without the origin secret (Route 53 health checks send no custom
    header), so a health check on domain_name sees the region's own load balancer and instances. Other paths still
    need the secret. Without cloudfront_only the load balancer is open to them already."""
    log_retention_days: NotRequired[int]
    """Days to keep the service's log in CloudWatch Logs (one of the retention periods CloudWatch Logs accepts)."""
    force_destroy_buckets: NotRequired[bool]
    """Empty this component's buckets, every object version, on destroy, so `pulumi destroy` succeeds. False: data
    is kept."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child (and propagated to instances)."""


ARGS = options.Spec(
    COMPONENT,
    HaWebTierArgs,
    vpc_id=options.Arg(),
    public_subnet_ids=options.Arg(),
    internal_subnet_ids=options.Arg(),
    app_directory=options.Arg(check=directory_problem),
    runtime_config_path=options.Arg(check=checks.parameter_path_rule),
    instance_type=options.Arg(
        "t3.small",
        options.all_of(
            options.member_of(catalogue.instance_types, "an EC2 instance type", catalogue.SOURCE), _boots_amazon_linux
        ),
    ),
    ami_id=options.Arg(check=options.matches(AMI_ID, "an image id such as ami-0123456789abcdef0")),
    app_port=options.Arg(8000, options.all_of(options.between(1024, 65535), _not_reserved)),
    health_check_path=options.Arg(
        "/health",
        options.all_of(
            options.at_most_characters(HEALTH_CHECK_PATH_CHARACTERS),
            options.matches(HEALTH_CHECK_PATH, "a path starting with / (letters, digits, / _ . -)"),
        ),
    ),
    deregistration_delay_seconds=options.Arg(30, options.between(0, 3600, " seconds")),
    root_volume_gib=options.Arg(20, options.between(8, 1024, " GiB")),
    enable_deletion_protection=options.Arg(True),
    enable_zonal_shift=options.Arg(True),
    domain_name=options.Arg(check=_hostname),
    hosted_zone_id=options.Arg(),
    subject_alternative_names=options.Arg(check=_alternative_names),
    cloudfront_only=options.Arg(False),
    origin_secret=options.Arg(),
    admit_route53_health_checks=options.Arg(False),
    log_retention_days=options.Arg(90, checks.log_retention),
    force_destroy_buckets=options.Arg(False),
    tags=options.Arg({}),
)


def _placement(given: Mapping[str, object], args: HaWebTierArgs, problems: options.Problems) -> None:
    """Exactly one of public_subnet_ids / internal_subnet_ids, in at least 2 AZs; internal needs cloudfront_only."""
    named = [key for key in ("public_subnet_ids", "internal_subnet_ids") if key in given]
    if len(named) != 1:
        problems.add(
            "public_subnet_ids",
            "give public_subnet_ids (internet-facing load balancer) or internal_subnet_ids (internal, reached through "
            f"CloudFront's VPC origin), exactly one, got {', '.join(named) or 'neither'}",
        )
        return
    (key,) = named
    subnets = args.get(key)
    if isinstance(subnets, list) and len(subnets) < 2:
        problems.add(key, f"need subnets in at least 2 AZs for high availability, got {len(subnets)}")
    if key == "internal_subnet_ids" and problems.ok("cloudfront_only") and not args.get("cloudfront_only", False):
        problems.add(
            "internal_subnet_ids",
            "an internal load balancer is reached only through CloudFront's VPC origin: needs cloudfront_only true",
        )


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaWebTierArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    if not isinstance(given, Mapping):
        return args
    wiring = {"public_subnet_ids", "internal_subnet_ids", "cloudfront_only"}
    if not wiring & skip:
        _placement(given, args, problems)
    pair = ("domain_name", "hosted_zone_id")
    if not set(pair) & skip and problems.ok(*pair) and (pair[0] in given) != (pair[1] in given):
        problems.add("domain_name", "domain_name and hosted_zone_id go together: give both or neither")
    _needs(args, problems, skip)
    return args


def _needs(args: HaWebTierArgs, problems: options.Problems, skip: frozenset[str]) -> None:
    """subject_alternative_names go on domain_name's certificate; a given origin_secret only means something to a
    load balancer that requires one (cloudfront_only); no alternative name repeats domain_name."""
    names, domain = args.get("subject_alternative_names"), args.get("domain_name")
    if names is not None and "domain_name" not in skip and problems.ok("domain_name"):
        if domain is None:
            problems.add("subject_alternative_names", "are names on domain_name's certificate: needs domain_name")
        elif domain.lower() in {n.lower() for n in names}:
            problems.add("subject_alternative_names", f"repeats domain_name {options.shown(domain)}")
    secret_given = "origin_secret" in args and "origin_secret" not in skip
    open_alb = "cloudfront_only" not in skip and problems.ok("cloudfront_only") and not args.get("cloudfront_only")
    if secret_given and open_alb:
        problems.add(
            "origin_secret",
            "is the header value CloudFront must send: only with cloudfront_only true (else nothing checks it)",
        )


@dataclass(frozen=True)
class DerivedName:
    """A physical name Pulumi derives from the component's name: `<name><suffix>-` and 7 random characters."""

    what: str
    suffix: str
    limit: int
    allowed: str
    """The characters AWS allows, as a regular expression of the whole name."""
    rule: str
    """The characters AWS allows, in words."""
    lower: bool = False
    """Pulumi lowercases the name first (S3 buckets)."""

    def problem(self, name: str) -> str | None:
        """None when the derived name is one AWS accepts, else what is wrong with it."""
        stem = f"{name}{self.suffix}-"
        stem = stem.lower() if self.lower else stem
        length = len(stem) + AUTONAME_SUFFIX - 1
        if length > self.limit:
            return f"{self.what} {options.shown(stem)} + 7 random characters is {length} (at most {self.limit})"
        if not re.fullmatch(self.allowed, stem + "0" * (AUTONAME_SUFFIX - 1)):
            return f"{self.what} {options.shown(stem)}... has characters AWS refuses ({self.rule})"
        return None


ELB_NAME = r"(?!internal-)[A-Za-z0-9][A-Za-z0-9-]*"
BUCKET_NAME = r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9](?!.*\.\.)[a-z0-9.-]*"
DERIVED_NAMES = (
    # CreateLoadBalancer / CreateTargetGroup (ELB API): at most 32 characters, alphanumerics and hyphens, not
    # beginning with a hyphen or "internal-".
    DerivedName("load balancer", "-alb", 32, ELB_NAME, "letters, digits, hyphens; not internal-..."),
    DerivedName("target group", "-app", 32, ELB_NAME, "letters, digits, hyphens"),
    # S3 general purpose bucket naming rules: 3 to 63 characters, lower-case letters, digits, dots and hyphens,
    # beginning with a letter or digit, no two adjacent dots, reserved prefixes refused. Pulumi lowercases the name.
    DerivedName("access-log bucket", "-access-logs", 63, BUCKET_NAME, "lower-case letters, digits, . and -", True),
    DerivedName("artifact bucket", "-artifacts", 63, BUCKET_NAME, "lower-case letters, digits, . and -", True),
    # IAM: role names at most 64 characters of letters, digits and +=,.@_-.
    DerivedName("instance role", "-instances", 64, r"[\w+=,.@-]+", "letters, digits and +=,.@_-"),
)
"""Every physical name HaWebTier leaves to Pulumi's autonaming that has a limit its component name can break."""


NAME_CHARACTERS = min(d.limit - len(d.suffix) - AUTONAME_SUFFIX for d in DERIVED_NAMES)
"""The longest component name every derived name has room for (20: the load balancer's and target group's)."""


def name_problems(name: str, problems: options.Problems) -> None:
    """One line when the component's name makes a physical name AWS refuses (an ELB name is the tightest: 20
    characters of letters, digits and hyphens leave room for "-alb-" and the random suffix)."""
    broken = [problem for derived in DERIVED_NAMES if (problem := derived.problem(name))]
    if broken:
        problems.add(
            "name",
            f"{options.shown(name)} makes names AWS refuses: {'; '.join(broken)} (a name of at most "
            f"{NAME_CHARACTERS} letters, digits and hyphens fits them all)",
        )


@dataclass(frozen=True)
class WebPlan:
    """HaWebTier's checked arguments (defaults applied) and what it derives from them."""

    args: HaWebTierArgs
    arch: str
    """The instance type's CPU architecture (x86_64 or arm64): which Amazon Linux 2023 image and template."""
    internal: bool
    """An internal load balancer (internal_subnet_ids) rather than an internet-facing one."""
    release: Release
    """The service's release: files, wheels and digest."""

    @property
    def https(self) -> bool:
        """True when the load balancer serves HTTPS (a domain was given)."""
        return "domain_name" in self.args

    @property
    def serving_port(self) -> int:
        """The listener that forwards to the instances."""
        return 443 if self.https else 80


def _release(directory: str, problems: options.Problems) -> Release | None:
    """The service packaged as a release, or None after a problem line (a failed download, an unreadable file)."""
    try:
        return package(directory)
    except ReleaseError as err:
        problems.add("app_directory", err.reason)
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        problems.add("app_directory", f"cannot be packaged: {options.shown(str(err))}")
    return None


def plan(args: HaWebTierArgs, name: str | None = None) -> WebPlan:
    """Defaults and validation before any resource exists (with `name`, also the physical names derived from it);
    pure, so it is tested without mocks. Every problem is raised at once (options.ArgsError)."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    if name is not None:
        name_problems(name, options.Problems(f"{COMPONENT} ", problems.lines))
    directory = checked.get("app_directory")
    release = _release(directory, problems) if directory is not None and problems.ok("app_directory") else None
    problems.raise_any()
    if release is None:  # not reached: every path without a release recorded a problem
        raise options.ArgsError([f"{COMPONENT}.app_directory: no release"])
    internal = "internal_subnet_ids" in checked
    return WebPlan(checked, architecture(checked["instance_type"]), internal, release)


class HaWebTier(pulumi.ComponentResource):
    """An ALB over every AZ (internet-facing, or internal behind CloudFront's VPC origin), and the launch template
    that HaWebFleet's instances start from."""

    alb_dns_name: pulumi.Output[str]
    """The load balancer's DNS name."""
    alb_zone_id: pulumi.Output[str]
    """The load balancer's Route 53 zone id (for alias records)."""
    alb_arn: pulumi.Output[str]
    """The load balancer's ARN."""
    alb_arn_suffix: pulumi.Output[str]
    """The load balancer's ARN suffix: the LoadBalancer dimension of its CloudWatch metrics."""
    target_group_arn: pulumi.Output[str]
    """The instances' target group ARN."""
    target_group_arn_suffix: pulumi.Output[str]
    """The target group's ARN suffix: the TargetGroup dimension of its CloudWatch metrics."""
    launch_template_id: pulumi.Output[str]
    """The instances' launch template (for HaWebFleet.launch_template_id)."""
    launch_template_version: pulumi.Output[str]
    """The template's latest version; a new one (release or image) rolls the fleet (HaWebFleet)."""
    image_id: pulumi.Output[str]
    """The image the instances boot: ami_id, or Amazon Linux 2023 as of the first deploy."""
    alb_security_group_id: pulumi.Output[str]
    """The load balancer's security group."""
    instance_security_group_id: pulumi.Output[str]
    """The instances' security group: the only client the data tier admits."""
    instance_role_arn: pulumi.Output[str]
    """The instances' IAM role ARN."""
    instance_role_name: pulumi.Output[str]
    """The instances' IAM role name, for grants added once the data tier exists."""
    origin_url: pulumi.Output[str]
    """https://<domain_name> with a domain, else http://<ALB DNS name> (inside the VPC only when internal)."""
    origin_secret: pulumi.Output[str]
    """The secret CloudFront must send in the origin header (a Pulumi secret; empty unless cloudfront_only)."""
    origin_secret_header: pulumi.Output[str]
    """The header that carries the origin secret."""
    artifact_bucket: pulumi.Output[str]
    """Private bucket holding the service releases."""
    release_key: pulumi.Output[str]
    """Object key of the release the instances install (changes with the service's content)."""

    def __init__(self, name: str, args: HaWebTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args, name)
        self._name, self._plan, self._args = name, p, p.args
        self._child = pulumi.ResourceOptions(parent=self)
        account = caller_account(self)
        alb_sg, instance_sg = self._security_groups(args["vpc_id"])
        subnets = args.get("internal_subnet_ids") if p.internal else args.get("public_subnet_ids")
        alb = self._load_balancer(
            [alb_sg, *self._health_check_group(args["vpc_id"], account)], list(subnets or []), account
        )
        target_group = self._target_group(args["vpc_id"])
        secret = self._listeners(alb, target_group, args.get("hosted_zone_id"))
        artifacts, release = self._release()
        role, profile = self._instance_role(artifacts, account)
        template = self._launch_template(instance_sg, profile, artifacts, release, account)

        self.alb_dns_name = alb.dns_name
        self.alb_zone_id = alb.zone_id
        self.alb_arn = alb.arn
        self.alb_arn_suffix = alb.arn_suffix
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.launch_template_id = template.id
        self.launch_template_version = template.latest_version.apply(str)
        self.image_id = template.image_id.apply(lambda image: image or "")
        self.alb_security_group_id = alb_sg.id
        self.instance_security_group_id = instance_sg.id
        self.instance_role_arn = role.arn
        self.instance_role_name = role.name
        self.origin_url = (
            pulumi.Output.from_input(f"https://{p.args['domain_name']}")
            if "domain_name" in p.args
            else pulumi.Output.concat("http://", alb.dns_name)
        )
        self.origin_secret = secret if secret is not None else pulumi.Output.secret("")
        self.origin_secret_header = pulumi.Output.from_input(ORIGIN_HEADER)
        self.artifact_bucket = artifacts.bucket
        self.release_key = release.key
        self.register_outputs(
            {
                "alb_dns_name": self.alb_dns_name,
                "alb_zone_id": self.alb_zone_id,
                "alb_arn": self.alb_arn,
                "alb_arn_suffix": self.alb_arn_suffix,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "launch_template_id": self.launch_template_id,
                "launch_template_version": self.launch_template_version,
                "image_id": self.image_id,
                "alb_security_group_id": self.alb_security_group_id,
                "instance_security_group_id": self.instance_security_group_id,
                "instance_role_arn": self.instance_role_arn,
                "instance_role_name": self.instance_role_name,
                "origin_url": self.origin_url,
                "origin_secret": self.origin_secret,
                "origin_secret_header": self.origin_secret_header,
                "artifact_bucket": self.artifact_bucket,
                "release_key": self.release_key,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags(COMPONENT, self._args["tags"], name=name)

    def _security_groups(self, vpc_id: pulumi.Input[str]) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """ALB: the world (or only CloudFront) in, the app port to the instances out. Instances: ALB in, HTTPS out.

        Behind CloudFront, internet-facing or internal alike, the one source admitted is CloudFront's origin-facing
        managed prefix list. For a VPC origin AWS documents two ways (CloudFront developer guide, "Restrict access
        with VPC origins", Security Group Configuration): "Option 1: Allow traffic from the CloudFront managed prefix
        list ... This can be done before VPC origin created as well", and "Option 2: Allow traffic from the CloudFront
        service-managed security group (CloudFront-VPCOrigins-Service-SG). This can be done only after the VPC
        origin is created". One deploy declares this group before the VPC origin exists, so this is option 1; an
        internal load balancer has no public address, so only VPC origins of this account reach it, and the origin
        secret narrows that to this distribution.
        """
        name, p = self._name, self._plan
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=vpc_id,
            description=f"{name} load balancer",
            tags=self._tags(f"{name}-alb"),
            opts=self._child,
        )
        instance_sg = aws.ec2.SecurityGroup(
            f"{name}-instances",
            vpc_id=vpc_id,
            description=f"{name} instances: the load balancer in, HTTPS out",
            tags=self._tags(f"{name}-instances"),
            opts=self._child,
        )
        if self._args["cloudfront_only"]:
            # One rule only: each entry of the ~55-entry prefix list counts against the group's 60-rule quota.
            prefix_list = aws.ec2.get_managed_prefix_list_output(
                name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self._ingress(f"{name}-alb-from-cloudfront", alb_sg, p.serving_port, prefix_list_id=prefix_list.id)
        else:
            for port in (80, 443) if p.https else (80,):
                self._ingress(f"{name}-alb-from-internet-{port}", alb_sg, port, cidr_ipv4="0.0.0.0/0")
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-instances",
            security_group_id=alb_sg.id,
            referenced_security_group_id=instance_sg.id,
            ip_protocol="tcp",
            from_port=self._args["app_port"],
            to_port=self._args["app_port"],
            description="health checks and requests to the service",
            tags=self._tags(f"{name}-alb-to-instances"),
            opts=self._child,
        )
        self._ingress(
            f"{name}-instances-from-alb", instance_sg, self._args["app_port"], referenced_security_group_id=alb_sg.id
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-instances-to-https",
            security_group_id=instance_sg.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="AWS APIs (SSM, S3, CloudWatch, Secrets Manager) and package repositories",
            tags=self._tags(f"{name}-instances-to-https"),
            opts=self._child,
        )
        return alb_sg, instance_sg

    def _ingress(
        self,
        label: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        *,
        cidr_ipv4: str | None = None,
        prefix_list_id: pulumi.Input[str] | None = None,
        referenced_security_group_id: pulumi.Input[str] | None = None,
    ) -> None:
        """One TCP port into a group from exactly one source: a CIDR, a prefix list or another group."""
        aws.vpc.SecurityGroupIngressRule(
            label,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr_ipv4,
            prefix_list_id=prefix_list_id,
            referenced_security_group_id=referenced_security_group_id,
            tags=self._tags(label),
            opts=self._child,
        )

    def _health_check_group(self, vpc_id: pulumi.Input[str], account: Account) -> list[aws.ec2.SecurityGroup]:
        """With admit_route53_health_checks behind CloudFront: a second load balancer group admitting Route 53's
        health checkers (this region's managed prefix list) on the serving port; the listener lets them reach
        health_check_path only."""
        if not (self._args["cloudfront_only"] and self._args["admit_route53_health_checks"]):
            return []
        name = self._name
        group = aws.ec2.SecurityGroup(
            f"{name}-alb-health-checks",
            vpc_id=vpc_id,
            description=f"{name} load balancer: Route 53 health checkers in",
            tags=self._tags(f"{name}-alb-health-checks"),
            opts=self._child,
        )
        checkers = aws.ec2.get_managed_prefix_list_output(
            name=account.region.apply(lambda region: ROUTE53_HEALTH_CHECK_PREFIX_LIST.format(region=region)),
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self._ingress(
            f"{name}-alb-from-route53-health-checks", group, self._plan.serving_port, prefix_list_id=checkers.id
        )
        return [group]

    def _load_balancer(
        self, groups: list[aws.ec2.SecurityGroup], subnets: list[pulumi.Input[str]], account: Account
    ) -> aws.lb.LoadBalancer:
        """Internet-facing ALB in every public subnet, or internal in the private ones; access logs to a private SSE-S3
        bucket (ELB accepts no KMS)."""
        name, p = self._name, self._plan

        def log_delivery(v: dict[str, str]) -> list[Statement]:
            return [
                {
                    "Sid": "ElbLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": ELB_LOG_DELIVERY},
                    "Action": "s3:PutObject",
                    "Resource": f"{v['arn']}/alb/AWSLogs/{v['account']}/*",
                }
            ]

        logs = private_bucket(
            f"{name}-access-logs",
            BucketSpec(
                archive=Archive(glacier_days=30, expire_days=365), force_destroy=self._args["force_destroy_buckets"]
            ),
            self._tags(f"{name}-access-logs"),
            self._child,
        )
        logs_policy = bucket_policy(
            f"{name}-access-logs",
            logs,
            self._child,
            statements=log_delivery,
            statement_inputs={"account": account.account_id},
        )
        return aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=p.internal,
            ip_address_type="ipv4",
            security_groups=[group.id for group in groups],
            subnets=subnets,
            enable_deletion_protection=self._args["enable_deletion_protection"],
            enable_zonal_shift=self._args["enable_zonal_shift"],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_http2=True,
            idle_timeout=60,
            access_logs={"bucket": logs.bucket, "prefix": "alb", "enabled": True},
            tags=self._tags(f"{name}-alb"),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[logs_policy])),
        )

    def _target_group(self, vpc_id: pulumi.Input[str]) -> aws.lb.TargetGroup:
        """The app port with a cheap /health check; the delay lets the service finish in-flight requests."""
        name, a = self._name, self._args
        return aws.lb.TargetGroup(
            f"{name}-app",
            vpc_id=vpc_id,
            target_type="instance",
            protocol="HTTP",
            port=a["app_port"],
            deregistration_delay=a["deregistration_delay_seconds"],
            health_check={
                "enabled": True,
                "protocol": "HTTP",
                "port": "traffic-port",
                "path": a["health_check_path"],
                "matcher": "200",
                # The fastest detection ALB allows (interval >= 5 s, above the timeout; thresholds >= 2): the
                # lab's crash drill (docs/resilience.md) lost 200 requests at 5 s x 2 against 1,189 at 15 s x 3,
                # since the ALB never retries a request on another target. /health does no I/O, so 3 s is ample.
                "interval": 5,
                "timeout": 3,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
            tags=self._tags(f"{name}-app"),
            opts=self._child,
        )

    def _listeners(
        self, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup, zone_id: pulumi.Input[str] | None
    ) -> pulumi.Output[str] | None:
        """HTTPS (TLS 1.3 policy) plus an HTTP redirect with a domain, else HTTP; behind CloudFront, a secret header."""
        name, a = self._name, self._args
        forward: aws.lb.ListenerDefaultActionArgsDict = {"type": "forward", "target_group_arn": target_group.arn}
        forbidden: aws.lb.ListenerDefaultActionArgsDict = {
            "type": "fixed-response",
            "fixed_response": {"content_type": "text/plain", "message_body": "Forbidden", "status_code": "403"},
        }
        default = forbidden if a["cloudfront_only"] else forward
        domain = a.get("domain_name")
        if domain is not None and zone_id is not None:
            certificate = dns_validated_certificate(
                f"{name}-certificate",
                domain,
                zone_id,
                tags=self._tags(f"{name}-certificate"),
                opts=self._child,
                alternative_names=a.get("subject_alternative_names", []),
            )
            serving = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=certificate,
                default_actions=[default],
                tags=self._tags(f"{name}-https"),
                opts=self._child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
                ],
                tags=self._tags(f"{name}-http-redirect"),
                opts=self._child,
            )
            aws.route53.Record(
                f"{name}-alias",
                zone_id=zone_id,
                name=domain,
                type="A",
                aliases=[{"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True}],
                opts=self._child,
            )
        else:
            serving = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[default],
                tags=self._tags(f"{name}-http"),
                opts=self._child,
            )
        if not a["cloudfront_only"]:
            return None
        given = a.get("origin_secret")
        secret = (
            pulumi.Output.from_input(given)
            if given is not None
            else random.RandomPassword(f"{name}-origin-secret", length=40, special=False, opts=self._child).result
        )
        aws.lb.ListenerRule(
            f"{name}-from-cloudfront",
            listener_arn=serving.arn,
            priority=10,
            conditions=[{"http_header": {"http_header_name": ORIGIN_HEADER, "values": [secret]}}],
            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=self._tags(f"{name}-from-cloudfront"),
            opts=self._child,
        )
        if a["admit_route53_health_checks"]:
            aws.lb.ListenerRule(
                f"{name}-health-checks",
                listener_arn=serving.arn,
                priority=20,
                conditions=[{"path_pattern": {"values": [a["health_check_path"]]}}],
                actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                tags=self._tags(f"{name}-health-checks"),
                opts=self._child,
            )
        return pulumi.Output.secret(secret)

    def _release(self) -> tuple[aws.s3.Bucket, aws.s3.BucketObjectv2]:
        """The service archive in a private, versioned bucket under a content-hash key.

        Old releases are retained on delete, so an automatic rollback to the previous template still finds them;
        with force_destroy_buckets, destroying the stack empties the bucket, those releases included.
        """
        name, release = self._name, self._plan.release
        spec = BucketSpec(noncurrent_days=90, force_destroy=self._args["force_destroy_buckets"])
        bucket = private_bucket(f"{name}-artifacts", spec, self._tags(f"{name}-artifacts"), self._child)
        policy = bucket_policy(f"{name}-artifacts", bucket, self._child)
        obj = aws.s3.BucketObjectv2(
            f"{name}-release",
            bucket=bucket.id,
            key=release.key,
            source=release.archive(),
            content_type="application/zip",
            metadata={"sha256-of-files": release.digest},
            tags=self._tags(f"{name}-release"),
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[policy], retain_on_delete=True)
            ),
        )
        return bucket, obj

    def _instance_role(
        self, artifacts: aws.s3.Bucket, account: Account
    ) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
        """Session Manager, the CloudWatch agent, this service's releases and its Parameter Store path; nothing else."""
        name, path = self._name, self._args["runtime_config_path"]
        role = aws.iam.Role(
            f"{name}-instances",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=self._tags(f"{name}-instances"),
            opts=self._child,
        )
        for label, policy in (
            ("ssm", "AmazonSSMManagedInstanceCore"),
            ("cloudwatch-agent", "CloudWatchAgentServerPolicy"),
        ):
            aws.iam.RolePolicyAttachment(
                f"{name}-instances-{label}",
                role=role.name,
                policy_arn=account.managed_policy(policy),
                opts=self._child,
            )
        values = pulumi.Output.all(
            bucket=artifacts.arn, partition=account.partition, region=account.region, account=account.account_id
        )
        aws.iam.RolePolicy(
            f"{name}-instances-release-and-config",
            role=role.id,
            policy=values.apply(lambda v: _release_and_config_policy(v, path)),
            opts=self._child,
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-instances", role=role.name, tags=self._tags(f"{name}-instances"), opts=self._child
        )
        return role, profile

    def _launch_template(
        self,
        instance_sg: aws.ec2.SecurityGroup,
        profile: aws.iam.InstanceProfile,
        artifacts: aws.s3.Bucket,
        release: aws.s3.BucketObjectv2,
        account: Account,
    ) -> aws.ec2.LaunchTemplate:
        """The pinned image or Amazon Linux 2023 as of the first deploy, IMDSv2 only, encrypted gp3, no secret in
        user data."""
        name, p, a = self._name, self._plan, self._args
        image_id, image_opts = self._image()
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-service",
            retention_in_days=a["log_retention_days"],
            tags=self._tags(f"{name}-service"),
            opts=self._child,
        )
        user_data = pulumi.Output.all(
            bucket=artifacts.bucket, key=release.key, region=account.region, log_group=log_group.name
        ).apply(
            lambda v: render_user_data(
                Launch(
                    module=p.release.module,
                    bucket=v["bucket"],
                    key=v["key"],
                    digest=p.release.digest,
                    region=v["region"],
                    parameter_path=a["runtime_config_path"],
                    log_group=v["log_group"],
                    stop_timeout_seconds=a["deregistration_delay_seconds"] + DRAIN_MARGIN_SECONDS,
                )
            )
        )
        instance_tags = {**self._tags(f"{name}-instance"), "ha-stack:release": p.release.digest[:20]}
        # One template per CPU architecture: the kept image of one architecture cannot boot the other's
        # instance types, so changing the family (t3 -> t4g) makes a new template with that architecture's image.
        return aws.ec2.LaunchTemplate(
            f"{name}-instances" if p.arch == "x86_64" else f"{name}-instances-{p.arch}",
            image_id=image_id,
            instance_type=a["instance_type"],
            iam_instance_profile={"arn": profile.arn},
            vpc_security_group_ids=[instance_sg.id],
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": a["root_volume_gib"],
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            user_data=user_data.apply(lambda text: base64.b64encode(text.encode()).decode()),
            update_default_version=True,
            tag_specifications=[
                {"resource_type": "instance", "tags": instance_tags},
                {"resource_type": "volume", "tags": instance_tags},
            ],
            tags=self._tags(f"{name}-instances"),
            opts=pulumi.ResourceOptions.merge(self._child, image_opts),
        )

    def _image(self) -> tuple[pulumi.Input[str], pulumi.ResourceOptions]:
        """The image the template boots, and the options that keep an unpinned one until it is pinned.

        AWS's public parameter names the newest Amazon Linux 2023 at each deploy. Followed blindly, every deploy
        after a new image would make a new template version and roll every instance, so the image found at the
        first deploy is kept (ignore_changes) until ami_id asks for another.
        """
        ami_id = self._args.get("ami_id")
        if ami_id is not None:
            return ami_id, pulumi.ResourceOptions()
        latest = aws.ssm.get_parameter_output(
            name=AL2023_PARAMETER.format(arch=self._plan.arch), opts=pulumi.InvokeOutputOptions(parent=self)
        )
        return latest.value, pulumi.ResourceOptions(ignore_changes=["imageId"])


def _release_and_config_policy(v: dict[str, str], path: str) -> str:
    """Read the service's releases, and every parameter under its path (GetParametersByPath names the path itself)."""
    parameters = f"arn:{v['partition']}:ssm:{v['region']}:{v['account']}:parameter{path.rstrip('/')}"
    return policy_document(
        {"Sid": "ReadReleases", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{v['bucket']}/releases/*"},
        {
            "Sid": "ReadRuntimeConfig",
            "Effect": "Allow",
            "Action": ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
            "Resource": [parameters, f"{parameters}/*"],
        },
    )
