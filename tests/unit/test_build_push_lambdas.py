"""scripts/build_push_lambdas.sh: which repositories, account and region it builds and pushes to.

The script runs for real under bash. In a scratch copy of the repository layout, ``platformctl``, ``aws``
and ``docker`` are stand-ins on PATH that record their arguments and the AWS variables they were given,
so the tests see exactly what the script would ask of the AWS CLI and Docker.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from platformctl.manifest import REPO_ROOT, load_manifest

SCRIPT = REPO_ROOT / "scripts" / "build_push_lambdas.sh"
IMAGES = [("shop-a", "lambdas/a", "lambdas/a/Dockerfile"), ("shop-b", "lambdas/b", "lambdas/b/Dockerfile")]

FAKE_PLATFORMCTL = """#!/bin/sh
[ "$1 $2" = "manifest images" ] || exit 9
printf 'shop-a\\tlambdas/a\\tlambdas/a/Dockerfile\\nshop-b\\tlambdas/b\\tlambdas/b/Dockerfile\\n'
"""
# Records "<profile>|<region>|<default region>|<args>" per call; describe-images answers "pushed" for PUSHED.
FAKE_AWS = """#!/bin/sh
echo "${AWS_PROFILE:-}|${AWS_REGION:-}|${AWS_DEFAULT_REGION:-}|$*" >> "$CALLS/aws"
case "$1 $2" in
  "ecr describe-repositories") echo "123456789012.dkr.ecr.${AWS_REGION:-us-east-1}.amazonaws.com/$4" ;;
  "ecr get-login-password") echo "password" ;;
  "ecr describe-images") [ "$4" = "${PUSHED:-}" ] && exit 0; exit 254 ;;
esac
"""
FAKE_DOCKER = """#!/bin/sh
[ "$1" = login ] && cat > /dev/null
echo "$*" >> "$CALLS/docker"
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    aws: list[str]
    docker: list[str]


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A repository layout: the script, an environment's settings, and the stand-in tools."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / SCRIPT.name)
    _settings(root, "prod", "acme")
    tools = tmp_path / "bin"
    tools.mkdir()
    _executable(tools / "platformctl", FAKE_PLATFORMCTL)
    _executable(tools / "aws", FAKE_AWS)
    _executable(tools / "docker", FAKE_DOCKER)
    (tmp_path / "calls").mkdir()
    return root


def _settings(root: Path, environment: str, brand: str | None) -> None:
    folder = root / "ci" / "environments" / environment
    folder.mkdir(parents=True, exist_ok=True)
    entries = [{"ParameterKey": "Environment", "ParameterValue": environment}]
    if brand is not None:
        entries.insert(0, {"ParameterKey": "Brand", "ParameterValue": brand})
    (folder / "settings.json").write_text(json.dumps(entries), encoding="utf-8")


