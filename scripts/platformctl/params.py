"""A stack's parameters: the environment's settings, its own file, and what the manifest feeds.

Parameter files use CloudFormation's list format and hold every parameter the operator chooses for that
stack. Values several stacks share (``Brand``, ``Environment``, ``ShopDomain``, ...) live once, in the
environment's ``settings.json`` (same format), and every stack that declares one receives it. The
parameters the manifest feeds (``inputs`` from earlier stacks' outputs, ``images`` from the ECR
repositories) are not in the files; the deploy tool fills them. In the ``local`` environment a value may
be ``{{local:<endpoint key>}}``, filled from the running local cloud (a simulator's URL, say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, Stack
from platformctl.templates import load_template

LOCAL_PLACEHOLDER = re.compile(r"^\{\{local:(?P<key>[a-z_][a-z0-9_.]*)\}\}$")
Outputs = Mapping[str, Mapping[str, str]]  # stack key -> output key -> value


def repo_relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def read_parameter_file(path: Path) -> dict[str, str]:
    """Read a list-format parameter file; every problem names the file."""
    where = repo_relative(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where} does not exist: create it (see ci/environments/README.md)") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise UserError(f'{where}: expected a list of {{"ParameterKey": ..., "ParameterValue": ...}}')
    values: dict[str, str] = {}
    for index, entry in enumerate(data):
        if (
            not isinstance(entry, dict)
            or set(entry) != {"ParameterKey", "ParameterValue"}
            or not isinstance(entry["ParameterKey"], str)
            or not isinstance(entry["ParameterValue"], str)
        ):
            raise UserError(
                f'{where}: entry {index} must be exactly {{"ParameterKey": "<name>", "ParameterValue": "<string>"}}'
            )
        if entry["ParameterKey"] in values:
            raise UserError(f"{where}: {entry['ParameterKey']} is listed twice")
        values[entry["ParameterKey"]] = entry["ParameterValue"]
    return values


def template_parameters(stack: Stack) -> dict[str, dict[str, Any]]:
    params = load_template(stack.template_path).get("Parameters") or {}
    if not isinstance(params, dict):
        raise UserError(f"{stack.template}: Parameters must be a mapping")
    return params


def read_settings(stack: Stack, environment: str) -> dict[str, str]:
    """The environment's settings.json (list format); an environment without one has no shared settings."""
    path = stack.settings_file(environment)
    return read_parameter_file(path) if path.exists() else {}


@dataclass(frozen=True)
class ParameterCheck:
    """The static view of a stack's parameters in one environment, before any AWS call."""

    stack: Stack
    environment: str
    file_values: dict[str, str]
    settings: dict[str, str] | None = None  # None: read the environment's settings.json

    @property
    def shared_settings(self) -> dict[str, str]:
        return read_settings(self.stack, self.environment) if self.settings is None else self.settings

    @property
    def values(self) -> dict[str, str]:
        """What the environment itself sets for this stack: its settings it declares, then its file."""
        declared = template_parameters(self.stack)
        chosen = {name: value for name, value in self.shared_settings.items() if name in declared}
        chosen.update(self.file_values)
        return chosen

    def problems(self) -> list[str]:
        declared = template_parameters(self.stack)
        settings = self.shared_settings
        where = repo_relative(self.stack.parameter_file(self.environment))
        settings_where = repo_relative(self.stack.settings_file(self.environment))
        found = []
        for name in sorted(set(self.file_values) - set(declared)):
            found.append(f"{where}: {name} is not a parameter of {self.stack.template}")
        for name in sorted(set(self.file_values) & self.stack.fed_parameters):
            found.append(
                f"{where}: {name} is fed by ci/ingestion_jobs.json ({self.stack.key}); remove it from the file"
            )
        for name in sorted(set(self.file_values) & set(settings)):
            found.append(f"{where}: {name} is set once for the environment in {settings_where}; remove it here")
        for name in sorted(set(settings) & self.stack.fed_parameters):
            found.append(f"{settings_where}: {name} is fed by ci/ingestion_jobs.json ({self.stack.key}); remove it")
        for name in sorted(self.stack.fed_parameters - set(declared)):
            found.append(f"ci/ingestion_jobs.json: {self.stack.key} feeds {name}, which {self.stack.template} lacks")
        for name, spec in declared.items():
            if "Default" in spec or name in self.file_values or name in settings or name in self.stack.fed_parameters:
                continue
            found.append(
                f"stack {self.stack.key}: parameter {name} has no value: add it to {where} "
                "or feed it from an earlier stack in ci/ingestion_jobs.json"
            )
        if settings.get("Environment", self.environment) != self.environment:
            found.append(f"{settings_where}: Environment is {settings['Environment']!r}, not {self.environment!r}")
        if self.environment != "local":
            for origin, values in ((where, self.file_values), (settings_where, settings)):
                for name, value in values.items():
                    if LOCAL_PLACEHOLDER.match(value):
                        found.append(f"{origin}: {name} uses a {{{{local:...}}}} value outside the local environment")
        return found


def check_parameters(stack: Stack, environment: str) -> ParameterCheck:
    return ParameterCheck(stack, environment, read_parameter_file(stack.parameter_file(environment)))


def resolve_parameters(
    stack: Stack,
    environment: str,
    outputs: Outputs,
    image_uri: Callable[[str], str],
    local_values: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every parameter value for one deploy of ``stack``: the file, then the manifest's feeds."""
    check = check_parameters(stack, environment)
    problems = check.problems()
    if problems:
        raise UserError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    values = check.values
    for name, value in values.items():
        match = LOCAL_PLACEHOLDER.match(value)
        if match:
            values[name] = _local_value(match["key"], local_values, stack, name)
    for name, ref in stack.inputs.items():
        stack_outputs = outputs.get(f"{ref.job}/{ref.stack}")
        if stack_outputs is None:
            raise UserError(
                f"stack {stack.key}: parameter {name} reads {ref}, but {ref.job}/{ref.stack} is not deployed "
                f"in {environment}: deploy it first (platformctl deploy --env {environment} --job {ref.job})"
            )
        if ref.output not in stack_outputs:
            raise UserError(
                f"stack {stack.key}: parameter {name} reads {ref}, but that stack has no output {ref.output}"
            )
        values[name] = stack_outputs[ref.output]
    for name, image in stack.images.items():
        values[name] = image_uri(image)
    return values


def _local_value(key: str, local_values: Mapping[str, Any] | None, stack: Stack, name: str) -> str:
    node: Any = local_values
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise UserError(
                f"stack {stack.key}: parameter {name} wants {{{{local:{key}}}}}, which the local cloud does not provide"
            )
        node = node[part]
    return str(node)


def brand_of(environment: str, stacks: list[Stack]) -> str:
    """The environment's brand: ``Brand`` in its settings.json (or, without one, what its files agree on)."""
    if not stacks:
        raise UserError(f"ci/environments/{environment}: no stack to read the Brand of")
    settings = read_settings(stacks[0], environment)
    if settings.get("Brand"):
        return settings["Brand"]
    files = [s.parameter_file(environment) for s in stacks]
    brands = {read_parameter_file(path).get("Brand") for path in files if path.exists()}
    brands.discard(None)
    if len(brands) != 1:
        where = repo_relative(stacks[0].settings_file(environment))
        raise UserError(f"{where}: set Brand there (the stacks' files have {sorted(b or '' for b in brands)})")
    return str(brands.pop())
