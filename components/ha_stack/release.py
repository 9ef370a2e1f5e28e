"""The service as a release: a content-addressed archive, and the user data that installs and runs it.

Pure functions (no resources), so the archive digest and the rendered scripts are tested directly:
`bash -n` on the user data, `systemd-analyze verify` on the unit.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi

SERVICE = "ha-service"
"""systemd unit, system user and /opt directory of the service on an instance."""
HOME = f"/opt/{SERVICE}"
SKIPPED_PARTS = ("__pycache__", ".pytest_cache", ".mypy_cache")


@dataclass(frozen=True)
class Release:
    """A service directory's files (archive path -> file) and the digest of their names and bytes."""

    module: str
    files: dict[str, Path]
    digest: str

    @property
    def key(self) -> str:
        """Object key of the archive: a new key for every content change, so old versions stay for rollback."""
        return f"releases/{self.module}-{self.digest[:20]}.zip"

    def archive(self) -> pulumi.AssetArchive:
        """The zip Pulumi uploads: the package directory at the archive root, so `python -m <module>` runs."""
        return pulumi.AssetArchive({path: pulumi.FileAsset(str(file)) for path, file in self.files.items()})


def package(directory: str) -> Release:
    """Collect a Python package directory (it must hold requirements.txt) into a Release."""
    root = Path(directory).resolve()
    if not (root / "__main__.py").is_file() or not (root / "requirements.txt").is_file():
        raise ValueError(
            f"HaWebTier.app_directory: {directory!r} must be a Python package with __main__.py and requirements.txt"
        )
    files = {
        f"{root.name}/{p.relative_to(root).as_posix()}": p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".pyc") and not set(p.relative_to(root).parts) & set(SKIPPED_PARTS)
    }
    digest = hashlib.sha256()
    for path, file in files.items():
        digest.update(path.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return Release(module=root.name, files=files, digest=digest.hexdigest())


@dataclass(frozen=True)
class Launch:
    """Where an instance finds its release and configuration, and how long the service may drain."""

    module: str
    bucket: str
    key: str
    digest: str
    region: str
    parameter_path: str
    log_group: str
    stop_timeout_seconds: int


def render_unit(launch: Launch) -> str:
    """The systemd unit: an unprivileged, sandboxed service restarted on failure, stopped with SIGTERM."""
    return f"""[Unit]
Description=ha-stack service (python -m {launch.module})
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User={SERVICE}
Group={SERVICE}
WorkingDirectory={HOME}/current
Environment=HA_SSM_PATH={launch.parameter_path}
Environment=AWS_DEFAULT_REGION={launch.region}
ExecStart={HOME}/venv/bin/python -m {launch.module}
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec={launch.stop_timeout_seconds}
LogsDirectory={SERVICE}
StandardOutput=append:/var/log/{SERVICE}/service.log
StandardError=append:/var/log/{SERVICE}/service.log
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes

[Install]
WantedBy=multi-user.target
"""


def render_agent_config(launch: Launch) -> str:
    """CloudWatch agent: ship the service log to its log group, and report memory and root-disk use."""
    return json.dumps(
        {
            "agent": {"run_as_user": "cwagent"},
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": f"/var/log/{SERVICE}/service.log",
                                "log_group_name": launch.log_group,
                                "log_stream_name": "{instance_id}",
                            }
                        ]
                    }
                }
            },
            "metrics": {
                "namespace": "ha-stack/instances",
                "append_dimensions": {"AutoScalingGroupName": "${aws:AutoScalingGroupName}"},
                "aggregation_dimensions": [["AutoScalingGroupName"]],
                "metrics_collected": {
                    "mem": {"measurement": ["mem_used_percent"]},
                    "disk": {"measurement": ["used_percent"], "resources": ["/"]},
                },
            },
        },
        indent=2,
    )


def render_user_data(launch: Launch) -> str:
    """cloud-init script: install the release into a venv, write the unit and agent config, start both.

    It holds no secret: the service reads its settings from Parameter Store and Secrets Manager itself.
    """
    release_dir = f"{HOME}/releases/{launch.digest[:20]}"
    agent_config = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    return f"""#!/bin/bash
# ha-stack: install release {launch.digest[:20]} of the service and start it.
set -euo pipefail
dnf install -y --setopt=install_weak_deps=False python3.11 unzip amazon-cloudwatch-agent
id -u {SERVICE} >/dev/null 2>&1 || useradd --system --home-dir {HOME} --shell /sbin/nologin {SERVICE}
mkdir -p {release_dir}
aws s3 cp --only-show-errors --region {launch.region} "s3://{launch.bucket}/{launch.key}" /tmp/release.zip
unzip -q -o /tmp/release.zip -d {release_dir}
rm -f /tmp/release.zip
python3.11 -m venv {HOME}/venv
{HOME}/venv/bin/pip install --quiet --no-cache-dir -r {release_dir}/{launch.module}/requirements.txt
ln -sfn {release_dir} {HOME}/current
cat > /etc/systemd/system/{SERVICE}.service <<'UNIT'
{render_unit(launch)}UNIT
cat > {agent_config} <<'AGENT'
{render_agent_config(launch)}
AGENT
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{agent_config}
systemctl daemon-reload
systemctl enable --now {SERVICE}.service
"""
