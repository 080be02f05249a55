"""What IAM authorizes for each AWS operation: the action(s), the resource ARN(s) and the condition keys.

An operation is authorized by one or more checks: most need one action on one resource; some need an
action per resource (a DynamoDB batch write needs ``dynamodb:BatchWriteItem`` on each table, Glue's
``GetTable`` the catalog, database and table), and some imply another action (``iam:PassRole`` for a role
handed to a service, ``s3:GetObject`` on a copy's source). Names follow the Service Authorization
Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/). An operation that is not
in the table raises ``UnknownOperationError``: it is never silently allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class UnknownOperationError(LookupError):
    """The table does not say how IAM authorizes this operation."""


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


class Lookup(Protocol):
    """What the table needs from the account to name a resource (implemented over the emulator's state)."""

    account: str

    def secret_arn(self, region: str, secret_id: str) -> str: ...

    def key_arn(self, region: str, key_id: str) -> str: ...

    def ciphertext_key_arn(self, region: str, blob: str) -> str: ...

    def stack_arn(self, region: str, stack: str) -> str: ...

    def function_arn(self, region: str, name: str) -> str: ...


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    lookup: Lookup

    def p(self, name: str, default: str = "") -> str:
        value = self.params.get(name, default)
        return "" if value is None else str(value)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.lookup.account if account else ''}:{resource}"


Rule = Callable[[Call], list[Check]]


def _one(action: str, resource: Callable[[Call], str], context: Callable[[Call], dict[str, Any]] | None = None) -> Rule:
    return lambda call: [Check(action, resource(call), context(call) if context else {})]


def _any(call: Call) -> str:
    return "*"


def _pass_role(role_param: Callable[[Call], str], service: str) -> Callable[[Call], list[Check]]:
    def checks(call: Call) -> list[Check]:
        role = role_param(call)
        return [Check("iam:PassRole", role, {"iam:PassedToService": service})] if role else []

    return checks


def _plus(rule: Rule, *extra: Callable[[Call], list[Check]]) -> Rule:
    return lambda call: rule(call) + [c for more in extra for c in more(call)]


# ------------------------------------------------------------------------------------------------- s3


def _bucket(call: Call) -> str:
    return f"arn:aws:s3:::{call.p('Bucket')}"


def _object(call: Call) -> str:
    return f"arn:aws:s3:::{call.p('Bucket')}/{call.p('Key')}"


def _list_context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {"s3:prefix": call.p("Prefix")}
    for param, key in (("Delimiter", "s3:delimiter"), ("MaxKeys", "s3:max-keys")):
        if param in call.params:
            context[key] = call.p(param)
    return context


# The encryption a write asks for, as the condition keys S3 gives a bucket policy (absent when not sent).
_SSE_KEYS = (
    ("ServerSideEncryption", "s3:x-amz-server-side-encryption"),
    ("SSEKMSKeyId", "s3:x-amz-server-side-encryption-aws-kms-key-id"),
    ("SSECustomerAlgorithm", "s3:x-amz-server-side-encryption-customer-algorithm"),
)
_WRITES_WITH_ENCRYPTION = ("PutObject", "CopyObject", "CreateMultipartUpload")


def _encryption_context(call: Call) -> dict[str, Any]:
    return {key: call.p(param) for param, key in _SSE_KEYS if param in call.params}


def _copy_source(call: Call) -> list[Check]:
    source, _, query = call.p("CopySource").lstrip("/").partition("?")
    versioned = any(part.startswith("versionId=") for part in query.split("&"))
    return [Check("s3:GetObjectVersion" if versioned else "s3:GetObject", f"arn:aws:s3:::{source}")]


def _delete_objects(call: Call) -> list[Check]:
    """One check per object: s3:DeleteObjectVersion for an object named with its version."""
    objects = call.params.get("Objects")
    if objects is None:
        objects = [{"Key": key} for key in call.params.get("Keys") or []]
    return [
        Check(
            "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
            f"arn:aws:s3:::{call.p('Bucket')}/{item.get('Key', '')}",
        )
        for item in objects
    ]


_S3_BUCKET = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "GetBucketLogging": "s3:GetBucketLogging",
    "GetBucketAcl": "s3:GetBucketAcl",
}
_S3_OBJECT = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "GetObjectAttributes": "s3:GetObject",
}


