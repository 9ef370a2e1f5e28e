"""Private buckets: S3 gets one configuration call at a time per bucket, and non-prod buckets can be destroyed."""

import itertools

import pulumi
import pulumi_aws as aws
import pytest

from ha_stack.buckets import BucketSpec, bucket_policy, configured, private_bucket
from stack.mock_cloud import RecordedResource, Recording
from tests.conftest import build, run_stack, stack_config

BUCKET = "aws:s3/bucket:Bucket"
GUARDS = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}
"""Sub-resources that each make an S3 configuration call against their bucket."""


def one_bucket(spec: BucketSpec | None = None) -> Recording:
    def program() -> None:
        bucket = private_bucket("logs", spec or BucketSpec(), {"Name": "logs"}, pulumi.ResourceOptions())
        bucket_policy("logs", bucket, pulumi.ResourceOptions())

    return build(program)


def waits_for(rec: Recording, later: RecordedResource, earlier: RecordedResource) -> bool:
    """True when `later` is applied only after `earlier` (directly or through the resources it waits for)."""
    by_urn = {r.urn: r for r in rec.resources}
    seen, todo = set(), list(later.dependencies)
    while todo:
        urn = todo.pop()
        if urn == earlier.urn:
            return True
        if urn not in seen:
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies)
    return False


def racing_pairs(rec: Recording) -> list[tuple[str, str]]:
    """Pairs of configuration calls on the same bucket that Pulumi may run at the same time."""
    buckets = {b.id: b for b in rec.of_type(BUCKET)}
    per_bucket: dict[str, list[RecordedResource]] = {}
    for r in rec.resources:
        if r.typ in GUARDS:
            per_bucket.setdefault(r.inputs["bucket"], []).append(r)
    assert set(per_bucket) == set(buckets)
    return [
        (f"{a.typ.rsplit(':', 1)[-1]} {a.name}", f"{b.typ.rsplit(':', 1)[-1]} {b.name}")
        for guards in per_bucket.values()
        for a, b in itertools.combinations(guards, 2)
        if not (waits_for(rec, a, b) or waits_for(rec, b, a))
    ]


def test_a_buckets_guards_and_policy_are_applied_one_at_a_time():
    rec = one_bucket()
    assert len([r for r in rec.resources if r.typ in GUARDS]) == 6
    assert racing_pairs(rec) == []


def test_the_public_access_block_comes_first_and_the_policy_last():
    rec = one_bucket()
    block = rec.named("logs", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    policy = rec.named("logs", "aws:s3/bucketPolicy:BucketPolicy")
    others = [r for r in rec.resources if r.typ in GUARDS and r not in (block, policy)]
    assert all(waits_for(rec, r, block) for r in others)
    assert all(waits_for(rec, policy, r) for r in others)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_bucket_of_the_stack_gets_two_configuration_calls_at_once(stack, request):
    rec = request.getfixturevalue(stack)
    assert len(rec.of_type(BUCKET)) >= 3
    assert racing_pairs(rec) == []


def test_buckets_keep_their_data_on_destroy_unless_asked():
    (bucket,) = one_bucket().of_type(BUCKET)
    assert bucket.inputs["forceDestroy"] is False


def test_a_non_prod_bucket_is_emptied_on_destroy():
    (bucket,) = one_bucket(BucketSpec(force_destroy=True)).of_type(BUCKET)
    assert bucket.inputs["forceDestroy"] is True


def test_prod_buckets_holding_data_are_never_emptied_on_destroy(prod):
    versioned = {v.inputs["bucket"] for v in prod.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    holding_data = [b for b in prod.of_type(BUCKET) if b.id in versioned]
    assert len(holding_data) >= 4
    assert [b.name for b in holding_data if b.inputs.get("forceDestroy")] == []


def test_configured_is_the_last_guard_so_a_dependent_waits_for_the_finished_bucket():
    def program() -> None:
        bucket = private_bucket("logs", BucketSpec(acl_log_delivery=True), {}, pulumi.ResourceOptions())
        after = pulumi.ResourceOptions(depends_on=[configured(bucket)])
        pulumi.CustomResource("test:index:Consumer", "consumer", {}, after)

    rec = build(program)
    consumer = rec.named("consumer")
    ownership = rec.named("logs", "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert waits_for(rec, consumer, ownership)


def test_configured_refuses_a_bucket_it_did_not_make():
    def program() -> None:
        with pytest.raises(ValueError, match="configured: this bucket was not made by private_bucket"):
            configured(aws.s3.Bucket("other"))

    build(program)


def test_dev_empties_every_bucket_of_the_stack_on_destroy_and_prod_none(dev, prod):
    """Item 11 across the tiers: `pulumi destroy` of dev succeeds; prod keeps every object."""
    assert {b.name: b.inputs.get("forceDestroy", False) for b in dev.of_type("aws:s3/bucket:Bucket")} == {
        b.name: True for b in dev.of_type("aws:s3/bucket:Bucket")
    }
    assert [b.name for b in prod.of_type("aws:s3/bucket:Bucket") if b.inputs.get("forceDestroy")] == []
    assert len(prod.of_type("aws:s3/bucket:Bucket")) > len(dev.of_type("aws:s3/bucket:Bucket"))  # prod has a trail


def test_a_dev_stack_that_opts_into_a_trail_empties_its_archive_on_destroy():
    rec = run_stack("dev", stack_config("dev", monitoring={"enable_cloudtrail": True}))
    (trail_bucket,) = [b for b in rec.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-trail")]
    assert trail_bucket.inputs["forceDestroy"] is True
