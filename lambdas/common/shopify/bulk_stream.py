"""Stream a bulk operation's JSONL result into the lake, split per object type, in resumable steps.

The result file can be any size, so nothing here holds it whole, in memory or on disk:

- ``ResultReader`` reads it over HTTP in chunks from a byte offset (``Range``), reconnecting where it
  stopped when a connection drops, and reports an expired URL as ``ResultUrlExpired``. It follows a
  redirect only to an origin its ``ResultUrlPolicy`` allows (``ResultUrlNotAllowedError`` otherwise,
  before anything is sent there), and sends no credentials anywhere: the URL's signature is its only key.
- ``BulkSplitter`` takes complete lines, finds each object's type without a full JSON parse
  (``TypeRouter``: the leading ``__typename`` or the ``id`` gid; anything else is parsed), and appends
  the line verbatim to that type's stream. Children keep their ``__parentId``; nothing assumes a child
  follows its parent (``groupObjects: false``).
- A type's stream is gzip *members* of ``member_bytes`` of lines each (a gzip file may hold many
  members; every gzip reader joins them), collected into S3 multipart parts of ``part_bytes``, which
  make lake files ``raw/shopify/bulk/<type>/run=<id>/part-NNNNN.jsonl.gz`` that roll at
  ``file_target_bytes``. Every boundary depends only on that type's own lines, never on when a step
  ended, so a download in many steps writes the same bytes as one uninterrupted pass.
- ``checkpoint()`` ends a step: the un-uploaded tail of each type (less than one part) and the state
  (offset, files, part ETags, counts) go to one checkpoint object; ``restore()`` resumes from it.
  Uploads are completed only by ``finish()``, so a half-written run never shows up as objects.

Memory is bounded by the types present: per type at most one member of lines, one part of compressed
bytes and the uploads in flight.
"""

from __future__ import annotations

import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests
from botocore.exceptions import ClientError

from common.lake import bulk_part_key, safe_segment
from common.shopify.bulk import ResultDownloadError, ResultUrlPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
S3_MIN_PART_BYTES = 5 * MIB  # S3 refuses smaller parts except the last one of an upload
DEFAULT_MEMBER_BYTES = 1 * MIB
DEFAULT_PART_BYTES = S3_MIN_PART_BYTES  # the smallest S3 takes: the least memory per type
DEFAULT_FILE_TARGET_BYTES = 128 * MIB
DEFAULT_LEVEL = 6
READ_CHUNK_BYTES = 256 * 1024
S3_MAX_PARTS = 10_000
UNTYPED = "untyped"  # lines with neither a __typename nor a gid id: kept, counted, never dropped

_CHECKPOINT_MAGIC = b"SHOPIFY-BULK-CKPT-1\n"
_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TYPENAME_PREFIX = b'{"__typename":"'
_ID_PREFIX = b'{"id":"gid:'
_TYPENAME_KEY = b'"__typename"'
_PARENT_KEY = b'"__parentId"'
_EXPIRED_STATUSES = frozenset({400, 401, 403, 404, 410})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


def folder_for_type(type_name: str) -> str:
    """``LineItem`` -> ``line_item``: the lake folder (and Glue table suffix) of an object type."""
    if type_name == UNTYPED:
        return UNTYPED
    return safe_segment(_CAMEL.sub("_", type_name).lower(), "object type")


def _gid_type(raw: bytes) -> str | None:
    """``gid:\\/\\/shopify\\/Order\\/1`` or ``gid://shopify/Order/1`` -> ``Order``."""
    parts = raw.replace(b"\\/", b"/").split(b"/", 4)
    if len(parts) < 5 or parts[0] != b"gid:" or parts[1] != b"":
        return None
    name = parts[3].decode("ascii", "replace")
    return name if _TYPE_NAME.match(name) else None


class TypeRouter:
    """The object type of a bulk JSONL line, read from its first bytes when they allow it."""

    def __init__(self) -> None:
        self._names: dict[bytes, str] = {}
        self.parsed = 0  # lines that needed a full JSON parse
        self.untyped = 0

    def route(self, line: bytes) -> str:
        if line.startswith(_TYPENAME_PREFIX):
            end = line.find(b'"', 15)
            raw = line[15:end]
            name = self._names.get(raw)
            if name is not None:
                return name
            text = raw.decode("ascii", "replace")
            if end > 15 and _TYPE_NAME.match(text):
                self._names[raw] = text
                return text
        elif line.startswith(_ID_PREFIX) and _TYPENAME_KEY not in line:
            end = line.find(b'"', 7)
            name = _gid_type(line[7:end]) if end > 7 else None
            if name is not None:
                return name
        return self._parse(line)

    def _parse(self, line: bytes) -> str:
        self.parsed += 1
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if isinstance(document, dict):
            typename = document.get("__typename")
            if isinstance(typename, str) and _TYPE_NAME.match(typename):
                return typename
            gid = document.get("id")
            if isinstance(gid, str):
                name = _gid_type(gid.encode("utf-8", "replace"))
                if name is not None:
                    return name
        self.untyped += 1
        return UNTYPED


