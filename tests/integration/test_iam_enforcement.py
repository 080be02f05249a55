"""IAM on the local cloud: a function's calls are made with its own role and evaluated like AWS does, and
any caller holding assumed-role credentials is held to the same policies."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from platformctl.commands.iam import render, role_policies
from platformctl.deploy import Deployer
from platformctl.iam.usage import USAGE_FILE, read_uses
from platformctl.manifest import REPO_ROOT, load_manifest
from tests.integration.test_local_cloud import _Sink

pytestmark = pytest.mark.integration

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def probe(local_cloud: Any) -> dict[str, str]:
    manifest = load_manifest(REPO_ROOT / "tests" / "integration" / "probe" / "ingestion_jobs.json")
    local_cloud._runtime.add_manifest(manifest)
    return Deployer(local_cloud.target, manifest, image_tag="local", out=_Sink()).deploy(manifest.stacks)[0].outputs


def _probe_function(cloud: Any) -> tuple[str, str]:
    functions = cloud.target.client("lambda").list_functions()["Functions"]
    function = next(f for f in functions if f["FunctionName"].endswith("-probe"))
    return function["FunctionName"], function["Role"].rsplit("/", 1)[-1]


def _client(cloud: Any, service: str, credentials: dict[str, str]) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=cloud.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _invoke(cloud: Any, function: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = cloud.target.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_call_the_role_does_not_allow_fails_the_invocation(local_cloud: Any, probe: dict[str, str]) -> None:
    function, role = _probe_function(local_cloud)
    iam = local_cloud.target.client("iam")
    saved = iam.get_role_policy(RoleName=role, PolicyName="probe")["PolicyDocument"]
    narrowed = {**saved, "Statement": [s for s in saved["Statement"] if "sqs:SendMessage" not in json.dumps(s)]}
    iam.put_role_policy(RoleName=role, PolicyName="probe", PolicyDocument=json.dumps(narrowed))
    try:
        error, payload = _invoke(local_cloud, function, {"action": "record", "id": "iam-denied"})
    finally:
        iam.put_role_policy(RoleName=role, PolicyName="probe", PolicyDocument=json.dumps(saved))
    assert error == "Unhandled"
    assert payload["errorType"] == "ClientError"
    assert "(AccessDenied) when calling the SendMessage operation" in payload["errorMessage"]
    assert "is not authorized to perform: sqs:SendMessage" in payload["errorMessage"]
    assert f"assumed-role/{role}/" in payload["errorMessage"]
    # The policy back in place, the same call is allowed again; its message is taken off the probe's
    # results queue, which the runtime tests read after this module.
    assert _invoke(local_cloud, function, {"action": "record", "id": "iam-allowed"})[0] is None
    sqs = local_cloud.target.client("sqs")
    received = sqs.receive_message(QueueUrl=probe["ResultsUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=2)
    messages = received.get("Messages", [])
    assert [json.loads(m["Body"])["id"] for m in messages] == ["iam-allowed"]
    for message in messages:
        sqs.delete_message(QueueUrl=probe["ResultsUrl"], ReceiptHandle=message["ReceiptHandle"])


def test_a_resource_policy_alone_allows_and_a_boundary_limits_role_grants(local_cloud: Any) -> None:
    iam = local_cloud.target.client("iam")
    sqs = local_cloud.target.client("sqs")
    role_arn = iam.create_role(RoleName="iam-probe-bare", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"][
        "Arn"
    ]
    open_url = sqs.create_queue(QueueName="iam-probe-open")["QueueUrl"]
    open_arn = sqs.get_queue_attributes(QueueUrl=open_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "sqs:SendMessage", "Resource": open_arn}
        ],
    }
    sqs.set_queue_attributes(QueueUrl=open_url, Attributes={"Policy": json.dumps(queue_policy)})
    closed_url = sqs.create_queue(QueueName="iam-probe-closed")["QueueUrl"]

    bare = _client(local_cloud, "sqs", local_cloud.credentials_for_role("iam-probe-bare"))
    bare.send_message(QueueUrl=open_url, MessageBody="allowed by the queue policy alone")
    with pytest.raises(ClientError) as denied:
        bare.send_message(QueueUrl=closed_url, MessageBody="no policy allows this")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # A grant to the role ARN (not the session) is limited by the role's permissions boundary.
    boundary = iam.create_policy(
        PolicyName="iam-probe-s3-only",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="iam-probe-bare", PermissionsBoundary=boundary)
    with pytest.raises(ClientError) as bounded:
        bare.send_message(QueueUrl=open_url, MessageBody="outside the boundary")
    assert "permissions boundary" in bounded.value.response["Error"]["Message"]

    # The operator's credentials are not evaluated.
    sqs.send_message(QueueUrl=closed_url, MessageBody="the operator may")


def test_every_evaluated_request_is_recorded_for_the_report(local_cloud: Any) -> None:
    uses = list(read_uses(local_cloud.state_dir / USAGE_FILE))
    assert any(u.action == "sqs:SendMessage" and u.allowed for u in uses)
    assert any(u.action == "sqs:SendMessage" and not u.allowed for u in uses)
    lines = render(role_policies(local_cloud.target.client("iam")), uses, only="iam-probe-bare")
    assert lines[0] == "iam-probe-bare: 0 of 0 granted permissions unused"
    assert any(line.startswith("  denied  sqs:SendMessage on ") for line in lines)


def test_web_identity_sessions_are_held_to_the_role(local_cloud: Any) -> None:
    """Credentials from AssumeRoleWithWebIdentity (GitHub's deploy role, say) are evaluated like any session."""
    from botocore import UNSIGNED
    from botocore.config import Config

    iam = local_cloud.target.client("iam")
    role_arn = iam.create_role(RoleName="iam-probe-federated", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName="iam-probe-federated",
        PolicyName="list",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}]}
        ),
    )
    sts = boto3.client(
        "sts", endpoint_url=local_cloud.endpoint_url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
    )
    credentials = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken="header.payload.signature"
    )["Credentials"]
    federated = _client(local_cloud, "sqs", credentials)
    federated.list_queues()
    with pytest.raises(ClientError) as denied:
        federated.create_queue(QueueName="iam-probe-not-allowed")
    assert "assumed-role/iam-probe-federated/ci is not authorized to perform: sqs:CreateQueue" in str(denied.value)


