"""HaEdge: CloudFront in front of the load balancer and a private static bucket, with WAF, TLS and DNS failover."""

import mimetypes
import re
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import checks
from ha_stack.buckets import Archive, BucketSpec, bucket_policy, private_bucket
from ha_stack.certificates import dns_validated_certificate
from ha_stack.iam import Statement, policy_document
from ha_stack.naming import component_tags, type_token

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
RATE_RULE_PRIORITY = 50
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
MAINTENANCE_PAGE = "maintenance.html"
STATIC_PREFIX = "static"
"""Static files live under /static/ in the bucket and on the site."""
ORIGIN_ERRORS = (502, 503, 504)
"""Origin failures answered with the maintenance page (status 503) instead of CloudFront's error."""


class PriceClass(str, Enum):
    """Which CloudFront edge locations serve the site."""

    PRICE_CLASS_100 = "PriceClass_100"
    """North America and Europe: cheapest."""
    PRICE_CLASS_200 = "PriceClass_200"
    """Adds most of Asia, the Middle East and Africa."""
    PRICE_CLASS_ALL = "PriceClass_All"
    """Every edge location."""


class HaEdgeArgs(TypedDict):
    """Inputs for HaEdge."""

    origin_domain_name: pulumi.Input[str]
    """Hostname CloudFront sends dynamic requests to: the load balancer's (certificate) name or its DNS name."""
    origin_https: bool
    """Reach the origin over HTTPS (it has a certificate for origin_domain_name); else HTTP."""
    origin_secret: pulumi.Input[str]
    """Secret value CloudFront adds to every origin request (the web tier's origin_secret)."""
    origin_secret_header: NotRequired[str]
    """Header carrying origin_secret. Default X-Origin-Verify."""
    static_directory: str
    """Directory uploaded to the static bucket under /static/; must hold maintenance.html."""
    domain_name: NotRequired[str]
    """Site hostname (e.g. shop.example.com): certificate, alias records and DNS failover. Needs hosted_zone_id.
    Default none: the distribution's own cloudfront.net name."""
    hosted_zone_id: NotRequired[pulumi.Input[str]]
    """Route 53 hosted zone that holds domain_name."""
    price_class: NotRequired[PriceClass]
    """Edge locations used. Default PriceClass_100."""
    static_ttl_seconds: NotRequired[int]
    """How long edges cache /static/*, 0 to 31536000 seconds. Default 604800 (7 days)."""
    enable_waf: NotRequired[bool]
    """Attach a WAF web ACL with AWS managed rules and a per-IP rate limit. Default true."""
    rate_limit_per_5min: NotRequired[int]
    """Requests one client IP may make in 5 minutes before WAF blocks it, 10 to 2000000000. Default 2000."""
    log_glacier_days: NotRequired[int]
    """Days before access logs move to Glacier. Default 30."""
    log_expire_days: NotRequired[int]
    """Days before access logs are deleted (after log_glacier_days). Default 365."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every taggable child. Default none."""


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


@dataclass(frozen=True)
class EdgePlan:
    """HaEdgeArgs with defaults applied and every plain value checked."""

    origin_https: bool
    origin_secret_header: str
    static_files: list[StaticFile]
    domain_name: str | None
    price_class: PriceClass
    static_ttl_seconds: int
    enable_waf: bool
    rate_limit_per_5min: int
    log_archive: Archive
    tags: dict[str, str]


COMPONENT = "HaEdge"
_fail = partial(checks.fail, COMPONENT)
_int = partial(checks.integer, COMPONENT)


def static_files(directory: str, ttl_seconds: int) -> list[StaticFile]:
    """Every file under the directory, keyed under static/; the maintenance page is cached for a minute only."""
    root = Path(directory)
    if not (root / MAINTENANCE_PAGE).is_file():
        raise _fail("static_directory", f"{directory!r} must hold {MAINTENANCE_PAGE} (served when the origin fails)")
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
            content_type += "; charset=utf-8"
        max_age = 60 if relative == MAINTENANCE_PAGE else ttl_seconds
        files.append(StaticFile(path, f"{STATIC_PREFIX}/{relative}", content_type, max_age))
    return files


