from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from common.secret_cache import CachedSecret, SecretFormatError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@mock_aws
def test_current_previous_and_bounded_age() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="s", SecretString=json.dumps({"webhook_secret": "one"}))
    clock = Clock()
    secret = CachedSecret(client, "s", max_age_seconds=60, clock=clock)
    assert secret.key("webhook_secret") == "one"
    assert secret.previous() is None
    client.put_secret_value(SecretId="s", SecretString=json.dumps({"webhook_secret": "two"}))
    clock.now = 30
    assert secret.key("webhook_secret") == "one", "still cached within max age"
    clock.now = 61
    assert secret.key("webhook_secret") == "two"
    assert secret.previous() == {"webhook_secret": "one"}


@mock_aws
@pytest.mark.parametrize("value", ["not json", "[1, 2]", '{"a": 1}'])
def test_malformed_secrets_are_reported(value: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="bad", SecretString=value)
    with pytest.raises(SecretFormatError, match="bad"):
        CachedSecret(client, "bad").current()


@mock_aws
def test_missing_key_is_reported_without_the_value() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="s", SecretString=json.dumps({"other": "sensitive-value"}))
    with pytest.raises(SecretFormatError) as caught:
        CachedSecret(client, "s").key("access_token")
    assert "sensitive-value" not in str(caught.value)


@mock_aws
def test_created_is_the_cached_versions_creation_date() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="s", SecretString=json.dumps({"k": "one"}))
    clock = Clock()
    secret = CachedSecret(client, "s", max_age_seconds=60, clock=clock)
    first = secret.created()
    assert first is not None
    assert secret.created("AWSPREVIOUS") is None  # no rotation yet
    client.put_secret_value(SecretId="s", SecretString=json.dumps({"k": "two"}))
    assert secret.created() == first, "cached with its value"
    clock.now = 61
    described = client.describe_secret(SecretId="s")["VersionIdsToStages"]
    current = next(v for v, stages in described.items() if "AWSCURRENT" in stages)
    expected = client.get_secret_value(SecretId="s", VersionId=current)["CreatedDate"]
    assert secret.created() == expected
