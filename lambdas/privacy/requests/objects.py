"""Every version of one lake key: erase the person from it, or collect what concerns them.

The bucket is versioned, so an object's earlier versions hold what it held before; erasure must reach
them all. For one key (``ListObjectVersions`` with the key as prefix, then only entries of exactly that
key, as a prefix also matches longer keys):

1. if the current version is an object (not a delete marker), it is read and redacted
   (``common.privacy.redact.redact_object``: byte-identical unless the person is in it); if that
   changed anything, the redacted bytes are put as the new current version, with the same
   ``Content-Type``, ``Content-Encoding`` and user metadata;
2. every other version (the one that was current, all older ones) is read, and deleted by version id
   when redacting it would change something: it holds the person's data. A version that does not
   (another customer's earlier copy, a copy the workflow already redacted) stays.

The order makes a step that dies half-way safe to repeat: the redacted copy is written before anything
is deleted, and a repeat finds the redacted copy current (nothing to rewrite) and the original among
the older versions (deleted then). A key whose current entry is a delete marker gets no rewrite, but
its older versions are checked all the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.privacy.digest import SubjectDigester
from common.privacy.index import s3_location
from common.privacy.person import Person
from common.privacy.redact import redact_object
from common.privacy.subjects import SHOPIFY, document_subjects, is_jsonl, parse_line, plain_body, source_of_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    latest: bool
    delete_marker: bool
    last_modified: datetime
    size: int


def newest_first(versions: list[Version]) -> list[Version]:
    """The current entry first, then the others newest first (S3's own order; a stable sort keeps it for
    entries written within the same second)."""
    return sorted(versions, key=lambda v: (not v.latest, -v.last_modified.timestamp()))


def key_versions(s3: S3Client, bucket: str, key: str) -> list[Version]:
    """Every version and delete marker of exactly ``key``, newest first."""
    return newest_first([version for version in prefix_versions(s3, bucket, key) if version.key == key])


def prefix_versions(s3: S3Client, bucket: str, prefix: str) -> Iterator[Version]:
    """Every version and delete marker under ``prefix``, page by page (a key's entries may span pages:
    ``newest_first`` orders them once collected)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        entries = [
            Version(
                key=str(entry["Key"]),
                version_id=str(entry.get("VersionId") or "null"),
                latest=bool(entry.get("IsLatest")),
                delete_marker=False,
                last_modified=entry["LastModified"],
                size=int(entry.get("Size", 0)),
            )
            for entry in page.get("Versions", [])
        ]
        entries += [
            Version(
                key=str(entry["Key"]),
                version_id=str(entry.get("VersionId") or "null"),
                latest=bool(entry.get("IsLatest")),
                delete_marker=True,
                last_modified=entry["LastModified"],
                size=0,
            )
            for entry in page.get("DeleteMarkers", [])
        ]
        entries.sort(key=lambda v: (v.key, not v.latest, -v.last_modified.timestamp()))
        yield from entries


@dataclass(frozen=True)
class Stored:
    body: bytes
    content_type: str | None
    content_encoding: str | None
    metadata: dict[str, str]


def read_version(s3: S3Client, bucket: str, key: str, version_id: str) -> Stored | None:
    """One version's bytes and headers; None when it is gone (deleted meanwhile)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchVersion", "404"):
            return None
        raise
    return Stored(
        body=response["Body"].read(),
        content_type=response.get("ContentType"),
        content_encoding=response.get("ContentEncoding"),
        metadata=dict(response.get("Metadata") or {}),
    )


def erase_key(s3: S3Client, bucket: str, key: str, person: Person, digester: SubjectDigester) -> dict[str, Any]:
    """Erase the person from every version of ``key``; returns what was done (no personal values)."""
    versions = key_versions(s3, bucket, key)
    result: dict[str, Any] = {
        "kind": "object",
        "key": key,
        "versions_checked": 0,
        "rewritten": False,
        "fields": [],
        "versions_deleted": [],
    }
    if not versions:
        result["missing"] = True
        return result
    current = versions[0] if versions[0].latest else None
    older = [v for v in versions if v is not current and not v.delete_marker]
    if current is not None and not current.delete_marker:
        stored = read_version(s3, bucket, key, current.version_id)
        result["versions_checked"] += 1
        if stored is not None:
            redacted, redaction = redact_object(key, stored.body, person, digester)
            if redaction.changed:
                extra: dict[str, Any] = {}
                if stored.content_type:
                    extra["ContentType"] = stored.content_type
                if stored.content_encoding:
                    extra["ContentEncoding"] = stored.content_encoding
                written = s3.put_object(Bucket=bucket, Key=key, Body=redacted, Metadata=stored.metadata, **extra)
                result["rewritten"] = True
                result["fields"] = sorted(set(redaction.fields))
                result["replaced_version"] = current.version_id
                result["new_version"] = str(written.get("VersionId") or "null")
                older.insert(0, current)
    for version in older:
        if version is current and result["rewritten"]:
            result["versions_deleted"].append(_delete(s3, bucket, key, version.version_id))
            continue
        stored = read_version(s3, bucket, key, version.version_id)
        result["versions_checked"] += 1
        if stored is None:
            continue
        _, redaction = redact_object(key, stored.body, person, digester)
        if redaction.changed:
            result["versions_deleted"].append(_delete(s3, bucket, key, version.version_id))
            result["fields"] = sorted(set(result["fields"]) | set(redaction.fields))
    return result


def _delete(s3: S3Client, bucket: str, key: str, version_id: str) -> str:
    s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    return version_id


def concerning_documents(
    key: str, body: bytes, person: Person, digester: SubjectDigester
) -> Iterator[tuple[int | None, Any]]:
    """The documents of one object version that concern the person (for an access request):
    (line number, line) of a JSONL(.gz) object, (None, document) of any other; unreadable ones none."""
    plain = plain_body(key, body)
    if plain is None:
        return
    source = source_of_key(key)
    if is_jsonl(key):
        for number, line in enumerate(plain.splitlines(), start=1):
            document = parse_line(line)
            if document is not None and person.concerns(
                document_subjects(document, digester, source=source or SHOPIFY)
            ):
                yield number, document
        return
    try:
        document = json.loads(plain)
    except (ValueError, RecursionError):
        return
    if person.concerns(document_subjects(document, digester, source=source)):
        yield None, document


def collect_key(s3: S3Client, bucket: str, key: str, person: Person, digester: SubjectDigester) -> list[dict[str, Any]]:
    """Every document of every version of ``key`` that concerns the person, newest version first."""
    found: list[dict[str, Any]] = []
    for version in key_versions(s3, bucket, key):
        if version.delete_marker:
            continue
        stored = read_version(s3, bucket, key, version.version_id)
        if stored is None:
            continue
        for line, document in concerning_documents(key, stored.body, person, digester):
            entry: dict[str, Any] = {
                "location": s3_location(key),
                "version_id": version.version_id,
                "current": version.latest,
                "document": document,
            }
            if line is not None:
                entry["line"] = line
            found.append(entry)
    return found
