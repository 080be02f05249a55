"""The arithmetic of a CloudWatch metric alarm: statistics per period, metric math, the decision.

Pure functions over datapoints that are already selected, so the rules can be tested table by table:

- ``statistic``: Sum, Average, Minimum, Maximum, SampleCount and percentiles ``pNN`` / ``pNN.NN``
  (nearest rank over the raw values; a period holding only statistic sets has no percentile);
- ``evaluate_expression``: the metric math alarms use: ``+ - * /``, comparisons (1 or 0), ``AND``/``OR``,
  ``FILL(m, value)``, ``IF(condition, a[, b])``, ``ABS``, and ``SUM``/``MAX``/``MIN``/``AVG`` (over an
  array ``[a, b, ...]``: per period across the series; over one series: one number). An operation between
  two series keeps the periods both have, as CloudWatch does;
- ``decide``: the state from the last ``EvaluationPeriods`` values with ``DatapointsToAlarm`` and
  ``TreatMissingData`` (Amazon CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing
  data"): ``breaching`` / ``notBreaching`` count a missing period as breaching / not; ``missing`` turns
  an all-missing range into INSUFFICIENT_DATA, ``ignore`` keeps the current state then; otherwise
  ALARM when at least ``DatapointsToAlarm`` periods breach, else OK.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$", re.IGNORECASE)


class AlarmMathError(ValueError):
    """An alarm the local evaluator cannot compute (an unsupported statistic, function or operator)."""


@dataclass(frozen=True)
class Point:
    """One stored datapoint: raw values (PutMetricData Value/Values) or a statistic set."""

    timestamp: float  # epoch seconds
    total: float
    count: float
    minimum: float
    maximum: float
    values: tuple[float, ...] = ()
    unit: str | None = None

    @classmethod
    def of_values(cls, timestamp: float, values: Sequence[float], unit: str | None = None) -> Point:
        return cls(timestamp, float(sum(values)), float(len(values)), min(values), max(values), tuple(values), unit)


def _average(points: Sequence[Point]) -> float | None:
    count = math.fsum(p.count for p in points)
    return math.fsum(p.total for p in points) / count if count else None


_STATISTICS: dict[str, Callable[[Sequence[Point]], float | None]] = {
    "sum": lambda points: math.fsum(p.total for p in points),
    "samplecount": lambda points: math.fsum(p.count for p in points),
    "average": _average,
    "minimum": lambda points: min(p.minimum for p in points),
    "maximum": lambda points: max(p.maximum for p in points),
}


def _percentile(points: Sequence[Point], percent: float) -> float | None:
    values = sorted(v for p in points for v in p.values)
    if not values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def statistic(points: Sequence[Point], stat: str) -> float | None:
    """One period's statistic; None when the period has no datapoint (or no raw value for a percentile)."""
    name = stat.strip()
    match = _PERCENTILE.match(name)
    if name.lower() not in _STATISTICS and not match:
        raise AlarmMathError(f"statistic {stat!r} is not evaluated locally")
    if not points:
        return None
    if match:
        return _percentile(points, float(match.group(1)))
    return _STATISTICS[name.lower()](points)


# ------------------------------------------------------------------------------------------ metric math

