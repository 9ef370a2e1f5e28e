"""HaEdge: CloudFront, the static bucket, WAF, certificates, origin failover and the health check in prod and dev."""

import asyncio
import fnmatch
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest

from ha_stack import HaEdge, HaEdgeArgs, options
from ha_stack import edge as edge_module
from ha_stack.edge import plan, static_files
from stack.mock_cloud import Recording
from tests.conftest import ROOT, build, parented_children, run_stack

CDN = "aws:cloudfront/distribution:Distribution"
ACL = "aws:wafv2/webAcl:WebAcl"
RECORD = "aws:route53/record:Record"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
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


@pytest.fixture(scope="module")
def site() -> Recording:
    """HaEdge on its own, with a domain, as a reusing project would build it."""
    return build(lambda: HaEdge("edge", args(domain_name="shop.example.com", hosted_zone_id="Z1")))


def origins(rec: Recording) -> dict[str, dict[str, Any]]:
    """The distribution's origins by id (the list is secret: it carries the origin secret)."""
    value = cdn(rec)["origins"]
    return {o["originId"]: o for o in (value["secret"] if isinstance(value, dict) else value)}


def behaviours(rec: Recording) -> dict[str, dict[str, Any]]:
    """Cache behaviours by path pattern; "*" is the default behaviour."""
    distribution = cdn(rec)
    return {
        "*": distribution["defaultCacheBehavior"],
        **{b["pathPattern"]: b for b in distribution["orderedCacheBehaviors"]},
    }


