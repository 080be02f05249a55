"""The Admin API client: URL, token header, throttling (THROTTLED and cost), 429/5xx, errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from common.errors import TransientError
from common.http_session import retrying_session
from common.shopify import admin
from common.shopify.admin import (
    ShopifyAdminClient,
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyThrottledError,
    ShopifyUnavailableError,
    admin_api_url,
)
from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from tests.conftest import load_shared_json

TOKEN = "shpat_client_test_token"


class Clock:
    """A fake monotonic clock that ``sleep`` advances, so waits are recorded, not spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(admin, "_sleep", fake.sleep)
    monkeypatch.setattr(admin, "_monotonic", fake.monotonic)
    return fake


class Canned(BaseAdapter):
    """A transport that answers from a list of (status, body) and records the requests."""

    def __init__(self, answers: list[tuple[int, Any]]) -> None:
        super().__init__()
        self.answers = answers
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = str(request.url)
        return response

    def close(self) -> None:
        return None


def canned_client(answers: list[tuple[int, Any]], **kwargs: Any) -> tuple[ShopifyAdminClient, Canned]:
    adapter = Canned(answers)
    session = requests.Session()
    session.mount("https://", adapter)
    client = ShopifyAdminClient(
        url=admin_api_url("shop.myshopify.com", "2026-01"), access_token=lambda: TOKEN, session=session, **kwargs
    )
    return client, adapter


def cost(requested: float, available: float, rate: float = 50.0, maximum: float = 1000.0) -> dict[str, Any]:
    return {
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": requested,
                "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate},
            }
        }
    }


@pytest.fixture
def simulator() -> Iterator[ShopifyAdminSimulator]:
    sim = ShopifyAdminSimulator()
    sim.state.access_tokens = {TOKEN}
    try:
        yield sim
    finally:
        sim.stop()


def sim_client(sim: ShopifyAdminSimulator, **kwargs: Any) -> ShopifyAdminClient:
    session = retrying_session(retry_post=True, backoff_factor=0.01, total=kwargs.pop("retries", 3))
    return ShopifyAdminClient(
        url=admin_api_url("shop.myshopify.com", "2026-01", sim.url),
        access_token=kwargs.pop("token", lambda: TOKEN),
        session=session,
        **kwargs,
    )


# ------------------------------------------------------------------------------------------------ url


