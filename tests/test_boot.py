"""Boot an instance for real: the prod stack's user data and unit under systemd 252, against emulated AWS APIs.

The user data is read from the launch template the prod stack renders (the program runs under the mock cloud),
and runs on a freshly booted systemd 252 container (Debian 12's systemd, the version Amazon Linux 2023 ships):
the service user, the directories, the release download and unpacking, the virtual environment installed from the
release's wheels, the log directory and its rotation, the unit with its sandboxing, enable and start all run for
real. The container's network is a namespace with only loopback: it reaches the lab's PostgreSQL (primary and
standby, TLS and password logins only, as RDS with rds.force_ssl) and Redis (TLS and AUTH, as ElastiCache with
in-transit encryption), and moto's server mode serving S3 (the release object), Parameter Store and Secrets
Manager, filled with what the program publishes. Nothing else: no PyPI, no package mirror.

Stand-ins, one for each step that exists only on Amazon Linux 2023 or on AWS:
1. `dnf`: a script that installs nothing from a network. It accepts only the packages it knows: python3.11,
   unzip and logrotate must already be on this machine (Debian's packages, in the host's /usr), and
   amazon-cloudwatch-agent installs stand-in 2.
2. `amazon-cloudwatch-agent-ctl`: records its arguments and checks the configuration it is given is JSON; it
   ships no logs (its configuration's file_path is asserted instead).
3. `aws`: the AWS CLI v1 from PyPI (awscli, in a virtual environment of its own, cached) instead of AL2023's v2.
4. The instance profile: dummy static keys in the environment of the user data and in a drop-in of the unit,
   with `AWS_ENDPOINT_URL` pointing at moto (the endpoint override, honoured by botocore >= 1.31).
5. The VPC's DNS: /etc/hosts maps the published database and cache endpoints to the lab's loopback addresses.
6. The CA bundle: /etc/ssl/certs/ca-certificates.crt holds the lab's self-signed certificate (ElastiCache's
   certificate chains to a public CA that AL2023's bundle holds).
7. cloud-init: the user data runs as a transient systemd unit (systemd-run), as cloud-final.service runs it.

Needs root, systemd-nspawn (Debian's systemd-container) and PyPI once (the wheels and the aws stand-in are cached).
Skipped with the reason when it cannot run, except under CI=true, where that is a failure.
"""

import base64
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3  # type: ignore[import-untyped]
import psycopg
import pytest

from ha_stack import release
from ha_stack.release import SERVICE, Launch, package, render_unit, render_user_data
from lab.instance import Container, Network, missing_tools
from lab.servers import Lab, Server, running_lab
from stack.mock_cloud import Recording
from tests.conftest import ROOT, run_stack

pytestmark = pytest.mark.servers

AWSCLI = "awscli==1.46.3"
"""Stand-in 3: the AWS CLI the user data's `aws s3 cp` runs."""
MOTO = ("127.0.0.5", 5000)
WRITER_IP, READER_IP, CACHE_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"
STANDINS = "/run/ha-boot"
"""Where the stand-in scripts are bound (read-only) in the container."""
STANDIN_PATH = f"{STANDINS}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER_DATA_TIMEOUT = 300
MARKER_ROUTE = "/boot-test-release"
GRACE_MARGIN = 3
"""Suggested grace period = measured boot-to-healthy time x 3 (see docs/boot.md for why)."""

