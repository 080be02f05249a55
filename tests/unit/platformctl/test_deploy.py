"""The deploy tool against moto: images resolved before any change set, bootstrap stacks left to an
administrator, every CI change set through the execution role, the ledger, rollback and placeholders."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.aws_target import Target
from platformctl.deploy import Deployer
from platformctl.errors import UserError
from platformctl.ledger import FAILED, SUCCEEDED
from platformctl.manifest import Manifest, load_manifest

REGION = "us-east-1"
PROBE_IMAGE = "tests/integration/probe/lambda"  # any image folder of the repository will do
BOOTSTRAP = """
Parameters:
  Brand: {Type: String}
Resources:
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub ${Brand}-cfn-execution
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: cloudformation.amazonaws.com}, Action: sts:AssumeRole}]
Outputs:
  CloudFormationExecutionRoleArn: {Value: !GetAtt ExecutionRole.Arn}
"""
LAKE = """
Parameters:
  Brand: {Type: String}
Resources:
  Lake: {Type: AWS::S3::Bucket, Properties: {BucketName: !Sub "${Brand}-lake"}}
Outputs:
  DataLakeBucketName: {Value: !Ref Lake}
"""
ECR = """
Parameters:
  Brand: {Type: String}
Resources:
  Repository: {Type: AWS::ECR::Repository, Properties: {RepositoryName: !Sub "${Brand}/app"}}
Outputs:
  AppRepositoryUri: {Value: !GetAtt Repository.RepositoryUri}
"""
APP = """
Parameters:
  Brand: {Type: String}
  ShopDomain: {Type: String}
  AppImageUri: {Type: String}
Resources:
  Running:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/${Brand}/app/image", Type: String, Value: !Ref AppImageUri}
Outputs:
  ImageInUse: {Value: !Ref AppImageUri}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A manifest with a bootstrap stack, a lake, a registry and one app whose function runs an image."""
    for name, body in {"bootstrap": BOOTSTRAP, "lake": LAKE, "ecr": ECR, "app": APP}.items():
        (tmp_path / f"{name}.yaml").write_text(body, encoding="utf-8")
    manifest = {
        "jobs": [
            {
                "name": "shared",
                "stacks": [
                    {"name": "github-oidc", "template": str(tmp_path / "bootstrap.yaml"), "bootstrap": True},
                    {"name": "data-lake", "template": str(tmp_path / "lake.yaml")},
                    {"name": "ecr", "template": str(tmp_path / "ecr.yaml")},
                ],
            },
            {
                "name": "app",
                "stacks": [{"name": "app", "template": str(tmp_path / "app.yaml"), "images": {"AppImageUri": "app"}}],
                "images": [
                    {
                        "name": "app",
                        "folder": PROBE_IMAGE,
                        "dockerfile": f"{PROBE_IMAGE}/Dockerfile",
                    }
                ],
            },
        ]
    }
    (tmp_path / "ingestion_jobs.json").write_text(json.dumps(manifest), encoding="utf-8")
    for environment, shop in (("prod", "acme.myshopify.com"), ("staging", "example.myshopify.com")):
        folder = tmp_path / "environments" / environment
        _write_params(folder / "settings.json", {"Brand": "acme", "Environment": environment, "ShopDomain": shop})
        for job, stack in (("shared", "github-oidc"), ("shared", "data-lake"), ("shared", "ecr"), ("app", "app")):
            _write_params(folder / job / f"{stack}.json", {})
    return tmp_path


def _write_params(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]), "utf-8")


@pytest.fixture
def account() -> Iterator[None]:
    """moto with the local cloud's CloudFormation engine (plain moto computes no outputs for change sets)."""
    from platformctl.localcloud import cfn_engine

    cfn_engine.install()
    with mock_aws():
        yield


def _deployer(repo: Path, tag: str, environment: str = "prod", **options: Any) -> tuple[Deployer, io.StringIO]:
    out = io.StringIO()
    manifest: Manifest = load_manifest(repo / "ingestion_jobs.json")
    target = Target(environment, region=REGION)
    return Deployer(target, manifest, image_tag=tag, out=out, poll_seconds=0, commit=f"commit-{tag}", **options), out


def _push(tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "0" * 64},
        "layers": [],
        "annotations": {"tag": tag},
    }
    boto3.client("ecr", region_name=REGION).put_image(
        repositoryName="acme/app", imageManifest=json.dumps(manifest), imageTag=tag
    )


def _running_image() -> str:
    return str(boto3.client("ssm", region_name=REGION).get_parameter(Name="/acme/app/image")["Parameter"]["Value"])


def _bootstrap_as_administrator(repo: Path) -> None:
    deployer, _ = _deployer(repo, "admin")
    deployer.deploy(deployer.manifest.select("shared"))


