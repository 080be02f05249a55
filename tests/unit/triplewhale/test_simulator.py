"""The local Triple Whale simulator speaks the Summary Page wire format: keys, request validation,
deterministic pages of the published shape, and the switches tests and the demo use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from common.errors import BadInput
from platformctl.simulators import SIMULATORS
from platformctl.simulators.triplewhale import SimulatorState, TripleWhaleSimulator
from triplewhale.summary import api

KEY = "a-valid-looking-key"
BODY = {"shopDomain": "example.myshopify.com", "period": {"start": "2025-03-09", "end": "2025-03-09"}, "todayHour": 3}


@pytest.fixture
def sim() -> Iterator[TripleWhaleSimulator]:
    simulator = TripleWhaleSimulator(state=SimulatorState())
    yield simulator
    simulator.stop()


def post(sim: TripleWhaleSimulator, body: Any = BODY, key: str | None = KEY) -> requests.Response:
    headers = {"x-api-key": key} if key is not None else {}
    return requests.post(sim.summary_url(), json=body, headers=headers, timeout=10)


def test_it_is_registered_for_the_local_cloud() -> None:
    assert "triplewhale" in SIMULATORS


def test_a_day_is_a_deterministic_summary_page_of_hourly_points(sim: TripleWhaleSimulator) -> None:
    first, second = post(sim), post(sim)
    assert first.status_code == 200
    assert first.content == second.content
    assert api.check_summary_page(first.content) == len(first.json()["metrics"]) > 5
    metric = first.json()["metrics"][0]
    assert {"id", "title", "metricId", "values", "charts", "delta", "services", "valueType"} <= set(metric)
    assert set(metric["values"]) == {"current", "previous"}
    assert len(metric["charts"]["current"]) == len(metric["charts"]["previous"]) == 24
    other_day = post(sim, {**BODY, "period": {"start": "2025-03-08", "end": "2025-03-08"}})
    assert other_day.content != first.content
    week = post(sim, {**BODY, "period": {"start": "2025-03-01", "end": "2025-03-07"}}).json()
    assert len(week["metrics"][0]["charts"]["current"]) == 7


@pytest.mark.parametrize("key", [None, "", "short", "has space in it"])
def test_a_missing_or_malformed_key_is_401(sim: TripleWhaleSimulator, key: str | None) -> None:
    response = post(sim, key=key)
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_only_configured_keys_pass_when_there_are_any(sim: TripleWhaleSimulator) -> None:
    sim.state.api_keys = {"the-one-key-0001"}
    assert post(sim).status_code == 401
    assert post(sim, key="the-one-key-0001").status_code == 200
    url = f"{sim.url}/api/v2/users/api-keys/me"
    validate = requests.get(url, headers={"x-api-key": "the-one-key-0001"}, timeout=10)
    assert validate.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"period": {"start": "2025-03-09", "end": "2025-03-09"}, "todayHour": 3},
        {**BODY, "shopDomain": "example.com"},
        {**BODY, "period": {"start": "2025-03-09"}},
        {**BODY, "period": {"start": "2025-03-10", "end": "2025-03-09"}},
        {**BODY, "todayHour": 0},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_request_is_400(sim: TripleWhaleSimulator, body: Any) -> None:
    response = post(sim, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid request.")


def test_switches_count_down_and_are_logged(sim: TripleWhaleSimulator) -> None:
    control = requests.post(f"{sim.url}/_simulator/control", json={"throttle": 1, "retry_after": 3}, timeout=10)
    assert control.status_code == 200
    throttled = post(sim)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    assert post(sim).status_code == 200
    sim.state.configure(http_error={"status": 503, "times": 1}, bad_shape=1, unauthorized=1, forbidden=1)
    assert [post(sim).status_code for _ in range(5)] == [401, 403, 503, 200, 200]
    state = requests.get(f"{sim.url}/_simulator/state", timeout=10).json()
    assert [e["status"] for e in state["requests"]] == [429, 200, 401, 403, 503, 200, 200]
    assert state["requests"][0]["start"] == "2025-03-09"
    assert KEY not in str(state)
    requests.post(f"{sim.url}/_simulator/reset", json={}, timeout=10).raise_for_status()
    assert sim.state.snapshot()["requests"] == []


def test_bad_shape_answers_200_with_a_body_that_is_not_a_summary_page(sim: TripleWhaleSimulator) -> None:
    sim.state.configure(bad_shape=1)
    response = post(sim)
    assert response.status_code == 200
    with pytest.raises(BadInput):
        api.check_summary_page(response.content)


def test_an_unknown_switch_is_refused(sim: TripleWhaleSimulator) -> None:
    response = requests.post(f"{sim.url}/_simulator/control", json={"explode": True}, timeout=10)
    assert response.status_code == 400
