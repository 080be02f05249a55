"""moto's CloudFormation, made to behave like the service for the deploy tool.

- Resource types: moto's own models plus the local providers; any other type fails the deploy
  (moto would skip it and still report CREATE_COMPLETE).
- Change sets: executing one records an event per resource (IN_PROGRESS, COMPLETE, FAILED with the
  reason), computes the stack's outputs, and on a failure leaves the stack where CloudFormation would
  (ROLLBACK_COMPLETE after a failed create, UPDATE_ROLLBACK_COMPLETE after a failed update) instead of
  answering HTTP 500.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from typing import Any
from urllib.parse import urlparse

import yaml
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.models import Event, cloudformation_backends
from moto.cloudformation.utils import get_stack_from_s3_url, yaml_tag_constructor
from yaml.parser import ParserError
from yaml.scanner import ScannerError

from platformctl.localcloud.providers import REGISTRY

logger = logging.getLogger(__name__)
_installed: dict[str, bool] = {}


class UnsupportedTypeError(Exception):
    """A resource type neither moto nor the local layer creates."""


def _stack_for(resources_map: Any) -> Any:
    account = resources_map._account_id
    region = resources_map._region_name
    return cloudformation_backends[account][region].stacks.get(resources_map.stack_id)


def _add_resource_event(
    stack: Any, logical_id: str, resource_type: str, status: str, physical_id: str = "", reason: str | None = None
) -> None:
    if stack is None:
        return
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def _with_events(action: str, original: Any) -> Any:
    @functools.wraps(original)
    def wrapper(logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kwargs: Any) -> Any:
        resource_type = resource_json.get("Type", "")
        condition = resource_json.get("Condition")
        if action == "CREATE" and condition and not resources_map.lazy_condition_map[condition]:
            return original(logical_id, resource_json, resources_map, *args, **kwargs)
        if (
            parsing.resource_class_from_type(resource_type) is None
            and resource_type not in parsing.NULL_MODELS
            and not resource_type.startswith("Custom::")
        ):
            raise UnsupportedTypeError(
                f"{logical_id}: resource type {resource_type} is not supported by the local cloud "
                "(add a provider in scripts/platformctl/localcloud/providers.py)"
            )
        stack = _stack_for(resources_map)
        _add_resource_event(stack, logical_id, resource_type, f"{action}_IN_PROGRESS")
        try:
            resource = original(logical_id, resource_json, resources_map, *args, **kwargs)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            _add_resource_event(stack, logical_id, resource_type, f"{action}_FAILED", reason=reason)
            raise _ResourceFailedError(logical_id, reason) from exc
        _add_resource_event(stack, logical_id, resource_type, f"{action}_COMPLETE", _physical_id(resource))
        return resource

    return wrapper


class _ResourceFailedError(Exception):
    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


def _model_map_with_providers(original: Any) -> Any:
    @functools.cache
    def model_map() -> dict[str, Any]:
        merged = dict(original())
        merged.update(REGISTRY)
        return merged

    return model_map


def _execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    action = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
    previous_template = stack.template
    stack.status = f"{action}_IN_PROGRESS"
    stack._add_stack_event(f"{action}_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        stack.resource_map.update(change_set.template_dict, change_set.parameters)
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = change_set.parameters
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for key in list(stack.output_map.outputs):
            _ = stack.output_map[key]  # resolve now, so a bad output fails this deploy, not a later read
    except Exception as exc:  # noqa: BLE001 - any failure becomes the stack's failure state, as on AWS
        reason = exc.reason if isinstance(exc, _ResourceFailedError) else f"{type(exc).__name__}: {exc}"
        logger.info("stack %s: %s failed: %s", stack.name, action.lower(), reason)
        if not isinstance(exc, _ResourceFailedError):
            _add_resource_event(stack, stack.name, "AWS::CloudFormation::Stack", f"{action}_FAILED", reason=reason)
        change_set.execution_status = "EXECUTE_FAILED"
        if action == "CREATE":
            stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            with contextlib.suppress(Exception):  # rollback is best effort, like CloudFormation's
                stack.resource_map.delete()
            stack.status = "ROLLBACK_COMPLETE"
            stack._add_stack_event("ROLLBACK_COMPLETE")
        else:
            stack.template = previous_template
            stack._parse_template()
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE", resource_status_reason=reason)
        return
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = f"{action}_COMPLETE"
    stack._add_stack_event(f"{action}_COMPLETE")


class _TemplateLoader(getattr(yaml, "CLoader", yaml.Loader)):  # type: ignore[misc]
    """moto's template loader (``yaml.Loader`` with its intrinsic-function tags) on libyaml's parser."""


_TemplateLoader.add_multi_constructor("", yaml_tag_constructor)


def _parse_template(template: str) -> dict[str, Any]:
    # moto parses each template three times per deploy with the pure-Python parser: a third of the
    # local cloud's start-up went there. libyaml gives the same documents about ten times faster.
    try:
        return yaml.load(template, Loader=_TemplateLoader)  # type: ignore[no-any-return] # noqa: S506 - moto's loader, our own templates
    except (ParserError, ScannerError):
        return json.loads(template)  # type: ignore[no-any-return]


def _parse_change_set_template(change_set: Any) -> Any:
    # Parse with the same loader as the stack, so has_template() comparisons are like for like.
    change_set.template_dict = cfn_models.Stack.parse_template(change_set.template)


def _created_resources(self: Any) -> list[Any]:
    # moto lists every template resource, including those whose Condition is false (as empty entries).
    return [r for r in self.resource_map.values() if r is not None and hasattr(r, "logical_resource_id")]


def _template_from_emulator_url(original: Any) -> Any:
    """Templates over 51,200 bytes arrive as a presigned path-style URL of the emulator
    (``http://127.0.0.1:<port>/<bucket>/<key>``); moto reads path style only from ``localhost``."""

    @functools.wraps(original)
    def get_template(template_url: str, account_id: str, partition: str) -> Any:
        parts = urlparse(template_url)
        if parts.hostname == "127.0.0.1":
            template_url = parts._replace(netloc=f"localhost:{parts.port}").geturl()
        return original(template_url, account_id=account_id, partition=partition)

    return get_template


def install() -> None:
    if _installed:
        return
    patches = {
        (parsing, "get_model_map"): _model_map_with_providers(parsing.get_model_map),
        (parsing, "parse_and_create_resource"): _with_events("CREATE", parsing.parse_and_create_resource),
        (parsing, "parse_and_update_resource"): _with_events("UPDATE", parsing.parse_and_update_resource),
        (cfn_models.CloudFormationBackend, "execute_change_set"): _execute_change_set,
        (cfn_models.ChangeSet, "_parse_template"): _parse_change_set_template,
        (cfn_models.Stack, "parse_template"): staticmethod(_parse_template),
        (cfn_models.Stack, "stack_resources"): property(_created_resources),
        (cfn_responses, "get_stack_from_s3_url"): _template_from_emulator_url(get_stack_from_s3_url),
    }
    for (owner, name), replacement in patches.items():  # deliberate patches of moto's internals
        setattr(owner, name, replacement)
    _installed["done"] = True
