"""The simulated shop's state: its switchable behaviours (faults included), the leaky bucket of the API's
rate limit, the REST-shaped resources tests and the demo store, counters, and (through ``BulkOperations``)
the bulk operations and their result files."""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from platformctl.simulators.shopify.bulk import BulkOperationRecord, BulkOperations, UrlGrant
from platformctl.simulators.shopify.orders import DEFAULT_SEED, ResultFile

BUCKET_MAXIMUM = 2000.0
BUCKET_RESTORE_RATE = 100.0
ALL_SCOPES = ("read_orders", "read_all_orders", "read_customers", "read_products", "read_fulfillments")
DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "orders": 250,
    "seed": DEFAULT_SEED,
    "throttle": 0,
    "http_error": None,
    "user_error": None,
    "outcome": {"status": "COMPLETED"},
    "running_polls": 1,
    "expire_url_after_bytes": None,
    "cut_after_bytes": None,
    "url_ttl_seconds": 7 * 86400.0,
    "object_count_offset": 0,
    "scopes": list(ALL_SCOPES),
    "escape_slashes": True,
    "export_stored": False,
    "result_url": None,
    "redirect_results": None,
}


class SimulatorState(BulkOperations):
    """The simulated shop: resources, behaviours, bulk operations, result files and counters."""

    def __init__(self, behaviour: dict[str, Any] | None = None, *, work_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.behaviour: dict[str, Any] = copy.deepcopy(DEFAULT_BEHAVIOUR)
        if behaviour:
            self.configure(**behaviour)
        self.operations: dict[str, BulkOperationRecord] = {}
        self.urls: dict[str, UrlGrant] = {}
        self.counters: Counter[str] = Counter()
        self.access_tokens: set[str] = set()
        self.base_url = ""
        self.reuse_files = False  # benchmarks keep big result files between runs in their work_dir
        self._own_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="shopify-sim-"))
        self._files: dict[tuple[str, int, int, int, int, bool, float], ResultFile] = {}
        self._file_locks: dict[tuple[str, int, int, int, int, bool, float], threading.Lock] = {}
        self._next_operation = 4_100_000_000
        self._bucket_available = BUCKET_MAXIMUM
        self._bucket_at = time.monotonic()

    # ------------------------------------------------------------------------- behaviours

    def configure(self, **changes: Any) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise ValueError(f"unknown simulator behaviour(s): {', '.join(sorted(unknown))}")
        with self.lock:
            for key, value in changes.items():
                self.behaviour[key] = copy.deepcopy(value)
            return copy.deepcopy(self.behaviour)

    def reset(self, *, operations: bool = False) -> None:
        with self.lock:
            self.behaviour = copy.deepcopy(DEFAULT_BEHAVIOUR)
            self.counters.clear()
            if operations:
                self.operations.clear()
                self.urls.clear()

    def _take(self, key: str) -> Any:
        """Consume one use of a counted behaviour (``throttle``, ``http_error``, ``user_error``)."""
        with self.lock:
            current = self.behaviour.get(key)
            if not current:
                return None
            if isinstance(current, int):
                self.behaviour[key] = current - 1
                return True
            times = int(current.get("times", 1))
            if times <= 1:
                self.behaviour[key] = None
            else:
                self.behaviour[key] = {**current, "times": times - 1}
            return current

    # ----------------------------------------------------------------------------- bucket

    def spend(self, cost: float) -> tuple[bool, float]:
        """Take ``cost`` from the leaky bucket; (allowed, available after)."""
        with self.lock:
            now = time.monotonic()
            self._bucket_available = min(
                BUCKET_MAXIMUM, self._bucket_available + (now - self._bucket_at) * BUCKET_RESTORE_RATE
            )
            self._bucket_at = now
            if self._take("throttle"):
                return False, max(0.0, cost - 20.0)
            if cost > self._bucket_available:
                return False, self._bucket_available
            self._bucket_available -= cost
            return True, self._bucket_available

    # ------------------------------------------------------------------------- operations

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "behaviour": copy.deepcopy(self.behaviour),
                "counters": dict(self.counters),
                "operations": [
                    {
                        "id": o.id,
                        "status": o.status,
                        "reads": o.reads,
                        "resource": o.resource,
                        "first": o.first,
                        "last": o.last,
                        "object_count": o.result.object_count if o.result else None,
                        "root_object_count": o.result.root_object_count if o.result else None,
                        "file_size": o.result.size if o.result else None,
                    }
                    for o in self.operations.values()
                ],
                "resources": {kind: len(items) for kind, items in self.resources.items()},
            }

    def add_resources(self, kind: str, body: Any) -> int:
        items = body if isinstance(body, list) else [body]
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", kind):
            raise ValueError(f"resource type must be a lower-case name such as orders, got {kind!r}")
        for item in items:
            if not isinstance(item, dict) or "id" not in item:
                raise ValueError("each resource must be a JSON object with an id")
        with self.lock:
            store = self.resources.setdefault(kind, {})
            for item in items:
                store[str(item["id"])] = item
        return len(items)

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
