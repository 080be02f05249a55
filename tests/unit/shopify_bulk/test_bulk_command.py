"""``platformctl bulk``: argument checks, the execution input, progress from the execution history."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from platformctl.cli import build_parser
from platformctl.commands import bulk
from platformctl.errors import UserError


def test_the_command_is_registered() -> None:
    args = build_parser().parse_args(["bulk", "start", "--env", "local", "--since", "2025-01-01", "--wait"])
    assert args.func is bulk.cmd_start
    assert args.env == "local"
    assert args.wait
    args = build_parser().parse_args(["bulk", "status", "backfill-1", "--env", "prod"])
    assert args.func is bulk.cmd_status
    assert args.execution == "backfill-1"
    assert args.env == "prod"


@pytest.mark.parametrize(
    ("since", "until", "steps", "expected"),
    [
        (None, None, None, {}),
        ("2025-01-01", None, None, {"since": "2025-01-01T00:00:00Z"}),
        ("2025-01-01T02:00:00+02:00", "2025-02-01T00:00:00Z", None,
         {"since": "2025-01-01T00:00:00Z", "until": "2025-02-01T00:00:00Z"}),
        ("2025-01-01", None, 1000, {"since": "2025-01-01T00:00:00Z", "options": {"max_bytes_per_step": 1000}}),
    ],
)  # fmt: skip
def test_execution_input(since: str | None, until: str | None, steps: int | None, expected: dict[str, Any]) -> None:
    assert bulk.execution_input(since, until, steps) == expected


def test_the_resource_is_chosen_with_orders_by_default() -> None:
    assert build_parser().parse_args(["bulk", "start", "--env", "local"]).resource == "orders"
    assert (
        build_parser().parse_args(["bulk", "start", "--env", "local", "--resource", "products"]).resource == "products"
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bulk", "start", "--env", "local", "--resource", "inventory"])
    # Absent means orders to the workflow: an orders run's input stays what it always was.
    assert bulk.execution_input(None, None, None, "orders") == {}
    assert bulk.execution_input("2025-01-01", None, None, "customers") == {
        "resource": "customers",
        "since": "2025-01-01T00:00:00Z",
    }
    with pytest.raises(UserError, match="orders, customers, products"):
        bulk.execution_input(None, None, None, "inventory")


@pytest.mark.parametrize(
    ("document", "resource"),
    [("{}", "orders"), ('{"resource": "customers"}', "customers"), ("not json", "?"), ("[]", "orders")],
)
def test_the_resource_of_an_execution(document: str, resource: str) -> None:
    assert bulk.resource_of({"input": document}) == resource


@pytest.mark.parametrize(
    ("since", "until", "steps", "message"),
    [
        ("yesterday", None, None, "not an ISO-8601"),
        ("2025-02-01", "2025-01-01", None, "must be before"),
        (None, "2025-01-01", None, "--until needs --since"),
        ("2025-01-01", None, 0, "positive"),
    ],
)
def test_execution_input_refuses(since: str | None, until: str | None, steps: int | None, message: str) -> None:
    with pytest.raises(UserError, match=message):
        bulk.execution_input(since, until, steps)


class FakeSfn:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.calls: list[dict[str, Any]] = []

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"events": list(reversed(self.events)) if kwargs.get("reverseOrder") else self.events}


def test_progress_reads_the_latest_state_and_outputs() -> None:
    state = {
        "run": {"run_id": "7", "window": {"since": None, "until": "2025-01-01T00:00:00Z"}},
        "poll": {"status": "COMPLETED", "object_count": 5000, "file_size": 10 * 1024 * 1024},
        "download": {"offset": 5 * 1024 * 1024, "objects": 2500, "step": 3},
    }
    sfn = FakeSfn(
        [
            {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "Download", "output": json.dumps(state)}},
            {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Download"}},
        ]
    )
    seen = bulk.progress(sfn, "arn:exec")
    assert seen["state"] == "Download"
    assert seen["run"]["run_id"] == "7"
    line = bulk.progress_line("RUNNING", seen, 75)
    assert "downloading step 3" in line
    assert "2,500" in line
    assert "5.0 MB / 10.0 MB" in line
    assert "0:01:15" in line
    assert sfn.calls[0]["reverseOrder"] is True


def test_progress_while_shopify_exports() -> None:
    state = {"run": {}, "poll": {"status": "RUNNING", "object_count": 1200}, "download": {}}
    sfn = FakeSfn(
        [
            {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "Poll", "output": json.dumps(state)}},
            {"type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "WaitForOperation"}},
        ]
    )
    line = bulk.progress_line("RUNNING", bulk.progress(sfn, "arn:exec"), 3)
    assert "Shopify: RUNNING" in line
    assert "1,200" in line


def test_watch_prints_each_change_once_and_returns_the_end() -> None:
    class Sfn(FakeSfn):
        def __init__(self) -> None:
            super().__init__([{"type": "ExecutionStarted", "stateEnteredEventDetails": {"name": "Export"}}])
            self.statuses = ["RUNNING", "RUNNING", "SUCCEEDED"]

        def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
            return {"status": self.statuses.pop(0), "output": "{}"}

    out = io.StringIO()
    description = bulk.watch(Sfn(), "arn:exec", out, poll_seconds=0)
    assert description["status"] == "SUCCEEDED"
    assert [line.split()[0] for line in out.getvalue().splitlines()] == ["RUNNING", "SUCCEEDED"]


def test_the_end_report() -> None:
    out = io.StringIO()
    ok = {"status": "SUCCEEDED", "output": json.dumps({"run_id": "9", "objects": 10, "bytes": 2048, "steps": 2})}
    assert bulk._report_end(ok, out) == 0
    assert "run 9 succeeded: 10 objects, 2.0 KB in 2 download step(s)" in out.getvalue()
    out = io.StringIO()
    failed = {"status": "FAILED", "error": "BulkAccessDeniedError", "cause": "lacks read_customers"}
    assert bulk._report_end(failed, out) == 1
    assert "BulkAccessDeniedError" in out.getvalue()
    assert "read_customers" in out.getvalue()
    assert "docs/runbooks/bulk-workflow-failed.md" in out.getvalue()


def test_an_execution_name_becomes_its_arn() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:acme-shopify-bulk-orders"
    assert bulk._resolve_execution(machine, "backfill-1") == (
        "arn:aws:states:us-east-1:123456789012:execution:acme-shopify-bulk-orders:backfill-1"
    )
    assert bulk._resolve_execution(machine, "arn:aws:states:x") == "arn:aws:states:x"


def test_a_missing_stack_says_how_to_deploy_it() -> None:
    import botocore.exceptions

    class Cfn:
        def describe_stacks(self, StackName: str) -> Any:  # noqa: N803 - boto3's name
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "DescribeStacks"
            )

    class Target:
        endpoint_url = None
        environment = "prod"

        def client(self, name: str) -> Any:
            return Cfn()

    with pytest.raises(UserError, match="platformctl deploy --env prod --job shopify --stack bulk-workflow"):
        bulk.state_machine_arn(Target())  # type: ignore[arg-type]


def test_moments_default_to_utc() -> None:
    assert bulk.parse_moment("2025-03-04T05:06:07", "since") == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_progress_when_the_history_comes_oldest_first() -> None:
    """moto returns the whole history oldest first whatever reverseOrder says: still the newest wins."""

    class Ascending(FakeSfn):
        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            return {"events": self.events}

    poll_state = {"run": {}, "poll": {"status": "RUNNING", "object_count": 10}, "download": {}}
    done_state = {"run": {"run_id": "8"}, "poll": {"status": "COMPLETED"}, "download": {"objects": 99, "offset": 5}}
    sfn = Ascending(
        [
            {"id": 1, "stateEnteredEventDetails": {"name": "Poll"}},
            {"id": 2, "stateExitedEventDetails": {"name": "Poll", "output": json.dumps(poll_state)}},
            {"id": 3, "stateEnteredEventDetails": {"name": "Download"}},
            {"id": 4, "stateExitedEventDetails": {"name": "Download", "output": json.dumps(done_state)}},
            {"id": 5, "stateEnteredEventDetails": {"name": "Summarize"}},
            {"id": 6, "stateExitedEventDetails": {"name": "Summarize", "output": json.dumps({"objects": 99})}},
        ]
    )
    seen = bulk.progress(sfn, "arn:exec")
    assert seen["state"] == "Summarize"
    assert seen["download"]["objects"] == 99
    assert seen["run"]["run_id"] == "8"
