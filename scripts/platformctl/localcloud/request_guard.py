"""Keeps web pages out of the local cloud: every server it runs on 127.0.0.1 (the emulator, the HTTP API
front, the simulators) answers only requests that cannot have come from a foreign web page.

A request is refused with ``403`` and a short plain-text body, before anything handles it, when

- its ``Host`` is missing or is not ``127.0.0.1``, ``localhost`` or ``[::1]`` (any port): a DNS-rebinding
  page reaches the loopback address under its own name, and the browser sends that name;
- it carries an ``Origin`` other than the server's own (loopback host, same port), ``null`` included: a
  browser sends ``Origin`` on every cross-origin fetch, on every POST and on every preflight, while boto3,
  the AWS CLI, curl and ``requests`` never send one;
- its ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site`` (a page on another loopback port is
  "same-site"): the browser's own statement that a page other than this server's made the request.

No ``Access-Control-*`` header ever leaves these servers (moto's global CORS echoes any origin; no client
of the local cloud needs CORS), so even a request that got through could not be read by a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
_CORS_PREFIX = "access-control-"


def _split_host(value: str) -> tuple[str, str] | None:
    """``host[:port]`` (``[v6][:port]``) as (lower-case host, port text); None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return host.rstrip("."), port


def host_allowed(host: str | None) -> bool:
    if not host:
        return False
    parts = _split_host(host)
    return parts is not None and parts[0] in LOOPBACK_HOSTS


def origin_allowed(origin: str, own_port: int | None) -> bool:
    """The server's own origin only: ``http://<loopback host>:<own port>``."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or (parts.hostname or "").lower() not in LOOPBACK_HOSTS:
        return False
    return own_port is None or (port or 80) == own_port


def refusal(host: str | None, origin: str | None, fetch_site: str | None, own_port: int | None) -> str | None:
    """Why a request with these headers is refused, or None when it may be served."""
    if not host_allowed(host):
        return "the local cloud answers only requests addressed to 127.0.0.1, localhost or [::1]"
    if origin is not None and not origin_allowed(origin, own_port):
        return "the local cloud does not answer requests made by web pages (foreign Origin)"
    if fetch_site is not None and fetch_site.strip().lower() in _FOREIGN_FETCH_SITES:
        return "the local cloud does not answer requests made by web pages (Sec-Fetch-Site)"
    return None


def _log_refusal(server: str, method: str, path: str, host: str | None, origin: str | None, reason: str) -> None:
    logger.warning(
        "%s refused %s %s (Host %r, Origin %r): %s",
        server,
        method,
        path[:200],
        (host or "")[:100],
        (origin or "")[:100],
        reason,
    )


def _is_cors_header(name: str) -> bool:
    return name.lower().startswith(_CORS_PREFIX)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GuardedWsgiApp:
    """A WSGI app (the emulator's) behind the guard, with every ``Access-Control-*`` response header removed."""

    def __init__(self, app: WsgiApp, name: str = "emulator") -> None:
        self.app, self.name = app, name

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        origin = environ.get("HTTP_ORIGIN")
        try:
            own_port: int | None = int(environ.get("SERVER_PORT") or 0) or None
        except ValueError:
            own_port = None
        reason = refusal(host, origin, environ.get("HTTP_SEC_FETCH_SITE"), own_port)
        if reason is not None:
            _log_refusal(
                self.name, str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO", "")), host, origin, reason
            )
            body = (reason + "\n").encode()
            start_response(
                "403 Forbidden",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ],
            )
            return [body]

        def without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if not _is_cors_header(name)]
            return start_response(status, kept, exc_info) if exc_info is not None else start_response(status, kept)

        return self.app(environ, without_cors)


class GuardedRequestHandler(BaseHTTPRequestHandler):
    """An ``http.server`` handler behind the guard: refused requests never reach a ``do_*`` method, and
    ``Access-Control-*`` headers are never sent."""

    guard_name = "local server"

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        host, origin = self.headers.get("Host"), self.headers.get("Origin")
        address = self.server.server_address
        own_port = int(address[1]) if isinstance(address, tuple) else None
        reason = refusal(host, origin, self.headers.get("Sec-Fetch-Site"), own_port)
        if reason is None:
            return True
        _log_refusal(self.guard_name, self.command or "-", self.path or "", host, origin, reason)
        body = (reason + "\n").encode()
        self.close_connection = True  # the refused request's body is never read
        self.send_response(403)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return False

    def send_header(self, keyword: str, value: str) -> None:
        if not _is_cors_header(keyword):
            super().send_header(keyword, value)
