"""HaEdge: CloudFront in front of the load balancer and a private static bucket, with WAF, TLS and origin failover."""

import json
import math
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

import pulumi
import pulumi_aws as aws

from ha_stack import checks, options
from ha_stack.buckets import Archive, BucketSpec, bucket_policy, configured, private_bucket
from ha_stack.certificates import dns_validated_certificate
from ha_stack.iam import Statement, assume_role_policy, policy_document
from ha_stack.naming import LAMBDA_FUNCTION, S3_BUCKET, component_tags, derived_name_problem, type_token
from ha_stack.options import shown

GLOBAL_REGION = "us-east-1"
"""CloudFront's certificates, its WAF web ACLs and Route 53 health-check metrics live here."""
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
"""AWS managed cache policy Managed-CachingDisabled."""
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
"""AWS managed origin request policy: every header (but Host), cookie and query string goes to the origin."""
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
"""AWS managed response headers policy Managed-SecurityHeadersPolicy (HSTS, nosniff, frame options, ...)."""
MANAGED_RULE_GROUPS = (
    ("AWSManagedRulesAmazonIpReputationList", 10),
    ("AWSManagedRulesCommonRuleSet", 20),
    ("AWSManagedRulesKnownBadInputsRuleSet", 30),
    ("AWSManagedRulesSQLiRuleSet", 40),
)
"""AWS managed rule groups (name, priority): bad IPs, OWASP common incl. XSS, known exploits, SQL injection."""
BODY_SIZE_RULE_PRIORITY = 15
"""After the IP reputation list, before the common rule set (whose own 8 KB body rule only counts)."""
RATE_RULE_PRIORITY = 50
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
COMMON_BODY_SIZE_RULE = "SizeRestrictions_BODY"
"""The common rule set's rule that blocks bodies over 8 KB; overridden to count, our own size rule decides."""
TOO_LARGE_BODY_KEY = "body-too-large"
INSPECTION_STEP_BYTES = 16 * 1024
"""WAF forwards CloudFront request bodies for inspection in steps of 16 KB, up to 64 KB (KB_16 ... KB_64)."""
MAX_INSPECTABLE_BYTES = 4 * INSPECTION_STEP_BYTES
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
PAGE_METHODS = ["GET", "HEAD", "OPTIONS"]
"""CloudFront refuses POST, PUT, PATCH and DELETE on a behaviour whose target is an origin group."""
MAINTENANCE_PAGE = "maintenance.html"
STATIC_PREFIX = "static"
"""Static files live under /static/ in the bucket and on the site."""
API_PATH_PATTERNS = ("/products*", "/orders*", "/health", "/ready", "/metrics")
"""The service's routes (app/routes.py): their errors reach clients as the service sent them."""
MAX_API_PATTERNS = 20
"""CloudFront allows 25 cache behaviours per distribution by default; /static/* takes one."""
FAILOVER_STATUS_CODES = [500, 502, 503, 504]
"""Primary (load balancer) answers that send a page request to the group's secondary origin (the maintenance
function, or the standby region's load balancer). CloudFront takes any combination of 400, 403, 404, 416, 500, 502,
503 and 504 (CloudFront developer guide, "Optimize high availability with CloudFront origin failover"); only the
server errors mean the primary failed: a 403 or 404 is an answer, and the standby would give the same one."""
RETRY_AFTER_SECONDS = 60
"""Retry-After of the maintenance answer; the maintenance page itself is cached for as long."""
WAF_LOG_PREFIX = "aws-waf-logs-"
"""AWS WAF only delivers logs to CloudWatch Logs log groups whose name starts with this."""
ALWAYS_REDACTED_HEADERS = ("authorization", "cookie")
VPC_ORIGIN_EXCLUDED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "apne1-az3", "cac1-az3"})
"""Zones (by zone id: the same place in every account, unlike a zone name) of supported Regions where CloudFront
offers no VPC origins (CloudFront developer guide, "Restrict access with VPC origins", Supported AWS Regions for VPC
origins: us-east-1 except AZ use1-az3, us-west-1 except usw1-az2, ap-northeast-1 except apne1-az3, ca-central-1
except cac1-az3). A load balancer behind a VPC origin must not be placed in them."""
MAINTENANCE_HANDLER = f'''"""Secondary origin of pages: the maintenance page (503, Retry-After) on any path."""

from pathlib import Path

PAGE = (Path(__file__).parent / "{MAINTENANCE_PAGE}").read_text(encoding="utf-8")


def handler(event, context):
    """A Lambda function URL response; HEAD gets the headers only."""
    method = event.get("requestContext", {{}}).get("http", {{}}).get("method", "GET")
    return {{
        "statusCode": 503,
        "headers": {{
            "Content-Type": "text/html; charset=utf-8",
            "Retry-After": "{RETRY_AFTER_SECONDS}",
            "Cache-Control": "no-store",
        }},
        "body": "" if method == "HEAD" else PAGE,
    }}
'''
"""Source of the maintenance function (module maintenance, handler `handler`), shipped with the page beside it."""


