"""Redirects and credentials in the shared session and the Shopify Admin client (tests/security has the attacks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from common.http_session import CREDENTIAL_HEADERS, origin, retrying_session
from common.shopify.admin import TOKEN_HEADER, ShopifyAdminClient, ShopifyRedirectError, admin_api_url
from triplewhale.summary.api import API_KEY_HEADER

SECRET = "s3cr3t-value"


class _Server:
    """Records requests; a path in ``redirects`` answers (status, Location), any other 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.redirects: dict[str, tuple[int, str]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.received.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
                if self.path in server.redirects:
                    status, target = server.redirects[self.path]
                    self.send_response(status)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    first, second = _Server(), _Server()
    yield first, second
    first.close()
    second.close()


def _redirect(via: _Server, status: int, target: str) -> str:
    path = f"/go/{len(via.redirects)}"
    via.redirects[path] = (status, target)
    return via.url + path


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Shop.MyShopify.com/admin", ("https", "shop.myshopify.com", 443)),
        ("https://shop.myshopify.com:443/", ("https", "shop.myshopify.com", 443)),
        ("http://127.0.0.1:8080/x", ("http", "127.0.0.1", 8080)),
        ("http://127.0.0.1/x", ("http", "127.0.0.1", 80)),
        (b"https://a.example/", ("https", "a.example", 443)),
        (None, ("", "", None)),
    ],
)
def test_origin(url: str | bytes | None, expected: tuple[str, str, int | None]) -> None:
    assert origin(url) == expected


def test_the_api_credential_headers_are_known_to_the_session() -> None:
    assert {TOKEN_HEADER.lower(), API_KEY_HEADER.lower(), "authorization"} <= CREDENTIAL_HEADERS


def test_a_same_origin_redirect_keeps_the_credential(servers: tuple[_Server, _Server]) -> None:
    first, _ = servers
    response = retrying_session(total=0).get(_redirect(first, 302, first.url + "/here"), headers={TOKEN_HEADER: SECRET})
    assert response.status_code == 200
    assert [r.get(TOKEN_HEADER.lower()) for r in first.received] == [SECRET, SECRET]


def test_a_cross_origin_redirect_drops_every_credential_header_and_keeps_the_rest(
    servers: tuple[_Server, _Server],
) -> None:
    first, second = servers
    headers = {TOKEN_HEADER: SECRET, API_KEY_HEADER: SECRET, "Authorization": f"Bearer {SECRET}", "X-Other": "kept"}
    session = retrying_session(total=0, credential_headers=["X-Vendor-Secret"])
    response = session.get(_redirect(first, 301, second.url + "/there"), headers={**headers, "X-Vendor-Secret": SECRET})
    assert response.status_code == 200
    (arrived,) = second.received
    assert SECRET not in str(arrived)
    assert arrived["x-other"] == "kept"
    assert arrived["path"] == "/there"


def test_a_redirect_chain_back_to_the_first_origin_does_not_regain_the_credential(
    servers: tuple[_Server, _Server],
) -> None:
    first, second = servers
    back = _redirect(second, 302, first.url + "/back")
    retrying_session(total=0).get(_redirect(first, 302, back), headers={TOKEN_HEADER: SECRET})
    assert [r["path"] for r in first.received] == [first.received[0]["path"], "/back"]
    assert TOKEN_HEADER.lower() not in first.received[1]


def test_follow_redirects_false_returns_the_redirect_itself(servers: tuple[_Server, _Server]) -> None:
    first, second = servers
    response = retrying_session(total=0, follow_redirects=False).get(_redirect(first, 307, second.url))
    assert response.status_code == 307
    assert second.received == []
    # not even when asked: the session follows none
    assert (
        retrying_session(follow_redirects=False)
        .get(_redirect(first, 302, second.url), allow_redirects=True)
        .is_redirect
    )
    assert second.received == []


# ----------------------------------------------------------------------------------- Shopify Admin API


class _Redirecting(requests.adapters.BaseAdapter):
    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 302
        response.headers["Location"] = self.location
        response.url = request.url or ""
        response.request = request
        response._content = b""
        return response

    def close(self) -> None:
        return None


def test_the_admin_client_reports_a_redirect_by_its_origin_only() -> None:
    adapter = _Redirecting("https://other.example:8443/signed?X-Goog-Signature=abc#f")
    session = requests.Session()
    session.mount("https://", adapter)
    client = ShopifyAdminClient(
        url=admin_api_url("acme.myshopify.com", "2026-10"), access_token=lambda: SECRET, session=session
    )
    with pytest.raises(ShopifyRedirectError) as caught:
        client.execute("query { shop { name } }")
    message = str(caught.value)
    assert "HTTP 302 redirecting to https://other.example:8443;" in message
    assert "Signature" not in message
    assert SECRET not in message
    assert len(adapter.sent) == 1


def test_the_admin_client_names_a_redirect_without_location() -> None:
    adapter = _Redirecting("")
    session = requests.Session()
    session.mount("https://", adapter)
    client = ShopifyAdminClient(
        url=admin_api_url("acme.myshopify.com", "2026-10"), access_token=lambda: SECRET, session=session
    )
    with pytest.raises(ShopifyRedirectError, match="redirecting to no Location"):
        client.execute("query { shop { name } }")


@pytest.mark.parametrize("domain", ["Acme.MyShopify.com", "https://acme.myshopify.com/"])
def test_admin_api_url_normalises_a_myshopify_domain(domain: str) -> None:
    assert admin_api_url(domain, "2026-10") == "https://acme.myshopify.com/admin/api/2026-10/graphql.json"


@pytest.mark.parametrize(
    "domain", ["acme.example.com", "myshopify.com", "acme.myshopify.com.evil.example", "acme.myshopify.com:8443"]
)
def test_admin_api_url_refuses_a_host_that_is_not_a_shop(domain: str) -> None:
    with pytest.raises(ValueError, match="shop domain must be"):
        admin_api_url(domain, "2026-10")
