"""A template's IAM policy documents with every intrinsic function resolved, for the policy evaluator.

The template contract tests ask the evaluator (``platformctl.iam.evaluation``) questions about the roles a
template creates: may the CloudFormation execution role create this bucket, may the deploy role push an
image. The policies in a template are full of ``!Sub``, ``!Ref``, ``!GetAtt``, ``!If``, ``!Join`` and
``!Split``; ``TemplateResolver`` turns them into plain JSON for one deployment: given parameter values and
the pseudo parameters (partition, region, account, URL suffix, stack name).

A ``Ref`` or ``Fn::GetAtt`` of a resource resolves to what CloudFormation would return for the resource
types whose names the template sets (roles, managed policies, buckets, queues, topics, functions, ...);
others raise ``UnresolvableError`` unless the caller gives their value in ``physical``.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Deployment", "TemplateResolver", "UnresolvableError"]

_NO_VALUE = object()  # AWS::NoValue: the enclosing property or list item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class UnresolvableError(ValueError):
    """An intrinsic function the resolver cannot evaluate for this deployment."""


@dataclass(frozen=True)
class Deployment:
    """Where a template is deployed: the pseudo parameters' values."""

    account_id: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    stack_name: str = "stack"

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                "00000000-0000-4000-8000-000000000000"
            ),
        }