def _run(root: Path, *args: str, **variables: str) -> Run:
    tools, calls = root.parent / "bin", root.parent / "calls"
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "HOME": str(root.parent),
        "CALLS": str(calls),
        "PLATFORMCTL": str(tools / "platformctl"),
        **variables,
    }
    done = subprocess.run(
        ["bash", str(root / "scripts" / SCRIPT.name), "--tag", "t1", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    def lines(name: str) -> list[str]:
        path = calls / name
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    return Run(done.returncode, done.stdout, done.stderr, lines("aws"), lines("docker"))


def _aws_variables(run: Run) -> set[tuple[str, str, str]]:
    return {tuple(line.split("|")[:3]) for line in run.aws}  # type: ignore[misc]


# ------------------------------------------------------------------------------------------- brand


def test_the_brand_comes_from_the_environments_settings(layout: Path) -> None:
    run = _run(layout, "--env", "prod", "--dry-run")
    assert run.code == 0, run.stderr
    assert [line for line in run.stdout.splitlines() if line.startswith("would build")] == [
        f"would build {folder} ({dockerfile}) as acme/{name}:t1" for name, folder, dockerfile in IMAGES
    ]
    assert run.aws == []
    assert run.docker == []


def test_brand_overrides_the_settings_and_says_so(layout: Path) -> None:
    run = _run(layout, "--env", "prod", "--dry-run", BRAND="globex")
    assert run.code == 0, run.stderr
    assert "as globex/shop-a:t1" in run.stdout
    assert "BRAND=globex overrides Brand 'acme' of ci/environments/prod/settings.json" in run.stderr


def test_brand_stands_in_for_settings_without_one(layout: Path) -> None:
    _settings(layout, "qa", None)
    missing = _run(layout, "--env", "qa", "--dry-run")
    assert missing.code == 1
    assert "no brand: set Brand in ci/environments/qa/settings.json (or BRAND for this command)" in missing.stderr
    given = _run(layout, "--env", "qa", "--dry-run", BRAND="globex")
    assert given.code == 0, given.stderr
    assert "as globex/shop-b:t1" in given.stdout
    assert "overrides" not in given.stderr


@pytest.mark.parametrize("brand", ["Acme", "acme/../x", "a", "acme prod"])
def test_a_brand_that_cannot_name_a_repository_is_refused(layout: Path, brand: str) -> None:
    run = _run(layout, "--dry-run", BRAND=brand)
    assert run.code == 1
    assert "is not a platform brand" in run.stderr
    assert run.aws == []


# ------------------------------------------------------------------------------ profile and region


def test_profile_and_region_reach_every_aws_call_and_win_over_the_aws_variables(layout: Path) -> None:
    run = _run(
        layout,
        "--env",
        "prod",
        PROFILE="acme-prod",
        REGION="eu-west-1",
        AWS_PROFILE="someone-else",
        AWS_REGION="us-west-2",
        AWS_DEFAULT_REGION="us-west-2",
    )
    assert run.code == 0, run.stderr
    assert _aws_variables(run) == {("acme-prod", "eu-west-1", "eu-west-1")}
    assert "brand acme, profile acme-prod, region eu-west-1" in run.stdout
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert run.docker == [
        f"login --username AWS --password-stdin {registry}",
        f"build --platform linux/amd64 --provenance=false -f lambdas/a/Dockerfile -t {registry}/acme/shop-a:t1 .",
        f"push {registry}/acme/shop-a:t1",
        f"build --platform linux/amd64 --provenance=false -f lambdas/b/Dockerfile -t {registry}/acme/shop-b:t1 .",
        f"push {registry}/acme/shop-b:t1",
    ]


def test_without_them_the_aws_variables_of_the_caller_are_used(layout: Path) -> None:
    run = _run(layout, AWS_PROFILE="ops", AWS_REGION="ap-southeast-2")
    assert run.code == 0, run.stderr
    assert _aws_variables(run) == {("ops", "ap-southeast-2", "")}
    assert [line.split("|")[3] for line in run.aws if "describe-repositories" in line] == [
        "ecr describe-repositories --repository-names acme/shop-a --query repositories[0].repositoryUri --output text",
        "ecr describe-repositories --repository-names acme/shop-b --query repositories[0].repositoryUri --output text",
    ]


def test_an_image_already_pushed_with_the_tag_is_skipped(layout: Path) -> None:
    run = _run(layout, PROFILE="acme-prod", PUSHED="acme/shop-a")
    assert run.code == 0, run.stderr
    assert "acme/shop-a:t1 is already pushed; skipping" in run.stdout
    assert [line.split()[0] for line in run.docker] == ["login", "build", "push"]
    assert all("shop-b" in line for line in run.docker[1:])


# ------------------------------------------------------------------------------- the real repository


def test_the_repositorys_own_settings_and_manifest_name_every_image(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--env", "prod", "--tag", "t1", "--dry-run"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    settings = json.loads((REPO_ROOT / "ci" / "environments" / "prod" / "settings.json").read_text(encoding="utf-8"))
    brand = next(p["ParameterValue"] for p in settings if p["ParameterKey"] == "Brand")
    built = [line.rsplit(" as ", 1)[1] for line in done.stdout.splitlines() if line.startswith("would build")]
    assert built == [f"{brand}/{image.name}:t1" for image in load_manifest().images]


def test_the_usage_names_the_variables_and_their_precedence() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0
    for line in (
        "PROFILE    AWS CLI profile of the target account      (else AWS_PROFILE",
        "REGION     AWS region of the target account           (else AWS_REGION, else AWS_DEFAULT_REGION",
        "BRAND      brand of the repositories <brand>/<image>  (else Brand in ci/environments/ENV/settings.json)",
    ):
        assert line in done.stdout
