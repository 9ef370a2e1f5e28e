"""The service as a release: a content-addressed archive, and the user data that installs and runs it.

A release carries everything an instance installs: the service package and a wheel of every package in its
`requirements.lock` (transitive ones included, each pinned) for Amazon Linux 2023's CPython 3.11 on x86_64 and on
aarch64 (Graviton). The user data installs them with `pip --no-index`, so a launch needs no PyPI, and the same
release boots the same code and the same library versions on every instance, whenever it scales out.

Wheels are downloaded once per lock file and architecture (keyed by the lock's digest) into a local cache, so
previews and tests are offline after the first download. The archive digest covers the wheels' bytes.

Pure functions (no resources), so the archive digest and the rendered scripts are tested directly; the rendered
user data and unit also boot for real under systemd 252 in tests/test_boot.py.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pulumi

from ha_stack.options import shown

SERVICE = "ha-service"
"""systemd unit, system user and /opt directory of the service on an instance."""
HOME = f"/opt/{SERVICE}"
SKIPPED_PARTS = ("__pycache__", ".pytest_cache", ".mypy_cache")
LOCK_FILE = "requirements.lock"
"""Every package the service installs, one `name==version` a line, in the service directory."""
PYTHON_VERSION = "3.11"
"""Amazon Linux 2023's python3.11: the interpreter of the instances' virtual environment (wheels are cp311)."""
GLIBC_MINOR = 34
"""Amazon Linux 2023 has glibc 2.34: wheels tagged manylinux_2_5 up to manylinux_2_34 run there."""
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
"""EC2 architecture name -> `uname -m` on the instance: the wheel directory its user data installs from."""
WHEEL_CACHE_ENV = "HA_STACK_WHEEL_CACHE"
"""Overrides the wheel cache directory (default: $XDG_CACHE_HOME or ~/.cache, then ha-stack/wheels)."""
LOG_DIR = f"/var/log/{SERVICE}"
LOG_FILE = f"{LOG_DIR}/service.log"
"""Where systemd appends the service's output, and where the CloudWatch agent reads it."""
LOG_ROTATE_SIZE_MIB = 50
LOG_ROTATE_KEEP = 5
"""The log is rotated once it passes 50 MiB and 5 compressed generations are kept: at most ~100 MiB of disk."""
LOG_ROTATE_CALENDAR = "*:0/10"
"""How often the rotation timer checks the log's size (systemd calendar: every 10 minutes)."""


@dataclass(frozen=True)
class Release:
    """A service directory's files plus its wheels (archive path -> file) and the digest of their names and bytes."""

    module: str
    files: dict[str, Path]
    digest: str

    @property
    def key(self) -> str:
        """Object key of the archive: a new key for every content change, so old versions stay for rollback."""
        return f"releases/{self.module}-{self.digest[:20]}.zip"

    def archive(self) -> pulumi.AssetArchive:
        """The zip Pulumi uploads: the package directory at the archive root, so `python -m <module>` runs,
        and `wheels/any/` (pure-Python wheels) and `wheels/<uname -m>/` (compiled ones) beside it."""
        return pulumi.AssetArchive({path: pulumi.FileAsset(str(file)) for path, file in self.files.items()})


class ReleaseError(ValueError):
    """A service directory that cannot become a release; `reason` is the line HaWebTier reports for app_directory."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"HaWebTier.app_directory: {reason}")
        self.reason = reason


def _fail(message: str) -> ReleaseError:
    return ReleaseError(message)


def normalize(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One requirement line: a name, its == version (None if not pinned), and its environment marker."""

    name: str
    version: str | None
    marker: str = ""


