"""The local cloud runs the repository's handlers the way AWS would: EventBridge delivery with Lambda's
async retries and dead letters, Step Functions with real ASL, HTTP APIs with payload 2.0, schedules, and
one environment per function."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from platformctl.deploy import Deployer
from platformctl.localcloud.schedules import fire_schedule
from platformctl.manifest import REPO_ROOT, load_manifest
from tests.integration.test_local_cloud import _Sink

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def probe(local_cloud: Any) -> dict[str, str]:
    manifest = load_manifest(REPO_ROOT / "tests" / "integration" / "probe" / "ingestion_jobs.json")
    local_cloud._runtime.add_manifest(manifest)
    result = Deployer(local_cloud.target, manifest, image_tag="local", out=_Sink()).deploy(manifest.stacks)[0]
    return result.outputs


def _drain(cloud: Any, url: str, want: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Messages from a queue until ``want`` arrived or the time is up (the caller asserts on the count)."""
    sqs = cloud.target.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < want and time.monotonic() < deadline:
        cloud.wait_idle(timeout)
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        for message in response.get("Messages", []):
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(found) < want:
            time.sleep(0.1)
    return found


def _put(cloud: Any, bus: str, source: str, detail: dict[str, Any]) -> None:
    response = cloud.target.client("events").put_events(
        Entries=[{"EventBusName": bus, "Source": source, "DetailType": "probe", "Detail": json.dumps(detail)}]
    )
    assert response["FailedEntryCount"] == 0


def test_rule_delivers_to_the_function(local_cloud: Any, probe: dict[str, str]) -> None:
    _put(local_cloud, probe["BusName"], "probe", {"action": "record", "id": "delivered-1"})
    messages = _drain(local_cloud, probe["ResultsUrl"], 1)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert bodies == [{"kind": "processed", "flag": "probe", "id": "delivered-1", "source": "probe"}]


def test_a_failing_handler_is_retried_then_dead_lettered(local_cloud: Any, probe: dict[str, str]) -> None:
    _put(local_cloud, probe["BusName"], "probe", {"action": "fail", "id": "poison-1"})
    attempts = _drain(local_cloud, probe["ResultsUrl"], 2)
    assert [json.loads(m["Body"])["id"] for m in attempts] == ["poison-1", "poison-1"]  # MaximumRetryAttempts: 1
    dead = _drain(local_cloud, probe["ProbeDlqUrl"], 1)
    assert len(dead) == 1
    event = json.loads(dead[0]["Body"])
    assert event["detail"] == {"action": "fail", "id": "poison-1"}
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert "probe asked to fail" in attributes["ErrorMessage"]
    assert attributes["RequestID"]


def test_an_undeliverable_target_goes_to_the_rule_dead_letter_queue(local_cloud: Any, probe: dict[str, str]) -> None:
    _put(local_cloud, probe["BusName"], "probe.ghost", {"action": "ok", "id": "ghost-1"})
    dead = _drain(local_cloud, probe["ProbeDlqUrl"], 1)
    assert len(dead) == 1
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert attributes["RULE_ARN"].endswith("rule/acme-probe-bus/acme-probe-ghost-rule")
    assert attributes["TARGET_ARN"].endswith(":function:acme-does-not-exist")
    assert json.loads(dead[0]["Body"])["detail"]["id"] == "ghost-1"


def test_each_function_sees_only_its_own_environment(local_cloud: Any, probe: dict[str, str]) -> None:
    client = local_cloud.target.client("lambda")
    results = {}
    for name in (probe["ProbeFunctionName"], probe["OtherFunctionName"]):
        response = client.invoke(FunctionName=name, Payload=json.dumps({"action": "env"}).encode())
        assert "FunctionError" not in response
        results[name] = json.loads(response["Payload"].read())
    mine, other = results[probe["ProbeFunctionName"]], results[probe["OtherFunctionName"]]
    assert (mine["flag"], mine["other_only"]) == ("probe", None)
    assert (other["flag"], other["other_only"]) == ("other", "set only on the other function")
    assert mine["endpoint"] == local_cloud.endpoint_url
    assert mine["function"] == probe["ProbeFunctionName"]
    assert 0 < mine["remaining_ms"] <= 3000


def test_handler_errors_and_timeouts_surface_like_lambda(local_cloud: Any, probe: dict[str, str]) -> None:
    client = local_cloud.target.client("lambda")
    failed = client.invoke(FunctionName=probe["ProbeFunctionName"], Payload=b'{"action": "fail", "id": "x"}')
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "RuntimeError"
    _drain(local_cloud, probe["ResultsUrl"], 1, timeout=2)
    # Well past the 3 s timeout plus the runtime's 2 s start-up allowance: a 5 s sleep raced the allowance
    # and, on a loaded machine, sometimes won.
    slow = client.invoke(FunctionName=probe["ProbeFunctionName"], Payload=b'{"action": "sleep", "seconds": 8}')
    assert slow["FunctionError"] == "Unhandled"
    assert "Task timed out after 3.00 seconds" in json.loads(slow["Payload"].read())["errorMessage"]


