"""The SQS poller's loop, without a running emulator."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from platformctl.localcloud import sqs_poller
from platformctl.localcloud.sqs_poller import SqsPoller

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:acme-work"


def _mapping() -> Any:
    return SimpleNamespace(region="us-east-1", event_source_arn=QUEUE_ARN, uuid="0123456789abcdef", enabled=True)


def _poller_whose_calls_fail(monkeypatch: pytest.MonkeyPatch, *, stop_first: bool) -> SqsPoller:
    pollers: list[SqsPoller] = []

    class Gone:
        def get_queue_url(self, **_: Any) -> Any:
            if stop_first:
                pollers[0].stop_event.set()  # the cloud began stopping while this call was on its way
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")

    monkeypatch.setattr(sqs_poller, "client", lambda service, region: Gone())
    poller = SqsPoller.__new__(SqsPoller)
    pollers.append(poller)
    poller.__init__(runtime=None, mapping=_mapping())  # type: ignore[arg-type, misc]
    return poller


def test_a_poller_stopped_mid_call_ends_without_an_error_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=sqs_poller.__name__):
        poller = _poller_whose_calls_fail(monkeypatch, stop_first=True)
        poller.thread.join(timeout=5)
    assert not poller.thread.is_alive()
    assert not caplog.records


def test_a_running_poller_logs_a_failure_and_keeps_polling(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=sqs_poller.__name__):
        poller = _poller_whose_calls_fail(monkeypatch, stop_first=False)
        poller.thread.join(timeout=0.5)
        assert poller.thread.is_alive(), "a failure while running must not end the poller"
        poller.stop_event.set()
        poller.thread.join(timeout=5)
    assert any("failed; retrying" in record.getMessage() for record in caplog.records)
