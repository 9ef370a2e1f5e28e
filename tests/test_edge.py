"""HaEdge: CloudFront, the static bucket, WAF, certificates and DNS failover in prod and dev."""

import json
import re
from typing import Any, cast

import pytest

from ha_stack import HaEdge, HaEdgeArgs
from ha_stack.edge import plan, static_files
from stack.ha_summary import edge_facts
from tests.conftest import ROOT, build, parented_children

CDN = "aws:cloudfront/distribution:Distribution"
ACL = "aws:wafv2/webAcl:WebAcl"
RECORD = "aws:route53/record:Record"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
STATIC = str(ROOT / "app" / "static")


def args(**overrides: Any) -> HaEdgeArgs:
    base = {
        "origin_domain_name": "origin.example.com",
        "origin_https": True,
        "origin_secret": "s3cret",
        "static_directory": STATIC,
    }
    return cast(HaEdgeArgs, {**base, **overrides})


def cdn(rec):
    (distribution,) = rec.of_type(CDN)
    return distribution.inputs


# 1. Static bucket


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_static_bucket_is_private_versioned_encrypted_and_readable_only_by_this_distribution(stack, request):
    rec = request.getfixturevalue(stack)
    block = rec.named("edge-static", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    versioning = rec.named("edge-static", "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    sse = rec.named(
        "edge-static", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = json.loads(rec.named("edge-static", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny_plain_http, read = policy["Statement"]
    assert deny_plain_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    distribution = rec.named("edge-cdn", CDN)
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert read["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution.outputs["arn"]}}
    access = rec.named("edge-static", "aws:cloudfront/originAccessControl:OriginAccessControl").inputs
    assert (access["signingBehavior"], access["signingProtocol"]) == ("always", "sigv4")


def test_static_files_are_uploaded_with_content_types_and_cache_control(prod):
    objects = {o.inputs["key"]: o.inputs for o in prod.of_type(OBJECT) if o.name.startswith("edge-static-")}
    assert sorted(objects) == ["static/maintenance.html", "static/styles.css"]
    assert objects["static/styles.css"]["contentType"] == "text/css; charset=utf-8"
    assert objects["static/styles.css"]["cacheControl"] == "public, max-age=604800"
    assert objects["static/maintenance.html"]["contentType"] == "text/html; charset=utf-8"
    assert objects["static/maintenance.html"]["cacheControl"] == "public, max-age=60"  # outages end
    bucket = prod.named("edge-static", "aws:s3/bucket:Bucket")
    assert all(o["bucket"] == bucket.id for o in objects.values())


def test_every_file_of_the_static_directory_is_found(tmp_path):
    (tmp_path / "maintenance.html").write_text("<p>soon</p>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("console.log(1)")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    found = {f.key: f.content_type for f in static_files(str(tmp_path), 600)}
    assert found == {
        "static/js/app.js": "text/javascript; charset=utf-8",
        "static/logo.png": "image/png",
        "static/maintenance.html": "text/html; charset=utf-8",
    }


# 2. Distribution


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_behaviour_goes_to_the_alb_uncached_with_what_the_service_needs(stack, request):
    rec = request.getfixturevalue(stack)
    default = cdn(rec)["defaultCacheBehavior"]
    assert default["targetOriginId"] == "alb"
    assert default["viewerProtocolPolicy"] == "redirect-to-https"
    assert default["cachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    assert default["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert sorted(default["allowedMethods"]) == sorted(["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])


def test_static_paths_come_from_the_bucket_cached_7_days_and_compressed(prod):
    (static,) = cdn(prod)["orderedCacheBehaviors"]
    assert static["pathPattern"] == "/static/*"
    assert static["targetOriginId"] == "static"
    assert static["viewerProtocolPolicy"] == "redirect-to-https"
    assert static["compress"] is True
    policy = prod.named("edge-static", "aws:cloudfront/cachePolicy:CachePolicy")
    assert static["cachePolicyId"] == policy.id
    assert (policy.inputs["defaultTtl"], policy.inputs["maxTtl"]) == (604800, 604800)
    keys = policy.inputs["parametersInCacheKeyAndForwardedToOrigin"]
    assert keys["enableAcceptEncodingGzip"] is True
    assert keys["enableAcceptEncodingBrotli"] is True


def test_prod_origin_is_the_albs_https_name_and_carries_the_web_tiers_secret(prod):
    # The origins carry the secret, so Pulumi keeps the whole list encrypted in state.
    alb_origin, static_origin = cdn(prod)["origins"]["secret"]
    assert alb_origin["domainName"] == "origin.shop.example.com"
    assert alb_origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert alb_origin["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]
    secret = prod.named("web-origin-secret").outputs["result"]["secret"]
    assert alb_origin["customHeaders"] == [{"name": "X-Origin-Verify", "value": secret}]
    bucket = prod.named("edge-static", "aws:s3/bucket:Bucket")
    assert static_origin["domainName"] == bucket.outputs["bucketRegionalDomainName"]


def test_dev_origin_is_the_albs_dns_name_over_http(dev):
    alb_origin = cdn(dev)["origins"]["secret"][0]
    assert alb_origin["domainName"] == dev.named("web-alb", "aws:lb/loadBalancer:LoadBalancer").outputs["dnsName"]
    assert alb_origin["customOriginConfig"]["originProtocolPolicy"] == "http-only"


def test_prod_viewers_get_tls_12_2021_on_the_domain_http2_and_http3(prod):
    distribution = cdn(prod)
    assert distribution["aliases"] == ["shop.example.com"]
    certificate = prod.named("edge-certificate", "aws:acm/certificate:Certificate")
    assert certificate.inputs["region"] == "us-east-1"
    assert certificate.inputs["domainName"] == "shop.example.com"
    assert distribution["viewerCertificate"] == {
        "acmCertificateArn": certificate.outputs["arn"],
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    assert distribution["httpVersion"] == "http2and3"
    assert distribution["priceClass"] == "PriceClass_100"


def test_dev_uses_the_distributions_own_name_and_certificate(dev):
    distribution = cdn(dev)
    assert distribution["aliases"] == []
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert dev.of_type("aws:acm/certificate:Certificate") == []


def test_access_logs_go_to_a_log_bucket_that_archives_then_expires(prod):
    logs = prod.named("edge-logs", "aws:s3/bucket:Bucket")
    assert cdn(prod)["loggingConfig"] == {
        "bucket": logs.outputs["bucketDomainName"],
        "includeCookies": False,
        "prefix": "cloudfront/",
    }
    rules = prod.named("edge-logs", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    (archive,) = [r for r in rules if r["id"] == "archive-then-expire"]
    assert archive["transitions"] == [{"days": 30, "storageClass": "GLACIER"}]
    assert archive["expiration"] == {"days": 365}
    ownership = prod.named("edge-logs", "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerPreferred"}  # CloudFront delivers through an ACL


def test_origin_failures_are_answered_with_the_maintenance_page(prod):
    responses = {r["errorCode"]: r for r in cdn(prod)["customErrorResponses"]}
    assert sorted(responses) == [502, 503, 504]
    for response in responses.values():
        assert response["responsePagePath"] == "/static/maintenance.html"
        assert response["responseCode"] == 503


# 3. WAF


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_waf_is_associated_and_holds_the_four_managed_groups_and_the_rate_rule(stack, request):
    rec = request.getfixturevalue(stack)
    (acl,) = rec.of_type(ACL)
    assert (acl.inputs["scope"], acl.inputs["region"]) == ("CLOUDFRONT", "us-east-1")
    assert cdn(rec)["webAclId"] == acl.outputs["arn"]
    assert ":global/webacl/" in acl.outputs["arn"]
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    managed = {n for n, r in rules.items() if "managedRuleGroupStatement" in r["statement"]}
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert all(rules[n]["overrideAction"] == {"none": {}} for n in managed)  # the groups' own block actions apply
    rate = rules["rate-limit-per-ip"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"]["aggregateKeyType"] == "IP"
    assert rate["statement"]["rateBasedStatement"]["limit"] == 2000
    assert len({r["priority"] for r in rules.values()}) == 5
    for visibility in [acl.inputs["visibilityConfig"], *(r["visibilityConfig"] for r in rules.values())]:
        assert visibility["cloudwatchMetricsEnabled"] is True
        assert visibility["sampledRequestsEnabled"] is True


def test_without_waf_the_distribution_has_no_web_acl():
    rec = build(lambda: HaEdge("edge", args(enable_waf=False)))
    assert rec.of_type(ACL) == []
    assert "webAclId" not in cdn(rec)


# 4. Domain: certificates, records, health check, failover


def test_prod_dns_fails_over_from_the_distribution_to_a_maintenance_site(prod):
    facts = edge_facts(prod)
    assert facts.failover_records == ["A PRIMARY", "A SECONDARY"]
    primary = prod.named("edge-primary", RECORD).inputs
    secondary = prod.named("edge-secondary", RECORD).inputs
    health = prod.named("edge-health", "aws:route53/healthCheck:HealthCheck")
    distribution = prod.named("edge-cdn", CDN)
    assert primary["healthCheckId"] == health.id
    assert primary["aliases"] == [
        {"name": distribution.outputs["domainName"], "zoneId": "Z2FDTNDATAQYW2", "evaluateTargetHealth": False}
    ]
    website = prod.named("edge-maintenance", "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration")
    assert secondary["aliases"][0]["name"] == website.outputs["websiteDomain"]
    assert secondary["aliases"][0]["zoneId"] == "Z3AQBSTGFYJSTF"  # S3 website endpoints of us-east-1
    assert primary["name"] == secondary["name"] == "shop.example.com"
    assert prod.named("edge-ipv6", RECORD).inputs["type"] == "AAAA"


def test_the_maintenance_site_exposes_the_maintenance_page_and_nothing_else(prod):
    bucket = prod.named("edge-maintenance", "aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "shop.example.com"  # S3 websites are addressed by bucket name
    (statement,) = json.loads(prod.named("edge-maintenance", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])[
        "Statement"
    ]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == f"{bucket.outputs['arn']}/maintenance.html"
    page = prod.named("edge-maintenance", OBJECT).inputs
    assert page["key"] == "maintenance.html"


@pytest.mark.parametrize(("stack", "fqdn"), [("prod", "shop.example.com"), ("dev", None)])
def test_health_check_probes_https_health_through_the_whole_path(stack, fqdn, request):
    rec = request.getfixturevalue(stack)
    check = rec.named("edge-health", "aws:route53/healthCheck:HealthCheck").inputs
    expected = fqdn or rec.named("edge-cdn", CDN).outputs["domainName"]
    assert (check["type"], check["fqdn"], check["resourcePath"], check["port"]) == ("HTTPS", expected, "/health", 443)
    assert check["failureThreshold"] == 3


def test_dev_has_no_records(dev):
    assert [r.name for r in dev.of_type(RECORD)] == []


# 5./7. Outputs


def test_site_url_is_exported(prod, dev):
    assert prod.exports["site_url"] == "https://shop.example.com"
    assert re.fullmatch(r"https://d\w+\.cloudfront\.net", dev.exports["site_url"])


def test_every_child_is_parented_to_the_component():
    rec = build(lambda: HaEdge("edge", args(domain_name="shop.example.com", hosted_zone_id="Z1")))
    parented_children(rec)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price_class": "PriceClass_50"}, "HaEdge.price_class: must be one of PriceClass_100, PriceClass_200"),
        ({"static_ttl_seconds": -1}, "HaEdge.static_ttl_seconds: must be an integer from 0 to 31536000, got -1"),
        ({"domain_name": "shop.example.com"}, "HaEdge.domain_name: domain_name and hosted_zone_id go together"),
        ({"log_glacier_days": 400, "log_expire_days": 365}, "HaEdge.log_expire_days: must be after log_glacier_days"),
        ({"static_directory": str(ROOT / "app")}, "HaEdge.static_directory: "),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))
