"""HaBucketReplication: S3 Cross-Region Replication of one versioned bucket to a new private bucket in another region.

What a standby region needs from a bucket (the static assets the edge serves, the releases the web tier boots
from) is a copy that is there when the primary region is not. This component creates that copy and keeps it
current, as the Amazon S3 User Guide describes:

- "Replicating objects within and across Regions": both buckets versioned (the replica is a `private_bucket`,
  which always is; the source must be too), a role S3 assumes (trust: `s3.amazonaws.com`), and a V2 rule (with a
  `Filter`, which then needs a `DeleteMarkerReplication` element).
- "Setting up permissions for live replication": the role's minimum is s3:GetReplicationConfiguration and
  s3:ListBucket on the source bucket, s3:GetObjectVersionForReplication / s3:GetObjectVersionAcl /
  s3:GetObjectVersionTagging on its objects, and s3:ReplicateObject / s3:ReplicateDelete / s3:ReplicateTags on the
  destination's objects. That is all this role gets.
- "Replicating objects using S3 Replication Time Control": RTC replicates most objects in seconds and 99.99 percent
  of them within 15 minutes; it must come with replication metrics, and 15 is the only valid value of both
  `ReplicationTime.Time.Minutes` and `Metrics.EventThreshold.Minutes` (API reference, ReplicationTimeValue).
- "Replicating encrypted objects": SSE-KMS objects are replicated only when the rule opts in
  (`SourceSelectionCriteria.SseKmsEncryptedObjects`), with a `ReplicaKmsKeyID` that "must have been created in the
  same AWS Region as the destination bucket"; the role may then kms:Decrypt with the source key and kms:Encrypt
  with the replica key, each only through S3 of that key's region and only for that bucket (its ARN is the
  encryption context when S3 Bucket Keys are on, the object ARN otherwise: both are allowed, nothing else).
- "Replicating delete markers between buckets": see `replicate_delete_markers`.

What replication does not do (AWS, "What isn't replicated"): objects that existed before the rule are not copied
(run S3 Batch Replication once for those), permanent deletes of a version are never replicated, and delete
markers made by a lifecycle expiration rule are not replicated.
"""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.buckets import BucketSpec, bucket_policy, configured, private_bucket
from ha_stack.iam import Statement, assume_role_policy, policy_document
from ha_stack.naming import component_tags, type_token

COMPONENT = "HaBucketReplication"
RTC_MINUTES = 15
"""The only value S3 accepts for ReplicationTime.Time.Minutes and Metrics.EventThreshold.Minutes."""
MAX_RULES = 1000
"""A replication configuration holds at most 1,000 rules (API reference, ReplicationConfiguration)."""
MAX_PREFIX = 200
"""Longest prefix taken: a rule's ID (at most 255 characters) is "prefix:" and the prefix."""
REGION = r"[a-z]{2}(-[a-z]+)+-\d"
SOURCE_READ_ACTIONS = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
DESTINATION_WRITE_ACTIONS = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]


