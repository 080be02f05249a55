"""Reconcile the hot stores with a complete bulk run: what webhooks missed or left stale is healed.

A complete run's parts (``raw/shopify/bulk/<type>/run=<id>/``) hold the newest version Shopify had of
every order (or customer) updated in the run's window. For each exported root object the hot store's
version is read (BatchGetItem, 100 keys, projecting only the version attributes) and the object is
classified against it:

- ``missing``: no item (the webhooks never arrived);
- ``stale``: the item's ``source_updated_at`` is older than the line's ``updatedAt``;
- ``current``: the same ``updatedAt``;
- ``newer_in_store``: a webhook brought a newer version since the export ran.

Missing and stale objects (and, for customers, a consent older than the line's) are written through the
very writes the processors use (``common.shopify.order_item.write_order``,
``common.shopify.customer_item.write_customer``), from the same REST shape (``common.shopify.resources``
normalises a bulk line as it normalises a reduced payload's lookup), so the item is the processor's and
the conditional write keeps the newest whatever arrives when. A bulk write's event id is
``#bulk-<run id>``: ``#`` sorts before every webhook event id (those are ``[A-Za-z0-9][A-Za-z0-9._-]*``),
so on an equal ``updatedAt`` the webhook's version wins, as in the Glue job ``orders_enriched``.

**Converted carts.** An order written here (a missing or stale one; a repeat of this run's write too)
then marks its cart and checkout converted in the abandoned-carts hot store, through the order
processor's own ``common.shopify.order_item.mark_carts_converted`` (one-way ``set_if_absent``, so a
repeat or resume marks again harmlessly and a cart another order converted first keeps that order): a
cart whose order's webhooks were lost no longer looks abandoned. These are the only extra writes: one
conditional UpdateItem per token of a written order (``requests["cart_mark"]``); an order classified
current or newer writes nothing. ``carts_marked`` counts the carts that name the written order as
theirs afterwards (newly marked, or by an earlier attempt of the same order), so an interrupted
reconciliation counts what an uninterrupted one does.

**Bounded memory.** Children (an order's ``LineItem`` lines, ``__parentId``) may come before or after
their parent. Roots are partitioned by ``id mod P`` (``P = ceil(roots / roots_per_partition)``, fixed
for the run by its plan); one partition at a time is classified from the root parts, then its children
are taken from the child parts, so at most one partition's objects to write, and their children, are
held. A partition is the unit of progress: its classification (counts and the ids to write) is saved
before any write, its result after the last; a step that stops or dies resumes at the first unfinished
partition, reusing a saved classification, so an interrupted reconciliation ends with the same counts
and the same hot store as an uninterrupted one (the writes themselves are idempotent). Cost: P passes
over the parts (one at the default size for runs up to ``ROOTS_PER_PARTITION`` roots).

Working objects live under ``metadata/shopify/bulk/run=<id>/reconcile/`` and are deleted once
``metadata/shopify/bulk/run=<id>/reconciliation.json`` (the result) is written.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.errors import BadInput
from common.hotstore import (
    EVENT_ID,
    VERSION,
    Outcome,
    SourceVersion,
    deserialize,
    group_version_attributes,
    serialize,
)
from common.shopify.bulk import DEFAULT_RESOURCE, manifest_key, object_exists, run_prefix
from common.shopify.customer_item import (
    CONSENT_GROUPS,
    customer_key,
    profile_attributes,
    state_consents,
    write_customer,
)
from common.shopify.order_attributes import order_attributes
from common.shopify.order_item import (
    NO_MARKS,
    CartMarks,
    mark_carts_converted,
    order_key,
    write_order,
)
from common.shopify.resources import customer_from_graphql, order_from_graphql
from common.shopify.values import shopify_id, timestamp
from common.timeutil import iso_utc, parse_timestamp, to_epoch_micros

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

SCHEMA = 1
BULK_EVENT_PREFIX = "#bulk-"
BATCH_GET_KEYS = 100  # BatchGetItem's limit
ROOTS_PER_PARTITION = 100_000
WRITE_WORKERS = 16
COUNT_KEYS = ("exported", "in_window", "missing", "stale", "current", "newer_in_store", "written", "skipped_invalid")
CARTS_MARKED = "carts_marked"  # orders only: carts converted by a written order
# Of ``current``: versions an earlier reconciliation wrote (a window overlapping a healed one), not a webhook.
CURRENT_BY_BULK = "current_by_bulk"
_GID_ID = re.compile(rb'"id":"gid:(?:\\?/){2}shopify(?:\\?/)(?P<type>[A-Za-z]+)(?:\\?/)(?P<id>[0-9]{1,20})"')
_PARENT_ID = re.compile(rb'"__parentId":"gid:(?:\\?/){2}shopify(?:\\?/)(?P<type>[A-Za-z]+)(?:\\?/)(?P<id>[0-9]{1,20})"')


class RunNotReconcilableError(Exception):
    """The run's manifest is missing or does not say the run is complete: nothing is trusted from it."""


