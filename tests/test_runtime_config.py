"""The runtime-config contract: what the stack publishes is exactly what the service reads at start-up."""

import json
from typing import Any

import pytest

from app.config import from_aws
from stack.mock_cloud import Recording
from tests.conftest import published

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def app_login(rec: Recording) -> str:
    """The JSON HaDatabase stores in the app role's secret (recorded as a Pulumi secret)."""
    value = rec.named("database-app-secret", SECRET_VERSION).inputs["secretString"]
    return str(value["secret"] if isinstance(value, dict) else value)


class PublishedParameters:
    """Parameter Store as the stack would fill it: every String parameter the program declares."""

    def __init__(self, rec: Recording) -> None:
        self.values = published(rec)

    def get_paginator(self, operation: str) -> "PublishedParameters":
        assert operation == "get_parameters_by_path"
        return self

    def paginate(self, Path: str, Recursive: bool, WithDecryption: bool) -> list[dict[str, Any]]:  # noqa: N803 (boto3 names)
        assert Recursive
        return [{"Parameters": [{"Name": k, "Value": v} for k, v in self.values.items() if k.startswith(Path)]}]


class StoredSecrets:
    """Secrets Manager as RDS and the stack would fill it: the app role's secret holds what HaDatabase wrote."""

    def __init__(self, rec: Recording) -> None:
        cache_secret = rec.named("cache-auth-token", SECRET).outputs["arn"]
        db_secret = rec.exports["database_secret_arn"]
        self.values = {db_secret: json.dumps({"username": "app_admin", "password": "generated-by-rds"})}
        self.values[rec.named("database-app-secret", SECRET).outputs["arn"]] = app_login(rec)
        self.values[cache_secret] = "generated-auth-token"

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3 names)
        return {"SecretString": self.values[SecretId]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_service_starts_from_what_the_stack_publishes(stack, request):
    rec = request.getfixturevalue(stack)
    settings = from_aws(f"/ha-stack/{stack}/", PublishedParameters(rec), StoredSecrets(rec))
    assert settings.environment == stack
    assert [w.host for w in settings.db_writers] == [rec.exports["database_writer_endpoint"]]
    assert [r.host for r in settings.db_readers] == [rec.exports["database_reader_endpoint"]]
    assert settings.db_name == "shop"
    assert (settings.db_user, settings.db_password) == ("app_admin", "generated-by-rds")
    assert settings.db_app_user == "ha_app"  # requests run as the app role, never as the master
    assert settings.db_app_password == json.loads(app_login(rec))["password"]
    assert settings.db_secret_arn == rec.exports["database_secret_arn"]  # re-read after a rotation
    assert settings.db_app_secret_arn == rec.exports["database_app_secret_arn"]
    assert settings.db_sslmode == "require"  # the parameter group refuses plain connections
    assert settings.redis.host == rec.exports["cache_primary_endpoint"]
    assert settings.redis_tls is True
    assert settings.redis_password == "generated-auth-token"
    assert settings.product_ttl_seconds == 3600
    assert settings.port == 8000


def test_the_service_drains_inside_the_load_balancers_deregistration_delay(prod):
    settings = from_aws("/ha-stack/prod/", PublishedParameters(prod), StoredSecrets(prod))
    delay = prod.named("web-app", "aws:lb/targetGroup:TargetGroup").inputs["deregistrationDelay"]
    assert settings.shutdown_grace_seconds == 25
    assert settings.shutdown_grace_seconds < delay


def _grant(rec: Recording) -> dict[str, Any]:
    policy = rec.named("runtime-config-read-secrets", "aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == rec.named("web-instances", "aws:iam/role:Role").outputs["name"]
    return dict(json.loads(policy.inputs["policy"]))


def test_prod_instances_read_exactly_the_three_secrets_and_decrypt_only_through_secrets_manager(prod):
    """The master secret (migrations), the app role's secret (requests) and the cache's AUTH token."""
    read, decrypt = _grant(prod)["Statement"]
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(read["Resource"]) == sorted(
        [
            prod.exports["database_secret_arn"],
            prod.exports["database_app_secret_arn"],
            prod.named("cache-auth-token", SECRET).outputs["arn"],
        ]
    )
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == [prod.named("database-key", "aws:kms/key:Key").outputs["arn"]]
    assert decrypt["Condition"] == {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}


def test_dev_needs_no_key_grant_with_aws_managed_keys(dev):
    (read,) = _grant(dev)["Statement"]
    assert len(read["Resource"]) == 3
