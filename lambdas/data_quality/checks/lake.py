"""Bounded reads of the lake for the checks: never a listing of the whole lake.

Every listing names a narrow prefix (a source's landing folder or one bulk run manifest with
``MaxKeys=1``, the folders of one level with a delimiter, one ``dt=`` partition) and stops after
``max_pages`` pages. Listings and reads are memoised for the run, so two checks reading the same prefix
or manifest ask once. ``requests`` counts what the run asked S3 (the cost figures in docs/data-quality.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PAGE_SIZE = 1000


@dataclass(frozen=True)
class LakeObject:
    key: str
    modified: datetime
    size: int


@dataclass
class LakeReader:
    s3: S3Client
    bucket: str
    max_pages: int = 50
    _folders: dict[str, list[str]] = field(default_factory=dict)
    _objects: dict[str, tuple[list[LakeObject], bool]] = field(default_factory=dict)
    _first: dict[str, LakeObject | None] = field(default_factory=dict)
    _read: dict[str, bytes] = field(default_factory=dict)
    requests: int = 0

    def has_any(self, prefix: str) -> bool:
        """Whether anything was ever written under ``prefix`` (one request, one key)."""
        return self.first(prefix) is not None

    def first(self, prefix: str) -> LakeObject | None:
        """The first object under ``prefix`` in key order, if any (one request, one key)."""
        if prefix not in self._first:
            self.requests += 1
            found = _objects_of(dict(self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)))
            self._first[prefix] = found[0] if found else None
        return self._first[prefix]

    def folders(self, prefix: str) -> list[str]:
        """The folder prefixes directly under ``prefix`` (``topic=orders_create/`` ...), sorted."""
        if prefix not in self._folders:
            found: list[str] = []
            for page in self._pages(prefix, delimiter="/"):
                found += [entry["Prefix"] for entry in page.get("CommonPrefixes", []) if "Prefix" in entry]
            self._folders[prefix] = sorted(found)
        return self._folders[prefix]

    def folders_below(self, prefix: str, depth: int) -> list[str]:
        """The folders ``depth`` levels below ``prefix`` (``depth`` 0: the prefix itself)."""
        folders = [prefix]
        for _ in range(depth):
            folders = [child for folder in folders for child in self.folders(folder)]
        return folders

    def objects(self, prefix: str, max_pages: int | None = None) -> tuple[list[LakeObject], bool]:
        """Every object under ``prefix`` up to ``max_pages`` pages (default: the reader's); the flag says
        the listing was cut short."""
        if prefix not in self._objects:
            found: list[LakeObject] = []
            truncated = False
            for page in self._pages(prefix, max_pages=max_pages):
                found += _objects_of(page)
                truncated = bool(page.get("IsTruncated"))
            self._objects[prefix] = (found, truncated)
        return self._objects[prefix]

    def object_pages(self, prefix: str) -> Iterator[list[LakeObject]]:
        """Objects under ``prefix`` page by page, for a caller that may stop early (not memoised)."""
        for page in self._pages(prefix):
            yield _objects_of(page)

    def read(self, key: str) -> bytes:
        if key not in self._read:
            self.requests += 1
            self._read[key] = bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return self._read[key]

    def write(self, key: str, body: bytes) -> None:
        self.requests += 1
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        self._read[key] = body

    def _pages(
        self, prefix: str, delimiter: str | None = None, max_pages: int | None = None
    ) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if delimiter:
            arguments["Delimiter"] = delimiter
        for _ in range(max_pages or self.max_pages):
            self.requests += 1
            page: dict[str, Any] = dict(self.s3.list_objects_v2(**arguments))
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            arguments["ContinuationToken"] = token


def _objects_of(page: dict[str, Any]) -> list[LakeObject]:
    return [
        LakeObject(str(entry["Key"]), entry["LastModified"], int(entry.get("Size", 0)))
        for entry in page.get("Contents", [])
    ]
