from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from common.http_session import retrying_session


class _Flaky(BaseHTTPRequestHandler):
    calls = 0
    failures = 2

    def do_GET(self) -> None:
        type(self).calls += 1
        status = 503 if type(self).calls <= type(self).failures else 200
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    _Flaky.calls = 0
    httpd = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_retries_5xx_then_succeeds(server: str) -> None:
    response = retrying_session(backoff_factor=0.01).get(server)
    assert response.status_code == 200
    assert _Flaky.calls == 3


def test_post_is_not_retried_unless_asked(server: str) -> None:
    assert retrying_session(backoff_factor=0.01).post(server).status_code == 503
    assert _Flaky.calls == 1
    assert retrying_session(backoff_factor=0.01, retry_post=True).post(server).status_code == 200


def test_gives_up_after_total(server: str) -> None:
    _Flaky.failures = 10
    try:
        response = retrying_session(total=2, backoff_factor=0.01).get(server)
    finally:
        _Flaky.failures = 2
    assert response.status_code == 503
    assert _Flaky.calls == 3
