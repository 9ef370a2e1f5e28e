"""The service process as an instance runs it (HA_SSM_PATH, AWS APIs from moto's server), against the lab.

Issue 12 item 8: an instance that starts before its configuration is complete waits (one log line per
attempt, nothing listening, so the load balancer sends it nothing) and starts serving once it is complete,
instead of exiting into a systemd restart loop. Item 5: the running process then survives a rotation.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from lab.servers import DB_NAME, DB_PASSWORD, DB_USER, REDIS_PASSWORD, Lab, free_port, wait_until_answering
from tests.app.conftest import APP_PASSWORD, APP_USER, drop_sessions, rds_lab, set_password

pytestmark = pytest.mark.servers


def instance_env(aws, path: str) -> dict[str, str]:
    """What the unit gives the service on an instance: the path, and (here) moto as the AWS endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_", "AWS_"))}
    return {
        **env,
        "HA_SSM_PATH": path,
        "AWS_ENDPOINT_URL": aws["endpoint"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def publish(aws, path: str, lab: Lab, port: int) -> dict[str, str]:
    """What HaDatabase, HaCache and the runtime-config step publish, pointing at the lab; returns the ARNs."""
    arns = {}
    for key, value in (
        ("database/secret_arn", json.dumps({"username": DB_USER, "password": DB_PASSWORD})),
        ("database/app_secret_arn", json.dumps({"username": APP_USER, "password": APP_PASSWORD})),
        ("cache/auth_secret_arn", REDIS_PASSWORD),
    ):
        arns[key] = aws["secrets"].create_secret(Name=f"{path}{key}", SecretString=value)["ARN"]
    writers = f"127.0.0.1:{lab.primary.port},127.0.0.1:{lab.standby.port}"
    values = {
        **arns,
        "environment": "prod",
        "database/writer_endpoint": writers,
        "database/reader_endpoint": f"127.0.0.1:{lab.standby.port}",
        "database/name": DB_NAME,
        "database/sslmode": "disable",
        "cache/primary_endpoint": "127.0.0.1",
        "cache/port": str(lab.redis.port),
        "app/port": str(port),
    }
    for key, value in values.items():
        aws["ssm"].put_parameter(Name=f"{path}{key}", Value=value, Type="String")
    return arns


def log_lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def waiting_lines(log: Path, count: int, service: subprocess.Popen[bytes]) -> list[str]:
    """The service's first ``count`` waiting lines (attempts 1 s, then 2 s apart), failing if it exits."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert service.poll() is None, f"the service exited instead of waiting: {log.read_text()[-2000:]}"
        lines = [str(e["msg"]) for e in log_lines(log) if e["logger"] == "app.config"]
        if len(lines) >= count:
            return lines[:count]
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} waiting lines: {log.read_text()[-2000:]}")


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except OSError:
        return False
    return True


def test_an_instance_waits_for_its_configuration_then_serves_and_survives_a_rotation(aws, tmp_path):
    path, port = f"/ha-stack/boot-{uuid.uuid4().hex[:8]}/", free_port()
    log = tmp_path / "service.log"
    with rds_lab() as lab, log.open("w") as out:
        service = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", "127.0.0.1"],
            env=instance_env(aws, path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            waiting = waiting_lines(log, 3, service)
            assert not answers(f"http://127.0.0.1:{port}/health"), "health must fail while configuration is missing"
            assert [m.split(",")[0] for m in waiting] == [
                "configuration incomplete (attempt 1)",
                "configuration incomplete (attempt 2)",
                "configuration incomplete (attempt 3)",
            ]
            assert f"{path}database/writer_endpoint: is required" in str(waiting[0])

            arns = publish(aws, path, lab, port)
            published = time.monotonic()
            wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=20)
            serving_after = time.monotonic() - published
            assert serving_after < 10.0, f"served {serving_after:.1f} s after the configuration was complete"

            rotated = "rotated-" + uuid.uuid4().hex
            aws["secrets"].put_secret_value(
                SecretId=arns["database/app_secret_arn"],
                SecretString=json.dumps({"username": APP_USER, "password": rotated}),
            )
            set_password(lab, APP_USER, rotated)
            drop_sessions(lab, APP_USER)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/products?limit=1", timeout=20) as response:
                assert response.status == 200
            print(f"instance start: serving {serving_after:.1f} s after the configuration was complete")
        finally:
            service.terminate()
            service.wait(15)
    lines = log_lines(log)
    assert any(e["msg"] == "configuration complete" for e in lines)
    assert any(str(e["msg"]).startswith("database login rejected") for e in lines)
    text = log.read_text()
    assert rotated not in text
    assert APP_PASSWORD not in text
    assert DB_PASSWORD not in text