def bulk_event_id(run_id: str) -> str:
    return f"{BULK_EVENT_PREFIX}{run_id}"


def result_key(run_id: str) -> str:
    return run_prefix(run_id) + "reconciliation.json"


def work_prefix(run_id: str) -> str:
    return run_prefix(run_id) + "reconcile/"


# --------------------------------------------------------------------------------------- entities


def _with_legacy_ids(node: Any) -> Any:
    """Bulk lines carry gids only; the GraphQL normalisers read ``legacyResourceId`` beside them."""
    if isinstance(node, list):
        return [_with_legacy_ids(n) for n in node]
    if not isinstance(node, Mapping):
        return node
    copy = {k: _with_legacy_ids(v) for k, v in node.items()}
    gid = copy.get("id")
    if isinstance(gid, str) and gid.startswith("gid://") and "legacyResourceId" not in copy:
        copy["legacyResourceId"] = shopify_id(gid, "id")
    return copy


@dataclass(frozen=True)
class Root:
    """One exported root object, read enough to classify it. Held as its line: a parsed order takes ten
    times the memory of its JSON text."""

    object_id: str
    updated_at: datetime
    line: bytes

    @property
    def node(self) -> dict[str, Any]:
        node = json.loads(self.line)
        return node if isinstance(node, dict) else {}


@dataclass(frozen=True)
class Target:
    """Where one entity's writes go: its table, and for orders the abandoned carts they convert."""

    dynamodb: DynamoDBClient
    table: str
    carts_table: str
    cart_ttl_days: int
    now: datetime  # when the run started: orders older than the carts' TTL mark no cart


@dataclass(frozen=True)
class Written:
    """One object's writes: their outcomes, and the conversion marks an order's write was followed by."""

    outcomes: list[Outcome]
    marks: CartMarks = NO_MARKS

    @property
    def stored(self) -> bool:
        # DUPLICATE: this run's own version, written by an earlier attempt of this partition.
        return any(o in (Outcome.WRITTEN, Outcome.DUPLICATE) for o in self.outcomes)


@dataclass(frozen=True)
class EntitySpec:
    """How one hot-store entity is reconciled from a run's parts."""

    name: str  # orders | customers
    root_type: str  # the root's __typename
    root_folder: str
    child_folders: tuple[str, ...]
    key: Callable[[str], dict[str, str]]
    projection: tuple[str, ...]  # version attributes read per item
    write: Callable[[Target, Root, list[bytes], str], Written]
    needs_write: Callable[[Root, Mapping[str, Any] | None, str], bool]
    extra_counts: tuple[str, ...] = ()

    @property
    def count_keys(self) -> tuple[str, ...]:
        return (*COUNT_KEYS, CURRENT_BY_BULK, *self.extra_counts)


def _profile_stale(root: Root, stored: Mapping[str, Any] | None, event_id: str) -> bool:
    """Whether the stored version is older than the line's. An equal ``updated_at`` is never written: a
    webhook of that version wins the tie, and one a reconciliation wrote is the same state."""
    if stored is None or VERSION not in stored:
        return True
    return to_epoch_micros(root.updated_at) > int(stored[VERSION])


