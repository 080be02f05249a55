"""The privacy request record, ``metadata/privacy/requests/<topic dir>/<request id>.json``, and the keys
the workflow derives from a request id.

Written by the compliance webhook (Shopify's ``customers/*`` and ``shop/redact``) or by ``platformctl
privacy`` (``operator/*``), read by the workflow. It names the person only by subjects (ids and keyed
digests), never by an e-mail or a phone. Every record is validated on load; the ``ValueError`` says
which field is wrong and why, never a value.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.privacy.digest import EMAIL, PHONE
from common.privacy.subjects import RECHARGE_CUSTOMER, SHOPIFY_CUSTOMER, SHOPIFY_ORDER, is_subject, subject_kind
from common.timeutil import TimestampError, parse_timestamp

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCHEMA = 2
ERASE = "erase"
EXPORT = "export"
SHOP_PURGE = "shop_purge"
KINDS = frozenset({ERASE, EXPORT, SHOP_PURGE})
SHOPIFY_ORIGIN = "shopify"
OPERATOR_ORIGIN = "operator"
ORIGINS = frozenset({SHOPIFY_ORIGIN, OPERATOR_ORIGIN})
# topic -> (kind, origin)
TOPICS: dict[str, tuple[str, str]] = {
    "customers/redact": (ERASE, SHOPIFY_ORIGIN),
    "customers/data_request": (EXPORT, SHOPIFY_ORIGIN),
    "shop/redact": (SHOP_PURGE, SHOPIFY_ORIGIN),
    "operator/erase": (ERASE, OPERATOR_ORIGIN),
    "operator/export": (EXPORT, OPERATOR_ORIGIN),
}
SUBJECT_KINDS = frozenset({SHOPIFY_CUSTOMER, SHOPIFY_ORDER, EMAIL, PHONE, RECHARGE_CUSTOMER})
REQUESTS_PREFIX = "metadata/privacy/requests/"
AUDIT_PREFIX = "metadata/privacy/audit/"
WORK_PREFIX = "metadata/privacy/work/"
EXPORTS_PREFIX = "exports/privacy/"
MAX_RECORD_BYTES = 1024 * 1024
MAX_SUBJECTS = 10_000

_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
_WORK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SHOP_DOMAIN = re.compile(r"^(?=.{1,255}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_DELIVERY_NAME = re.compile(r"^[a-z][a-z_]{0,31}$")
_DELIVERY_VALUE = re.compile(r"^[A-Za-z0-9._:+ -]{1,128}$")
_REQUEST_KEY = re.compile(r"^metadata/privacy/requests/(?P<dir>[a-z_]+)/(?P<id>[0-9a-f]{32})\.json$")
_FIELDS = (
    "schema", "request_id", "kind", "origin", "topic", "shop_domain", "subjects", "received_at", "delivery",
    "data_request_id",
)  # fmt: skip


def _bad(reason: str) -> ValueError:
    return ValueError(f"privacy request record: {reason}")


def _check_request_id(request_id: object) -> str:
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise _bad("request_id is not 32 lower-case hex digits")
    return request_id


def new_request_id() -> str:
    """A fresh request id (an operator request; Shopify's derive theirs from the signed body)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class PrivacyRequest:
    schema: int
    request_id: str
    kind: str
    origin: str
    topic: str
    shop_domain: str
    subjects: tuple[str, ...]  # shopify-customer:, shopify-order:, email:, phone:, recharge-customer:
    received_at: str  # ISO-8601 with an offset
    delivery: dict[str, str | None] | None = field(hash=False)  # Shopify's delivery ids (webhook only)
    data_request_id: int | None  # Shopify's data_request.id (customers/data_request only)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def key(self) -> str:
        return request_key(self.topic, self.request_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "request_id": self.request_id,
            "kind": self.kind,
            "origin": self.origin,
            "topic": self.topic,
            "shop_domain": self.shop_domain,
            "subjects": list(self.subjects),
            "received_at": self.received_at,
            "delivery": dict(self.delivery) if self.delivery is not None else None,
            "data_request_id": self.data_request_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> PrivacyRequest:
        """The record as stored; ValueError (with the reason, never a value) when it is not valid."""
        if not isinstance(data, Mapping):
            raise _bad("not a JSON object")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise _bad(f"missing {', '.join(missing)}")
        subjects = data["subjects"]
        if not isinstance(subjects, list):
            raise _bad("subjects is not a list")
        delivery = data["delivery"]
        if delivery is not None and not isinstance(delivery, Mapping):
            raise _bad("delivery is not an object or null")
        return cls(
            schema=data["schema"],
            request_id=data["request_id"],
            kind=data["kind"],
            origin=data["origin"],
            topic=data["topic"],
            shop_domain=data["shop_domain"],
            subjects=tuple(subjects),
            received_at=data["received_at"],
            delivery=dict(delivery) if delivery is not None else None,
            data_request_id=data["data_request_id"],
        )


def _validate(request: PrivacyRequest) -> None:
    if type(request.schema) is not int or request.schema != SCHEMA:
        raise _bad(f"schema is not {SCHEMA}")
    _check_request_id(request.request_id)
    if request.topic not in TOPICS:
        raise _bad("topic is not a privacy request topic")
    kind, origin = TOPICS[request.topic]
    if request.kind != kind:
        raise _bad(f"kind does not match topic {request.topic} (expected {kind})")
    if request.origin != origin:
        raise _bad(f"origin does not match topic {request.topic} (expected {origin})")
    if not isinstance(request.shop_domain, str) or not _SHOP_DOMAIN.match(request.shop_domain):
        raise _bad("shop_domain is not a lower-case domain name")
    _validate_subjects(request.subjects, kind)
    try:
        parse_timestamp(request.received_at)
    except TimestampError:
        raise _bad("received_at is not an ISO-8601 timestamp with an offset") from None
    _validate_delivery(request.delivery)
    if request.data_request_id is not None:
        if type(request.data_request_id) is not int or request.data_request_id <= 0:
            raise _bad("data_request_id is not a positive integer or null")
        if request.topic != "customers/data_request":
            raise _bad("data_request_id is set on a request that is not customers/data_request")


def _validate_subjects(subjects: tuple[str, ...], kind: str) -> None:
    if len(subjects) > MAX_SUBJECTS:
        raise _bad(f"more than {MAX_SUBJECTS} subjects")
    for index, subject in enumerate(subjects):
        if not is_subject(subject) or subject_kind(subject) not in SUBJECT_KINDS:
            raise _bad(f"subjects[{index}] is not a customer, order, Recharge customer, e-mail or phone subject")
    if kind != SHOP_PURGE and not subjects:
        raise _bad(f"a {kind} request names no subject")


def _validate_delivery(delivery: Mapping[str, str | None] | None) -> None:
    for name, value in (delivery or {}).items():
        if not isinstance(name, str) or not _DELIVERY_NAME.match(name):
            raise _bad("delivery has a field that is not a lower-case name")
        if value is not None and (not isinstance(value, str) or not _DELIVERY_VALUE.match(value)):
            raise _bad(f"delivery.{name} is not a delivery id")


def request_key(topic: str, request_id: str) -> str:
    """``metadata/privacy/requests/<topic with / as _>/<request id>.json``."""
    if topic not in TOPICS:
        raise _bad("topic is not a privacy request topic")
    return f"{REQUESTS_PREFIX}{topic.replace('/', '_')}/{_check_request_id(request_id)}.json"


def parse_request_key(key: str) -> tuple[str, str]:
    """(topic, request id) of a request record's key; ValueError for any other key."""
    match = _REQUEST_KEY.match(key)
    topics = {topic.replace("/", "_"): topic for topic in TOPICS}
    if match is None or match["dir"] not in topics:
        raise _bad("the key is not a privacy request record's key")
    return topics[match["dir"]], match["id"]


def load_request(s3: S3Client, bucket: str, key: str) -> PrivacyRequest:
    """The validated request at ``key``; ValueError when it is not a valid record stored at its own key."""
    parse_request_key(key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_RECORD_BYTES + 1)
    if len(body) > MAX_RECORD_BYTES:
        raise _bad(f"larger than {MAX_RECORD_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _bad("not JSON") from None
    request = PrivacyRequest.from_json(data)
    if request.key != key:
        raise _bad("stored at a key other than its topic's and request id's")
    return request


def audit_key(request_id: str) -> str:
    return f"{AUDIT_PREFIX}{_check_request_id(request_id)}.json"


def work_key(request_id: str, name: str) -> str:
    """``metadata/privacy/work/<request id>/<name>.json`` (``plan``, ``progress``)."""
    if not _WORK_NAME.match(name):
        raise ValueError("a work object's name is a lower-case slug")
    return f"{WORK_PREFIX}{_check_request_id(request_id)}/{name}.json"


def export_key(request_id: str) -> str:
    return f"{EXPORTS_PREFIX}{_check_request_id(request_id)}/export.json"
