"""The stream poller's retry rule and what it refuses, without a running emulator."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from platformctl.localcloud.lambda_runtime import InvocationResult
from platformctl.localcloud.stream_poller import StreamPoller, UnsupportedMappingError, refuse_unsupported


class _Record:
    def __init__(self, sequence: int) -> None:
        self.sequence = sequence

    def to_json(self) -> dict[str, Any]:
        return {"dynamodb": {"SequenceNumber": str(self.sequence)}}


def _poller(response_types: list[str] | None = None) -> StreamPoller:
    poller = StreamPoller.__new__(StreamPoller)  # the retry rule needs only the mapping
    poller.mapping = SimpleNamespace(function_response_types=response_types)
    return poller


BATCH = [_Record(100), _Record(101), _Record(102)]
PARTIAL = ["ReportBatchItemFailures"]


def _answer(*identifiers: Any) -> InvocationResult:
    return InvocationResult(payload={"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]})


def test_a_successful_batch_is_done() -> None:
    assert _poller(PARTIAL)._retry_from(BATCH, InvocationResult(payload={"batchItemFailures": []})) is None
    assert _poller(PARTIAL)._retry_from(BATCH, InvocationResult(payload=None)) is None


def test_a_function_error_retries_the_whole_batch() -> None:
    failed = InvocationResult(error={"errorMessage": "boom"})
    assert _poller(PARTIAL)._retry_from(BATCH, failed) == 100


def test_reported_failures_retry_from_the_lowest_failed_record() -> None:
    assert _poller(PARTIAL)._retry_from(BATCH, _answer("102", "101")) == 101


def test_reported_failures_count_only_with_report_batch_item_failures() -> None:
    assert _poller(None)._retry_from(BATCH, _answer("101")) is None


@pytest.mark.parametrize("identifiers", [("99",), ("103",), ("101", "7"), ("",), (None,)])
def test_an_identifier_outside_the_batch_fails_the_whole_batch(identifiers: tuple[Any, ...]) -> None:
    assert _poller(PARTIAL)._retry_from(BATCH, _answer(*identifiers)) == 100


@pytest.mark.parametrize("name", ["BisectBatchOnFunctionError", "FilterCriteria", "TumblingWindowInSeconds"])
def test_what_is_not_emulated_is_refused(name: str) -> None:
    with pytest.raises(UnsupportedMappingError, match=name):
        refuse_unsupported({"EventSourceArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", name: {"x": 1}})
    refuse_unsupported({"EventSourceArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", "BatchSize": 10})
