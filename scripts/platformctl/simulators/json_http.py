"""What every simulator's HTTP handler shares: quiet logs, JSON answers with their length, the request body,
and the local cloud's request guard (loopback ``Host`` only, no foreign ``Origin``, no CORS headers)."""

from __future__ import annotations

import json
from typing import Any

from platformctl.localcloud.request_guard import GuardedRequestHandler


class JsonRequestHandler(GuardedRequestHandler):
    protocol_version = "HTTP/1.1"
    guard_name = "simulator"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # tests and the demo read the simulators' state, not their access logs

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""
