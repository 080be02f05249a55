"""The record of what each role was allowed to do on the local cloud, one JSON line per distinct use.

Written by the running local cloud (``.local-cloud/iam-usage.jsonl``) and read by ``platformctl iam report``
from another process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USAGE_FILE = "iam-usage.jsonl"


@dataclass(frozen=True)
class Use:
    role: str  # role ARN
    action: str
    resource: str
    allowed: bool


class UsageLog:
    """Appends each distinct (role, action, resource, decision) once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[Use] = set()
        self._lock = threading.Lock()

    def record(self, use: Use) -> None:
        with self._lock:
            if use in self._seen:
                return
            self._seen.add(use)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(use.__dict__, sort_keys=True) + "\n")


def read_uses(path: Path) -> Iterator[Use]:
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            yield Use(str(data["role"]), str(data["action"]), str(data["resource"]), bool(data["allowed"]))