Series = dict[int, float]  # period index -> value (a missing period is absent)
Value = float | Series | list[float | Series]
Operator = Callable[[float, float], float]
REPEAT = math.inf  # FILL(m, REPEAT): stands for the keyword among FILL's arguments (no metric value is inf)

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/^()\[\],<>]))"
)


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise AlarmMathError(f"cannot read the expression {text!r} at {text[position:]!r}")
        tokens.append(match.group("number") or match.group("name") or match.group("op"))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, series: Mapping[str, Series], periods: Sequence[int]) -> None:
        self.tokens, self.position = _tokens(text), 0
        self.series, self.periods = series, list(periods)

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise AlarmMathError(f"expected {expected or 'more'} in the expression, found {token!r}")
        self.position += 1
        return token

    def parse(self) -> Value:
        value = self.logical_or()
        if self.peek() is not None:
            raise AlarmMathError(f"unexpected {self.peek()!r} in the expression")
        return value

    def logical_or(self) -> Value:
        value = self.logical_and()
        while (self.peek() or "").upper() in ("OR", "||"):
            self.take()
            value = _binary(value, self.logical_and(), lambda a, b: float(bool(a) or bool(b)))
        return value

    def logical_and(self) -> Value:
        value = self.comparison()
        while (self.peek() or "").upper() in ("AND", "&&"):
            self.take()
            value = _binary(value, self.comparison(), lambda a, b: float(bool(a) and bool(b)))
        return value

    def comparison(self) -> Value:
        value = self.additive()
        operators = {
            ">": lambda a, b: float(a > b),
            ">=": lambda a, b: float(a >= b),
            "<": lambda a, b: float(a < b),
            "<=": lambda a, b: float(a <= b),
            "==": lambda a, b: float(a == b),
            "!=": lambda a, b: float(a != b),
        }
        if self.peek() in operators:
            operator = operators[self.take()]
            value = _binary(value, self.additive(), operator)
        return value

    def additive(self) -> Value:
        value = self.multiplicative()
        while self.peek() in ("+", "-"):
            operator = self.take()
            right = self.multiplicative()
            value = _binary(value, right, (lambda a, b: a + b) if operator == "+" else (lambda a, b: a - b))
        return value

    def multiplicative(self) -> Value:
        value = self.unary()
        while self.peek() in ("*", "/"):
            operator = self.take()
            right = self.unary()
            value = _binary(value, right, (lambda a, b: a * b) if operator == "*" else _divide)
        return value

    def unary(self) -> Value:
        if self.peek() == "-":
            self.take()
            return _binary(0.0, self.unary(), lambda a, b: a - b)
        value = self.primary()
        if self.peek() == "^":
            self.take()
            value = _binary(value, self.unary(), lambda a, b: a**b)
        return value

    def primary(self) -> Value:
        token = self.take()
        if token == "(":  # noqa: S105 - a token of the expression, not a password
            value = self.logical_or()
            self.take(")")
            return value
        if token == "[":  # noqa: S105 - a token of the expression, not a password
            items = self._list("]")
            for item in items:
                if isinstance(item, list):
                    raise AlarmMathError("an array cannot hold an array")
            return [item for item in items if not isinstance(item, list)]
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if self.peek() == "(":
            self.take("(")
            return _function(token.upper(), self._list(")"), self.periods)
        if token in self.series:
            return dict(self.series[token])
        raise AlarmMathError(f"the expression names {token!r}, which is no metric of the alarm")

    def _list(self, closing: str) -> list[Value]:
        items: list[Value] = []
        if self.peek() == closing:
            self.take(closing)
            return items
        while True:
            if (self.peek() or "").upper() == "REPEAT":
                self.take()
                items.append(REPEAT)
            else:
                items.append(self.logical_or())
            if self.peek() == ",":
                self.take(",")
                continue
            self.take(closing)
            return items


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError
    return a / b


def _binary(left: Value, right: Value, operator: Operator) -> Value:
    def one(a: float, b: float) -> float | None:
        try:
            result = operator(a, b)
        except (ZeroDivisionError, OverflowError):
            return None
        return float(result) if math.isfinite(result) else None

    if isinstance(left, list) or isinstance(right, list):
        raise AlarmMathError("arithmetic on an array: use SUM, MAX, MIN or AVG of it")
    if isinstance(left, dict) and isinstance(right, dict):
        pairs = {k: one(left[k], right[k]) for k in left.keys() & right.keys()}
    elif isinstance(left, dict):
        pairs = {k: one(v, float(right)) for k, v in left.items()}  # type: ignore[arg-type]
    elif isinstance(right, dict):
        pairs = {k: one(float(left), v) for k, v in right.items()}
    else:
        single = one(float(left), float(right))
        return single if single is not None else math.nan
    return {k: v for k, v in pairs.items() if v is not None}