@dataclass
class TemplateResolver:
    """Resolves intrinsic functions of one template for one deployment."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]
    deployment: Deployment = field(default_factory=Deployment)
    physical: Mapping[str, str] = field(default_factory=dict)  # logical id -> Ref value, when known

    # ------------------------------------------------------------------------------------- public

    @property
    def resources(self) -> Mapping[str, Any]:
        return dict(self.template.get("Resources") or {})

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic function resolved (AWS::NoValue entries dropped)."""
        resolved = self._resolve(node)
        if resolved is _NO_VALUE:
            raise UnresolvableError("the node itself is AWS::NoValue")
        return resolved

    def text(self, node: Any) -> str:
        resolved = self.value(node)
        if not isinstance(resolved, str):
            raise UnresolvableError(f"expected a string, got {resolved!r}")
        return resolved

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise UnresolvableError(f"unknown condition {name}")
        return bool(self._condition(conditions[name]))

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created in this deployment (its Condition, if any, holds)."""
        body = self.resources[logical_id]
        return "Condition" not in body or self.condition(str(body["Condition"]))

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.value(dict(self.resources[logical_id].get("Properties") or {}))
        if not isinstance(resolved, dict):
            raise UnresolvableError(f"{logical_id}: Properties must be a mapping")
        return resolved

    def ref(self, name: str) -> str:
        pseudo = self.deployment.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.physical:
            return self.physical[name]
        declared = self.template.get("Parameters") or {}
        if name in declared:
            if name in self.parameters:
                return str(self.parameters[name])
            if "Default" in declared[name]:
                return str(declared[name]["Default"])
            raise UnresolvableError(f"parameter {name} has no value")
        if name in self.resources:
            return self._resource_ref(name)
        raise UnresolvableError(f"Ref to unknown name {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise UnresolvableError(f"GetAtt of unknown resource {logical_id}")
        key = f"{logical_id}.{attribute}"
        if key in self.physical:
            return self.physical[key]
        kind = str(self.resources[logical_id].get("Type"))
        value = self._arn(logical_id, kind) if attribute == "Arn" else None
        value = value or self._attribute(logical_id, kind, attribute)
        if value is None:
            raise UnresolvableError(f"GetAtt {key} ({kind}) is not known to the resolver")
        return value

    def _arn(self, logical_id: str, kind: str) -> str | None:
        d = self.deployment
        name = self._resource_ref(logical_id) if kind != "AWS::IAM::Role" else ""
        prefix = f"arn:{d.partition}"
        arns = {
            "AWS::IAM::Role": lambda: self._role_arn(logical_id),
            "AWS::Lambda::Function": lambda: f"{prefix}:lambda:{d.region}:{d.account_id}:function:{name}",
            "AWS::SQS::Queue": lambda: self._queue_arn(name),
            "AWS::S3::Bucket": lambda: f"{prefix}:s3:::{name}",
            "AWS::DynamoDB::Table": lambda: f"{prefix}:dynamodb:{d.region}:{d.account_id}:table/{name}",
            "AWS::KMS::Key": lambda: f"{prefix}:kms:{d.region}:{d.account_id}:key/{name}",
            "AWS::Events::EventBus": lambda: f"{prefix}:events:{d.region}:{d.account_id}:event-bus/{name}",
            "AWS::Events::Rule": lambda: self._rule_arn(logical_id, name),
            "AWS::Logs::LogGroup": lambda: f"{prefix}:logs:{d.region}:{d.account_id}:log-group:{name}:*",
            "AWS::ECR::Repository": lambda: f"{prefix}:ecr:{d.region}:{d.account_id}:repository/{name}",
            "AWS::StepFunctions::StateMachine": lambda: name,
            "AWS::SNS::Topic": lambda: name,
        }
        return str(arns[kind]()) if kind in arns else None

    def _attribute(self, logical_id: str, kind: str, attribute: str) -> str | None:
        d = self.deployment
        name = self._resource_ref(logical_id)
        attributes = {
            ("AWS::Events::EventBus", "Name"): lambda: name,
            ("AWS::StepFunctions::StateMachine", "Name"): lambda: name.rsplit(":", 1)[-1],
            ("AWS::SQS::Queue", "QueueName"): lambda: name.rsplit("/", 1)[-1],
            ("AWS::SNS::Topic", "TopicName"): lambda: name.rsplit(":", 1)[-1],
            ("AWS::SNS::Topic", "TopicArn"): lambda: name,
            ("AWS::ApiGatewayV2::Api", "ApiEndpoint"): lambda: f"https://{name}.execute-api.{d.region}.{d.url_suffix}",
        }
        found = attributes.get((kind, attribute))
        return str(found()) if found else None

    def _rule_arn(self, logical_id: str, name: str) -> str:
        d = self.deployment
        bus = str(self.value(self.resources[logical_id].get("Properties", {}).get("EventBusName", "default")))
        bus = bus.split(":event-bus/", 1)[-1]
        scope = "" if bus == "default" else f"{bus}/"
        return f"arn:{d.partition}:events:{d.region}:{d.account_id}:rule/{scope}{name}"

    def policy_documents(self, role_logical_id: str) -> dict[str, dict[str, Any]]:
        """Every identity policy of a role: its inline ``Policies`` and the managed policies and
        ``AWS::IAM::Policy`` resources of the template that attach to it, by name."""
        documents: dict[str, dict[str, Any]] = {}
        for policy in self.properties(role_logical_id).get("Policies") or []:
            documents[str(policy["PolicyName"])] = policy["PolicyDocument"]
        for logical_id, body in self.resources.items():
            if body.get("Type") not in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"} or not self.exists(logical_id):
                continue
            roles = (body.get("Properties") or {}).get("Roles") or []
            if any(isinstance(r, dict) and r.get("Ref") == role_logical_id for r in roles):
                documents[logical_id] = self.properties(logical_id)["PolicyDocument"]
        return documents

    # ------------------------------------------------------------------------------------ helpers

    def _role_arn(self, logical_id: str) -> str:
        d = self.deployment
        path = str(self.properties(logical_id).get("Path", "/"))
        return f"arn:{d.partition}:iam::{d.account_id}:role{path}{self._resource_ref(logical_id)}"

    def _queue_arn(self, url_or_name: str) -> str:
        d = self.deployment
        return f"arn:{d.partition}:sqs:{d.region}:{d.account_id}:{url_or_name.rsplit('/', 1)[-1]}"

    def _generated_name(self, logical_id: str) -> str:
        """The physical name CloudFormation generates: <stack name>-<logical id>-<suffix>."""
        return f"{self.deployment.stack_name}-{logical_id}-ABCDEF123456"

    def _resource_ref(self, logical_id: str) -> str:
        if logical_id in self.physical:
            return self.physical[logical_id]
        body = self.resources[logical_id]
        kind = str(body.get("Type"))
        props = body.get("Properties") or {}
        d = self.deployment
        region, account = f"{d.region}:{d.account_id}", d.account_id

        def named(prop: str) -> str:
            return self.text(props[prop]) if prop in props else self._generated_name(logical_id)

        def key_id() -> str:
            digest = hashlib.sha256(logical_id.encode("utf-8")).hexdigest()
            return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"

        refs: dict[str, Any] = {
            "AWS::IAM::ManagedPolicy": lambda: (
                f"arn:{d.partition}:iam::{account}:policy"
                f"{self.text(props.get('Path', '/'))}{named('ManagedPolicyName')}"
            ),
            "AWS::IAM::OIDCProvider": lambda: (
                f"arn:{d.partition}:iam::{account}:oidc-provider/{self.text(props['Url']).removeprefix('https://')}"
            ),
            "AWS::IAM::Role": lambda: named("RoleName"),
            "AWS::S3::Bucket": lambda: named("BucketName").lower(),  # generated bucket names are lower case
            "AWS::DynamoDB::Table": lambda: named("TableName"),
            "AWS::Lambda::Function": lambda: named("FunctionName"),
            "AWS::ECR::Repository": lambda: named("RepositoryName"),
            "AWS::Events::EventBus": lambda: named("Name"),
            "AWS::Events::Rule": lambda: named("Name"),
            "AWS::Logs::LogGroup": lambda: named("LogGroupName"),
            "AWS::Glue::Database": lambda: self.text(props["DatabaseInput"]["Name"]),
            "AWS::Glue::Job": lambda: named("Name"),
            "AWS::Glue::Crawler": lambda: named("Name"),
            "AWS::Glue::SecurityConfiguration": lambda: named("Name"),
            "AWS::Scheduler::Schedule": lambda: named("Name"),
            "AWS::SQS::Queue": lambda: f"https://sqs.{d.region}.{d.url_suffix}/{account}/{named('QueueName')}",
            "AWS::SNS::Topic": lambda: f"arn:{d.partition}:sns:{region}:{named('TopicName')}",
            "AWS::StepFunctions::StateMachine": lambda: (
                f"arn:{d.partition}:states:{region}:stateMachine:{named('StateMachineName')}"
            ),
            "AWS::SecretsManager::Secret": lambda: (
                f"arn:{d.partition}:secretsmanager:{region}:secret:{named('Name')}-AbCdEf"
            ),
            "AWS::KMS::Key": key_id,
        }
        if kind.startswith("AWS::ApiGatewayV2::"):
            return hashlib.sha256(logical_id.encode("utf-8")).hexdigest()[:10]  # a generated id
        if kind not in refs:
            raise UnresolvableError(f"Ref {logical_id} ({kind}) is not known to the resolver")
        return str(refs[kind]())

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, args),) = node.items()
            if key == "Condition":
                return self.condition(str(args))
            if key == "Fn::Equals":
                return self._resolve(args[0]) == self._resolve(args[1])
            if key == "Fn::Not":
                return not self._condition(args[0])
            if key == "Fn::And":
                return all(self._condition(a) for a in args)
            if key == "Fn::Or":
                return any(self._condition(a) for a in args)
        return self._resolve(node)

    def _sub(self, args: Any) -> str:
        text, extra = (args[0], args[1]) if isinstance(args, list) else (args, {})
        values = {name: self._resolve(value) for name, value in dict(extra).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return _SUB_VARIABLE.sub(replace, str(text))

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self._resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            function = self._functions().get(key)
            if function is not None:
                return function(args)
            if key in {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}:
                return self._condition(node)
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{key} is not supported by the resolver")
        resolved = {key: self._resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        def ref(args: Any) -> Any:
            return _NO_VALUE if args == "AWS::NoValue" else self.ref(str(args))

        def get_att(args: Any) -> str:
            logical_id, attribute = args if isinstance(args, list) else str(args).split(".", 1)
            return self.get_att(str(logical_id), str(attribute))

        def if_(args: Any) -> Any:
            name, when_true, when_false = args
            return self._resolve(when_true if self.condition(str(name)) else when_false)

        def join(args: Any) -> str:
            separator, items = args
            return str(separator).join(str(i) for i in self._resolve(items))

        def split(args: Any) -> list[str]:
            separator, source = args
            return str(self._resolve(source)).split(str(separator))

        def select(args: Any) -> Any:
            index, items = args
            return self._resolve(items)[int(self._resolve(index))]

        def base64(args: Any) -> str:
            return b64encode(str(self._resolve(args)).encode("utf-8")).decode("ascii")

        return {
            "Fn::Base64": base64,
            "Ref": ref,
            "Fn::GetAtt": get_att,
            "Fn::Sub": self._sub,
            "Fn::If": if_,
            "Fn::Join": join,
            "Fn::Split": split,
            "Fn::Select": select,
        }
