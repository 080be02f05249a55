"""Shopify compliance webhooks against the local cloud over real HTTP: the deployed stack's route through
the local API Gateway front end, the handler in its own process with the function's environment and
role, the record it leaves under metadata/privacy/requests/, and the privacy workflow execution it
starts. The client secret and the digest key are the ones the shared stack generated; the URL is
endpoints.json's ``http_apis.shopify_compliance``.

The compliance webhook (job ``shopify``) deploys before the privacy workflow (job ``privacy``) and names
the state machine by its deterministic name. When the local cloud runs without the privacy job
(``PLATFORM_LOCAL_STACKS`` narrowed, or a checkout from before it), an erasure is recorded and answered
503 (Shopify retries until the workflow exists); with it, the execution named after the request id is
started and the answer is 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

TIMEOUT = (3.05, 20.0)
PREFIX = "metadata/privacy/requests/"


class Cloud:
    def __init__(self, local_cloud: Any) -> None:
        self.cloud = local_cloud
        assert local_cloud.endpoints_file is not None
        self.endpoints = json.loads(local_cloud.endpoints_file.read_text(encoding="utf-8"))
        self.url: str = self.endpoints["http_apis"]["shopify_compliance"]
        self.bucket: str = self.endpoints["bucket"]
        outputs = local_cloud.stack_outputs()
        self.secret_arn = outputs["shared/secrets-manager"]["ShopifyAppClientSecretArn"]
        self.digest_key_arn = outputs["shared/secrets-manager"]["PrivacyDigestKeySecretArn"]
        # The privacy workflow, when the privacy job is deployed (output PrivacyStateMachineArn).
        self.state_machine: str | None = (outputs.get("privacy/requests") or {}).get("PrivacyStateMachineArn")
        settings = {p["ParameterKey"]: p["ParameterValue"] for p in _settings()}
        self.shop = settings["ShopDomain"]

    def client(self, name: str) -> Any:
        return self.cloud.target.client(name)

    def _secret(self, arn: str, key: str) -> str:
        value = self.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        return str(json.loads(value)[key])

    def secret(self) -> str:
        return self._secret(self.secret_arn, "client_secret")

    def keyed(self, kind: str, normalised: str) -> str:
        """A keyed subject computed here, apart from the handler, with the deployed digest key."""
        key = self._secret(self.digest_key_arn, "digest_key").encode()
        message = kind.encode() + b"\x00" + normalised.encode()
        return f"{kind}:{hmac.new(key, message, hashlib.sha256).hexdigest()}"

    def post(self, body: bytes, topic: str, *, secret: str | None = None, event_id: str | None = None) -> Any:
        digest = hmac.new((secret or self.secret()).encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-01",
        }
        return requests.post(self.url, data=body, headers=headers, timeout=TIMEOUT)

    def records(self) -> dict[str, dict[str, Any]]:
        s3 = self.client("s3")
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = json.loads(s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read())
        return found

    def execution(self, name: str) -> dict[str, Any] | None:
        """The privacy workflow's execution ``name`` (its input parsed), or None."""
        if self.state_machine is None:
            return None
        sfn = self.client("stepfunctions")
        arn = self.state_machine.replace(":stateMachine:", ":execution:") + ":" + name
        try:
            description = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
        return {**description, "input": json.loads(description["input"])}


def privacy_job_deployed_locally() -> bool:
    """Whether this checkout's local cloud deploys the privacy job: the manifest has it (and its template
    exists) and PLATFORM_LOCAL_STACKS, when set, selects it."""
    from platformctl.manifest import REPO_ROOT, load_manifest

    if not (REPO_ROOT / "infrastructure" / "privacy").is_dir():
        return False
    if "privacy" not in {job.name for job in load_manifest().jobs}:
        return False
    narrowed = os.environ.get("PLATFORM_LOCAL_STACKS")
    return not narrowed or any(part.strip().split("/")[0] == "privacy" for part in narrowed.split(","))