class HaBucketReplicationArgs(TypedDict):
    """Inputs for HaBucketReplication (defaults and checks: ARGS)."""

    source_bucket: pulumi.Input[str]
    """Name of the versioned bucket to replicate (e.g. a `private_bucket`'s id)."""
    source_bucket_arn: pulumi.Input[str]
    """ARN of that bucket: the only bucket the replication role may read."""
    source_region: str
    """Region of the source bucket; the replication configuration is declared there."""
    destination_region: str
    """Region of the replica bucket (the standby region); must differ from source_region."""
    source_kms_key_arn: NotRequired[pulumi.Input[str]]
    """KMS key the source's objects are encrypted with (SSE-KMS). Given: those objects are replicated too, and the
    replica bucket gets its own customer-managed key in the destination region. Absent: the source is SSE-S3 and
    so is the replica."""
    prefixes: NotRequired[list[str]]
    """Key prefixes to replicate, one rule each. The default, no prefixes, replicates every object."""
    replicate_delete_markers: NotRequired[bool]
    """Replicate delete markers, so an object deleted in the source is gone from the replica too and a failover
    serves what the primary served. The replica's earlier versions stay (permanent version deletes are never
    replicated), so a delete is undone there the same way as in the source."""
    noncurrent_days: NotRequired[int]
    """Days the replica keeps an overwritten or deleted object version."""
    force_destroy: NotRequired[bool]
    """Delete every replica object version with the stack (dev); false keeps the data."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


def _region(value: str) -> str | None:
    return None if re.fullmatch(REGION, value) else f"must be an AWS region name like 'us-west-2', got {value!r}"


def _prefix(value: str) -> str | None:
    if not value or len(value) > MAX_PREFIX:
        return f"each prefix must be 1 to {MAX_PREFIX} characters, got {options.shown(value)}"
    return None


ARGS = options.Spec(
    COMPONENT,
    HaBucketReplicationArgs,
    source_bucket=options.Arg(),
    source_bucket_arn=options.Arg(),
    source_region=options.Arg(check=_region),
    destination_region=options.Arg(check=_region),
    source_kms_key_arn=options.Arg(),
    prefixes=options.Arg([], options.each(_prefix)),
    replicate_delete_markers=options.Arg(True),
    noncurrent_days=options.Arg(30, options.between(1, 3650, " days")),
    force_destroy=options.Arg(False),
    tags=options.Arg({}),
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> HaBucketReplicationArgs:
    """Every argument and every rule across them, all problems recorded (the stack passes its wiring as skip)."""
    args = ARGS.read(given, problems, skip=skip)
    source, destination = args.get("source_region"), args.get("destination_region")
    if source is not None and source == destination:
        problems.add(
            "destination_region",
            f"must differ from source_region ({source}): cross-region replication protects against a region loss",
        )
    prefixes = args.get("prefixes", [])
    if len(set(prefixes)) != len(prefixes):
        duplicates = sorted({p for p in prefixes if prefixes.count(p) > 1})
        problems.add("prefixes", f"must be distinct, got {duplicates} more than once")
    if len(prefixes) > MAX_RULES:
        problems.add("prefixes", f"at most {MAX_RULES} (one replication rule each), got {len(prefixes)}")
    return args


def plan(args: HaBucketReplicationArgs) -> HaBucketReplicationArgs:
    """Defaults and validation before any resource exists; pure, so it is tested without mocks."""
    problems = options.Problems(f"{COMPONENT}.")
    checked = check(args, problems)
    problems.raise_any()
    return checked


def _kms_via_s3(sid: str, action: str, key_arn: str, region: str, bucket_arn: str) -> Statement:
    """Use of one key, only by S3 of the key's region, only for objects of one bucket."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": action,
        "Resource": key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
        },
    }


def replication_policy(
    source_arn: str,
    destination_arn: str,
    source_region: str,
    destination_region: str,
    *,
    source_key_arn: str | None = None,
    replica_key_arn: str | None = None,
) -> str:
    """The role's permissions: read the source for replication, replicate into the destination, nothing else."""
    statements: list[Statement] = [
        {
            "Sid": "ReadSourceConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_arn,
        },
        {"Sid": "ReadSourceVersions", "Effect": "Allow", "Action": SOURCE_READ_ACTIONS, "Resource": f"{source_arn}/*"},
        {
            "Sid": "WriteReplicas",
            "Effect": "Allow",
            "Action": DESTINATION_WRITE_ACTIONS,
            "Resource": f"{destination_arn}/*",
        },
    ]
    if source_key_arn and replica_key_arn:
        statements.append(_kms_via_s3("DecryptSource", "kms:Decrypt", source_key_arn, source_region, source_arn))
        statements.append(
            _kms_via_s3("EncryptReplicas", "kms:Encrypt", replica_key_arn, destination_region, destination_arn)
        )
    return policy_document(*statements)