DNF = f"""#!/bin/bash
# Stand-in for Amazon Linux 2023's dnf (boot test): installs nothing from a network.
set -euo pipefail
[ "${{1:-}}" = install ] || {{ echo "dnf stand-in: only 'install' is supported, got: $*" >&2; exit 1; }}
shift
for arg in "$@"; do
  case "$arg" in
    -y|--setopt=*) ;;
    python3.11) python3.11 -c 'import ensurepip, venv' ;;
    unzip) command -v unzip >/dev/null ;;
    logrotate) test -x /usr/sbin/logrotate ;;
    amazon-cloudwatch-agent)
      install -d /opt/aws/amazon-cloudwatch-agent/bin /opt/aws/amazon-cloudwatch-agent/etc
      install -m 0755 {STANDINS}/amazon-cloudwatch-agent-ctl /opt/aws/amazon-cloudwatch-agent/bin/ ;;
    *) echo "dnf stand-in: no stand-in for $arg" >&2; exit 1 ;;
  esac
done
"""
AGENT_CTL = """#!/bin/bash
# Stand-in for amazon-cloudwatch-agent-ctl (boot test): records its arguments, checks the configuration is JSON.
set -euo pipefail
echo "$*" > /run/amazon-cloudwatch-agent-ctl.args
config=""
while [ $# -gt 0 ]; do case "$1" in -c) config="${2#file:}"; shift 2 ;; *) shift ;; esac; done
python3.11 -c 'import json, sys; json.load(open(sys.argv[1]))' "$config"
"""


# -- the release, offline (no root needed) ----------------------------------------------------------------------


def test_release_carries_every_locked_wheel_for_both_architectures():
    built = package(str(ROOT / "app"))
    locked = release.check_lock(ROOT / "app")
    for machine in ("x86_64", "aarch64"):
        shipped = [Path(p) for p in built.files if p.startswith(("wheels/any/", f"wheels/{machine}/"))]
        assert {release.wheel_pin(w) for w in shipped} == {(name, pin.version) for name, pin in locked.items()}
    assert "app/requirements.lock" in built.files
    wheel = next(p for p in built.files if p.startswith("wheels/x86_64/"))
    without = {p: f for p, f in built.files.items() if p != wheel}
    digest = hashlib.sha256()
    for path, file in sorted(without.items()):
        digest.update(path.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    assert digest.hexdigest() != built.digest  # the key covers the wheels' bytes


def test_release_builds_offline_once_its_wheels_are_cached(monkeypatch):
    package(str(ROOT / "app"))  # downloads on the first run only

    def no_network(*args, **kwargs):
        raise AssertionError(f"a cached release ran {args[0][:4]}")

    monkeypatch.setattr(subprocess, "run", no_network)
    assert package(str(ROOT / "app")).key.startswith("releases/app-")


def test_a_lock_that_misses_a_requirement_is_refused_in_one_line(tmp_path):
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    requirements = tmp_path / "app" / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("redis==", "redis==0.0.1\n# was redis=="))
    with pytest.raises(ValueError, match=r"^HaWebTier.app_directory: requirements.lock is out of date .*redis==0.0.1"):
        package(str(tmp_path / "app"))
    (tmp_path / "app" / "requirements.lock").write_text("fastapi>=1\n")
    with pytest.raises(ValueError, match=r"requirements.lock line 1: 'fastapi>=1' must be name==version"):
        package(str(tmp_path / "app"))


def test_user_data_installs_from_the_release_only():
    launch = Launch("app", "b", "releases/app-x.zip", "f" * 64, "us-east-1", "/p/", "lg", 40)
    script = render_user_data(launch)
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert installs
    assert all("--no-index" in line for line in installs)
    assert '--find-links /opt/ha-service/releases/ffffffffffffffffffff/wheels/"$machine"' in script
    unit = render_unit(launch)
    assert "LogsDirectory=" not in unit  # systemd opens the output before it creates that directory


# -- what the program publishes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What a `pulumi up` of the prod stack would leave in AWS for an instance to boot from."""

    user_data: str
    bucket: str
    key: str
    region: str
    archive: dict[str, str]
    """Release archive path -> local file, as Pulumi would zip and upload it."""
    parameters: dict[str, tuple[str, str]]
    """Parameter name -> (type, value)."""
    secrets: dict[str, str]
    """Secret ARN -> secret string."""
    master: tuple[str, str]
    """The database's master login (RDS generates its password; this test makes one)."""
    deregistration_delay: float
    grace_seconds: int

    def parameter(self, suffix: str) -> str:
        (value,) = [v for name, (_, v) in self.parameters.items() if name.endswith("/" + suffix)]
        return value


def _plain(value: Any) -> Any:
    """A recorded input without the mock's secret wrapper."""
    return value["secret"] if isinstance(value, dict) and set(value) == {"secret"} else value


