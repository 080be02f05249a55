"""Where commands send their AWS calls: the caller's account (``prod`` and other real environments) or
the local cloud (``local``), whose endpoint comes from ``.local-cloud/endpoints.json``.

Every command that acts on an environment takes ``--env`` through :func:`add_env_argument`, and it is
required everywhere. Defaulting to ``local`` would keep a forgotten ``--env`` away from AWS, but the
platform's operators run these commands against production (erasures, purges, replays, redrives,
rollbacks, deploys): with a default, a runbook step typed without ``--env`` would run against whatever
local cloud happens to be up and report success, and the production request would silently not be done.
A required ``--env`` costs typing ``--env local`` on a laptop; argparse refuses its absence before any
call, and every command line (shell history, runbook, ticket) names where it acted.

Stack outputs are read only here: :func:`stack_output` (one), :func:`stack_outputs` (all, the stack must
be deployed) and :func:`deployed_stack_outputs` (None when it is not), each a one-line ``UserError``
naming the stack, and the output or the deploy command, when something is missing.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT

LOCAL_ENVIRONMENT = "local"
LOCAL_STATE_DIR = REPO_ROOT / ".local-cloud"
ENDPOINTS_FILE = LOCAL_STATE_DIR / "endpoints.json"
LOCAL_REGION = "us-east-1"
# The emulator accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# PLATFORMCTL_LOCAL_CREDENTIALS=environment: local commands sign with the caller's credentials instead.
LOCAL_CREDENTIALS_SWITCH = "PLATFORMCTL_LOCAL_CREDENTIALS"

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


@dataclass
class Target:
    environment: str
    endpoint_url: str | None = None  # None: AWS itself
    region: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    @cached_property
    def session(self) -> boto3.session.Session:
        if self.is_local:
            if os.environ.get(LOCAL_CREDENTIALS_SWITCH) == "environment":
                # The caller's own credentials (say, a CI role's session assumed from the local cloud's STS),
                # so that the local cloud evaluates its calls against that role's policies.
                return boto3.session.Session(region_name=self.region or LOCAL_REGION)
            return boto3.session.Session(
                region_name=self.region or LOCAL_REGION,
                aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
                aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
            )
        session = boto3.session.Session(region_name=self.region) if self.region else boto3.session.Session()
        if session.region_name is None:
            raise UserError(
                "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION), or a region in your profile"
            )
        return session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                config=_CONFIG,
            )
        return self._clients[service]

    @cached_property
    def account_id(self) -> str:
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except botocore.exceptions.NoCredentialsError:
            raise UserError(
                "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
            ) from None
        except botocore.exceptions.ClientError as exc:
            raise UserError(f"AWS rejected the credentials: {exc}") from None
        except botocore.exceptions.EndpointConnectionError:
            raise UserError(
                f"cannot reach {self.endpoint_url or 'AWS'}: "
                + (
                    "is the local cloud running? start it with `platformctl local up`"
                    if self.is_local
                    else "check your network"
                )
            ) from None

    @property
    def region_name(self) -> str:
        return str(self.session.region_name)


def read_endpoints(path: Path | None = None) -> dict[str, Any]:
    """The running local cloud's endpoints file (PLATFORMCTL_ENDPOINTS_FILE overrides where it is)."""
    if path is None:
        override = os.environ.get("PLATFORMCTL_ENDPOINTS_FILE")
        path = Path(override) if override else ENDPOINTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("the local cloud is not running: start it with `platformctl local up`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); restart the local cloud") from None
    if not isinstance(data, dict) or "aws_endpoint" not in data:
        raise UserError(f"{path}: not an endpoints file; restart the local cloud")
    return data


def target_for(environment: str, *, endpoint_url: str | None = None) -> Target:
    """The target for an environment: ``local`` is the running local cloud, anything else is AWS."""
    if environment == LOCAL_ENVIRONMENT:
        if endpoint_url is None:
            endpoint_url = str(read_endpoints()["aws_endpoint"])
        return Target(environment, endpoint_url=endpoint_url, region=LOCAL_REGION)
    return Target(environment)


# A stack in these states exists but was never deployed (a change set not executed; a first create rolled
# back), as platformctl.deploy counts them too.
NOT_DEPLOYED = {"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}
ENV_HELP = "environment: a folder of ci/environments (local, prod, ...)"


def add_env_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--env`` option, the same in every command: required (see the module docstring)."""
    parser.add_argument("--env", required=True, help=ENV_HELP)


def stack_name(target: Target, job: str, stack: str) -> str:
    """The CloudFormation name of manifest stack ``job/stack`` in the target's environment."""
    from platformctl.manifest import load_manifest
    from platformctl.params import brand_of

    manifest = load_manifest()
    return manifest.select(job, stack)[0].stack_name(brand_of(target.environment, manifest.stacks), target.environment)


def deployed_stack_outputs(target: Target, job: str, stack: str) -> dict[str, str] | None:
    """The outputs of manifest stack ``job/stack`` in the target's environment; None when it is not deployed.
    A UserError when the target cannot be reached or refuses the call."""
    name = stack_name(target, job, stack)
    try:
        description = target.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" or "does not exist" in str(error.get("Message", "")):
            return None
        raise UserError(f"cannot read stack {name} in {target.environment}: {error.get('Message') or exc}") from None
    except botocore.exceptions.NoCredentialsError:
        raise UserError(
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
        ) from None
    except botocore.exceptions.EndpointConnectionError:
        raise UserError(
            f"cannot reach {target.endpoint_url or 'AWS'}: "
            + ("is the local cloud running?" if target.is_local else "check your network")
        ) from None
    if description.get("StackStatus") in NOT_DEPLOYED:
        return None
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in description.get("Outputs", [])}


def stack_outputs(target: Target, job: str, stack: str) -> dict[str, str]:
    """The outputs of manifest stack ``job/stack`` deployed in the target's environment; a UserError that
    says how to deploy it when it is not deployed."""
    outputs = deployed_stack_outputs(target, job, stack)
    if outputs is None:
        raise UserError(
            f"stack {stack_name(target, job, stack)} is not deployed in {target.environment}: deploy it first "
            f"(platformctl deploy --env {target.environment} --job {job} --stack {stack})"
        )
    return outputs


def stack_output(target: Target, job: str, stack: str, output: str) -> str:
    """One output of a manifest stack deployed in the target's environment; a UserError that says how to
    deploy it when the stack or the output is missing, or the target cannot be reached."""
    outputs = stack_outputs(target, job, stack)
    if output not in outputs:
        raise UserError(f"stack {stack_name(target, job, stack)} has no output {output}; redeploy it")
    return outputs[output]
