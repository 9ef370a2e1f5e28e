"""ACM certificates validated through DNS records in a Route 53 hosted zone."""

import pulumi
import pulumi_aws as aws


def dns_validated_certificate(
    name: str,
    domain: str,
    zone_id: pulumi.Input[str],
    *,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    region: str | None = None,
) -> pulumi.Output[str]:
    """Request a certificate for `domain` (in `region`, else the provider's), prove it in DNS; the validated ARN.

    The validation record is declared from the plain domain name, not inside an apply, so the preview
    shows it and it never churns.
    """
    cert = aws.acm.Certificate(
        name,
        domain_name=domain,
        validation_method="DNS",
        options={"certificate_transparency_logging_preference": "ENABLED"},
        region=region,
        tags=tags,
        opts=opts,
    )
    option = cert.domain_validation_options.apply(lambda opts_: next(o for o in opts_ if o.domain_name == domain))
    record = aws.route53.Record(
        f"{name}-validation",
        zone_id=zone_id,
        name=option.apply(lambda o: o.resource_record_name or ""),
        type=option.apply(lambda o: o.resource_record_type or "CNAME"),
        records=[option.apply(lambda o: o.resource_record_value or "")],
        ttl=300,
        allow_overwrite=True,
        opts=opts,
    )
    validation = aws.acm.CertificateValidation(
        name, certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn], region=region, opts=opts
    )
    return validation.certificate_arn
