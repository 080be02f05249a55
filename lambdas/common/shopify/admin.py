"""The Shopify Admin GraphQL API: one client for every handler that reads from a shop.

``execute(query, variables)`` returns the response's ``data`` object and deals with everything the
Admin API does to a busy client:

- HTTP 429 and 5xx, connection errors and timeouts are retried with backoff by the session
  (``common.http_session.retrying_session`` with ``retry_post``: a GraphQL query is a read);
  what still fails afterwards raises ``ShopifyThrottledError`` (429) or ``ShopifyUnavailableError``.
- GraphQL ``THROTTLED`` errors (the cost bucket is empty) are waited out: the wait is what the bucket
  needs to hold ``requestedQueryCost`` again at ``restoreRate`` (``extensions.cost.throttleStatus``).
- Cost throttling is also avoided before it happens: the client remembers the last bucket state and the
  cost each query asked for, and waits until the bucket has refilled enough before sending it again.
- Waiting is bounded per call by ``max_throttle_wait_seconds``; beyond it ``ShopifyThrottledError``
  (a ``TransientError``) tells the caller's platform to retry later.
- 401/403 and ``ACCESS_DENIED`` raise ``ShopifyAuthError``; other GraphQL ``errors`` raise
  ``ShopifyGraphQLError`` with Shopify's messages. The access token is never part of a message.
- Redirects are never followed (the Admin API does not redirect a shop's permanent *.myshopify.com
  domain): a 3xx raises ``ShopifyRedirectError`` naming the origin it pointed at, so the access token
  goes nowhere but the configured origin, whatever session the client was given.

``userErrors`` are data, not errors: a mutation's caller reads them from the returned object.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from common.errors import TransientError
from common.http_session import redirect_target, retrying_session

if TYPE_CHECKING:
    from common.secret_cache import CachedSecret
    from common.settings import ShopAdminSettings

TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 - a header name, not a secret

# A throttled response is retried no sooner than this, even when the arithmetic says "now": the
# bucket's figures are a snapshot and a zero wait would spin.
_MIN_THROTTLE_WAIT = 0.25
_MAX_MESSAGE = 500
SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")

# Seams for tests (a fake clock makes throttling tests instant and deterministic).
_sleep: Callable[[float], None] = time.sleep
_monotonic: Callable[[], float] = time.monotonic


class ShopifyAdminError(Exception):
    """Base of the errors that are not worth retrying as they are."""


class ShopifyAuthError(ShopifyAdminError):
    """401/403 or ACCESS_DENIED: the token is wrong, revoked, or lacks a scope. Fix the app or the secret."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ShopifyGraphQLError(ShopifyAdminError):
    """The API answered with GraphQL ``errors`` (or a 4xx) that a retry will not fix."""

    def __init__(self, messages: list[str], *, codes: list[str] | None = None, status: int | None = None) -> None:
        self.messages = messages
        self.codes = codes or []
        self.status = status
        super().__init__("; ".join(messages) or "Shopify Admin API error")


class ShopifyRedirectError(ShopifyAdminError):
    """The endpoint answered with a redirect, which the client never follows (the token would go along)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ShopifyThrottledError(TransientError):
    """Throttling (GraphQL THROTTLED, cost bucket or HTTP 429) outlasted the client's wait budget."""


class ShopifyUnavailableError(TransientError):
    """5xx, timeouts or connection failures that persisted through the session's retries."""


def admin_api_url(shop_domain: str, api_version: str, base_url: str | None = None) -> str:
    """``https://<shop>.myshopify.com/admin/api/<version>/graphql.json``; ``base_url`` replaces the origin.

    The shop domain must be a permanent ``<shop>.myshopify.com`` domain (the token goes to it); the deploy
    tool checks ``ShopifyAdminBaseUrl`` (https, a myshopify.com host outside the local environment).
    """
    if base_url:
        root = base_url.rstrip("/")
    else:
        domain = shop_domain.strip().removeprefix("https://").removeprefix("http://").strip("/").lower()
        if not SHOP_DOMAIN.fullmatch(domain):
            raise ValueError(f"shop domain must be a host name such as example.myshopify.com, got {shop_domain!r}")
        root = f"https://{domain}"
    version = api_version.strip()
    if not version:
        raise ValueError("Shopify API version is empty")
    return f"{root}/admin/api/{version}/graphql.json"