# An operation on one version of an object (``VersionId`` given) is authorized as its own action.
_S3_VERSION_ACTIONS = {
    "GetObject": "s3:GetObjectVersion",
    "HeadObject": "s3:GetObjectVersion",
    "DeleteObject": "s3:DeleteObjectVersion",
    "GetObjectTagging": "s3:GetObjectVersionTagging",
    "PutObjectTagging": "s3:PutObjectVersionTagging",
}
_S3_LISTINGS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})


def _versioned(action: str, version_action: str) -> Rule:
    def rule(call: Call) -> list[Check]:
        return [Check(version_action if call.p("VersionId") else action, _object(call))]

    return rule


def _s3() -> dict[str, Rule]:
    rules: dict[str, Rule] = {"ListBuckets": _one("s3:ListAllMyBuckets", _any), "DeleteObjects": _delete_objects}
    for operation, action in _S3_BUCKET.items():
        rules[operation] = _one(action, _bucket, _list_context if operation in _S3_LISTINGS else None)
    for operation, action in _S3_OBJECT.items():
        rules[operation] = _one(action, _object, _encryption_context if operation in _WRITES_WITH_ENCRYPTION else None)
    for operation, version_action in _S3_VERSION_ACTIONS.items():
        rules[operation] = _versioned(_S3_OBJECT[operation], version_action)
    rules["CopyObject"] = _plus(rules["CopyObject"], _copy_source)
    rules["UploadPartCopy"] = _plus(rules["UploadPartCopy"], _copy_source)
    return rules


# ------------------------------------------------------------------------------------------- dynamodb


def _table_arn(call: Call, table: str) -> str:
    return table if table.startswith("arn:") else call.arn("dynamodb", f"table/{table}")


def _table(call: Call) -> str:
    arn = _table_arn(call, call.p("TableName") or call.p("ResourceArn"))
    index = call.p("IndexName")
    return f"{arn}/index/{index}" if index else arn


def _per_table(action: str) -> Rule:
    return lambda call: [Check(action, _table_arn(call, t)) for t in call.params.get("RequestItems") or {}]


_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _transact(call: Call) -> list[Check]:
    checks = []
    for item in call.params.get("TransactItems") or []:
        for kind, body in item.items():
            checks.append(Check(_TRANSACT_ACTIONS[kind], _table_arn(call, str(body.get("TableName", "")))))
    return checks


_DYNAMODB_TABLE_OPS = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "CreateTable",
    "DeleteTable",
    "UpdateTable",
    "DescribeTimeToLive",
    "UpdateTimeToLive",
    "DescribeContinuousBackups",
    "UpdateContinuousBackups",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
]


def _dynamodb() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"dynamodb:{op}", _table) for op in _DYNAMODB_TABLE_OPS}
    rules["ListTables"] = _one("dynamodb:ListTables", _any)
    rules["BatchWriteItem"] = _per_table("dynamodb:BatchWriteItem")
    rules["BatchGetItem"] = _per_table("dynamodb:BatchGetItem")
    rules["TransactWriteItems"] = _transact
    rules["TransactGetItems"] = _transact
    return rules


# ------------------------------------------------------------------------------------------------ sqs


def _queue(call: Call) -> str:
    url = call.p("QueueUrl")
    if url:
        account, name = url.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{call.region}:{account}:{name}"
    if call.p("SourceArn"):
        return call.p("SourceArn")
    account = call.p("QueueOwnerAWSAccountId") or call.lookup.account
    return f"arn:aws:sqs:{call.region}:{account}:{call.p('QueueName')}"


_SQS_OPS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "SetQueueAttributes": "SetQueueAttributes",
    "GetQueueUrl": "GetQueueUrl",
    "CreateQueue": "CreateQueue",
    "DeleteQueue": "DeleteQueue",
    "PurgeQueue": "PurgeQueue",
    "ListDeadLetterSourceQueues": "ListDeadLetterSourceQueues",
    "TagQueue": "TagQueue",
    "ListQueueTags": "ListQueueTags",
    "StartMessageMoveTask": "StartMessageMoveTask",
    "ListMessageMoveTasks": "ListMessageMoveTasks",
}


def _sqs() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"sqs:{action}", _queue) for op, action in _SQS_OPS.items()}
    rules["ListQueues"] = _one("sqs:ListQueues", _any)
    return rules


# ------------------------------------------------------------------------------------------------ sns


