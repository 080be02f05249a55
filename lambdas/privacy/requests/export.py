"""The ``export`` step (access requests): one JSON document of everything the platform holds about a person.

The document (``exports/privacy/<request id>/export.json``)::

    {"request_id": ..., "generated_at": ..., "subjects": [ids only: Shopify customer and order ids,
     Recharge customer ids, checkout tokens],
     "documents": [{"location": "s3:<key>", "version_id": ..., "current": bool, "document": {...},
                    "line": n (JSONL objects: the line of a bulk part)}, ...],
     "hot_store_items": [{"table": ..., "store": ..., "item": {...}}, ...],
     "queue_messages": [{"queue": ..., "document": {...}}, ...]}

Every version of every planned location is read and the documents (or bulk lines) that concern the
person are kept; every planned hot-store item; every dead-letter message that concerns them (the
queues are swept without changing anything). The object is written with SSE-KMS under the lake's key
(``DATA_LAKE_KMS_KEY_ARN``: the bucket policy refuses any other key, and the lifecycle expires it after
``PRIVACY_EXPORT_RETENTION_DAYS``), then the alerts topic is told where it is and how to fetch it. The
notification carries the bucket, key, expiry and commands — never the personal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from common.privacy.digest import SubjectDigester
from common.privacy.index import location_key
from common.privacy.requests import export_key
from common.privacy.subjects import document_subjects
from common.timeutil import iso_utc
from privacy.requests.objects import collect_key
from privacy.requests.queues import DeadLetterQueues
from privacy.requests.stores import HotStores
from privacy.requests.work import Plan

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

ID_KINDS = ("shopify-customer", "shopify-order", "recharge-customer", "checkout")
SUBJECT_PREFIX = "Privacy export ready: "


def id_subjects(subjects: set[str] | frozenset[str]) -> list[str]:
    """The person's ids (no e-mail or phone digests: they mean nothing to the reader)."""
    return sorted(s for s in subjects if s.split(":", 1)[0] in ID_KINDS)


@dataclass(frozen=True)
class Exporter:
    s3: S3Client
    bucket: str
    kms_key_arn: str
    stores: HotStores
    queues: DeadLetterQueues
    sns: SNSClient | None
    topic_arn: str
    retention_days: int

    def document(self, plan: Plan, digester: SubjectDigester, *, now: datetime) -> dict[str, Any]:
        person = plan.person
        documents: list[dict[str, Any]] = []
        for location in plan.locations:
            documents += collect_key(self.s3, self.bucket, location_key(location), person, digester)
        items = []
        for ref in plan.items:
            item = self.stores.read(ref)
            if item is not None:
                items.append({"table": self.stores.table(ref.store), "store": ref.store, "item": item})
        messages: list[dict[str, Any]] = []
        for queue in plan.queues:

            def keep(document: Any, queue: str = queue) -> None:
                if person.concerns(document_subjects(document, digester)):
                    messages.append({"queue": queue, "document": document})

            self.queues.sweep(queue, keep)
        return {
            "request_id": plan.request_id,
            "generated_at": iso_utc(now),
            "subjects": id_subjects(frozenset(person.subjects)),
            "documents": documents,
            "hot_store_items": items,
            "queue_messages": messages,
        }

    def write(self, request_id: str, document: dict[str, Any]) -> str:
        key = export_key(request_id)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.kms_key_arn,
        )
        return key

    def expires(self, written_at: datetime) -> datetime:
        return written_at + timedelta(days=self.retention_days)

    def notify(self, request_id: str, key: str, *, expires: datetime, counts: dict[str, int]) -> bool:
        """Tell the alerts topic where the export is; False when no topic is configured."""
        if self.sns is None or not self.topic_arn:
            return False
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"{SUBJECT_PREFIX}{request_id}"[:100],
            Message=notification(self.bucket, key, request_id, expires=expires, counts=counts),
        )
        return True


def notification(bucket: str, key: str, request_id: str, *, expires: datetime, counts: dict[str, int]) -> str:
    """The alert's text: where the export is, until when, and how to fetch it. Ids and counts only."""
    summary = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items())
    return "\n".join(
        [
            f"The access-request export of privacy request {request_id} is ready.",
            "",
            f"Bucket:  {bucket}",
            f"Key:     {key}",
            f"Expires: {iso_utc(expires)} (the lake's lifecycle deletes it then; hand it over before)",
            f"Holds:   {summary}",
            "",
            "Fetch it (the object is encrypted with the lake's KMS key; your role needs kms:Decrypt on it):",
            f"  aws s3 cp s3://{bucket}/{key} ./privacy-export-{request_id}.json",
            f"  platformctl privacy fetch --env <env> --request-id {request_id}",
            "",
            "The export holds personal data: keep it out of tickets, chats and e-mail bodies.",
        ]
    )
