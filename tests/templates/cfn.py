"""Helpers over parsed templates for the contract tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.manifest import REPO_ROOT

INFRASTRUCTURE = REPO_ROOT / "infrastructure"


@dataclass(frozen=True)
class Resource:
    template: Path
    logical_id: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("Type", ""))

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.body.get("Properties") or {})

    @property
    def where(self) -> str:
        return f"{self.template.relative_to(REPO_ROOT)}: {self.logical_id}"


def template_paths() -> list[Path]:
    return sorted(p for p in INFRASTRUCTURE.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


def iter_resources(templates: dict[Path, dict[str, Any]], *types: str) -> Iterator[Resource]:
    for path, template in templates.items():
        for logical_id, body in (template.get("Resources") or {}).items():
            if not types or body.get("Type") in types:
                yield Resource(path, logical_id, body)


def refs(node: Any) -> set[str]:
    """Logical ids a node refers to (Ref, GetAtt, ${X} in Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", str(text)))
                if isinstance(value, list):
                    found |= refs(value[1])
            else:
                found |= refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= refs(item)
    return found
