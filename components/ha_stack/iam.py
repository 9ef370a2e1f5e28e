"""IAM policy documents shared by the components, built as JSON text so they diff cleanly in a preview."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]


def policy_document(*statements: Statement) -> str:
    """A policy document holding these statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str) -> str:
    """Trust policy that lets one AWS service assume a role."""
    return policy_document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def deny_insecure_transport(bucket_arn: str) -> Statement:
    """Refuse every request to a bucket that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def secret_read_policy(secret_arns: list[str], key_arns: list[str]) -> str:
    """Read exactly these secrets, and decrypt with these keys only through Secrets Manager."""
    statements: list[Statement] = [
        {"Sid": "ReadSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arns}
    ]
    if keys := [k for k in key_arns if k]:
        statements.append(
            {
                "Sid": "DecryptThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": keys,
                "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
            }
        )
    return policy_document(*statements)


@dataclass(frozen=True)
class Account:
    """Partition, region and account id of the deployment, for ARNs the provider does not hand out."""

    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    account_id: pulumi.Output[str]

    def managed_policy(self, name: str) -> pulumi.Output[str]:
        """ARN of an AWS managed policy, e.g. "service-role/AmazonRDSEnhancedMonitoringRole"."""
        return pulumi.Output.concat("arn:", self.partition, ":iam::aws:policy/", name)


def caller_account(parent: pulumi.Resource) -> Account:
    """The deployment's account, looked up once by a component (the invokes are parented to it)."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    return Account(
        partition=aws.get_partition_output(opts=invoke).partition,
        region=aws.get_region_output(opts=invoke).region,
        account_id=aws.get_caller_identity_output(opts=invoke).account_id,
    )


def logs_may_use_key(sid: str, region: str, operator: str, log_groups: pulumi.Input[str]) -> Statement:
    """Key-policy statement: CloudWatch Logs of `region` may use the key for the log groups matched by `operator`
    (ArnLike for a pattern, ArnEquals for one group) on the `kms:EncryptionContext:aws:logs:arn` it sends."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {operator: {"kms:EncryptionContext:aws:logs:arn": log_groups}},
    }


def log_group_key_policy(account: str, partition: str, region: str, log_group: str = "*") -> str:
    """Key policy of a customer-managed key for CloudWatch Logs log groups.

    The account administers the key (without that statement nobody could manage it); CloudWatch Logs in this
    region may use it only for log groups of this account and region (only the group named `log_group` when a
    name is given), checked on the encryption context `kms:EncryptionContext:aws:logs:arn` that CloudWatch Logs
    sends (CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS Key Management Service").
    """
    log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}"
    return policy_document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        logs_may_use_key("CloudWatchLogsEncryptsThisAccountsLogGroups", region, "ArnLike", log_groups),
    )