def published(rec: Recording) -> Published:
    (template,) = rec.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    user_data = base64.b64decode(template.inputs["userData"]).decode()
    found = re.search(r'--region (\S+) "s3://([^/]+)/([^"]+)"', user_data)
    assert found, "the user data downloads no release"
    region, bucket, key = found.groups()
    (release,) = [r for r in rec.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if r.inputs["key"] == key]
    parameters = {
        p.inputs["name"]: (p.inputs["type"], str(_plain(p.inputs.get("insecureValue", p.inputs.get("value")))))
        for p in rec.of_type("aws:ssm/parameter:Parameter")
    }
    secrets = {
        rec.by_id(v.inputs["secretId"]).outputs["arn"]: str(_plain(v.inputs["secretString"]))
        for v in rec.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    }
    master_user = ""
    for db in rec.of_type("aws:rds/cluster:Cluster") + rec.of_type("aws:rds/instance:Instance"):
        for managed in db.outputs.get("masterUserSecrets") or []:
            master_user = str(db.inputs.get("masterUsername") or db.inputs.get("username"))
            master = (master_user, "rds-" + uuid.uuid4().hex)
            secrets[managed["secretArn"]] = json.dumps({"username": master[0], "password": master[1]})
        if db.inputs.get("masterPassword") is not None:  # a global database's member: the stack keeps its secret
            master_user = str(db.inputs["masterUsername"])
            master = (master_user, str(_plain(db.inputs["masterPassword"])))
    assert master_user, "no master secret in the stack (RDS-managed, or the stack's own for a global database)"
    (group,) = rec.of_type("aws:autoscaling/group:Group")
    (target_group,) = rec.of_type("aws:lb/targetGroup:TargetGroup")
    return Published(
        user_data=user_data,
        bucket=bucket,
        key=key,
        region=region,
        archive={path: asset["file"] for path, asset in release.inputs["source"]["archive"].items()},
        parameters=parameters,
        secrets=secrets,
        master=master,
        deregistration_delay=float(target_group.inputs["deregistrationDelay"]),
        grace_seconds=int(group.inputs["healthCheckGracePeriod"]),
    )


# -- the emulated AWS APIs, and the stand-ins -------------------------------------------------------------------


def _aws(service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=f"http://{MOTO[0]}:{MOTO[1]}",
        aws_access_key_id="boot-test",
        aws_secret_access_key="boot-test",
    )


def publish(pub: Published) -> None:
    """Fill moto as `pulumi up` fills AWS: the release object, every parameter, every secret the stack names."""
    s3 = _aws("s3", pub.region)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=pub.bucket)
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path, file in pub.archive.items():
                zipped.write(file, path)
        archive.seek(0)
        s3.put_object(Bucket=pub.bucket, Key=pub.key, Body=archive.read())
    ssm = _aws("ssm", pub.region)
    for name, (kind, value) in pub.parameters.items():
        ssm.put_parameter(Name=name, Type=kind, Value=value, Overwrite=True)
    secrets = _aws("secretsmanager", pub.region)
    named = {n: v for n, (_, v) in pub.parameters.items() if n.endswith("secret_arn")}
    unknown = {n: arn for n, arn in named.items() if arn not in pub.secrets}
    assert not unknown, f"the stack publishes secrets it gives no value for: {unknown}"
    for arn, value in pub.secrets.items():
        with contextlib.suppress(secrets.exceptions.ResourceExistsException):
            secrets.create_secret(Name=arn.split(":")[-1], SecretString=value)  # moto finds it by the full ARN


