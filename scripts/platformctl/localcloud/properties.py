"""Resource types moto's CloudFormation creates but only partly: what it drops is applied here.

For each such type the table below says which properties moto applies itself (``native``, checked by
tests/integration), which the local layer applies through the service API after moto's create
(``applied``), which it accepts without a local effect and why (``inert``), and, for types whose moto
create is too thin to build on, a ``replace`` that creates the resource through the API instead.
Any other property fails the deploy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.parsing import get_model_map

from platformctl.localcloud.providers import Context, _tags_list, check_properties

Applier = Callable[[Context, Any, Any], None]


@dataclass(frozen=True)
class NativeType:
    type: str
    native: frozenset[str]
    applied: dict[str, Applier] = field(default_factory=dict)
    inert: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[dict[str, Any]], None] | None = None
    replace: Callable[[Context, dict[str, Any], str, str], Any] | None = None  # (ctx, props, name, account)

    @property
    def handled(self) -> set[str]:
        return set(self.native) | set(self.applied)


# ---------------------------------------------------------------------------------------------- s3


def _bucket(resource: Any) -> str:
    return str(resource.name)


def _s3_versioning(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("s3").put_bucket_versioning(
        Bucket=_bucket(resource), VersioningConfiguration={"Status": value.get("Status", "Enabled")}
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    prefix = rule.get("Prefix")
    api["Filter"] = {"Prefix": prefix} if prefix is not None else {"Prefix": ""}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    transitions = list(rule.get("Transitions", []))
    if "Transition" in rule:
        transitions.append(rule["Transition"])
    if transitions:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in transitions
        ]
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(noncurrent["NoncurrentDays"])}
    elif "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    noncurrent_transitions = rule.get("NoncurrentVersionTransitions", [])
    if noncurrent_transitions:
        api["NoncurrentVersionTransitions"] = [
            {"NoncurrentDays": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in noncurrent_transitions
        ]
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    if "ExpiredObjectDeleteMarker" in rule:
        api.setdefault("Expiration", {})["ExpiredObjectDeleteMarker"] = bool(rule["ExpiredObjectDeleteMarker"])
    return api


def _s3_lifecycle(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("s3").put_bucket_lifecycle_configuration(
        Bucket=_bucket(resource), LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in value["Rules"]]}
    )


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


def _s3_public_access_block(ctx: Context, resource: Any, value: Any) -> None:
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    ctx.client("s3").put_public_access_block(
        Bucket=_bucket(resource),
        PublicAccessBlockConfiguration={flag: _truthy(value.get(flag, False)) for flag in flags},
    )


def _s3_notifications(ctx: Context, resource: Any, value: Any) -> None:
    unknown = set(value) - {"EventBridgeConfiguration"}
    if unknown:
        raise ValueError(
            f"AWS::S3::Bucket NotificationConfiguration: the local cloud handles only EventBridge, not {unknown}"
        )
    if _truthy(value.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", True)):
        ctx.client("s3").put_bucket_notification_configuration(
            Bucket=_bucket(resource), NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


def _s3_logging(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("s3").put_bucket_logging(
        Bucket=_bucket(resource),
        BucketLoggingStatus={
            "LoggingEnabled": {
                "TargetBucket": value["DestinationBucketName"],
                "TargetPrefix": value.get("LogFilePrefix", ""),
            }
        },
    )


def _s3_ownership(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("s3").put_bucket_ownership_controls(
        Bucket=_bucket(resource),
        OwnershipControls={"Rules": [{"ObjectOwnership": r["ObjectOwnership"]} for r in value["Rules"]]},
    )


# -------------------------------------------------------------------------------------------- dynamodb


def _dynamodb_pitr(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("dynamodb").update_continuous_backups(
        TableName=resource.name,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": _truthy(value.get("PointInTimeRecoveryEnabled"))
        },
    )


def _dynamodb_ttl(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("dynamodb").update_time_to_live(
        TableName=resource.name,
        TimeToLiveSpecification={"AttributeName": value["AttributeName"], "Enabled": _truthy(value.get("Enabled"))},
    )


def _dynamodb_properties(properties: dict[str, Any]) -> None:
    # CloudFormation says SSEEnabled where the API (and moto's model) says Enabled.
    sse = properties.get("SSESpecification")
    if isinstance(sse, dict) and "SSEEnabled" in sse:
        sse = dict(sse)
        sse["Enabled"] = _truthy(sse.pop("SSEEnabled"))
        properties["SSESpecification"] = sse


# ------------------------------------------------------------------------------------------------ iam


def _iam_role_properties(properties: dict[str, Any]) -> None:
    # moto stores an inline policy given as an object as it is, and GetRolePolicy then answers its Python
    # repr, which no client can parse; text is stored and answered as IAM does.
    for policy in properties.get("Policies") or []:
        if isinstance(policy, dict) and not isinstance(policy.get("PolicyDocument"), str):
            policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])


def _iam_managed_policies(ctx: Context, resource: Any, value: Any) -> None:
    for arn in value:
        ctx.client("iam").attach_role_policy(RoleName=resource.name, PolicyArn=arn)


# ------------------------------------------------------------------------------------------------ kms


def _kms_key_properties(properties: dict[str, Any]) -> None:
    # moto stores the policy as given; an object breaks DescribeKey/GetKeyPolicy, text does not.
    if "KeyPolicy" in properties and not isinstance(properties["KeyPolicy"], str):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
    # moto's KMS model reads tags in the KMS API's shape (TagKey/TagValue), not CloudFormation's.
    if "Tags" in properties:
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties["Tags"]]


# -------------------------------------------------------------------------------------- event buses


def _event_bus_tags(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("events").tag_resource(ResourceARN=resource.arn, Tags=_tags_list(value))


# ----------------------------------------------------------------------------------------------- ecr


def _create_repository(ctx: Context, properties: dict[str, Any], name: str, account_id: str) -> Any:
    # moto's model keeps CloudFormation's capitalisation for these, so DescribeRepositories shows them empty.
    from moto.ecr.models import ecr_backends

    arguments: dict[str, Any] = {"repositoryName": name, "tags": _tags_list(properties.get("Tags"))}
    if "ImageTagMutability" in properties:
        arguments["imageTagMutability"] = properties["ImageTagMutability"]
    scanning = properties.get("ImageScanningConfiguration")
    if scanning:
        arguments["imageScanningConfiguration"] = {"scanOnPush": _truthy(scanning.get("ScanOnPush", False))}
    encryption = properties.get("EncryptionConfiguration")
    if encryption:
        arguments["encryptionConfiguration"] = {"encryptionType": encryption.get("EncryptionType", "AES256")}
        if encryption.get("KmsKey"):
            arguments["encryptionConfiguration"]["kmsKey"] = encryption["KmsKey"]
    ctx.client("ecr").create_repository(**arguments)
    return ecr_backends[account_id][ctx.region].repositories[name]


def _ecr_lifecycle(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("ecr").put_lifecycle_policy(
        repositoryName=resource.name, lifecyclePolicyText=value["LifecyclePolicyText"]
    )


def _ecr_policy(ctx: Context, resource: Any, value: Any) -> None:
    ctx.client("ecr").set_repository_policy(repositoryName=resource.name, policyText=_json_text(value))


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------------- replaced: lambda functions

_LAMBDA_PASSTHROUGH = (
    "Description",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Environment",
    "TracingConfig",
    "DeadLetterConfig",
    "LoggingConfig",
    "Architectures",
    "EphemeralStorage",
    "ImageConfig",
    "PackageType",
    "VpcConfig",
    "KmsKeyArn",
    "Layers",
)


def _create_function(ctx: Context, properties: dict[str, Any], name: str, account_id: str) -> Any:
    from moto.awslambda.utils import get_backend

    arguments = {k: properties[k] for k in _LAMBDA_PASSTHROUGH if k in properties}
    for key in ("MemorySize", "Timeout"):
        if key in arguments:
            arguments[key] = int(arguments[key])
    if "EphemeralStorage" in arguments:
        arguments["EphemeralStorage"] = {"Size": int(arguments["EphemeralStorage"]["Size"])}
    if "KmsKeyArn" in arguments:  # CloudFormation's KmsKeyArn is the API's KMSKeyArn
        arguments["KMSKeyArn"] = arguments.pop("KmsKeyArn")
    variables = (arguments.get("Environment") or {}).get("Variables")
    if variables:  # CloudFormation passes every value as text; moto resolves a Number parameter to an int
        arguments["Environment"] = {
            "Variables": {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in variables.items()}
        }
    code = dict(properties["Code"])
    if "ZipFile" in code:
        raise ValueError("inline ZipFile code is not used by this platform; functions are container images")
    lambda_client = ctx.client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Role=properties["Role"],
        Code=code,
        Tags=dict(_tag_pairs(properties.get("Tags"))),
        **arguments,
    )
    if "ReservedConcurrentExecutions" in properties:
        lambda_client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(properties["ReservedConcurrentExecutions"])
        )
    function: Any = get_backend(account_id, ctx.region).get_function(name)
    # moto's Lambda does not keep these; the local runtime reads them and GetFunctionConfiguration shows them.
    function.platform_extras = {k: properties[k] for k in ("DeadLetterConfig", "LoggingConfig") if k in properties}
    return function


def _configuration_with_extras(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        configuration = original(self, *args, **kwargs)
        configuration.update(getattr(self, "platform_extras", {}))
        return configuration

    return get_configuration


def _tag_pairs(tags: Any) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in _tags_list(tags)]


# --------------------------------------------------------------------- replaced: state machines


def _create_state_machine(ctx: Context, properties: dict[str, Any], name: str, account_id: str) -> Any:
    # Created through the API so it lands in the executing backend (stepfunctions.execute_state_machine).
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    arguments: dict[str, Any] = {
        "name": properties.get("StateMachineName", name),  # moto's model names the wrong property
        "definition": properties["DefinitionString"],
        "roleArn": properties["RoleArn"],
        "type": properties.get("StateMachineType", "STANDARD"),
        "tags": [{"key": k, "value": v} for k, v in _tag_pairs(properties.get("Tags"))],
    }
    logging = properties.get("LoggingConfiguration")
    if logging:
        arguments["loggingConfiguration"] = {
            "level": logging.get("Level", "OFF"),
            "includeExecutionData": _truthy(logging.get("IncludeExecutionData", False)),
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                for d in logging.get("Destinations", [])
            ],
        }
    tracing = properties.get("TracingConfiguration")
    if tracing:
        arguments["tracingConfiguration"] = {"enabled": _truthy(tracing.get("Enabled", False))}
    arn = ctx.client("stepfunctions").create_state_machine(**arguments)["stateMachineArn"]
    return stepfunctions_parser_backends[account_id][ctx.region].describe_state_machine(arn)


NATIVE_TYPES: dict[str, NativeType] = {
    spec.type: spec
    for spec in [
        NativeType(
            "AWS::S3::Bucket",
            native=frozenset({"BucketName", "BucketEncryption", "Tags"}),
            applied={
                "VersioningConfiguration": _s3_versioning,
                "LifecycleConfiguration": _s3_lifecycle,
                "PublicAccessBlockConfiguration": _s3_public_access_block,
                "NotificationConfiguration": _s3_notifications,
                "LoggingConfiguration": _s3_logging,
                "OwnershipControls": _s3_ownership,
            },
            inert={"ObjectLockEnabled": "object lock is not emulated"},
        ),
        NativeType(
            "AWS::DynamoDB::Table",
            native=frozenset(
                {
                    "TableName",
                    "AttributeDefinitions",
                    "KeySchema",
                    "BillingMode",
                    "GlobalSecondaryIndexes",
                    "LocalSecondaryIndexes",
                    "ProvisionedThroughput",
                    "SSESpecification",
                    "StreamSpecification",
                    "DeletionProtectionEnabled",
                    "Tags",
                }
            ),
            applied={"PointInTimeRecoverySpecification": _dynamodb_pitr, "TimeToLiveSpecification": _dynamodb_ttl},
            prepare=_dynamodb_properties,
            inert={
                "ContributorInsightsSpecification": "not emulated",
                "TableClass": "storage class has no local effect",
            },
        ),
        NativeType(
            "AWS::IAM::Role",
            native=frozenset(
                {
                    "RoleName",
                    "AssumeRolePolicyDocument",
                    "Description",
                    "MaxSessionDuration",
                    "Path",
                    "PermissionsBoundary",
                    "Policies",
                    "Tags",
                }
            ),
            applied={"ManagedPolicyArns": _iam_managed_policies},
            prepare=_iam_role_properties,
        ),
        NativeType("AWS::IAM::Policy", native=frozenset({"PolicyName", "PolicyDocument", "Roles", "Groups", "Users"})),
        NativeType(
            "AWS::IAM::ManagedPolicy",
            native=frozenset(
                {"ManagedPolicyName", "Description", "Path", "PolicyDocument", "Roles", "Groups", "Users", "Tags"}
            ),
        ),
        NativeType(
            "AWS::KMS::Key",
            native=frozenset({"KeyPolicy", "Description", "EnableKeyRotation", "Enabled", "Tags"}),
            inert={
                "PendingWindowInDays": "keys are not deleted locally",
                "KeySpec": "the local platform uses symmetric keys only",
                "KeyUsage": "the local platform uses ENCRYPT_DECRYPT keys only",
                "MultiRegion": "one region locally",
                "RotationPeriodInDays": "rotation has no local effect",
            },
            prepare=_kms_key_properties,
        ),
        NativeType("AWS::KMS::Alias", native=frozenset({"AliasName", "TargetKeyId"})),
        NativeType(
            "AWS::SQS::Queue",
            native=frozenset(
                {
                    "QueueName",
                    "KmsMasterKeyId",
                    "KmsDataKeyReusePeriodSeconds",
                    "MessageRetentionPeriod",
                    "VisibilityTimeout",
                    "RedrivePolicy",
                    "RedriveAllowPolicy",
                    "ReceiveMessageWaitTimeSeconds",
                    "DelaySeconds",
                    "MaximumMessageSize",
                    "SqsManagedSseEnabled",
                    "FifoQueue",
                    "ContentBasedDeduplication",
                    "Tags",
                }
            ),
        ),
        NativeType("AWS::SNS::Topic", native=frozenset({"TopicName", "KmsMasterKeyId", "DisplayName", "Tags"})),
        NativeType(
            "AWS::Events::EventBus",
            native=frozenset({"Name", "EventSourceName"}),
            applied={"Tags": _event_bus_tags},
            inert={
                "Description": "descriptions are not emulated",
                "KmsKeyIdentifier": "bus encryption is not emulated",
            },
        ),
        NativeType(
            "AWS::Events::Rule",
            native=frozenset(
                {
                    "Name",
                    "Description",
                    "EventBusName",
                    "EventPattern",
                    "RoleArn",
                    "ScheduleExpression",
                    "State",
                    "Targets",
                }
            ),
        ),
        NativeType(
            "AWS::Events::Archive",
            native=frozenset({"ArchiveName", "SourceArn", "Description", "EventPattern", "RetentionDays"}),
        ),
        NativeType(
            "AWS::Logs::LogGroup",
            native=frozenset({"LogGroupName", "RetentionInDays", "KmsKeyId", "Tags"}),
            inert={"LogGroupClass": "log classes are not emulated", "DataProtectionPolicy": "not emulated"},
        ),
        NativeType(
            "AWS::ECR::Repository",
            native=frozenset(
                {
                    "RepositoryName",
                    "EncryptionConfiguration",
                    "ImageScanningConfiguration",
                    "ImageTagMutability",
                    "Tags",
                }
            ),
            applied={"LifecyclePolicy": _ecr_lifecycle, "RepositoryPolicyText": _ecr_policy},
            inert={"EmptyOnDelete": "repositories are not deleted locally"},
            replace=_create_repository,
        ),
        NativeType(
            "AWS::Lambda::Function",
            native=frozenset(
                {"FunctionName", "Role", "Code", "ReservedConcurrentExecutions", "Tags", *_LAMBDA_PASSTHROUGH}
            ),
            replace=_create_function,
        ),
        NativeType(
            "AWS::Lambda::Permission",
            native=frozenset({"FunctionName", "Action", "Principal", "SourceArn", "SourceAccount", "EventSourceToken"}),
        ),
        NativeType(
            "AWS::Lambda::EventSourceMapping",
            native=frozenset(
                {
                    "FunctionName",
                    "EventSourceArn",
                    "BatchSize",
                    "Enabled",
                    "StartingPosition",
                    "MaximumBatchingWindowInSeconds",
                    "FunctionResponseTypes",
                    # applied by the stream poller (stream_poller.py), which refuses BisectBatchOnFunctionError
                    "MaximumRetryAttempts",
                    "DestinationConfig",
                    "BisectBatchOnFunctionError",
                }
            ),
        ),
        NativeType(
            "AWS::StepFunctions::StateMachine",
            native=frozenset(
                {
                    "StateMachineName",
                    "DefinitionString",
                    "RoleArn",
                    "StateMachineType",
                    "LoggingConfiguration",
                    "TracingConfiguration",
                    "Tags",
                }
            ),
            replace=_create_state_machine,
        ),
        NativeType("AWS::CloudWatch::Dashboard", native=frozenset({"DashboardName", "DashboardBody"})),
    ]
}


# ------------------------------------------------------------------- s3 bucket policies at request time


# What moto cannot tell a bucket policy about a request on the local endpoint: plain HTTP on loopback stands
# in for AWS's TLS endpoints, so the transport is as for TLS 1.2.
_LOCAL_TRANSPORT = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}


def _fails_for_local_tls(condition: Any) -> bool:
    """Whether a statement's Condition fails for a local request, so that moto must not apply it.

    moto applies a bucket policy's statements without their conditions, so a "deny unless TLS" or a
    "deny a wrong encryption header" statement would deny every request. A statement applies only when
    its whole Condition holds; for the transport it is evaluated as TLS 1.2. Conditions on the request
    itself (the encryption headers) are evaluated for calls made with a role's credentials by the local
    IAM enforcement (iam_enforcement.py), with the request's own values.
    """
    from platformctl.iam.conditions import conditions_hold

    return condition is not None and not conditions_hold(condition, _LOCAL_TRANSPORT)


def _bucket_permission_with_transport(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original(self, action, resource)
        from moto.iam.access_control import IAMPolicy, PermissionResult

        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [s for s in statements if not _fails_for_local_tls(s.get("Condition"))]
        if len(kept) == len(statements):
            return original(self, action, resource)
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)

    return get_permission


def install() -> None:
    """Wrap moto's models so the table above is enforced and applied on every create and update."""
    from moto.awslambda.models import LambdaFunction

    if not getattr(LambdaFunction, "_platformctl_configuration_wrapped", False):
        setattr(LambdaFunction, "get_configuration", _configuration_with_extras(LambdaFunction.get_configuration))  # noqa: B010
        setattr(LambdaFunction, "_platformctl_configuration_wrapped", True)  # noqa: B010
    from moto.s3.models import FakeBucket

    if not getattr(FakeBucket, "_platformctl_transport_wrapped", False):
        setattr(FakeBucket, "get_permission", _bucket_permission_with_transport(FakeBucket.get_permission))  # noqa: B010
        setattr(FakeBucket, "_platformctl_transport_wrapped", True)  # noqa: B010
    models: dict[str, Any] = get_model_map()
    for resource_type, spec in NATIVE_TYPES.items():
        model = models[resource_type]
        if getattr(model, "_platformctl_wrapped", False):
            continue
        _wrap(model, spec)
        model._platformctl_wrapped = True


