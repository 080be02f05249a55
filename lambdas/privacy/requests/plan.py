"""The ``plan`` step: everything the platform holds about one person, found without scanning the lake.

The person starts as the request's subjects (Shopify customer and order ids, keyed e-mail and phone
digests, Recharge customer ids). Their data is found in rounds, until a round learns nothing new or
``max_rounds`` have run (the plan then says ``"converged": false``):

1. the privacy index (``common.privacy.index``) gives the lake locations of the subjects not looked up
   yet; the hot stores give the ids they link (a customer's orders and the tokens those came from, the
   Recharge record of a Shopify customer and back);
2. every new *small* location (``raw/shopify/webhooks/``, ``raw/recharge/``, ``quarantine/``; at most
   ``small_bytes``) is read, and a document that concerns the person teaches the ids in it
   (``Person.learn``): a guest order found by e-mail gives its order id, which finds its fulfillments.
   Bulk parts are never read here: each holds many customers, and learning from one would learn them
   all; the erase step reads them and rewrites only the person's lines.

``full_scan`` (for data written before the index existed) lists every key under ``raw/`` and
``quarantine/`` instead (ListObjectVersions: a key whose current version was deleted still has older
ones), reads the small objects once and runs the same rounds over what they are about; its locations
are the small objects that concern the person and every other object (the erase step reads those).

Then the hot-store items of the final subjects, and the dead-letter queues. Nothing personal is logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from common.observability import logger
from common.privacy.digest import SubjectDigester
from common.privacy.index import PrivacyIndex, location_key, s3_location
from common.privacy.person import Person
from common.privacy.requests import PrivacyRequest
from common.privacy.subjects import object_subjects
from common.timeutil import iso_utc
from privacy.requests.objects import Version, prefix_versions
from privacy.requests.stores import HotStores
from privacy.requests.work import Plan, is_missing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SMALL_PREFIXES = ("raw/shopify/webhooks/", "raw/recharge/", "quarantine/")
SCAN_PREFIXES = ("raw/", "quarantine/")


def is_small_location(key: str) -> bool:
    """A zone whose objects are one document each (a webhook, a Recharge body, a quarantined input)."""
    return key.startswith(SMALL_PREFIXES) and not key.endswith((".jsonl", ".jsonl.gz"))


@dataclass(frozen=True)
class Planner:
    s3: S3Client
    bucket: str
    index: PrivacyIndex
    stores: HotStores
    queues: tuple[str, ...]
    max_rounds: int = 6
    small_bytes: int = 1024 * 1024
    workers: int = 8

    def plan(
        self,
        request: PrivacyRequest,
        *,
        request_key: str,
        full_scan: bool,
        digester: SubjectDigester,
        now: datetime,
    ) -> Plan:
        person = Person(subjects=set(request.subjects))
        if full_scan:
            locations, rounds, converged = self._scan(person, digester)
        else:
            locations, rounds, converged = self._follow_index(person, digester)
        items = self.stores.item_refs(person.subjects)
        if not converged:
            logger.warning("plan stopped before it converged", extra={"rounds": rounds})
        return Plan(
            request_id=request.request_id,
            kind=request.kind,
            request_key=request_key,
            planned_at=iso_utc(now),
            full_scan=full_scan,
            person=person,
            locations=sorted(locations),
            items=sorted(items),
            queues=list(self.queues),
            rounds=rounds,
            converged=converged,
        )

    # ------------------------------------------------------------------------------- the index

    def _follow_index(self, person: Person, digester: SubjectDigester) -> tuple[set[str], int, bool]:
        queried: set[str] = set()
        locations: set[str] = set()
        rounds = 0
        while True:
            new = set(person.subjects) - queried
            if not new:
                return locations, rounds, True
            if rounds >= self.max_rounds:
                return locations, rounds, False
            rounds += 1
            queried |= new
            person.subjects.update(self.stores.linked_subjects(new))
            found = set(self.index.locations(new)) - locations
            locations |= found
            small = sorted(key for key in map(location_key, found) if is_small_location(key))
            for subjects in self._subjects(small, digester).values():
                if person.concerns(subjects):
                    person.learn(subjects)

    # ------------------------------------------------------------------------------- full scan

    def _scan(self, person: Person, digester: SubjectDigester) -> tuple[set[str], int, bool]:
        latest: dict[str, Version] = {}
        for prefix in SCAN_PREFIXES:
            for version in prefix_versions(self.s3, self.bucket, prefix):
                if version.latest or version.key not in latest:
                    latest[version.key] = version
        small = {
            key: version
            for key, version in latest.items()
            if is_small_location(key) and not version.delete_marker and version.size <= self.small_bytes
        }
        about = self._subjects(sorted(small), digester, listed=True)
        concerned: set[str] = set()
        linked: set[str] = set()
        rounds = 0
        converged = False
        while rounds < self.max_rounds:
            rounds += 1
            new = set(person.subjects) - linked
            linked |= new
            person.subjects.update(self.stores.linked_subjects(new))
            for key, subjects in about.items():
                if key not in concerned and person.concerns(subjects):
                    concerned.add(key)
                    person.learn(subjects)
            if not set(person.subjects) - linked:
                converged = True
                break
        others = {key for key in latest if key not in small}
        return {s3_location(key) for key in concerned | others}, rounds, converged

    # ------------------------------------------------------------------------------- reading

    def _subjects(
        self, keys: Iterable[str], digester: SubjectDigester, *, listed: bool = False
    ) -> dict[str, frozenset[str]]:
        """What each object's current version is about, read in parallel (``listed``: the keys come from
        a listing that showed them small, so they are read whole; else only the first ``small_bytes``)."""
        keys = list(keys)
        if not keys:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(keys)))) as pool:
            found = pool.map(lambda key: (key, self._read_small(key, digester, listed=listed)), keys)
            return dict(found)

    def _read_small(self, key: str, digester: SubjectDigester, *, listed: bool) -> frozenset[str]:
        """What one small object's current version is about; empty when it is gone or too large."""
        try:
            if listed:
                response = self.s3.get_object(Bucket=self.bucket, Key=key)
            else:
                response = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{self.small_bytes}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "InvalidRange" or is_missing(self.s3, self.bucket, key, exc):
                return frozenset()  # deleted since it was indexed (expired, purged), or empty
            raise
        total = _total_size(response.get("ContentRange"), int(response.get("ContentLength", 0)))
        body = response["Body"].read()
        if total > self.small_bytes:
            return frozenset()  # not small after all: the erase step reads it whole
        return object_subjects(key, body, digester)


def _total_size(content_range: str | None, length: int) -> int:
    """The object's size from ``Content-Range: bytes 0-99/1234`` (the length when not ranged)."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return length
