"""The CI roles and the permissions boundary, attacked with the IAM policy evaluator.

The trust policies admit only the pipeline's job for one GitHub environment on main (GitHub's customised
subject claim: repo, context, job_workflow_ref); the build role only pushes images and the deploy role only
drives CloudFormation; neither reads Step Functions executions; every other role carries the boundary, and
the boundary still lets every platform role do what its own policies say.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.manifest import REPO_ROOT
from tests.templates import iam_fixtures as iam
from tests.templates.cfn import iter_resources

CI_ROLES = {"DeployRole", "BuildRole", "CloudFormationExecutionRole"}
BOOTSTRAP_TEMPLATES = {
    REPO_ROOT / "infrastructure" / "shared" / "github-oidc.yaml",
    REPO_ROOT / "infrastructure" / "shared" / "cfn-execution.yaml",
}
REPO = "octo-org/octo-repo"
PIPELINE = f"{REPO}/.github/workflows/deploy-infrastructure.yml"
REBUILD = f"{REPO}/.github/workflows/build-containers.yml"


def _sub(environment: str, workflow: str, ref: str = "refs/heads/main", repo: str = REPO) -> str:
    return f"repo:{repo}:environment:{environment}:job_workflow_ref:{workflow}@{ref}"


def _assume(role: str, sub: str, aud: str = "sts.amazonaws.com") -> Decision:
    provider = iam.output(iam.oidc(), "OidcProviderArn")
    return evaluate(
        Request(
            action="sts:AssumeRoleWithWebIdentity",
            resource=iam.role_arn(role),
            principal=provider,
            context={f"{iam.ISSUER}:sub": sub, f"{iam.ISSUER}:aud": aud},
        ),
        identity_policies=[],
        resource_policy=iam.trust_policy(role),
    )


def _as(role: str, action: str, resource: str, context: dict[str, Any] | None = None) -> Decision:
    return evaluate(Request(action=action, resource=resource, context=context or {}), iam.role_policies(role))


# ------------------------------------------------------------------------------------- contracts


def test_every_platform_role_carries_the_boundary(templates: dict[Path, Any]) -> None:
    missing = [
        role.where
        for role in iter_resources(templates, "AWS::IAM::Role")
        if not (role.template in BOOTSTRAP_TEMPLATES and role.logical_id in CI_ROLES)
        and role.properties.get("PermissionsBoundary") != {"Ref": "PermissionsBoundaryArn"}
    ]
    assert missing == [], "roles without PermissionsBoundary: !Ref PermissionsBoundaryArn"


def test_the_boundary_parameter_is_an_iam_policy_arn_fed_from_the_oidc_stack(templates: dict[Path, Any]) -> None:
    with_roles = {r.template for r in iter_resources(templates, "AWS::IAM::Role")} - BOOTSTRAP_TEMPLATES
    fed = {
        s.template_path
        for s in iam.manifest().stacks
        if str(s.inputs.get("PermissionsBoundaryArn", "")) == f"{iam.EXECUTION_STACK}.PermissionsBoundaryArn"
    }
    assert with_roles <= fed, "stacks with roles whose boundary the manifest does not feed"
    for path in with_roles:
        spec = templates[path]["Parameters"]["PermissionsBoundaryArn"]
        assert spec["Type"] == "String"
        pattern = re.compile(spec["AllowedPattern"])
        assert pattern.match(iam.boundary_arn())
        assert pattern.match("arn:aws-cn:iam::123456789012:policy/acme-prod-permissions-boundary")
        assert not pattern.match("arn:aws:s3:::acme-prod-permissions-boundary")


def test_the_ci_roles_and_the_boundary_are_outputs() -> None:
    assert {"DeployRoleArn", "BuildRoleArn", "OidcProviderArn"} <= set(iam.oidc().template["Outputs"])
    assert {"CloudFormationExecutionRoleArn", "PermissionsBoundaryArn"} <= set(iam.execution().template["Outputs"])
    assert iam.boundary_arn().endswith(f":policy/{iam.brand()}-{iam.ENVIRONMENT}-permissions-boundary")


# ------------------------------------------------------------------------------------------ trust


@pytest.mark.parametrize("role", ["DeployRole", "BuildRole"])
def test_the_pipeline_job_on_main_assumes_the_ci_roles(role: str) -> None:
    decision = _assume(role, _sub("production", PIPELINE))
    assert decision.allowed, decision.reason


def test_only_the_build_role_trusts_the_manual_rebuild() -> None:
    assert _assume("BuildRole", _sub("production", REBUILD)).allowed
    assert not _assume("DeployRole", _sub("production", REBUILD)).allowed


ATTACKS = {
    "another branch": _sub("production", PIPELINE, ref="refs/heads/feature"),
    "a tag": _sub("production", PIPELINE, ref="refs/tags/v1.0.0"),
    "a pull request": f"repo:{REPO}:pull_request:job_workflow_ref:{PIPELINE}@refs/pull/7/merge",
    "a pull request's workflow on main": f"repo:{REPO}:pull_request:job_workflow_ref:{PIPELINE}@refs/heads/main",
    "another workflow": _sub("production", f"{REPO}/.github/workflows/lint-test.yml"),
    "the pipeline of another repository": _sub(
        "production", "octo-org/fork/.github/workflows/deploy-infrastructure.yml", repo="octo-org/fork"
    ),
    "another repository calling the pipeline": _sub("production", PIPELINE, repo="octo-org/fork"),
    "a job without the environment": f"repo:{REPO}:ref:refs/heads/main:job_workflow_ref:{PIPELINE}@refs/heads/main",
    "another environment": _sub("staging", PIPELINE),
    "the default subject claim": f"repo:{REPO}:ref:refs/heads/main",
    "the default environment claim": f"repo:{REPO}:environment:production",
    "a wildcard in the claim": _sub("production", f"{REPO}/.github/workflows/*"),
}


@pytest.mark.parametrize("role", ["DeployRole", "BuildRole"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_ci_roles_refuse_every_other_subject(role: str, attack: str) -> None:
    decision = _assume(role, ATTACKS[attack])
    assert not decision.allowed, f"{role} trusts {attack}: {ATTACKS[attack]}"


@pytest.mark.parametrize("role", ["DeployRole", "BuildRole"])
def test_the_ci_roles_refuse_another_audience(role: str) -> None:
    assert not _assume(role, _sub("production", PIPELINE), aud="https://github.com/octo-org").allowed


def test_the_trust_conditions_are_exact_matches() -> None:
    for role in ("DeployRole", "BuildRole"):
        for statement in iam.trust_policy(role)["Statement"]:
            assert set(statement["Condition"]) == {"StringEquals"}, f"{role}: only StringEquals"


# ---------------------------------------------------------------------------------- what they do


def _execution(name: str = "run-1") -> str:
    return f"arn:aws:states:{iam.REGION}:{iam.ACCOUNT}:execution:{iam.brand()}-shopify-bulk-orders:{name}"


@pytest.mark.parametrize("role", ["DeployRole", "BuildRole"])
@pytest.mark.parametrize("action", ["states:GetExecutionHistory", "states:DescribeExecution"])
def test_the_ci_roles_cannot_read_step_functions_executions(role: str, action: str) -> None:
    assert not _as(role, action, _execution()).allowed


def _repository(name: str = "shopify-order-processor") -> str:
    return f"arn:aws:ecr:{iam.REGION}:{iam.ACCOUNT}:repository/{iam.brand()}/{name}"


def _stack(name: str = "shopify-eventbridge-rules") -> str:
    return f"arn:aws:cloudformation:{iam.REGION}:{iam.ACCOUNT}:stack/{iam.brand()}-prod-{name}/1"


def test_the_build_role_pushes_brand_images_only() -> None:
    assert _as("BuildRole", "ecr:PutImage", _repository()).allowed
    assert _as("BuildRole", "ecr:GetAuthorizationToken", "*").allowed
    assert not _as("BuildRole", "ecr:PutImage", f"arn:aws:ecr:{iam.REGION}:{iam.ACCOUNT}:repository/other/x").allowed
    for action in ("ecr:BatchDeleteImage", "ecr:DeleteRepository", "ecr:SetRepositoryPolicy", "ecr:PutLifecyclePolicy"):
        assert not _as("BuildRole", action, _repository()).allowed, action
    execution_role = iam.role_arn("CloudFormationExecutionRole")
    context = {"cloudformation:RoleArn": execution_role}
    for action in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"):
        assert not _as("BuildRole", action, _stack(), context).allowed, action
    assert not _as("BuildRole", "iam:PassRole", execution_role).allowed


def test_the_deploy_role_deploys_with_the_execution_role_only() -> None:
    execution_role = iam.role_arn("CloudFormationExecutionRole")
    assert _as("DeployRole", "cloudformation:CreateChangeSet", _stack(), {"cloudformation:RoleArn": execution_role})
    assert not _as("DeployRole", "cloudformation:CreateChangeSet", _stack()).allowed  # its own credentials
    other_role = f"arn:aws:iam::{iam.ACCOUNT}:role/{iam.brand()}-prod-admin"
    assert not _as("DeployRole", "cloudformation:CreateChangeSet", _stack(), {"cloudformation:RoleArn": other_role})
    passed = {"iam:PassedToService": "cloudformation.amazonaws.com"}
    assert _as("DeployRole", "iam:PassRole", execution_role, passed).allowed
    assert not _as("DeployRole", "iam:PassRole", other_role, passed).allowed
    bootstrap = f"arn:aws:cloudformation:{iam.REGION}:{iam.ACCOUNT}:stack/{iam.oidc().deployment.stack_name}/1"
    for action in (
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:UpdateStack",
        "cloudformation:CancelUpdateStack",
    ):
        assert not _as("DeployRole", action, bootstrap, {"cloudformation:RoleArn": execution_role}).allowed, action
    # ... but reads its outputs: the execution role and the boundary every deploy feeds come from there.
    assert _as("DeployRole", "cloudformation:DescribeStacks", bootstrap).allowed


def test_the_deploy_role_cannot_push_images() -> None:
    for action in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"):
        assert not _as("DeployRole", action, _repository()).allowed, action
    assert _as("DeployRole", "ecr:DescribeImages", _repository()).allowed  # the check that an image exists


def test_the_deploy_role_writes_artifacts_and_the_ledger_only() -> None:
    lake = f"arn:aws:s3:::{iam.brand()}-data-lake-{iam.ACCOUNT}"
    for key in ("artifacts/glue-scripts/orders_enriched_job.py", "artifacts/deployments/prod/shopify/1.json"):
        assert _as("DeployRole", "s3:PutObject", f"{lake}/{key}").allowed, key
        assert _as("DeployRole", "s3:GetObject", f"{lake}/{key}").allowed, key
    for key in ("raw/shopify/webhooks/orders/x.json", "processed/x.parquet", "metadata/privacy/x.json"):
        assert not _as("DeployRole", "s3:GetObject", f"{lake}/{key}").allowed, key
        assert not _as("DeployRole", "s3:PutObject", f"{lake}/{key}").allowed, key
    assert _as("DeployRole", "s3:ListBucket", lake, {"s3:prefix": "artifacts/deployments/prod/"}).allowed
    assert not _as("DeployRole", "s3:ListBucket", lake, {"s3:prefix": "raw/"}).allowed


def test_the_ci_roles_do_not_start_state_machines() -> None:
    machine = f"arn:aws:states:{iam.REGION}:{iam.ACCOUNT}:stateMachine:{iam.brand()}-shopify-bulk-orders"
    for role in ("DeployRole", "BuildRole"):
        assert not _as(role, "states:StartExecution", machine).allowed, role


# ------------------------------------------------------------------------------------ the boundary

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _within_boundary(action: str, resource: str, context: dict[str, Any] | None = None) -> Decision:
    return evaluate(
        Request(action=action, resource=resource, context=context or {}),
        identity_policies=[ALLOW_ALL],
        boundary=iam.boundary_document(),
    )


def _platform_roles() -> list[tuple[str, str]]:
    return [
        (key, logical_id)
        for key, resolver in iam.resolvers().items()
        if key not in iam.BOOTSTRAP_STACKS
        for logical_id, body in resolver.resources.items()
        if body.get("Type") == "AWS::IAM::Role" and resolver.exists(logical_id)
    ]


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@pytest.mark.parametrize(("key", "role"), _platform_roles(), ids=str)
def test_the_boundary_allows_what_every_platform_role_is_given(key: str, role: str) -> None:
    tag = {"aws:ResourceTag/Brand": iam.brand()}
    outside = []
    for name, document in iam.role_policies(role, key).items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    context = tag if action.startswith("kms:") else {}
                    if not _within_boundary(action, resource, context).allowed:
                        outside.append(f"{name}: {action} on {resource}")
    assert outside == [], f"{key} {role}: the boundary cuts what the role's own policies grant"


def test_the_boundary_denies_escalation_and_the_ci_roles() -> None:
    brand, account = iam.brand(), iam.ACCOUNT
    denied = [
        ("iam:CreateRole", f"arn:aws:iam::{account}:role/{brand}-prod-x"),
        ("iam:PassRole", iam.role_arn("CloudFormationExecutionRole")),
        ("iam:PutRolePolicy", f"arn:aws:iam::{account}:role/{brand}-prod-x"),
        ("iam:CreatePolicyVersion", iam.boundary_arn()),
        ("sts:AssumeRole", iam.role_arn("CloudFormationExecutionRole")),
        ("sts:AssumeRole", iam.role_arn("DeployRole")),
        ("sts:AssumeRole", f"arn:aws:iam::{iam.OTHER_ACCOUNT}:role/anything"),
        ("organizations:LeaveOrganization", "*"),
        ("s3:GetObject", "arn:aws:s3:::another-company-bucket/x"),
        ("dynamodb:Scan", f"arn:aws:dynamodb:{iam.REGION}:{account}:table/other-table"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{iam.REGION}:{account}:secret:other/x-AbCdEf"),
        ("kms:Decrypt", f"arn:aws:kms:{iam.REGION}:{account}:key/0000"),  # not tagged with the brand
        ("ec2:RunInstances", "*"),
    ]
    allowed = [f"{action} on {resource}" for action, resource in denied if _within_boundary(action, resource)]
    assert allowed == []