def cloudfront_route(rec: Recording, path: str) -> dict[str, Any]:
    """The behaviour CloudFront picks for a path: the first ordered pattern that matches, else the default.

    CloudFront path patterns are case-sensitive; * matches 0 or more characters, ? exactly one.
    """
    for behaviour in cdn(rec)["orderedCacheBehaviors"]:
        if fnmatch.fnmatchcase(path, behaviour["pathPattern"]):
            return cast(dict[str, Any], behaviour)
    return cast(dict[str, Any], cdn(rec)["defaultCacheBehavior"])


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
def test_api_paths_go_to_the_alb_uncached_with_every_method_and_what_the_service_needs(stack, request):
    rec = request.getfixturevalue(stack)
    for path in ("/products", "/products/7", "/orders", "/orders/9", "/health", "/ready", "/metrics"):
        api = cloudfront_route(rec, path)
        # prod is a dr pair: the API (writes included) follows the Route 53 failover name; dev reaches its ALB.
        assert api["targetOriginId"] == ("write" if stack == "prod" else "alb"), path
        assert api["viewerProtocolPolicy"] == "redirect-to-https"
        assert api["cachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
        assert api["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
        assert sorted(api["allowedMethods"]) == sorted(["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])


def test_static_paths_come_from_the_bucket_cached_7_days_and_compressed(prod):
    static = behaviours(prod)["/static/*"]
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
    alb_origin, static_origin = origins(prod)["alb"], origins(prod)["static"]
    assert alb_origin["domainName"] == "origin.shop.example.com"
    assert alb_origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert alb_origin["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]
    secret = prod.named("web-origin-secret").outputs["result"]["secret"]
    assert alb_origin["customHeaders"] == [{"name": "X-Origin-Verify", "value": secret}]
    bucket = prod.named("edge-static", "aws:s3/bucket:Bucket")
    assert static_origin["domainName"] == bucket.outputs["bucketRegionalDomainName"]


def test_dev_reaches_its_internal_alb_through_a_vpc_origin_not_the_internet(dev):
    """Item 26: dev has no domain, so no certificate: its ALB is internal and CloudFront reaches it in the VPC."""
    alb = dev.named("web-alb", LOAD_BALANCER)
    assert alb.inputs["internal"] is True
    vpc_origin = dev.named("edge-alb", VPC_ORIGIN)
    assert vpc_origin.inputs["vpcOriginEndpointConfig"]["arn"] == alb.outputs["arn"]
    assert vpc_origin.inputs["vpcOriginEndpointConfig"]["originProtocolPolicy"] == "http-only"
    alb_origin = origins(dev)["alb"]
    assert alb_origin["domainName"] == alb.outputs["dnsName"]
    assert alb_origin["vpcOriginConfig"]["vpcOriginId"] == vpc_origin.id
    assert "customOriginConfig" not in alb_origin
    # Kept inside AWS's network as a second check: only this distribution, of the account's VPC origins, passes.
    secret = dev.named("web-origin-secret").outputs["result"]["secret"]
    assert alb_origin["customHeaders"] == [{"name": "X-Origin-Verify", "value": secret}]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_reaches_its_alb_over_plain_http_on_the_internet(stack, request):
    """Item 26: the origin secret and the requests cross the internet only inside TLS, or not at all."""
    alb_origin = origins(request.getfixturevalue(stack))["alb"]
    over_internet = alb_origin.get("customOriginConfig") or {}
    assert alb_origin.get("vpcOriginConfig") or over_internet.get("originProtocolPolicy") == "https-only"


def test_the_dev_stack_does_not_warn_of_a_plain_http_origin(caplog):
    """Item 26: the warning HaEdge gives for a plain-HTTP internet origin is not emitted by the dev stack."""
    with caplog.at_level(logging.WARNING):
        run_stack("dev")
    assert not [r.getMessage() for r in caplog.records if "plain HTTP" in r.getMessage()]


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


def test_pages_fail_over_to_the_maintenance_origin_and_api_errors_pass_through(site):
    """Item 17: an API 502/503/504 reaches the client as the service sent it (JSON, Retry-After)."""
    distribution = cdn(site)
    # Custom error responses are a distribution setting: any would also rewrite the API's errors.
    assert not distribution.get("customErrorResponses")
    (group,) = distribution["originGroups"]
    assert [m["originId"] for m in group["members"]] == ["alb", "maintenance"]
    assert {502, 503, 504} <= set(group["failoverCriteria"]["statusCodes"])
    page = cloudfront_route(site, "/checkout")
    assert page["targetOriginId"] == group["originId"]
    # CloudFront refuses POST, PUT, PATCH, DELETE on a behaviour whose target is an origin group.
    assert sorted(page["allowedMethods"]) == ["GET", "HEAD", "OPTIONS"]
    for path in ("/orders", "/products/3", "/health"):
        assert cloudfront_route(site, path)["targetOriginId"] == "alb"
    assert cloudfront_route(site, "/static/styles.css")["targetOriginId"] == "static"


def test_every_route_of_the_service_is_an_api_path_at_the_edge(site):
    """A route left out of api_path_patterns would lose POST and get the maintenance page as its error."""
    from app.routes import router  # noqa: PLC0415 (the service's own route table)

    paths = {re.sub(r"\{[^}]+\}", "1", route.path) for route in router.routes}  # type: ignore[attr-defined]
    assert paths
    assert {p: cloudfront_route(site, p)["targetOriginId"] for p in paths} == dict.fromkeys(paths, "alb")


def test_maintenance_origin_is_a_private_function_url_only_this_distribution_may_call(site):
    maintenance = origins(site)["maintenance"]
    url = site.named("edge-maintenance", "aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "AWS_IAM"
    assert "https://" + maintenance["domainName"] + "/" == url.outputs["functionUrl"]
    assert maintenance["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    access = site.named("edge-maintenance", "aws:cloudfront/originAccessControl:OriginAccessControl")
    assert maintenance["originAccessControlId"] == access.id
    assert (access.inputs["originAccessControlOriginType"], access.inputs["signingBehavior"]) == ("lambda", "always")
    distribution = site.named("edge-cdn", CDN)
    function = site.named("edge-maintenance", "aws:lambda/function:Function")
    grants = {
        r.inputs["action"]: r.inputs
        for r in site.of_type("aws:lambda/permission:Permission")
        if r.inputs["function"] == function.outputs["name"]
    }
    # Function URLs created since October 2025 need both actions (Lambda guide, "Control access to function URLs").
    assert sorted(grants) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    for grant in grants.values():
        assert (grant["principal"], grant["sourceArn"]) == ("cloudfront.amazonaws.com", distribution.outputs["arn"])
    assert grants["lambda:InvokeFunction"]["invokedViaFunctionUrl"] is True


def test_maintenance_function_answers_any_page_with_the_maintenance_page_503_and_retry_after(site, tmp_path):
    """Runs the deployed handler source with the page it is shipped with."""
    function = site.named("edge-maintenance", "aws:lambda/function:Function").inputs
    assert function["handler"] == "maintenance.handler"
    archive = function["code"]["archive"]
    (tmp_path / "maintenance.py").write_text(archive["maintenance.py"]["text"])
    shutil.copy(archive["maintenance.html"]["file"], tmp_path / "maintenance.html")
    namespace: dict[str, Any] = {"__file__": str(tmp_path / "maintenance.py")}
    exec(compile((tmp_path / "maintenance.py").read_text(), "maintenance.py", "exec"), namespace)
    page = (Path(STATIC) / "maintenance.html").read_text()
    for path in ("/", "/checkout/step-2"):
        answer = namespace["handler"]({"rawPath": path, "requestContext": {"http": {"method": "GET"}}}, None)
        assert answer["statusCode"] == 503
        assert answer["headers"]["Retry-After"] == "60"
        assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
        assert answer["body"] == page
    head = namespace["handler"]({"requestContext": {"http": {"method": "HEAD"}}}, None)
    assert (head["statusCode"], head["body"]) == (503, "")


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
    assert len({r["priority"] for r in rules.values()}) == len(rules) == 6
    for visibility in [acl.inputs["visibilityConfig"], *(r["visibilityConfig"] for r in rules.values())]:
        assert visibility["cloudwatchMetricsEnabled"] is True
        assert visibility["sampledRequestsEnabled"] is True


def test_waf_lets_through_exactly_the_bodies_the_service_accepts(site):
    """Item 18: the common rule set's 8 KB body rule only counts; bodies over 64 KiB get the service's own 413."""
    from app.main import MAX_BODY_BYTES, RejectLargeBodies  # noqa: PLC0415 (the service's limit and answer)

    (acl,) = site.of_type(ACL)
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    size = rules["body-size-limit"]
    constraint = size["statement"]["sizeConstraintStatement"]
    assert (constraint["comparisonOperator"], constraint["size"]) == ("GT", MAX_BODY_BYTES)
    assert constraint["fieldToMatch"] == {"body": {"oversizeHandling": "MATCH"}}
    # WAF sees CloudFront bodies whole up to the inspection limit: 64 KB, so "oversize" means over 65536 bytes.
    (association,) = acl.inputs["associationConfig"]["requestBodies"]
    assert association == {"cloudfront": {"defaultSizeInspectionLimit": "KB_64"}}
    assert MAX_BODY_BYTES == 64 * 1024
    response = size["action"]["block"]["customResponse"]
    assert response["responseCode"] == 413
    (body,) = [b for b in acl.inputs["customResponseBodies"] if b["key"] == response["customResponseBodyKey"]]
    assert body["contentType"] == "APPLICATION_JSON"
    service_answer = RejectLargeBodies(cast(Any, None), MAX_BODY_BYTES)._too_large()
    assert json.loads(body["content"]) == json.loads(bytes(service_answer.body))
    assert rules["body-size-limit"]["priority"] < rules["AWSManagedRulesCommonRuleSet"]["priority"]


@pytest.mark.parametrize(("max_body", "limit"), [(1, "KB_16"), (16384, "KB_16"), (16385, "KB_32"), (65536, "KB_64")])
def test_the_inspection_limit_is_the_smallest_that_sees_the_largest_allowed_body_whole(max_body, limit):
    assert edge_module.inspection_limit(max_body) == limit


def test_waf_logs_to_an_aws_waf_logs_group_in_us_east_1_without_secrets(site):
    """Item 27: request logs for the web ACL, with credentials, cookies and the origin secret redacted."""
    (acl,) = site.of_type(ACL)
    (logging,) = site.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    group = site.named("edge-waf-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert logging.inputs["resourceArn"] == acl.outputs["arn"]
    assert logging.inputs["logDestinationConfigs"] == [group.outputs["arn"]]
    assert group.inputs["namePrefix"].startswith("aws-waf-logs-")  # WAF delivers to no other name
    assert group.inputs["region"] == logging.inputs["region"] == "us-east-1"
    assert group.inputs["retentionInDays"] == 90
    redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert redacted == {"authorization", "cookie", "x-origin-verify"}


def test_without_waf_the_distribution_has_no_web_acl():
    rec = build(lambda: HaEdge("edge", args(enable_waf=False)))
    assert rec.of_type(ACL) == []
    assert "webAclId" not in cdn(rec)


# 4. Domain: certificates, records, health check


def test_no_public_maintenance_site_and_no_dns_failover_to_it(site):
    """Item 6: the HTTP-only S3 website secondary and its public bucket are gone; the domain always answers."""
    assert site.of_type("aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration") == []
    for policy in site.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        allows = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
        assert all(s["Principal"] != "*" for s in allows), policy.name
    for block in site.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert block.inputs["blockPublicPolicy"], block.name
        assert block.inputs["restrictPublicBuckets"], block.name
    records = [r for r in site.of_type(RECORD) if r.inputs["name"] == "shop.example.com"]
    assert sorted(r.inputs["type"] for r in records) == ["A", "AAAA"]
    distribution = site.named("edge-cdn", CDN)
    for record in records:
        assert record.inputs["name"] == "shop.example.com"
        assert "healthCheckId" not in record.inputs
        assert [{**a, "zoneId": "-"} for a in record.inputs["aliases"]] == [
            {"name": distribution.outputs["domainName"], "zoneId": "-", "evaluateTargetHealth": False}
        ]
    failover = [
        r.inputs["failoverRoutingPolicies"][0]["type"] for r in records if r.inputs.get("failoverRoutingPolicies")
    ]
    assert failover in ([], ["PRIMARY"])  # a lone PRIMARY without health check is always answered


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_health_check_probes_https_health_on_the_distributions_own_name(stack, request):
    """Not the site's name (whose records it would decide) nor the origin's (which needs the origin secret)."""
    rec = request.getfixturevalue(stack)
    check = rec.named("edge-health", "aws:route53/healthCheck:HealthCheck")
    expected = rec.named("edge-cdn", CDN).outputs["domainName"]
    inputs = check.inputs
    assert (inputs["type"], inputs["fqdn"], inputs["resourcePath"], inputs["port"]) == (
        "HTTPS",
        expected,
        "/health",
        443,
    )
    assert inputs["failureThreshold"] == 3
    # Not answered by the maintenance origin: the load balancer (dev), or the failover name in front of both (prod).
    assert cloudfront_route(rec, "/health")["targetOriginId"] == ("write" if stack == "prod" else "alb")


def test_health_check_id_output_is_the_probe():
    """HaMonitoring alarms on HaEdge.health_check_id: it must stay the id of the /health probe."""
    rec = build(lambda: pulumi.export("health_check_id", HaEdge("edge", args()).health_check_id))
    assert rec.exports["health_check_id"] == rec.named("edge-health", "aws:route53/healthCheck:HealthCheck").id


def test_dev_has_no_records(dev):
    assert [r.name for r in dev.of_type(RECORD)] == []


# 5./7. Outputs


def test_site_url_is_exported(prod, dev):
    assert prod.exports["site_url"] == "https://shop.example.com"
    assert re.fullmatch(r"https://d\w+\.cloudfront\.net", dev.exports["site_url"])


def test_the_distribution_waits_for_its_log_buckets_acl_setting(site):
    """Item 23: CloudFront's log delivery adds an ACL grant, refused until ownership allows ACLs."""
    by_urn = {r.urn: r for r in site.resources}
    distribution = site.named("edge-cdn", CDN)
    waits_for, todo = set(), list(distribution.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in waits_for:
            waits_for.add(urn)
            todo.extend(by_urn[urn].dependencies if urn in by_urn else [])
    ownership = site.named("edge-logs", "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerPreferred"}
    assert ownership.urn in waits_for


def test_a_vpc_origin_reaches_an_internal_load_balancer_without_the_internet():
    """Item 26: with origin_vpc_alb_arn CloudFront reaches the ALB through a VPC origin, not a public name."""
    alb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/internal-web/0123456789abcdef"
    rec = build(lambda: HaEdge("edge", args(origin_https=False, origin_vpc_alb_arn=alb)))
    vpc_origin = rec.named("edge-alb", "aws:cloudfront/vpcOrigin:VpcOrigin")
    endpoint = vpc_origin.inputs["vpcOriginEndpointConfig"]
    assert endpoint["arn"] == alb
    assert vpc_origin.inputs["tags"]["Name"] == "edge-alb"
    origin = origins(rec)["alb"]
    assert origin["vpcOriginConfig"]["vpcOriginId"] == vpc_origin.id
    assert "customOriginConfig" not in origin


def test_a_plain_http_origin_on_the_internet_is_called_out(caplog):
    """Item 26: without a domain or a VPC origin the origin secret travels in clear; the deploy says so."""
    with caplog.at_level(logging.WARNING):
        build(lambda: HaEdge("edge", args(origin_https=False)))
    assert any("plain HTTP on the internet, origin secret included" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build(lambda: HaEdge("edge", args()))
        build(lambda: HaEdge("edge", args(origin_https=False, origin_vpc_alb_arn="arn:aws:elasticloadbalancing:x")))
    assert not [r for r in caplog.records if "plain HTTP" in r.getMessage()]


def test_new_children_carry_the_tags():
    rec = build(lambda: HaEdge("edge", args(tags={"team": "shop"})))
    for typ in (
        "aws:lambda/function:Function",
        "aws:iam/role:Role",
        "aws:cloudwatch/logGroup:LogGroup",
        ACL,
        CDN,
        "aws:route53/healthCheck:HealthCheck",
    ):
        for resource in rec.of_type(typ):
            assert resource.inputs["tags"]["team"] == "shop", resource.name
            assert resource.inputs["tags"]["Name"] == resource.name


def test_every_child_is_parented_to_the_component():
    rec = build(lambda: HaEdge("edge", args(domain_name="shop.example.com", hosted_zone_id="Z1")))
    parented_children(rec)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"price_class": "PriceClass_50"},
            "HaEdge.price_class: must be one of PriceClass_100, PriceClass_200, PriceClass_All, got 'PriceClass_50'",
        ),
        ({"static_ttl_seconds": -1}, "HaEdge.static_ttl_seconds: must be from 0 to 31536000 seconds, got -1"),
        ({"domain_name": "shop.example.com"}, "HaEdge.domain_name: domain_name and hosted_zone_id go together"),
        ({"log_glacier_days": 400, "log_expire_days": 365}, "HaEdge.log_expire_days: must be after log_glacier_days"),
        ({"static_directory": str(ROOT / "app")}, "HaEdge.static_directory: must be a directory holding maintenance"),
        ({"api_path_patterns": []}, "HaEdge.api_path_patterns: must be a list of 1 to 20 path patterns, got []"),
        ({"api_path_patterns": ["orders*"]}, "HaEdge.api_path_patterns: 'orders*' is not a path pattern"),
        ({"api_path_patterns": ["/static/*"]}, "HaEdge.api_path_patterns: '/static/*' would take over"),
        ({"api_path_patterns": ["/a", "/a"]}, "HaEdge.api_path_patterns: patterns must be distinct, got ['/a', '/a']"),
        ({"max_body_bytes": 70000}, "HaEdge.max_body_bytes: must be from 1 to 65536 bytes, got 70000"),
        ({"rate_limit_per_5min": 9}, "HaEdge.rate_limit_per_5min: must be from 10 to 2000000000, got 9"),
        ({"log_retention_days": 10}, "HaEdge.log_retention_days: must be a CloudWatch Logs retention in days (1, 3, 5"),
        ({"force_destroy_buckets": 1}, "HaEdge.force_destroy_buckets: must be true or false, got 1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(args(**overrides))


def refused(given: object, name: str = "edge") -> list[str]:
    """The problem lines of HaEdge built on its own with these arguments, after checking no cloud resource exists."""
    caught: list[options.ArgsError] = []

    def program() -> None:
        try:
            HaEdge(name, cast(HaEdgeArgs, given() if callable(given) else given))
        except options.ArgsError as err:
            caught.append(err)

    rec = build(program)
    assert [r.name for r in rec.resources if r.custom] == []  # nothing declared
    (error,) = caught
    return error.problems


LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("given", "line"),
    [
        # wrong types, where a truthy string or a number in quotes was taken before
        (args(enable_waf="false"), "HaEdge.enable_waf: must be true or false, got 'false'"),
        (args(rate_limit_per_5min="2000"), "HaEdge.rate_limit_per_5min: must be a whole number, got '2000'"),
        (args(price_class=None), "HaEdge.price_class: must be one of PriceClass_100, PriceClass_200, PriceClass_All"),
        (args(tags={"team": 1}), "HaEdge.tags: must be an object of strings, got {'team': 1}"),
        ({**cast(dict[Any, Any], args()), 1: 2}, "HaEdge.1: argument names are strings, got the key 1"),
        ("origin.example.com", "HaEdge.: must be an object of arguments, got 'origin.example.com'"),
        # an Output where the value decides what is declared
        (
            lambda: args(static_directory=pulumi.Output.from_input(STATIC)),
            "HaEdge.static_directory: must be a plain value known before deploy, not an Output",
        ),
        # DNS and ACM limits (ACM: a certificate's first name is at most 64 characters)
        (
            args(domain_name="a" * 55 + ".example.com", hosted_zone_id="Z1"),
            "HaEdge.domain_name: must be at most 64 characters: it is the certificate's first name, which ACM limits "
            "to 64 (RFC 5280), got 67: ",
        ),
        (
            args(domain_name="b" * 64 + ".example.com", hosted_zone_id="Z1"),
            "HaEdge.domain_name: must be a DNS name such as shop.example.com (labels of 1 to 63 letters",
        ),
        (args(origin_domain_name="-origin.example.com"), "HaEdge.origin_domain_name: must be a DNS name such as"),
        # a 10,000-character value is shown cut, never echoed whole (and is no traceback from the file system)
        (
            args(origin_secret_header=LONG),
            f"HaEdge.origin_secret_header: must be a header name of up to 40 letters, digits or -, got "
            f"'{'x' * 59}... (10002 characters)",
        ),
        (
            args(static_directory=LONG),
            f"HaEdge.static_directory: must be a directory holding maintenance.html (served when the origin fails), "
            f"got '{'x' * 59}... (10002 characters)",
        ),
        # unknown arguments, with the nearest known one
        (args(enable_wafs=True), "HaEdge.enable_wafs: unknown argument (did you mean 'enable_waf'?); known: "),
        ({k: v for k, v in args().items() if k != "origin_secret"}, "HaEdge.origin_secret: is required"),
    ],
)
def test_each_class_of_bad_input_is_one_line_and_nothing_is_declared(given, line):
    """Issue 17: through the component on its own, every class of bad input is a clear line, never a traceback."""
    lines = refused(given)
    assert [x for x in lines if x.startswith(line)] != [], lines


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "e" * 45,
            "HaEdge.name: must be at most 44 characters: the Lambda function Pulumi names 'eeee",
        ),
        ("my.edge", "HaEdge.name: makes the S3 bucket name 'my.edge-static' + 7 random characters, which AWS refuses"),
        ("edge_1", "HaEdge.name: makes the S3 bucket name 'edge_1-static' + 7 random characters, which AWS refuses"),
    ],
)
def test_a_name_that_makes_a_child_name_aws_refuses_is_one_line_before_anything_is_declared(name, line):
    """S3 bucket names: 3 to 63 lower-case letters, digits, '.' and '-' (S3 user guide, "General purpose bucket naming
    rules"); Pulumi adds '-' and 7 random characters; the maintenance function's name is at most 64 (Lambda)."""
    (problem,) = refused(args(), name)
    assert problem.startswith(line), problem


def test_the_longest_name_every_child_allows_builds():
    rec = build(lambda: HaEdge("e" * 44, args()))
    assert len(rec.named("e" * 44 + "-static", "aws:s3/bucket:Bucket").id) <= 63


def test_several_bad_arguments_are_all_reported_in_one_error():
    lines = refused(
        args(static_ttl_seconds=-1, enable_waf="yes", max_body_bytes=0, bogus=1, log_glacier_days=400),
        "Edge.Name",
    )
    assert [line.split(":")[0] for line in lines] == [
        "HaEdge.bogus",
        "HaEdge.static_ttl_seconds",
        "HaEdge.max_body_bytes",
        "HaEdge.enable_waf",
        "HaEdge.log_expire_days",
        "HaEdge.name",
    ]


@pytest.mark.parametrize("force", [True, False])
def test_force_destroy_buckets_empties_both_buckets_on_destroy_only_when_asked(force):
    """Item 11: the static and the log bucket are versioned; only force_destroy lets destroy delete them non-empty."""
    rec = build(lambda: HaEdge("edge", args(force_destroy_buckets=force)))
    buckets = {b.name: b.inputs.get("forceDestroy", False) for b in rec.of_type("aws:s3/bucket:Bucket")}
    assert buckets == {"edge-static": force, "edge-logs": force}


# Disaster recovery (issue 16): the standby region's load balancer and the write origin that follows the writer

STANDBY = "origin-standby.shop.example.com"
WRITE = "origin-write.shop.example.com"
PRIMARY_ORIGIN = "origin.shop.example.com"


@pytest.fixture(scope="module")
def paired() -> Recording:
    """HaEdge in front of a primary/standby pair, as the stack builds it for a dr stack."""
    return build(
        lambda: HaEdge(
            "edge",
            args(
                origin_domain_name=PRIMARY_ORIGIN,
                standby_origin_domain_name=STANDBY,
                write_origin_domain_name=WRITE,
                domain_name="shop.example.com",
                hosted_zone_id="Z1",
            ),
        )
    )


def test_pages_fail_over_to_the_standby_load_balancer_on_the_server_errors_cloudfront_allows(paired):
    (group,) = cdn(paired)["originGroups"]
    members = [origins(paired)[m["originId"]]["domainName"] for m in group["members"]]
    assert members == [PRIMARY_ORIGIN, STANDBY]
    codes = set(group["failoverCriteria"]["statusCodes"])
    # CloudFront takes only these failover codes; the server errors are the ones that mean "the primary failed".
    assert codes <= {400, 403, 404, 416, 500, 502, 503, 504}
    assert codes == {500, 502, 503, 504}
    for path in ("/", "/checkout", "/account/orders"):
        assert cloudfront_route(paired, path)["targetOriginId"] == group["originId"]


def test_no_behaviour_that_allows_writes_uses_an_origin_group(paired):
    """CloudFront refuses an origin group on a behaviour allowing POST, PUT, PATCH or DELETE, and never retries them on
    the secondary: every such behaviour has a single origin."""
    groups = {g["originId"] for g in cdn(paired)["originGroups"]}
    writers = [b for b in behaviours(paired).values() if {"POST", "PUT", "PATCH", "DELETE"} & set(b["allowedMethods"])]
    assert writers
    assert [b["targetOriginId"] for b in writers if b["targetOriginId"] in groups] == []


def test_the_api_goes_to_the_failover_name_over_https_with_the_origin_secret(paired):
    for path in ("/orders", "/orders/7", "/products/3", "/health"):
        assert origins(paired)[cloudfront_route(paired, path)["targetOriginId"]]["domainName"] == WRITE
    for origin_id in ("write", "standby"):
        origin = origins(paired)[origin_id]
        assert origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
        assert origin["customHeaders"] == [{"name": "X-Origin-Verify", "value": "s3cret"}]
    assert cloudfront_route(paired, "/static/styles.css")["targetOriginId"] == "static"


def test_with_a_standby_the_maintenance_function_is_not_declared(paired):
    """An origin group has two origins: the standby takes the maintenance page's place, so nothing calls it."""
    assert paired.of_type("aws:lambda/function:Function") == []
    assert paired.of_type("aws:lambda/permission:Permission") == []
    assert "maintenance" not in origins(paired)


def test_without_a_standby_or_write_origin_the_distribution_is_todays(site):
    """The same origins, in the same order, and the same group: a stack without dr changes nothing at the edge."""
    assert list(origins(site)) == ["alb", "static", "maintenance"]
    (group,) = cdn(site)["originGroups"]
    assert [m["originId"] for m in group["members"]] == ["alb", "maintenance"]
    assert {b["targetOriginId"] for p, b in behaviours(site).items() if p.startswith(("/orders", "/products"))} == {
        "alb"
    }


def test_the_static_bucket_name_and_arn_are_outputs_for_replication():
    edges: list[HaEdge] = []
    rec = build(lambda: edges.append(HaEdge("edge", args())))
    bucket = rec.named("edge-static", "aws:s3/bucket:Bucket")
    loop = asyncio.get_event_loop()
    name, arn = (loop.run_until_complete(o.future()) for o in (edges[0].static_bucket_name, edges[0].static_bucket_arn))
    assert (name, arn) == (bucket.outputs["bucket"], bucket.outputs["arn"])
    assert str(arn).startswith("arn:aws:s3:")


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        pytest.param(
            {"standby_origin_domain_name": "origin.example.com"},
            "HaEdge.standby_origin_domain_name: is the primary origin 'origin.example.com': the standby is the other "
            "region's load balancer",
            id="standby-is-primary",
        ),
        pytest.param(
            {"standby_origin_domain_name": "https://origin-standby.example.com"},
            "HaEdge.standby_origin_domain_name: must be a DNS name such as shop.example.com",
            id="standby-url",
        ),
        pytest.param(
            {"write_origin_domain_name": WRITE, "origin_vpc_alb_arn": "arn:aws:elasticloadbalancing:x"},
            "HaEdge.write_origin_domain_name: is reached on the internet, but the primary load balancer is internal",
            id="write-with-vpc-origin",
        ),
        pytest.param(
            {"write_origin_domain_name": 5},
            "HaEdge.write_origin_domain_name: must be a string (or an Output of one), got 5",
            id="write-type",
        ),
    ],
)
def test_bad_failover_origins_are_one_line_and_nothing_is_declared(overrides, line):
    lines = refused(args(**overrides))
    assert [x for x in lines if x.startswith(line)] != [], lines