def plan(args: HaEdgeArgs) -> EdgePlan:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    domain = args.get("domain_name")
    if (domain is None) != ("hosted_zone_id" not in args):
        raise _fail("domain_name", "domain_name and hosted_zone_id go together: give both or neither")
    ttl = _int(args, "static_ttl_seconds", 604800, 0, 31_536_000)
    glacier, expire = checks.archive_days(COMPONENT, args, 30, 365)
    header = args.get("origin_secret_header", "X-Origin-Verify")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", header):
        raise _fail("origin_secret_header", f"must be a header name of up to 40 letters, digits or -, got {header!r}")
    return EdgePlan(
        origin_https=bool(args["origin_https"]),
        origin_secret_header=header,
        static_files=static_files(args["static_directory"], ttl),
        domain_name=domain,
        price_class=checks.choice(
            COMPONENT, "price_class", args.get("price_class", PriceClass.PRICE_CLASS_100), PriceClass
        ),
        static_ttl_seconds=ttl,
        enable_waf=args.get("enable_waf", True),
        rate_limit_per_5min=_int(args, "rate_limit_per_5min", 2000, 10, 2_000_000_000),
        log_archive=Archive(glacier_days=glacier, expire_days=expire),
        tags=dict(args.get("tags") or {}),
    )


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
    web_acl_arn: pulumi.Output[str]
    """The WAF web ACL's ARN (empty without WAF)."""
    web_acl_name: pulumi.Output[str]
    """The WAF web ACL's name: the WebACL dimension of its metrics (empty without WAF)."""
    health_check_id: pulumi.Output[str]
    """Route 53 health check of https://<site>/health."""

    def __init__(self, name: str, args: HaEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("HaEdge"), name, None, opts)
        p = plan(args)
        self._name, self._plan = name, p
        self._child = pulumi.ResourceOptions(parent=self)
        zone_id = args.get("hosted_zone_id")
        static = private_bucket(f"{name}-static", BucketSpec(), self._tags(f"{name}-static"), self._child)
        logs = private_bucket(
            f"{name}-logs",
            BucketSpec(archive=p.log_archive, acl_log_delivery=True),
            self._tags(f"{name}-logs"),
            self._child,
        )
        bucket_policy(f"{name}-logs", logs, self._child)
        acl = self._web_acl() if p.enable_waf else None
        certificate = (
            dns_validated_certificate(
                f"{name}-certificate",
                p.domain_name,
                zone_id,
                tags=self._tags(f"{name}-certificate"),
                opts=self._child,
                region=GLOBAL_REGION,
            )
            if p.domain_name and zone_id is not None
            else None
        )
        distribution = self._distribution(args, static, logs, acl, certificate)
        static_policy = bucket_policy(
            f"{name}-static",
            static,
            self._child,
            statements=_cloudfront_read,
            statement_inputs={"distribution": distribution.arn},
        )
        self._upload(static, static_policy)
        site = p.domain_name or distribution.domain_name
        health_check = self._health_check(site)
        if p.domain_name and zone_id is not None:
            self._dns(p.domain_name, zone_id, distribution, health_check)

        self.distribution_id = distribution.id
        self.distribution_domain = distribution.domain_name
        self.distribution_arn = distribution.arn
        self.site_url = pulumi.Output.concat("https://", site)
        self.static_bucket = static.bucket
        self.web_acl_arn = acl.arn if acl else pulumi.Output.from_input("")
        self.web_acl_name = acl.name if acl else pulumi.Output.from_input("")
        self.health_check_id = health_check.id
        self.register_outputs(
            {
                "distribution_id": self.distribution_id,
                "distribution_domain": self.distribution_domain,
                "distribution_arn": self.distribution_arn,
                "site_url": self.site_url,
                "static_bucket": self.static_bucket,
                "web_acl_arn": self.web_acl_arn,
                "web_acl_name": self.web_acl_name,
                "health_check_id": self.health_check_id,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return component_tags("HaEdge", self._plan.tags, name=name)

    def _web_acl(self) -> aws.wafv2.WebAcl:
        """AWS managed rule groups and a per-IP rate limit, scoped to CloudFront (so it lives in us-east-1)."""
        name, p = self._name, self._plan
        rules: list[aws.wafv2.WebAclRuleArgsDict] = [
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
                "visibility_config": _visibility(group),
            }
            for group, priority in MANAGED_RULE_GROUPS
        ]
        rules.append(
            {
                "name": "rate-limit-per-ip",
                "priority": RATE_RULE_PRIORITY,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "aggregate_key_type": "IP",
                        "limit": p.rate_limit_per_5min,
                        "evaluation_window_sec": 300,
                    }
                },
                "visibility_config": _visibility("rate-limit-per-ip"),
            }
        )
        return aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="CLOUDFRONT",
            region=GLOBAL_REGION,
            description=f"{name}: managed rules and a per-IP rate limit in front of the site",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(f"{name}-waf"),
            tags=self._tags(f"{name}-waf"),
            opts=self._child,
        )

    def _distribution(
        self,
        args: HaEdgeArgs,
        static: aws.s3.Bucket,
        logs: aws.s3.Bucket,
        acl: aws.wafv2.WebAcl | None,
        certificate: pulumi.Output[str] | None,
    ) -> aws.cloudfront.Distribution:
        """The ALB by default (no caching, the viewer's headers, cookies and query), /static/* from the bucket."""
        name, p = self._name, self._plan
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
        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"{name}: site and static assets",
            aliases=[p.domain_name] if p.domain_name else [],
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=p.price_class.value,
            web_acl_id=acl.arn if acl else None,
            origins=[
                {
                    "origin_id": "alb",
                    "domain_name": args["origin_domain_name"],
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only" if p.origin_https else "http-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                        "origin_read_timeout": 30,
                        "origin_keepalive_timeout": 5,
                    },
                    "custom_headers": [{"name": p.origin_secret_header, "value": args["origin_secret"]}],
                },
                {
                    "origin_id": "static",
                    "domain_name": static.bucket_regional_domain_name,
                    "origin_access_control_id": access.id,
                },
            ],
            default_cache_behavior={
                "target_origin_id": "alb",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ALL_METHODS,
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                "response_headers_policy_id": SECURITY_HEADERS,
                "compress": True,
            },
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
                }
            ],
            custom_error_responses=[
                {
                    "error_code": code,
                    "response_code": 503,
                    "response_page_path": f"/{STATIC_PREFIX}/{MAINTENANCE_PAGE}",
                    "error_caching_min_ttl": 10,
                }
                for code in ORIGIN_ERRORS
            ],
            logging_config={"bucket": logs.bucket_domain_name, "include_cookies": False, "prefix": "cloudfront/"},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate,
            tags=self._tags(f"{name}-cdn"),
            opts=self._child,
        )

    def _static_cache_policy(self) -> pulumi.Input[str]:
        """Static files stay at the edge for static_ttl_seconds, compressed; nothing varies the cache key."""
        name, ttl = self._name, self._plan.static_ttl_seconds
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

    def _health_check(self, site: pulumi.Input[str]) -> aws.route53.HealthCheck:
        """HTTPS /health through the whole path (edge, WAF, load balancer, instances), from several regions."""
        return aws.route53.HealthCheck(
            f"{self._name}-health",
            type="HTTPS",
            fqdn=site,
            port=443,
            resource_path="/health",
            enable_sni=True,
            request_interval=30,
            failure_threshold=3,
            measure_latency=True,
            tags=self._tags(f"{self._name}-health"),
            opts=self._child,
        )

    def _dns(
        self,
        domain: str,
        zone_id: pulumi.Input[str],
        distribution: aws.cloudfront.Distribution,
        health_check: aws.route53.HealthCheck,
    ) -> None:
        """A failover pair for A (the distribution while healthy, else a static maintenance site) and AAAA."""
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
            health_check_id=health_check.id,
            aliases=to_distribution,
            opts=self._child,
        )
        aws.route53.Record(
            f"{name}-ipv6", zone_id=zone_id, name=domain, type="AAAA", aliases=to_distribution, opts=self._child
        )
        bucket, website = self._maintenance_site(domain)
        aws.route53.Record(
            f"{name}-secondary",
            zone_id=zone_id,
            name=domain,
            type="A",
            set_identifier="secondary",
            failover_routing_policies=[{"type": "SECONDARY"}],
            aliases=[
                {"name": website.website_domain, "zone_id": bucket.hosted_zone_id, "evaluate_target_health": False}
            ],
            opts=self._child,
        )

    def _maintenance_site(self, domain: str) -> tuple[aws.s3.Bucket, aws.s3.BucketWebsiteConfiguration]:
        """An S3 website named after the domain, serving only the maintenance page, for DNS failover.

        S3 websites answer plain HTTP only and need their one object to be public: this bucket holds nothing else.
        """
        name = f"{self._name}-maintenance"
        bucket = aws.s3.Bucket(name, bucket=domain, force_destroy=True, tags=self._tags(name), opts=self._child)
        access = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=False,
            restrict_public_buckets=False,
            opts=self._child,
        )
        website = aws.s3.BucketWebsiteConfiguration(
            name,
            bucket=bucket.id,
            index_document={"suffix": MAINTENANCE_PAGE},
            error_document={"key": MAINTENANCE_PAGE},
            opts=self._child,
        )
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: policy_document(
                    {
                        "Sid": "PublicReadOfTheMaintenancePageOnly",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"{arn}/{MAINTENANCE_PAGE}",
                    }
                )
            ),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[access])),
        )
        page = next(f for f in self._plan.static_files if f.key.endswith(MAINTENANCE_PAGE))
        aws.s3.BucketObjectv2(
            name,
            bucket=bucket.id,
            key=MAINTENANCE_PAGE,
            source=pulumi.FileAsset(str(page.path)),
            content_type=page.content_type,
            cache_control="no-cache",
            opts=self._child,
        )
        return bucket, website


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
