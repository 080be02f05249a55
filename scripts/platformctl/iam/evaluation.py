"""AWS's policy evaluation logic for a request made within one account.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html: an explicit
Deny in any policy that applies wins; otherwise the request needs an Allow. Identity policies allow only
what the permissions boundary (when the role has one) also allows. A resource policy can deny, and within
the account its Allow is enough on its own when it names the caller itself (the role session or user);
when it names the caller's role, the boundary still limits it; when it names the account, it delegates to
the identity policies. A KMS key policy and a role's trust policy must allow in any case: an identity
policy alone never grants use of a key or the assumption of a role.

Not evaluated: service control and resource control policies, session policies, cross-account requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from platformctl.iam.conditions import PolicyError, conditions_hold
from platformctl.iam.patterns import UnresolvedVariableError, action_matches, arn_matches, substitute
from platformctl.iam.principals import Caller, Grant, principal_grant

__all__ = ["Decision", "PolicyError", "Request", "evaluate"]

PolicyDocument = Mapping[str, Any] | str
Policies = Sequence[PolicyDocument] | Mapping[str, PolicyDocument]

# Services whose resource policy must itself allow (directly or by delegating to the account).
_RESOURCE_POLICY_REQUIRED = ("kms:", "sts:assumerole")


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` do ``action`` on ``resource`` in this context?"""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    principal: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    statement: str | None = None  # the statement that decided, where one did

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class _Statement:
    label: str  # "statement 'Sid' of <policy>"
    body: Mapping[str, Any]
    variables: bool


def _document(policy: PolicyDocument) -> Mapping[str, Any]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    if not isinstance(document, Mapping):
        raise PolicyError(f"a policy document must be an object, not {type(document).__name__}")
    return document


def _statements(policy: PolicyDocument, where: str) -> list[_Statement]:
    document = _document(policy)
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    variables = str(document.get("Version", "")) == "2012-10-17"
    result: list[_Statement] = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            raise PolicyError(f"statement {index} of {where} is not an object")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement {index} of {where} has Effect {effect!r} (Allow or Deny)")
        name = f"'{statement['Sid']}'" if statement.get("Sid") else f"#{index}"
        result.append(_Statement(f"statement {name} of {where}", statement, variables))
    return result


def _named(policies: Policies | None, kind: str) -> list[tuple[str, PolicyDocument]]:
    if policies is None:
        return []
    if isinstance(policies, Mapping):
        return [(f"{kind} '{name}'", document) for name, document in policies.items()]
    return [(f"{kind} {index}" if len(policies) > 1 else kind, doc) for index, doc in enumerate(policies)]


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _action_applies(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(action_matches(p, action) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in _as_list(statement["NotAction"]))
    raise PolicyError("a statement needs Action or NotAction")


def _resource_applies(statement: _Statement, request: Request) -> bool:
    body = statement.body
    if "Resource" in body:
        patterns, negated = _as_list(body["Resource"]), False
    elif "NotResource" in body:
        patterns, negated = _as_list(body["NotResource"]), True
    else:
        return True  # resource and trust policies: the resource is the one the policy is attached to
    matched = False
    for pattern in patterns:
        try:
            text = substitute(pattern, request.context) if statement.variables else pattern
        except UnresolvedVariableError:
            continue
        if arn_matches(text, request.resource):
            matched = True
            break
    return matched != negated


def _applies(statement: _Statement, request: Request) -> bool:
    return (
        _action_applies(statement.body, request.action)
        and _resource_applies(statement, request)
        and conditions_hold(statement.body.get("Condition"), request.context, variables=statement.variables)
    )


@dataclass
class _Outcome:
    deny: str | None = None
    allow: str | None = None


def _scan(statements: Iterable[_Statement], request: Request) -> _Outcome:
    outcome = _Outcome()
    for statement in statements:
        if not _applies(statement, request):
            continue
        if statement.body["Effect"] == "Deny":
            outcome.deny = outcome.deny or statement.label
        else:
            outcome.allow = outcome.allow or statement.label
    return outcome


@dataclass
class _ResourceOutcome:
    deny: str | None = None
    grants: dict[Grant, str] = field(default_factory=dict)  # each kind of grant's first statement
    required: bool = False  # a KMS key policy or trust policy: an identity policy alone is not enough


def _scan_resource_policy(policy: PolicyDocument | None, request: Request, caller: Caller) -> _ResourceOutcome:
    if policy is None:
        return _ResourceOutcome()
    outcome = _ResourceOutcome(required=request.action.lower().startswith(_RESOURCE_POLICY_REQUIRED))
    for statement in _statements(policy, "the resource policy"):
        grant = principal_grant(statement.body, caller)
        if grant == Grant.NONE or not _applies(statement, request):
            continue
        if statement.body["Effect"] == "Deny":
            outcome.deny = outcome.deny or statement.label
        else:
            outcome.grants.setdefault(grant, statement.label)
    return outcome


def evaluate(
    request: Request,
    identity_policies: Policies = (),
    boundary: PolicyDocument | None = None,
    resource_policy: PolicyDocument | None = None,
) -> Decision:
    """Decide a request as AWS does for a principal and a resource in the same account.

    ``identity_policies`` is a list of policy documents (or a mapping of names to documents, named in the
    reason); a document may be the parsed JSON or its text. Raises ``PolicyError`` on a policy it cannot read.
    """
    caller = Caller.parse(request.principal)
    identity = [s for name, doc in _named(identity_policies, "identity policy") for s in _statements(doc, name)]
    boundary_statements = _statements(boundary, "the permissions boundary") if boundary is not None else []
    from_identity = _scan(identity, request)
    from_boundary = _scan(boundary_statements, request)
    from_resource = _scan_resource_policy(resource_policy, request, caller)

    for deny in (from_identity.deny, from_boundary.deny, from_resource.deny):
        if deny:
            return Decision(False, f"explicit deny in {deny}", deny)

    return _decide_allow(request, boundary is None or from_boundary.allow is not None, from_identity, from_resource)


def _decide_allow(request: Request, within_boundary: bool, identity: _Outcome, resource: _ResourceOutcome) -> Decision:
    what = f"{request.action} on {request.resource}"
    direct = resource.grants.get(Grant.DIRECT)
    if direct:
        return Decision(True, f"allowed by {direct}", direct)
    via_role = resource.grants.get(Grant.ROLE)
    if via_role and within_boundary:
        return Decision(True, f"allowed by {via_role}", via_role)
    if identity.allow and within_boundary:
        if resource.required and Grant.ACCOUNT not in resource.grants:
            return Decision(False, f"the resource policy does not allow {what} (identity policies cannot grant it)")
        return Decision(True, f"allowed by {identity.allow}", identity.allow)
    if identity.allow or via_role:
        return Decision(False, f"the permissions boundary does not allow {what}")
    return Decision(False, f"no statement allows {what}")