def _numeric_id(node: Mapping[str, Any]) -> int:
    try:
        return int(shopify_id(node.get("id"), "id"))
    except BadInput:
        return 0


def _write_order(target: Target, root: Root, children: list[bytes], event: str) -> Written:
    node = root.node
    # A parent's children need not come in order (groupObjects: false); Shopify lists an order's line
    # items by creation, which their ids follow.
    node["lineItems"] = sorted((json.loads(line) for line in children), key=_numeric_id)
    attributes = order_attributes(order_from_graphql(_with_legacy_ids(node)))
    version = SourceVersion.of(root.updated_at, event)
    result = write_order(target.dynamodb, target.table, root.object_id, attributes, version, updated_at=root.updated_at)
    written = Written([result.outcome])
    if not written.stored:  # a webhook brought a newer version since the classification: it marked
        return written
    marks = mark_carts_converted(
        target.dynamodb,
        target.carts_table,
        root.object_id,
        attributes,
        result,
        updated_at=root.updated_at,
        ttl_days=target.cart_ttl_days,
        now=target.now,
    )
    return Written(written.outcomes, marks)


def _customer_payload(root: Root) -> dict[str, Any]:
    return customer_from_graphql(_with_legacy_ids(root.node))


def _write_customer(target: Target, root: Root, children: list[bytes], event: str) -> Written:
    payload = _customer_payload(root)
    outcomes = write_customer(
        target.dynamodb,
        target.table,
        root.object_id,
        event,
        updated_at=root.updated_at,
        profile=profile_attributes(root.object_id, payload),
        consents=state_consents(payload, root.updated_at),
    )
    return Written(outcomes)


def _customer_needs_write(root: Root, stored: Mapping[str, Any] | None, event_id: str) -> bool:
    if stored is None or _profile_stale(root, stored, event_id):
        return True
    for consent in state_consents(_customer_payload(root), root.updated_at):
        version_name, _ = group_version_attributes(consent.group)
        if to_epoch_micros(consent.version) > int(stored.get(version_name, 0)):
            return True
    return False


ENTITIES: dict[str, EntitySpec] = {
    "orders": EntitySpec(
        name="orders",
        root_type="Order",
        root_folder="order",
        child_folders=("line_item",),
        key=order_key,
        projection=(VERSION, EVENT_ID),
        write=_write_order,
        needs_write=_profile_stale,
        extra_counts=(CARTS_MARKED,),
    ),
    "customers": EntitySpec(
        name="customers",
        root_type="Customer",
        root_folder="customer",
        child_folders=(),
        key=customer_key,
        projection=(VERSION, EVENT_ID, *(group_version_attributes(g)[0] for g in CONSENT_GROUPS)),
        write=_write_customer,
        needs_write=_customer_needs_write,
    ),
}
# The hot-store entities a run of each resource reconciles (products have no hot store).
RESOURCE_ENTITIES: dict[str, tuple[str, ...]] = {"orders": ("orders",), "customers": ("customers",), "products": ()}


# ------------------------------------------------------------------------------------------ the lake