def awscli_standin() -> Path:
    """Stand-in 3's virtual environment (Debian's python3.11, so it runs in the container), made once."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ha-stack"
    venv = cache / f"boot-{AWSCLI.replace('==', '-')}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # venvs cannot move: built in place, one builder at a time
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run(["/usr/bin/python3.11", "-m", "venv", str(venv)], check=True, timeout=120)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            done = subprocess.run([*pip, AWSCLI], capture_output=True, text=True, timeout=600, check=False)
            if done.returncode != 0:
                unavailable(f"cannot install the aws CLI stand-in ({AWSCLI}) from PyPI: {done.stderr[-300:]}")
            (venv / ".complete").touch()
    return venv


def write_standins(directory: Path, awscli: Path) -> None:
    (directory / "bin").mkdir(parents=True)
    for path, text in (
        (directory / "bin" / "dnf", DNF),
        (directory / "bin" / "aws", f'#!/bin/bash\n# Stand-in for AL2023\'s AWS CLI v2.\nexec {awscli}/bin/aws "$@"\n'),
        (directory / "amazon-cloudwatch-agent-ctl", AGENT_CTL),
    ):
        path.write_text(text)
        path.chmod(0o755)


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail under CI (where the boot test must run)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the boot test cannot run under CI: {reason}")
    pytest.skip(reason)


# -- one instance ------------------------------------------------------------------------------------------------


def http(
    method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """(status, JSON body) of one request; call it inside the network namespace."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for name, value in (headers or {}).items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def first_200(url: str, until: float, failed: threading.Event) -> float | None:
    """monotonic() of the first 200 from url, or None if `failed` is set or `until` passes first."""
    while time.monotonic() < until and not failed.is_set():
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.1)
    return None


@dataclass
class Fleet:
    """The namespace, the lab, moto, and the stand-ins that every instance of this test shares."""

    network: Network
    lab: Lab
    standins: Path
    awscli: Path
    log: Any
    boots: list[float]

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """A superuser session on the primary, opened inside the namespace (usable from any thread after)."""
        return self.network.call(psycopg.connect, self.lab.dsn(self.lab.primary, user="postgres", dbname=dbname))


@dataclass
class Instance:
    """A booted container that ran the user data, and what was measured."""

    container: Container
    fleet: Fleet
    pub: Published
    boot_to_healthy_seconds: float
    port: int

    @property
    def network(self) -> Network:
        return self.fleet.network

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> tuple[int, Any]:
        return self.network.call(http, method, self.url(path), body, headers)

    def systemctl(self, *args: str) -> str:
        return self.container.run("systemctl", *args, check=False).stdout.strip()

    def diagnosis(self) -> str:
        """The user data's output and the unit's status and journal: what an operator would look at."""
        out = self.container.path("/var/log/cloud-init-output.log")
        return "\n".join(
            [
                "--- user data output (tail):",
                out.read_text()[-3000:] if out.exists() else "(none)",
                f"--- systemctl status {SERVICE}:",
                self.container.run("systemctl", "status", SERVICE, "--no-pager", "-l", check=False).stdout,
                f"--- journalctl -u {SERVICE}:",
                self.container.run("journalctl", "-u", SERVICE, "--no-pager", "-n", "40", check=False).stdout,
            ]
        )


def launch(name: str, fleet: Fleet, pub: Published) -> Instance:
    """Boot a fresh container, give it the stand-ins, run the user data, and time it until /health answers."""
    network = fleet.network
    binds = [(str(fleet.standins), STANDINS), (str(fleet.awscli), str(fleet.awscli))]
    container = Container(name, network, fleet.log, binds=binds)
    try:
        return _run_user_data(container, fleet, pub)
    except BaseException:
        container.stop()
        raise


