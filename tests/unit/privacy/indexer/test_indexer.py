"""The privacy indexer: what it indexes (raw/, quarantine/; webhooks whole, bulk parts streamed), what it
ignores, how it writes (each subject once, in chunks, on writer threads), and what it never logs."""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
from datetime import datetime
from typing import Any

import pytest

from .conftest import (
    BUCKET,
    CART_TOKEN,
    CUSTOMER_ID,
    EMAIL,
    INDEXED_AT,
    ORDER_ID,
    PART_KEY,
    PHONE,
    WEBHOOK_KEY,
    bulk_lines,
    jsonl_gz,
    order_envelope,
    s3_event,
)


def _expected_webhook_subjects(digester: Any) -> set[str]:
    return {
        f"shopify-order:{ORDER_ID}",
        f"shopify-customer:{CUSTOMER_ID}",
        digester.email(EMAIL),
        digester.phone(PHONE),
        f"checkout:{CART_TOKEN}",
    }


def test_an_order_webhook_is_indexed_under_the_customers_subjects(lake: Any, make_indexer: Any, digester: Any) -> None:
    body = json.dumps(order_envelope()).encode()
    lake.put(WEBHOOK_KEY, body)
    outcome = make_indexer().handle(s3_event(WEBHOOK_KEY))
    assert outcome["status"] == "indexed"
    subjects = lake.subjects_of(WEBHOOK_KEY)
    assert _expected_webhook_subjects(digester) <= subjects
    assert outcome["items"] == len(subjects) == outcome["subjects"]
    for item in lake.items():
        assert item["location"] == {"S": f"s3:{WEBHOOK_KEY}"}
        assert item["indexed_at"]["S"].startswith("2026-12-05T12:00:00")
        assert item["bytes"] == {"N": str(len(body))}


def test_the_index_holds_digests_never_the_contact_data(lake: Any, make_indexer: Any) -> None:
    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())
    make_indexer().handle(s3_event(WEBHOOK_KEY))
    stored = json.dumps(lake.items()).lower()
    for value in (EMAIL.lower(), "example.com", "625-1199", "5556251199", "jane", "park ct"):
        assert value not in stored


def test_a_quarantined_object_is_indexed(lake: Any, make_indexer: Any, digester: Any) -> None:
    key = "quarantine/shopify/dt=2026-12-05/foreign-source/b54557e4.json"
    lake.put(key, json.dumps(order_envelope()).encode())
    assert make_indexer().handle(s3_event(key))["status"] == "indexed"
    assert digester.email(EMAIL) in lake.subjects_of(key)


def test_a_bulk_part_is_indexed_line_by_line(lake: Any, make_indexer: Any, digester: Any) -> None:
    lines = bulk_lines(40)
    lake.put(PART_KEY, jsonl_gz(lines))
    outcome = make_indexer(writers=4, INDEX_FLUSH_SUBJECTS="7").handle(
        s3_event(PART_KEY, reason="CompleteMultipartUpload")
    )
    assert outcome["status"] == "indexed"
    assert outcome["lines"] == 80
    subjects = lake.subjects_of(PART_KEY)
    for n in range(40):
        assert f"shopify-order:{1000 + n}" in subjects
        assert f"shopify-customer:{90000 + n}" in subjects
        assert digester.email(f"buyer{n}@example.com") in subjects
    assert outcome["items"] == outcome["subjects"] == len(subjects) == 120


def test_a_plain_jsonl_object_is_streamed_too(lake: Any, make_indexer: Any) -> None:
    key = "raw/shopify/bulk/Order/run=7/part-00000.jsonl"
    lake.put(key, b"".join(json.dumps(line).encode() + b"\n" for line in bulk_lines(3)))
    assert make_indexer().handle(s3_event(key))["lines"] == 6
    assert "shopify-order:1002" in lake.subjects_of(key)


