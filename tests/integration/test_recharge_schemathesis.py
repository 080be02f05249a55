"""The Recharge webhook endpoint fuzzed from its OpenAPI description (docs/openapi/recharge-webhook.yaml)
against the local cloud: no answer is a 5xx, every answer is one the description documents, and no
request that schemathesis makes (none can carry a valid signature) writes anything anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from platformctl.manifest import REPO_ROOT

pytestmark = pytest.mark.integration

OPENAPI = REPO_ROOT / "docs" / "openapi" / "recharge-webhook.yaml"
EXAMPLES_PER_OPERATION = 40  # bounded: two operations, about 100 ms per example against the local cloud


# Loaded when the module is imported (it is a file); the local endpoint's URL is known only once the
# local cloud runs, so each call names it. (schemathesis.pytest.from_fixture, the lazy form, fails on
# pytest 9: it reads a private attribute pytest no longer has.)
schema = schemathesis.openapi.from_path(OPENAPI)
# Positive and negative data, from the documented examples and fuzzing, bounded by max_examples. The
# coverage phase is left out: it is not bounded by max_examples (thousands of requests, over ten minutes
# here); the unusual methods it found (TRACE, QUERY) are in test_recharge_webhook.py.
schema.config.phases.update(phases=["examples", "fuzzing"])
schema.config.generation.update(modes=list(schemathesis.GenerationMode), max_examples=EXAMPLES_PER_OPERATION)


@pytest.fixture(scope="module")
def endpoints(local_cloud: Any) -> dict[str, Any]:
    return dict(local_cloud.endpoints())


@pytest.fixture(scope="module")
def base_url(endpoints: dict[str, Any]) -> str:
    return str(endpoints["http_apis"]["recharge"]).removesuffix("/recharge/webhooks")


@pytest.fixture(scope="module")
def path_token(local_cloud: Any) -> str:
    """The deployed secret's path token: fuzzing then reaches the signature and body checks behind it (the
    token's own attacks are in tests/security/test_recharge_attacks.py)."""
    from platformctl.commands.recharge import path_token as token_of

    secret_arn = local_cloud.stack_outputs()["shared/secrets-manager"]["RechargeWebhookSecretArn"]
    value = local_cloud.target.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return token_of(json.loads(value))


def _objects(cloud: Any, endpoints: dict[str, Any]) -> tuple[str, ...]:
    """Every object under the prefixes the handler writes: a delivery reaches raw/ or quarantine/ before
    any hot-store write, so an unchanged listing means nothing was written anywhere."""
    s3 = cloud.target.client("s3")
    keys: list[str] = []
    for prefix in ("raw/recharge/", "quarantine/recharge/"):
        arguments = {"Bucket": endpoints["bucket"], "Prefix": prefix}
        while True:
            page = s3.list_objects_v2(**arguments)
            keys += [entry["Key"] for entry in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            arguments["ContinuationToken"] = page["NextContinuationToken"]
    return tuple(sorted(keys))


def _rows(cloud: Any, endpoints: dict[str, Any]) -> tuple[int, ...]:
    dynamodb = cloud.target.client("dynamodb")
    return tuple(
        dynamodb.scan(TableName=endpoints["tables"][name], Select="COUNT")["Count"]
        for name in ("subscriptions", "charges", "invoices", "customers")
    )


@pytest.fixture(scope="module")
def before(local_cloud: Any, endpoints: dict[str, Any]) -> dict[str, Any]:
    return {"objects": _objects(local_cloud, endpoints), "rows": _rows(local_cloud, endpoints)}


# Checking the lake after every example, and every table once after all of them, keeps the run short:
# each AWS call of the check is far costlier than the request it checks (the emulator runs in-process).
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_error_and_no_unauthenticated_write(
    case: Any, local_cloud: Any, endpoints: dict[str, Any], base_url: str, path_token: str, before: dict[str, Any]
) -> None:
    if case.path_parameters is not None and "token" in case.path_parameters:
        case.path_parameters["token"] = path_token
    response = case.call(base_url=base_url, timeout=20)
    case.validate_response(
        response,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
    assert response.status_code < 500
    assert response.status_code != 200, "a request without a valid signature was accepted"
    assert _objects(local_cloud, endpoints) == before["objects"], "an unauthenticated request wrote to the lake"


def test_after_fuzzing_no_table_has_a_new_row(
    local_cloud: Any, endpoints: dict[str, Any], before: dict[str, Any]
) -> None:
    assert _rows(local_cloud, endpoints) == before["rows"]
