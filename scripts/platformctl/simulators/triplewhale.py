"""A local Triple Whale API: the Summary Page endpoint's wire format, errors and throttling, no network.

Served on 127.0.0.1 (an ephemeral port) for the local cloud, the tests and ``make demo``:

``POST /api/v2/summary-page/get-data``
    The API key in the ``x-api-key`` header; a JSON body ``{"shopDomain": "<shop>.myshopify.com",
    "period": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "todayHour": 1-25}``. Answers 200 with a
    deterministic summary page for that shop and period: ``{"metrics": [{"id", "title", "metricId",
    "chart", "tip", "services", "valueType", "delta", "values": {"current", "previous"}, "charts":
    {"current": [{"x", "y"}...], "previous": [...]}}, ...]}`` - the shape of Triple Whale's published
    sample (hourly points for a one-day period, daily points otherwise; "previous" is the period of the
    same length just before). The same request always gets the same bytes.
    A body that is not such a request answers 400 ``{"success": false, "message": ...}``.

``GET /api/v2/users/api-keys/me``
    The key-validation endpoint: 200 ``{}`` for a valid key, 401 otherwise.

API keys: a missing ``x-api-key`` answers 401. When the local cloud has deployed the Triple Whale API
key secret (``<brand>/<env>/TripleWhaleApiKey``), the key must be its ``api_key``, so the real secret
flow is exercised; before that (or without a local cloud) the key must be one of
``SimulatorState.api_keys`` when any are set, else any key of 8 or more visible characters without
spaces passes. The 401/403 bodies are this simulator's own (``{"success": false, "message": ...}``):
Triple Whale documents the statuses, not their bodies.

``/_simulator/...`` (tests and the demo switch behaviours here; ``SimulatorState.configure`` does the same)
    ``POST /_simulator/control`` merges behaviours (JSON); ``POST /_simulator/reset`` restores the
    defaults and clears counters and the request log; ``GET /_simulator/state`` shows behaviours,
    counters and the request log (period, status, when; never the key).

Behaviours (``DEFAULT_BEHAVIOUR`` lists them all), each counted down per summary-page request:
    ``throttle`` (the next N answer 429 with ``Retry-After: <retry_after>`` seconds), ``retry_after``,
    ``http_error`` ({"status": 503, "times": 1}: the next requests answer that 5xx), ``bad_shape`` (the
    next N answer 200 with a body that is not a summary page), ``unauthorized`` (the next N answer 401
    whatever the key), ``forbidden`` (the next N answer 403, as for a shop the key's owner cannot
    read), ``seed`` (changes every generated number).
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from platformctl.simulators.json_http import JsonRequestHandler
from platformctl.simulators.local_secrets import LocalSecretValues

API_KEY_HEADER = "x-api-key"
SECRET_SUFFIX = "/TripleWhaleApiKey"  # noqa: S105 - the secret's name, not its value
SUMMARY_PATH = "/api/v2/summary-page/get-data"
VALIDATE_PATH = "/api/v2/users/api-keys/me"
DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "seed": 20260101,
    "throttle": 0,
    "retry_after": 1,
    "http_error": None,
    "bad_shape": 0,
    "unauthorized": 0,
    "forbidden": 0,
}
LOG_LENGTH = 500
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAUSIBLE_KEY = re.compile(r"^\S{8,}$")


# ========================================================================================= the data


@dataclass(frozen=True)
class MetricSpec:
    id: str
    title: str
    metric_id: str
    value_type: str  # currency | decimal | percent
    services: tuple[str, ...]
    tip: str
    base: float  # typical value per hour (additive metrics); ratios are computed
    kind: str = "sum"  # sum | ratio


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("sales", "Sales", "totalSales", "currency", ("shopify",), "What customers paid", 410.0),
    MetricSpec("orders", "Orders", "totalOrders", "decimal", ("shopify",), "Orders placed", 5.0),
    MetricSpec("aov", "Average Order Value", "avgOrderValue", "currency", ("shopify",), "Sales / Orders", 0, "ratio"),
    MetricSpec("newCustomerSales", "New Customer Revenue", "newCustomerSales", "currency", ("shopify",),
               "Sales to first-time customers", 250.0),
    MetricSpec("facebookAds", "Facebook Ads Spend", "facebookAdsSpend", "currency", ("facebook-ads",),
               "Spend reported by Meta", 60.0),
    MetricSpec("googleAds", "Google Ads Spend", "googleAdsSpend", "currency", ("google-ads",),
               "Spend reported by Google", 35.0),
    MetricSpec("tiktokAds", "TikTok Ads Spend", "tiktokAdsSpend", "currency", ("tiktok-ads",),
               "Spend reported by TikTok", 12.0),
    MetricSpec("blendedAds", "Blended Ad Spend", "totalAdSpend", "currency", ("blended",),
               "Spend of every ad channel", 0, "ratio"),
    MetricSpec("roas", "Blended ROAS", "blendedRoas", "decimal", ("blended",), "Sales / Blended Ad Spend", 0, "ratio"),
    MetricSpec("pixelPurchases", "Pixel Purchases", "pixelPurchases", "decimal", ("triple-whale",),
               "Purchases the pixel attributed", 4.0),
    MetricSpec("pixelConversionRate", "Pixel Conversion Rate", "pixelConversionRate", "percent", ("triple-whale",),
               "Purchases / sessions", 0, "ratio"),
    MetricSpec("netProfit", "Net Profit", "netProfit", "currency", ("finance",), "Sales - ad spend - costs", 0,
               "ratio"),
)  # fmt: skip


def _series(seed: int, shop: str, start: date, end: date, base: float, metric: str) -> list[float]:
    """Hourly values of one day, or daily values of a longer period: deterministic in their inputs."""
    hourly = start == end
    points = 24 if hourly else (end - start).days + 1
    values = []
    for index in range(points):
        moment = start.isoformat() if hourly else (start + timedelta(days=index)).isoformat()
        rng = random.Random(f"{seed}|{shop}|{metric}|{moment}|{index if hourly else 0}")  # noqa: S311 - not crypto
        if hourly:
            shape = 0.35 + 1.3 * max(0.0, 1 - abs(index - 14) / 12)  # quiet nights, busy afternoons
            values.append(round(base * shape * rng.uniform(0.6, 1.4), 2))
        else:
            values.append(round(base * 24 * rng.uniform(0.7, 1.3), 2))
    return values


def _totals(seed: int, shop: str, start: date, end: date) -> tuple[dict[str, list[float]], dict[str, float]]:
    series: dict[str, list[float]] = {}
    for spec in SPECS:
        if spec.kind == "sum":
            series[spec.id] = _series(seed, shop, start, end, spec.base, spec.id)
    n = len(series["sales"])
    spend = [round(series["facebookAds"][i] + series["googleAds"][i] + series["tiktokAds"][i], 2) for i in range(n)]
    series["blendedAds"] = spend
    series["aov"] = [round(series["sales"][i] / series["orders"][i], 2) if series["orders"][i] else 0 for i in range(n)]
    series["roas"] = [round(series["sales"][i] / spend[i], 2) if spend[i] else 0 for i in range(n)]
    sessions = [max(1.0, series["pixelPurchases"][i] * 40) for i in range(n)]
    series["pixelConversionRate"] = [round(100 * series["pixelPurchases"][i] / sessions[i], 2) for i in range(n)]
    series["netProfit"] = [round(series["sales"][i] * 0.55 - spend[i], 2) for i in range(n)]
    sums = {key: round(sum(values), 2) for key, values in series.items()}
    sums["aov"] = round(sums["sales"] / sums["orders"], 2) if sums["orders"] else 0
    sums["roas"] = round(sums["sales"] / sums["blendedAds"], 2) if sums["blendedAds"] else 0
    sums["pixelConversionRate"] = round(sum(series["pixelConversionRate"]) / n, 2)
    return series, sums


def summary_page(shop: str, start: date, end: date, *, seed: int) -> dict[str, Any]:
    """The summary page of ``shop`` for ``start``..``end`` (inclusive), compared with the period before."""
    length = (end - start).days + 1
    before_start, before_end = start - timedelta(days=length), start - timedelta(days=1)
    series, current = _totals(seed, shop, start, end)
    previous_series, previous = _totals(seed, shop, before_start, before_end)
    metrics = []
    for spec in SPECS:
        now, then = current[spec.id], previous[spec.id]
        delta = round((now - then) / then * 100) if then else 0
        first_x = 1
        metrics.append(
            {
                "id": spec.id,
                "title": spec.title,
                "chart": "chart" + spec.id[0].upper() + spec.id[1:],
                "metricId": spec.metric_id,
                "tip": spec.tip,
                "services": list(spec.services),
                "valueType": spec.value_type,
                "delta": delta,
                "values": {"current": now, "previous": then},
                "charts": {
                    "current": [{"x": first_x + i, "y": y} for i, y in enumerate(series[spec.id])],
                    "previous": [{"x": first_x + i, "y": y} for i, y in enumerate(previous_series[spec.id])],
                },
            }
        )
    return {"metrics": metrics}


def not_a_summary_page() -> dict[str, Any]:
    """What ``bad_shape`` answers: a 200 whose body is not a summary page."""
    return {"status": "maintenance", "message": "Summary page data is being recalculated", "metrics": None}


# ======================================================================================== the state


class SimulatorState:
    """Behaviours, counters, the request log and the keys accepted without a local cloud."""

    def __init__(self, behaviour: dict[str, Any] | None = None) -> None:
        self.lock = threading.RLock()
        self.behaviour: dict[str, Any] = copy.deepcopy(DEFAULT_BEHAVIOUR)
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LENGTH)
        self.api_keys: set[str] = set()
        if behaviour:
            self.configure(**behaviour)

    def configure(self, **changes: Any) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise ValueError(f"unknown simulator behaviour(s): {', '.join(sorted(unknown))}")
        with self.lock:
            for key, value in changes.items():
                self.behaviour[key] = copy.deepcopy(value)
            return copy.deepcopy(self.behaviour)

    def reset(self) -> None:
        with self.lock:
            self.behaviour = copy.deepcopy(DEFAULT_BEHAVIOUR)
            self.counters.clear()
            self.log.clear()

    def take(self, key: str) -> Any:
        """Consume one use of a counted behaviour; what it was, or None when it is off."""
        with self.lock:
            current = self.behaviour.get(key)
            if not current:
                return None
            if isinstance(current, int):  # bool included
                self.behaviour[key] = int(current) - 1
                return True
            times = int(current.get("times", 1))
            self.behaviour[key] = None if times <= 1 else {**current, "times": times - 1}
            return current

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.counters["requests"] += 1
            self.counters[f"http_{entry['status']}"] += 1
            self.log.append({**entry, "at": round(time.time(), 3)})

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "behaviour": copy.deepcopy(self.behaviour),
                "counters": dict(self.counters),
                "requests": list(self.log),
            }


# ============================================================================================= HTTP


class InvalidSummaryRequest(ValueError):  # noqa: N818 - named after what the client sent
    """A summary-page request body the API answers 400 for."""


def _error(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


def parse_summary_request(raw: bytes) -> tuple[str, date, date, int]:
    """(shop, start, end, todayHour) of a summary-page request body; ``InvalidSummaryRequest`` says what is wrong."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise InvalidSummaryRequest("Invalid request. The body is not JSON.") from None
    if not isinstance(body, dict):
        raise InvalidSummaryRequest("Invalid request. The body must be a JSON object.")
    shop, period, hour = body.get("shopDomain"), body.get("period"), body.get("todayHour")
    if not isinstance(shop, str) or not _SHOP.match(shop):
        raise InvalidSummaryRequest("Invalid request. shopDomain must be the shop's <shop>.myshopify.com domain.")
    if not isinstance(period, dict):
        raise InvalidSummaryRequest("Invalid request. period with start and end is required.")
    start, end = period.get("start"), period.get("end")
    if not (isinstance(start, str) and _DATE.match(start[:10]) and isinstance(end, str) and _DATE.match(end[:10])):
        raise InvalidSummaryRequest("Invalid request. period.start and period.end must be dates (YYYY-MM-DD).")
    try:
        first, last = date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
    except ValueError:
        raise InvalidSummaryRequest("Invalid request. period.start and period.end must be calendar dates.") from None
    if first > last:
        raise InvalidSummaryRequest("Invalid request. period.start is after period.end.")
    if (last - first).days > 366:
        raise InvalidSummaryRequest("Invalid request. The period is longer than a year.")
    if isinstance(hour, bool) or not isinstance(hour, int | float) or not 1 <= hour <= 25:
        raise InvalidSummaryRequest("Invalid request. todayHour must be a number from 1 to 25.")
    return shop, first, last, int(hour)


