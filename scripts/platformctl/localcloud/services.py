"""boto3 clients for the running emulator, used by the local layer to call the service APIs."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

LOCAL_HOST = "127.0.0.1"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=300)


def endpoint() -> str:
    port = os.environ.get("MOTO_PORT")
    if not port:
        raise RuntimeError("MOTO_PORT is not set: the local cloud is not running in this process")
    return f"http://{LOCAL_HOST}:{port}"


@cache
def _client(service: str, region: str, url: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's placeholder, not a secret
        region_name=region,
    )
    return session.client(service, endpoint_url=url, config=_CONFIG)  # type: ignore[call-overload]


def client(service: str, region: str) -> Any:
    return _client(service, region, endpoint())
