"""The privacy indexer: every object that lands under ``raw/`` or ``quarantine/`` of the lake, to the privacy
index, as it lands.

One invocation is one S3 "Object Created" event from the account's default bus (the lake's
``EventBridgeConfiguration``; rule ``<brand>-<env>-privacy-indexer``): PutObject, CopyObject and
CompleteMultipartUpload alike. In order:

1. the event: an S3 "Object Created" event of the lake bucket, else it is ignored (logged and counted,
   no error: a retry could not make it one); a key outside ``raw/`` and ``quarantine/`` likewise;
2. the object, as it is now (``GetObject`` without a version: when the privacy workflow has redacted
   it since, the redacted version is what is indexed), streamed: a ``.jsonl`` / ``.jsonl.gz`` object (a
   bulk part, up to ``PartTargetMiB`` compressed) is read line by line, never held whole, and each line's
   subjects come from ``common.privacy.subjects.line_subjects``; any other object (a webhook, a Recharge
   delivery, a quarantined body: a few KB) is read whole and given to ``object_subjects``;
3. one index item per subject (``common.privacy.index.PrivacyIndex.record``), location ``s3:<key>``,
   written in chunks as the subjects accumulate; a bulk part's chunks go to several writer threads.

Writes are idempotent (an item per subject and object), so Lambda's retries and a redelivered event only
write the same items again. An AWS failure raises: Lambda retries twice, then the event waits in the
indexer's dead-letter queue. An object whose bytes cannot be read as JSON (or whose gzip stream is
broken) is indexed with what could be read and counted as ``ObjectsUnreadable``. Logs carry the key,
counts and reasons, never an object's content or a subject.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from common import aws
from common.config import env_field, load_settings
from common.observability import MetricUnit, logger, metrics, tracer
from common.privacy.digest import SubjectDigester, digester_from_secret
from common.privacy.index import PrivacyIndex, s3_location
from common.privacy.subjects import line_subjects, object_subjects
from common.secret_cache import CachedSecret
from common.settings import LakeSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INDEXED_PREFIXES = ("raw/", "quarantine/")
EVENT_SOURCE = "aws.s3"
EVENT_DETAIL_TYPE = "Object Created"
_STREAM_CHUNK = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    table: str = env_field("PRIVACY_INDEX_TABLE_NAME")
    digest_key_secret_arn: str = env_field("DIGEST_KEY_SECRET_ARN")
    # The digest key never changes (docs/privacy.md): one read per execution environment and hour.
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=3600.0)
    # Subjects collected before they are written (a bulk part has hundreds of thousands).
    flush_subjects: int = env_field("INDEX_FLUSH_SUBJECTS", default=2500)
    writers: int = env_field("INDEX_WRITERS", default=8)


class IndexWriter(Protocol):
    """What the indexer needs of ``common.privacy.index.PrivacyIndex``."""

    def record(self, subjects: Iterable[str], location: str, *, indexed_at: datetime, size: int) -> int: ...


@dataclass(frozen=True)
class LandedObject:
    """The object an S3 event is about."""

    bucket: str
    key: str


@dataclass
class Outcome:
    """What one event came to (returned by the handler, for tests and logs)."""

    status: str  # "indexed" | "ignored"
    key: str = ""
    reason: str = ""
    subjects: int = 0
    items: int = 0
    lines: int = 0
    unreadable_lines: int = 0
    unreadable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", 0, False) or k == "status"}


class Ignored(Exception):  # noqa: N818 - the event is ignored, not an error
    """An event the indexer has nothing to do with; ``reason`` is a short slug."""

    def __init__(self, reason: str, key: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def landed_object(event: Mapping[str, Any], bucket: str) -> LandedObject:
    """The lake object of an S3 "Object Created" event; ``Ignored`` for any other event or key."""
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        raise Ignored("not-an-object-created-event")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("no-detail")
    name = (detail.get("bucket") or {}).get("name") if isinstance(detail.get("bucket"), Mapping) else None
    key = (detail.get("object") or {}).get("key") if isinstance(detail.get("object"), Mapping) else None
    if not isinstance(key, str) or not key:
        raise Ignored("no-object-key")
    if name != bucket:
        raise Ignored("another-bucket", key)
    if not key.startswith(INDEXED_PREFIXES):
        raise Ignored("outside-raw-and-quarantine", key)
    return LandedObject(bucket=bucket, key=key)


def is_jsonl(key: str) -> bool:
    """Objects read line by line: bulk parts (``part-NNNNN.jsonl.gz``) and any other JSON Lines object."""
    return key.removesuffix(".gz").endswith(".jsonl")


class Readable(Protocol):
    """A byte stream: an S3 object's body, or a gzip reader over one."""

    def read(self, size: int, /) -> bytes: ...


class UnreadableStream(Exception):  # noqa: N818 - a condition of the object, reported by the reader
    """The object's gzip stream broke off; what was read before stays read."""


def _lines(body: Readable, gzipped: bool) -> Iterator[bytes]:
    """The object's lines, streamed (gunzipped on the way when ``gzipped``)."""
    if gzipped:
        # GzipFile reads its file object forward only (typeshed also asks for seek(), used only to rewind).
        # read1: what one compressed read gives, so the lines before a broken-off end are still read.
        unzipped = gzip.GzipFile(fileobj=body, mode="rb")  # type: ignore[call-overload]
        read: Callable[[int], bytes] = unzipped.read1
    else:
        read = body.read
    pending = b""
    try:
        while True:
            chunk = read(_STREAM_CHUNK)
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            yield from complete
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableStream(type(exc).__name__) from None
    if pending:
        yield pending


