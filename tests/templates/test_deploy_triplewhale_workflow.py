"""deploy-triplewhale.yml: a thin caller that starts the trusted pipeline for one job, and nothing more.

The deploy roles trust only the pipeline's job_workflow_ref, so this workflow must not deploy itself: it
dispatches deploy-infrastructure.yml on main with the job's name, and the pipeline reads the job's stacks
from the manifest. Its one step is run here with a stand-in ``gh`` that records what it was asked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.manifest import REPO_ROOT, load_manifest
from tests.templates import iam_fixtures as iam

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
CALLER = WORKFLOWS / "deploy-triplewhale.yml"
PIPELINE = "deploy-infrastructure.yml"


def _yaml(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _on(workflow: dict[Any, Any]) -> dict[str, Any]:
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads a bare `on` as True
    assert isinstance(triggers, dict)
    return triggers


def _step() -> dict[str, Any]:
    (job,) = _yaml(CALLER)["jobs"].values()
    (step,) = job["steps"]
    assert isinstance(step, dict)
    return step


def test_it_is_started_by_hand_and_may_only_create_the_dispatch() -> None:
    workflow = _yaml(CALLER)
    assert set(_on(workflow)) == {"workflow_dispatch"}, "pushes are deployed by the pipeline itself"
    assert set(_on(workflow)["workflow_dispatch"]["inputs"]) == {"dry_run"}
    assert workflow["permissions"] == {"actions": "write"}, "no id-token: it never assumes an AWS role"
    text = CALLER.read_text(encoding="utf-8")
    for secret in ("AWS_DEPLOY_ROLE_ARN", "AWS_BUILD_ROLE_ARN", "configure-aws-credentials", "platformctl deploy"):
        assert secret not in text, f"{secret}: the caller deploys nothing itself"
    (job,) = workflow["jobs"].values()
    assert "environment" not in job, "the pipeline's jobs carry the environments and their reviewers"


def test_it_dispatches_the_workflow_the_deploy_role_trusts_with_a_job_of_the_manifest() -> None:
    step = _step()
    job = step["env"]["JOB"]
    assert [j.name for j in load_manifest().jobs if j.name == job] == ["triplewhale"]
    assert iam.oidc().ref("DeployWorkflowFile") == PIPELINE
    run = step["run"]
    assert f"gh workflow run {PIPELINE}" in run
    assert "--ref main" in run
    pipeline_inputs = set(_on(_yaml(WORKFLOWS / PIPELINE))["workflow_dispatch"]["inputs"])
    passed = set(re.findall(r"-f (\w+)=", run))
    assert passed == {"job", "dry_run"}
    assert passed <= pipeline_inputs, "every input the caller passes is one the pipeline declares"


def _run_step(tmp_path: Path, ref: str, dry_run: str = "false") -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The step's script under bash, with the env GitHub gives it and a ``gh`` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "gh-calls"
    fake = bin_dir / "gh"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(calls))}\n', encoding="utf-8")
    fake.chmod(0o755)
    summary = tmp_path / "summary"
    step = _step()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "GITHUB_REF": ref,
        "GITHUB_REPOSITORY": "octo-org/octo-repo",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GH_TOKEN": "token-of-the-run",
        "DRY_RUN": dry_run,
        "JOB": step["env"]["JOB"],
    }
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        cwd=tmp_path,
    )
    recorded = calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []
    return done, recorded


@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_from_main_it_starts_the_pipeline_for_triplewhale(tmp_path: Path, dry_run: str) -> None:
    done, calls = _run_step(tmp_path, "refs/heads/main", dry_run)
    assert done.returncode == 0, done.stderr
    assert calls == [
        f"workflow run {PIPELINE} --repo octo-org/octo-repo --ref main -f job=triplewhale -f dry_run={dry_run}"
    ]
    summary = (tmp_path / "summary").read_text(encoding="utf-8")
    assert f"https://github.com/octo-org/octo-repo/actions/workflows/{PIPELINE}" in summary


def test_from_another_branch_it_refuses_and_dispatches_nothing(tmp_path: Path) -> None:
    done, calls = _run_step(tmp_path, "refs/heads/feature")
    assert done.returncode == 1
    assert calls == []
    assert "run this from main" in done.stdout


def test_the_dry_run_input_reaches_the_pipeline_as_the_string_it_declares() -> None:
    step = _step()
    assert step["env"]["DRY_RUN"] == "${{ inputs.dry_run == true }}"  # "true" / "false", never empty
    assert _on(_yaml(WORKFLOWS / PIPELINE))["workflow_dispatch"]["inputs"]["dry_run"]["type"] == "boolean"