def _topic(call: Call) -> str:
    if call.p("Name"):
        return call.arn("sns", call.p("Name"))
    arn = call.p("TopicArn") or call.p("TargetArn") or call.p("ResourceArn")
    return arn or call.p("SubscriptionArn").rsplit(":", 1)[0]


_SNS_OPS = [
    "Publish",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "Unsubscribe",
    "ListSubscriptionsByTopic",
    "CreateTopic",
    "DeleteTopic",
    "TagResource",
    "ListTagsForResource",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
]


def _sns() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"sns:{op}", _topic) for op in _SNS_OPS}
    rules["PublishBatch"] = _one("sns:Publish", _topic)
    rules["ListTopics"] = _one("sns:ListTopics", _any)
    rules["ListSubscriptions"] = _one("sns:ListSubscriptions", _any)
    return rules


# ------------------------------------------------------------------------------------- secrets manager


def _secret(call: Call) -> str:
    if call.operation == "CreateSecret":
        return call.arn("secretsmanager", f"secret:{call.p('Name')}")
    return call.lookup.secret_arn(call.region, call.p("SecretId"))


_SECRETS_OPS = [
    "GetSecretValue",
    "DescribeSecret",
    "PutSecretValue",
    "UpdateSecret",
    "CreateSecret",
    "DeleteSecret",
    "RotateSecret",
    "GetResourcePolicy",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "TagResource",
    "UntagResource",
    "ListSecretVersionIds",
]


def _secretsmanager() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"secretsmanager:{op}", _secret) for op in _SECRETS_OPS}
    rules["ListSecrets"] = _one("secretsmanager:ListSecrets", _any)
    rules["GetRandomPassword"] = _one("secretsmanager:GetRandomPassword", _any)
    return rules


# ------------------------------------------------------------------------------------------------ kms


def _key(call: Call) -> str:
    key_id = call.p("KeyId") or call.p("TargetKeyId")
    if not key_id and call.p("CiphertextBlob"):
        return call.lookup.ciphertext_key_arn(call.region, call.p("CiphertextBlob"))
    return call.lookup.key_arn(call.region, key_id)


def _kms_context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {"kms:CallerAccount": call.lookup.account}
    encryption_context = call.params.get("EncryptionContext") or {}
    for key, value in encryption_context.items():
        context[f"kms:EncryptionContext:{key}"] = value
    if encryption_context:
        context["kms:EncryptionContextKeys"] = list(encryption_context)
    return context


_KMS_OPS = [
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "ScheduleKeyDeletion",
    "EnableKey",
    "DisableKey",
]


def _kms() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"kms:{op}", _key, _kms_context) for op in _KMS_OPS}
    for op in ("ListAliases", "ListKeys", "CreateKey"):
        rules[op] = _one(f"kms:{op}", _any)
    rules["CreateAlias"] = lambda call: [
        Check("kms:CreateAlias", call.arn("kms", call.p("AliasName"))),
        Check("kms:CreateAlias", _key(call)),
    ]
    return rules


# ----------------------------------------------------------------------------------------- eventbridge


def _bus_arn(call: Call, bus: str) -> str:
    return bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus or 'default'}")


def _rule(call: Call) -> str:
    rule = call.p("Rule") or call.p("Name")
    bus = call.p("EventBusName")
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    return call.arn("events", f"rule/{bus}/{rule}" if bus and bus != "default" else f"rule/{rule}")


def _put_events(call: Call) -> list[Check]:
    buses = {str(entry.get("EventBusName") or "default") for entry in call.params.get("Entries") or []}
    return [Check("events:PutEvents", _bus_arn(call, bus)) for bus in sorted(buses)]


def _target_roles(call: Call) -> list[Check]:
    roles = {str(t["RoleArn"]) for t in call.params.get("Targets") or [] if t.get("RoleArn")}
    return [Check("iam:PassRole", role, {"iam:PassedToService": "events.amazonaws.com"}) for role in sorted(roles)]


def _events() -> dict[str, Rule]:
    rules: dict[str, Rule] = {
        op: _one(f"events:{op}", _rule)
        for op in [
            "PutRule",
            "DescribeRule",
            "DeleteRule",
            "RemoveTargets",
            "ListTargetsByRule",
            "EnableRule",
            "DisableRule",
        ]
    }
    rules["PutTargets"] = _plus(_one("events:PutTargets", _rule), _target_roles)
    rules["PutEvents"] = _put_events
    for op in ("DescribeEventBus", "CreateEventBus", "DeleteEventBus"):
        rules[op] = _one(f"events:{op}", lambda c: _bus_arn(c, c.p("Name")))
    for op in ("ListRules", "ListEventBuses", "ListRuleNamesByTarget"):
        rules[op] = _one(f"events:{op}", _any)
    for op in ("TagResource", "UntagResource", "ListTagsForResource"):
        rules[op] = _one(f"events:{op}", lambda c: c.p("ResourceARN"))
    return rules


