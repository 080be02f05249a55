"""API Gateway HTTP APIs, served locally: one port per API, payload format 2.0 to Lambda.

Routes, integrations and stages are read from the emulator (created by the template), so what is served
is what the template declares. Behaviour follows API Gateway: the most specific route wins, an unmatched
request is 404 ``{"message":"Not Found"}``, a function error is 500, a body over 10 MB is 413, the
stage's default throttling limits answer 429, and a handler result without ``statusCode`` is returned as
a 200 JSON body. Each request is logged as one JSON line per API (the stage's access log) and counted in
API Gateway's metrics (``Count``, ``4xx``, ``5xx``, ``Latency`` by ``ApiId`` and ``Stage``). Requests a
web page could have made (foreign ``Host`` or ``Origin``) are refused before routing (``request_guard``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from moto.awslambda.utils import get_backend

from platformctl.localcloud.lambda_runtime import LambdaRuntime
from platformctl.localcloud.metrics import MetricSink
from platformctl.localcloud.request_guard import GuardedRequestHandler
from platformctl.localcloud.service_metrics import http_api_request
from platformctl.localcloud.services import LOCAL_HOST, client

logger = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|x-www-form-urlencoded|.*\+json|.*\+xml))", re.I)
_FUNCTION_IN_URI = re.compile(r"(arn:[^:]+:lambda:[^:]+:\d+:function:[^/:]+)")


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, max(1, burst)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _route_pattern(path: str) -> tuple[re.Pattern[str], int, bool]:
    """A route path as a regex; also its parameter count and whether it has a greedy parameter."""
    parts, params, greedy = [], 0, False
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            params, greedy = params + 1, True
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$"), params, greedy


class HttpApiServer:
    """Serves one HTTP API on its own port."""

    def __init__(
        self,
        api_id: str,
        region: str,
        runtime: LambdaRuntime,
        log_dir: Path,
        port: int = 0,
        metrics: MetricSink | None = None,
    ) -> None:
        self.api_id, self.region, self.runtime, self.metrics = api_id, region, runtime, metrics
        self.access_log = log_dir / f"http-api-{api_id}.log"
        self._buckets: dict[str, _TokenBucket] = {}
        front = self

        class Handler(GuardedRequestHandler):
            # API Gateway would answer a browser (with the API's CORS configuration); the local front answers
            # only loopback-addressed requests that no foreign web page made (docs/local-cloud.md, threat model).
            protocol_version = "HTTP/1.1"
            guard_name = f"HTTP API {api_id}"

            def _serve(self) -> None:
                front.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, QUERY ...) is routed too (an ANY route takes it), never
                # answered with http.server's own 501.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((LOCAL_HOST, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=f"http-api-{api_id}")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------------ requests

    def _reply(self, request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "apigw-requestid"}:  # each is sent once, below
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("apigw-requestid", headers.get("apigw-requestid", ""))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    def _message(self, request: BaseHTTPRequestHandler, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self._reply(request, status, body, {"Content-Type": "application/json"})

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._message(request, 413, "Request Entity Too Large")
            self._log(request_id, request, "-", 413, started)
            return
        body = request.rfile.read(length) if length else b""
        split = urlsplit(request.path)
        apigw = client("apigatewayv2", self.region)
        stages = apigw.get_stages(ApiId=self.api_id).get("Items", [])
        path, stage = split.path or "/", "$default"
        for candidate in stages:
            name = candidate["StageName"]
            if name != "$default" and (path == f"/{name}" or path.startswith(f"/{name}/")):
                stage, path = name, path[len(name) + 1 :] or "/"
                break
        stage_config = next((s for s in stages if s["StageName"] == stage), None)
        if stage_config is None:
            self._message(request, 404, "Not Found")
            self._log(request_id, request, "-", 404, started)
            return
        if not self._admit(stage, stage_config):
            self._message(request, 429, "Too Many Requests")
            self._log(request_id, request, "-", 429, started, stage)
            return
        route, path_parameters = self._match(apigw, request.command, path)
        if route is None:
            self._message(request, 404, "Not Found")
            self._log(request_id, request, "-", 404, started, stage)
            return
        event = self._event(
            request, route["RouteKey"], stage, split.query, body, path_parameters, request_id, split.path
        )
        status = self._invoke(request, apigw, route, event, request_id)
        self._log(request_id, request, route["RouteKey"], status, started, stage)

    def _admit(self, stage: str, config: dict[str, Any]) -> bool:
        settings = config.get("DefaultRouteSettings") or {}
        rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
        if not rate or not burst:
            return True
        bucket = self._buckets.setdefault(stage, _TokenBucket(float(rate), int(burst)))
        return bucket.take()

    def _match(self, apigw: Any, method: str, path: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
        candidates = []
        default = None
        for route in apigw.get_routes(ApiId=self.api_id).get("Items", []):
            key = route["RouteKey"]
            if key == "$default":
                default = route
                continue
            route_method, _, route_path = key.partition(" ")
            if route_method not in (method, "ANY"):
                continue
            pattern, params, greedy = _route_pattern(route_path)
            match = pattern.match(path)
            if match:
                rank = (greedy, params, route_method == "ANY")
                candidates.append((rank, route, dict(match.groupdict())))
        if candidates:
            candidates.sort(key=lambda item: item[0])
            return candidates[0][1], candidates[0][2]
        return default, {}

    def _event(
        self,
        request: BaseHTTPRequestHandler,
        route_key: str,
        stage: str,
        query: str,
        body: bytes,
        path_parameters: dict[str, str],
        request_id: str,
        raw_path: str,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lower = name.lower()
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        content_type = headers.get("content-type", "")
        is_text = False
        text = ""
        if body:
            try:
                text = body.decode("utf-8")
                is_text = not content_type or bool(_TEXT_TYPES.match(content_type))
            except UnicodeDecodeError:
                is_text = False
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": self.api_id,
                "domainName": f"{LOCAL_HOST}:{self.server.server_address[1]}",
                "domainPrefix": self.api_id,
                "http": {
                    "method": request.command,
                    "path": raw_path,
                    "protocol": request.request_version,
                    "sourceIp": request.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": route_key,
                "stage": stage,
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": bool(body) and not is_text,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            params: dict[str, str] = {}
            for key, value in parse_qsl(query, keep_blank_values=True):
                params[key] = f"{params[key]},{value}" if key in params else value
            event["queryStringParameters"] = params
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body:
            event["body"] = text if is_text else base64.b64encode(body).decode("ascii")
        return event

    def _invoke(
        self, request: BaseHTTPRequestHandler, apigw: Any, route: dict[str, Any], event: dict[str, Any], request_id: str
    ) -> int:
        target = route.get("Target", "")
        integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else ""
        if not integration_id:
            self._message(request, 404, "Not Found")
            return 404
        integration = apigw.get_integration(ApiId=self.api_id, IntegrationId=integration_id)
        match = _FUNCTION_IN_URI.search(integration.get("IntegrationUri", ""))
        if integration.get("IntegrationType") != "AWS_PROXY" or match is None:
            self._message(request, 500, "Internal Server Error")
            return 500
        function_arn = match.group(1)
        try:
            function = get_backend(function_arn.split(":")[4], function_arn.split(":")[3]).get_function(function_arn)
            result = self.runtime.invoke(function, event)
        except Exception:
            logger.exception("HTTP API %s: integration failed", self.api_id)
            self._message(request, 500, "Internal Server Error")
            return 500
        if result.failed:
            if (result.error or {}).get("errorType") == "Sandbox.Timedout":
                self._message(request, 503, "Service Unavailable")
                return 503
            self._message(request, 500, "Internal Server Error")
            return 500
        status, body, headers = _response_from(result.payload)
        headers["apigw-requestid"] = request_id
        self._reply(request, status, body, headers)
        return status

    def _log(
        self,
        request_id: str,
        request: BaseHTTPRequestHandler,
        route_key: str,
        status: int,
        started: float,
        stage: str = "$default",
    ) -> None:
        """The access log line and the stage's metrics (a request no stage took counts on ``$default``)."""
        if self.metrics is not None:
            http_api_request(self.metrics, self.api_id, stage, status, (time.monotonic() - started) * 1000)
        line = {
            "requestId": request_id,
            "ip": request.client_address[0],
            "requestTime": datetime.now(UTC).isoformat(),
            "httpMethod": request.command,
            "routeKey": route_key,
            "status": status,
            "protocol": request.request_version,
            "responseLatency": int((time.monotonic() - started) * 1000),
        }
        with self.access_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


def _response_from(payload: Any) -> tuple[int, bytes, dict[str, str]]:
    """Payload format 2.0 response rules."""
    if isinstance(payload, dict) and "statusCode" in payload:
        headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
        body = payload.get("body") or ""
        raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode("utf-8")
        for cookie in payload.get("cookies") or []:
            headers.setdefault("Set-Cookie", cookie)
        return int(payload["statusCode"]), raw, headers
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return 200, text.encode("utf-8"), {"Content-Type": "application/json"}


class HttpFront:
    """All local HTTP APIs; gives each API a port when the template creates it."""

    def __init__(self, region: str, runtime: LambdaRuntime, log_dir: Path, metrics: MetricSink | None = None) -> None:
        self.region, self.runtime, self.log_dir, self.metrics = region, runtime, log_dir, metrics
        self.servers: dict[str, HttpApiServer] = {}

    def register(self, api_id: str) -> str:
        if api_id not in self.servers:
            self.servers[api_id] = HttpApiServer(api_id, self.region, self.runtime, self.log_dir, metrics=self.metrics)
        return self.servers[api_id].url

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