class _Handler(JsonRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        try:
            if path == SUMMARY_PATH:
                self._summary(simulator)
            elif path == "/_simulator/control":
                self._json(200, {"behaviour": simulator.state.configure(**json.loads(self._body() or b"{}"))})
            elif path == "/_simulator/reset":
                self._body()
                simulator.state.reset()
                self._json(200, {"behaviour": simulator.state.behaviour})
            else:
                self._json(404, _error("Not Found"))
        except (ValueError, TypeError) as exc:
            self._json(400, _error(str(exc)))

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        if path == "/_simulator/state":
            self._json(200, simulator.state.snapshot())
        elif path == VALIDATE_PATH:
            ok = simulator.key_is_valid(self.headers.get(API_KEY_HEADER))
            self._json(200, {}) if ok else self._json(401, _error("Invalid API key"))
        elif path == SUMMARY_PATH:
            self._json(405, _error("Use POST"), {"Allow": "POST"})
        else:
            self._json(404, _error("Not Found"))

    def _summary(self, simulator: TripleWhaleSimulator) -> None:
        state = simulator.state
        raw = self._body()
        entry: dict[str, Any] = {"path": SUMMARY_PATH}
        request: tuple[str, date, date, int] | None = None
        problem = ""
        try:
            request = parse_summary_request(raw)
        except InvalidSummaryRequest as exc:
            problem = str(exc)
        else:
            shop, start, end, hour = request
            entry.update(shop=shop, start=start.isoformat(), end=end.isoformat(), today_hour=hour)
        status, body, headers = self._refusal(simulator, request) or self._answer(simulator, request, problem)
        state.record({**entry, "status": status})
        self._json(status, body, headers)

    def _refusal(
        self, simulator: TripleWhaleSimulator, request: tuple[str, date, date, int] | None
    ) -> tuple[int, Any, dict[str, str]] | None:
        """What the switches (and the key check) answer instead of the data, if anything."""
        state = simulator.state
        shop = request[0] if request else "this shop"
        if not simulator.key_is_valid(self.headers.get(API_KEY_HEADER)) or state.take("unauthorized"):
            return 401, _error("Unauthorized: missing or invalid API key (x-api-key)"), {}
        if state.take("forbidden"):
            return 403, _error(f"Forbidden: the API key's owner has no access to {shop}"), {}
        if state.take("throttle"):
            seconds = str(state.behaviour.get("retry_after", 1))
            message = f"Rate limit exceeded. Please wait {seconds} seconds before retrying."
            return 429, _error(message), {"Retry-After": seconds, "RateLimit-Policy": "100;w=60"}
        forced = state.take("http_error")
        if forced:
            status = int(forced.get("status", 503)) if isinstance(forced, dict) else 503
            return status, _error("An unexpected error occurred. Please try again later."), {}
        return None

    def _answer(
        self, simulator: TripleWhaleSimulator, request: tuple[str, date, date, int] | None, problem: str
    ) -> tuple[int, Any, dict[str, str]]:
        state = simulator.state
        if request is None:
            return 400, _error(problem or "Invalid request."), {}
        if state.take("bad_shape"):
            return 200, not_a_summary_page(), {}
        shop, start, end, _ = request
        seed = int(state.behaviour.get("seed", DEFAULT_BEHAVIOUR["seed"]))
        return 200, summary_page(shop, start, end, seed=seed), {"RateLimit-Policy": "100;w=60"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: TripleWhaleSimulator


class TripleWhaleSimulator:
    """The server: ``url`` (``http://127.0.0.1:<port>``), ``state``, ``stop()``."""

    def __init__(self, cloud: Any = None, *, state: SimulatorState | None = None, port: int = 0) -> None:
        self.cloud = cloud
        self.state = state or SimulatorState()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.simulator = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._secret = LocalSecretValues(cloud, SECRET_SUFFIX, "api_key")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="triplewhale-simulator")
        self._thread.start()

    def summary_url(self) -> str:
        return self.url + SUMMARY_PATH

    def key_is_valid(self, key: str | None) -> bool:
        if not key:
            return False
        expected = self._secret.values()
        if expected:
            self.state.counters["auth_checked_against_secret"] += 1
            if key in expected:
                return True
            self._secret.forget()  # the secret may just have been changed: look again next time
            return False
        if self.state.api_keys:
            return key in self.state.api_keys
        return bool(_PLAUSIBLE_KEY.match(key))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start(cloud: Any) -> TripleWhaleSimulator:
    """The ``SIMULATORS["triplewhale"]`` factory: a simulator for a local cloud."""
    return TripleWhaleSimulator(cloud)
