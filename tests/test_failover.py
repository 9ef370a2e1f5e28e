"""stack.failover against moto's server mode on loopback: the writer moves, the standby scales, and back.

moto 5.2.5 emulates the RDS global cluster (CreateGlobalCluster, members with IsWriter, DescribeGlobalClusters) and
EC2 Auto Scaling (groups, SetDesiredCapacity, instances launched), but not SwitchoverGlobalCluster nor
FailoverGlobalCluster: both answer "The ... action has not been implemented" (HTTP 500). The `aurora` fixture adds
those two actions to moto's RDS responses for the test, doing only what the RDS API reference says they end in (the
target cluster becomes the writer, the old writer a secondary) and recording each request as botocore sent it
(botocore checks the parameters against the RDS service model before sending). What that cannot show: the time
AWS takes, the data lost by a failover, and a region that does not answer (played here by a client that raises).
"""

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import EndpointConnectionError  # type: ignore[import-untyped]
from moto.core.responses import ActionResult
from moto.rds.models import rds_backends
from moto.rds.responses import RDSResponse
from moto.server import ThreadedMotoServer

from stack import failover

PRIMARY, STANDBY = "us-east-1", "us-west-2"
GLOBAL = "prod-global"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    reset = f"http://{host}:{port}/moto-api/reset"
    urllib.request.urlopen(
        urllib.request.Request(reset, method="POST"), timeout=10
    ).close()  # moto's state is per process
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    yield
    urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=10).close()
    server.stop()


@pytest.fixture
def aurora(monkeypatch: pytest.MonkeyPatch, moto: None) -> list[tuple[str, dict[str, Any]]]:
    """Switchover/failover for moto's global clusters; returns the requests received, in order."""
    received: list[tuple[str, dict[str, Any]]] = []

    def move(action: str) -> Any:
        def handler(self: RDSResponse) -> Any:
            params = dict(self.params)
            received.append((action, params))
            global_cluster = rds_backends[self.current_account]["us-east-1"].global_clusters[
                params["global_cluster_identifier"]
            ]
            members = {m.db_cluster_arn: m for m in global_cluster.members}
            target = members[params["target_db_cluster_identifier"]]
            for member in members.values():
                member.is_writer = member is target
            return ActionResult({"GlobalCluster": global_cluster})

        return handler

    monkeypatch.setattr(RDSResponse, "switchover_global_cluster", move("switchover"), raising=False)
    monkeypatch.setattr(RDSResponse, "failover_global_cluster", move("failover"), raising=False)
    return received


def deploy(primary_desired: int = 3, standby_max: int = 6) -> dict[str, Any]:
    """What `pulumi up` of a dr stack leaves: a global cluster over two clusters, a group per region; its outputs."""
    rds = boto3.client("rds", region_name=PRIMARY)
    rds.create_global_cluster(GlobalClusterIdentifier=GLOBAL, Engine="aurora-postgresql")
    sides: dict[str, dict[str, str]] = {}
    for region, desired, maximum in ((PRIMARY, primary_desired, 6), (STANDBY, 1, standby_max)):
        cluster = boto3.client("rds", region_name=region).create_db_cluster(
            DBClusterIdentifier=f"web-db-{region}",
            Engine="aurora-postgresql",
            GlobalClusterIdentifier=GLOBAL,
            **({"MasterUsername": "app", "MasterUserPassword": "not-a-real-password"} if region == PRIMARY else {}),
        )["DBCluster"]
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": image})
        boto3.client("autoscaling", region_name=region).create_auto_scaling_group(
            AutoScalingGroupName=f"web-{region}",
            MinSize=1,
            MaxSize=maximum,
            DesiredCapacity=desired,
            AvailabilityZones=[f"{region}a", f"{region}b"],
            LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
        )
        sides[region] = {"cluster_arn": cluster["DBClusterArn"], "asg_name": f"web-{region}"}
    return {
        "dr": {
            "global_cluster_id": GLOBAL,
            "primary_region": PRIMARY,
            "active_capacity": 3,
            "standby_capacity": 1,
            "regions": sides,
        }
    }


def writer_region() -> str:
    (cluster,) = boto3.client("rds", region_name=STANDBY).describe_global_clusters()["GlobalClusters"]
    (writer,) = [m["DBClusterArn"] for m in cluster["GlobalClusterMembers"] if m["IsWriter"]]
    return str(writer).split(":")[3]


def in_service(region: str) -> tuple[int, int]:
    """(desired capacity, instances) of the region's group, as moto's Auto Scaling reports them."""
    client = boto3.client("autoscaling", region_name=region)
    (group,) = client.describe_auto_scaling_groups(AutoScalingGroupNames=[f"web-{region}"])["AutoScalingGroups"]
    return group["DesiredCapacity"], len(group["Instances"])


def go(outputs: dict[str, Any], to: str, *, planned: bool, **kwargs: Any) -> failover.Report:
    return failover.run(failover.read_pair(outputs), to, planned=planned, poll=0.01, timeout=5, **kwargs)