@dataclass
class _Bucket:
    """The shop's cost bucket as last reported, so the next wait can be computed without asking."""

    maximum: float
    available: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        return min(self.maximum, self.available + self.restore_rate * max(0.0, now - self.seen_at))

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points are available (0 when they already are)."""
        missing = min(cost, self.maximum) - self.available_at(now)
        if missing <= 0:
            return 0.0
        if self.restore_rate <= 0:
            return math.inf
        return missing / self.restore_rate


class ShopifyAdminClient:
    """A GraphQL client for one shop's Admin API endpoint (see ``admin_api_url``)."""

    def __init__(
        self,
        *,
        url: str,
        access_token: Callable[[], str],
        session: requests.Session | None = None,
        max_throttle_wait_seconds: float = 20.0,
    ) -> None:
        self.url = url
        self._access_token = access_token
        self._session = session if session is not None else retrying_session(retry_post=True)
        self._max_wait = max_throttle_wait_seconds
        self._bucket: _Bucket | None = None
        self._costs: dict[str, float] = {}
        self.last_cost: dict[str, Any] | None = None
        """``extensions.cost`` of the last response, for callers that report it."""

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run ``query`` and return its ``data``; waits out throttling within the client's budget."""
        query_key = hashlib.sha256(query.encode("utf-8")).hexdigest()
        waited = 0.0
        while True:
            expected = self._costs.get(query_key)
            if expected is not None and self._bucket is not None:
                waited += self._wait(self._bucket.wait_for(expected, _monotonic()), waited)
            body = self._post(query, variables)
            self._note_cost(body, query_key)
            errors = body.get("errors")
            if errors:
                throttled_wait = self._throttle_wait(body)
                if throttled_wait is not None:
                    waited += self._wait(throttled_wait, waited)
                    continue
                self._raise_for_errors(errors)
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyGraphQLError(["response has no data object"])
            return data

    # -- transport ---------------------------------------------------------------------------------

    def _post(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        headers = {
            TOKEN_HEADER: self._access_token(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        try:
            response = self._session.post(self.url, json=payload, headers=headers, allow_redirects=False)
        except requests.exceptions.RetryError as exc:
            if "429" in str(exc):
                raise ShopifyThrottledError("Shopify Admin API kept answering 429 Too Many Requests") from None
            raise ShopifyUnavailableError(f"Shopify Admin API kept failing: {_short(exc)}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ShopifyUnavailableError(f"Shopify Admin API unreachable or timed out: {type(exc).__name__}") from None
        status = response.status_code
        if 300 <= status < 400:
            raise ShopifyRedirectError(_redirect_message(status, response), status=status)
        if status in (401, 403):
            raise ShopifyAuthError(
                f"Shopify Admin API refused the access token (HTTP {status}): {_error_text(response)}; "
                "check the ShopifyAdminApiSecret access_token and the app's scopes",
                status=status,
            )
        if status == 429:
            raise ShopifyThrottledError("Shopify Admin API kept answering 429 Too Many Requests")
        if status >= 500:
            raise ShopifyUnavailableError(f"Shopify Admin API answered HTTP {status} after retries")
        if status >= 400:
            raise ShopifyGraphQLError([f"HTTP {status}: {_error_text(response)}"], status=status)
        try:
            body = response.json()
        except ValueError:
            raise ShopifyUnavailableError(
                f"Shopify Admin API answered HTTP {status} with a body that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise ShopifyUnavailableError("Shopify Admin API answered with JSON that is not an object")
        return body

    # -- throttling --------------------------------------------------------------------------------

    def _note_cost(self, body: dict[str, Any], query_key: str) -> None:
        cost = (body.get("extensions") or {}).get("cost")
        if not isinstance(cost, dict):
            return
        self.last_cost = cost
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None:
            self._costs[query_key] = requested
        status = cost.get("throttleStatus")
        if isinstance(status, dict):
            maximum = _number(status.get("maximumAvailable"))
            available = _number(status.get("currentlyAvailable"))
            rate = _number(status.get("restoreRate"))
            if maximum is not None and available is not None and rate is not None:
                self._bucket = _Bucket(maximum, available, rate, _monotonic())

    def _throttle_wait(self, body: dict[str, Any]) -> float | None:
        """Seconds to wait when the response is a THROTTLED error, else None."""
        errors = body.get("errors")
        if not isinstance(errors, list) or not any(_code(e) == "THROTTLED" for e in errors):
            return None
        cost = (body.get("extensions") or {}).get("cost") or {}
        requested = _number(cost.get("requestedQueryCost"))
        if self._bucket is not None and requested is not None:
            return max(_MIN_THROTTLE_WAIT, self._bucket.wait_for(requested, _monotonic()))
        return 1.0

    def _wait(self, seconds: float, already_waited: float) -> float:
        if seconds <= 0:
            return 0.0
        if already_waited + seconds > self._max_wait:
            raise ShopifyThrottledError(
                f"Shopify Admin API throttled this client beyond {self._max_wait:g}s "
                f"(waited {already_waited:.1f}s, needs {seconds:.1f}s more)"
            )
        _sleep(seconds)
        return seconds

    # -- errors ------------------------------------------------------------------------------------

    def _raise_for_errors(self, errors: Any) -> None:
        if isinstance(errors, str):
            raise ShopifyGraphQLError([_clip(errors)])
        items = errors if isinstance(errors, list) else [errors]
        messages = [_clip(str(e.get("message", e))) if isinstance(e, dict) else _clip(str(e)) for e in items]
        codes = [code for code in (_code(e) for e in items) if code]
        if "ACCESS_DENIED" in codes:
            raise ShopifyAuthError("Shopify Admin API denied access: " + "; ".join(messages))
        raise ShopifyGraphQLError(messages, codes=codes)


def _code(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def _short(exc: BaseException) -> str:
    return _clip(type(exc).__name__ + ": " + str(exc).split("\n", 1)[0])


def _redirect_message(status: int, response: requests.Response) -> str:
    """Where a redirect pointed (its origin only: a Location may carry a signed query), and what to check."""
    return (
        f"Shopify Admin API answered HTTP {status} redirecting to {redirect_target(response)}; the client never "
        "follows a redirect (the access token would go along): set ShopifyAdminBaseUrl to the shop's "
        "https://<shop>.myshopify.com origin, or leave it empty"
    )


def _error_text(response: requests.Response) -> str:
    """Shopify's own error text from a 4xx body (``{"errors": "..."}``), clipped; never request headers."""
    try:
        body = response.json()
    except ValueError:
        return _clip(response.text.strip()) or response.reason or ""
    if isinstance(body, dict) and "errors" in body:
        errors = body["errors"]
        if isinstance(errors, list):
            return _clip("; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors))
        return _clip(str(errors))
    return _clip(str(body))


def shop_admin_client(settings: ShopAdminSettings, secret: CachedSecret) -> ShopifyAdminClient:
    """The client of the shop a function's settings name, its token read from ``secret``."""
    return ShopifyAdminClient(
        url=admin_api_url(settings.shop_domain, settings.api_version, settings.admin_base_url or None),
        access_token=lambda: secret.key("access_token"),
        max_throttle_wait_seconds=settings.max_throttle_wait_seconds,
    )
