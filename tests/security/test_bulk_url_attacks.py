"""Hostile bulk result URLs: foreign schemes and hosts, and redirects away from Shopify's result storage.

The result URL is a signed link to every exported order's personal data. The download step reads it from
``bulkOperation(id:)`` itself (it never passes through Step Functions) and fetches it only on an allowed
origin: https on Shopify's storage, plus what the stack's ``BulkResultHosts`` adds (here, as locally, the
simulator's http://127.0.0.1 origin). Each attack makes the simulator answer a hostile URL (or redirect to
one) and asserts the status (the run fails with ``ResultUrlNotAllowedError`` naming the origin only, and no
request reached the hostile target), that no state changed (no part, manifest, checkpoint, upload or
watermark), and that the legitimate run sent after it was processed completely.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from common.shopify.bulk import ResultDownloadError, ResultUrlNotAllowedError, read_watermark
from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from tests.unit.shopify_bulk.conftest import BUCKET, handlers, s3, simulator  # noqa: F401 - fixtures
from tests.unit.shopify_bulk.test_handlers import BACKFILL, download_all, export, manifest, poll, poll_until_decided

Handlers = Callable[[str], ModuleType]
SIGNATURE = "GoogleAccessId=assets-us-prod%40shopify-tiers.iam.gserviceaccount.com&Expires=1&Signature=SECRET-SIG"


class Trap:
    """A local server standing in for a hostile target: it only counts what reaches it."""

    def __init__(self) -> None:
        hits: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return None

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _lake(s3_client: Any) -> dict[str, Any]:
    keys = sorted(
        item["Key"]
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for item in page.get("Contents", [])
    )
    uploads = s3_client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    return {"keys": keys, "uploads": [u["Key"] for u in uploads]}


# name -> the URL bulkOperation answers (``{trap}`` is a local server that must never be reached)
FOREIGN_URLS = {
    "http-on-shopify-storage": f"http://storage.googleapis.com/shopify-tiers-assets-prod-us-east1/r?{SIGNATURE}",
    "ftp-scheme": "ftp://storage.googleapis.com/shopify-tiers-assets-prod-us-east1/r",
    "file-scheme": "file:///etc/passwd",
    "data-scheme": 'data:application/jsonl,{"__typename":"Order","id":"gid://shopify/Order/1"}',
    "gopher-scheme": "gopher://storage.googleapis.com:443/_GET%20/",
    "another-host": f"https://evil.example/bulk.jsonl?{SIGNATURE}",
    "lookalike-host": f"https://storage.googleapis.com.evil.example/r?{SIGNATURE}",
    "userinfo-host": f"https://storage.googleapis.com@evil.example/r?{SIGNATURE}",
    "backslash-host": "https://evil.example\\@storage.googleapis.com/r",
    "another-port-on-shopify-storage": "https://storage.googleapis.com:8443/r",
    "instance-metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "another-local-port": "{trap}/bulk.jsonl",
    "header-injection": "https://storage.googleapis.com/r\r\nHost: evil.example",
}
# name -> where the (allowed) result URL redirects
REDIRECTS = {
    "redirect-to-another-host": "https://evil.example/stolen.jsonl",
    "redirect-to-another-local-port": "{trap}/stolen.jsonl",
    "redirect-to-instance-metadata": "http://169.254.169.254/latest/meta-data/",
    "redirect-to-a-file": "file:///etc/passwd",
    "protocol-relative-redirect": "//evil.example/stolen.jsonl",
    "redirect-downgrading-shopify-storage": "http://storage.googleapis.com/shopify/r",
}


def _attack(
    handlers: Handlers,  # noqa: F811 - the fixture
    simulator: ShopifyAdminSimulator,  # noqa: F811 - the fixture
    s3: Any,  # noqa: F811 - the fixture
    trap: Trap,
    behaviour: dict[str, Any],
    raised: type[Exception],
) -> str:
    run = export(handlers, BACKFILL)
    decided = poll_until_decided(handlers, simulator, run)
    assert "http" not in json.dumps(decided), "the poll output (Step Functions state) holds no URL"
    before = _lake(s3)
    simulator.state.configure(**behaviour)
    with pytest.raises(raised) as caught:
        download_all(handlers, run, decided, refresh=lambda: poll(handlers, run))
    assert type(caught.value) is raised
    message = str(caught.value)
    assert "SECRET-SIG" not in message, "the cause names no signature"
    assert "/r" not in message.replace("://", ""), "the cause names no path"
    assert _lake(s3) == before, "no part, manifest, checkpoint or upload"
    assert read_watermark(s3, BUCKET) is None
    assert trap.hits == [], "nothing reached the hostile target"
    assert simulator.state.counters["result_requests_with_credentials"] == 0
    return message


def _legitimate_run_completes(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:  # noqa: F811
    simulator.state.configure(result_url=None, redirect_results=None)
    run = export(handlers, BACKFILL)
    final, _ = download_all(handlers, run, poll_until_decided(handlers, simulator, run))
    document = manifest(s3, run["run_id"])
    assert final["done"]
    assert document["complete"]
    assert document["counts_match"]
    assert document["objects_written"] > 0


@pytest.mark.parametrize("name", sorted(FOREIGN_URLS))
def test_a_foreign_result_url_fails_the_run_untouched(
    handlers: Handlers,  # noqa: F811 - the fixture
    simulator: ShopifyAdminSimulator,  # noqa: F811 - the fixture
    s3: Any,  # noqa: F811 - the fixture
    trap: Trap,
    name: str,
) -> None:
    url = FOREIGN_URLS[name].replace("{trap}", trap.url)
    message = _attack(handlers, simulator, s3, trap, {"result_url": url}, ResultUrlNotAllowedError)
    assert "not on an origin Shopify serves bulk results from" in message
    assert "BulkResultHosts" in message
    _legitimate_run_completes(handlers, simulator, s3)


@pytest.mark.parametrize("name", sorted(REDIRECTS))
def test_a_redirect_away_from_the_allowed_origins_is_not_followed(
    handlers: Handlers,  # noqa: F811 - the fixture
    simulator: ShopifyAdminSimulator,  # noqa: F811 - the fixture
    s3: Any,  # noqa: F811 - the fixture
    trap: Trap,
    name: str,
) -> None:
    location = REDIRECTS[name].replace("{trap}", trap.url)
    message = _attack(handlers, simulator, s3, trap, {"redirect_results": location}, ResultUrlNotAllowedError)
    assert message.startswith("a redirect from the result URL is on ")
    assert simulator.state.counters["result_redirects"] == 1
    _legitimate_run_completes(handlers, simulator, s3)


def test_a_redirect_loop_on_an_allowed_origin_ends(
    handlers: Handlers,  # noqa: F811 - the fixture
    simulator: ShopifyAdminSimulator,  # noqa: F811 - the fixture
    s3: Any,  # noqa: F811 - the fixture
    trap: Trap,
) -> None:
    _attack(handlers, simulator, s3, trap, {"redirect_results": f"{simulator.url}/_results/x/y"}, ResultDownloadError)
    assert simulator.state.counters["result_redirects"] == 4
    _legitimate_run_completes(handlers, simulator, s3)


def test_a_redirect_within_the_allowed_origins_is_followed_without_credentials(
    handlers: Handlers,  # noqa: F811 - the fixture
    simulator: ShopifyAdminSimulator,  # noqa: F811 - the fixture
    s3: Any,  # noqa: F811 - the fixture
) -> None:
    """The positive control: Shopify's storage may redirect within itself; the file is read, no token sent."""
    run = export(handlers, BACKFILL)
    decided = poll_until_decided(handlers, simulator, run)
    signed = handlers("bulk_download").downloader.result_url(run["operation_id"], False)
    simulator.state.configure(result_url=f"{simulator.url}/_results/first-hop/bulk.jsonl")
    hops: list[str] = []

    class OneHop(dict[str, Any]):
        """The first result request is redirected to the signed URL, which is then served."""

        def get(self, key: str, default: Any = None) -> Any:
            if key == "redirect_results":
                hops.append(key)
                return signed if len(hops) == 1 else None
            return super().get(key, default)

    simulator.state.behaviour = OneHop(simulator.state.behaviour)
    final, _ = download_all(handlers, run, decided)
    assert final["done"]
    assert manifest(s3, run["run_id"])["complete"]
    assert simulator.state.counters["result_redirects"] == 1
    assert simulator.state.counters["result_requests_with_credentials"] == 0
