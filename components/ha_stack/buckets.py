"""Private S3 buckets: Block Public Access, owner-enforced, encrypted, versioned, TLS-only.

Every private bucket ha-stack creates (artifacts, access logs, static assets, audit trail) goes through
`private_bucket` and `bucket_policy`, so none is created without those guarantees.

S3 refuses concurrent configuration calls on one bucket ("OperationAborted: A conflicting conditional operation
is currently in progress against this resource", terraform-provider-aws issues 7628 and 36873), so the bucket's
sub-resources are declared as one chain, each waiting for the one before, and the policy waits for the chain.
"""

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ha_stack.iam import Statement, deny_insecure_transport, policy_document


@dataclass(frozen=True)
class Archive:
    """Move objects to Glacier after `glacier_days` and delete them after `expire_days`."""

    glacier_days: int
    expire_days: int


@dataclass(frozen=True)
class BucketSpec:
    """What differs between ha-stack's buckets."""

    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS with this key; None: SSE-S3 (the only encryption ALB and CloudFront log delivery accept)."""
    archive: Archive | None = None
    """Lifecycle for log buckets; None keeps current objects forever."""
    noncurrent_days: int = 30
    """Days an overwritten or deleted object version is kept."""
    acl_log_delivery: bool = False
    """Keep ACLs usable (BucketOwnerPreferred): CloudFront's standard logs are delivered through an ACL grant."""
    force_destroy: bool = False
    """Delete every object version with the bucket, so `pulumi destroy` of a non-prod stack does not stop at
    BucketNotEmpty. False keeps the data: destroy fails on a non-empty bucket. It takes effect only once a
    `pulumi up` has stored it, before the destroy (SDK: aws.s3.Bucket force_destroy)."""
    region: str | None = None
    """Region of the bucket and every guard (pulumi-aws 7's per-resource `region`), e.g. a replica in the standby
    region; None: the provider's region."""


_CONFIGURED: "weakref.WeakKeyDictionary[aws.s3.Bucket, pulumi.Resource]" = weakref.WeakKeyDictionary()
"""The last sub-resource of each private bucket, for `configured` and `bucket_policy` to wait on."""


def private_bucket(name: str, spec: BucketSpec, tags: dict[str, str], opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
    """A bucket with every guard but its policy on; give it one with `bucket_policy`.

    The guards are applied one after another (public access block first, so nothing else lands on an open
    bucket); `configured(bucket)` is the last of them, for resources that need the finished bucket.
    """
    region = spec.region
    bucket = aws.s3.Bucket(name, force_destroy=spec.force_destroy, tags=tags, region=region, opts=opts)
    last: pulumi.Resource = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        region=region,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    ownership = "BucketOwnerPreferred" if spec.acl_log_delivery else "BucketOwnerEnforced"
    last = aws.s3.BucketOwnershipControls(
        name, bucket=bucket.id, rule={"object_ownership": ownership}, region=region, opts=_after(opts, last)
    )
    last = aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=bucket.id, rules=[_encryption_rule(spec.kms_key_arn)], region=region, opts=_after(opts, last)
    )
    last = aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        region=region,
        opts=_after(opts, last),
    )
    # The SDK's own example makes the lifecycle wait for versioning on a versioned bucket.
    last = aws.s3.BucketLifecycleConfiguration(
        name, bucket=bucket.id, rules=_lifecycle_rules(spec), region=region, opts=_after(opts, last)
    )
    _CONFIGURED[bucket] = last
    return bucket


def configured(bucket: aws.s3.Bucket) -> pulumi.Resource:
    """The last guard of a `private_bucket`: depend on it for anything that needs the finished bucket.

    E.g. a CloudFront distribution logging to the bucket needs its ACL-enabling ownership setting in place.
    """
    try:
        return _CONFIGURED[bucket]
    except KeyError:
        raise ValueError("configured: this bucket was not made by private_bucket, so it has no guards") from None


def _after(opts: pulumi.ResourceOptions, previous: pulumi.Resource) -> pulumi.ResourceOptions:
    """`opts`, also waiting for `previous` (one S3 configuration call at a time per bucket)."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[previous]))


def bucket_policy(
    name: str,
    bucket: aws.s3.Bucket,
    opts: pulumi.ResourceOptions,
    statements: Callable[[dict[str, str]], Sequence[Statement]] | None = None,
    statement_inputs: Mapping[str, pulumi.Input[str]] | None = None,
    *,
    region: str | None = None,
) -> aws.s3.BucketPolicy:
    """TLS-only, plus `statements` given {"arn": the bucket ARN, **statement_inputs} once they resolve.

    The policy waits for the bucket's other guards (S3 takes one configuration call at a time per bucket).
    Objects written to the bucket should wait on the policy (depends_on), so nothing lands before it applies.
    `region` is the bucket's (its BucketSpec.region), for a bucket outside the provider's region.
    """
    extra = statements or (lambda _values: [])
    values = pulumi.Output.all(arn=bucket.arn, **(statement_inputs or {}))
    guards = _CONFIGURED.get(bucket)
    return aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=values.apply(lambda v: policy_document(deny_insecure_transport(v["arn"]), *extra(v))),
        region=region,
        opts=opts if guards is None else _after(opts, guards),
    )


def _encryption_rule(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict:
    if kms_key_arn is None:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    return {
        "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn},
        "bucket_key_enabled": True,
    }


def _lifecycle_rules(spec: BucketSpec) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "tidy-old-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ]
    if spec.archive is not None:
        rules.append(
            {
                "id": "archive-then-expire",
                "status": "Enabled",
                "filter": {},
                "transitions": [{"days": spec.archive.glacier_days, "storage_class": "GLACIER"}],
                "expiration": {"days": spec.archive.expire_days},
            }
        )
    return rules
