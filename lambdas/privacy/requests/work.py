"""The workflow's own documents: the plan and the progress of a request (``metadata/privacy/work/<id>/``).

- ``plan.json`` is written once by the ``plan`` step: the person (the subjects that identify them: ids and
  keyed digests, never a clear e-mail or phone), the sorted lake locations, the hot-store items, the
  dead-letter queues, and how the plan was reached (index rounds or full scan).
- ``progress.json`` is rewritten after every task the ``erase`` step finishes: the ordered task list
  (objects, items, queues, the checkpoint sweep, and the parts of bulk runs the sweep waited for), the
  cursor (tasks before it are done) and one result per done task. A step that stops (time budget,
  failure, a busy resource) resumes at the cursor; every task is idempotent, so redoing the one that was
  under way when a step died converges to the same end state.

Neither holds personal values: results name keys, version ids, field paths, tables, item keys, queue
names and counts. Both live under ``metadata/privacy/``, which erasure never touches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.privacy.index import location_key
from common.privacy.person import Person
from common.privacy.requests import audit_key, work_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCHEMA = 1
PLAN = "plan"
PROGRESS = "progress"

# Task kinds, in the order the erase step runs them.
OBJECT = "object"  # every version of one lake key
ITEM = "item"  # one hot-store item
QUEUE = "queue"  # one dead-letter queue
CHECKPOINTS = "checkpoints"  # the bulk downloads' checkpoints (all runs)
RUN = "run"  # the lake parts of a bulk run that was running when the sweep saw it


@dataclass(frozen=True, order=True)
class ItemRef:
    """One hot-store item: the store's name (``orders``, ``customers``, ...) and its key attributes."""

    store: str
    key: tuple[tuple[str, str], ...]  # (attribute, value) pairs, sorted: hashable and stable

    @classmethod
    def of(cls, store: str, key: Mapping[str, str]) -> ItemRef:
        return cls(store, tuple(sorted((str(k), str(v)) for k, v in key.items())))

    def key_dict(self) -> dict[str, str]:
        return dict(self.key)

    def label(self) -> str:
        """``orders:order_id=1001,record=ORDER`` — ids only, safe for logs and the audit."""
        return f"{self.store}:" + ",".join(f"{name}={value}" for name, value in self.key)

    def to_json(self) -> dict[str, Any]:
        return {"store": self.store, "key": self.key_dict()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemRef:
        return cls.of(str(data["store"]), data["key"])


@dataclass
class Plan:
    request_id: str
    kind: str
    request_key: str
    planned_at: str
    full_scan: bool
    person: Person
    locations: list[str]  # "s3:<key>", sorted
    items: list[ItemRef]
    queues: list[str]
    rounds: int
    converged: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "request_id": self.request_id,
            "kind": self.kind,
            "request_key": self.request_key,
            "planned_at": self.planned_at,
            "full_scan": self.full_scan,
            "person": self.person.to_json(),
            "locations": sorted(self.locations),
            "hot_store_items": [item.to_json() for item in sorted(self.items)],
            "queues": list(self.queues),
            "rounds": self.rounds,
            "converged": self.converged,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            request_id=str(data["request_id"]),
            kind=str(data["kind"]),
            request_key=str(data["request_key"]),
            planned_at=str(data["planned_at"]),
            full_scan=bool(data.get("full_scan", False)),
            person=Person.from_json(data["person"]),
            locations=[str(location) for location in data["locations"]],
            items=[ItemRef.from_json(item) for item in data["hot_store_items"]],
            queues=[str(name) for name in data["queues"]],
            rounds=int(data.get("rounds", 0)),
            converged=bool(data.get("converged", True)),
        )

    def tasks(self) -> list[dict[str, Any]]:
        """The erase step's tasks: objects, items, queues, then the checkpoint sweep (which may wait for
        a running bulk download, so it comes after everything that need not wait)."""
        tasks: list[dict[str, Any]] = [{"kind": OBJECT, "key": location_key(loc)} for loc in sorted(self.locations)]
        tasks += [{"kind": ITEM, **item.to_json()} for item in sorted(self.items)]
        tasks += [{"kind": QUEUE, "name": name} for name in self.queues]
        tasks.append({"kind": CHECKPOINTS})
        return tasks


