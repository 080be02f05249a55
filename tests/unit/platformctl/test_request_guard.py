"""The local cloud's request guard and the worker environment's deny-list, without a running emulator."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from platformctl.localcloud.lambda_runtime import declared_environment
from platformctl.localcloud.request_guard import GuardedWsgiApp, refusal


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:4566", "localhost:4566", "LOCALHOST", "[::1]:4566", "[::1]", "localhost."]
)
def test_loopback_hosts_are_served(host: str) -> None:
    assert refusal(host, None, None, 4566) is None


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        "evil.example:4566",
        "127.0.0.1.nip.io:4566",
        "localhost.evil.example",
        "::1",
        "[::1",
        "[::1]x",
        "127.0.0.1:port",
        "0.0.0.0:4566",
        "127.0.0.2:4566",
    ],
)
def test_other_hosts_are_refused(host: str | None) -> None:
    assert refusal(host, None, None, 4566) is not None


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:4566", True),
        ("http://[::1]:4566", True),
        ("null", False),
        ("https://127.0.0.1:4566", False),
        ("http://127.0.0.1:3000", False),
        ("http://127.0.0.1", False),
        ("http://127.0.0.1.evil.example:4566", False),
        ("https://evil.example", False),
        ("http://127.0.0.1:99999", False),
    ],
)
def test_only_the_servers_own_origin_passes(origin: str, allowed: bool) -> None:
    assert (refusal("127.0.0.1:4566", origin, None, 4566) is None) is allowed


@pytest.mark.parametrize(
    ("site", "allowed"), [("none", True), ("same-origin", True), ("same-site", False), ("cross-site", False)]
)
def test_sec_fetch_site(site: str, allowed: bool) -> None:
    assert (refusal("localhost:4566", None, site, 4566) is None) is allowed


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["reached"] = True
    start_response(
        "200 OK",
        [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "POST"),
            ("Content-Type", "text/plain"),
        ],
    )
    return [b"ok"]


def _call(headers: dict[str, str]) -> tuple[str, list[tuple[str, str]], bytes, bool]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "SERVER_PORT": "4566", **headers}
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = b"".join(GuardedWsgiApp(_app)(environ, start_response))
    return seen["status"], seen["headers"], body, bool(environ.get("reached"))


def test_the_wsgi_guard_refuses_before_the_app_and_strips_cors() -> None:
    status, headers, body, reached = _call({"HTTP_HOST": "127.0.0.1:4566", "HTTP_ORIGIN": "https://evil.example"})
    assert (status, reached) == ("403 Forbidden", False)
    assert b"web pages" in body
    status, headers, body, reached = _call({"HTTP_HOST": "127.0.0.1:4566"})
    assert (status, body, reached) == ("200 OK", b"ok", True)
    assert headers == [("Content-Type", "text/plain")]


def test_declared_variables_lose_the_deny_list_and_log_names_only(caplog: pytest.LogCaptureFixture) -> None:
    declared = {
        "TABLE_NAME": "orders",
        "POWERTOOLS_SERVICE_NAME": "svc",
        "LOG_LEVEL": "INFO",
        "PYTHONWARNINGS": "ignore::antigravity.X",
        "pythonpath": "/evil",
        "BROWSER": "sh -c secret-value",
        "LD_PRELOAD": "/evil.so",
        "AWS_ENDPOINT_URL_S3": "http://evil",
        "AWS_LAMBDA_EXEC_WRAPPER": "/evil.sh",
        "GLIBC_TUNABLES": "x",
        "https_proxy": "http://evil",
        "PLATFORM_LOCAL_PROTOCOL_FD": "1",
        "BAD-NAME": "x",
        "NUL": "a\0b",
    }
    with caplog.at_level(logging.WARNING, logger="platformctl.localcloud.lambda_runtime"):
        kept = declared_environment("fn", declared)
    assert kept == {"TABLE_NAME": "orders", "POWERTOOLS_SERVICE_NAME": "svc", "LOG_LEVEL": "INFO"}
    assert len(caplog.records) == len(declared) - len(kept)
    assert "secret-value" not in caplog.text
    assert "'BROWSER' dropped" in caplog.text