def _settings() -> list[dict[str, str]]:
    from platformctl.manifest import REPO_ROOT

    return list(json.loads((REPO_ROOT / "ci" / "environments" / "local" / "settings.json").read_text()))


@pytest.fixture(scope="module")
def cloud(local_cloud: Any) -> Cloud:
    found = Cloud(local_cloud)
    # Never a silent fallback to the "not deployed" expectations when the privacy job should be there.
    assert (found.state_machine is not None) == privacy_job_deployed_locally(), found.state_machine
    return found


def test_a_signed_redact_request_is_recorded_once_and_starts_the_workflow(cloud: Cloud) -> None:
    customer_id = int(uuid.uuid4().int % 10**12) + 1
    body = json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": cloud.shop,
            "customer": {"id": customer_id, "email": "Jane.Local@Example.com", "phone": "+1 555 625 1199"},
            "orders_to_redact": [299938, 280263],
        }
    ).encode()
    before = cloud.records()
    response = cloud.post(body, "customers/redact", event_id="evt-1")
    added = {k: v for k, v in cloud.records().items() if k not in before}
    ((key, record),) = added.items()  # recorded whether or not the workflow could be started
    request_id = record["request_id"]
    assert key == f"{PREFIX}customers_redact/{request_id}.json"
    assert (record["schema"], record["kind"], record["origin"]) == (2, "erase", "shopify")
    assert record["subjects"] == sorted(
        [
            f"shopify-customer:{customer_id}",
            "shopify-order:299938",
            "shopify-order:280263",
            cloud.keyed("email", "jane.local@example.com"),
            cloud.keyed("phone", "+15556251199"),
        ]
    )
    text = json.dumps(record)
    assert "jane.local" not in text.lower()
    assert "5556251199" not in text

    if cloud.state_machine is None:  # the privacy job is not deployed: Shopify is told to retry
        assert response.status_code == 503, response.text
        again = cloud.post(body, "customers/redact", event_id="evt-1")
        assert again.status_code == 503
    else:
        assert response.status_code == 200, response.text
        assert response.json() | {"request_id": request_id, "workflow": "started"} == response.json()
        execution = cloud.execution(request_id)
        assert execution is not None, "the privacy workflow was not started"
        assert execution["input"] == {"request_key": key}
        again = cloud.post(body, "customers/redact", event_id="evt-1")  # Shopify's redelivery
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "already recorded"
        assert (cloud.execution(request_id) or {}).get("executionArn") == execution["executionArn"]
    assert {k: v for k, v in cloud.records().items() if k not in before} == added


def test_shop_redact_is_recorded_and_starts_nothing(cloud: Cloud) -> None:
    body = json.dumps({"shop_id": 954889, "shop_domain": cloud.shop, "nonce": str(uuid.uuid4())}).encode()
    before = cloud.records()
    response = cloud.post(body, "shop/redact")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["workflow"] == "not applicable"
    added = {k: v for k, v in cloud.records().items() if k not in before}
    assert list(added) == [f"{PREFIX}shop_redact/{answer['request_id']}.json"]
    assert next(iter(added.values()))["kind"] == "shop_purge"
    assert cloud.execution(answer["request_id"]) is None


def test_a_forged_request_is_401_and_records_and_starts_nothing(cloud: Cloud) -> None:
    body = json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": cloud.shop,
            "customer": {"id": 4242, "email": "victim@example.com", "phone": None},
            "orders_to_redact": [],
        }
    ).encode()
    before = cloud.records()
    response = cloud.post(body, "customers/redact", secret="not-the-client-secret")
    assert response.status_code == 401
    assert cloud.records() == before
    forged_id = hashlib.sha256(b"customers/redact\n" + body).hexdigest()[:32]
    assert cloud.execution(forged_id) is None


def test_a_get_is_405(cloud: Cloud) -> None:
    assert requests.get(cloud.url, timeout=TIMEOUT).status_code == 405
