"""The bulk operation lifecycle: an operation's record, its window over the shop's objects, the result file
written while it runs (with the ``outcome`` fault, partial results and ``export_stored``), status reads that
advance it like time would, and the signed, expiring result URLs.

``BulkOperations`` is the part of ``SimulatorState`` that runs bulk operations; ``bulk_objects`` renders a
stored resource as the lines Shopify writes for a bulk query.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql as gql
from graphql import language as ast

from platformctl.simulators.shopify.graphql import (
    Field,
    GraphQLSyntaxError,
    first_operation,
    flatten,
    parse_document,
    parse_operation,
    project,
    validation_errors,
)
from platformctl.simulators.shopify.orders import (
    RESOURCE_TIMES,
    ResultFile,
    iso,
    order_times,
    resource_count,
    write_result,
)
from platformctl.simulators.shopify.schema import SCHEMA

DATA_VERSION = 2  # in the names of cached result files: a change of the generated lines changes it
RUNNING_STATUSES = frozenset({"CREATED", "RUNNING", "CANCELING"})
_FILTER = re.compile(r"updated_at\s*:\s*(?P<op>>=|<=|>|<)\s*(?:'(?P<q1>[^']*)'|\"(?P<q2>[^\"]*)\"|(?P<bare>[^\s)]+))")


@dataclass
class BulkOperationRecord:
    id: str
    query: str
    created_at: datetime
    outcome: dict[str, Any]
    running_polls: int
    object_count_offset: int
    first: int
    last: int  # indexes [first, last) of the resource's objects
    status: str = "CREATED"
    resource: str = "orders"
    reads: int = 0
    completed_at: datetime | None = None
    result: ResultFile | None = None
    result_error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    url_token: str | None = None
    stored: list[dict[str, Any]] = field(default_factory=list)  # bulk objects of stored resources, appended

    @property
    def number(self) -> str:
        return self.id.rsplit("/", 1)[1]


@dataclass
class UrlGrant:
    operation_id: str
    file: ResultFile
    expires_at: float
    cut_after: int | None = None  # total bytes after which this URL breaks off and expires
    served: int = 0
    revoked: bool = False


def window_indexes(
    query: str, orders: int, times: Callable[[int, int], tuple[datetime, datetime]] | None = None
) -> tuple[int, int]:
    """Indexes [first, last) of the ``orders`` objects (orders unless ``times`` says otherwise) whose
    updatedAt passes the ``updated_at`` filters in the bulk query."""
    times = times or order_times
    lower, upper = _bounds(query)

    def above_lower(index: int) -> bool:
        return all(_passes(times(index, orders)[1], op, bound) for op, bound in lower)

    def beyond_upper(index: int) -> bool:
        return not all(_passes(times(index, orders)[1], op, bound) for op, bound in upper)

    # updatedAt grows with the index, so each bound splits the orders in two: bisect for the split.
    first = bisect.bisect_left(range(orders), True, key=above_lower)
    last = bisect.bisect_left(range(orders), True, key=beyond_upper)
    return (first, last) if first < last else (0, 0)


def _bounds(query: str) -> tuple[list[tuple[str, datetime]], list[tuple[str, datetime]]]:
    """The lower and upper ``updated_at`` bounds of a bulk query's filter, as (operator, instant)."""
    bounds: list[tuple[str, datetime]] = []
    for match in _FILTER.finditer(query.replace('\\"', '"')):
        text = match["q1"] or match["q2"] or match["bare"] or ""
        with contextlib.suppress(ValueError):
            bounds.append((match["op"], datetime.fromisoformat(text.replace("Z", "+00:00"))))
    return [b for b in bounds if b[0] in {">", ">="}], [b for b in bounds if b[0] in {"<", "<="}]


def _connection_node(selected: Field) -> Field | None:
    """The ``node`` field of a connection selection (``x { edges { node { ... } } }``), else None."""
    for edges in selected.selections:
        if isinstance(edges, Field) and edges.name == "edges":
            for node in edges.selections:
                if isinstance(node, Field) and node.name == "node":
                    return node
    return None


