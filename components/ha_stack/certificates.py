"""ACM certificates validated through DNS records in a Route 53 hosted zone."""

import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws


def _label(domain: str) -> str:
    """A child-name-safe form of a domain name (origin-write.shop.example.com -> origin-write-shop-example-com)."""
    return re.sub(r"[^a-z0-9-]+", "-", domain.lower()).strip("-")


def dns_validated_certificate(
    name: str,
    domain: str,
    zone_id: pulumi.Input[str],
    *,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    region: str | None = None,
    alternative_names: Sequence[str] = (),
) -> pulumi.Output[str]:
    """Request a certificate for `domain` and `alternative_names` (in `region`, else the provider's), prove every name
    in DNS (all in the one zone); the validated ARN.

    Validation records are declared from the plain domain names, not inside an apply, so the preview shows them and
    they never churn. The first name's record keeps its logical name, so adding names replaces no record.
    """
    cert = aws.acm.Certificate(
        name,
        domain_name=domain,
        subject_alternative_names=list(alternative_names) or None,
        validation_method="DNS",
        options={"certificate_transparency_logging_preference": "ENABLED"},
        region=region,
        tags=tags,
        opts=opts,
    )
    fqdns = [
        _validation_record(label, cert, each, zone_id, opts)
        for label, each in [(f"{name}-validation", domain)]
        + [(f"{name}-validation-{_label(other)}", other) for other in alternative_names]
    ]
    validation = aws.acm.CertificateValidation(
        name, certificate_arn=cert.arn, validation_record_fqdns=fqdns, region=region, opts=opts
    )
    return validation.certificate_arn


def _validation_record(
    label: str, cert: aws.acm.Certificate, domain: str, zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """The CNAME ACM asks for to prove `domain`; its FQDN."""
    option = cert.domain_validation_options.apply(lambda opts_: next(o for o in opts_ if o.domain_name == domain))
    record = aws.route53.Record(
        label,
        zone_id=zone_id,
        name=option.apply(lambda o: o.resource_record_name or ""),
        type=option.apply(lambda o: o.resource_record_type or "CNAME"),
        records=[option.apply(lambda o: o.resource_record_value or "")],
        ttl=300,
        allow_overwrite=True,
        opts=opts,
    )
    return record.fqdn
