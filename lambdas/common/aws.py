"""boto3 clients, created once per execution environment and shared by every invocation.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which
botocore reads itself: on the local cloud they point at the emulator, on AWS they are unset.

``SERVICES`` is the one list of the AWS services the functions call. The Lambda images keep the SDK
data of these services only (``scripts/finish_task_root.py``), so a client of any other service is
refused here, where a unit test meets it, rather than failing in the image.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

# Fail fast inside a Lambda: the event source (EventBridge, Step Functions, the HTTP caller) retries
# the whole input, which is safer than long in-process retries that eat the function's timeout.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=20,
    tcp_keepalive=True,
)


SERVICES = frozenset({"cloudwatch", "dynamodb", "s3", "secretsmanager", "sns", "sqs", "stepfunctions"})


@cache
def _session() -> boto3.session.Session:
    # One session per process: its loader caches the service models, so the second client costs a
    # fraction of the first (a new session per client reloads them).
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    if service not in SERVICES:
        raise ValueError(
            f"no SDK data for {service!r} in the Lambda images: add it to common.aws.SERVICES "
            "(and its actions to the function's role)"
        )
    return _session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def s3() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def secretsmanager() -> SecretsManagerClient:
    return client("secretsmanager")  # type: ignore[no-any-return]


def sns() -> SNSClient:
    return client("sns")  # type: ignore[no-any-return]


@cache
def table(name: str) -> Any:
    """A DynamoDB table resource (batch writers, paginated queries), on the same session and config."""
    return _session().resource("dynamodb", config=_CONFIG).Table(name)