def bulk_objects(node: dict[str, Any], bulk_query: str) -> list[dict[str, Any]]:
    """A resource's GraphQL node (connections as ``{"nodes": [...]}``) as the JSONL objects of a bulk
    result of ``bulk_query``: the root projected onto the query's node selection, each connection's
    nodes as objects of their own with ``__parentId`` (``groupObjects: false``), as Shopify writes them."""
    operation = parse_operation(bulk_query)
    top = _connection_node(operation.fields[0]) if operation.fields else None
    if top is None:
        return []
    root: dict[str, Any] = {}
    children: list[dict[str, Any]] = []
    for selected in flatten(top.selections, node, operation.fragments):
        inner = _connection_node(selected)
        value = node.get(selected.name)
        if inner is None:
            root[selected.key] = project(value, selected.selections, operation.fragments)
            continue
        items = value.get("nodes") if isinstance(value, dict) else value
        for item in items or []:
            child = project(item, inner.selections, operation.fragments)
            children.append({**child, "__parentId": node.get("id")})
    return [root, *children]


# Resource type -> its REST shape rendered as a GraphQL node (``shopify.resources`` registers them):
# what ``export_stored`` puts in a bulk result.
STORED_NODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _passes(value: datetime, op: str, bound: datetime) -> bool:
    if bound.tzinfo is None:
        bound = bound.replace(tzinfo=UTC)
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[op]