def pins(path: Path, *, strict: bool) -> dict[str, Pin]:
    """Requirement lines of a file by normalized name. With `strict` (a lock), every line is name==version."""
    found: dict[str, Pin] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line, _, marker = raw.split("#", 1)[0].partition(";")
        if not line.strip():
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s,]+))?[^;]*", line.strip())
        if not match or (strict and not match.group(4)):
            raise _fail(f"{path.name} line {number}: {shown(raw.strip())} must be name==version")
        name = normalize(match.group(1))
        found[name] = Pin(name, match.group(4), marker.strip())
    return found


def check_lock(root: Path) -> dict[str, Pin]:
    """The lock's pins, after checking it pins every requirement of requirements.txt at the same version."""
    lock_path = root / LOCK_FILE
    if not lock_path.is_file():
        raise _fail(
            f"{shown(str(root))} has no {LOCK_FILE} (every package the service installs, pinned name==version); "
            f"write it with `python -m ha_stack.release lock {root}`"
        )
    locked = pins(lock_path, strict=True)
    stale = [
        f"{name}{'==' + pin.version if pin.version else ''} (lock: {locked[name].version if name in locked else '-'})"
        for name, pin in pins(root / "requirements.txt", strict=False).items()
        if name not in locked or (pin.version is not None and locked[name].version != pin.version)
    ]
    if stale:
        raise _fail(
            f"{LOCK_FILE} is out of date with requirements.txt: {', '.join(stale)}; "
            f"regenerate it with `python -m ha_stack.release lock {root}`"
        )
    return locked


def directory_problem(directory: str) -> str | None:
    """None when `directory` is a service package with a lock that matches its requirements (the cheap checks, before
    any wheel is downloaded), else the problem in one line: never an exception, whatever the string."""
    if not directory.strip():
        return "must be the path of the service's package directory, got an empty string"
    try:
        root = Path(directory)
        if not (root / "__main__.py").is_file() or not (root / "requirements.txt").is_file():
            return f"{shown(directory)} must be a Python package with __main__.py and requirements.txt"
        check_lock(root.resolve())
    except ReleaseError as err:
        return err.reason
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, a NUL in the path
        return f"cannot read the service package {shown(directory)}: {shown(str(err))}"
    return None


def wheel_cache() -> Path:
    """The directory downloaded wheels are kept in, one subdirectory per lock digest and architecture."""
    if override := os.environ.get(WHEEL_CACHE_ENV):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ha-stack" / "wheels"


def _platform_options(machine: str) -> list[str]:
    """pip's --platform for every manylinux tag AL2023's glibc runs (pip does not expand a manylinux_2_X tag)."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    tags.append(f"manylinux2014_{machine}")
    if machine == "x86_64":  # the two oldest aliases exist for x86_64 only
        tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return [option for tag in tags for option in ("--platform", tag)]


def _pip_download(requirements: list[str], machine: str, target: Path, *, deps: bool = True) -> None:
    """Binary wheels of the requirements (and, with `deps`, their dependencies) for CPython 3.11 on Linux."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        *_platform_options(machine),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        f"cp{PYTHON_VERSION.replace('.', '')}",
        "--dest",
        str(target),
        *([] if deps else ["--no-deps"]),
        *requirements,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or done.stderr.splitlines()
        raise _fail(
            f"cannot download the wheels for Linux {machine}, CPython {PYTHON_VERSION} "
            f"(a release needs PyPI once per lock file, then they are cached in {wheel_cache()}): "
            + (errors[-1] if errors else f"pip exited with {done.returncode}")
        )


def wheel_pin(wheel: Path) -> tuple[str, str]:
    """(normalized name, version) of a wheel file (`name-version-...-tags.whl`)."""
    name, version = wheel.name.split("-")[:2]
    return normalize(name), version


def _check_downloaded(wheels: list[Path], expected: dict[str, Pin], machine: str) -> None:
    got = dict(wheel_pin(w) for w in wheels)
    unpinned = sorted(f"{name}=={version}" for name, version in got.items() if name not in expected)
    other = sorted(
        f"{name}=={pin.version} (got {got.get(name, 'none')})"
        for name, pin in expected.items()
        if got.get(name) != pin.version
    )
    if unpinned or other:
        raise _fail(
            f"{LOCK_FILE} does not resolve to itself on Linux {machine}: "
            f"needed but not pinned {unpinned or 'none'}, pinned but resolved otherwise {other or 'none'}"
        )


