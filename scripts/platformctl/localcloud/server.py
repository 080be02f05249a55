"""Start the emulator, deploy every stack of the ``local`` environment into it, publish the endpoints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from platformctl.aws_target import ENDPOINTS_FILE, LOCAL_ENVIRONMENT, LOCAL_REGION, LOCAL_STATE_DIR, Target
from platformctl.deploy import Deployer, StackResult
from platformctl.errors import UserError
from platformctl.manifest import Manifest, Stack, load_manifest
from platformctl.params import brand_of

LOCAL_IMAGE_TAG = "local"
DEFAULT_PORT = 4566


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def publish_local_image(ecr: Any, repository: str, folder: str, tag: str) -> None:
    """An image manifest naming the repository folder it stands for (the emulator stores no layers)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 0,
            "digest": "sha256:" + hashlib.sha256(folder.encode("utf-8")).hexdigest(),
        },
        "layers": [],
        "annotations": {"platform.local/folder": folder},
    }
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def _guarded_moto_server_class() -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from platformctl.localcloud.request_guard import GuardedWsgiApp

    class _GuardedMotoServer(ThreadedMotoServer):
        """moto's threaded server (moto 5.2.5's ``_server_entry``) with its WSGI app behind the request
        guard: loopback ``Host`` only, no foreign ``Origin``, no CORS headers (``request_guard``)."""

        def _server_entry(self) -> None:
            app = GuardedWsgiApp(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return _GuardedMotoServer


def GuardedMotoServer(ip_address: str, port: int, verbose: bool = False) -> Any:  # noqa: N802 - a class factory
    return _guarded_moto_server_class()(ip_address=ip_address, port=port, verbose=verbose)


class LocalCloud:
    """moto on 127.0.0.1 with the local layer installed, the simulators, and the deployed platform."""

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        *,
        manifest: Manifest | None = None,
        out: TextIO | None = None,
        state_dir: Path = LOCAL_STATE_DIR,
        endpoints_file: Path | str | None = "default",
        enforce_iam: bool | None = None,
    ) -> None:
        """``enforce_iam``: evaluate IAM on every call a function (or any assumed-role caller) makes; the
        default is on unless ``PLATFORM_LOCAL_IAM=off``."""
        self.port = port
        if enforce_iam is None:
            enforce_iam = os.environ.get("PLATFORM_LOCAL_IAM", "on").lower() not in ("off", "0", "false")
        self.enforce_iam = enforce_iam
        self.manifest = manifest or load_manifest()
        self.out = out or sys.stdout
        self.state_dir = state_dir
        if endpoints_file == "default":
            override = os.environ.get("PLATFORMCTL_ENDPOINTS_FILE")
            endpoints_file = Path(override) if override else ENDPOINTS_FILE
        self.endpoints_file: Path | None = Path(endpoints_file) if endpoints_file is not None else None
        self.results: list[StackResult] = []
        self.simulators: dict[str, Any] = {}
        self._server: Any = None
        self._runtime: Any = None
        self._front: Any = None
        self._alarms: Any = None  # the alarm evaluator and the metrics sampler (localcloud/alarm_evaluator.py)
        self._sampler: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> Target:
        return Target(LOCAL_ENVIRONMENT, endpoint_url=self.endpoint_url, region=LOCAL_REGION)

    def start(self) -> None:
        if not port_is_free(self.port):
            raise UserError(
                f"port {self.port} on 127.0.0.1 is in use: stop what uses it (another `platformctl local up`?) "
                "or choose another with --port"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        os.environ["MOTO_PORT"] = str(self.port)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        from moto.core.config import default_user_config

        default_user_config["lambda"] = {"use_docker": False}
        default_user_config["stepfunctions"] = {"execute_state_machine": True}

        from platformctl.localcloud import cfn_engine, properties, providers, service_fixes, sqs_poller, triggers
        from platformctl.localcloud.http_front import HttpFront
        from platformctl.localcloud.lambda_runtime import LambdaRuntime

        cfn_engine.install()
        properties.install()
        service_fixes.install()
        if self.enforce_iam:
            from platformctl.localcloud import iam_enforcement

            iam_enforcement.install(self.state_dir)
        self._runtime = LambdaRuntime(
            self.manifest, self.endpoint_url, LOCAL_REGION, self.state_dir / "logs", credentials=_role_credentials
        )
        metrics = self._install_monitoring()
        triggers.install(self._runtime, metrics)
        sqs_poller.install(self._runtime)
        self._front = HttpFront(LOCAL_REGION, self._runtime, self.state_dir / "logs", metrics)
        providers.api_endpoint_hook = self._front.register
        self._server = GuardedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._alarms.start()
        self._sampler.start()
        self._start_simulators()

    def _install_monitoring(self) -> Any:
        """Metrics from what the emulator observes, alarms that evaluate, and a mailbox per SNS topic."""
        from platformctl.localcloud import alarm_history_api, mailbox
        from platformctl.localcloud.alarm_evaluator import AlarmEvaluator
        from platformctl.localcloud.metrics import MetricSink
        from platformctl.localcloud.service_metrics import LambdaMetrics, Sampler

        sink = MetricSink(LOCAL_REGION)
        self._runtime.observer = LambdaMetrics(sink)
        folder = self.mailbox_dir
        for stale in folder.glob("*.jsonl") if folder.is_dir() else ():
            stale.unlink()  # the local cloud's state lives in memory: its mailboxes start empty too
        mailbox.install(folder)
        self._alarms = AlarmEvaluator(LOCAL_REGION)
        alarm_history_api.install(self._alarms.history)
        self._sampler = Sampler(sink, self._runtime)
        return sink

    @property
    def mailbox_dir(self) -> Path:
        from platformctl.localcloud.mailbox import MAILBOX_FOLDER

        return self.state_dir / MAILBOX_FOLDER

    @property
    def alarms(self) -> Any:
        """The alarm evaluator (its ``history`` is what DescribeAlarmHistory answers)."""
        return self._alarms

    def _start_simulators(self) -> None:
        from platformctl.simulators import SIMULATORS

        for name, factory in SIMULATORS.items():
            self.simulators[name] = factory(self)

    def credentials_for_role(self, role_name: str, session_name: str = "platformctl") -> dict[str, str]:
        """Credentials of a new session of the role (as STS AssumeRole answers), evaluated against its policies."""
        from platformctl.localcloud import iam_state

        arns = iam_state.role_arns()
        if role_name not in arns:
            raise UserError(f"no role {role_name!r} in the local cloud")
        session = iam_state.assume_role(arns[role_name], session_name)
        return {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": iam_state.secret_access_key(session),
            "SessionToken": session.session_token,
        }

    def select(self, only: str | None) -> list[Stack]:
        """Stacks to deploy: all, or those of the listed jobs / job/stack keys (order kept)."""
        if not only:
            return self.manifest.stacks
        wanted = {part.strip() for part in only.split(",") if part.strip()}
        chosen = [s for s in self.manifest.stacks if s.job in wanted or s.key in wanted]
        known = {s.job for s in self.manifest.stacks} | {s.key for s in self.manifest.stacks}
        unknown = wanted - known
        if unknown:
            raise UserError(f"--only names unknown jobs/stacks: {', '.join(sorted(unknown))}")
        return chosen

    def deploy(self, stacks: list[Stack] | None = None) -> list[StackResult]:
        """Deploy like an account's first deploy: the stacks up to the image repositories, then the
        repository's images "pushed" under tag ``local``, then the stacks whose functions run them."""
        deployer = Deployer(
            self.target,
            self.manifest,
            image_tag=LOCAL_IMAGE_TAG,
            out=self.out,
            local_values={"simulators": self.simulator_urls(), "aws_endpoint": self.endpoint_url},
        )
        chosen = self.manifest.stacks if stacks is None else stacks
        registry = next((i for i, stack in enumerate(chosen) if stack.key == "shared/ecr"), -1)
        self.results = deployer.deploy(chosen[: registry + 1]) if registry >= 0 else []
        self.publish_images()
        self.results += deployer.deploy(chosen[registry + 1 :])
        return self.results

    def publish_images(self) -> None:
        """Put every manifest image into the emulated ECR under tag ``local``, as the build script pushes
        them to an account; the local Lambda runtime runs the image's folder from the repository."""
        repositories = {
            repository["repositoryName"]
            for page in self.target.client("ecr").get_paginator("describe_repositories").paginate()
            for repository in page.get("repositories", [])
        }
        brand = brand_of(LOCAL_ENVIRONMENT, self.manifest.stacks)
        for image in self.manifest.images:
            repository = f"{brand}/{image.name}"
            if repository in repositories:
                publish_local_image(self.target.client("ecr"), repository, image.folder, LOCAL_IMAGE_TAG)

    def simulator_urls(self) -> dict[str, str]:
        return {name: str(sim.url) for name, sim in self.simulators.items()}

    def stack_outputs(self) -> dict[str, dict[str, str]]:
        cfn = self.target.client("cloudformation")
        brand = brand_of(LOCAL_ENVIRONMENT, self.manifest.stacks)
        outputs: dict[str, dict[str, str]] = {}
        for stack in self.manifest.stacks:
            with contextlib.suppress(Exception):
                description = cfn.describe_stacks(StackName=stack.stack_name(brand, LOCAL_ENVIRONMENT))["Stacks"][0]
                outputs[stack.key] = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        return outputs

    def endpoints(self) -> dict[str, Any]:
        """The endpoints contract (DESIGN.md section 6), derived from stack outputs by naming convention."""
        brand = brand_of(LOCAL_ENVIRONMENT, self.manifest.stacks)
        data: dict[str, Any] = {
            "aws_endpoint": self.endpoint_url,
            "region": LOCAL_REGION,
            "brand": brand,
            "environment": LOCAL_ENVIRONMENT,
            "event_bus": None,
            "event_source": None,
            "bucket": None,
            "tables": {},
            "dlqs": {},
            "http_apis": {},
            "simulators": self.simulator_urls(),
            "state_machines": {},
            "stacks": {},
            "mailbox": str(self.mailbox_dir),
        }
        hot_stores = self._dynamodb_tables()
        for stack_key, outputs in self.stack_outputs().items():
            data["stacks"][stack_key] = self._stack_name(stack_key, brand)
            for key, value in outputs.items():
                if key == "EventBusName":
                    data["event_bus"] = value
                elif key == "ShopifyEventSource":
                    data["event_source"] = value  # the only source the Shopify rules and processors accept
                elif key == "DataLakeBucketName":
                    data["bucket"] = value
                elif key.endswith("TableName") and value in hot_stores:
                    # "tables" are the DynamoDB hot stores; a Glue catalog table's <Name>TableName
                    # output (orders_enriched, say) stays in its stack's outputs only.
                    data["tables"][_snake(key.removesuffix("TableName"))] = value
                elif key.endswith("DlqUrl"):
                    data["dlqs"][_snake(key.removesuffix("DlqUrl"))] = value
                elif key.endswith("WebhookUrl"):
                    data["http_apis"][_snake(key.removesuffix("WebhookUrl"))] = value
                elif key.endswith("StateMachineArn"):
                    data["state_machines"][_snake(key.removesuffix("StateMachineArn"))] = value
        if data["http_apis"].get("recharge"):
            token = self._recharge_path_token()
            if token:  # the URL Recharge posts to: the stack output plus the secret path token
                data["http_apis"]["recharge_webhook"] = f"{data['http_apis']['recharge'].rstrip('/')}/{token}"
        return data

    def _recharge_path_token(self) -> str:
        from platformctl.commands.recharge import path_token

        arn = (self.stack_outputs().get("shared/secrets-manager") or {}).get("RechargeWebhookSecretArn")
        if not arn:
            return ""
        with contextlib.suppress(Exception):
            value = self.target.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
            return path_token(json.loads(value))
        return ""

    def _dynamodb_tables(self) -> set[str]:
        names: set[str] = set()
        with contextlib.suppress(Exception):
            for page in self.target.client("dynamodb").get_paginator("list_tables").paginate():
                names.update(page.get("TableNames", []))
        return names

    def _stack_name(self, stack_key: str, brand: str) -> str:
        job, _, name = stack_key.partition("/")
        return self.manifest.select(job, name)[0].stack_name(brand, LOCAL_ENVIRONMENT)

    def write_endpoints(self) -> dict[str, Any]:
        data = self.endpoints()
        if self.endpoints_file is not None:
            self.endpoints_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.endpoints_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            tmp.replace(self.endpoints_file)
        return data

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no asynchronous invocation is queued or running and no polled queue holds messages."""
        from platformctl.localcloud import sqs_poller

        if self._runtime is None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._runtime.wait_idle(max(0.0, deadline - time.monotonic())) and sqs_poller.pollers_idle():
                time.sleep(0.05)  # let a poller that just finished hand over any async work it started
                if self._runtime.wait_idle(0.1) and sqs_poller.pollers_idle():
                    return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        from platformctl.localcloud import alarm_history_api, mailbox, providers, sqs_poller, triggers

        # The pollers first: one still polling once the server is gone fails on every call it makes.
        for background in (self._alarms, self._sampler):
            if background is not None:
                background.stop()
        alarm_history_api.uninstall()
        mailbox.uninstall()
        providers.api_endpoint_hook = None
        if self.enforce_iam:
            from platformctl.localcloud import iam_enforcement

            iam_enforcement.uninstall()
        triggers.uninstall()
        sqs_poller.uninstall()
        if self.endpoints_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.endpoints_file.unlink()
        for simulator in self.simulators.values():
            with contextlib.suppress(Exception):
                simulator.stop()
        if self._front is not None:
            self._front.stop()
        if self._runtime is not None:
            self._runtime.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _role_credentials(role_arn: str, session_name: str) -> dict[str, str]:
    """A function's environment credentials: a session of its execution role, as Lambda gets from STS."""
    from platformctl.localcloud import iam_state

    session = iam_state.assume_role(role_arn, session_name)
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": iam_state.secret_access_key(session),
        "AWS_SESSION_TOKEN": session.session_token,
    }


def run_until_interrupted(cloud: LocalCloud, out: TextIO) -> None:
    import signal

    stop = {"now": False}

    def request_stop(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stop["now"]:
        time.sleep(0.2)
    print("stopping the local cloud", file=out, flush=True)
