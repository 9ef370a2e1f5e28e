"""HaBucketReplication under the mock cloud: what a user of a standby region relies on.

The replica is in the other region (every guard of it too), every object (or every given prefix) is replicated with
Replication Time Control and its metrics, delete markers follow the source unless turned off, SSE-KMS objects are
replicated with a key of the destination region, and the role S3 assumes can read only the source and write only
the replica.
"""

import json
from typing import Any

import pytest

from ha_stack import options
from ha_stack.replication import HaBucketReplication, HaBucketReplicationArgs, plan
from stack.mock_cloud import RecordedResource, Recording
from tests.conftest import build, parented_children

SOURCE = "site-assets-123"
SOURCE_ARN = f"arn:aws:s3:::{SOURCE}"
SOURCE_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"
BUCKET_TYPES = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
)
"""The replica bucket and every guard private_bucket and bucket_policy put on it."""


def args(**overrides: Any) -> HaBucketReplicationArgs:
    given: dict[str, Any] = {
        "source_bucket": SOURCE,
        "source_bucket_arn": SOURCE_ARN,
        "source_region": "us-east-1",
        "destination_region": "us-west-2",
        **overrides,
    }
    return given  # type: ignore[return-value]


def replicate(**overrides: Any) -> Recording:
    return build(lambda: HaBucketReplication("assets", args(**overrides)))


def configuration(rec: Recording) -> RecordedResource:
    (config,) = rec.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    return config


def replica(rec: Recording) -> RecordedResource:
    (bucket,) = rec.of_type("aws:s3/bucket:Bucket")
    return bucket