@dataclass
class Progress:
    request_id: str
    tasks: list[dict[str, Any]]
    cursor: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    watched_runs: list[str] = field(default_factory=list)  # bulk runs the sweep waited for
    carried: dict[str, Any] = field(default_factory=dict)  # partial results of a task that was busy
    export: dict[str, Any] | None = None  # what the export step did (export requests)
    steps: int = 0  # erase invocations so far
    updated_at: str = ""

    @property
    def remaining(self) -> int:
        return len(self.tasks) - self.cursor

    def current(self) -> dict[str, Any] | None:
        return self.tasks[self.cursor] if self.cursor < len(self.tasks) else None

    def done(self, result: Mapping[str, Any]) -> None:
        self.results.append(dict(result))
        self.cursor += 1
        self.carried = {}

    def add_objects(self, keys: list[str]) -> int:
        """Append object tasks for keys not planned yet; returns how many were added."""
        known = {task["key"] for task in self.tasks if task["kind"] == OBJECT}
        fresh = [key for key in sorted(set(keys)) if key not in known]
        self.tasks.extend({"kind": OBJECT, "key": key} for key in fresh)
        return len(fresh)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "request_id": self.request_id,
            "cursor": self.cursor,
            "remaining": self.remaining,
            "tasks": self.tasks,
            "results": self.results,
            "watched_runs": self.watched_runs,
            "carried": self.carried,
            "export": self.export,
            "steps": self.steps,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        return cls(
            request_id=str(data["request_id"]),
            tasks=list(data["tasks"]),
            cursor=int(data["cursor"]),
            results=list(data.get("results", [])),
            watched_runs=[str(run) for run in data.get("watched_runs", [])],
            carried=dict(data.get("carried") or {}),
            export=data.get("export"),
            steps=int(data.get("steps", 0)),
            updated_at=str(data.get("updated_at", "")),
        )


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in ("NoSuchKey", "404", "NotFound") or status == 404


def is_missing(s3: S3Client, bucket: str, key: str, exc: ClientError) -> bool:
    """Whether a read failed because the object does not exist. S3 answers 404 for a missing key only to
    a caller that may list the whole bucket; the workflow's role lists its own prefixes only, so a missing
    key is 403 (AccessDenied) and a listing of exactly that key tells the two apart."""
    if _missing(exc):
        return True
    if exc.response.get("Error", {}).get("Code") not in ("AccessDenied", "403", "Forbidden"):
        return False
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    return not any(entry["Key"] == key for entry in listed)


@dataclass(frozen=True)
class WorkStore:
    """Reads and writes the workflow's JSON documents in the lake bucket."""

    s3: S3Client
    bucket: str

    def _listed(self, key: str) -> bool:
        # A listing answers "absent" without the 403 a read of a missing key gets (see is_missing).
        entries = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        return any(entry["Key"] == key for entry in entries)

    def read(self, key: str) -> Any | None:
        if not self._listed(key):
            return None
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if is_missing(self.s3, self.bucket, key, exc):
                return None
            raise
        return json.loads(body)

    def write(self, key: str, document: Any) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8"),
            ContentType="application/json",
        )

    def exists(self, key: str) -> bool:
        return self._listed(key)

    def plan(self, request_id: str) -> Plan | None:
        data = self.read(work_key(request_id, PLAN))
        return Plan.from_json(data) if data is not None else None

    def save_plan(self, plan: Plan) -> None:
        self.write(work_key(plan.request_id, PLAN), plan.to_json())

    def progress(self, request_id: str) -> Progress | None:
        data = self.read(work_key(request_id, PROGRESS))
        return Progress.from_json(data) if data is not None else None

    def save_progress(self, progress: Progress) -> None:
        self.write(work_key(progress.request_id, PROGRESS), progress.to_json())

    def audit(self, request_id: str) -> dict[str, Any] | None:
        data = self.read(audit_key(request_id))
        return dict(data) if data is not None else None

    def audit_exists(self, request_id: str) -> bool:
        return self.exists(audit_key(request_id))

    def save_audit(self, request_id: str, document: Mapping[str, Any]) -> None:
        self.write(audit_key(request_id), document)