def _download_lock(locked: dict[str, Pin], machine: str, target: Path) -> None:
    """Resolve the unconditional pins (which proves the lock holds every dependency, at its version), then add
    the pins behind an environment marker as they are: pip evaluates a marker such as python_full_version against
    the interpreter running it, not the instances', so the release carries them and pip on the instance decides."""
    unconditional = {name: pin for name, pin in locked.items() if not pin.marker}
    conditional = [f"{name}=={pin.version}" for name, pin in locked.items() if pin.marker]
    _pip_download([f"{name}=={pin.version}" for name, pin in unconditional.items()], machine, target)
    _check_downloaded(sorted(target.glob("*.whl")), unconditional, machine)
    if conditional:
        _pip_download(conditional, machine, target, deps=False)


def wheels(root: Path, machine: str) -> list[Path]:
    """The lock's wheels for Linux `machine`, from the cache, downloading them first if this lock is new."""
    lock_bytes = (root / LOCK_FILE).read_bytes()
    locked = check_lock(root)
    key = hashlib.sha256(lock_bytes + f"|{machine}|cp{PYTHON_VERSION}|glibc2.{GLIBC_MINOR}".encode()).hexdigest()
    cached = wheel_cache() / f"{machine}-{key[:24]}"
    if not cached.is_dir():
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))
        try:
            _download_lock(locked, machine, staging)
            staging.rename(cached)  # atomic: a concurrent build sees all the wheels or none
        except OSError:
            if not cached.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = sorted(cached.glob("*.whl"))
    _check_downloaded(found, locked, machine)
    return found


_DIGESTS: dict[tuple[str, int, int], bytes] = {}


def _file_digest(file: Path) -> bytes:
    """sha256 of a file's bytes, remembered by path, size and mtime: a test run packages the same ~60 MiB of
    wheels for every stack it builds."""
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(file.read_bytes()).digest()
    return _DIGESTS[key]


def _service_files(root: Path) -> dict[str, Path]:
    return {
        f"{root.name}/{p.relative_to(root).as_posix()}": p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".pyc") and not set(p.relative_to(root).parts) & set(SKIPPED_PARTS)
    }


def package(directory: str, arch: str | None = None) -> Release:
    """Collect a Python package directory (with requirements.txt and requirements.lock) and its wheels.

    `arch` is the instances' EC2 architecture (x86_64 or arm64); by default the release carries wheels for both,
    so one release serves any instance type.
    """
    root = Path(directory).resolve()
    if not (root / "__main__.py").is_file() or not (root / "requirements.txt").is_file():
        raise _fail(f"{shown(directory)} must be a Python package with __main__.py and requirements.txt")
    if arch is not None and arch not in MACHINES:
        raise ValueError(f"HaWebTier.instance_type: architecture must be one of {sorted(MACHINES)}, got {arch!r}")
    files = _service_files(root)
    for machine in [MACHINES[arch]] if arch else sorted(MACHINES.values()):
        for wheel in wheels(root, machine):
            files[f"wheels/{'any' if wheel.name.endswith('-none-any.whl') else machine}/{wheel.name}"] = wheel
    digest = hashlib.sha256()
    for path, file in sorted(files.items()):
        digest.update(path.encode() + b"\0" + _file_digest(file))
    return Release(module=root.name, files=dict(sorted(files.items())), digest=digest.hexdigest())