class PriceClass(str, Enum):
    """Which CloudFront edge locations serve the site."""

    PRICE_CLASS_100 = "PriceClass_100"
    """North America and Europe: cheapest."""
    PRICE_CLASS_200 = "PriceClass_200"
    """Adds most of Asia, the Middle East and Africa."""
    PRICE_CLASS_ALL = "PriceClass_All"
    """Every edge location."""


class HaEdgeArgs(TypedDict):
    """Inputs for HaEdge (defaults and checks: ARGS)."""

    origin_domain_name: pulumi.Input[str]
    """Hostname CloudFront sends dynamic requests to: the load balancer's (certificate) name or its DNS name."""
    origin_https: bool
    """Reach the origin over HTTPS (it has a certificate for origin_domain_name); else HTTP."""
    origin_vpc_alb_arn: NotRequired[pulumi.Input[str]]
    """ARN of an internal load balancer in private subnets that CloudFront reaches through a VPC origin (CloudFront
    developer guide, "Restrict access with VPC origins"): nothing crosses the internet, origin secret included.
    Its security group must admit CloudFront's VPC-origin traffic (HaWebTier with internal_subnet_ids and
    cloudfront_only admits CloudFront's origin-facing prefix list), and its VPC needs an internet gateway attached.
    The origin secret header is still sent, inside AWS's network: a second check beside the security group.
    Absent: the origin is origin_domain_name on the internet, which should then be HTTPS (origin_https)."""
    origin_secret: pulumi.Input[str]
    """Secret value CloudFront adds to every origin request (the web tier's origin_secret); the standby and write
    origins get the same header, so their load balancers must require the same value (HaWebTier origin_secret)."""
    standby_origin_domain_name: NotRequired[pulumi.Input[str]]
    """Hostname of the standby region's load balancer (e.g. origin-standby.shop.example.com, its certificate's name),
    reached over HTTPS. Pages (GET, HEAD, OPTIONS) then fail over to it instead of the maintenance page: the origin
    group is (primary load balancer, standby load balancer), and the maintenance function is not declared (an origin
    group has exactly two origins). CloudFront retries on the secondary only GET, HEAD and OPTIONS requests, per
    request, each one starting at the primary (CloudFront developer guide, "Optimize high availability with
    CloudFront origin failover")."""
    write_origin_domain_name: NotRequired[pulumi.Input[str]]
    """Hostname the API behaviours (they allow writes) use as their only origin, over HTTPS: a Route 53 failover name
    (HaRegionalDns, e.g. origin-write.shop.example.com) that follows the database's writer, since CloudFront refuses
    an origin group on a behaviour that allows POST, PUT, PATCH or DELETE. Each load balancer's certificate must
    cover it (HaWebTier subject_alternative_names). Absent: the API uses the primary origin."""
    origin_secret_header: NotRequired[str]
    """Header carrying origin_secret: up to 40 letters, digits or '-'."""
    static_directory: str
    """Directory uploaded to the static bucket under /static/; must hold maintenance.html."""
    domain_name: NotRequired[str]
    """Site hostname (e.g. shop.example.com): certificate, alias records and DNS failover. Needs hosted_zone_id.
    At most 64 characters: it is the certificate's first name, which ACM limits to 64 (RFC 5280). Absent: the
    distribution's own cloudfront.net name."""
    hosted_zone_id: NotRequired[pulumi.Input[str]]
    """Route 53 hosted zone that holds domain_name."""
    price_class: NotRequired[PriceClass]
    """Edge locations used."""
    static_ttl_seconds: NotRequired[int]
    """How long edges cache /static/*, 0 to 31536000 seconds (a year)."""
    api_path_patterns: NotRequired[list[str]]
    """CloudFront path patterns of the service's API (all methods, errors passed through as the service sent them,
    JSON and Retry-After included). Every other path is a page: GET, HEAD and OPTIONS only, answered by the
    maintenance page (503, Retry-After) when the load balancer fails. At most 20 (CloudFront allows 25 cache
    behaviours per distribution; /static/* takes one)."""
    max_body_bytes: NotRequired[int]
    """Largest request body, 1 to 65536 bytes, that WAF lets through (larger ones get the service's own JSON 413);
    the default is the service's limit (app/main.py MAX_BODY_BYTES)."""
    enable_waf: NotRequired[bool]
    """Attach a WAF web ACL with AWS managed rules and a per-IP rate limit."""
    rate_limit_per_5min: NotRequired[int]
    """Requests one client IP may make in 5 minutes before WAF blocks it, 10 to 2000000000 (the range WAF's
    RateBasedStatement accepts)."""
    log_retention_days: NotRequired[int]
    """Days the edge's CloudWatch logs are kept (WAF's request log in us-east-1, the maintenance function's log):
    a CloudWatch Logs retention period."""
    log_glacier_days: NotRequired[int]
    """Days before access logs move to Glacier, 1 to 3650."""
    log_expire_days: NotRequired[int]
    """Days before access logs are deleted, 1 to 3650 and after log_glacier_days."""
    force_destroy_buckets: NotRequired[bool]
    """Empty this component's buckets, every object version, on destroy, so `pulumi destroy` succeeds. Off: data
    is kept."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child."""


