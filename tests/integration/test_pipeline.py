"""The pipeline tried locally: the workflow's own deploy command, run as the workflow runs it, against the
local cloud, with the credentials of the deploy role that the local `github-oidc` stack created.

The local cloud evaluates every call made with those credentials against the role's policies as
deployed, so a permission the deploy role lacks fails here, on a laptop, before it fails in an account.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml

from platformctl.aws_target import LOCAL_CREDENTIALS_SWITCH
from platformctl.ledger import SUCCEEDED
from platformctl.localcloud.server import publish_local_image
from platformctl.manifest import REPO_ROOT

pytestmark = pytest.mark.integration

ACTION = REPO_ROOT / ".github" / "actions" / "deploy-environment" / "action.yml"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the commit the pipeline deploys (its image tag)


def _step(name: str) -> str:
    """The shell script of one step of the composite action, exactly as the workflow runs it."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    for step in action["runs"]["steps"]:
        if step.get("name") == name:
            return str(step["run"])
    raise AssertionError(f"{ACTION} has no step {name!r}")


def _run_as_the_pipeline(cloud: Any, role: str, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    credentials = cloud.credentials_for_role(role)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PLATFORMCTL_")) and key not in {"IMAGE_TAG", "CFN_EXECUTION_ROLE_ARN"}
    }
    environment.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        GITHUB_SHA=COMMIT,
        PLATFORMCTL_ENDPOINTS_FILE=str(cloud.endpoints_file),
        **{LOCAL_CREDENTIALS_SWITCH: "environment"},
        **env,
    )
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def built(local_cloud: Any) -> None:
    """What the build step leaves behind: every image pushed under the commit's tag."""
    ecr = local_cloud.target.client("ecr")
    for image in local_cloud.manifest.images:
        publish_local_image(ecr, f"acme/{image.name}", image.folder, COMMIT)


def test_the_pipeline_deploys_the_local_environment_with_the_deploy_role(local_cloud: Any, built: None) -> None:
    result = _run_as_the_pipeline(
        local_cloud,
        "acme-local-github-deploy",
        _step("Deploy"),
        PLATFORM_ENV="local",
        BUILT="true",
        BUILD_JOB="all",
        DEPLOY_JOB="shopify",
        DRY_RUN="false",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "acme-local-shared-github-oidc: skipped: bootstrap stack" not in result.stdout  # not in --job shopify
    assert f"deployed {len(local_cloud.manifest.select('shopify'))} stack(s)" in result.stdout
    functions = local_cloud.target.client("lambda").list_functions()["Functions"]
    images = {
        f["FunctionName"]: local_cloud.target.client("lambda").get_function(FunctionName=f["FunctionName"])["Code"]
        for f in functions
        if f["FunctionName"].startswith("acme-local-shopify-order-processor")
    }
    assert images
    assert all(code.get("ImageUri", "").endswith(f":{COMMIT}") for code in images.values())
    records = _ledger(local_cloud, "shopify")
    assert records[-1]["status"] == SUCCEEDED
    assert records[-1]["commit"] == COMMIT
    assert ":assumed-role/acme-local-github-deploy/" in records[-1]["caller"]


def test_the_deploy_role_cannot_deploy_the_bootstrap_stack(local_cloud: Any, built: None) -> None:
    result = _run_as_the_pipeline(
        local_cloud,
        "acme-local-github-deploy",
        ".venv/bin/platformctl deploy --env local --stack shared/github-oidc --image-tag local",
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("platformctl: ")
    assert "AccessDenied" in lines[0] or "not authorized" in lines[0]


def test_the_build_role_cannot_deploy(local_cloud: Any, built: None) -> None:
    result = _run_as_the_pipeline(
        local_cloud,
        "acme-local-github-build",
        _step("Deploy"),
        PLATFORM_ENV="local",
        BUILT="true",
        BUILD_JOB="all",
        DEPLOY_JOB="recharge",
        DRY_RUN="false",
    )
    assert result.returncode == 1
    assert "AccessDenied" in result.stderr or "not authorized" in result.stderr, result.stderr


def _ledger(cloud: Any, job: str) -> list[dict[str, Any]]:
    import json

    s3 = cloud.target.client("s3")
    bucket = cloud.endpoints()["bucket"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"artifacts/deployments/local/{job}/")
    keys = sorted(entry["Key"] for entry in listing.get("Contents", []))
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