# ----------------------------------------------------------------------------------------- lake side


@dataclass
class LakeFile:
    """One ``part-NNNNN.jsonl.gz`` object: an S3 multipart upload until ``finish()`` completes it."""

    number: int
    key: str
    upload_id: str
    parts: dict[int, str] = field(default_factory=dict)  # part number -> ETag
    next_part: int = 1
    compressed_bytes: int = 0
    objects: int = 0
    completed: bool = False  # an earlier attempt of the same step already completed this upload

    def state(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "key": self.key,
            "upload_id": self.upload_id,
            "parts": [[n, self.parts[n]] for n in sorted(self.parts)],
            "next_part": self.next_part,
            "compressed_bytes": self.compressed_bytes,
            "objects": self.objects,
            "completed": self.completed,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> LakeFile:
        return cls(
            number=int(data["number"]),
            key=str(data["key"]),
            upload_id=str(data["upload_id"]),
            parts={int(n): str(etag) for n, etag in data["parts"]},
            next_part=int(data["next_part"]),
            compressed_bytes=int(data["compressed_bytes"]),
            objects=int(data["objects"]),
            completed=bool(data.get("completed", False)),
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Uploader:
    """S3 multipart calls for the lake files, part uploads on a small thread pool (bounded in flight)."""

    def __init__(self, s3: S3Client, bucket: str, run_id: str, *, max_in_flight: int = 1) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.run_id = run_id
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="bulk-upload")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._in_flight: list[Future[None]] = []

    def create(self, key: str, object_type: str) -> str:
        response = self.s3.create_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            ContentType="application/gzip",
            Metadata={"run-id": self.run_id, "object-type": object_type},
        )
        return str(response["UploadId"])

    def submit(self, file: LakeFile, part_number: int, body: bytes) -> None:
        self._raise_failures()
        self._slots.acquire()
        future = self._pool.submit(self._upload, file, part_number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._in_flight.append(future)

    def _raise_failures(self) -> None:
        running = []
        for future in self._in_flight:
            if future.done():
                future.result()  # raises the upload's error here, in the reading thread
            else:
                running.append(future)
        self._in_flight = running

    def _upload(self, file: LakeFile, part_number: int, body: bytes) -> None:
        if file.completed:
            return
        try:
            response = self.s3.upload_part(
                Bucket=self.bucket, Key=file.key, UploadId=file.upload_id, PartNumber=part_number, Body=body
            )
        except ClientError as exc:
            if _error_code(exc) == "NoSuchUpload" and self.exists(file.key):
                file.completed = True  # completed by an earlier attempt: it holds these very bytes
                return
            raise
        file.parts[part_number] = str(response["ETag"])

    def drain(self) -> None:
        """Wait for every part in flight; the first failure is raised."""
        in_flight, self._in_flight = self._in_flight, []
        for future in in_flight:
            future.result()

    def complete(self, file: LakeFile) -> None:
        if file.completed:
            return
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=file.key,
                UploadId=file.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": file.parts[n]} for n in sorted(file.parts)]},
            )
        except ClientError as exc:
            if not (_error_code(exc) == "NoSuchUpload" and self.exists(file.key)):
                raise
        file.completed = True

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class StreamSettings:
    """What decides the bytes written; kept in the checkpoint so every step of a run uses the same."""

    level: int = DEFAULT_LEVEL
    member_bytes: int = DEFAULT_MEMBER_BYTES
    part_bytes: int = DEFAULT_PART_BYTES
    file_target_bytes: int = DEFAULT_FILE_TARGET_BYTES

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 9:
            raise ValueError(f"gzip level must be 0-9, got {self.level}")
        if self.member_bytes < 1 or self.part_bytes < self.member_bytes:
            raise ValueError("member_bytes must be at least 1 and part_bytes at least member_bytes")
        if self.file_target_bytes < self.part_bytes or self.file_target_bytes // self.part_bytes >= S3_MAX_PARTS:
            raise ValueError(f"file_target_bytes must be 1 to {S3_MAX_PARTS - 1} times part_bytes")