def _wait_execution(cloud: Any, arn: str, timeout: float = 30.0) -> dict[str, Any]:
    sfn = cloud.target.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} still running after {timeout}s")


def test_state_machine_runs_task_choice_wait_map(local_cloud: Any, probe: dict[str, str]) -> None:
    sfn = local_cloud.target.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=probe["MachineArn"], input=json.dumps({"action": "ok", "value": 7}))[
        "executionArn"
    ]
    execution = _wait_execution(local_cloud, arn)
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["result"]["doubled"] == 14
    assert output["mapped"] == [2, 4]  # Map over items [1, 2], each through the function


def test_state_machine_catches_a_failing_task(local_cloud: Any, probe: dict[str, str]) -> None:
    sfn = local_cloud.target.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=probe["MachineArn"], input=json.dumps({"action": "fail", "id": "sfn"}))[
        "executionArn"
    ]
    execution = _wait_execution(local_cloud, arn)
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ProbeFailed"
    _drain(local_cloud, probe["ResultsUrl"], 1, timeout=2)


def test_schedule_fires_its_target(local_cloud: Any, probe: dict[str, str]) -> None:
    message = fire_schedule(local_cloud.target, probe["ScheduleName"])
    assert message.startswith("started ")
    execution = _wait_execution(local_cloud, message.removeprefix("started "))
    assert execution["status"] == "SUCCEEDED"


def test_http_api_routes_to_the_function_with_payload_v2(local_cloud: Any, probe: dict[str, str]) -> None:
    base = probe["ApiEndpoint"]
    response = requests.get(f"{base}/probe/a/b?x=1&x=2", timeout=10)
    assert response.status_code == 201
    assert response.headers["x-probe"] == "yes"
    body = response.json()
    assert body["routeKey"] == "ANY /probe/{proxy+}"
    assert body["pathParameters"] == {"proxy": "a/b"}
    assert body["query"] == {"x": "1,2"}
    exact = requests.post(
        f"{base}/probe/exact", data=b"\x00\xff binary", headers={"content-type": "application/octet-stream"}, timeout=10
    )
    assert exact.json()["routeKey"] == "POST /probe/exact"
    assert exact.json()["isBase64Encoded"] is True
    assert base64.b64decode(exact.json()["body"]) == b"\x00\xff binary"
    text = requests.post(f"{base}/probe/exact", json={"a": 1}, timeout=10).json()
    assert (text["isBase64Encoded"], json.loads(text["body"])) == (False, {"a": 1})
    missing = requests.get(f"{base}/elsewhere", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})


def test_stream_mapping_checkpoints_retries_and_reports_exhausted_batches(
    local_cloud: Any, probe: dict[str, str]
) -> None:
    table = local_cloud.target.client("dynamodb")
    for item in ({"id": "stream-ok-1"}, {"id": "stream-ok-2"}, {"id": "stream-poison", "fail": "yes"}):
        table.put_item(TableName=probe["LedgerName"], Item={key: {"S": value} for key, value in item.items()})
    processed = _drain(local_cloud, probe["ResultsUrl"], 2)
    assert [(json.loads(m["Body"])["id"], json.loads(m["Body"])["event"]) for m in processed] == [
        ("stream-ok-1", "INSERT"),
        ("stream-ok-2", "INSERT"),
    ]
    failures = _drain(local_cloud, probe["LedgerFailuresUrl"], 1, timeout=30)
    assert len(failures) == 1
    record = json.loads(failures[0]["Body"])
    batch = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2, "the first attempt and one retry"
    assert (batch["batchSize"], batch["startSequenceNumber"]) == (1, batch["endSequenceNumber"])
    assert batch["streamArn"].endswith(batch["streamArn"].split("/stream/")[1])
    assert _drain(local_cloud, probe["ResultsUrl"], 1, timeout=1) == [], "records before the failure ran once"
    table.put_item(TableName=probe["LedgerName"], Item={"id": {"S": "stream-after"}})
    after = _drain(local_cloud, probe["ResultsUrl"], 1)
    assert [json.loads(m["Body"])["id"] for m in after] == ["stream-after"], "the poller moved past the batch"


def test_sqs_mapping_deletes_successes_and_retries_reported_failures(local_cloud: Any, probe: dict[str, str]) -> None:
    sqs = local_cloud.target.client("sqs")
    sqs.send_message_batch(
        QueueUrl=probe["WorkUrl"],
        Entries=[
            {"Id": "a", "MessageBody": json.dumps({"id": "batch-ok-1"})},
            {"Id": "b", "MessageBody": json.dumps({"id": "batch-poison", "fail": True})},
            {"Id": "c", "MessageBody": json.dumps({"id": "batch-ok-2"})},
        ],
    )
    processed = _drain(local_cloud, probe["ResultsUrl"], 2)
    assert sorted(json.loads(m["Body"])["id"] for m in processed) == ["batch-ok-1", "batch-ok-2"]
    dead = _drain(local_cloud, probe["WorkDlqUrl"], 1, timeout=30)
    assert [json.loads(m["Body"]) for m in dead] == [{"id": "batch-poison", "fail": True}]
    assert _drain(local_cloud, probe["ResultsUrl"], 1, timeout=1) == [], "successes are not redelivered"