class _RecordingIndex:
    """Stands in for PrivacyIndex: what it was asked to write, and on which threads."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str, datetime, int]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def record(self, subjects: Any, location: str, *, indexed_at: datetime, size: int) -> int:
        chunk = list(subjects)
        with self.lock:
            self.calls.append((chunk, location, indexed_at, size))
            self.threads.add(threading.current_thread().name)
        return len(chunk)


def test_subjects_are_written_once_each_in_bounded_chunks_on_the_writer_threads(lake: Any, make_indexer: Any) -> None:
    # Each customer appears on many lines: the part repeats the same 10 orders 30 times.
    lines = bulk_lines(10) * 30
    body = jsonl_gz(lines)
    lake.put(PART_KEY, body)
    index = _RecordingIndex()
    outcome = make_indexer(index=index, writers=3, INDEX_FLUSH_SUBJECTS="4").handle(s3_event(PART_KEY))
    written = [subject for chunk, *_ in index.calls for subject in chunk]
    assert len(written) == len(set(written)) == 30  # 10 orders, 10 customers, 10 e-mails: each once
    assert all(len(chunk) <= 4 for chunk, *_ in index.calls)
    assert {location for _, location, _, _ in index.calls} == {f"s3:{PART_KEY}"}
    assert {size for *_, size in index.calls} == {len(body)}
    assert {at for _, _, at, _ in index.calls} == {INDEXED_AT}
    assert outcome["items"] == 30
    assert all(name.startswith("ThreadPoolExecutor") for name in index.threads)


@pytest.mark.parametrize(
    "key",
    [
        "processed/shopify/orders_enriched/dt=2026-12-05/part-0.parquet",
        "metadata/privacy/requests/customers_redact/abc.json",
        "metadata/shopify/bulk/run=1/checkpoints/00001.json",
        "exports/privacy/abc/export.json",
        "artifacts/glue-scripts/orders_enriched_job.py",
        "rawish/x.json",
    ],
)
def test_keys_outside_raw_and_quarantine_are_ignored_without_reading_them(
    lake: Any, make_indexer: Any, key: str
) -> None:
    # Nothing is put at the key: reading it would fail the test with NoSuchKey -> "object-gone".
    outcome = make_indexer().handle(s3_event(key))
    assert outcome == {"status": "ignored", "key": key, "reason": "outside-raw-and-quarantine"}
    assert lake.items() == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}, "not-an-object-created-event"),
        ({"source": "aws.partner/shopify.com/1/x", "detail-type": "Object Created"}, "not-an-object-created-event"),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": "x"}, "no-detail"),
        (
            {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}}},
            "no-object-key",
        ),
        ({}, "not-an-object-created-event"),
    ],
)
def test_other_events_are_ignored(lake: Any, make_indexer: Any, event: dict[str, Any], reason: str) -> None:
    outcome = make_indexer().handle(event)
    assert outcome["status"] == "ignored"
    assert outcome["reason"] == reason


def test_another_buckets_object_is_ignored(lake: Any, make_indexer: Any) -> None:
    outcome = make_indexer().handle(s3_event(WEBHOOK_KEY, bucket="someone-elses-bucket"))
    assert outcome["reason"] == "another-bucket"


def test_an_object_deleted_since_it_landed_is_ignored(lake: Any, make_indexer: Any) -> None:
    assert make_indexer().handle(s3_event(WEBHOOK_KEY))["reason"] == "object-gone"


def test_the_current_version_is_indexed(lake: Any, make_indexer: Any, digester: Any) -> None:
    """An event that arrives after the object was redacted indexes the redacted version."""
    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())
    lake.put(WEBHOOK_KEY, json.dumps(order_envelope(email="someone.else@example.org")).encode())
    make_indexer().handle(s3_event(WEBHOOK_KEY))
    subjects = lake.subjects_of(WEBHOOK_KEY)
    assert digester.email("someone.else@example.org") in subjects
    assert digester.email(EMAIL) not in subjects


def test_indexing_twice_writes_the_same_items(lake: Any, make_indexer: Any) -> None:
    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())
    indexer = make_indexer()
    indexer.handle(s3_event(WEBHOOK_KEY))
    first = lake.items()
    indexer.handle(s3_event(WEBHOOK_KEY))
    assert sorted(json.dumps(i, sort_keys=True) for i in lake.items()) == sorted(
        json.dumps(i, sort_keys=True) for i in first
    )


def test_an_unparsable_object_has_no_subjects(lake: Any, make_indexer: Any) -> None:
    key = "quarantine/recharge/dt=2026-12-05/not-json/1.json"
    lake.put(key, b"this is not { json")
    outcome = make_indexer().handle(s3_event(key))
    assert outcome["status"] == "indexed"
    assert lake.items() == []


def test_a_broken_gzip_part_keeps_what_was_read(lake: Any, make_indexer: Any) -> None:
    body = jsonl_gz(bulk_lines(200))
    lake.put(PART_KEY, body[: len(body) // 2])  # cut off mid-stream
    outcome = make_indexer().handle(s3_event(PART_KEY))
    assert outcome["status"] == "indexed"
    assert outcome["unreadable"] is True
    assert "shopify-order:1000" in lake.subjects_of(PART_KEY)


def test_lines_that_are_not_json_objects_are_counted_and_skipped(lake: Any, make_indexer: Any) -> None:
    good = json.dumps(bulk_lines(1)[0]).encode()
    lake.put(PART_KEY, gzip.compress(b"\n".join([b"[1, 2]", b"{not json", b"", good, b"42"])))
    outcome = make_indexer().handle(s3_event(PART_KEY))
    assert outcome["lines"] == 4
    assert outcome["unreadable_lines"] == 3
    assert "shopify-order:1000" in lake.subjects_of(PART_KEY)


def test_an_aws_failure_raises_so_lambda_retries(lake: Any, make_indexer: Any) -> None:
    from botocore.exceptions import ClientError

    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())

    class FailingIndex:
        def record(self, *args: Any, **kwargs: Any) -> int:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchWriteItem")

    with pytest.raises(ClientError):
        make_indexer(index=FailingIndex()).handle(s3_event(WEBHOOK_KEY))


def test_a_failure_on_a_writer_thread_fails_the_event(lake: Any, make_indexer: Any) -> None:
    lake.put(PART_KEY, jsonl_gz(bulk_lines(30)))

    class FailsOnce:
        def __init__(self) -> None:
            self.calls = 0

        def record(self, subjects: Any, *args: Any, **kwargs: Any) -> int:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("DynamoDB said no")
            return len(list(subjects))

    with pytest.raises(RuntimeError, match="DynamoDB said no"):
        make_indexer(index=FailsOnce(), writers=2, INDEX_FLUSH_SUBJECTS="5").handle(s3_event(PART_KEY))


def test_logs_carry_keys_and_counts_never_personal_data(
    lake: Any, make_indexer: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from common.observability import logger

    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())
    lake.put(PART_KEY, jsonl_gz(bulk_lines(3)))
    # The process has one Powertools logger, named and levelled by whichever function's test imported it
    # first (the Shopify processors' tests make it WARNING): this test sets the level it reads at.
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        with caplog.at_level(logging.DEBUG, logger="privacy-indexer"):
            make_indexer().handle(s3_event(WEBHOOK_KEY))
            make_indexer().handle(s3_event(PART_KEY))
    finally:
        logger.setLevel(level)
    captured = capsys.readouterr()
    text = (captured.out + captured.err + caplog.text).lower()
    assert WEBHOOK_KEY.lower() in text or "object indexed" in text
    for value in (EMAIL.lower(), "buyer0@example.com", "625-1199", "jane", "email:", "phone:"):
        assert value not in text


def test_lines_are_read_as_a_stream(app: Any) -> None:
    """The reader never asks the body for more than a bounded chunk at a time."""
    sizes: list[int] = []

    class Body(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            sizes.append(-1 if size is None else size)
            return super().read(size)

    payload = b"".join(json.dumps({"n": n, "pad": "x" * 500}).encode() + b"\n" for n in range(20_000))
    lines = list(app._lines(Body(payload), gzipped=False))
    assert len(lines) == 20_000
    assert sizes
    assert all(0 < size <= 1024 * 1024 for size in sizes)


def test_the_settings_read_the_stacks_environment(app: Any, lake: Any) -> None:
    from common.config import load_settings

    settings = load_settings(app.Settings, lake.environment())
    assert (settings.bucket, settings.table, settings.digest_key_secret_arn) == (
        BUCKET,
        "acme-test-privacy-index",
        lake.secret_arn,
    )
    assert settings.writers >= 1
    assert settings.flush_subjects >= 25


def test_the_deployed_indexer_is_built_from_its_settings(app: Any, lake: Any, digester: Any) -> None:
    """build_indexer: the real clients, the digest key from Secrets Manager, the index table resource."""
    from common import aws
    from common.config import load_settings

    lake.put(WEBHOOK_KEY, json.dumps(order_envelope()).encode())
    aws.client.cache_clear()  # clients cached before this test's (fake) credentials were set
    aws.table.cache_clear()
    indexer = app.build_indexer(load_settings(app.Settings, lake.environment(INDEX_WRITERS="2")))
    try:
        assert indexer.handle(s3_event(WEBHOOK_KEY))["status"] == "indexed"
    finally:
        aws.client.cache_clear()
        aws.table.cache_clear()
        if indexer.pool is not None:
            indexer.pool.shutdown(wait=True)
    assert _expected_webhook_subjects(digester) <= lake.subjects_of(WEBHOOK_KEY)
