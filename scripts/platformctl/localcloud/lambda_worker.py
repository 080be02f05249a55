"""One Lambda execution environment: a process that imports a function's handler module once and runs
invocations sent by the local runtime, one at a time, like a warm Lambda sandbox.

Started as ``python -I .../lambda_worker.py <task root> <lambdas root>`` with the function's environment
(``-I``: no ``PYTHON*`` variable and no user site-packages take effect; this script needs only the standard
library). ``_HANDLER`` is the image's CMD, e.g. ``shopify.order_processor.app.handler``: the module is
imported by its path from the task root, as Lambda's runtime imports it. Requests arrive as JSON lines on
stdin; replies leave on a private copy of the original stdout; the handler's own stdout/stderr (its logs) go
to the log file the runtime opened as fd 1/2, so a print in a handler can never corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_epoch_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["PLATFORM_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


def _load_handler() -> Any:
    module_name, _, handler_name = os.environ["_HANDLER"].rpartition(".")
    return getattr(importlib.import_module(module_name), handler_name)


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-12:],
    }


def main() -> int:
    task_root, lambdas_root = Path(sys.argv[1]), Path(sys.argv[2])
    sys.dont_write_bytecode = True  # no __pycache__ in the repository's folders (PYTHON* is ignored under -I)
    protocol = os.fdopen(int(os.environ.pop("PLATFORM_LOCAL_PROTOCOL_FD")), "w", buffering=1, encoding="utf-8")
    sys.path[:0] = list(dict.fromkeys([str(task_root), str(lambdas_root)]))
    os.chdir(task_root)
    try:
        handler = _load_handler()
        init_error = None
    except BaseException as exc:  # noqa: BLE001 - an init error is reported on every invocation, as on Lambda
        traceback.print_exc()
        handler, init_error = None, _error(exc)
        init_error["errorType"] = "Runtime.ImportModuleError"
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"]}
        if init_error is not None:
            reply["error"] = init_error
        else:
            context = LambdaContext(request["request_id"], request["deadline_epoch_ms"])
            try:
                result = handler(request["event"], context)
                reply["result"] = result
                json.dumps(result)
            except BaseException as exc:  # noqa: BLE001 - every handler failure goes back to the caller
                traceback.print_exc()
                reply = {"id": request["id"], "error": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        protocol.write(json.dumps(reply, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