class ChunkedRecorder:
    """Writes the subjects of one object in chunks, each subject once, chunks on ``writers`` threads.

    ``PrivacyIndex`` keeps no state between calls and writes through its table's client, which boto3
    documents as thread-safe, so one index serves every thread.
    """

    def __init__(
        self,
        index: IndexWriter,
        location: str,
        *,
        size: int,
        indexed_at: datetime,
        flush_subjects: int,
        pool: ThreadPoolExecutor | None,
        in_flight: int = 16,
    ) -> None:
        self.index = index
        self.location = location
        self.size = size
        self.indexed_at = indexed_at
        self.flush_subjects = max(1, flush_subjects)
        self.pool = pool
        self.in_flight = max(1, in_flight)
        self.seen: set[str] = set()
        self.pending: set[str] = set()
        self.futures: list[Future[int]] = []
        self.written = 0

    def add(self, subjects: Iterable[str]) -> None:
        for subject in subjects:
            if subject not in self.seen:
                self.seen.add(subject)
                self.pending.add(subject)
                if len(self.pending) >= self.flush_subjects:
                    self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        chunk, self.pending = sorted(self.pending), set()
        if self.pool is None:
            self.written += self._record(chunk)
            return
        self.futures.append(self.pool.submit(self._record, chunk))
        # A bounded number of chunks in flight: the subjects of a chunk are held until it is written.
        while len(self.futures) > self.in_flight:
            self.written += self.futures.pop(0).result()

    def _record(self, chunk: list[str]) -> int:
        return self.index.record(chunk, self.location, indexed_at=self.indexed_at, size=self.size)

    def finish(self) -> int:
        """Write what is pending, wait for every chunk (the first failure raises); the items written."""
        self.flush()
        futures, self.futures = self.futures, []
        for future in futures:
            self.written += future.result()
        return self.written


class Indexer:
    """Handles one S3 event at a time; every collaborator is given, so tests build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        index: IndexWriter,
        digester: Callable[[], SubjectDigester],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        """``pool``: the threads a large object's chunks are written on (None: written in turn)."""
        self.settings = settings
        self.s3 = s3
        self.index = index
        self.digester = digester
        self.clock = clock
        self.pool = pool

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            landed = landed_object(event, self.settings.bucket)
        except Ignored as ignored:
            logger.info("event ignored", extra={"reason": ignored.reason, "key": ignored.key or None})
            metrics.add_metric(name="ObjectsIgnored", unit=MetricUnit.Count, value=1)
            return Outcome("ignored", key=ignored.key, reason=ignored.reason).as_dict()
        outcome = self.index_object(landed.key)
        if outcome.status == "ignored":
            metrics.add_metric(name="ObjectsIgnored", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="ObjectsIndexed", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="SubjectsIndexed", unit=MetricUnit.Count, value=outcome.items)
            if outcome.unreadable:
                metrics.add_metric(name="ObjectsUnreadable", unit=MetricUnit.Count, value=1)
        logger.info("object indexed" if outcome.status == "indexed" else "object ignored", extra=outcome.as_dict())
        return outcome.as_dict()

    def index_object(self, key: str) -> Outcome:
        started = time.monotonic()
        try:
            response = self.s3.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                # Deleted since it landed: nothing of it is left to find.
                return Outcome("ignored", key=key, reason="object-gone")
            raise
        size = int(response.get("ContentLength") or 0)
        digester = self.digester()
        recorder = ChunkedRecorder(
            self.index,
            s3_location(key),
            size=size,
            indexed_at=self.clock(),
            flush_subjects=self.settings.flush_subjects,
            pool=self.pool,
            in_flight=2 * max(1, self.settings.writers),
        )
        outcome = Outcome("indexed", key=key)
        body = response["Body"]
        try:
            if is_jsonl(key):
                self._index_lines(key, body, digester, recorder, outcome)
            else:
                subjects = object_subjects(key, body.read(), digester)
                recorder.add(subjects)
        finally:
            body.close()
        outcome.items = recorder.finish()
        outcome.subjects = len(recorder.seen)
        logger.debug("indexing took", extra={"key": key, "seconds": round(time.monotonic() - started, 3)})
        return outcome

    def _index_lines(
        self, key: str, body: Readable, digester: SubjectDigester, recorder: ChunkedRecorder, outcome: Outcome
    ) -> None:
        try:
            for raw in _lines(body, gzipped=key.endswith(".gz")):
                if not raw.strip():
                    continue
                outcome.lines += 1
                try:
                    line = json.loads(raw)
                except (ValueError, RecursionError):
                    line = None
                if not isinstance(line, dict):
                    outcome.unreadable_lines += 1
                    continue
                recorder.add(line_subjects(line, digester))
        except UnreadableStream as broken:
            logger.warning("object stream broken off", extra={"key": key, "error": str(broken), "lines": outcome.lines})
            outcome.unreadable = True
        if outcome.unreadable_lines:
            outcome.unreadable = True


def build_indexer(settings: Settings) -> Indexer:
    """The indexer of a deployed function: clients, the digest key's cache and the writer threads."""
    cached = CachedSecret(
        aws.secretsmanager(), settings.digest_key_secret_arn, max_age_seconds=settings.secret_cache_seconds
    )
    return Indexer(
        settings,
        s3=aws.s3(),
        index=PrivacyIndex(aws.table(settings.table)),
        digester=lambda: digester_from_secret(cached),
        pool=ThreadPoolExecutor(max_workers=max(1, settings.writers), thread_name_prefix="index-writer")
        if settings.writers > 1
        else None,
    )


settings = load_settings(Settings)
indexer = build_indexer(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    event_id = event.get("id")
    if event_id:
        logger.set_correlation_id(str(event_id))
    return indexer.handle(event)