def _function(name: str, args: list[Value], periods: list[int]) -> Value:
    if name == "FILL":
        if len(args) != 2 or not isinstance(args[0], dict):
            raise AlarmMathError("FILL takes a metric and a value")
        series, fill = args[0], args[1]
        if fill == REPEAT:
            filled: Series = {}
            last: float | None = None
            for period in periods:
                last = series.get(period, last)
                if last is not None:
                    filled[period] = last
            return filled
        if isinstance(fill, dict | list):
            raise AlarmMathError("FILL's value must be a number or REPEAT")
        return {period: series.get(period, float(fill)) for period in periods}
    if name == "IF":
        if len(args) not in (2, 3):
            raise AlarmMathError("IF takes a condition and one or two values")
        return _if(args[0], args[1], args[2] if len(args) == 3 else None, periods)
    if name == "ABS":
        if len(args) != 1:
            raise AlarmMathError("ABS takes one value")
        return _binary(args[0], 0.0, lambda a, b: abs(a))
    reducers: dict[str, Callable[[list[float]], float]] = {
        "SUM": math.fsum,
        "MAX": max,
        "MIN": min,
        "AVG": lambda values: math.fsum(values) / len(values),
    }
    if name in reducers:
        if len(args) != 1:
            raise AlarmMathError(f"{name} takes one argument")
        return _reduce(args[0], reducers[name])
    raise AlarmMathError(f"the metric math function {name} is not evaluated locally")


def _at(value: Value | None, period: int) -> float | None:
    if value is None or isinstance(value, list):
        return None
    if isinstance(value, dict):
        return value.get(period)
    return None if math.isnan(value) else float(value)


def _if(condition: Value, then: Value, otherwise: Value | None, periods: list[int]) -> Value:
    if isinstance(condition, list):
        raise AlarmMathError("IF's condition cannot be an array")
    result: Series = {}
    keys = condition.keys() if isinstance(condition, dict) else periods
    for period in keys:
        flag = _at(condition, period)
        if flag is None:
            continue
        chosen = _at(then if flag != 0 else otherwise, period)
        if chosen is not None:
            result[period] = chosen
    if not isinstance(condition, dict) and not any(isinstance(v, dict) for v in (then, otherwise)):
        return next(iter(result.values()), math.nan)
    return result


def _reduce(argument: Value, reduce: Callable[[list[float]], float]) -> Value:
    if isinstance(argument, list):
        series = [item for item in argument if isinstance(item, dict)]
        scalars = [float(item) for item in argument if not isinstance(item, dict)]
        if not series:
            return float(reduce(scalars)) if scalars else math.nan
        keys = set().union(*(s.keys() for s in series))
        return {k: float(reduce([s[k] for s in series if k in s] + scalars)) for k in keys}
    if isinstance(argument, dict):
        return float(reduce(list(argument.values()))) if argument else math.nan
    return argument


def evaluate_expression(expression: str, series: Mapping[str, Series], periods: Sequence[int]) -> Series:
    """An expression's value per period (a number is the same in every period)."""
    value = _Parser(expression, series, periods).parse()
    if isinstance(value, list):
        raise AlarmMathError("an alarm's expression must give one time series, not an array")
    if isinstance(value, dict):
        return value
    return {} if math.isnan(value) else dict.fromkeys(periods, value)


# ------------------------------------------------------------------------------------------ the decision


@dataclass(frozen=True)
class Decision:
    state: str | None  # None: keep the current state (ignore, all missing)
    breaching: tuple[int, ...]  # positions (in the evaluated range) of breaching datapoints
    present: tuple[int, ...]  # positions of periods that had a value
    treated_missing: int  # missing periods counted as breaching / not breaching


def breaches(value: float, threshold: float, comparison: str) -> bool:
    if comparison not in COMPARISONS:
        raise AlarmMathError(f"comparison {comparison!r} is not evaluated locally")
    return bool(COMPARISONS[comparison][0](value, threshold))


def decide(
    values: Sequence[float | None],
    threshold: float,
    comparison: str,
    datapoints_to_alarm: int,
    treat_missing: str | None,
) -> Decision:
    """The state for the evaluated periods (oldest first) under CloudWatch's rules for missing data."""
    present = tuple(i for i, v in enumerate(values) if v is not None)
    breaching = [i for i in present if breaches(values[i], threshold, comparison)]  # type: ignore[arg-type]
    missing = [i for i, v in enumerate(values) if v is None]
    mode = treat_missing or "missing"
    treated = 0
    if mode == "breaching":
        breaching = sorted(breaching + missing)
        treated = len(missing)
    elif mode == "notBreaching":
        treated = len(missing)
    elif not present:
        return Decision(INSUFFICIENT_DATA if mode == "missing" else None, (), (), 0)
    state = ALARM if len(breaching) >= datapoints_to_alarm else OK
    return Decision(state, tuple(breaching), present, treated)
