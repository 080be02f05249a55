"""IAM's wildcard matching for actions, resources and ARNs, and policy variable substitution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# ${*}, ${?} and ${$} stand for the literal characters; anything else is a request context key,
# optionally with a default: ${aws:username, 'nobody'}.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


class UnresolvedVariableError(LookupError):
    """A policy variable names a key the request does not carry: the element does not match."""


@lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """``s3:Get*`` matches ``s3:GetObject``; action names are case-insensitive."""
    return _action_regex(pattern).fullmatch(action) is not None


@lru_cache(maxsize=8192)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    # The first five colons separate arn:partition:service:region:account; the rest is the resource and
    # may contain colons itself. A wildcard stays inside its segment, except a `*` that ends a segment,
    # which may run on past the colon (IAM documents "arn:aws:iam::*" as matching every IAM ARN).
    parts: list[str] = []
    segment = 0
    for index, char in enumerate(pattern):
        in_resource = segment >= 5
        if char == ":":
            segment += 1
            parts.append(":")
        elif char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            parts.append(".*" if in_resource or ends_segment else "[^:]*")
        elif char == "?":
            parts.append("." if in_resource else "[^:]")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def arn_matches(pattern: str, value: str) -> bool:
    """Resource and ARN matching: case-sensitive, `*` and `?` wildcards within segments."""
    if pattern == "*":
        return True
    return _arn_regex(pattern).fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def string_like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """StringLike: `*` and `?` anywhere, colons included."""
    return _like_regex(pattern, ignore_case).fullmatch(value) is not None


def context_value(context: Mapping[str, Any], key: str) -> Any:
    """A request context value; condition key names are case-insensitive."""
    if key in context:
        return context[key]
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """Replace ``${key}`` policy variables with the request's values (policy version 2012-10-17 only)."""
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner in _LITERALS:
            return _LITERALS[inner]
        default = _DEFAULT.match(inner)
        key, fallback = (default.group(1), default.group(2)) if default else (inner.strip(), None)
        value = context_value(context, key)
        if isinstance(value, list | tuple) or value is None:
            if fallback is not None:
                return fallback
            raise UnresolvedVariableError(key)
        return _as_text(value)

    return _VARIABLE.sub(replace, text)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_text(value: Any) -> str:
    """How a context value compares as a string (booleans as ``true``/``false``)."""
    return _as_text(value)
