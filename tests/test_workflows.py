"""The GitHub Actions workflows: what a platform team checks before trusting a pipeline with prod.

zizmor (security) and check-jsonschema (GitHub's workflow schema) run in `make lint`; these tests hold the
properties the issue asks for, which neither tool enforces: tests before any deploy, prod after dev behind its
environment, OIDC only where a role is assumed, one deploy of a stack at a time.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
ASSUMES_ROLE = "aws-actions/configure-aws-credentials@"


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); put it back under its name.
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True)
    return workflow


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def test_the_three_workflows_exist():
    assert set(all_workflows()) == {"test.yml", "preview.yml", "deploy.yml"}


def test_every_third_party_action_is_pinned_to_a_full_commit_sha_with_its_version_noted():
    for name, text in ((p.name, p.read_text()) for p in WORKFLOWS.glob("*.yml")):
        for line in text.splitlines():
            match = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if not match or match.group(1).startswith("$/"):
                continue
            assert PINNED.match(match.group(1)), f"{name}: {line.strip()} is not pinned to a commit"
            assert re.search(r"#\s*v\d+", match.group(2)), f"{name}: {line.strip()} names no version"


def test_no_workflow_grants_permissions_at_the_top_level():
    for name, workflow in all_workflows().items():
        assert workflow["permissions"] == {}, name


def test_id_token_is_granted_exactly_to_the_jobs_that_assume_a_role():
    for name, workflow in all_workflows().items():
        for job_id, job in workflow["jobs"].items():
            grants_token = job.get("permissions", {}).get("id-token") == "write"
            assert grants_token == bool(steps_using(job, ASSUMES_ROLE)), f"{name}:{job_id}"


def test_checkouts_do_not_persist_the_token():
    for workflow in all_workflows().values():
        for job in workflow["jobs"].values():
            for step in steps_using(job, "actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_the_test_workflow_runs_the_readmes_test_command_as_ci_does():
    (job,) = load("test.yml")["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert any("bash .ci/run" in step.get("run", "") for step in job["steps"])
    assert "make test" in (WORKFLOWS.parent.parent / ".ci" / "run").read_text()


def test_a_pull_request_gets_a_preview_of_dev_and_prod_as_a_comment_with_the_read_only_role():
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    assert "pull_request_target" not in workflow["on"]  # never run a fork's code with secrets
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert job["environment"] == "${{ matrix.stack }}-preview"
    assert job["permissions"]["pull-requests"] == "write"
    (pulumi,) = steps_using(job, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_deploys_in_its_own_environment_one_run_at_a_time_never_cancelled(stack: str):
    job = load("deploy.yml")["jobs"][stack]
    assert job["environment"] == stack
    assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
    (pulumi,) = steps_using(job, "pulumi/actions@")
    assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", stack)


def test_deploys_follow_the_tests_then_dev_then_prod_only_on_main():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert jobs["test"]["uses"] == "$/.github/workflows/test.yml"
    assert "workflow_call" in load("test.yml")["on"]
    assert (jobs["dev"]["needs"], jobs["prod"]["needs"]) == ("test", "dev")


def test_secrets_are_read_only_in_jobs_that_run_in_an_environment():
    for name, workflow in all_workflows().items():
        for job_id, job in workflow["jobs"].items():
            uses_secret = "secrets.PULUMI_ACCESS_TOKEN" in yaml.safe_dump(job)
            assert not uses_secret or "environment" in job, f"{name}:{job_id}"