@pytest.mark.parametrize(
    ("domain", "base", "expected"),
    [
        ("shop.myshopify.com", None, "https://shop.myshopify.com/admin/api/2026-01/graphql.json"),
        ("https://shop.myshopify.com/", None, "https://shop.myshopify.com/admin/api/2026-01/graphql.json"),
        ("shop.myshopify.com", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/admin/api/2026-01/graphql.json"),
        ("shop.myshopify.com", "", "https://shop.myshopify.com/admin/api/2026-01/graphql.json"),
    ],
)
def test_admin_api_url(domain: str, base: str | None, expected: str) -> None:
    assert admin_api_url(domain, "2026-01", base) == expected


@pytest.mark.parametrize("domain", ["", "shop.myshopify.com/admin"])
def test_admin_api_url_refuses_what_is_not_a_host(domain: str) -> None:
    with pytest.raises(ValueError, match="shop domain"):
        admin_api_url(domain, "2026-01")


# ------------------------------------------------------------------------------------------- requests


def test_the_token_travels_in_its_header_and_data_comes_back(simulator: ShopifyAdminSimulator) -> None:
    data = sim_client(simulator).execute("query Shop { shop { name } }")
    assert data == {"shop": {"name": "Local simulated shop"}}
    client, adapter = canned_client([(200, {"data": {"shop": {"name": "x"}}})])
    client.execute("{ shop { name } }", {"a": 1})
    sent = adapter.sent[0]
    assert sent.headers["X-Shopify-Access-Token"] == TOKEN
    assert json.loads(sent.body or b"{}") == {"query": "{ shop { name } }", "variables": {"a": 1}}


def test_a_refused_token_is_an_auth_error_that_never_shows_the_token(simulator: ShopifyAdminSimulator) -> None:
    wrong = "shpat_wrong_value_123"
    with pytest.raises(ShopifyAuthError) as caught:
        sim_client(simulator, token=lambda: wrong).execute("{ shop { name } }")
    assert caught.value.status == 401
    assert "Invalid API key or access token" in str(caught.value)
    assert wrong not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert not isinstance(caught.value, TransientError)


def test_403_is_an_auth_error() -> None:
    client, _ = canned_client(
        [(403, {"errors": "[API] This action requires merchant approval for read_orders scope."})]
    )
    with pytest.raises(ShopifyAuthError, match="read_orders") as caught:
        client.execute("{ shop { name } }")
    assert caught.value.status == 403


# ------------------------------------------------------------------------------------------ throttling


def test_throttled_responses_are_waited_out(simulator: ShopifyAdminSimulator, clock: Clock) -> None:
    simulator.state.configure(throttle=2)
    data = sim_client(simulator).execute("{ shop { name } }")
    assert data["shop"]["name"]
    assert simulator.state.counters["throttled"] == 2
    assert len(clock.sleeps) == 2
    assert all(s > 0 for s in clock.sleeps)


def test_the_wait_follows_the_bucket_of_a_real_throttled_response(clock: Clock) -> None:
    throttled = load_shared_json("shopify/graphql/throttled__community-shopify.json")
    client, adapter = canned_client([(200, throttled), (200, {"data": {"orders": []}, **cost(752, 0)})])
    assert client.execute("{ orders { id } }") == {"orders": []}
    # 752 requested, 666 available, 50 per second restored: 1.72 s until the query fits
    assert clock.sleeps == [pytest.approx((752 - 666) / 50.0)]
    assert len(adapter.sent) == 2


def test_throttling_beyond_the_budget_raises_a_transient_error(simulator: ShopifyAdminSimulator, clock: Clock) -> None:
    simulator.state.configure(throttle=50)
    with pytest.raises(ShopifyThrottledError, match="throttled") as caught:
        sim_client(simulator, max_throttle_wait_seconds=1.0).execute("{ shop { name } }")
    assert isinstance(caught.value, TransientError)
    assert sum(clock.sleeps) <= 1.0


def test_cost_throttling_is_avoided_before_sending(clock: Clock) -> None:
    """The last response left 10 points; the same query costs 110: wait for the bucket first."""
    client, _ = canned_client(
        [(200, {"data": {"a": 1}, **cost(110, 10, rate=100)}), (200, {"data": {"a": 2}, **cost(110, 0, rate=100)})]
    )
    client.execute("{ a }")
    assert clock.sleeps == []
    client.execute("{ a }")
    assert clock.sleeps == [pytest.approx(1.0)]
    assert client.last_cost is not None
    assert client.last_cost["requestedQueryCost"] == 110


def test_a_refilled_bucket_needs_no_wait(clock: Clock) -> None:
    client, _ = canned_client(
        [(200, {"data": {"a": 1}, **cost(110, 10, rate=100)}), (200, {"data": {"a": 2}, **cost(110, 900)})]
    )
    client.execute("{ a }")
    clock.now += 5.0  # the bucket refilled meanwhile
    client.execute("{ a }")
    assert clock.sleeps == []


# --------------------------------------------------------------------------------------- HTTP failures


def test_a_503_is_retried_by_the_session(simulator: ShopifyAdminSimulator) -> None:
    simulator.state.configure(http_error={"status": 503, "times": 1})
    assert sim_client(simulator).execute("{ shop { name } }")["shop"]
    assert simulator.state.counters["http_503"] == 1
    assert simulator.state.counters["requests"] == 2


def test_persistent_5xx_is_unavailable(simulator: ShopifyAdminSimulator) -> None:
    simulator.state.configure(http_error={"status": 502, "times": 20})
    with pytest.raises(ShopifyUnavailableError) as caught:
        sim_client(simulator, retries=2).execute("{ shop { name } }")
    assert isinstance(caught.value, TransientError)
    assert simulator.state.counters["http_502"] == 3


def test_persistent_429_is_throttled(simulator: ShopifyAdminSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3.util.retry

    monkeypatch.setattr(urllib3.util.retry.Retry, "sleep_for_retry", lambda self, response=None: False)
    simulator.state.configure(http_error={"status": 429, "times": 20})
    with pytest.raises(ShopifyThrottledError):
        sim_client(simulator, retries=1).execute("{ shop { name } }")


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ShopifyAdminClient(
        url=f"http://127.0.0.1:{port}/admin/api/2026-01/graphql.json",
        access_token=lambda: TOKEN,
        session=retrying_session(retry_post=True, total=1, backoff_factor=0.01),
    )
    with pytest.raises(ShopifyUnavailableError):
        client.execute("{ shop { name } }")


def test_a_body_that_is_not_json_is_unavailable() -> None:
    client, _ = canned_client([(200, b"<html>maintenance</html>")])
    with pytest.raises(ShopifyUnavailableError, match="not JSON"):
        client.execute("{ shop { name } }")


# ----------------------------------------------------------------------------------------- GraphQL


def test_graphql_errors_carry_messages_and_codes(simulator: ShopifyAdminSimulator) -> None:
    with pytest.raises(ShopifyGraphQLError) as caught:
        sim_client(simulator).execute("{ nope { id } }")
    assert caught.value.codes == ["undefinedField"]
    assert "Field 'nope' doesn't exist on type 'QueryRoot'" in caught.value.messages[0]
    assert TOKEN not in str(caught.value)


def test_access_denied_is_an_auth_error() -> None:
    denied = {
        "errors": [
            {
                "message": "Access denied for customer field. Required access: `read_customers` access scope.",
                "extensions": {"code": "ACCESS_DENIED"},
            }
        ],
        "data": None,
    }
    client, _ = canned_client([(200, denied)])
    with pytest.raises(ShopifyAuthError, match="read_customers") as caught:
        client.execute("{ customer(id: 1) { id } }")
    assert caught.value.status is None


def test_a_string_error_and_other_4xx() -> None:
    client, _ = canned_client([(200, {"errors": "Not Found"}), (404, {"errors": "Not Found"})])
    with pytest.raises(ShopifyGraphQLError, match="Not Found"):
        client.execute("{ a }")
    with pytest.raises(ShopifyGraphQLError, match="HTTP 404") as caught:
        client.execute("{ a }")
    assert caught.value.status == 404
