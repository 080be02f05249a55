"""What a function prints still reaches its log unchanged, and the runtime reports invocations, errors,
throttles and every printed line (embedded metrics) to its observer before the invocation returns."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from platformctl.localcloud.lambda_runtime import WORKER_PATH, FunctionSpec, _Pool
from platformctl.localcloud.service_metrics import LambdaMetrics

HANDLER = """
import json
import time


def handler(event, context):
    print(json.dumps({"_aws": {"Timestamp": 1900000000000, "CloudWatchMetrics": [{"Namespace": "acme/Test",
        "Dimensions": [["service"]], "Metrics": [{"Name": "Hits", "Unit": "Count"}]}]},
        "service": "probe", "Hits": event.get("hits", 1)}))
    print("an ordinary line")
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("boom")
    return {"ok": True}
"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def _add(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)

    def throttled(self, function: str) -> None:
        self._add("throttled", function)

    def started(self, function: str, concurrent: int) -> None:
        self._add("started", function, concurrent)

    def finished(self, function: str, failed: bool, duration_ms: float) -> None:
        self._add("finished", function, failed)

    def printed(self, function: str, line: bytes) -> None:
        self._add("printed", function, line)


def _pool(tmp_path: Path, observer: Any, concurrency: int = 2, reserved: bool = False) -> _Pool:
    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(HANDLER, encoding="utf-8")
    spec = FunctionSpec(
        name="acme-local-probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:acme-local-probe",
        region="us-east-1",
        role="arn:aws:iam::123456789012:role/probe",
        folder=folder,
        handler="app.handler",
        environment={},
        timeout=10,
        memory=128,
        concurrency=concurrency,
        dead_letter_arn=None,
        retry_attempts=0,
        on_failure=None,
        on_success=None,
        reserved=reserved,
    )
    env = {
        "PATH": WORKER_PATH,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "PLATFORM_LOCAL_FUNCTION_ARN": spec.arn,
        "HOME": str(tmp_path),
        "_HANDLER": spec.handler,
    }
    return _Pool(spec, env, tmp_path / "logs" / f"{spec.name}.log", observer)


def test_printed_lines_reach_the_log_and_the_observer_before_the_reply(tmp_path: Path) -> None:
    recorder = Recorder()
    pool = _pool(tmp_path, recorder)
    try:
        assert pool.invoke({"hits": 3}, "r1").payload == {"ok": True}
        printed = [c[2] for c in recorder.calls if c[0] == "printed"]  # taken before invoke returned
        failed = pool.invoke({"fail": True}, "r2")
    finally:
        pool.stop()
    assert json.loads(printed[0])["Hits"] == 3
    assert printed[1] == b"an ordinary line"
    assert failed.error is not None
    assert failed.error["errorType"] == "ValueError"
    log = (tmp_path / "logs" / "acme-local-probe.log").read_text(encoding="utf-8")
    assert log.count("an ordinary line") == 2
    assert '"Hits": 3' in log
    assert "ValueError: boom" in log  # stderr still goes to the same file
    assert [c for c in recorder.calls if c[0] == "finished"] == [
        ("finished", "acme-local-probe", False),
        ("finished", "acme-local-probe", True),
    ]
    assert ("started", "acme-local-probe", 1) in recorder.calls


@pytest.mark.parametrize(("reserved", "throttles"), [(True, 1), (False, 0)])
def test_an_invocation_that_finds_every_reserved_slot_busy_is_a_throttle(
    tmp_path: Path, reserved: bool, throttles: int
) -> None:
    recorder = Recorder()
    pool = _pool(tmp_path, recorder, concurrency=1, reserved=reserved)
    try:
        pool.invoke({}, "warm")  # the worker is started before the race
        first = threading.Thread(target=pool.invoke, args=({"sleep": 0.5}, "a"))
        first.start()
        while not any(c[0] == "started" for c in recorder.calls[1:]):
            threading.Event().wait(0.01)
        second = pool.invoke({}, "b")  # waits for the slot instead of being refused
        first.join()
    finally:
        pool.stop()
    assert second.payload == {"ok": True}
    assert sum(1 for c in recorder.calls if c[0] == "throttled") == throttles


def test_lambda_metrics_write_what_lambda_publishes(tmp_path: Path) -> None:
    written: list[tuple[str, str, float, dict[str, str]]] = []
    datums: list[Any] = []

    class Sink:
        def put(self, namespace: str, name: str, value: float, dimensions: dict[str, str], **_: Any) -> None:
            written.append((namespace, name, value, dict(dimensions)))

        def put_datums(self, found: Any) -> None:
            datums.extend(found)

    metrics = LambdaMetrics(Sink())  # type: ignore[arg-type]
    metrics.started("f", 2)
    metrics.finished("f", True, 12.345)
    metrics.throttled("f")
    metrics.printed(
        "f",
        b'{"_aws": {"CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [[]], "Metrics": [{"Name": "m"}]}]}, '
        b'"m": 4}',
    )
    metrics.printed("f", b"plain")
    dims = {"FunctionName": "f"}
    assert written == [
        ("AWS/Lambda", "ConcurrentExecutions", 2, dims),
        ("AWS/Lambda", "Invocations", 1, dims),
        ("AWS/Lambda", "Errors", 1, dims),
        ("AWS/Lambda", "Duration", 12.35, dims),
        ("AWS/Lambda", "Throttles", 1, dims),
    ]
    assert [(d.namespace, d.name, d.values) for d in datums] == [("n", "m", (4.0,))]