def allowed(rec: Recording) -> dict[str, set[str]]:
    """Action -> resources the replication role's policy allows."""
    (policy,) = rec.of_type("aws:iam/rolePolicy:RolePolicy")
    result: dict[str, set[str]] = {}
    for statement in json.loads(policy.inputs["policy"])["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            result.setdefault(action, set()).add(statement["Resource"])
    return result


def test_every_resource_of_the_replica_is_in_the_destination_region_and_the_rule_in_the_source_region():
    rec = replicate()
    replica_resources = [r for typ in BUCKET_TYPES for r in rec.of_type(typ)]
    assert sorted(r.typ for r in replica_resources) == sorted(BUCKET_TYPES)
    assert {r.name: r.inputs.get("region") for r in replica_resources} == {
        r.name: "us-west-2" for r in replica_resources
    }
    config = configuration(rec)
    assert (config.inputs["region"], config.inputs["bucket"]) == ("us-east-1", SOURCE)
    assert {r["destination"]["bucket"] for r in config.inputs["rules"]} == {replica(rec).outputs["arn"]}
    parented_children(rec)


def test_the_replica_is_versioned_and_the_rule_waits_for_it():
    """S3 refuses a replication rule whose destination has no versioning: the rule is declared after it."""
    rec = replicate()
    (versioning,) = rec.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = rec.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    (policy,) = rec.of_type("aws:s3/bucketPolicy:BucketPolicy")
    assert {lifecycle.urn, policy.urn} <= set(configuration(rec).dependencies)


def test_every_object_is_replicated_by_default_with_rtc_15_minutes_and_metrics():
    (rule,) = configuration(replicate()).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["destination"]["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert rule["destination"]["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}


def test_each_prefix_gets_its_own_rule_each_with_rtc_and_a_distinct_priority():
    rules = configuration(replicate(prefixes=["static/", "releases/"])).inputs["rules"]
    assert [r["filter"] for r in rules] == [{"prefix": "static/"}, {"prefix": "releases/"}]
    assert len({r["priority"] for r in rules}) == len({r["id"] for r in rules}) == 2
    assert all(r["destination"]["replicationTime"]["time"]["minutes"] == 15 for r in rules)
    assert all(r["destination"]["metrics"]["status"] == "Enabled" for r in rules)


def test_delete_markers_follow_the_source_unless_turned_off():
    (rule,) = configuration(replicate()).inputs["rules"]
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    (kept,) = configuration(replicate(replicate_delete_markers=False)).inputs["rules"]
    assert kept["deleteMarkerReplication"] == {"status": "Disabled"}


def test_the_role_is_assumed_by_s3_only_and_may_read_only_the_source_and_write_only_the_replica():
    rec = replicate()
    (role,) = rec.of_type("aws:iam/role:Role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "s3.amazonaws.com"}, "sts:AssumeRole")
    assert configuration(rec).inputs["role"] == role.outputs["arn"]
    destination = replica(rec).outputs["arn"]
    assert allowed(rec) == {
        "s3:GetReplicationConfiguration": {SOURCE_ARN},
        "s3:ListBucket": {SOURCE_ARN},
        "s3:GetObjectVersionForReplication": {f"{SOURCE_ARN}/*"},
        "s3:GetObjectVersionAcl": {f"{SOURCE_ARN}/*"},
        "s3:GetObjectVersionTagging": {f"{SOURCE_ARN}/*"},
        "s3:ReplicateObject": {f"{destination}/*"},
        "s3:ReplicateDelete": {f"{destination}/*"},
        "s3:ReplicateTags": {f"{destination}/*"},
    }


def test_sse_kms_objects_are_replicated_with_a_key_of_the_destination_region():
    rec = replicate(source_kms_key_arn=SOURCE_KEY)
    (key,) = rec.of_type("aws:kms/key:Key")
    assert (key.inputs["region"], key.inputs["enableKeyRotation"]) == ("us-west-2", True)
    (rule,) = configuration(rec).inputs["rules"]
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": key.outputs["arn"]}
    (encryption,) = rec.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (default,) = [r["applyServerSideEncryptionByDefault"] for r in encryption.inputs["rules"]]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}


def test_with_kms_the_role_may_decrypt_the_source_key_and_encrypt_the_replica_key_only_through_s3_for_those_buckets():
    rec = replicate(source_kms_key_arn=SOURCE_KEY)
    (key,) = rec.of_type("aws:kms/key:Key")
    destination = replica(rec).outputs["arn"]
    (policy,) = rec.of_type("aws:iam/rolePolicy:RolePolicy")
    kms = {s["Action"]: s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Action"] in (
        "kms:Decrypt", "kms:Encrypt")}  # fmt: skip
    assert kms["kms:Decrypt"]["Resource"] == SOURCE_KEY
    assert kms["kms:Decrypt"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [SOURCE_ARN, f"{SOURCE_ARN}/*"]},
    }
    assert kms["kms:Encrypt"]["Resource"] == key.outputs["arn"]
    assert kms["kms:Encrypt"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [destination, f"{destination}/*"]},
    }
    assert not replicate().of_type("aws:kms/key:Key")
    assert not {a for a in allowed(replicate()) if a.startswith("kms:")}


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"destination_region": "us-east-1"},
            "HaBucketReplication.destination_region: must differ from source_region (us-east-1)",
        ),
        ({"destination_region": "uswest2"}, "HaBucketReplication.destination_region: must be an AWS region name"),
        ({"prefixes": ["a/", "a/"]}, "HaBucketReplication.prefixes: must be distinct, got ['a/']"),
        ({"prefixes": [""]}, "HaBucketReplication.prefixes: each prefix must be 1 to 200 characters, got ''"),
        ({"noncurrent_days": 0}, "HaBucketReplication.noncurrent_days: must be from 1 to 3650 days, got 0"),
        ({"destination_regions": "x"}, "HaBucketReplication.destination_regions: unknown argument (did you mean"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_naming_the_field(overrides: dict[str, Any], line: str) -> None:
    with pytest.raises(options.ArgsError) as error:
        plan(args(**overrides))
    assert any(problem.startswith(line) for problem in error.value.problems), error.value.problems


def test_a_bad_argument_stops_the_program_that_builds_the_component():
    with pytest.raises(Exception, match="destination_region: must differ"):
        replicate(destination_region="us-east-1")
