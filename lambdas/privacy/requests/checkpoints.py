"""Shopify bulk-download checkpoints: the one place the person's lines wait outside the lake's objects.

A bulk download (``lambdas/shopify/bulk_download``) ends each step with a checkpoint object under
``metadata/shopify/bulk/run=<id>/checkpoints/``: its state and, per object type, the lines not yet
uploaded (``common.shopify.bulk_stream.BulkSplitter.checkpoint``). Lines already uploaded sit in S3
multipart uploads that nobody can read until the run completes them into lake parts. The run's last step
deletes its checkpoints, which in a versioned bucket leaves their versions behind a delete marker.

The sweep (``sweep``) groups checkpoint versions by run:

- a **live** run (a checkpoint is current and the newest was written less than ``stale_after`` ago) may
  hold the person's lines where they cannot be read or erased yet: in its tails, in the parts of its
  unfinished uploads, in the lines it has not downloaded yet. The sweep records the run as *watched* and
  the step raises ``PrivacyStepBusy``; the retry finds the run finished (its checkpoints deleted) and the
  erase step then erases the run's lake parts like any other object (``run_part_keys``).
- a **dead** run (finished: every checkpoint behind a delete marker; or stale: its newest checkpoint is
  older than ``stale_after``, the download died) is read version by version: each version whose tails
  hold a line that concerns the person is deleted. A stale run's current checkpoint that concerns the
  person, or has parts uploaded into unfinished uploads, is deleted with all its versions and those
  uploads are aborted: the run can never complete them.

Tail lines are checked with ``common.privacy.subjects.line_subjects``, the blob is parsed by the bulk
download's own reader (``BulkSplitter.restore``).
"""

from __future__ import annotations

import contextlib
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.privacy.digest import SubjectDigester
from common.privacy.person import Person
from common.privacy.subjects import line_subjects, parse_line
from common.shopify.bulk_stream import BulkSplitter
from privacy.requests.objects import Version, newest_first, prefix_versions, read_version

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHECKPOINT_ROOT = "metadata/shopify/bulk/"
BULK_PARTS_ROOT = "raw/shopify/bulk/"
_CHECKPOINT_KEY = re.compile(r"^metadata/shopify/bulk/run=(?P<run>[^/]+)/checkpoints/[^/]+$")


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    parts: int


@dataclass(frozen=True)
class Checkpoint:
    run_id: str
    lines: tuple[bytes, ...]  # the tails: lines not uploaded yet, every type
    unfinished: tuple[Upload, ...]  # multipart uploads the run has not completed


def read_checkpoint(s3: S3Client, bucket: str, blob: bytes) -> Checkpoint | None:
    """The tails and unfinished uploads of one checkpoint blob; None if it is not one."""
    try:
        splitter = BulkSplitter.restore(s3, bucket, blob)
    except (ValueError, KeyError, TypeError):
        return None
    try:
        lines: list[bytes] = []
        uploads: list[Upload] = []
        for stream in splitter.streams.values():
            if stream.compressed:
                with contextlib.suppress(OSError, EOFError, zlib.error):  # a damaged tail adds no lines
                    lines += gzip.decompress(bytes(stream.compressed)).splitlines()
            lines += bytes(stream.lines).splitlines()
            uploads += [Upload(f.key, f.upload_id, len(f.parts)) for f in stream.files if not f.completed]
        return Checkpoint(splitter.run_id, tuple(line for line in lines if line.strip()), tuple(uploads))
    finally:
        splitter.close()


def concerns(checkpoint: Checkpoint, person: Person, digester: SubjectDigester) -> bool:
    for line in checkpoint.lines:
        document = parse_line(line)
        if document is not None and person.concerns(line_subjects(document, digester)):
            return True
    return False


@dataclass
class Sweep:
    versions_checked: int = 0
    deleted: list[dict[str, str]] = field(default_factory=list)  # {"key", "version_id"}
    aborted_uploads: int = 0
    live_runs: list[str] = field(default_factory=list)
    runs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "checkpoints",
            "runs": self.runs,
            "versions_checked": self.versions_checked,
            "versions_deleted": self.deleted,
            "aborted_uploads": self.aborted_uploads,
            "live_runs": sorted(self.live_runs),
        }


@dataclass(frozen=True)
class CheckpointSweeper:
    s3: S3Client
    bucket: str
    stale_after: timedelta

    def _by_run(self) -> dict[str, dict[str, list[Version]]]:
        runs: dict[str, dict[str, list[Version]]] = {}
        for version in prefix_versions(self.s3, self.bucket, CHECKPOINT_ROOT):
            match = _CHECKPOINT_KEY.match(version.key)
            if match:
                runs.setdefault(match["run"], {}).setdefault(version.key, []).append(version)
        return {run: {key: newest_first(found) for key, found in keys.items()} for run, keys in runs.items()}

    def sweep(self, person: Person, digester: SubjectDigester, *, now: datetime) -> Sweep:
        """Erase the person from dead runs' checkpoints; report the live runs (the caller waits for them)."""
        sweep = Sweep()
        for run_id, keys in sorted(self._by_run().items()):
            sweep.runs += 1
            current = [v[0] for v in keys.values() if v[0].latest and not v[0].delete_marker]
            newest = max((v.last_modified for v in current), default=None)
            if newest is not None and now - newest < self.stale_after:
                sweep.live_runs.append(run_id)
                continue
            for key, versions in sorted(keys.items()):
                self._dead_key(key, versions, person, digester, sweep, stale=bool(current))
        return sweep

    def _dead_key(
        self, key: str, versions: list[Version], person: Person, digester: SubjectDigester, sweep: Sweep, *, stale: bool
    ) -> None:
        doomed: list[Version] = []
        uploads: list[Upload] = []
        for version in versions:
            if version.delete_marker:
                continue
            stored = read_version(self.s3, self.bucket, key, version.version_id)
            sweep.versions_checked += 1
            if stored is None:
                continue
            checkpoint = read_checkpoint(self.s3, self.bucket, stored.body)
            if checkpoint is None:
                continue
            unreadable = version.latest and stale and any(u.parts for u in checkpoint.unfinished)
            if concerns(checkpoint, person, digester) or unreadable:
                doomed.append(version)
                if version.latest:
                    uploads = list(checkpoint.unfinished)
        if doomed and stale and versions[0].latest and versions[0] in doomed:
            # A stale run's live checkpoint: every version goes, and the run's unfinished uploads.
            doomed = [v for v in versions if not v.delete_marker]
        for version in doomed:
            self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version.version_id)
            sweep.deleted.append({"key": key, "version_id": version.version_id})
        for upload in uploads:
            if self._abort(upload):
                sweep.aborted_uploads += 1

    def _abort(self, upload: Upload) -> bool:
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                return False
            raise
        return True


def run_part_keys(s3: S3Client, bucket: str, run_id: str) -> list[str]:
    """The lake parts of one bulk run, every object type (``raw/shopify/bulk/<type>/run=<id>/``)."""
    keys: list[str] = []
    for folder in _folders(s3, bucket, BULK_PARTS_ROOT):
        prefix = f"{folder}run={run_id}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [str(entry["Key"]) for entry in page.get("Contents", [])]
    return sorted(keys)


def _folders(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for entry in page.get("CommonPrefixes", []):
            yield str(entry["Prefix"])