# -------------------------------------------------------------------------------------- step functions


def _machine(call: Call) -> str:
    if call.operation == "CreateStateMachine":
        return call.arn("states", f"stateMachine:{call.p('name')}")
    return call.p("stateMachineArn") or call.p("resourceArn")


def _execution(call: Call) -> str:
    return call.p("executionArn")


def _stepfunctions() -> dict[str, Rule]:
    rules: dict[str, Rule] = {
        op: _one(f"states:{op}", _machine)
        for op in [
            "StartExecution",
            "StartSyncExecution",
            "DescribeStateMachine",
            "UpdateStateMachine",
            "DeleteStateMachine",
            "ListExecutions",
            "CreateStateMachine",
            "TagResource",
            "UntagResource",
            "ListTagsForResource",
        ]
    }
    for op in ("DescribeExecution", "StopExecution", "GetExecutionHistory", "DescribeStateMachineForExecution"):
        rules[op] = _one(f"states:{op}", _execution)
    for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines"):
        rules[op] = _one(f"states:{op}", _any)
    passed = _pass_role(lambda c: c.p("roleArn"), "states.amazonaws.com")
    rules["CreateStateMachine"] = _plus(rules["CreateStateMachine"], passed)
    rules["UpdateStateMachine"] = _plus(rules["UpdateStateMachine"], passed)
    return rules


# --------------------------------------------------------------------------------------------- lambda


def _function(call: Call) -> str:
    return call.lookup.function_arn(call.region, call.p("FunctionName") or call.p("Resource"))


_LAMBDA_OPS = {
    "Invoke": "InvokeFunction",
    "InvokeAsync": "InvokeFunction",
    "GetFunction": "GetFunction",
    "GetFunctionConfiguration": "GetFunctionConfiguration",
    "UpdateFunctionCode": "UpdateFunctionCode",
    "UpdateFunctionConfiguration": "UpdateFunctionConfiguration",
    "CreateFunction": "CreateFunction",
    "DeleteFunction": "DeleteFunction",
    "AddPermission": "AddPermission",
    "RemovePermission": "RemovePermission",
    "GetPolicy": "GetPolicy",
    "PutFunctionEventInvokeConfig": "PutFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig": "GetFunctionEventInvokeConfig",
    "PutFunctionConcurrency": "PutFunctionConcurrency",
    "GetFunctionConcurrency": "GetFunctionConcurrency",
    "ListVersionsByFunction": "ListVersionsByFunction",
    "PublishVersion": "PublishVersion",
    "ListTags": "ListTags",
    "TagResource": "TagResource",
    "UntagResource": "UntagResource",
}


def _lambda() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"lambda:{action}", _function) for op, action in _LAMBDA_OPS.items()}
    for op in ("ListFunctions", "ListEventSourceMappings", "CreateEventSourceMapping", "GetEventSourceMapping"):
        rules[op] = _one(f"lambda:{op}", _any)
    passed = _pass_role(lambda c: c.p("Role"), "lambda.amazonaws.com")
    rules["CreateFunction"] = _plus(rules["CreateFunction"], passed)
    rules["UpdateFunctionConfiguration"] = _plus(rules["UpdateFunctionConfiguration"], passed)
    return rules


# ---------------------------------------------------------------------------------- cloudwatch, logs


def _alarm(call: Call) -> str:
    return call.arn("cloudwatch", f"alarm:{call.p('AlarmName')}")


def _alarms(action: str) -> Rule:
    return lambda call: (
        [Check(action, call.arn("cloudwatch", f"alarm:{name}")) for name in call.params.get("AlarmNames") or []]
        or [Check(action, "*")]
    )


