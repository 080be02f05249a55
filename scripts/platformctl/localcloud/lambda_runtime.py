"""Runs the repository's Lambda handlers for the emulator, as Lambda would.

A function's code is found the way Lambda finds it: from its image. The function's ``ImageUri`` names an
ECR repository ``<brand>/<image>``; the manifest says which folder under ``lambdas/`` builds that image.
Each function gets worker processes (``lambda_worker``) with only its own environment: a fixed base
(``PATH``, ``HOME``, ``LANG``, ``TZ``), the variables from its deployed configuration minus the deny-list
below, then what the Lambda runtime itself provides, its role's credentials and ``AWS_ENDPOINT_URL``
pointing at the emulator. Nothing a template declares reaches the host's interpreter, loader or shell: the
worker runs as ``python -I`` (``PYTHON*`` ignored) and names on the deny-list are dropped, each logged by
name (never its value).

Synchronous invocations (RequestResponse) return the handler's result or its error. Asynchronous ones
(Event: EventBridge, Scheduler, ``InvocationType=Event``) are queued and retried like Lambda's async
invoke (``MaximumRetryAttempts``, default 2), then go to the ``OnFailure`` destination or the function's
dead-letter queue with Lambda's error attributes. Retry delays are shortened locally (Lambda waits about
one and then two minutes); ``PLATFORM_LOCAL_RETRY_DELAY_SECONDS`` sets the first delay.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import queue
import re
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from platformctl.errors import UserError
from platformctl.localcloud.emf import LineSplitter
from platformctl.localcloud.services import client
from platformctl.manifest import REPO_ROOT, Image, Manifest

logger = logging.getLogger(__name__)

LAMBDAS_ROOT = REPO_ROOT / "lambdas"
DEFAULT_CONCURRENCY = 4
_EXTRA_TIMEOUT_SECONDS = 2.0  # process start-up is not charged to the handler's timeout
_WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
WORKER_PATH = "/usr/local/bin:/usr/bin:/bin"  # as Lambda's, never the host's or a template's

# A function's declared variables that never reach its worker (compared upper-cased): what makes an
# interpreter, the dynamic loader, a shell or a tool the handler starts load or run something else, and
# what would point the function's AWS calls at another endpoint, credentials or configuration file.
DENIED_VARIABLES: frozenset[str] = frozenset(
    # the platform sets these itself (or they are Lambda's reserved names)
    {"PATH", "HOME", "TMPDIR", "TMP", "TEMP", "TZDIR", "_HANDLER", "_X_AMZN_TRACE_ID"}
    | {"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}
    # shells and the tools a handler might start
    | {"BROWSER", "SHELL", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "LESSOPEN", "LESSCLOSE", "BASH_ENV", "ENV"}
    | {"SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "GLOBIGNORE", "TERMINFO"}
    # other interpreters and runtimes
    | {"PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "NODE_PATH", "CLASSPATH"}
    | {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"}
    # the C library and OpenSSL loading code or files
    | {"GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "RES_OPTIONS", "LOCALDOMAIN"}
    | {"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "SSL_CERT_FILE", "SSL_CERT_DIR"}
    | {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    # proxies would send the function's signed calls elsewhere
    | {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY"}
)
DENIED_PREFIXES = (
    "PYTHON",  # PYTHONWARNINGS, PYTHONSTARTUP, PYTHONPATH, PYTHONHOME, PYTHONBREAKPOINT ...
    "LD_",  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT ...
    "DYLD_",
    "MALLOC_",
    "BASH_FUNC_",  # exported shell functions
    "GIT_",
    "SSH_",
    "XDG_",  # where git, pip and others find their configuration
    "PIP_",
    "AWS_",  # endpoints, credentials, profiles, config files (credential_process), AWS_LAMBDA_EXEC_WRAPPER ...
    "PLATFORM_LOCAL_",  # the local runtime's own protocol
)
_VALID_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # Lambda's rule for variable names


def declared_environment(function: str, variables: dict[str, str]) -> dict[str, str]:
    """A function's declared variables without those on the deny-list; one log line per dropped name."""
    kept: dict[str, str] = {}
    for name, value in variables.items():
        upper = name.upper()
        if not _VALID_NAME.match(name) or "\0" in value:
            reason = "not a valid variable"
        elif upper in DENIED_VARIABLES or upper.startswith(DENIED_PREFIXES):
            reason = "on the local cloud's deny-list"
        else:
            kept[name] = value
            continue
        logger.warning("function %s: environment variable %r dropped (%s)", function, name[:100], reason)
    return kept