class BulkOperations:
    """The bulk operations of ``SimulatorState`` (which sets these attributes up)."""

    lock: threading.RLock
    behaviour: dict[str, Any]
    resources: dict[str, dict[str, dict[str, Any]]]
    operations: dict[str, BulkOperationRecord]
    urls: dict[str, UrlGrant]
    counters: Counter[str]
    base_url: str
    reuse_files: bool
    work_dir: Path
    _files: dict[tuple[str, int, int, int, int, bool, float], ResultFile]
    _file_locks: dict[tuple[str, int, int, int, int, bool, float], threading.Lock]
    _next_operation: int

    def new_operation(self, query: str, resource: str = "orders") -> BulkOperationRecord:
        with self.lock:
            self._next_operation += 1
            first, last = window_indexes(
                query, resource_count(resource, int(self.behaviour["orders"])), RESOURCE_TIMES[resource]
            )
            operation = BulkOperationRecord(
                id=f"gid://shopify/BulkOperation/{self._next_operation}",
                query=query,
                created_at=datetime.now(UTC).replace(microsecond=0),
                outcome=dict(self.behaviour["outcome"] or {"status": "COMPLETED"}),
                running_polls=int(self.behaviour["running_polls"]),
                object_count_offset=int(self.behaviour["object_count_offset"]),
                first=first,
                last=last,
                resource=resource,
                stored=self._stored_objects(query, resource) if self.behaviour["export_stored"] else [],
            )
            self.operations[operation.id] = operation
        threading.Thread(target=self._prepare, args=(operation,), daemon=True, name="shopify-sim-bulk").start()
        return operation

    def _stored_objects(self, query: str, resource: str) -> list[dict[str, Any]]:
        """The bulk objects of the stored resources of ``resource`` updated in the query's window, read when
        the operation starts (Shopify's export is of that moment), in ``updated_at`` order."""
        render = STORED_NODES.get(resource)
        if render is None:
            return []
        lower, upper = _bounds(query)
        chosen = []
        for rest in self.resources.get(resource, {}).values():
            try:
                updated = datetime.fromisoformat(str(rest.get("updated_at")).replace("Z", "+00:00"))
            except ValueError:
                continue
            if all(_passes(updated, op, b) for op, b in lower) and all(_passes(updated, op, b) for op, b in upper):
                chosen.append((updated, rest))
        objects: list[dict[str, Any]] = []
        for _, rest in sorted(chosen, key=lambda pair: pair[0]):
            objects.extend(bulk_objects(render(rest), query))
        return objects

    def _prepare(self, operation: BulkOperationRecord) -> None:
        """What Shopify does while the operation runs: write the result file."""
        try:
            outcome = operation.outcome
            status = outcome.get("status", "COMPLETED")
            if status == "COMPLETED" or (status == "FAILED" and outcome.get("partial_fraction")):
                fraction = 1.0 if status == "COMPLETED" else float(outcome["partial_fraction"])
                operation.result = self.result_file(operation.first, operation.last, fraction, operation.resource)
                if operation.stored and fraction == 1.0:
                    operation.result = self._with_stored(operation)
        except Exception as exc:  # noqa: BLE001 - reported through the operation, like a failed export
            operation.result_error = f"{type(exc).__name__}: {exc}"
        finally:
            operation.ready.set()

    def result_file(self, first: int, last: int, fraction: float = 1.0, resource: str = "orders") -> ResultFile:
        """The (cached) JSONL result for the resource's objects [first, last), or its first ``fraction`` of
        blocks."""
        seed = int(self.behaviour["seed"])
        orders = int(self.behaviour["orders"])
        escape = bool(self.behaviour["escape_slashes"])
        key = (resource, seed, orders, first, last, escape, round(fraction, 6))
        with self.lock:
            lock = self._file_locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._files.get(key)
            if cached is not None and cached.path.exists():
                return cached
            name = (
                f"result-v{DATA_VERSION}-{resource}-{seed}-{orders}-{first}-{last}-{int(escape)}"
                f"-{int(fraction * 1e6)}.jsonl"
            )
            path = self.work_dir / name
            counts = path.with_suffix(".counts.json")
            if self.reuse_files and path.exists() and counts.exists():
                known = json.loads(counts.read_text(encoding="utf-8"))
                result = ResultFile(path, path.stat().st_size, int(known["objects"]), int(known["roots"]))
            else:
                result = write_result(
                    path,
                    seed=seed,
                    orders=orders,
                    first=first,
                    last=last,
                    fraction=fraction,
                    escape=escape,
                    resource=resource,
                )
                counts.write_text(json.dumps({"objects": result.object_count, "roots": result.root_object_count}))
            self._files[key] = result
            return result

    def _with_stored(self, operation: BulkOperationRecord) -> ResultFile:
        """The operation's own result file: the generated result, then the stored resources' objects."""
        generated = operation.result
        assert generated is not None  # noqa: S101 - set just before
        path = self.work_dir / f"result-{operation.number}-stored.jsonl"
        shutil.copyfile(generated.path, path)
        escape = bool(self.behaviour["escape_slashes"])
        roots = 0
        with path.open("ab") as out:
            for obj in operation.stored:
                text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
                out.write((text.replace("/", "\\/") if escape else text).encode("utf-8") + b"\n")
                roots += "__parentId" not in obj
        return ResultFile(
            path,
            path.stat().st_size,
            generated.object_count + len(operation.stored),
            generated.root_object_count + roots,
        )

    def read_operation(self, operation: BulkOperationRecord) -> dict[str, Any]:
        """One status read: advances the operation like time would, and renders it."""
        with self.lock:
            operation.reads += 1
            if operation.status in RUNNING_STATUSES:
                if operation.status == "CANCELING":
                    operation.status = "CANCELED"
                    operation.completed_at = datetime.now(UTC).replace(microsecond=0)
                elif operation.reads > operation.running_polls and operation.ready.is_set():
                    self._finish(operation)
                else:
                    operation.status = "RUNNING"
            return self.render_operation(operation)

    def _finish(self, operation: BulkOperationRecord) -> None:
        outcome = operation.outcome
        operation.completed_at = datetime.now(UTC).replace(microsecond=0)
        if operation.result_error:
            operation.status = "FAILED"
            operation.outcome = {"status": "FAILED", "error_code": "INTERNAL_SERVER_ERROR"}
            return
        operation.status = str(outcome.get("status", "COMPLETED"))

    def grant_url(self, operation: BulkOperationRecord) -> str | None:
        """A signed URL for the operation's result, reused until it expires."""
        file = operation.result
        if file is None:
            return None
        with self.lock:
            grant = self.urls.get(operation.url_token or "")
            now = time.time()
            if grant is None or grant.revoked or grant.expires_at <= now:
                token = secrets.token_urlsafe(18)
                cut = self.behaviour.get("expire_url_after_bytes")
                self.behaviour["expire_url_after_bytes"] = None
                grant = UrlGrant(
                    operation.id, file, now + float(self.behaviour["url_ttl_seconds"]), int(cut) if cut else None
                )
                self.urls[token] = grant
                operation.url_token = token
                self.counters["urls_issued"] += 1
            expires = int(grant.expires_at)
            return f"{self.base_url}/_results/{operation.url_token}/bulk-{operation.number}.jsonl?Expires={expires}"

    def render_operation(self, operation: BulkOperationRecord) -> dict[str, Any]:
        status = operation.status
        file = operation.result
        running = status in RUNNING_STATUSES
        rendered: dict[str, Any] = {
            "__typename": "BulkOperation",
            "id": operation.id,
            "status": status,
            "errorCode": None,
            "createdAt": iso(operation.created_at),
            "completedAt": iso(operation.completed_at) if operation.completed_at else None,
            "objectCount": "0",
            "rootObjectCount": "0",
            "fileSize": None,
            "url": None,
            "partialDataUrl": None,
            "query": operation.query,
            "type": "QUERY",
        }
        if running and file is not None:
            progress = min(1.0, operation.reads / (operation.running_polls + 1))
            rendered["objectCount"] = str(int(file.object_count * progress))
            rendered["rootObjectCount"] = str(int(file.root_object_count * progress))
        if status == "COMPLETED" and file is not None:
            rendered["objectCount"] = str(file.object_count + operation.object_count_offset)
            rendered["rootObjectCount"] = str(file.root_object_count)
            rendered["fileSize"] = str(file.size)
            rendered["url"] = self.behaviour.get("result_url") or self.grant_url(operation)
        elif status == "FAILED":
            rendered["errorCode"] = operation.outcome.get("error_code", "INTERNAL_SERVER_ERROR")
            if file is not None:
                rendered["objectCount"] = str(file.object_count)
                rendered["rootObjectCount"] = str(file.root_object_count)
                rendered["fileSize"] = str(file.size)
                rendered["partialDataUrl"] = self.behaviour.get("result_url") or self.grant_url(operation)
        return rendered

    def current_operation(self) -> BulkOperationRecord | None:
        """The app's most recent bulk query operation (what ``currentBulkOperation`` returns)."""
        with self.lock:
            return list(self.operations.values())[-1] if self.operations else None

    def running_operation(self) -> BulkOperationRecord | None:
        with self.lock:
            for operation in self.operations.values():
                if operation.status in RUNNING_STATUSES:
                    return operation
        return None


def bulk_resource(bulk_query: str) -> str | None:
    """The resource a bulk query exports (its top-level connection), or None for one not simulated."""
    fields = parse_operation(bulk_query).fields
    name = fields[0].name if fields else None
    return name if name in RESOURCE_TIMES else None


def bulk_query_problem(bulk_query: str) -> str | None:
    """Why the Admin API would refuse ``bulk_query`` (a syntax or validation error against the schema, or no
    top-level connection), or None."""
    try:
        parse_document(bulk_query)
    except GraphQLSyntaxError as exc:
        return exc.message
    errors = validation_errors(bulk_query)
    if errors:
        return str(errors[0]["message"])
    operation = first_operation(parse_document(bulk_query))
    if operation is None or operation.operation != ast.OperationType.QUERY:
        return "Bulk queries must be a query operation."
    root = SCHEMA.query_type
    for selection in operation.selection_set.selections:
        if isinstance(selection, ast.FieldNode) and root is not None and selection.name.value in root.fields:
            returns = gql.get_named_type(root.fields[selection.name.value].type)
            if returns.name.endswith("Connection"):
                return None
    return "Bulk queries must contain at least one connection."
