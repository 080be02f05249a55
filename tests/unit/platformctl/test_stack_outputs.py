"""``aws_target``'s stack-output lookup, the one every command uses: outputs, and one clear line when not."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from platformctl.aws_target import Target, deployed_stack_outputs, stack_name, stack_output, stack_outputs
from platformctl.errors import UserError

REGION = "us-east-1"
LAKE = "acme-prod-shared-data-lake"


def _stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-q"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_the_stack_name_is_the_manifests() -> None:
    assert stack_name(Target("prod", region=REGION), "shared", "data-lake") == LAKE


def test_outputs_of_a_deployed_stack() -> None:
    target = Target("prod", region=REGION)
    with mock_aws():
        _stack(LAKE, {"DataLakeBucketName": "b", "DataLakeKmsKeyArn": "k"})
        assert stack_outputs(target, "shared", "data-lake") == {"DataLakeBucketName": "b", "DataLakeKmsKeyArn": "k"}
        assert deployed_stack_outputs(target, "shared", "data-lake") == stack_outputs(target, "shared", "data-lake")
        assert stack_output(target, "shared", "data-lake", "DataLakeBucketName") == "b"
        with pytest.raises(UserError, match=f"^stack {LAKE} has no output Nope; redeploy it$"):
            stack_output(target, "shared", "data-lake", "Nope")


def test_a_stack_not_deployed_names_itself_and_the_deploy_command() -> None:
    target = Target("prod", region=REGION)
    with mock_aws():
        assert deployed_stack_outputs(target, "shared", "data-lake") is None
        expected = (
            f"stack {LAKE} is not deployed in prod: deploy it first "
            "(platformctl deploy --env prod --job shared --stack data-lake)"
        )
        with pytest.raises(UserError) as raised:
            stack_outputs(target, "shared", "data-lake")
        assert str(raised.value) == expected
        with pytest.raises(UserError) as raised:
            stack_output(target, "shared", "data-lake", "DataLakeBucketName")
        assert str(raised.value) == expected


class _Described:
    def __init__(self, status: str) -> None:
        self.status = status

    def describe_stacks(self, StackName: str) -> Any:  # noqa: N803 - boto3's name
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.status, "Outputs": []}]}


@pytest.mark.parametrize("status", ["REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"])
def test_a_stack_that_never_deployed_is_not_deployed(status: str) -> None:
    target = Target("prod", region=REGION)
    target._clients["cloudformation"] = _Described(status)
    assert deployed_stack_outputs(target, "shared", "data-lake") is None
    with pytest.raises(UserError, match=f"^stack {LAKE} is not deployed in prod"):
        stack_output(target, "shared", "data-lake", "DataLakeBucketName")


class _Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def describe_stacks(self, StackName: str) -> Any:  # noqa: N803 - boto3's name
        raise self.error


def _target(error: Exception, *, endpoint_url: str | None = None) -> Target:
    target = Target("prod", endpoint_url=endpoint_url, region=REGION)
    target._clients["cloudformation"] = _Refusing(error)
    return target


@pytest.mark.parametrize(
    ("error", "endpoint_url", "message"),
    [
        (
            botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized to DescribeStacks"}}, "DescribeStacks"
            ),
            None,
            f"cannot read stack {LAKE} in prod: not authorized to DescribeStacks",
        ),
        (botocore.exceptions.NoCredentialsError(), None, "no AWS credentials found"),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            "http://127.0.0.1:1",
            "cannot reach http://127.0.0.1:1: is the local cloud running?",
        ),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"),
            None,
            "cannot reach AWS: check your network",
        ),
    ],
)
def test_an_unreachable_or_refusing_target_is_one_line(
    error: Exception, endpoint_url: str | None, message: str
) -> None:
    """Not "not deployed": a refusal or an unreachable target says what it is, for every lookup."""
    target = _target(error, endpoint_url=endpoint_url)
    for lookup in (
        lambda: deployed_stack_outputs(target, "shared", "data-lake"),
        lambda: stack_outputs(target, "shared", "data-lake"),
        lambda: stack_output(target, "shared", "data-lake", "DataLakeBucketName"),
    ):
        with pytest.raises(UserError, match="^" + re.escape(message)):
            lookup()
