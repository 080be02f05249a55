"""Which permissions a role's policies grant that the role never used: the least-privilege report.

Each Allow statement of the role's identity policies grants its action patterns on its resource patterns.
A pattern with wildcards is expanded to the IAM actions the local cloud knows (``actions.known_actions``)
where any match; a granted (action, resource pattern) counts as used when an allowed request of the role
matched both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platformctl.iam.patterns import action_matches, arn_matches
from platformctl.iam.usage import Use


@dataclass(frozen=True, order=True)
class Permission:
    action: str
    resource: str


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document.get("Statement", [])
    return raw if isinstance(raw, list) else [raw]


def granted(policies: Iterable[Mapping[str, Any]], known: set[str]) -> list[Permission]:
    """The (action, resource pattern) pairs the policies allow, wildcard actions expanded where known."""
    permissions: set[Permission] = set()
    for document in policies:
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue  # a NotAction grant has no finite list of actions to report
            resources = _as_list(statement.get("Resource", "*"))
            for pattern in _as_list(statement["Action"]):
                expanded = (
                    sorted(a for a in known if action_matches(pattern, a)) if "*" in pattern or "?" in pattern else []
                )
                for action in expanded or [pattern]:
                    permissions.update(Permission(action, resource) for resource in resources)
    return sorted(permissions)


def unused(permissions: Iterable[Permission], uses: Iterable[Use]) -> list[Permission]:
    allowed = [use for use in uses if use.allowed]
    return [
        p
        for p in permissions
        if not any(action_matches(p.action, u.action) and arn_matches(p.resource, u.resource) for u in allowed)
    ]