def _cloudwatch() -> dict[str, Rule]:
    rules: dict[str, Rule] = {
        "PutMetricData": _one("cloudwatch:PutMetricData", _any, lambda c: {"cloudwatch:namespace": c.p("Namespace")}),
        "PutMetricAlarm": _one("cloudwatch:PutMetricAlarm", _alarm),
        "SetAlarmState": _one("cloudwatch:SetAlarmState", _alarm),
        "DescribeAlarms": _one("cloudwatch:DescribeAlarms", _any),
        "DeleteAlarms": _alarms("cloudwatch:DeleteAlarms"),
        "DescribeAlarmHistory": _one("cloudwatch:DescribeAlarmHistory", _any),
    }
    for op in ("GetMetricData", "GetMetricStatistics", "ListMetrics", "PutDashboard", "GetDashboard"):
        rules[op] = _one(f"cloudwatch:{op}", _any)
    for op in ("TagResource", "UntagResource", "ListTagsForResource"):
        rules[op] = _one(f"cloudwatch:{op}", lambda c: c.p("ResourceARN"))
    return rules


def _log_group(call: Call) -> str:
    group = call.p("logGroupName") or call.p("logGroupIdentifier")
    if group.startswith("arn:"):
        return group.removesuffix(":*")
    stream = call.p("logStreamName")
    suffix = f":log-stream:{stream}" if stream and call.operation == "PutLogEvents" else ":*"
    return call.arn("logs", f"log-group:{group}{suffix}")


_LOGS_OPS = [
    "CreateLogGroup",
    "CreateLogStream",
    "PutLogEvents",
    "DescribeLogStreams",
    "GetLogEvents",
    "FilterLogEvents",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "DeleteLogGroup",
    "PutSubscriptionFilter",
    "DescribeSubscriptionFilters",
    "DeleteSubscriptionFilter",
    "AssociateKmsKey",
    "TagLogGroup",
    "ListTagsLogGroup",
]


def _logs() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"logs:{op}", _log_group) for op in _LOGS_OPS}
    for op in ("DescribeLogGroups", "StartQuery", "GetQueryResults", "DescribeMetricFilters"):
        rules[op] = _one(f"logs:{op}", _any)
    for op in ("TagResource", "UntagResource", "ListTagsForResource"):
        rules[op] = _one(f"logs:{op}", lambda c: c.p("resourceArn"))
    return rules


# ------------------------------------------------------------------------------------ cloudformation


def _stack(call: Call) -> str:
    stack = call.p("StackName")
    if not stack:
        change_set = call.p("ChangeSetName")
        return change_set if change_set.startswith("arn:") else "*"
    return call.lookup.stack_arn(call.region, stack)


def _stack_context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for param, key in (
        ("RoleARN", "cloudformation:RoleArn"),
        ("ChangeSetName", "cloudformation:ChangeSetName"),
        ("TemplateURL", "cloudformation:TemplateUrl"),
    ):
        if call.p(param):
            context[key] = call.p(param)
    return context


_CFN_STACK_OPS = [
    "CreateStack",
    "UpdateStack",
    "DeleteStack",
    "DescribeStackEvents",
    "DescribeStackResources",
    "DescribeStackResource",
    "ListStackResources",
    "GetTemplate",
    "CreateChangeSet",
    "DescribeChangeSet",
    "ExecuteChangeSet",
    "DeleteChangeSet",
    "ListChangeSets",
    "DetectStackDrift",
    "DescribeStackResourceDrifts",
    "CancelUpdateStack",
    "ContinueUpdateRollback",
    "UpdateTerminationProtection",
    "SetStackPolicy",
    "GetStackPolicy",
    "DescribeStacks",
    "GetTemplateSummary",
]


def _cloudformation() -> dict[str, Rule]:
    passed = _pass_role(lambda c: c.p("RoleARN"), "cloudformation.amazonaws.com")
    rules: dict[str, Rule] = {
        op: _plus(_one(f"cloudformation:{op}", _stack, _stack_context), passed) for op in _CFN_STACK_OPS
    }
    for op in ("ListStacks", "ValidateTemplate", "ListExports", "DescribeStackDriftDetectionStatus", "ListImports"):
        rules[op] = _one(f"cloudformation:{op}", _any)
    return rules


# ----------------------------------------------------------------------------------------------- ecr


def _repositories(action: str) -> Rule:
    def rule(call: Call) -> list[Check]:
        names = call.params.get("repositoryNames") or ([call.p("repositoryName")] if call.p("repositoryName") else [])
        if not names:
            return [Check(action, "*")]
        return [Check(action, call.arn("ecr", f"repository/{name}")) for name in names]

    return rule