class TypeStream:
    """One object type's lines: gzip members -> multipart parts -> rolling lake files."""

    def __init__(self, type_name: str, run_id: str, settings: StreamSettings, uploader: Uploader) -> None:
        self.type_name = type_name
        self.folder = folder_for_type(type_name)
        self.run_id = run_id
        self.settings = settings
        self.uploader = uploader
        self.lines = bytearray()  # the open member, uncompressed
        self.lines_objects = 0
        self.compressed = bytearray()  # sealed members not uploaded yet
        self.compressed_objects = 0
        self.files: list[LakeFile] = []
        self.open_file: LakeFile | None = None
        self.objects = 0
        self.roots = 0
        self.raw_bytes = 0

    def add(self, block: bytes) -> None:
        """Append complete lines (each ending in a newline). A member ends right after the first line that
        brings it to ``member_bytes``: the same boundaries whether lines come one by one or in blocks."""
        while block:
            need = self.settings.member_bytes - len(self.lines)
            cut = len(block) if len(block) < need else block.index(b"\n", need - 1) + 1
            piece = block[:cut] if cut < len(block) else block
            count = piece.count(b"\n")
            self.lines += piece
            self.lines_objects += count
            self.objects += count
            self.roots += count - piece.count(_PARENT_KEY)
            self.raw_bytes += len(piece)
            if len(self.lines) >= self.settings.member_bytes:
                self._seal()
            block = block[cut:] if cut < len(block) else b""

    def _seal(self) -> None:
        if not self.lines:
            return
        compressor = zlib.compressobj(self.settings.level, zlib.DEFLATED, 31)
        self.compressed += compressor.compress(self.lines)
        self.compressed += compressor.flush()
        self.compressed_objects += self.lines_objects
        self.lines = bytearray()
        self.lines_objects = 0
        if len(self.compressed) >= self.settings.part_bytes:
            self._upload_compressed()

    def _upload_compressed(self) -> None:
        body = bytes(self.compressed)
        objects = self.compressed_objects
        self.compressed = bytearray()
        self.compressed_objects = 0
        file = self.open_file
        if file is None:
            number = len(self.files) + 1
            key = bulk_part_key(self.folder, self.run_id, number)
            file = LakeFile(number=number, key=key, upload_id=self.uploader.create(key, self.type_name))
            self.files.append(file)
            self.open_file = file
        part_number = file.next_part
        file.next_part += 1
        file.compressed_bytes += len(body)
        file.objects += objects
        self.uploader.submit(file, part_number, body)
        if file.compressed_bytes >= self.settings.file_target_bytes:
            self.open_file = None  # the next part starts the next file

    def flush_for_checkpoint(self) -> None:
        """Upload the sealed tail if S3 accepts it as a middle part; a smaller tail goes to the checkpoint."""
        if len(self.compressed) >= S3_MIN_PART_BYTES:
            self._upload_compressed()

    def finish(self) -> None:
        self._seal()
        if self.compressed:
            self._upload_compressed()

    def state(self) -> dict[str, Any]:
        return {
            "files": [f.state() for f in self.files],
            "open_file": self.open_file.number if self.open_file else None,
            "objects": self.objects,
            "roots": self.roots,
            "raw_bytes": self.raw_bytes,
            "lines_objects": self.lines_objects,
            "compressed_objects": self.compressed_objects,
            "lines_bytes": len(self.lines),
            "compressed_bytes": len(self.compressed),
        }

    def restore(self, data: dict[str, Any], compressed: bytes, lines: bytes) -> None:
        self.files = [LakeFile.from_state(f) for f in data["files"]]
        open_number = data.get("open_file")
        self.open_file = next((f for f in self.files if f.number == open_number), None)
        self.objects = int(data["objects"])
        self.roots = int(data["roots"])
        self.raw_bytes = int(data["raw_bytes"])
        self.lines = bytearray(lines)
        self.lines_objects = int(data["lines_objects"])
        self.compressed = bytearray(compressed)
        self.compressed_objects = int(data["compressed_objects"])

    def summary(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "prefix": f"raw/shopify/bulk/{self.folder}/run={self.run_id}/",
            "objects": self.objects,
            "root_objects": self.roots,
            "uncompressed_bytes": self.raw_bytes,
            "compressed_bytes": sum(f.compressed_bytes for f in self.files),
            "parts": [{"key": f.key, "objects": f.objects, "bytes": f.compressed_bytes} for f in self.files],
        }


