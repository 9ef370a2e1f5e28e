"""AWS Backup copies of the database in the standby region (issue 16, docs/dr.md section 4).

Replication copies a mistake as faithfully as data: a bad migration or a dropped table reaches the global database's
secondary in about a second, and RDS PostgreSQL's replicated automated backups only reach back the retention period.
A daily recovery point of the database, copied by the plan's rule into a vault in the standby region, is a copy that
neither replication nor a lost region takes away.

AWS Backup Developer Guide, "Creating backup copies across AWS Regions": a rule's copy action sends each recovery
point to a vault in another region; "AWS Backup will re-encrypt your copy using the customer managed key of your
destination vault" (so each vault has its own key in its own region: KMS keys are regional); "Amazon RDS and Aurora
support cross-Region backup, or cross-account backup, but not both in the same backup plan" (this plan copies across
regions only); a copy of a continuous backup "becomes a snapshot (periodic) backup", so point-in-time restore stays
the cluster's own backup retention. The role AWS Backup assumes has AWS's managed policies for it
(arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup and ...ForRestores, AWS Managed Policy
reference).
"""

import pulumi
import pulumi_aws as aws

from ha_stack.iam import assume_role_policy

SCHEDULE = "cron(0 5 ? * * *)"
"""Daily at 05:00 UTC: after the database's backup window (03:00-04:00) and maintenance window (Sunday 04:30-05:30
starts before it; AWS Backup waits up to the start window)."""
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 360
MANAGED_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")


class DatabaseBackup(pulumi.ComponentResource):
    """A backup vault in each region, a daily plan in the primary and its copy to the standby's vault."""

    vault_arn: pulumi.Output[str]
    """The primary region's vault."""
    copy_vault_arn: pulumi.Output[str]
    """The standby region's vault, where each recovery point is copied."""
    plan_id: pulumi.Output[str]

    def __init__(  # noqa: PLR0917 (what one plan needs)
        self,
        name: str,
        resource_arn: pulumi.Input[str],
        retention_days: int,
        standby: pulumi.ProviderResource,
        tags: dict[str, str],
        protect: bool,
    ) -> None:
        """`resource_arn`: the Aurora cluster's or RDS instance's ARN; `standby`: the standby region's provider."""
        super().__init__("ha-stack:stack:DatabaseBackup", name, None, None)
        here = pulumi.ResourceOptions(parent=self, protect=protect)
        there = pulumi.ResourceOptions(parent=self, protect=protect, provider=standby)
        vault = self._vault(f"{name}-vault", tags, here)
        copies = self._vault(f"{name}-copies", tags, there)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("backup.amazonaws.com"),
            tags={**tags, "Name": f"{name}-role"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        for policy in MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy.removeprefix('AWSBackupServiceRolePolicyFor').lower()}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/service-role/", policy),
                opts=pulumi.ResourceOptions(parent=self),
            )
        plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                {
                    "rule_name": "daily-with-standby-copy",
                    "target_vault_name": vault.name,
                    "schedule": SCHEDULE,
                    "start_window": START_WINDOW_MINUTES,
                    "completion_window": COMPLETION_WINDOW_MINUTES,
                    "lifecycle": {"delete_after": retention_days},
                    "copy_actions": [
                        {"destination_vault_arn": copies.arn, "lifecycle": {"delete_after": retention_days}}
                    ],
                }
            ],
            tags={**tags, "Name": f"{name}-plan"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.backup.Selection(
            f"{name}-database",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[resource_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vault_arn, self.copy_vault_arn, self.plan_id = vault.arn, copies.arn, plan.id
        self.register_outputs({"vault_arn": self.vault_arn, "copy_vault_arn": self.copy_vault_arn, "plan_id": plan.id})

    @staticmethod
    def _vault(name: str, tags: dict[str, str], opts: pulumi.ResourceOptions) -> aws.backup.Vault:
        """A vault encrypted with its own rotating key in the vault's region (the copies are re-encrypted with it)."""
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: AWS Backup recovery points",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags={**tags, "Name": f"{name}-key"},
            opts=opts,
        )
        return aws.backup.Vault(name, kms_key_arn=key.arn, tags={**tags, "Name": name}, opts=opts)
