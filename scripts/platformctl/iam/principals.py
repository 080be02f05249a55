"""Who a request comes from, and how a resource policy's Principal / NotPrincipal names it.

Resource policies can name a principal in three ways that matter to evaluation within one account:
the caller itself (an IAM user, a role session, a service, a federated provider, or ``*``), the caller's
role (``arn:aws:iam::<account>:role/<name>``) or the account (``<account>`` / ``arn:aws:iam::<account>:root``),
which delegates the decision to the account's identity policies.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ASSUMED_ROLE = re.compile(r"^arn:[^:]+:sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$")
_IAM_ARN = re.compile(r"^arn:[^:]+:iam::(?P<account>\d{12}):(?P<rest>.+)$")


class Grant(enum.IntEnum):
    """How specifically a resource policy statement names the caller (higher is more specific)."""

    NONE = 0
    ACCOUNT = 1  # the account: identity policies decide
    ROLE = 2  # the caller's role: limited by the role's permissions boundary
    DIRECT = 3  # the caller itself (session, user, service, federated provider, "*")


@dataclass(frozen=True)
class Caller:
    """The parts of a principal ARN that resource policies can name."""

    principal: str
    account: str | None
    role_name: str | None

    @classmethod
    def parse(cls, principal: str | None) -> Caller:
        text = principal or ""
        session = _ASSUMED_ROLE.match(text)
        if session:
            return cls(text, session["account"], session["role"])
        iam = _IAM_ARN.match(text)
        if iam:
            return cls(text, iam["account"], None)
        return cls(text, None, None)

    def grant_for(self, named: str, kind: str) -> Grant:
        """How the policy entry ``named`` (under ``kind``: AWS, Service, Federated...) names this caller."""
        if named == "*":
            return Grant.DIRECT
        if kind != "AWS":
            return Grant.DIRECT if named == self.principal else Grant.NONE
        if named == self.principal:
            return Grant.DIRECT
        if self.account and named in (self.account, f"arn:aws:iam::{self.account}:root"):
            return Grant.ACCOUNT
        role = _IAM_ARN.match(named)
        if self.role_name and role and role["account"] == self.account:
            resource = role["rest"]
            # A role ARN may carry a path (role/service-role/name); the session ARN does not.
            if resource.startswith("role/") and resource.rsplit("/", 1)[-1] == self.role_name:
                return Grant.ROLE
        return Grant.NONE


def _entries(principal: Any) -> list[tuple[str, str]]:
    if principal == "*":
        return [("AWS", "*")]
    if not isinstance(principal, Mapping):
        return []
    entries: list[tuple[str, str]] = []
    for kind, names in principal.items():
        for name in names if isinstance(names, list) else [names]:
            entries.append((str(kind), str(name)))
    return entries


def principal_grant(statement: Mapping[str, Any], caller: Caller) -> Grant:
    """How a resource policy statement's Principal or NotPrincipal applies to the caller."""
    if "NotPrincipal" in statement:
        # Each identity in the chain (account, role, session) is checked on its own, so a caller escapes a
        # NotPrincipal only when the caller itself is listed (AWS's examples list the session ARN).
        named = (caller.grant_for(n, k) for k, n in _entries(statement["NotPrincipal"]))
        return Grant.NONE if Grant.DIRECT in named else Grant.DIRECT
    return max((caller.grant_for(n, k) for k, n in _entries(statement.get("Principal"))), default=Grant.NONE)