def _lines(s3: S3Client, bucket: str, key: str) -> Iterator[bytes]:
    """The lines of one gzip part (several members), streamed."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    with gzip.GzipFile(fileobj=body) as stream:
        for line in io.BufferedReader(stream, buffer_size=1 << 20):
            if line.strip():
                yield line


def _part_keys(manifest: Mapping[str, Any], folder: str) -> list[str]:
    for summary in (manifest.get("types") or {}).values():
        if isinstance(summary, Mapping) and summary.get("folder") == folder:
            return [str(part["key"]) for part in summary.get("parts") or []]
    return []


def _root_count(manifest: Mapping[str, Any], folder: str) -> int:
    for summary in (manifest.get("types") or {}).values():
        if isinstance(summary, Mapping) and summary.get("folder") == folder:
            return int(summary.get("objects") or 0)
    return 0


def _root_id(line: bytes, root_type: str) -> str | None:
    match = _GID_ID.search(line, 0, 400)
    if match and match["type"].decode() == root_type:
        return match["id"].decode()
    try:
        node = json.loads(line)
        return shopify_id(node.get("id"), "id") if isinstance(node, dict) else None
    except (ValueError, BadInput):
        return None


def _parent_id(line: bytes) -> str | None:
    match = _PARENT_ID.search(line)
    return match["id"].decode() if match else None


# ------------------------------------------------------------------------------------ reconciliation


@dataclass
class Counts:
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*COUNT_KEYS, CURRENT_BY_BULK), 0))

    @classmethod
    def of(cls, spec: EntitySpec) -> Counts:
        return cls(dict.fromkeys(spec.count_keys, 0))

    def add(self, name: str, amount: int = 1) -> None:
        self.values[name] += amount

    def merge(self, other: Mapping[str, int]) -> None:
        for name in self.values:
            self.values[name] += int(other.get(name, 0))


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime

    def holds(self, moment: datetime) -> bool:
        return self.since is None or self.since <= moment < self.until


@dataclass(frozen=True)
class StepOutcome:
    done: bool
    partitions: int
    partitions_done: int
    result: dict[str, Any] | None = None


@dataclass
class Reconciler:
    """One run's reconciliation; ``step`` does as many partitions as ``should_stop`` allows."""

    s3: S3Client
    dynamodb: DynamoDBClient
    bucket: str
    tables: Mapping[str, str]  # entity -> table name
    carts_table: str  # the abandoned carts a written order marks converted
    cart_ttl_days: int
    clock: Callable[[], datetime]
    roots_per_partition: int = ROOTS_PER_PARTITION
    write_workers: int = WRITE_WORKERS
    # DynamoDB requests: BatchGetItem calls, entity writes, conversion marks (UpdateItem on abandoned carts)
    requests: dict[str, int] = field(default_factory=lambda: {"batch_get": 0, "write": 0, "cart_mark": 0})

    # ---- objects
    def _get_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        document = json.loads(body)
        return document if isinstance(document, dict) else None

    def _put_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document, indent=1, sort_keys=True).encode("utf-8"),
            ContentType="application/json",
        )

    def _listed(self, prefix: str) -> set[str]:
        keys: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys |= {item["Key"] for item in page.get("Contents", [])}
        return keys

    # ---- the run
    def step(self, run_id: str, should_stop: Callable[[], bool]) -> StepOutcome:
        prefix = work_prefix(run_id)
        # Existence is asked as a listing: without s3:ListBucket on a key, S3 answers a GetObject of a
        # missing key 403, not 404.
        if object_exists(self.s3, self.bucket, result_key(run_id)):  # a repeat of the final step
            return StepOutcome(True, 0, 0, self._get_json(result_key(run_id)))
        manifest = self._get_json(manifest_key(run_id))
        if manifest is None or manifest.get("complete") is not True:
            raise RunNotReconcilableError(
                f"run {run_id}: its manifest is missing or does not say complete; a partial or mismatched run "
                "is never reconciled"
            )
        listed = self._listed(prefix)
        saved_plan = self._get_json(prefix + "plan.json") if prefix + "plan.json" in listed else None
        plan = saved_plan or self._new_plan(run_id, manifest)
        total = sum(int(p) for p in plan["partitions"].values())
        done = 0
        for entity, partitions in plan["partitions"].items():
            for index in range(int(partitions)):
                if self._result_key(run_id, entity, index) in listed:
                    done += 1
                    continue
                if should_stop():
                    return StepOutcome(False, total, done)
                self._partition(run_id, manifest, ENTITIES[entity], index, int(partitions), listed)
                done += 1
        result = self._finish(run_id, manifest, plan)
        return StepOutcome(True, total, done, result)

    def _new_plan(self, run_id: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
        resource = str(manifest.get("resource") or DEFAULT_RESOURCE)
        partitions = {
            name: max(1, math.ceil(_root_count(manifest, ENTITIES[name].root_folder) / self.roots_per_partition))
            for name in RESOURCE_ENTITIES.get(resource, ())
        }
        plan = {"schema": SCHEMA, "run_id": run_id, "resource": resource, "partitions": partitions}
        self._put_json(work_prefix(run_id) + "plan.json", plan)
        return plan

    def _result_key(self, run_id: str, entity: str, index: int) -> str:
        return f"{work_prefix(run_id)}{entity}/partition-{index:05d}.done.json"

    def _classification_key(self, run_id: str, entity: str, index: int) -> str:
        return f"{work_prefix(run_id)}{entity}/partition-{index:05d}.plan.json"

    def _window(self, manifest: Mapping[str, Any]) -> Window:
        window = manifest.get("window") or {}
        since = window.get("since")
        return Window(parse_timestamp(since) if since else None, parse_timestamp(window["until"]))

    # ---- one partition
    def _roots(self, manifest: Mapping[str, Any], spec: EntitySpec, index: int, partitions: int) -> Iterator[bytes]:
        for key in _part_keys(manifest, spec.root_folder):
            for line in _lines(self.s3, self.bucket, key):
                object_id = _root_id(line, spec.root_type)
                if object_id is None or int(object_id) % partitions == index:
                    yield line

    def _partition(
        self, run_id: str, manifest: Mapping[str, Any], spec: EntitySpec, index: int, partitions: int, listed: set[str]
    ) -> None:
        event_id = bulk_event_id(run_id)
        classification_key = self._classification_key(run_id, spec.name, index)
        saved = self._get_json(classification_key) if classification_key in listed else None
        if saved is None:
            counts, to_write = self._classify(manifest, spec, index, partitions, event_id)
            self._put_json(classification_key, {"counts": counts.values, "to_write": sorted(to_write)})
        else:  # a repeat of this partition: its classification before any write decides
            counts = Counts.of(spec)
            counts.merge(saved["counts"])
            wanted = set(saved["to_write"])
            to_write = {}
            for line in self._roots(manifest, spec, index, partitions):
                root = self._parse_root(line, spec)
                if root is not None and root.object_id in wanted:
                    to_write[root.object_id] = root
        children = self._children(manifest, spec, set(to_write))
        written, invalid, carts = self._write(spec, to_write, children, event_id)
        counts.values["written"] = written
        counts.add("skipped_invalid", invalid)
        if CARTS_MARKED in counts.values:
            counts.values[CARTS_MARKED] = carts
        self._put_json(self._result_key(run_id, spec.name, index), {"counts": counts.values})

    def _parse_root(self, line: bytes, spec: EntitySpec) -> Root | None:
        try:
            node = json.loads(line)
            if not isinstance(node, dict):
                return None
            return Root(shopify_id(node.get("id"), "id"), timestamp(node.get("updatedAt"), "updatedAt"), bytes(line))
        except (ValueError, BadInput):
            return None

    def _classify(
        self, manifest: Mapping[str, Any], spec: EntitySpec, index: int, partitions: int, event_id: str
    ) -> tuple[Counts, dict[str, Root]]:
        counts = Counts.of(spec)
        window = self._window(manifest)
        to_write: dict[str, Root] = {}
        batch: dict[str, Root] = {}

        def flush() -> None:
            stored = self._versions(spec, list(batch))
            for object_id, root in batch.items():
                item = stored.get(object_id)
                if window.holds(root.updated_at):
                    counts.add("in_window")
                    kind = _classify(root, item)
                    counts.add(kind)
                    if kind == "current" and str((item or {}).get(EVENT_ID, "")).startswith(BULK_EVENT_PREFIX):
                        counts.add(CURRENT_BY_BULK)
                if spec.needs_write(root, item, event_id):
                    to_write[object_id] = root
            batch.clear()

        for line in self._roots(manifest, spec, index, partitions):
            counts.add("exported")
            root = self._parse_root(line, spec)
            if root is None:
                counts.add("skipped_invalid")
                continue
            batch[root.object_id] = root  # a repeated id: the later line (Shopify's newer read) counts once
            if len(batch) >= BATCH_GET_KEYS:
                flush()
        if batch:
            flush()
        return counts, to_write

    def _versions(self, spec: EntitySpec, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored version attributes of ``ids`` (at most 100), by id; unprocessed keys are asked again."""
        table = self.tables[spec.name]
        names = {f"#p{i}": name for i, name in enumerate((*spec.projection, *spec.key("0")))}
        request: dict[str, Any] = {
            table: {
                "Keys": [serialize(spec.key(i)) for i in ids],
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
        }
        found: dict[str, dict[str, Any]] = {}
        by_key = {json.dumps(spec.key(i), sort_keys=True): i for i in ids}
        key_names = tuple(spec.key("0"))
        for attempt in range(8):
            self.requests["batch_get"] += 1
            response = self.dynamodb.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = deserialize(raw)
                key = json.dumps({k: item[k] for k in key_names}, sort_keys=True)
                found[by_key[key]] = item
            unprocessed = response.get("UnprocessedKeys") or {}
            if not unprocessed.get(table):
                return found
            request = dict(unprocessed)
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "unprocessed keys remain"}},
            "BatchGetItem",
        )

    def _children(self, manifest: Mapping[str, Any], spec: EntitySpec, wanted: set[str]) -> dict[str, list[bytes]]:
        children: dict[str, list[bytes]] = {}
        if not wanted:
            return children
        for folder in spec.child_folders:
            for key in _part_keys(manifest, folder):
                for line in _lines(self.s3, self.bucket, key):
                    parent = _parent_id(line)
                    if parent in wanted:
                        children.setdefault(parent, []).append(bytes(line))
        return children

    def _write(
        self,
        spec: EntitySpec,
        to_write: Mapping[str, Root],
        children: Mapping[str, list[bytes]],
        event_id: str,
    ) -> tuple[int, int, int]:
        """Writes the partition's objects: (stored, skipped invalid, carts marked converted)."""
        target = Target(self.dynamodb, self.tables[spec.name], self.carts_table, self.cart_ttl_days, self.clock())

        def one(root: Root) -> Written | None:
            try:
                return spec.write(target, root, list(children.get(root.object_id, [])), event_id)
            except BadInput:
                return None

        roots = [to_write[k] for k in sorted(to_write, key=int)]
        with ThreadPoolExecutor(max_workers=max(1, self.write_workers)) as pool:
            results = list(pool.map(one, roots))
        done = [r for r in results if r is not None]
        self.requests["write"] += sum(len(r.outcomes) for r in done)
        self.requests["cart_mark"] += sum(r.marks.requests for r in done)
        carts = sum(r.marks.converted for r in done)
        return sum(1 for r in done if r.stored), len(results) - len(done), carts

    # ---- the end
    def _finish(self, run_id: str, manifest: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
        entities: dict[str, dict[str, int]] = {}
        for entity, partitions in plan["partitions"].items():
            counts = Counts.of(ENTITIES[entity])
            for index in range(int(partitions)):
                document = self._get_json(self._result_key(run_id, entity, index))
                if document is None:
                    raise RunNotReconcilableError(f"run {run_id}: partition {index} of {entity} has no result")
                counts.merge(document["counts"])
            entities[entity] = counts.values
        window = manifest.get("window") or {}
        result = {
            "schema": SCHEMA,
            "run_id": run_id,
            "resource": plan["resource"],
            "since": window.get("since"),
            "until": window.get("until"),
            "finished_at": iso_utc(self.clock()),
            "entities": entities,
        }
        self._put_json(result_key(run_id), result)
        keys = sorted(self._listed(work_prefix(run_id)))
        for start in range(0, len(keys), 1000):
            self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
            )
        return result


def _classify(root: Root, stored: Mapping[str, Any] | None) -> str:
    """missing, stale, current or newer_in_store: the line's ``updatedAt`` against the item's."""
    if stored is None or VERSION not in stored:
        return "missing"
    stored_us = int(stored[VERSION])
    line_us = to_epoch_micros(root.updated_at)
    if stored_us < line_us:
        return "stale"
    return "current" if stored_us == line_us else "newer_in_store"