@dataclass(frozen=True)
class StaticFile:
    """One file of the static directory: its object key, content type and cache lifetime."""

    path: Path
    key: str
    content_type: str
    max_age_seconds: int

    @property
    def label(self) -> str:
        """A child-name-safe form of the key."""
        return re.sub(r"[^a-z0-9-]+", "-", self.key.lower()).strip("-")


COMPONENT = "HaEdge"
DNS_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
HOSTNAME = rf"({DNS_LABEL}\.)+{DNS_LABEL}"
"""A DNS name of two or more labels of 1 to 63 letters, digits or '-' (not at either end of a label)."""
MAX_HOSTNAME = 253
"""The longest DNS name (ACM API reference, RequestCertificate: "The maximum length of a DNS name is 253 octets")."""
MAX_CERTIFICATE_NAME = 64
"""ACM API reference, RequestCertificate DomainName: "In compliance with RFC 5280, the length of the domain name
(technically, the Common Name) that you provide cannot exceed 64 octets (characters), including periods"."""
PATH_PATTERN = r"/[A-Za-z0-9/_.*?-]{0,254}"
"""A CloudFront path pattern as ha-stack takes it: / first, at most 255 characters."""
CHILD_NAMES = {"static": S3_BUCKET, "logs": S3_BUCKET, "maintenance": LAMBDA_FUNCTION}
"""Children whose physical name Pulumi derives from the component's name. The maintenance function's role and
origin access control share its logical name and its 64-character limit (IAM CreateRole RoleName; CloudFront
OriginAccessControlConfig Name: "up to 64 characters") with looser characters; the WAF web ACL's 128 is looser."""


def hostname(value: str) -> str | None:
    """A DNS name: at most 253 characters, labels of 1 to 63 letters, digits or '-'."""
    if len(value) > MAX_HOSTNAME:
        return f"must be a DNS name of at most {MAX_HOSTNAME} characters, got {len(value)}: {shown(value)}"
    if not re.fullmatch(HOSTNAME, value):
        return (
            "must be a DNS name such as shop.example.com (labels of 1 to 63 letters, digits or '-', not starting or "
            f"ending with '-', joined by dots), got {shown(value)}"
        )
    return None


def certificate_name(value: str) -> str | None:
    """A DNS name ACM takes as a certificate's first name: at most 64 characters."""
    problem = hostname(value)
    if problem is None and len(value) > MAX_CERTIFICATE_NAME:
        return (
            f"must be at most {MAX_CERTIFICATE_NAME} characters: it is the certificate's first name, which ACM "
            f"limits to {MAX_CERTIFICATE_NAME} (RFC 5280), got {len(value)}: {shown(value)}"
        )
    return problem


def static_directory(value: str) -> str | None:
    """A directory holding the maintenance page (served when the origin fails)."""
    try:
        found = (Path(value) / MAINTENANCE_PAGE).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        found = False
    return (
        None
        if found
        else f"must be a directory holding {MAINTENANCE_PAGE} (served when the origin fails), got {shown(value)}"
    )


def api_patterns(value: list[str]) -> str | None:
    """1 to 20 distinct CloudFront path patterns (/ first; letters, digits, / _ - . * ? only), none of them taking
    over the static files or every page."""
    if not value or len(value) > MAX_API_PATTERNS:
        return f"must be a list of 1 to {MAX_API_PATTERNS} path patterns, got {shown(value)}"
    for pattern in value:
        if not re.fullmatch(PATH_PATTERN, pattern):
            return f"{shown(pattern)} is not a path pattern such as /orders* (/ first; letters, digits, / _ - . * ?)"
        if pattern in (f"/{STATIC_PREFIX}/*", "/*", "*"):
            return f"{shown(pattern)} would take over static files or every page"
    if len(set(value)) != len(value):
        return f"patterns must be distinct, got {shown(value)}"
    return None


def _service_routes(_: Mapping[str, Any]) -> list[str]:
    """the service's routes: /products*, /orders*, /health, /ready, /metrics"""
    return list(API_PATH_PATTERNS)


