"""HTTP to third-party APIs (Shopify, Triple Whale): timeouts always, retries with backoff.

Retries honour ``Retry-After`` on 429/503 and back off exponentially otherwise. Only idempotent methods
are retried by default; a caller whose POST is a read (GraphQL queries) opts in with ``retry_post``.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (3.05, 30.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def retrying_session(
    *,
    total: int = 5,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    retry_post: bool = False,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = "shopify-data-platform",
) -> requests.Session:
    """A session that retries connection errors and 429/5xx responses with exponential backoff."""
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
    session = _TimeoutSession(timeout)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