def image_handler(dockerfile: Path) -> str:
    """The handler an image runs: its Dockerfile's ``CMD ["<module path>.<function>"]``, as Lambda reads it."""
    commands = [line for line in dockerfile.read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")]
    if not commands:
        raise UserError(f"{dockerfile}: no CMD names the handler")
    try:
        handler = json.loads(commands[-1].removeprefix("CMD "))
    except json.JSONDecodeError:
        handler = None
    if not (isinstance(handler, list) and len(handler) == 1 and isinstance(handler[0], str)):
        raise UserError(f'{dockerfile}: CMD must be one handler in JSON form, e.g. CMD ["app.handler"]')
    return str(handler[0])


def task_root(folder: Path, handler: str) -> Path:
    """The folder whose content the image copies to the task root: ``folder`` holds the handler's module,
    so the task root is as many levels up as the module path has packages."""
    packages = handler.split(".")[:-2]
    if tuple(folder.parts[len(folder.parts) - len(packages) :]) != tuple(packages):
        raise UserError(f"handler {handler} is not a module of {folder} (its packages must be the folder's path)")
    return folder.parents[len(packages) - 1] if packages else folder


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs of a deployed function, read from the emulator's configuration."""

    name: str
    arn: str
    region: str
    role: str
    folder: Path
    handler: str  # the image's CMD: <module path>.<function>, the module under the task root
    environment: dict[str, str]
    timeout: float
    memory: int
    concurrency: int
    dead_letter_arn: str | None
    retry_attempts: int
    on_failure: str | None
    on_success: str | None
    reserved: bool = False  # a ReservedConcurrentExecutions limit (else the local pool size is no AWS limit)

    @property
    def task_root(self) -> Path:
        """What the image's task root holds, as a folder of the repository: the folder the handler's
        module path is under (``lambdas/`` for ``shopify.order_processor.app``)."""
        return task_root(self.folder, self.handler)

    @property
    def code_key(self) -> str:
        raw = json.dumps(
            [str(self.folder), self.handler, sorted(self.environment.items()), self.timeout, self.memory, self.role]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class InvocationResult:
    payload: Any = None
    error: dict[str, Any] | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def failed(self) -> bool:
        return self.error is not None

    def body(self) -> bytes:
        return json.dumps(self.error if self.error is not None else self.payload).encode()


class InvocationObserver(Protocol):
    """What the runtime tells about invocations (the local cloud turns it into Lambda's metrics)."""

    def throttled(self, function: str) -> None: ...

    def started(self, function: str, concurrent: int) -> None: ...

    def finished(self, function: str, failed: bool, duration_ms: float) -> None: ...

    def printed(self, function: str, line: bytes) -> None: ...


StdoutHook = Callable[[FunctionSpec, bytes], None]


class _Worker:
    def __init__(
        self, spec: FunctionSpec, base_env: dict[str, str], log_path: Path, on_stdout: StdoutHook | None = None
    ) -> None:
        self.spec = spec
        self.ids = itertools.count()
        read_fd, write_fd = os.pipe()
        env = dict(base_env)
        env["PLATFORM_LOCAL_PROTOCOL_FD"] = str(write_fd)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("ab", buffering=0)
        # -I: the interpreter ignores every PYTHON* variable and the user's site-packages, whatever the
        # environment holds; the worker script needs only the standard library. stdout comes through a
        # pipe (copied to the log unchanged) so that its embedded-metric lines become metrics.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-I", str(_WORKER_SCRIPT), str(spec.task_root), str(LAMBDAS_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            pass_fds=(write_fd,),
            cwd=str(spec.task_root),
        )
        os.close(write_fd)
        self._on_stdout = on_stdout
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None  # noqa: S101 - created with stdout=PIPE
        self._pump_thread = threading.Thread(
            target=self._pump, args=(read_fd, self.process.stdout.fileno()), daemon=True, name=f"worker-{spec.name}"
        )
        self._pump_thread.start()

    def _pump(self, replies_fd: int, stdout_fd: int) -> None:
        """Replies and the handler's stdout, from one thread: the worker flushes its stdout before it
        replies, so draining stdout first puts an invocation's output in the log before its reply counts."""
        os.set_blocking(stdout_fd, False)
        selector = selectors.DefaultSelector()
        selector.register(replies_fd, selectors.EVENT_READ, "replies")
        selector.register(stdout_fd, selectors.EVENT_READ, "stdout")
        splitter, pending = LineSplitter(), b""
        open_fds = 2
        try:
            while open_fds:
                for key, _ in selector.select():
                    stdout_open = stdout_fd in selector.get_map()
                    if stdout_open and not self._drain_stdout(stdout_fd, splitter):
                        selector.unregister(stdout_fd)
                        open_fds -= 1
                    if key.data == "stdout":
                        continue
                    chunk = os.read(replies_fd, 65536)
                    if not chunk:
                        selector.unregister(replies_fd)
                        open_fds -= 1
                        continue
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._lines.put(line.decode("utf-8"))
        finally:
            selector.close()
            os.close(replies_fd)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self._lines.put(None)

    def _drain_stdout(self, fd: int, splitter: LineSplitter) -> bool:
        """Copy what the handler printed to the log and hand its lines on; False at end of file."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            with contextlib.suppress(ValueError, OSError):  # the log is closed once the worker is stopped
                self.log.write(chunk)
            if self._on_stdout is not None:
                for line in splitter.feed(chunk):
                    self._on_stdout(self.spec, line)

    def invoke(self, event: Any, request_id: str) -> InvocationResult:
        deadline = time.time() + self.spec.timeout
        request = {
            "id": next(self.ids),
            "event": event,
            "request_id": request_id,
            "deadline_epoch_ms": int(deadline * 1000),
        }
        assert self.process.stdin is not None  # noqa: S101 - created with stdin=PIPE
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return InvocationResult(error=_runtime_error("Runtime.ExitError", "the function's process exited"))
        try:
            line = self._lines.get(timeout=self.spec.timeout + _EXTRA_TIMEOUT_SECONDS)
        except queue.Empty:
            self.stop()
            return InvocationResult(
                error=_runtime_error("Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds"),
                request_id=request_id,
            )
        if line is None:
            return InvocationResult(
                error=_runtime_error("Runtime.ExitError", "the function's process exited"), request_id=request_id
            )
        reply = json.loads(line)
        return InvocationResult(payload=reply.get("result"), error=reply.get("error"), request_id=request_id)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=10)
        if threading.current_thread() is not self._pump_thread:
            self._pump_thread.join(timeout=2)  # what the process printed last still reaches the log
        self.log.close()


def _runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


class _Pool:
    """The warm workers of one function version (code + configuration)."""

    def __init__(
        self, spec: FunctionSpec, base_env: dict[str, str], log_path: Path, observer: InvocationObserver | None = None
    ) -> None:
        self.spec, self.base_env, self.log_path = spec, base_env, log_path
        self.observer = observer
        self.idle: list[_Worker] = []
        self.all: list[_Worker] = []
        self.slots = threading.BoundedSemaphore(spec.concurrency)
        self.lock = threading.Lock()
        self.running = 0

    def _printed(self, spec: FunctionSpec, line: bytes) -> None:
        if self.observer is not None:
            try:
                self.observer.printed(spec.name, line)
            except Exception:  # an observer must never break the function's output
                logger.exception("%s: a printed line could not be observed", spec.name)

    def invoke(self, event: Any, request_id: str) -> InvocationResult:
        if not self.slots.acquire(blocking=False):
            # Every reserved slot is busy: Lambda would throttle (TooManyRequestsException, counted in
            # Throttles); locally the invocation waits for a slot instead of being refused.
            if self.observer is not None and self.spec.reserved:
                self.observer.throttled(self.spec.name)
            self.slots.acquire()
        try:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
                self.running += 1
                running = self.running
            if self.observer is not None:
                self.observer.started(self.spec.name, running)
            started = time.monotonic()
            if worker is None or not worker.alive:
                worker = _Worker(self.spec, self.base_env, self.log_path, self._printed)
                with self.lock:
                    self.all.append(worker)
            result = worker.invoke(event, request_id)
            if self.observer is not None:
                self.observer.finished(self.spec.name, result.failed, (time.monotonic() - started) * 1000)
            with self.lock:
                if worker.alive:
                    self.idle.append(worker)
            return result
        finally:
            with self.lock:
                self.running -= 1
            self.slots.release()

    def stop(self) -> None:
        with self.lock:
            workers, self.all, self.idle = list(self.all), [], []
        for worker in workers:
            worker.stop()


Credentials = Callable[[str, str], dict[str, str]]  # (role ARN, session name) -> AWS_* variables


def _test_credentials(role: str, session: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LambdaRuntime:
    def __init__(
        self,
        manifest: Manifest,
        endpoint_url: str,
        region: str,
        log_dir: Path,
        credentials: Credentials = _test_credentials,
    ) -> None:
        """``credentials`` gives a function's workers the credentials of its execution role, as Lambda does."""
        self.manifests = [manifest]
        self.credentials = credentials
        self.endpoint_url = endpoint_url
        self.region = region
        self.log_dir = log_dir
        self.first_retry_delay = float(os.environ.get("PLATFORM_LOCAL_RETRY_DELAY_SECONDS", "0.2"))
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self._async = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")
        self._pending: set[Future[None]] = set()
        self._pending_lock = threading.Lock()
        self.delivery_hooks: list[Callable[[str, Any, InvocationResult], None]] = []
        self.observer: InvocationObserver | None = None  # set by the local cloud: Lambda's metrics

    # ------------------------------------------------------------------------------ code and config

    def add_manifest(self, manifest: Manifest) -> None:
        """Also run the images of another manifest (tests deploy probe stacks this way)."""
        self.manifests.append(manifest)

    def image_for(self, image_uri: str) -> Image:
        repository = image_uri.split("@", maxsplit=1)[0].rsplit(":", 1)[0].split("/", 1)[-1]
        image_name = repository.split("/", 1)[-1]
        for manifest in self.manifests:
            for image in manifest.images:
                if image.name == image_name:
                    return image
        raise UserError(
            f"image {image_uri} is not built from this repository (no image {image_name!r} in ci/ingestion_jobs.json)"
        )

    def spec_for(self, function: Any) -> FunctionSpec:
        """The runtime view of a moto LambdaFunction."""
        image_uri = function.code.get("ImageUri") if isinstance(function.code, dict) else None
        if not image_uri:
            raise UserError(
                f"function {function.function_name} is not a container image; the platform runs images only"
            )
        extras = getattr(function, "platform_extras", {})
        invoke_config = function.event_invoke_config[0].config if function.event_invoke_config else {}
        destinations = invoke_config.get("DestinationConfig", {})
        image = self.image_for(image_uri)
        return FunctionSpec(
            name=function.function_name,
            arn=function.function_arn,
            region=function.region,
            role=str(function.role),
            folder=REPO_ROOT / image.folder,
            handler=image_handler(REPO_ROOT / image.dockerfile),
            environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            timeout=float(function.timeout or 3),
            memory=int(function.memory_size or 128),
            concurrency=int(function.reserved_concurrency or DEFAULT_CONCURRENCY) or 1,
            dead_letter_arn=(extras.get("DeadLetterConfig") or {}).get("TargetArn"),
            retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
            on_failure=destinations.get("OnFailure", {}).get("Destination"),
            on_success=destinations.get("OnSuccess", {}).get("Destination"),
            reserved=bool(function.reserved_concurrency),
        )

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        env = {
            "PATH": WORKER_PATH,
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": str(self.log_dir),
            # What the Lambda service puts into every execution environment.
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.code_key}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_Image",
            "LAMBDA_TASK_ROOT": str(spec.task_root),
            "_HANDLER": spec.handler,
            "PLATFORM_LOCAL_FUNCTION_ARN": spec.arn,
            # There is no X-Ray daemon locally; the stack's tracing setting stays in the template.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        # Every name set above that a function must not change (PATH, HOME, AWS_*, _HANDLER, ...) is on the
        # deny-list; LANG, TZ and POWERTOOLS_TRACE_DISABLED may be overridden, as on Lambda.
        env.update(declared_environment(spec.name, spec.environment))
        env.update(self.credentials(spec.role, spec.name))
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def _pool(self, spec: FunctionSpec) -> _Pool:
        key = f"{spec.name}:{spec.code_key}"
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                stale = [k for k in self._pools if k.startswith(f"{spec.name}:")]
                for old in stale:
                    self._pools.pop(old).stop()
                pool = _Pool(spec, self._environment(spec), self.log_dir / f"{spec.name}.log", self.observer)
                self._pools[key] = pool
            return pool

    # ------------------------------------------------------------------------------ invocations

    def invoke(self, function: Any, event: Any) -> InvocationResult:
        """A synchronous invocation: the handler's result or error."""
        spec = self.spec_for(function)
        request_id = str(uuid.uuid4())
        result = self._pool(spec).invoke(event, request_id)
        if result.failed:
            logger.info("%s failed: %s", spec.name, (result.error or {}).get("errorMessage", "")[:200])
        return result

    def invoke_async(self, function: Any, event: Any) -> None:
        """An asynchronous invocation, with Lambda's retries and failure handling."""
        spec = self.spec_for(function)
        future = self._async.submit(self._run_async, function, spec, event)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._pending_lock:
            self._pending.discard(future)
        if future.exception() is not None:
            logger.error("async invocation crashed: %s", future.exception())

    def _run_async(self, function: Any, spec: FunctionSpec, event: Any) -> None:
        attempts = 1 + max(0, spec.retry_attempts)
        result = InvocationResult()
        for attempt in range(attempts):
            result = self._pool(spec).invoke(event, str(uuid.uuid4()))
            if not result.failed:
                if spec.on_success:
                    self._send_destination(spec, spec.on_success, event, result, "Success", attempt + 1)
                return
            if attempt + 1 < attempts:
                time.sleep(self.first_retry_delay * (2**attempt))
        logger.info("%s: async event failed after %d attempts", spec.name, attempts)
        if spec.on_failure:
            self._send_destination(spec, spec.on_failure, event, result, "RetriesExhausted", attempts)
        elif spec.dead_letter_arn:
            self._send_dead_letter(spec, event, result)
        else:
            logger.warning("%s: a failed async event was dropped: the function has no DLQ or destination", spec.name)

    def _send_dead_letter(self, spec: FunctionSpec, event: Any, result: InvocationResult) -> None:
        arn = spec.dead_letter_arn or ""
        error = result.error or {}
        attributes = {
            "RequestID": result.request_id,
            "ErrorCode": "200",
            "ErrorMessage": str(error.get("errorMessage", ""))[:1000] or str(error.get("errorType", "")),
        }
        body = json.dumps(event)
        if ":sqs:" in arn:
            self._sqs_send(spec.region, arn, body, attributes)
        elif ":sns:" in arn:
            client("sns", spec.region).publish(
                TopicArn=arn,
                Message=body,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )

    def _send_destination(
        self, spec: FunctionSpec, destination: str, event: Any, result: InvocationResult, condition: str, count: int
    ) -> None:
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": result.request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": count,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": result.error if result.failed else result.payload,
        }
        if result.failed:
            record["responseContext"]["functionError"] = "Unhandled"
        body = json.dumps(record)
        if ":sqs:" in destination:
            self._sqs_send(spec.region, destination, body, {})
        elif ":sns:" in destination:
            client("sns", spec.region).publish(TopicArn=destination, Message=body)
        elif ":events:" in destination:
            client("events", spec.region).put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {condition}",
                        "Detail": body,
                        "EventBusName": destination,
                    }
                ]
            )

    def _sqs_send(self, region: str, queue_arn: str, body: str, attributes: dict[str, str]) -> None:
        sqs = client("sqs", region)
        name = queue_arn.rsplit(":", 1)[1]
        account = queue_arn.split(":")[4]
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def running(self) -> dict[str, int]:
        """Invocations running now, per function (its current version's pool)."""
        with self._lock:
            pools = list(self._pools.values())
        counts: dict[str, int] = {}
        for pool in pools:
            counts[pool.spec.name] = counts.get(pool.spec.name, 0) + pool.running
        return counts

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no async invocation is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._pending_lock:
                if not self._pending:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.stop()
