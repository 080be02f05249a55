"""IAM condition operators: a statement's Condition block against a request context.

Within one operator, keys are AND-ed; the values listed for a key are OR-ed (for the negated operators,
the key must match none of them). A key absent from the request makes a condition false, except for the
negated operators (true), ``...IfExists`` (true), ``Null`` and ``ForAllValues:`` (true). Documented at
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and .../reference_policies_condition-single-vs-multi-valued-context-keys.html.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from platformctl.iam.patterns import (
    UnresolvedVariableError,
    arn_matches,
    as_text,
    context_value,
    string_like,
    substitute,
)


class PolicyError(ValueError):
    """A policy the evaluator cannot read (an unknown operator, say): never silently allowed or denied."""


Test = Callable[[str, Any], bool]  # (policy value, one request value) -> match


def _string_equals(expected: str, actual: Any) -> bool:
    return expected == as_text(actual)


def _string_equals_ignore_case(expected: str, actual: Any) -> bool:
    return expected.lower() == as_text(actual).lower()


def _string_like(expected: str, actual: Any) -> bool:
    return string_like(expected, as_text(actual))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Test:
    def test(expected: str, actual: Any) -> bool:
        want, got = _number(expected), _number(actual)
        return want is not None and got is not None and compare(got, want)

    return test


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dates(compare: Callable[[datetime, datetime], bool]) -> Test:
    def test(expected: str, actual: Any) -> bool:
        want, got = _date(expected), _date(actual)
        return want is not None and got is not None and compare(got, want)

    return test


def _bool(expected: str, actual: Any) -> bool:
    return str(expected).lower() == as_text(actual).lower()


def _ip(expected: str, actual: Any) -> bool:
    try:
        return ipaddress.ip_address(as_text(actual)) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _arn(expected: str, actual: Any) -> bool:
    return arn_matches(expected, as_text(actual))


@dataclass(frozen=True)
class _Operator:
    test: Test
    negated: bool = False
    # StringLike, StringEquals and the Arn operators accept policy variables; numbers, dates and IPs do not.
    variables: bool = False


_OPERATORS: dict[str, _Operator] = {
    "StringEquals": _Operator(_string_equals, variables=True),
    "StringNotEquals": _Operator(_string_equals, negated=True, variables=True),
    "StringEqualsIgnoreCase": _Operator(_string_equals_ignore_case, variables=True),
    "StringNotEqualsIgnoreCase": _Operator(_string_equals_ignore_case, negated=True, variables=True),
    "StringLike": _Operator(_string_like, variables=True),
    "StringNotLike": _Operator(_string_like, negated=True, variables=True),
    "NumericEquals": _Operator(_numeric(lambda a, b: a == b)),
    "NumericNotEquals": _Operator(_numeric(lambda a, b: a == b), negated=True),
    "NumericLessThan": _Operator(_numeric(lambda a, b: a < b)),
    "NumericLessThanEquals": _Operator(_numeric(lambda a, b: a <= b)),
    "NumericGreaterThan": _Operator(_numeric(lambda a, b: a > b)),
    "NumericGreaterThanEquals": _Operator(_numeric(lambda a, b: a >= b)),
    "DateEquals": _Operator(_dates(lambda a, b: a == b)),
    "DateNotEquals": _Operator(_dates(lambda a, b: a == b), negated=True),
    "DateLessThan": _Operator(_dates(lambda a, b: a < b)),
    "DateLessThanEquals": _Operator(_dates(lambda a, b: a <= b)),
    "DateGreaterThan": _Operator(_dates(lambda a, b: a > b)),
    "DateGreaterThanEquals": _Operator(_dates(lambda a, b: a >= b)),
    "Bool": _Operator(_bool),
    "BinaryEquals": _Operator(_string_equals),
    "IpAddress": _Operator(_ip),
    "NotIpAddress": _Operator(_ip, negated=True),
    "ArnEquals": _Operator(_arn, variables=True),
    "ArnLike": _Operator(_arn, variables=True),
    "ArnNotEquals": _Operator(_arn, negated=True, variables=True),
    "ArnNotLike": _Operator(_arn, negated=True, variables=True),
}

_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")


def _values(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list | tuple | set | frozenset) else [raw]


def _policy_values(raw: Any, operator: _Operator, context: Mapping[str, Any], variables: bool) -> list[str]:
    values: list[str] = []
    for value in _values(raw):
        text = as_text(value)
        if variables and operator.variables:
            try:
                text = substitute(text, context)
            except UnresolvedVariableError:
                continue  # a value whose variable has no value in the request matches nothing
        values.append(text)
    return values


def _one_value(operator: _Operator, expected: list[str], actual: Any) -> bool:
    """Whether one request value satisfies the operator against the OR-ed policy values."""
    matched = any(operator.test(value, actual) for value in expected)
    return not matched if operator.negated else matched


def _operator_holds(name: str, tests: Any, context: Mapping[str, Any], variables: bool) -> bool:
    qualifier = next((q for q in _QUALIFIERS if name.startswith(q)), "")
    base = name.removeprefix(qualifier)
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    return _KeyTest(qualifier, base, if_exists, name).holds(tests, context, variables)


@dataclass(frozen=True)
class _KeyTest:
    qualifier: str
    base: str
    if_exists: bool
    name: str

    def holds(self, tests: Any, context: Mapping[str, Any], variables: bool) -> bool:
        if not isinstance(tests, Mapping):
            raise PolicyError(f"condition {self.name} must map keys to values, not {tests!r}")
        return all(self._key(key, expected, context, variables) for key, expected in tests.items())

    def _key(self, key: str, raw_expected: Any, context: Mapping[str, Any], variables: bool) -> bool:
        actual = context_value(context, key)
        present = actual is not None and not (isinstance(actual, list | tuple) and not actual)
        if self.base == "Null":
            if self.qualifier or self.if_exists:
                raise PolicyError(f"condition operator {self.name} is not valid")
            # Null: "true" means the key must be absent, "false" that it must be present (values OR-ed).
            return any(_bool(str(v), "true" if not present else "false") for v in _values(raw_expected))
        operator = _OPERATORS.get(self.base)
        if operator is None:
            raise PolicyError(f"unknown condition operator {self.name}")
        if not present:
            return self._absent(operator)
        expected = _policy_values(raw_expected, operator, context, variables)
        request_values = _values(actual)
        if self.qualifier == "ForAllValues:" or (not self.qualifier and operator.negated):
            # Without a qualifier a negated operator holds when no request value matches any policy value.
            return all(_one_value(operator, expected, v) for v in request_values)
        return any(_one_value(operator, expected, v) for v in request_values)

    def _absent(self, operator: _Operator) -> bool:
        if self.qualifier:
            return self.qualifier == "ForAllValues:"
        return self.if_exists or operator.negated


def conditions_hold(condition: Any, context: Mapping[str, Any], *, variables: bool = True) -> bool:
    """Whether a statement's whole Condition block holds for the request context (operators AND-ed)."""
    if condition is None:
        return True
    if not isinstance(condition, Mapping):
        raise PolicyError(f"a Condition must be an object, not {condition!r}")
    return all(_operator_holds(str(name), tests, context, variables) for name, tests in condition.items())