@pytest.mark.parametrize(
    ("encryption", "allowed"),
    [
        ({}, True),  # the bucket's default encryption: SSE-KMS with the lake key
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "<lake key>"}, True),
        ({"ServerSideEncryption": "AES256"}, False),
        ({"ServerSideEncryption": "aws:kms"}, False),  # the AWS-managed key
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/foreign"}, False),
    ],
)
def test_the_lake_policy_refuses_writes_not_encrypted_with_its_key(
    local_cloud: Any, encryption: dict[str, str], allowed: bool
) -> None:
    endpoints = local_cloud.endpoints()
    bucket = endpoints["bucket"]
    lake_key = local_cloud.stack_outputs()["shared/data-lake"]["DataLakeKmsKeyArn"]
    arguments = {k: (lake_key if v == "<lake key>" else v) for k, v in encryption.items()}
    role = f"{endpoints['brand']}-local-triplewhale-summary"
    s3 = _client(local_cloud, "s3", local_cloud.credentials_for_role(role))
    key = f"raw/triplewhale/summary-page/dt=2026-01-01/encryption-{len(arguments)}-{allowed}.json"
    if allowed:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}", **arguments)
        head = local_cloud.target.client("s3").head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        local_cloud.target.client("s3").delete_object(Bucket=bucket, Key=key)
        return
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}", **arguments)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "explicit deny" in str(denied.value) or "bucket policy" in str(denied.value).lower()
    listing = local_cloud.target.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    assert listing.get("KeyCount", 0) == 0