def _wrap(model: Any, spec: NativeType) -> None:
    original_create = model.create_from_cloudformation_json.__func__
    original_update = getattr(model.update_from_cloudformation_json, "__func__", None)

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.setdefault("Properties", {})
        check_properties(spec.type, properties, spec.handled, spec.inert)
        if spec.prepare:
            spec.prepare(properties)
        context = Context(kwargs.get("LogicalId", ""), kwargs.get("StackId", ""), resource_name, region_name)
        if spec.replace:
            resource = spec.replace(context, properties, resource_name, account_id)
        else:
            resource = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        for name, applier in spec.applied.items():
            if name in properties:
                applier(context, resource, properties[name])
        return resource

    def update(
        cls: Any,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.setdefault("Properties", {})
        check_properties(spec.type, properties, spec.handled, spec.inert)
        if spec.prepare:
            spec.prepare(properties)
        if original_update is None or getattr(original_update, "__isabstractmethod__", False):
            raise NotImplementedError(f"{spec.type}: updates are not emulated; restart the local cloud to redeploy")
        resource = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        context = Context("", "", new_resource_name, region_name)
        for name, applier in spec.applied.items():
            if name in properties:
                applier(context, resource, properties[name])
        return resource

    model.create_from_cloudformation_json = classmethod(create)
    model.update_from_cloudformation_json = classmethod(update)