class BulkSplitter:
    """Routes complete lines to their type's stream; checkpoints, restores and finishes a run."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        run_id: str,
        settings: StreamSettings | None = None,
        *,
        max_uploads_in_flight: int = 1,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.run_id = safe_segment(run_id, "run id")
        self.settings = settings or StreamSettings()
        self.uploader = Uploader(s3, bucket, self.run_id, max_in_flight=max_uploads_in_flight)
        self.router = TypeRouter()
        self.streams: dict[str, TypeStream] = {}
        self.offset = 0  # bytes of the result consumed, always at a line boundary
        self.steps = 0

    @property
    def objects(self) -> int:
        return sum(s.objects for s in self.streams.values())

    @property
    def roots(self) -> int:
        return sum(s.roots for s in self.streams.values())

    def _stream(self, type_name: str) -> TypeStream:
        stream = TypeStream(type_name, self.run_id, self.settings, self.uploader)
        self.streams[type_name] = stream
        return stream

    def feed(self, lines: list[bytes], consumed: int) -> None:
        """Route complete lines (without their newline); ``consumed`` is their byte count with newlines."""
        route = self.router.route
        groups: dict[str, list[bytes]] = {}
        for line in lines:
            if not line:
                continue
            type_name = route(line)
            group = groups.get(type_name)
            if group is None:
                groups[type_name] = group = []
            group.append(line)
        for type_name, group in groups.items():
            group.append(b"")  # so the join ends with a newline
            (self.streams.get(type_name) or self._stream(type_name)).add(b"\n".join(group))
        self.offset += consumed

    # -------------------------------------------------------------------------------- checkpoints

    def checkpoint(self) -> bytes:
        """End a step: upload what S3 accepts, return the rest with the state as one checkpoint blob."""
        for stream in self.streams.values():
            stream.flush_for_checkpoint()
        self.uploader.drain()
        order = sorted(self.streams)
        header = {
            "run_id": self.run_id,
            "offset": self.offset,
            "steps": self.steps + 1,
            "settings": {
                "level": self.settings.level,
                "member_bytes": self.settings.member_bytes,
                "part_bytes": self.settings.part_bytes,
                "file_target_bytes": self.settings.file_target_bytes,
            },
            "router": {"parsed": self.router.parsed, "untyped": self.router.untyped},
            "types": {name: self.streams[name].state() for name in order},
        }
        encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
        chunks = [_CHECKPOINT_MAGIC, struct.pack(">Q", len(encoded)), encoded]
        for name in order:
            chunks.append(bytes(self.streams[name].compressed))
            chunks.append(bytes(self.streams[name].lines))
        return b"".join(chunks)

    @classmethod
    def restore(cls, s3: S3Client, bucket: str, blob: bytes, *, max_uploads_in_flight: int = 1) -> BulkSplitter:
        if not blob.startswith(_CHECKPOINT_MAGIC):
            raise ValueError("not a bulk download checkpoint")
        position = len(_CHECKPOINT_MAGIC)
        (length,) = struct.unpack(">Q", blob[position : position + 8])
        position += 8
        header = json.loads(blob[position : position + length])
        position += length
        settings = StreamSettings(**header["settings"])
        splitter = cls(s3, bucket, header["run_id"], settings, max_uploads_in_flight=max_uploads_in_flight)
        splitter.offset = int(header["offset"])
        splitter.steps = int(header["steps"])
        splitter.router.parsed = int(header["router"]["parsed"])
        splitter.router.untyped = int(header["router"]["untyped"])
        for name in sorted(header["types"]):
            data = header["types"][name]
            compressed = blob[position : position + int(data["compressed_bytes"])]
            position += int(data["compressed_bytes"])
            lines = blob[position : position + int(data["lines_bytes"])]
            position += int(data["lines_bytes"])
            splitter._stream(name).restore(data, compressed, lines)
        if position != len(blob):
            raise ValueError("bulk download checkpoint is truncated or has trailing bytes")
        # A repeat of a step that already completed the run (its answer was lost) finds the objects in
        # place: they hold exactly the bytes this step would write, so it writes no more parts to them.
        for stream in splitter.streams.values():
            for file in stream.files:
                if not file.completed and splitter.uploader.exists(file.key):
                    file.completed = True
        return splitter

    # --------------------------------------------------------------------------------- finishing

    def finish(self) -> dict[str, Any]:
        """Flush every type, complete every upload (so the parts appear), and return the per-type summary."""
        for stream in self.streams.values():
            stream.finish()
        self.uploader.drain()
        for stream in self.streams.values():
            for file in stream.files:
                self.uploader.complete(file)
        self.steps += 1
        return {name: self.streams[name].summary() for name in sorted(self.streams)}

    def close(self) -> None:
        self.uploader.close()


# ----------------------------------------------------------------------------------------- HTTP side


class ResultUrlExpired(Exception):  # noqa: N818 - a condition the caller handles, like StopIteration
    """The result URL is refused (expired signature, gone): refresh it through ``bulkOperation``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the result URL was refused with HTTP {status}")
        self.status = status