def _run_user_data(container: Container, fleet: Fleet, pub: Published) -> Instance:
    network = fleet.network
    container.boot()
    port = int(pub.parameter("app/port"))
    instance = Instance(container, fleet, pub, 0.0, port)
    endpoint = f"http://{MOTO[0]}:{MOTO[1]}"
    hosts = {
        WRITER_IP: pub.parameter("database/writer_endpoint"),
        READER_IP: pub.parameter("database/reader_endpoint"),
        CACHE_IP: f"{pub.parameter('cache/primary_endpoint')} {pub.parameter('cache/reader_endpoint')}",
    }
    container.write("/etc/hosts", "127.0.0.1 localhost\n" + "".join(f"{ip} {n}\n" for ip, n in hosts.items()))
    container.write("/etc/ssl/certs/ca-certificates.crt", fleet.lab.ca.read_text())
    aws = {"AWS_ACCESS_KEY_ID": "boot-test", "AWS_SECRET_ACCESS_KEY": "boot-test", "AWS_ENDPOINT_URL": endpoint}
    credentials = " ".join(f"{k}={v}" for k, v in aws.items())
    container.write(
        f"/etc/systemd/system/{SERVICE}.service.d/instance-profile-standin.conf",
        f"[Service]\nEnvironment={credentials} AWS_EC2_METADATA_DISABLED=true\n",
    )
    container.write("/var/lib/cloud/instance/user-data.txt", pub.user_data, 0o700)
    environment = {"PATH": STANDIN_PATH, "AWS_EC2_METADATA_DISABLED": "true", **aws}
    command = [
        "systemd-run",
        "--unit=cloud-final-user-data",
        "--wait",
        "--quiet",
        "-p",
        "StandardOutput=append:/var/log/cloud-init-output.log",
        "-p",
        "StandardError=append:/var/log/cloud-init-output.log",
        "-p",
        f"RuntimeMaxSec={USER_DATA_TIMEOUT}",
        *[f"--setenv={k}={v}" for k, v in environment.items()],
        "/bin/bash",
        "/var/lib/cloud/instance/user-data.txt",
    ]
    failed = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as runner:
        started = time.monotonic()
        user_data = runner.submit(container.run, *command, check=False, timeout=USER_DATA_TIMEOUT + 30)
        user_data.add_done_callback(lambda f: failed.set() if f.result().returncode != 0 else None)
        healthy = network.call(
            first_200, instance.url("/health"), started + USER_DATA_TIMEOUT, failed, timeout=USER_DATA_TIMEOUT + 30
        )
        result = user_data.result()
    if result.returncode != 0 or healthy is None:
        raise AssertionError(f"user data exited with {result.returncode}, /health never 200\n{instance.diagnosis()}")
    instance.boot_to_healthy_seconds = healthy - started
    return instance


@pytest.fixture(scope="module")
def prod_published() -> Published:
    return published(run_stack("prod").primary_region("us-east-1"))


