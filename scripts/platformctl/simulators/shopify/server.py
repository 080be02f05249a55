"""The HTTP server of the simulated Admin API on 127.0.0.1 (an ephemeral port): GraphQL requests with their
token check and forced HTTP faults, bulk results with ``Range`` support and expiring URLs (optionally cut off
or redirected), and the ``/_simulator/...`` control routes tests and the demo use."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import re
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from platformctl.simulators.json_http import JsonRequestHandler
from platformctl.simulators.local_secrets import LocalSecretValues
from platformctl.simulators.shopify.resolvers import execute
from platformctl.simulators.shopify.state import SimulatorState

TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 - a header name, not a secret
SECRET_SUFFIX = "/ShopifyAdminApiSecret"  # noqa: S105 - the secret's name, not its value
_GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")


class _Handler(JsonRequestHandler):
    server: _Server

    # -------------------------------------------------------------------------------- routes

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        try:
            if _GRAPHQL_PATH.match(path):
                self._graphql(simulator)
            elif path == "/_simulator/control":
                self._json(200, {"behaviour": simulator.state.configure(**json.loads(self._body() or b"{}"))})
            elif path == "/_simulator/reset":
                options = json.loads(self._body() or b"{}")
                simulator.state.reset(operations=bool(options.get("operations")))
                self._json(200, {"behaviour": simulator.state.behaviour})
            elif path.startswith("/_simulator/resources/"):
                count = simulator.state.add_resources(path.rsplit("/", 1)[1], json.loads(self._body() or b"null"))
                self._json(201, {"stored": count})
            else:
                self._json(404, {"errors": "Not Found"})
        except (ValueError, TypeError) as exc:
            self._json(400, {"errors": str(exc)})

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        if path.startswith("/_results/"):
            self._result(simulator, path)
        elif path == "/_simulator/state":
            self._json(200, simulator.state.snapshot())
        elif path.startswith("/_simulator/resources/"):
            kind = path.rsplit("/", 1)[1]
            self._json(200, list(simulator.state.resources.get(kind, {}).values()))
        elif _GRAPHQL_PATH.match(path):
            self._json(405, {"errors": "GraphQL requests use POST"})
        else:
            self._json(404, {"errors": "Not Found"})

    def _graphql(self, simulator: ShopifyAdminSimulator) -> None:
        state = simulator.state
        state.counters["requests"] += 1
        body = self._body()
        token = self.headers.get(TOKEN_HEADER)
        if not token:
            state.counters["unauthorized"] += 1
            self._json(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
            return
        if not simulator.token_is_valid(token):
            state.counters["unauthorized"] += 1
            self._json(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
            return
        forced = state._take("http_error")
        if forced:
            status = int(forced.get("status", 503))
            state.counters[f"http_{status}"] += 1
            headers = {"Retry-After": "1"} if status == 429 else {}
            message = (
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
            )
            self._json(status, {"errors": message if status == 429 else "Internal Server Error"}, headers)
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/graphql"):
            query, variables = body.decode("utf-8"), dict[str, Any]()
            operation_name = None
        else:
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                self._json(400, {"errors": "Bad Request: the body is not JSON"})
                return
            query, variables = request.get("query"), request.get("variables") or {}
            operation_name = request.get("operationName") if isinstance(request.get("operationName"), str) else None
        if not isinstance(query, str) or not query.strip():
            self._json(400, {"errors": {"query": "Required parameter missing or invalid"}})
            return
        self._json(200, execute(state, query, variables, operation_name))

    def _redirected(self, state: SimulatorState) -> bool:
        """Count the result request (and any credentials it carries); answer 302 when told to."""
        state.counters["result_requests"] += 1
        if self.headers.get("Authorization") or self.headers.get(TOKEN_HEADER):
            state.counters["result_requests_with_credentials"] += 1
        redirect = state.behaviour.get("redirect_results")
        if not redirect:
            return False
        state.counters["result_redirects"] += 1
        self.send_response(302)
        self.send_header("Location", str(redirect))
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _result(self, simulator: ShopifyAdminSimulator, path: str) -> None:
        state = simulator.state
        if self._redirected(state):
            return
        token = path.split("/")[2] if path.count("/") >= 3 else ""
        with state.lock:
            grant = state.urls.get(token)
            expired = grant is not None and (grant.revoked or grant.expires_at <= time.time())
        if grant is None:
            self._xml(404, "NoSuchKey", "The specified key does not exist.")
            return
        if expired:
            state.counters["expired_url_requests"] += 1
            self._xml(400, "ExpiredToken", "The provided token has expired. Request signature expired.")
            return
        size = grant.file.size
        ranged = self.headers.get("Range")
        span = self._requested_span(ranged, size)
        if span is None:
            return
        start, end = span
        length = end - start + 1
        limit = length
        with state.lock:
            cut = state.behaviour.get("cut_after_bytes")
            if cut:
                state.behaviour["cut_after_bytes"] = None
                limit = min(limit, int(cut))
            if grant.cut_after is not None:
                limit = min(limit, max(0, grant.cut_after - grant.served))
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = self._send_file(grant.file.path, start, limit)
        with state.lock:
            grant.served += sent
            state.counters["result_bytes_served"] += sent
            broke_off = sent < length
            if broke_off and grant.cut_after is not None and grant.served >= grant.cut_after:
                grant.revoked = True
        if broke_off:
            state.counters["connections_cut"] += 1
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _requested_span(self, ranged: str | None, size: int) -> tuple[int, int] | None:
        """The byte span a GET asks for; None after answering 416 for one that cannot be served."""
        if not ranged:
            return 0, size - 1
        self.server.simulator.state.counters["range_requests"] += 1
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", ranged.strip())
        start = int(match[1]) if match else size
        end = (min(size - 1, int(match[2])) if match[2] else size - 1) if match else size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return start, end

    def _send_file(self, path: Path, start: int, count: int) -> int:
        if count <= 0:
            return 0
        with path.open("rb") as handle:
            try:
                return int(self.connection.sendfile(handle, start, count))
            except (BrokenPipeError, ConnectionResetError):
                return 0

    def _xml(self, status: int, code: str, message: str) -> None:
        payload = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: ShopifyAdminSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading a result early (a download step that reached its budget) resets
        # the connection: that is normal for a file server, not an error worth a traceback.
        return None


class ShopifyAdminSimulator:
    """The server: ``url`` (``http://127.0.0.1:<port>``), ``state``, ``stop()``."""

    def __init__(self, cloud: Any = None, *, state: SimulatorState | None = None, port: int = 0) -> None:
        self.cloud = cloud
        self.state = state or SimulatorState()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.simulator = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.state.base_url = self.url
        self._secret = LocalSecretValues(cloud, SECRET_SUFFIX, "access_token")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="shopify-simulator")
        self._thread.start()

    def graphql_url(self, api_version: str = "2026-10") -> str:
        return f"{self.url}/admin/api/{api_version}/graphql.json"

    def token_is_valid(self, token: str) -> bool:
        expected = self._expected_tokens()
        if expected is None:
            return True
        if token in expected:
            return True
        self._secret.forget()  # the secret may just have been rotated: look again next time
        return False

    def _expected_tokens(self) -> set[str] | None:
        """The secret's access_token when the local cloud has one, else ``state.access_tokens`` (or any)."""
        from_secret = self._secret.values()
        if from_secret:
            self.state.counters["auth_checked_against_secret"] += 1
            return from_secret
        return set(self.state.access_tokens) or None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.state.cleanup()


# Modules that add fields to QUERY_FIELDS / NODE_TYPES; the local cloud's simulator loads those present.
EXTENSIONS = ("platformctl.simulators.shopify.resources",)


def start(cloud: Any) -> ShopifyAdminSimulator:
    """The ``SIMULATORS["shopify"]`` factory: a simulator for a local cloud, with every extension loaded."""
    for name in EXTENSIONS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return ShopifyAdminSimulator(cloud)
