"""HTTP to third-party APIs (Shopify, Triple Whale): timeouts always, retries with backoff.

Retries honour ``Retry-After`` on 429/503 and back off exponentially otherwise. Only idempotent methods
are retried by default; a caller whose POST is a read (GraphQL queries) opts in with ``retry_post``.

Credentials never cross origins. requests drops ``Authorization`` when a redirect leaves the host, but
not the headers the third-party APIs use (``X-Shopify-Access-Token``, Triple Whale's ``x-api-key``):
this session drops every header of ``CREDENTIAL_HEADERS`` (plus the caller's ``credential_headers``)
whenever a redirect leads to another origin (scheme, host or port). A client whose API never redirects
also passes ``follow_redirects=False`` and reports the 3xx itself. This costs nothing per request: it
runs only when a redirect is followed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (3.05, 30.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Request headers that carry a credential (lower case): never sent to an origin a redirect leads to.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-shopify-access-token", "x-api-key"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str | bytes | None) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, lower case, with the scheme's default port made explicit."""
    text = url.decode("utf-8", "replace") if isinstance(url, bytes) else (url or "")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def redirect_target(response: requests.Response) -> str:
    """Where a redirect answer points, as an origin only (a Location may carry a signed query): for errors."""
    location = response.headers.get("Location") or ""
    if not location:
        return "no Location"
    scheme, host, port = origin(urljoin(response.url or "", location))
    return f"{scheme}://{host}:{port}" if host else "no Location"


class _TimeoutSession(requests.Session):
    def __init__(
        self,
        timeout: tuple[float, float],
        *,
        follow_redirects: bool = True,
        credential_headers: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self._timeout = timeout
        self._follow_redirects = follow_redirects
        self.credential_headers = CREDENTIAL_HEADERS | {name.lower() for name in credential_headers}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if not self._follow_redirects:
            kwargs["allow_redirects"] = False  # whatever the verb's default (get() passes True itself)
        return super().send(request, **kwargs)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect: requests' own handling, then no credential header towards another origin."""
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if origin(response.request.url) != origin(prepared_request.url):
            for name in [name for name in prepared_request.headers if name.lower() in self.credential_headers]:
                del prepared_request.headers[name]


def retrying_session(
    *,
    total: int = 5,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    retry_post: bool = False,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = "shopify-data-platform",
    follow_redirects: bool = True,
    credential_headers: Iterable[str] = (),
) -> requests.Session:
    """A session that retries connection errors and 429/5xx responses with exponential backoff.

    Redirects are followed (unless ``follow_redirects`` is false: the 3xx is returned as it is), but a
    credential header (``CREDENTIAL_HEADERS`` and ``credential_headers``) never follows one to another origin.
    """
    methods = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} | ({"POST"} if retry_post else set())
    retry = Retry(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = _TimeoutSession(timeout, follow_redirects=follow_redirects, credential_headers=credential_headers)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