@pytest.fixture(scope="module")
def fleet(prod_published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if missing := missing_tools():
        unavailable(f"booting a container needs {', '.join(missing)} (apt-get install systemd-container, as root)")
    pub = prod_published
    awscli = awscli_standin()
    standins = tmp_path_factory.mktemp("standins")
    write_standins(standins, awscli)
    log = (tmp_path_factory.mktemp("logs") / "containers.log").open("ab")
    names = (
        pub.parameter("database/writer_endpoint"),
        pub.parameter("database/reader_endpoint"),
        pub.parameter("cache/primary_endpoint"),
        pub.parameter("cache/reader_endpoint"),
    )
    db_port, cache_port = int(pub.parameter("database/port")), int(pub.parameter("cache/port"))
    with contextlib.ExitStack() as stack:
        network = Network()
        stack.callback(network.close)
        servers = running_lab(
            primary=Server("primary", db_port, host=WRITER_IP),
            standby=Server("standby", db_port, host=READER_IP),
            redis=Server("redis", cache_port, host=CACHE_IP),
            tls=True,
            tls_names=names,
            redis_password=pub.secrets[pub.parameter("cache/auth_secret_arn")],
        )
        lab = network.call(servers.__enter__)
        stack.callback(network.call, servers.__exit__, None, None, None)
        network.call(_as_rds, lab, pub)
        moto = network.call(_start_moto, log)
        stack.callback(_stop, moto)
        network.call(_wait_for_moto)
        network.call(publish, pub)
        yield Fleet(network, lab, standins, awscli, log, [])
        log.close()


def _start_moto(log: IO[bytes]) -> "subprocess.Popen[bytes]":
    """moto's server mode on its own loopback address (call inside the namespace)."""
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", MOTO[0], "-p", str(MOTO[1])]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_for_moto() -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            _aws("s3", "us-east-1").list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _as_rds(lab: Lab, pub: Published) -> None:
    """The database as RDS creates it: the master login and the database named in the stack, nothing else."""
    (user, password), name = pub.master, pub.parameter("database/name")
    with psycopg.connect(lab.dsn(lab.primary, user="postgres", dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{user}\" LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
        conn.execute("DROP DATABASE shop")
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{user}"')
        conn.execute("DROP ROLE app")  # the lab's own login: RDS has only the master


@pytest.fixture(scope="module")
def first(fleet: Fleet, prod_published: Published) -> Iterator[Instance]:
    instance = launch("ha-boot-1", fleet, prod_published)
    fleet.boots.append(instance.boot_to_healthy_seconds)
    try:
        yield instance
    finally:
        instance.container.stop()


# -- the assertions ----------------------------------------------------------------------------------------------


def test_unit_runs_as_the_unprivileged_service_user(first: Instance):
    status = first.container.run("systemctl", "status", SERVICE, "--no-pager", check=False).stdout
    assert "Active: active (running)" in status, first.diagnosis()
    pid = first.systemctl("show", "-p", "MainPID", "--value", SERVICE)
    assert first.container.run("ps", "-o", "user=", "-p", pid).stdout.strip() == SERVICE
    assert first.container.run("id", "-u", SERVICE).stdout.strip() != "0"
    print(f"\nboot to healthy: {first.boot_to_healthy_seconds:.1f} s (user data start to the first /health 200)")


def test_the_instance_reaches_nothing_but_the_lab_and_the_emulated_apis(first: Instance):
    routes = first.container.run("ip", "route", "show", "table", "all").stdout
    assert "default" not in routes
    pypi = first.container.run(
        "python3.11", "-c", "import socket; socket.create_connection(('pypi.org', 443), timeout=5)", check=False
    )
    assert pypi.returncode != 0
    assert "gaierror" in pypi.stderr
    pip = first.container.run(
        "/opt/ha-service/venv/bin/pip", "download", "--no-cache-dir", "--retries", "0", "--timeout", "5",
        "--index-url", "https://pypi.org/simple", "--dest", "/tmp/pypi-check", "six",
        check=False,
    )  # fmt: skip
    assert pip.returncode != 0


def test_health_ready_and_an_order_through_the_real_data_tier(first: Instance):
    assert first.request("GET", "/health") == (200, {"status": "ok"})
    status, ready = first.request("GET", "/ready")
    assert (status, ready["checks"]) == (200, {"writer": "ok", "reader": "ok", "cache": "ok"}), ready
    status, order = first.request(
        "POST", "/orders", {"items": [{"product_id": 3, "quantity": 2}]}, idempotency_key=uuid.uuid4().hex
    )
    assert status == 201, order
    assert first.request("GET", f"/orders/{order['id']}")[0] == 200
    with first.fleet.connect() as conn:
        rows = conn.execute("SELECT usename, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)").fetchall()
    assert rows
    assert all(ssl for _, ssl in rows)


def test_log_is_where_the_agent_reads_it_and_is_rotated(first: Instance):
    config_path = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    assert f"-c file:{config_path}" in first.container.path("/run/amazon-cloudwatch-agent-ctl.args").read_text()
    agent = json.loads(first.container.path(config_path).read_text())
    (collected,) = agent["logs"]["logs_collected"]["files"]["collect_list"]
    log = first.container.path(collected["file_path"])
    assert "service started" in log.read_text()
    timer = f"{SERVICE}-logrotate.timer"
    assert (first.systemctl("is-enabled", timer), first.systemctl("is-active", timer)) == ("enabled", "active")
    first.container.run("systemctl", "start", f"{SERVICE}-logrotate.service")  # the timer's job succeeds
    before = log.read_text()
    first.container.run(
        "logrotate", "--force", "--state", f"/var/lib/logrotate/{SERVICE}.status", f"/etc/logrotate.d/{SERVICE}"
    )
    assert gzip.decompress(first.container.path(collected["file_path"] + ".1.gz").read_bytes()).decode() == before
    first.request("GET", "/products/1")
    deadline = time.monotonic() + 10
    while not log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    after = log.read_bytes()
    assert after
    assert not after.startswith(b"\0")


def test_stop_drains_an_in_flight_request_within_the_deregistration_delay(first: Instance):
    key = uuid.uuid4().hex
    with first.fleet.connect(first.pub.parameter("database/name")) as hold:
        hold.execute("SELECT 1 FROM products WHERE id = 1 FOR UPDATE")  # the order below waits for this lock
        in_flight = first.network.start(
            http, "POST", first.url("/orders"), {"items": [{"product_id": 1, "quantity": 1}]}, {"Idempotency-Key": key}
        )
        first.network.call(_wait_for_a_lock_wait, first.fleet)
        with ThreadPoolExecutor(max_workers=1) as stopper:
            started = time.monotonic()
            stopping = stopper.submit(first.container.run, "systemctl", "stop", SERVICE, timeout=120)
            # The service gives up on a row lock after 1 s (lock_timeout): release it well before, as soon as the
            # stop has begun, so the order is still in flight while the service drains.
            assert _becomes(first, "deactivating", within=0.6)
            hold.rollback()  # the lock goes; the request completes while the service drains
            stopping.result(timeout=120)
            stopped = time.monotonic() - started
    assert in_flight.result(timeout=60)[0] == 201
    assert stopped < first.pub.deregistration_delay, f"stop took {stopped:.1f} s"
    shown = dict(line.split("=", 1) for line in first.systemctl("show", "-p", "ActiveState,Result", SERVICE).split())
    assert shown == {"ActiveState": "inactive", "Result": "success"}  # not "timeout": no SIGKILL was needed
    # uvicorn re-raises SIGTERM once drained, which systemd counts as a clean exit: 15, never 9 (SIGKILL).
    assert first.systemctl("show", "-p", "ExecMainStatus", "--value", SERVICE) in ("0", "15")
    delay = first.pub.deregistration_delay
    print(f"\nstop with one request in flight: {stopped:.1f} s (deregistration delay {delay} s)")


def _becomes(instance: Instance, state: str, within: float) -> bool:
    """Whether the service's unit reaches this ActiveState within `within` seconds (polled)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if instance.systemctl("show", "-p", "ActiveState", "--value", SERVICE) == state:
            return True
        time.sleep(0.05)
    return False


def test_a_changed_release_boots_new_code_under_a_new_key(
    first: Instance, fleet: Fleet, prod_published: Published, tmp_path: Path
):
    first.container.stop()  # the old instance is replaced, as an instance refresh does
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "app" / "routes.py").open("a") as routes:
        routes.write(
            f'\n\n@router.get("{MARKER_ROUTE}")\nasync def boot_test_release() -> dict[str, str]:\n'
            '    return {"release": "second"}\n'
        )
    changed = published(run_stack("prod", root=tmp_path).primary_region("us-east-1"))
    assert changed.key != prod_published.key
    fleet.network.call(publish, changed)
    second = launch("ha-boot-2", fleet, changed)
    try:
        fleet.boots.append(second.boot_to_healthy_seconds)
        assert second.request("GET", MARKER_ROUTE) == (200, {"release": "second"})
        digest = re.search(r"install release (\w+)", changed.user_data)
        assert digest
        assert second.container.run("readlink", "/opt/ha-service/current").stdout.strip().endswith(digest.group(1))
    finally:
        second.container.stop()
    measured = max(fleet.boots)
    assert measured < prod_published.grace_seconds  # a slower boot would have the group replace it forever
    print(
        f"\nboot to healthy: {', '.join(f'{b:.1f}' for b in fleet.boots)} s; suggested health_check_grace_seconds "
        f">= {measured:.1f} x {GRACE_MARGIN} = {measured * GRACE_MARGIN:.0f} (stack: {prod_published.grace_seconds})"
    )


def _wait_for_a_lock_wait(fleet: Fleet) -> None:
    with psycopg.connect(fleet.lab.dsn(fleet.lab.primary, user="postgres", dbname="postgres")) as conn:
        deadline = time.monotonic() + 20
        while not conn.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone():
            assert time.monotonic() < deadline, "the order never waited for the lock"
            time.sleep(0.1)