def test_a_lost_region_fails_over_allowing_data_loss_and_the_standby_scales_to_the_primarys_capacity(aurora):
    outputs = deploy()
    assert (writer_region(), in_service(STANDBY)) == (PRIMARY, (1, 1))
    report = go(outputs, STANDBY, planned=False)
    assert writer_region() == STANDBY
    assert in_service(STANDBY) == (3, 3)
    (request,) = aurora
    assert request[0] == "failover"
    assert request[1]["allow_data_loss"] is True
    assert request[1]["target_db_cluster_identifier"] == outputs["dr"]["regions"][STANDBY]["cluster_arn"]
    assert (report.writer_before, report.writer_after, report.capacity) == (PRIMARY, STANDBY, {PRIMARY: 3, STANDBY: 3})
    assert [s.name for s in report.steps] == ["scale target", "move writer", "wait for writer"]


def test_a_planned_switchover_loses_nothing_and_the_way_back_returns_the_standby_to_its_capacity(aurora):
    outputs = deploy()
    go(outputs, STANDBY, planned=True)
    assert (writer_region(), in_service(STANDBY)) == (STANDBY, (3, 3))
    report = go(outputs, PRIMARY, planned=True)
    assert writer_region() == PRIMARY
    assert in_service(PRIMARY) == (3, 3)
    assert in_service(STANDBY) == (1, 1)
    assert [(action, "allow_data_loss" in params) for action, params in aurora] == [
        ("switchover", False),
        ("switchover", False),
    ]
    assert report.steps[-1].name == "standby back to its capacity"


def test_the_standby_takes_what_the_primary_runs_now_when_the_autoscaler_has_grown_it(aurora):
    outputs = deploy(primary_desired=5)
    go(outputs, STANDBY, planned=True)
    assert in_service(STANDBY) == (5, 5)


def test_the_standby_stops_at_its_max_size_and_the_report_says_so(aurora):
    outputs = deploy(primary_desired=5, standby_max=4)
    report = go(outputs, STANDBY, planned=True)
    assert in_service(STANDBY) == (4, 4)
    assert "asked 5; the group's MinSize..MaxSize is 1..4" in report.steps[0].detail


def test_an_unreachable_primary_region_leaves_the_stacks_active_capacity(aurora):
    outputs = deploy(primary_desired=5)

    def client(service: str, region: str, config: Any = None) -> Any:
        if region == PRIMARY and service == "autoscaling":
            raise EndpointConnectionError(endpoint_url=f"https://autoscaling.{region}.amazonaws.com")
        return failover.boto_client(service, region, config)

    report = go(outputs, STANDBY, planned=False, client=client)
    assert writer_region() == STANDBY
    assert in_service(STANDBY) == (3, 3)
    assert "us-east-1 did not answer (EndpointConnectionError)" in report.steps[0].detail
    assert report.capacity == {STANDBY: 3}


def test_running_it_again_moves_nothing(aurora):
    outputs = deploy()
    go(outputs, STANDBY, planned=False)
    report = go(outputs, STANDBY, planned=False)
    assert len(aurora) == 1
    assert [s.name for s in report.steps] == ["writer"]


def test_the_command_line_reads_the_outputs_file_and_prints_the_report(aurora, tmp_path, capsys):
    path = tmp_path / "prod-outputs.json"
    path.write_text(json.dumps(deploy()))
    assert failover.main(["prod", "--to", STANDBY, "--planned", "--outputs", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["writer_before"], printed["writer_after"], printed["planned"]) == (PRIMARY, STANDBY, True)
    assert writer_region() == STANDBY


def test_a_region_outside_the_pair_is_refused_before_any_call(tmp_path, capsys):
    path = tmp_path / "prod-outputs.json"
    outputs = {"dr": {"global_cluster_id": GLOBAL, "primary_region": PRIMARY, "active_capacity": 3,
                      "standby_capacity": 1, "regions": {PRIMARY: {"cluster_arn": "a", "asg_name": "b"},
                                                         STANDBY: {"cluster_arn": "c", "asg_name": "d"}}}}  # fmt: skip
    path.write_text(json.dumps(outputs))
    assert failover.main(["prod", "--to", "eu-west-1", "--outputs", str(path)]) == 1
    assert "--to 'eu-west-1': the pair's regions are us-east-1, us-west-2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("outputs", "line"),
    [
        ({}, "the stack outputs have no 'dr' object: is the stack's dr setting on?"),
        ({"dr": {"global_cluster_id": "", "primary_region": PRIMARY, "active_capacity": 3, "standby_capacity": 1,
                 "regions": {PRIMARY: {"cluster_arn": "a", "asg_name": "b"},
                             STANDBY: {"cluster_arn": "c", "asg_name": "d"}}}},
         "dr.global_cluster_id: must be a non-empty string, got ''"),
        ({"dr": {"global_cluster_id": GLOBAL, "primary_region": "eu-west-1", "active_capacity": -1,
                 "standby_capacity": 1, "regions": {PRIMARY: {"cluster_arn": "a"},
                                                    STANDBY: {"cluster_arn": "c", "asg_name": "d"}}}},
         "dr.active_capacity: must be a whole number >= 0, got -1\n"
         "dr.regions.us-east-1.asg_name: must be a non-empty string\n"
         "dr.primary_region: 'eu-west-1' is not one of ['us-east-1', 'us-west-2']"),
    ],
)  # fmt: skip
def test_a_bad_dr_output_is_named_line_by_line(outputs: dict[str, Any], line: str) -> None:
    with pytest.raises(failover.FailoverError) as error:
        failover.read_pair(outputs)
    assert str(error.value) == line