def _stack_names() -> set[str]:
    stacks = boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"]
    return {stack["StackName"] for stack in stacks}


# -------------------------------------------------------------------------------------------- images


def test_a_missing_image_stops_the_deploy_before_any_change_set(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    deployer, _ = _deployer(repo, "abc123")
    with pytest.raises(UserError) as caught:
        deployer.deploy(deployer.manifest.stacks)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("image acme/app:abc123 is not in ECR: build it with ")
    assert "scripts/build_push_lambdas.sh --env prod --job app --tag abc123" in message
    assert "acme-prod-app-app" not in _stack_names()


def test_the_requested_tag_is_deployed_when_ecr_has_it(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    _push("abc123")
    deployer, _ = _deployer(repo, "abc123")
    deployer.deploy(deployer.manifest.select("app"))
    assert _running_image().endswith("/acme/app:abc123")


def test_keep_running_images_keeps_the_stacks_image_when_the_tag_was_not_built(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    _push("first")
    first, _ = _deployer(repo, "first")
    first.deploy(first.manifest.select("app"))
    second, out = _deployer(repo, "second", keep_running_images=True)
    second.deploy(second.manifest.select("app"))
    assert _running_image().endswith("/acme/app:first")
    assert "AppImageUri keeps the running image" in out.getvalue()


def test_keep_running_images_cannot_keep_what_no_stack_runs(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    deployer, _ = _deployer(repo, "never-built", keep_running_images=True)
    with pytest.raises(UserError, match="runs no image yet to keep: build it"):
        deployer.deploy(deployer.manifest.select("app"))


# ------------------------------------------------------------------------------------- CI and bootstrap


def test_ci_skips_bootstrap_stacks_and_sends_every_change_set_through_the_execution_role(
    repo: Path, account: None
) -> None:
    _bootstrap_as_administrator(repo)
    _push("abc123")
    deployer, out = _deployer(repo, "abc123", ci=True)
    sent: list[dict[str, Any]] = []
    original = deployer.cfn.create_change_set

    def spy(**arguments: Any) -> Any:
        sent.append(arguments)
        return original(**arguments)

    deployer.cfn.create_change_set = spy
    results = deployer.deploy(deployer.manifest.stacks)
    role = deployer.outputs_of("shared/github-oidc")["CloudFormationExecutionRoleArn"]  # type: ignore[index]
    assert [r.stack.key for r in results] == ["shared/data-lake", "shared/ecr", "app/app"]
    assert [call["StackName"] for call in sent] == [
        "acme-prod-shared-data-lake",
        "acme-prod-shared-ecr",
        "acme-prod-app-app",
    ]
    assert all(call.get("RoleARN") == role for call in sent)
    assert "acme-prod-shared-github-oidc: skipped: bootstrap stack, deployed by an administrator" in out.getvalue()


def test_ci_without_the_bootstrap_stack_says_who_deploys_it(repo: Path, account: None) -> None:
    deployer, _ = _deployer(repo, "abc123", ci=True)
    with pytest.raises(UserError, match="an administrator deploys the bootstrap stack first") as caught:
        deployer.deploy(deployer.manifest.select("shared", "data-lake"))
    assert "--stack shared/github-oidc" in str(caught.value)


def test_the_repository_manifest_leaves_only_the_ci_roles_to_an_administrator() -> None:
    manifest = load_manifest()
    bootstrap = [stack.key for stack in manifest.stacks if stack.bootstrap]
    assert bootstrap == ["shared/cfn-execution", "shared/github-oidc"]
    assert [stack.key for stack in manifest.stacks[: len(bootstrap)]] == bootstrap  # deployed before the rest
    # the bootstrap stacks need nothing a CI deploy creates
    assert {
        f"{ref.job}/{ref.stack}" for key in bootstrap for ref in manifest.select(None, key)[0].inputs.values()
    } <= set(bootstrap)


# -------------------------------------------------------------------------------------- placeholders


def test_a_placeholder_is_refused_before_any_change_set_naming_file_and_key(repo: Path, account: None) -> None:
    deployer, _ = _deployer(repo, "abc123", environment="staging")
    with pytest.raises(UserError) as caught:
        deployer.deploy(deployer.manifest.select("app"))
    assert str(caught.value) == (
        f"{repo}/environments/staging/settings.json: ShopDomain is the shipped placeholder "
        "('example.myshopify.com'); set it to your shop's <shop>.myshopify.com"
    )
    assert _stack_names() == set()


def test_the_shipped_prod_and_staging_folders_are_refused_until_edited() -> None:
    from platformctl.placeholders import placeholder_problems

    manifest = load_manifest()
    for environment in ("prod", "staging"):
        problems = placeholder_problems(manifest.stacks, environment)
        keys = {line.split(": ", 2)[1].split(" ")[0] for line in problems}
        assert keys == {"ShopDomain", "PartnerEventSourceName", "AlertEmail", "GitHubOrg"}, problems
        assert all(line.startswith(f"ci/environments/{environment}/") for line in problems)
    assert placeholder_problems(manifest.stacks, "local") == []


# ------------------------------------------------------------------------------------ ledger, rollback


def test_every_deploy_is_recorded_and_a_rollback_puts_the_previous_one_back(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    for tag in ("v1", "v2"):
        _push(tag)
        deployer, _ = _deployer(repo, tag)
        deployer.deploy(deployer.manifest.select("app"))
    assert _running_image().endswith(":v2")

    deployer, _ = _deployer(repo, "v3")
    ledger = deployer.ledger()
    records = ledger.records("app")
    assert [(r.image_tag, r.status, r.commit) for r in records] == [
        ("v1", SUCCEEDED, "commit-v1"),
        ("v2", SUCCEEDED, "commit-v2"),
    ]
    entry = records[0].stack("app/app")
    assert entry is not None
    assert entry.parameters["AppImageUri"].endswith(":v1")
    assert entry.parameters["ShopDomain"] == "acme.myshopify.com"
    assert ledger.template(entry) == (repo / "app.yaml").read_text(encoding="utf-8")

    chosen = ledger.choose("app", None)
    assert chosen.deployment_id == records[0].deployment_id
    deployer.redeploy(chosen, ledger)
    assert _running_image().endswith(":v1")
    latest = ledger.records("app")[-1]
    assert latest.rollback_of == records[0].deployment_id
    assert latest.status == SUCCEEDED


def test_a_rollback_to_an_unknown_or_failed_deployment_is_refused(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    deployer, _ = _deployer(repo, "x")
    ledger = deployer.ledger()
    with pytest.raises(UserError, match="no deployment of job app is recorded"):
        ledger.choose("app", None)
    with pytest.raises(UserError, match="no deployment nope of job shared"):
        ledger.choose("shared", "nope")


def test_a_failed_deploy_is_recorded_as_failed_with_its_stack(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    _push("v1")
    deployer, _ = _deployer(repo, "v1")
    broken = repo / "app.yaml"
    broken.write_text(APP.replace("AWS::SSM::Parameter", "AWS::No::SuchType"), encoding="utf-8")
    with pytest.raises(UserError):
        deployer.deploy(deployer.manifest.select("app"))
    record = deployer.ledger().records("app")[-1]
    assert record.status == FAILED
    assert record.failure.startswith("app/app: ")


def test_a_role_without_the_boundary_is_refused_before_any_change_set(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    _push("v1")
    role = """
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
"""
    (repo / "app.yaml").write_text(APP.replace("Resources:\n", "Resources:" + role, 1), encoding="utf-8")
    deployer, _ = _deployer(repo, "v1")
    with pytest.raises(UserError) as caught:
        deployer.deploy(deployer.manifest.select("app"))
    assert str(caught.value).startswith(
        f"{repo}/app.yaml: role Role has no PermissionsBoundary: !Ref PermissionsBoundaryArn"
    )
    assert "acme-prod-app-app" not in _stack_names()


def test_every_role_of_the_repository_carries_the_boundary() -> None:
    from platformctl.boundaries import boundary_problems

    assert boundary_problems(load_manifest().stacks) == []


def test_a_second_rollback_goes_further_back_and_records_name_what_they_restored(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    for tag in ("v1", "v2", "v3"):
        _push(tag)
        deployer, _ = _deployer(repo, tag)
        deployer.deploy(deployer.manifest.select("app"))
    deployer, _ = _deployer(repo, "operator-checkout")
    ledger = deployer.ledger()
    first = ledger.choose("app", None)
    assert first.image_tag == "v2"
    deployer.redeploy(first, ledger)
    assert _running_image().endswith(":v2")
    rollback = ledger.records("app")[-1]
    assert (rollback.commit, rollback.image_tag, rollback.rollback_of) == ("commit-v2", "v2", first.deployment_id)
    second = ledger.choose("app", None)
    assert second.image_tag == "v1"  # not v3, which the first rollback undid
    deployer.redeploy(second, ledger)
    assert _running_image().endswith(":v1")


def test_a_deploy_that_dies_on_an_unexpected_error_is_recorded_as_failed(repo: Path, account: None) -> None:
    _bootstrap_as_administrator(repo)
    _push("v1")
    deployer, _ = _deployer(repo, "v1")

    def broken(**_: Any) -> Any:
        raise ConnectionResetError("the network went away")

    deployer.cfn.create_change_set = broken
    with pytest.raises(ConnectionResetError):
        deployer.deploy(deployer.manifest.select("app"))
    record = deployer.ledger().records("app")[-1]
    assert record.status == FAILED
    assert record.failure == "app/app: ConnectionResetError: the network went away"