_CONTENT_RANGE = re.compile(r"^bytes (?P<start>\d+)-(?P<end>\d+)/(?P<total>\d+|\*)$")


class ResultReader:
    """The result file from a byte offset, as a stream of chunks; reconnects with ``Range`` where it broke."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        *,
        policy: ResultUrlPolicy | None = None,
        chunk_bytes: int = READ_CHUNK_BYTES,
        max_reconnects: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.url = url
        self.policy = policy or ResultUrlPolicy.from_setting()
        self.policy.check(url)
        self.chunk_bytes = chunk_bytes
        self.max_reconnects = max_reconnects
        self.sleep = sleep
        self.total: int | None = None
        self.requests = 0
        self.reconnects = 0

    def chunks(self, offset: int) -> Iterator[bytes]:
        position = offset
        failures = 0
        while True:
            if self.total is not None and position >= self.total:
                return
            try:
                response = self._open(position)
                if response is None:
                    return
                with response:
                    for chunk in response.iter_content(self.chunk_bytes):
                        if chunk:
                            position += len(chunk)
                            failures = 0
                            yield chunk
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.Timeout,
            ) as exc:
                failures += 1
                self.reconnects += 1
                if failures > self.max_reconnects:
                    raise ResultDownloadError(
                        f"reading the result failed {failures} times in a row at byte {position}: {type(exc).__name__}"
                    ) from None
                self.sleep(min(8.0, 0.25 * 2**failures))
                continue
            if self.total is None or position >= self.total:
                return
            # The server closed the body early without an error: carry on from where it stopped.
            failures += 1
            self.reconnects += 1
            if failures > self.max_reconnects:
                raise ResultDownloadError(f"the result keeps ending early at byte {position} of {self.total}")

    def _open(self, position: int) -> requests.Response | None:
        # Offsets count the file's own bytes: ask for them as stored, never content-encoded (a gzip-encoded
        # answer would make Range and Content-Length count compressed bytes).
        headers = {"Accept-Encoding": "identity"}
        if position:
            headers["Range"] = f"bytes={position}-"
        response = self._get(headers)
        status = response.status_code
        if status in _EXPIRED_STATUSES:
            response.close()
            raise ResultUrlExpired(status)
        if status == 416:
            response.close()
            return None  # nothing at or after this offset: the end
        if status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match["start"]) != position:
                response.close()
                raise ResultDownloadError(f"the server answered a Range request for byte {position} with another range")
            if match["total"] != "*":
                self.total = int(match["total"])
            return response
        if status == 200:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit():
                self.total = int(length)
            if position:
                _skip(response, position, self.chunk_bytes)  # a server that ignores Range
            return response
        response.close()
        raise ResultDownloadError(f"the result URL answered HTTP {status}")

    def _get(self, headers: dict[str, str]) -> requests.Response:
        """GET the result, following a redirect only to an allowed origin; no cookies, no credentials."""
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            self.requests += 1
            response = self.session.get(url, headers=headers, stream=True, allow_redirects=False)
            if response.status_code not in _REDIRECT_STATUSES:
                return response
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            self.policy.check(url, "a redirect from the result URL")
        raise ResultDownloadError(f"the result URL redirected more than {MAX_REDIRECTS} times")


def _skip(response: requests.Response, count: int, chunk_bytes: int) -> None:
    remaining = count
    raw = response.raw
    while remaining > 0:
        data = raw.read(min(remaining, chunk_bytes), decode_content=True)
        if not data:
            raise ResultDownloadError("the result ended while skipping to the resume offset")
        remaining -= len(data)


StopCheck = Callable[[int], bool]  # bytes consumed in this step -> stop now?


def run_step(reader: ResultReader, splitter: BulkSplitter, should_stop: StopCheck) -> str:
    """Feed the result from the splitter's offset until the end (``"eof"``), the step's budget is spent
    (``"budget"``) or the URL is refused (``"url_expired"``). The offset only ever stops at a line end."""
    start = splitter.offset
    carry = b""
    try:
        for chunk in reader.chunks(start):
            data = carry + chunk if carry else chunk
            lines = data.split(b"\n")
            carry = lines.pop()
            if lines:
                splitter.feed(lines, len(data) - len(carry))
            if should_stop(splitter.offset - start):
                return "budget"
    except ResultUrlExpired:
        return "url_expired"
    if carry:
        splitter.feed([carry], len(carry))  # a last line without its newline
    return "eof"