def _full_version_dependencies(wheel: Path) -> list[tuple[str, str]]:
    """A wheel's dependencies behind a python_full_version marker (not an extra): (requirement, marker).

    pip evaluates such markers against the interpreter that resolves, so a lock written here could miss what an
    instance's python3.11 of another patch level needs (redis needs async-timeout below 3.11.3)."""
    with zipfile.ZipFile(wheel) as zipped:
        metadata = next(n for n in zipped.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zipped.read(metadata).decode().splitlines()
    found = []
    for line in lines:
        if line.startswith("Requires-Dist:") and "python_full_version" in line and "extra" not in line:
            requirement, _, marker = line.removeprefix("Requires-Dist:").partition(";")
            found.append((requirement.strip(), marker.strip()))
    return found


def _resolve(root: Path, machine: str, constraints: str | None) -> dict[str, Pin]:
    """Every package requirements.txt needs on Linux `machine`, pinned, conditional ones with their marker."""
    resolved: dict[str, Pin] = {}
    with tempfile.TemporaryDirectory() as target:
        extra = ["--constraint", constraints] if constraints else []
        _pip_download(["--requirement", str(root / "requirements.txt"), *extra], machine, Path(target))
        for wheel in sorted(Path(target).glob("*.whl")):
            name, version = wheel_pin(wheel)
            resolved[name] = Pin(name, version)
        for wheel in sorted(Path(target).glob("*.whl")):
            for requirement, marker in _full_version_dependencies(wheel):
                name = normalize(re.split(r"[\s<>=!~(\[]", requirement, maxsplit=1)[0])
                if name not in resolved:
                    with tempfile.TemporaryDirectory() as one:
                        _pip_download([requirement, *extra], machine, Path(one), deps=False)
                        (found,) = Path(one).glob("*.whl")
                        resolved[name] = Pin(name, wheel_pin(found)[1], marker)
    return resolved


def write_lock(directory: str, constraints: str | None = None) -> Path:
    """Resolve requirements.txt for every architecture and write requirements.lock (the command behind `lock`)."""
    root = Path(directory).resolve()
    resolved: dict[str, Pin] = {}
    for machine in sorted(MACHINES.values()):
        for name, pin in _resolve(root, machine, constraints).items():
            if resolved.setdefault(name, pin) != pin:
                raise _fail(f"{name} resolves to {resolved[name]} and {pin} on different architectures")
    lock = root / LOCK_FILE
    header = (
        "# Every package the service installs on an instance, transitive ones included, pinned.\n"
        "# Written by `python -m ha_stack.release lock`: the release carries their wheels, pip installs offline.\n"
    )
    lines = [f"{p.name}=={p.version}" + (f" ; {p.marker}" if p.marker else "") for p in resolved.values()]
    lock.write_text(header + "".join(f"{line}\n" for line in sorted(lines)))
    return lock


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
    """The systemd unit: an unprivileged, sandboxed service restarted on failure, stopped with SIGTERM.

    Output goes to a file in a directory the user data creates (systemd-tmpfiles) before the unit starts:
    systemd opens `StandardOutput=append:` before it creates `LogsDirectory=`, so a log inside the unit's own
    LogsDirectory fails the first start with status=209/STDOUT (systemd issue 27591; AL2023 ships systemd 252).
    The file is appended with O_APPEND, so a copy-and-truncate rotation leaves no gap of zeros.
    """
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
StandardOutput=append:{LOG_FILE}
StandardError=append:{LOG_FILE}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes

[Install]
WantedBy=multi-user.target
"""


def render_log_rotation() -> str:
    """logrotate's rule for the service log: by size, copy then truncate (systemd keeps the file open)."""
    return f"""{LOG_FILE} {{
    size {LOG_ROTATE_SIZE_MIB}M
    rotate {LOG_ROTATE_KEEP}
    copytruncate
    compress
    missingok
    notifempty
}}
"""


def render_rotation_units() -> tuple[str, str]:
    """A timer and a oneshot service that apply the rule every 10 minutes, whatever the distribution's own
    logrotate schedule (daily at best), so a chatty service cannot fill the disk between two daily runs."""
    service = f"""[Unit]
Description=Rotate the {SERVICE} log once it passes {LOG_ROTATE_SIZE_MIB} MiB

[Service]
Type=oneshot
StateDirectory=logrotate
ExecStart=/usr/sbin/logrotate --state /var/lib/logrotate/{SERVICE}.status /etc/logrotate.d/{SERVICE}
"""
    timer = f"""[Unit]
Description=Check the {SERVICE} log size every 10 minutes

[Timer]
OnCalendar={LOG_ROTATE_CALENDAR}
AccuracySec=1min
Persistent=true

[Install]
WantedBy=timers.target
"""
    return service, timer


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
                                "file_path": LOG_FILE,
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
    """cloud-init script: install the release and its wheels into a venv (no PyPI), set up the log and its
    rotation, write the unit and agent config, start them.

    It holds no secret: the service reads its settings from Parameter Store and Secrets Manager itself.
    """
    release_dir = f"{HOME}/releases/{launch.digest[:20]}"
    agent_config = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    rotate_service, rotate_timer = render_rotation_units()
    return f"""#!/bin/bash
# ha-stack: install release {launch.digest[:20]} of the service and start it.
set -euo pipefail
dnf install -y --setopt=install_weak_deps=False python{PYTHON_VERSION} unzip logrotate amazon-cloudwatch-agent
id -u {SERVICE} >/dev/null 2>&1 || useradd --system --user-group --home-dir {HOME} --shell /sbin/nologin {SERVICE}
mkdir -p {release_dir}
aws s3 cp --only-show-errors --region {launch.region} "s3://{launch.bucket}/{launch.key}" /tmp/release.zip
unzip -q -o /tmp/release.zip -d {release_dir}
rm -f /tmp/release.zip
machine=$(uname -m)
if [ ! -d {release_dir}/wheels/"$machine" ]; then
  echo "ha-stack: release {launch.digest[:20]} carries no wheels for $machine" >&2
  exit 1
fi
python{PYTHON_VERSION} -m venv {HOME}/venv
{HOME}/venv/bin/pip install --quiet --no-cache-dir --no-index --disable-pip-version-check \\
  --find-links {release_dir}/wheels/any --find-links {release_dir}/wheels/"$machine" \\
  --requirement {release_dir}/{launch.module}/{LOCK_FILE}
ln -sfn {release_dir} {HOME}/current
install -d -m 0755 /etc/tmpfiles.d /etc/logrotate.d /etc/systemd/system
echo "d {LOG_DIR} 0755 root root -" > /etc/tmpfiles.d/{SERVICE}.conf
systemd-tmpfiles --create /etc/tmpfiles.d/{SERVICE}.conf
cat > /etc/logrotate.d/{SERVICE} <<'ROTATE'
{render_log_rotation()}ROTATE
cat > /etc/systemd/system/{SERVICE}-logrotate.service <<'UNIT'
{rotate_service}UNIT
cat > /etc/systemd/system/{SERVICE}-logrotate.timer <<'UNIT'
{rotate_timer}UNIT
cat > /etc/systemd/system/{SERVICE}.service <<'UNIT'
{render_unit(launch)}UNIT
cat > {agent_config} <<'AGENT'
{render_agent_config(launch)}
AGENT
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{agent_config}
systemctl daemon-reload
systemctl enable --now {SERVICE}-logrotate.timer
systemctl enable --now {SERVICE}.service
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m ha_stack.release lock DIR [-c constraints.txt]`: write DIR/requirements.lock."""
    parser = argparse.ArgumentParser(prog="python -m ha_stack.release", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    lock = commands.add_parser("lock", help="resolve DIR/requirements.txt for every architecture and pin it")
    lock.add_argument("directory")
    lock.add_argument("-c", "--constraint", help="a constraints file the resolution must follow")
    options = parser.parse_args(argv)
    print(write_lock(options.directory, options.constraint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