_ECR_OPS = [
    "BatchGetImage",
    "BatchCheckLayerAvailability",
    "GetDownloadUrlForLayer",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
    "DescribeImages",
    "ListImages",
    "CreateRepository",
    "DeleteRepository",
    "PutLifecyclePolicy",
    "GetLifecyclePolicy",
    "SetRepositoryPolicy",
    "GetRepositoryPolicy",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "BatchDeleteImage",
    "DescribeRepositories",
]


def _ecr() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _repositories(f"ecr:{op}") for op in _ECR_OPS}
    rules["GetAuthorizationToken"] = _one("ecr:GetAuthorizationToken", _any)
    for op in ("TagResource", "UntagResource", "ListTagsForResource"):
        rules[op] = _one(f"ecr:{op}", lambda c: c.p("resourceArn"))
    return rules


# ------------------------------------------------------------------------------------------- iam, sts


def _iam_role(call: Call) -> str:
    return call.arn("iam", f"role{call.p('Path', '/')}{call.p('RoleName')}", region=False)


def _iam_policy(call: Call) -> str:
    return call.p("PolicyArn") or call.arn("iam", f"policy{call.p('Path', '/')}{call.p('PolicyName')}", region=False)


def _boundary_context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if call.p("PermissionsBoundary"):
        context["iam:PermissionsBoundary"] = call.p("PermissionsBoundary")
    if call.p("PolicyArn"):
        context["iam:PolicyARN"] = call.p("PolicyArn")
    return context


_IAM_ROLE_OPS = [
    "GetRole",
    "CreateRole",
    "DeleteRole",
    "UpdateRole",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "GetRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "UpdateAssumeRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
]
_IAM_POLICY_OPS = [
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "GetPolicyVersion",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "ListPolicyVersions",
]


def _oidc(call: Call) -> str:
    arn = call.p("OpenIDConnectProviderArn")
    if arn:
        return arn
    host = call.p("Url").removeprefix("https://")
    return call.arn("iam", f"oidc-provider/{host}", region=False)


def _iam() -> dict[str, Rule]:
    rules: dict[str, Rule] = {op: _one(f"iam:{op}", _iam_role, _boundary_context) for op in _IAM_ROLE_OPS}
    rules.update({op: _one(f"iam:{op}", _iam_policy) for op in _IAM_POLICY_OPS})
    for op in ("CreateOpenIDConnectProvider", "GetOpenIDConnectProvider", "DeleteOpenIDConnectProvider"):
        rules[op] = _one(f"iam:{op}", _oidc)
    for op in ("ListRoles", "ListPolicies", "ListOpenIDConnectProviders"):
        rules[op] = _one(f"iam:{op}", _any)
    return rules


def _sts() -> dict[str, Rule]:
    return {
        "GetCallerIdentity": lambda call: [],  # needs no permission
        "AssumeRole": _one("sts:AssumeRole", lambda c: c.p("RoleArn")),
        "GetSessionToken": lambda call: [],
    }


# ---------------------------------------------------------------------------- glue, scheduler, x-ray


def _glue_catalog(call: Call) -> str:
    return call.arn("glue", "catalog")


def _glue_database(call: Call) -> list[Check]:
    return [
        Check(f"glue:{call.operation}", _glue_catalog(call)),
        Check(f"glue:{call.operation}", call.arn("glue", f"database/{call.p('DatabaseName') or call.p('Name')}")),
    ]


def _glue_table(call: Call) -> list[Check]:
    database = call.p("DatabaseName")
    table = call.p("Name") or call.p("TableName") or str((call.params.get("TableInput") or {}).get("Name", "*"))
    if call.operation == "GetTables":
        table = "*"
    return [*_glue_database(call), Check(f"glue:{call.operation}", call.arn("glue", f"table/{database}/{table}"))]


def _glue_named(kind: str) -> Callable[[Call], str]:
    return lambda call: call.arn("glue", f"{kind}/{call.p('JobName') or call.p('Name') or call.p('CrawlerName')}")