class HaBucketReplication(pulumi.ComponentResource):
    """A private, versioned replica of a bucket in another region, kept current by S3 CRR with RTC and metrics.

    Order it after the source bucket's versioning (`depends_on=[configured(source)]`): S3 refuses a replication
    configuration on a bucket without versioning.
    """

    destination_bucket: pulumi.Output[str]
    """Name of the replica bucket."""
    destination_bucket_arn: pulumi.Output[str]
    """ARN of the replica bucket."""
    destination_kms_key_arn: pulumi.Output[str] | None
    """The replica's key (destination region) when the source uses SSE-KMS, else None."""
    role_arn: pulumi.Output[str]
    """The role S3 assumes to replicate."""

    def __init__(self, name: str, args: HaBucketReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(COMPONENT), name, None, opts)
        p = plan(args)
        child = pulumi.ResourceOptions(parent=self)
        destination = p["destination_region"]
        replica_key = self._replica_key(name, p, child)
        tags = component_tags(COMPONENT, p["tags"], name=f"{name}-replica")
        spec = BucketSpec(
            kms_key_arn=None if replica_key is None else replica_key.arn,
            noncurrent_days=p["noncurrent_days"],
            force_destroy=p["force_destroy"],
            region=destination,
        )
        bucket = private_bucket(f"{name}-replica", spec, tags, child)
        policy = bucket_policy(f"{name}-replica", bucket, child, region=destination)
        role = self._role(name, p, bucket, replica_key, child)
        self._configuration(name, p, bucket, replica_key, role, [configured(bucket), policy])
        self.destination_bucket = bucket.bucket
        self.destination_bucket_arn = bucket.arn
        self.destination_kms_key_arn = None if replica_key is None else replica_key.arn
        self.role_arn = role.arn
        outputs: dict[str, pulumi.Output[str]] = {
            "destination_bucket": self.destination_bucket,
            "destination_bucket_arn": self.destination_bucket_arn,
            "role_arn": self.role_arn,
        }
        if self.destination_kms_key_arn is not None:
            outputs["destination_kms_key_arn"] = self.destination_kms_key_arn
        self.register_outputs(outputs)

    @staticmethod
    def _replica_key(name: str, p: HaBucketReplicationArgs, child: pulumi.ResourceOptions) -> aws.kms.Key | None:
        """A customer-managed key in the destination region for SSE-KMS replicas (S3 needs one in that region).

        The default key policy (the account administers the key, IAM policies grant its use) is what lets the
        replication role's own policy grant kms:Encrypt.
        """
        if "source_kms_key_arn" not in p:
            return None
        return aws.kms.Key(
            f"{name}-replica",
            description=f"{name}: replicas in {p['destination_region']}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=p["destination_region"],
            tags=component_tags(COMPONENT, p["tags"], name=f"{name}-replica"),
            opts=child,
        )

    @staticmethod
    def _role(
        name: str,
        p: HaBucketReplicationArgs,
        bucket: aws.s3.Bucket,
        replica_key: aws.kms.Key | None,
        child: pulumi.ResourceOptions,
    ) -> aws.iam.Role:
        """The role S3 assumes, with only the permissions `replication_policy` lists (IAM is global)."""
        role = aws.iam.Role(
            f"{name}-replication",
            assume_role_policy=assume_role_policy("s3.amazonaws.com"),
            tags=component_tags(COMPONENT, p["tags"], name=f"{name}-replication"),
            opts=child,
        )
        values = pulumi.Output.all(
            source=p["source_bucket_arn"],
            destination=bucket.arn,
            source_key=p.get("source_kms_key_arn", ""),
            replica_key="" if replica_key is None else replica_key.arn,
        )
        source_region, destination_region = p["source_region"], p["destination_region"]
        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=values.apply(
                lambda v: replication_policy(
                    v["source"],
                    v["destination"],
                    source_region,
                    destination_region,
                    source_key_arn=v["source_key"],
                    replica_key_arn=v["replica_key"],
                )
            ),
            opts=child,
        )
        return role

    def _configuration(  # noqa: PLR0917 (the pieces the configuration names)
        self,
        name: str,
        p: HaBucketReplicationArgs,
        bucket: aws.s3.Bucket,
        replica_key: aws.kms.Key | None,
        role: aws.iam.Role,
        after: list[pulumi.Resource],
    ) -> aws.s3.BucketReplicationConfig:
        """One V2 rule per prefix (or one for every object), each with RTC 15 minutes and metrics."""
        prefixes: list[str] = list(p["prefixes"]) or [""]
        rules = [self._rule(index, prefix, p, bucket, replica_key) for index, prefix in enumerate(prefixes)]
        return aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=p["source_bucket"],
            role=role.arn,
            rules=rules,
            region=p["source_region"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    @staticmethod
    def _rule(
        priority: int,
        prefix: str,
        p: HaBucketReplicationArgs,
        bucket: aws.s3.Bucket,
        replica_key: aws.kms.Key | None,
    ) -> aws.s3.BucketReplicationConfigRuleArgsDict:
        destination: aws.s3.BucketReplicationConfigRuleDestinationArgsDict = {
            "bucket": bucket.arn,
            "replication_time": {"status": "Enabled", "time": {"minutes": RTC_MINUTES}},
            "metrics": {"status": "Enabled", "event_threshold": {"minutes": RTC_MINUTES}},
        }
        """The rule for one prefix ("" is every object: an explicit empty prefix keeps the rule a V2 rule with a
        Filter, which delete marker replication and RTC need; terraform-provider-aws sends `prefix = ""` as given,
        internal/service/s3 expandReplicationRuleFilter). Its ID is the prefix, so reordering never renames it."""
        rule: aws.s3.BucketReplicationConfigRuleArgsDict = {
            "id": f"prefix:{prefix}" if prefix else "every-object",
            "status": "Enabled",
            "priority": priority,
            "filter": {"prefix": prefix},
            "delete_marker_replication": {
                "status": "Enabled" if p["replicate_delete_markers"] else "Disabled",
            },
            "destination": destination,
        }
        if replica_key is not None:
            destination["encryption_configuration"] = {"replica_kms_key_id": replica_key.arn}
            rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        return rule