ARGS = options.Spec(
    COMPONENT,
    HaEdgeArgs,
    origin_domain_name=options.Arg(check=hostname),
    origin_https=options.Arg(),
    origin_vpc_alb_arn=options.Arg(),
    origin_secret=options.Arg(),
    standby_origin_domain_name=options.Arg(check=hostname),
    write_origin_domain_name=options.Arg(check=hostname),
    origin_secret_header=options.Arg(
        "X-Origin-Verify", options.matches(r"[A-Za-z0-9-]{1,40}", "a header name of up to 40 letters, digits or -")
    ),
    static_directory=options.Arg(check=static_directory),
    domain_name=options.Arg(check=certificate_name),
    hosted_zone_id=options.Arg(),
    price_class=options.Arg(PriceClass.PRICE_CLASS_100),
    static_ttl_seconds=options.Arg(604800, options.between(0, 31_536_000, " seconds")),
    api_path_patterns=options.Arg(_service_routes, api_patterns),
    max_body_bytes=options.Arg(MAX_INSPECTABLE_BYTES, options.between(1, MAX_INSPECTABLE_BYTES, " bytes")),
    enable_waf=options.Arg(True),
    rate_limit_per_5min=options.Arg(2000, options.between(10, 2_000_000_000)),
    log_retention_days=options.Arg(90, checks.log_retention),
    log_glacier_days=options.Arg(30, checks.archive_days_range),
    log_expire_days=options.Arg(365, checks.archive_days_range),
    force_destroy_buckets=options.Arg(False),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaEdgeArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    pair = {"domain_name", "hosted_zone_id"}
    if not pair & skip and problems.ok(*pair) and len(pair & args.keys()) == 1:
        problems.add("domain_name", "domain_name and hosted_zone_id go together: give both or neither")
    checks.archive_order(args, problems)
    _other_origins(args, problems, skip)
    return args


def _other_origins(args: HaEdgeArgs, problems: options.Problems, skip: frozenset[str]) -> None:
    """The standby is another load balancer than the primary; the write origin is a name on the internet, which a
    primary behind a VPC origin (an internal load balancer) is not."""
    primary, standby = args.get("origin_domain_name"), args.get("standby_origin_domain_name")
    if isinstance(primary, str) and isinstance(standby, str) and primary.lower() == standby.lower():
        problems.add(
            "standby_origin_domain_name",
            f"is the primary origin {shown(primary)}: the standby is the other region's load balancer",
        )
    if "write_origin_domain_name" in args and "origin_vpc_alb_arn" in args and not {"origin_vpc_alb_arn"} & skip:
        problems.add(
            "write_origin_domain_name",
            "is reached on the internet, but the primary load balancer is internal behind a VPC origin "
            "(origin_vpc_alb_arn): a failover name cannot route CloudFront to it",
        )


@dataclass(frozen=True)
class EdgePlan:
    """The checked arguments and what HaEdge derives from them before declaring anything."""

    args: HaEdgeArgs
    static_files: list[StaticFile]
    log_archive: Archive


def static_files(directory: str, ttl_seconds: int) -> list[StaticFile]:
    """Every file under the directory, keyed under static/; the maintenance page is cached for a minute only."""
    root = Path(directory)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
            content_type += "; charset=utf-8"
        max_age = 60 if relative == MAINTENANCE_PAGE else ttl_seconds
        files.append(StaticFile(path, f"{STATIC_PREFIX}/{relative}", content_type, max_age))
    return files


def inspection_limit(max_body_bytes: int) -> str:
    """The smallest WAF body inspection limit for CloudFront that sees max_body_bytes whole (KB_16 ... KB_64).

    Bodies up to the limit are inspected entirely; a size rule at max_body_bytes with oversize handling MATCH then
    catches every larger body exactly (AWS WAF developer guide, "Managing body inspection size limits").
    """
    return f"KB_{16 * math.ceil(max_body_bytes / INSPECTION_STEP_BYTES)}"


def plan(args: HaEdgeArgs, name: str = "edge") -> EdgePlan:
    """Every problem of the arguments and of the names derived from `name`, raised at once before any resource
    exists; then what is derived from them. Pure, so it is tested without mocks."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    derived = derived_name_problem(name, CHILD_NAMES) if isinstance(name, str) else "must be a string"
    if derived:
        problems.add("name", derived)
    problems.raise_any()
    return EdgePlan(
        args=checked,
        static_files=static_files(checked["static_directory"], checked["static_ttl_seconds"]),
        log_archive=Archive(glacier_days=checked["log_glacier_days"], expire_days=checked["log_expire_days"]),
    )


@dataclass(frozen=True)
class MaintenanceOrigin:
    """The function URL that answers page requests while the load balancer fails, and what CloudFront signs it with."""

    function_name: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    access_control_id: pulumi.Output[str]


class HaEdge(pulumi.ComponentResource):
    """A CloudFront distribution with WAF in front of the load balancer and a private static-assets bucket."""

    distribution_id: pulumi.Output[str]
    """The distribution id: the DistributionId dimension of its metrics."""
    distribution_domain: pulumi.Output[str]
    """The distribution's cloudfront.net name."""
    distribution_arn: pulumi.Output[str]
    """The distribution's ARN."""
    site_url: pulumi.Output[str]
    """https://<domain_name>, or https://<distribution domain> without one."""
    static_bucket: pulumi.Output[str]
    """The private bucket holding /static/."""
    static_bucket_name: pulumi.Output[str]
    """The static bucket's name (versioned): the source a standby region's replica copies (HaBucketReplication
    source_bucket)."""
    static_bucket_arn: pulumi.Output[str]
    """The static bucket's ARN (HaBucketReplication source_bucket_arn)."""
    web_acl_arn: pulumi.Output[str]
    """The WAF web ACL's ARN (empty without WAF)."""
    web_acl_name: pulumi.Output[str]
    """The WAF web ACL's name: the WebACL dimension of its metrics (empty without WAF)."""
    waf_log_group: pulumi.Output[str]
    """The CloudWatch Logs log group (us-east-1) holding WAF's request log (empty without WAF)."""
    health_check_id: pulumi.Output[str]
    """Route 53 health check of https://<distribution domain>/health: for alarms, routes no DNS name."""

    def __init__(self, name: str, args: HaEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args, name)
        self._name, self._plan, self._args = name, p, p.args
        self._child = pulumi.ResourceOptions(parent=self)
        a = p.args
        zone_id, domain = a.get("hosted_zone_id"), a.get("domain_name")
        if not a["origin_https"] and "origin_vpc_alb_arn" not in a:
            pulumi.log.warn(
                f"{name}: CloudFront reaches the load balancer over plain HTTP on the internet, origin secret "
                "included; give HaEdge a domain (HTTPS origin) or origin_vpc_alb_arn (VPC origin)",
                resource=self,
            )
        static = private_bucket(
            f"{name}-static",
            BucketSpec(force_destroy=a["force_destroy_buckets"]),
            self._tags(f"{name}-static"),
            self._child,
        )
        logs = private_bucket(
            f"{name}-logs",
            BucketSpec(archive=p.log_archive, acl_log_delivery=True, force_destroy=a["force_destroy_buckets"]),
            self._tags(f"{name}-logs"),
            self._child,
        )
        logs_policy = bucket_policy(f"{name}-logs", logs, self._child)
        acl, waf_log_group = self._web_acl(a["origin_secret_header"]) if a["enable_waf"] else (None, None)
        certificate = (
            dns_validated_certificate(
                f"{name}-certificate",
                domain,
                zone_id,
                tags=self._tags(f"{name}-certificate"),
                opts=self._child,
                region=GLOBAL_REGION,
            )
            if domain and zone_id is not None
            else None
        )
        maintenance = self._maintenance_origin() if "standby_origin_domain_name" not in a else None
        distribution = self._distribution(
            a, static, logs, acl, certificate, maintenance, self._log_bucket_ready(logs, logs_policy)
        )
        if maintenance is not None:
            self._let_cloudfront_call(maintenance, distribution)
        static_policy = bucket_policy(
            f"{name}-static",
            static,
            self._child,
            statements=_cloudfront_read,
            statement_inputs={"distribution": distribution.arn},
        )
        self._upload(static, static_policy)
        health_check = self._health_check(distribution.domain_name)
        if domain and zone_id is not None:
            self._dns(domain, zone_id, distribution)

        self.distribution_id = distribution.id
        self.distribution_domain = distribution.domain_name
        self.distribution_arn = distribution.arn
        self.site_url = pulumi.Output.concat("https://", domain or distribution.domain_name)
        self.static_bucket = static.bucket
        self.static_bucket_name = static.bucket
        self.static_bucket_arn = static.arn
        self.web_acl_arn = acl.arn if acl else pulumi.Output.from_input("")
        self.web_acl_name = acl.name if acl else pulumi.Output.from_input("")
        self.waf_log_group = waf_log_group.name if waf_log_group else pulumi.Output.from_input("")
        self.health_check_id = health_check.id
        self.register_outputs(
            {
                "distribution_id": self.distribution_id,
                "distribution_domain": self.distribution_domain,
                "distribution_arn": self.distribution_arn,
                "site_url": self.site_url,
                "static_bucket": self.static_bucket,
                "static_bucket_name": self.static_bucket_name,
                "static_bucket_arn": self.static_bucket_arn,
                "web_acl_arn": self.web_acl_arn,
                "web_acl_name": self.web_acl_name,
                "waf_log_group": self.waf_log_group,
                "health_check_id": self.health_check_id,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags(COMPONENT, self._args["tags"], name=name)

    def _let_cloudfront_call(self, maintenance: "MaintenanceOrigin", distribution: aws.cloudfront.Distribution) -> None:
        """Only this distribution may call the maintenance function, and only through its URL."""
        name = self._name
        aws.lambda_.Permission(
            f"{name}-maintenance-url",
            action="lambda:InvokeFunctionUrl",
            function=maintenance.function_name,
            principal="cloudfront.amazonaws.com",
            source_arn=distribution.arn,
            function_url_auth_type="AWS_IAM",
            opts=self._child,
        )
        aws.lambda_.Permission(
            f"{name}-maintenance-invoke",
            action="lambda:InvokeFunction",
            function=maintenance.function_name,
            principal="cloudfront.amazonaws.com",
            source_arn=distribution.arn,
            invoked_via_function_url=True,
            opts=self._child,
        )

    @staticmethod
    def _log_bucket_ready(logs: aws.s3.Bucket, policy: aws.s3.BucketPolicy) -> list[pulumi.Resource]:
        """What the distribution waits for: the log bucket with every guard applied, ACLs enabled, and its policy.

        "When you create or update a distribution and enable logging, CloudFront uses these permissions to update
        the ACL for the bucket to give the awslogsdelivery account FULL_CONTROL", and a bucket owner enforced
        ownership "disables ACLs ... which prevents CloudFront from delivering log files" (CloudFront developer
        guide, standard logging): the ownership setting must be applied before the distribution.
        """
        return [configured(logs), policy]

    def _web_acl(self, secret_header: str) -> tuple[aws.wafv2.WebAcl, aws.cloudwatch.LogGroup]:
        """AWS managed rule groups, a body-size rule and a per-IP rate limit, scoped to CloudFront (us-east-1)."""
        name, max_body = self._name, self._args["max_body_bytes"]
        rules: list[aws.wafv2.WebAclRuleArgsDict] = [
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {
                    "managed_rule_group_statement": {
                        "vendor_name": "AWS",
                        "name": group,
                        "rule_action_overrides": (
                            [{"name": COMMON_BODY_SIZE_RULE, "action_to_use": {"count": {}}}]
                            if group == COMMON_RULE_SET
                            else []
                        ),
                    }
                },
                "visibility_config": _visibility(group),
            }
            for group, priority in MANAGED_RULE_GROUPS
        ]
        rules.append(self._body_size_rule())
        rules.append(
            {
                "name": "rate-limit-per-ip",
                "priority": RATE_RULE_PRIORITY,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "aggregate_key_type": "IP",
                        "limit": self._args["rate_limit_per_5min"],
                        "evaluation_window_sec": 300,
                    }
                },
                "visibility_config": _visibility("rate-limit-per-ip"),
            }
        )
        association: aws.wafv2.WebAclAssociationConfigArgsDict = {
            "request_bodies": [{"cloudfront": {"default_size_inspection_limit": inspection_limit(max_body)}}]
        }
        too_large: aws.wafv2.WebAclCustomResponseBodyArgsDict = {
            "key": TOO_LARGE_BODY_KEY,
            "content_type": "APPLICATION_JSON",
            "content": json.dumps({"error": f"request body over {max_body} bytes"}),
        }
        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="CLOUDFRONT",
            region=GLOBAL_REGION,
            description=f"{name}: managed rules, a body size limit and a per-IP rate limit in front of the site",
            default_action={"allow": {}},
            rules=rules,
            association_config=association,
            custom_response_bodies=[too_large],
            visibility_config=_visibility(f"{name}-waf"),
            tags=self._tags(f"{name}-waf"),
            opts=self._child,
        )
        return acl, self._waf_logging(acl, secret_header)

    def _body_size_rule(self) -> aws.wafv2.WebAclRuleArgsDict:
        """Bodies over max_body_bytes get the service's own answer (413, the same JSON) at the edge.

        With the inspection limit at or above max_body_bytes, a body WAF cannot see whole is larger than
        max_body_bytes, so oversize handling MATCH is exact.
        """
        limit = self._args["max_body_bytes"]
        return {
            "name": "body-size-limit",
            "priority": BODY_SIZE_RULE_PRIORITY,
            "action": {
                "block": {"custom_response": {"response_code": 413, "custom_response_body_key": TOO_LARGE_BODY_KEY}}
            },
            "statement": {
                "size_constraint_statement": {
                    "comparison_operator": "GT",
                    "size": limit,
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "text_transformations": [{"priority": 0, "type": "NONE"}],
                }
            },
            "visibility_config": _visibility("body-size-limit"),
        }

    def _waf_logging(self, acl: aws.wafv2.WebAcl, secret_header: str) -> aws.cloudwatch.LogGroup:
        """WAF's request log in CloudWatch Logs, without credentials, cookies or the origin secret.

        A CloudFront web ACL logs to us-east-1 and only to a log group named aws-waf-logs-*.
        """
        name = f"{self._name}-waf-logs"
        group = aws.cloudwatch.LogGroup(
            name,
            name_prefix=f"{WAF_LOG_PREFIX}{self._name}-",
            region=GLOBAL_REGION,
            retention_in_days=self._args["log_retention_days"],
            tags=self._tags(name),
            opts=self._child,
        )
        redacted = [*ALWAYS_REDACTED_HEADERS, secret_header.lower()]
        aws.wafv2.WebAclLoggingConfiguration(
            name,
            resource_arn=acl.arn,
            region=GLOBAL_REGION,
            log_destination_configs=[group.arn],
            redacted_fields=[{"single_header": {"name": header}} for header in redacted],
            opts=self._child,
        )
        return group

    def _maintenance_origin(self) -> MaintenanceOrigin:
        """A function URL that answers every page request with the maintenance page (503, Retry-After).

        CloudFront's origin failover retries a failed GET/HEAD/OPTIONS on the secondary origin with the same path,
        so the secondary must answer any path: a bucket would answer 403 for /checkout. Only CloudFront may call
        the URL (AWS_IAM and an origin access control that signs every request).
        """
        name = f"{self._name}-maintenance"
        page = next(f for f in self._plan.static_files if f.key == f"{STATIC_PREFIX}/{MAINTENANCE_PAGE}")
        role = aws.iam.Role(
            name,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=self._tags(name),
            opts=self._child,
        )
        log_group = aws.cloudwatch.LogGroup(
            name, retention_in_days=self._args["log_retention_days"], tags=self._tags(name), opts=self._child
        )
        write_logs = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: policy_document(
                    {
                        "Sid": "WriteOwnLog",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"{arn}:*",
                    }
                )
            ),
            opts=self._child,
        )
        function = aws.lambda_.Function(
            name,
            runtime="python3.12",
            architectures=["arm64"],
            handler="maintenance.handler",
            code=pulumi.AssetArchive(
                {
                    "maintenance.py": pulumi.StringAsset(MAINTENANCE_HANDLER),
                    MAINTENANCE_PAGE: pulumi.FileAsset(str(page.path)),
                }
            ),
            role=role.arn,
            memory_size=128,
            timeout=3,
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=self._tags(name),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[write_logs])),
        )
        url = aws.lambda_.FunctionUrl(name, function_name=function.name, authorization_type="AWS_IAM", opts=self._child)
        access = aws.cloudfront.OriginAccessControl(
            name,
            description=f"{self._name}: CloudFront signs its calls to the maintenance function",
            origin_access_control_origin_type="lambda",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._child,
        )
        return MaintenanceOrigin(
            function_name=function.name,
            domain_name=url.function_url.apply(lambda u: u.removeprefix("https://").rstrip("/")),
            access_control_id=access.id,
        )

    def _alb_origin(self, args: HaEdgeArgs) -> aws.cloudfront.DistributionOriginArgsDict:
        """The load balancer, with the secret header; through a VPC origin when origin_vpc_alb_arn is given."""
        origin: aws.cloudfront.DistributionOriginArgsDict = {
            "origin_id": "alb",
            "domain_name": args["origin_domain_name"],
            "connection_timeout": 5,
            "custom_headers": [{"name": args["origin_secret_header"], "value": args["origin_secret"]}],
        }
        protocol = "https-only" if args["origin_https"] else "http-only"
        alb_arn = args.get("origin_vpc_alb_arn")
        if alb_arn is None:
            origin["custom_origin_config"] = {
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": protocol,
                "origin_ssl_protocols": ["TLSv1.2"],
                "origin_read_timeout": 30,
                "origin_keepalive_timeout": 5,
            }
            return origin
        vpc_origin = aws.cloudfront.VpcOrigin(
            f"{self._name}-alb",
            vpc_origin_endpoint_config={
                "name": f"{self._name}-alb",
                "arn": alb_arn,
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": protocol,
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            tags=self._tags(f"{self._name}-alb"),
            opts=self._child,
        )
        origin["vpc_origin_config"] = {
            "vpc_origin_id": vpc_origin.id,
            "origin_read_timeout": 30,
            "origin_keepalive_timeout": 5,
        }
        return origin

    @staticmethod
    def _https_origin(
        origin_id: str, domain: pulumi.Input[str], args: HaEdgeArgs
    ) -> aws.cloudfront.DistributionOriginArgsDict:
        """Another region's load balancer (or the failover name in front of both) over HTTPS, with the secret header:
        these origins are on the internet, so the secret never travels in plain text."""
        return {
            "origin_id": origin_id,
            "domain_name": domain,
            "connection_timeout": 5,
            "custom_headers": [{"name": args["origin_secret_header"], "value": args["origin_secret"]}],
            "custom_origin_config": {
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": "https-only",
                "origin_ssl_protocols": ["TLSv1.2"],
                "origin_read_timeout": 30,
                "origin_keepalive_timeout": 5,
            },
        }

    def _failover_origins(
        self, args: HaEdgeArgs, maintenance: "MaintenanceOrigin | None"
    ) -> tuple[list[aws.cloudfront.DistributionOriginArgsDict], str]:
        """The origins beside the primary and the static bucket, and the pages group's secondary origin id: the
        standby load balancer when there is one, else the maintenance function; plus the write origin if given."""
        extra: list[aws.cloudfront.DistributionOriginArgsDict] = []
        standby, write = args.get("standby_origin_domain_name"), args.get("write_origin_domain_name")
        if standby is not None:
            extra.append(self._https_origin("standby", standby, args))
        if write is not None:
            extra.append(self._https_origin("write", write, args))
        if maintenance is not None:
            extra.append(
                {
                    "origin_id": "maintenance",
                    "domain_name": maintenance.domain_name,
                    "origin_access_control_id": maintenance.access_control_id,
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                    },
                }
            )
        return extra, "standby" if standby is not None else "maintenance"

    def _distribution(  # noqa: PLR0917
        self,
        args: HaEdgeArgs,
        static: aws.s3.Bucket,
        logs: aws.s3.Bucket,
        acl: aws.wafv2.WebAcl | None,
        certificate: pulumi.Output[str] | None,
        maintenance: MaintenanceOrigin | None,
        log_bucket_ready: list[pulumi.Resource],
    ) -> aws.cloudfront.Distribution:
        """Pages fail over to the standby load balancer, else to the maintenance origin; the API goes straight to the
        write origin (else the primary) and /static/* to the bucket.

        Custom error responses would apply to the whole distribution (they are a distribution setting, not a cache
        behaviour's), API answers included, so there are none: an API 502/503/504 reaches the client as the origin
        sent it.
        """
        name = self._name
        access = aws.cloudfront.OriginAccessControl(
            f"{name}-static",
            description=f"{name}: CloudFront reads the static bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._child,
        )
        viewer_certificate: aws.cloudfront.DistributionViewerCertificateArgsDict = (
            {
                "acm_certificate_arn": certificate,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2021",
            }
            if certificate is not None
            else {"cloudfront_default_certificate": True}
        )
        dynamic: dict[str, object] = {
            "viewer_protocol_policy": "redirect-to-https",
            "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CACHING_DISABLED,
            "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
            "response_headers_policy_id": SECURITY_HEADERS,
            "compress": True,
        }
        api_origin = "write" if "write_origin_domain_name" in args else "alb"
        api: list[aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict] = [
            cast(
                aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict,
                {"path_pattern": pattern, "target_origin_id": api_origin, "allowed_methods": ALL_METHODS, **dynamic},
            )
            for pattern in args["api_path_patterns"]
        ]
        failover_origins, secondary = self._failover_origins(args, maintenance)
        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"{name}: site and static assets",
            aliases=[args["domain_name"]] if args.get("domain_name") else [],
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args["price_class"].value,
            web_acl_id=acl.arn if acl else None,
            origins=[
                self._alb_origin(args),
                {
                    "origin_id": "static",
                    "domain_name": static.bucket_regional_domain_name,
                    "origin_access_control_id": access.id,
                },
                *failover_origins,
            ],
            origin_groups=[
                {
                    "origin_id": "pages",
                    "failover_criteria": {"status_codes": FAILOVER_STATUS_CODES},
                    "members": [{"origin_id": "alb"}, {"origin_id": secondary}],
                }
            ],
            default_cache_behavior=cast(
                aws.cloudfront.DistributionDefaultCacheBehaviorArgsDict,
                {"target_origin_id": "pages", "allowed_methods": PAGE_METHODS, **dynamic},
            ),
            ordered_cache_behaviors=[
                {
                    "path_pattern": f"/{STATIC_PREFIX}/*",
                    "target_origin_id": "static",
                    "viewer_protocol_policy": "redirect-to-https",
                    "allowed_methods": ["GET", "HEAD"],
                    "cached_methods": ["GET", "HEAD"],
                    "cache_policy_id": self._static_cache_policy(),
                    "response_headers_policy_id": SECURITY_HEADERS,
                    "compress": True,
                },
                *api,
            ],
            logging_config={"bucket": logs.bucket_domain_name, "include_cookies": False, "prefix": "cloudfront/"},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate,
            tags=self._tags(f"{name}-cdn"),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=log_bucket_ready)),
        )

    def _static_cache_policy(self) -> pulumi.Input[str]:
        """Static files stay at the edge for static_ttl_seconds, compressed; nothing varies the cache key."""
        name, ttl = self._name, self._args["static_ttl_seconds"]
        if ttl == 0:
            return CACHING_DISABLED  # AWS refuses compression settings on a policy that caches nothing
        return aws.cloudfront.CachePolicy(
            f"{name}-static",
            comment=f"{name}: static assets, {ttl} s at the edge",
            min_ttl=0,
            default_ttl=ttl,
            max_ttl=ttl,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=self._child,
        ).id

    def _upload(self, bucket: aws.s3.Bucket, policy: aws.s3.BucketPolicy) -> None:
        """Each static file with its content type and a Cache-Control matching the edge TTL."""
        for file in self._plan.static_files:
            aws.s3.BucketObjectv2(
                f"{self._name}-{file.label}",
                bucket=bucket.id,
                key=file.key,
                source=pulumi.FileAsset(str(file.path)),
                content_type=file.content_type,
                cache_control=f"public, max-age={file.max_age_seconds}",
                tags=self._tags(f"{self._name}-{file.label}"),
                opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[policy])),
            )

    def _health_check(self, distribution_domain: pulumi.Input[str]) -> aws.route53.HealthCheck:
        """HTTPS /health through the whole path (edge, WAF, load balancer, instances), from several regions.

        It probes the distribution's own cloudfront.net name, which no record of ours routes on: a health check
        on the name of the record it decides makes Route 53's answers unpredictable, and the load balancer's
        own name refuses requests without the origin secret. It feeds the edge alarms only.
        """
        return aws.route53.HealthCheck(
            f"{self._name}-health",
            type="HTTPS",
            fqdn=distribution_domain,
            port=443,
            resource_path="/health",
            enable_sni=True,
            request_interval=30,
            failure_threshold=3,
            measure_latency=True,
            tags=self._tags(f"{self._name}-health"),
            opts=self._child,
        )

    def _dns(self, domain: str, zone_id: pulumi.Input[str], distribution: aws.cloudfront.Distribution) -> None:
        """A and AAAA aliases of the domain to the distribution, with no health check of their own.

        A stays a failover PRIMARY record (no secondary, no health check, so always answered): stacks deployed
        with the former S3-website secondary update it in place, where a plain record could not be created
        beside the failover pair. A standby region needs no secondary here: the distribution itself is global, and
        it reaches the standby through its origin group (pages) and the write origin (HaRegionalDns's name).
        """
        name = self._name
        to_distribution: list[aws.route53.RecordAliasArgsDict] = [
            {"name": distribution.domain_name, "zone_id": distribution.hosted_zone_id, "evaluate_target_health": False}
        ]
        aws.route53.Record(
            f"{name}-primary",
            zone_id=zone_id,
            name=domain,
            type="A",
            set_identifier="primary",
            failover_routing_policies=[{"type": "PRIMARY"}],
            aliases=to_distribution,
            opts=self._child,
        )
        aws.route53.Record(
            f"{name}-ipv6", zone_id=zone_id, name=domain, type="AAAA", aliases=to_distribution, opts=self._child
        )


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def _cloudfront_read(v: dict[str, str]) -> list[Statement]:
    """Origin access control: only this distribution (by ARN) may read, and only objects."""
    return [
        {
            "Sid": "CloudFrontReadsStaticFiles",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{v['arn']}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": v["distribution"]}},
        }
    ]