def _glue() -> dict[str, Rule]:
    rules: dict[str, Rule] = dict.fromkeys(
        ["GetTable", "GetTables", "CreateTable", "UpdateTable", "DeleteTable", "GetPartitions", "BatchCreatePartition"],
        _glue_table,
    )
    rules.update(dict.fromkeys(("GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"), _glue_database))
    rules["GetDatabases"] = _one("glue:GetDatabases", _glue_catalog)
    passed = _pass_role(lambda c: c.p("Role"), "glue.amazonaws.com")
    for op in ("GetJob", "StartJobRun", "GetJobRun", "GetJobRuns", "DeleteJob", "BatchStopJobRun"):
        rules[op] = _one(f"glue:{op}", _glue_named("job"))
    rules["CreateJob"] = _plus(_one("glue:CreateJob", _glue_named("job")), passed)
    rules["UpdateJob"] = _plus(_one("glue:UpdateJob", _glue_named("job")), passed)
    for op in ("GetCrawler", "StartCrawler", "CreateCrawler", "UpdateCrawler", "DeleteCrawler"):
        rules[op] = _one(f"glue:{op}", _glue_named("crawler"))
    for op in ("GetSecurityConfiguration", "CreateSecurityConfiguration", "GetJobs", "GetCrawlers"):
        rules[op] = _one(f"glue:{op}", _any)
    rules["PutDataCatalogEncryptionSettings"] = _one("glue:PutDataCatalogEncryptionSettings", _glue_catalog)
    rules["GetDataCatalogEncryptionSettings"] = _one("glue:GetDataCatalogEncryptionSettings", _glue_catalog)
    return rules


def _schedule(call: Call) -> str:
    return call.arn("scheduler", f"schedule/{call.p('GroupName', 'default')}/{call.p('Name')}")


def _scheduler() -> dict[str, Rule]:
    target_role = _pass_role(
        lambda c: str((c.params.get("Target") or {}).get("RoleArn", "")), "scheduler.amazonaws.com"
    )
    rules: dict[str, Rule] = {op: _one(f"scheduler:{op}", _schedule) for op in ("GetSchedule", "DeleteSchedule")}
    rules["CreateSchedule"] = _plus(_one("scheduler:CreateSchedule", _schedule), target_role)
    rules["UpdateSchedule"] = _plus(_one("scheduler:UpdateSchedule", _schedule), target_role)
    rules["ListSchedules"] = _one("scheduler:ListSchedules", _any)
    rules["CreateScheduleGroup"] = _one(
        "scheduler:CreateScheduleGroup", lambda c: c.arn("scheduler", f"schedule-group/{c.p('Name')}")
    )
    return rules


def _xray() -> dict[str, Rule]:
    return {
        op: _one(f"xray:{op}", _any)
        for op in ("PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets")
    }


TABLE: dict[str, dict[str, Rule]] = {
    "s3": _s3(),
    "dynamodb": _dynamodb(),
    "sqs": _sqs(),
    "sns": _sns(),
    "secretsmanager": _secretsmanager(),
    "kms": _kms(),
    "events": _events(),
    "stepfunctions": _stepfunctions(),
    "lambda": _lambda(),
    "cloudwatch": _cloudwatch(),
    "logs": _logs(),
    "cloudformation": _cloudformation(),
    "ecr": _ecr(),
    "iam": _iam(),
    "sts": _sts(),
    "glue": _glue(),
    "scheduler": _scheduler(),
    "xray": _xray(),
}


def checks_for(call: Call) -> list[Check]:
    """The authorization checks of one call; ``UnknownOperationError`` when the table does not cover it."""
    rule = TABLE.get(call.service, {}).get(call.operation)
    if rule is None:
        raise UnknownOperationError(
            f"{call.service}.{call.operation} is not in the local cloud's IAM table (platformctl/iam/actions.py)"
        )
    return rule(call)


class _AnyLookup:
    account = "123456789012"

    def secret_arn(self, region: str, secret_id: str) -> str:
        return "*"

    def key_arn(self, region: str, key_id: str) -> str:
        return "*"

    def ciphertext_key_arn(self, region: str, blob: str) -> str:
        return "*"

    def stack_arn(self, region: str, stack: str) -> str:
        return "*"

    def function_arn(self, region: str, name: str) -> str:
        return "*"


def known_actions() -> set[str]:
    """Every IAM action the table can ask for (for expanding wildcards in a report)."""
    actions: set[str] = set()
    for service, rules in TABLE.items():
        for operation, rule in rules.items():
            try:
                actions.update(check.action for check in rule(Call(service, operation, {}, "us-east-1", _AnyLookup())))
            except (KeyError, AttributeError, TypeError, ValueError):
                continue
    return actions
