"""Resource types moto's CloudFormation skips, created through the service APIs of the emulator.

Each provider is a moto ``CloudFormationModel``, so moto's engine resolves its Ref/GetAtt, orders it
among the other resources and reports it in the stack. A provider lists every property it applies
(``PROPERTIES``) and every property it accepts without a local effect, with the reason (``INERT``); any
other property fails the deploy, so nothing a template asks for is dropped silently.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from platformctl.localcloud.services import client

REGISTRY: dict[str, type[LocalResource]] = {}

# The local HTTP front end registers itself here so HTTP APIs get a reachable endpoint URL.
api_endpoint_hook: Callable[[str], str] | None = None


class UnhandledPropertyError(Exception):
    """A template property the local cloud would otherwise ignore."""


class NotEmulatedError(Exception):
    """A resource type the local cloud knows of but does not emulate was to be created."""


@dataclass(frozen=True)
class Context:
    logical_id: str
    stack_id: str
    generated_name: str  # what CloudFormation would name it: <stack>-<logical id>-<suffix>
    region: str

    def client(self, service: str) -> Any:
        return client(service, self.region)

    @property
    def stack_name(self) -> str:
        return self.stack_id.split("/")[1] if "/" in self.stack_id else self.stack_id


def check_properties(resource_type: str, properties: dict[str, Any], handled: set[str], inert: dict[str, str]) -> None:
    unknown = sorted(set(properties) - handled - set(inert))
    if unknown:
        raise UnhandledPropertyError(
            f"{resource_type}: the local cloud does not handle {', '.join(unknown)}; "
            "add it to scripts/platformctl/localcloud (providers.py or properties.py)"
        )


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def _tags_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in _tags_dict(tags).items()]


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _text_value(value: Any) -> str:
    """A map value as CloudFormation passes it to an API that takes strings (true -> "true", 3 -> "3")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LocalResource(CloudFormationModel):
    TYPE: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()
    PROPERTIES: ClassVar[frozenset[str]] = frozenset()
    INERT: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            REGISTRY[cls.TYPE] = cls

    def __init__(self, physical_id: str, attributes: dict[str, Any], properties: dict[str, Any], region: str) -> None:
        self.physical_resource_id = physical_id
        self.attributes = attributes
        self.properties = properties
        self.region = region

    # --- moto's CloudFormationModel interface ---------------------------------------------------
    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalResource:
        properties = cloudformation_json.get("Properties") or {}
        check_properties(cls.TYPE, properties, set(cls.PROPERTIES), cls.INERT)
        context = Context(kwargs.get("LogicalId", ""), kwargs.get("StackId", ""), resource_name, region_name)
        physical_id, attributes = cls.create(context, properties)
        return cls(physical_id, attributes, properties, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: LocalResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LocalResource:
        properties = cloudformation_json.get("Properties") or {}
        check_properties(cls.TYPE, properties, set(cls.PROPERTIES), cls.INERT)
        context = Context("", "", new_resource_name, region_name)
        physical_id, attributes = cls.update(context, original_resource, properties)
        return cls(physical_id, attributes, properties, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove(Context("", "", self.physical_resource_id, region_name))

    def is_created(self) -> bool:
        return True

    # --- what a provider implements ---------------------------------------------------------------
    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @classmethod
    def update(
        cls, context: Context, original: LocalResource, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Default: put the new definition in place (the create calls here are all upserts or replace)."""
        original.remove(context)
        return cls.create(context, properties)

    def remove(self, context: Context) -> None:
        return None


# ------------------------------------------------------------------------------------------ policies


class S3BucketPolicy(LocalResource):
    TYPE = "AWS::S3::BucketPolicy"
    PROPERTIES = frozenset({"Bucket", "PolicyDocument"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        context.client("s3").put_bucket_policy(
            Bucket=properties["Bucket"], Policy=_policy_text(properties["PolicyDocument"])
        )
        return properties["Bucket"], {}

    def remove(self, context: Context) -> None:
        context.client("s3").delete_bucket_policy(Bucket=self.physical_resource_id)


class SqsQueuePolicy(LocalResource):
    TYPE = "AWS::SQS::QueuePolicy"
    PROPERTIES = frozenset({"Queues", "PolicyDocument"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for queue_url in properties["Queues"]:
            context.client("sqs").set_queue_attributes(
                QueueUrl=queue_url, Attributes={"Policy": _policy_text(properties["PolicyDocument"])}
            )
        return context.generated_name, {"Id": context.generated_name}

    def remove(self, context: Context) -> None:
        for queue_url in self.properties["Queues"]:
            context.client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": ""})


class SnsTopicPolicy(LocalResource):
    TYPE = "AWS::SNS::TopicPolicy"
    PROPERTIES = frozenset({"Topics", "PolicyDocument"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for topic_arn in properties["Topics"]:
            context.client("sns").set_topic_attributes(
                TopicArn=topic_arn, AttributeName="Policy", AttributeValue=_policy_text(properties["PolicyDocument"])
            )
        return context.generated_name, {"Id": context.generated_name}


class SnsSubscription(LocalResource):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = frozenset({"Arn"})
    PROPERTIES = frozenset(
        {
            "TopicArn",
            "Protocol",
            "Endpoint",
            "DeliveryPolicy",
            "FilterPolicy",
            "FilterPolicyScope",
            "RawMessageDelivery",
            "RedrivePolicy",
        }
    )

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        attributes: dict[str, str] = {}
        for name in ("DeliveryPolicy", "FilterPolicy", "RedrivePolicy"):
            if name in properties:
                attributes[name] = _policy_text(properties[name])
        if "FilterPolicyScope" in properties:
            attributes["FilterPolicyScope"] = str(properties["FilterPolicyScope"])
        if "RawMessageDelivery" in properties:
            attributes["RawMessageDelivery"] = str(properties["RawMessageDelivery"]).lower()
        response = context.client("sns").subscribe(
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        arn = response["SubscriptionArn"]
        return arn, {"Arn": arn}

    def remove(self, context: Context) -> None:
        context.client("sns").unsubscribe(SubscriptionArn=self.physical_resource_id)


# ------------------------------------------------------------------------------------------ secrets


def _generate_secret_string(spec: dict[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = set(spec.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    length = int(spec.get("PasswordLength", 32))
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    if template is None:
        return value
    document = json.loads(template)
    document[spec["GenerateStringKey"]] = value
    return json.dumps(document)


class SecretsManagerSecret(LocalResource):
    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = frozenset({"Id"})
    PROPERTIES = frozenset({"Name", "Description", "KmsKeyId", "SecretString", "GenerateSecretString", "Tags"})
    INERT: ClassVar[dict[str, str]] = {"ReplicaRegions": "one region locally"}

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if "SecretString" in properties:
            value = str(properties["SecretString"])
        else:
            value = _generate_secret_string(properties.get("GenerateSecretString") or {})
        arguments: dict[str, Any] = {
            "Name": properties.get("Name", context.generated_name),
            "SecretString": value,
            "Tags": _tags_list(properties.get("Tags")),
        }
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        if "KmsKeyId" in properties:
            arguments["KmsKeyId"] = properties["KmsKeyId"]
        arn = context.client("secretsmanager").create_secret(**arguments)["ARN"]
        return arn, {"Id": arn}

    @classmethod
    def update(
        cls, context: Context, original: LocalResource, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        # Like CloudFormation: metadata changes apply in place and the secret's value is kept.
        arguments: dict[str, Any] = {"SecretId": original.physical_resource_id}
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        if "KmsKeyId" in properties:
            arguments["KmsKeyId"] = properties["KmsKeyId"]
        context.client("secretsmanager").update_secret(**arguments)
        return original.physical_resource_id, dict(original.attributes)

    def remove(self, context: Context) -> None:
        context.client("secretsmanager").delete_secret(
            SecretId=self.physical_resource_id, ForceDeleteWithoutRecovery=True
        )


# ------------------------------------------------------------------------------------------- glue


class GlueDatabase(LocalResource):
    TYPE = "AWS::Glue::Database"
    PROPERTIES = frozenset({"CatalogId", "DatabaseInput"})
    INERT: ClassVar[dict[str, str]] = {
        "DatabaseName": "newer specs' alias of DatabaseInput.Name; the name comes from DatabaseInput"
    }

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        database_input = dict(properties["DatabaseInput"])
        context.client("glue").create_database(DatabaseInput=database_input)
        return str(database_input["Name"]), {}

    def remove(self, context: Context) -> None:
        context.client("glue").delete_database(Name=self.physical_resource_id)


class GlueCrawler(LocalResource):
    TYPE = "AWS::Glue::Crawler"
    PROPERTIES = frozenset(
        {
            "Name", "Role", "DatabaseName", "Targets", "Schedule", "SchemaChangePolicy", "RecrawlPolicy",
            "CrawlerSecurityConfiguration", "Configuration", "TablePrefix", "Description", "Classifiers",
            "LineageConfiguration", "Tags",
        }
    )  # fmt: skip

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("Name", context.generated_name)
        arguments: dict[str, Any] = {"Name": name, "Role": properties["Role"], "Targets": properties["Targets"]}
        for key in ("DatabaseName", "SchemaChangePolicy", "RecrawlPolicy", "CrawlerSecurityConfiguration",
                    "TablePrefix", "Description", "Classifiers", "LineageConfiguration"):  # fmt: skip
            if key in properties:
                arguments[key] = properties[key]
        if "Schedule" in properties:
            arguments["Schedule"] = properties["Schedule"].get("ScheduleExpression", "")
        if "Configuration" in properties:
            arguments["Configuration"] = _policy_text(properties["Configuration"])
        if "Tags" in properties:
            arguments["Tags"] = _tags_dict(properties["Tags"])
        context.client("glue").create_crawler(**arguments)
        return str(name), {}

    def remove(self, context: Context) -> None:
        context.client("glue").delete_crawler(Name=self.physical_resource_id)


class GlueSecurityConfiguration(LocalResource):
    TYPE = "AWS::Glue::SecurityConfiguration"
    PROPERTIES = frozenset({"Name", "EncryptionConfiguration"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        encryption = dict(properties["EncryptionConfiguration"])
        if isinstance(encryption.get("S3Encryptions"), dict):
            encryption["S3Encryption"] = [encryption.pop("S3Encryptions")]
        elif "S3Encryptions" in encryption:
            encryption["S3Encryption"] = encryption.pop("S3Encryptions")
        context.client("glue").create_security_configuration(
            Name=properties["Name"], EncryptionConfiguration=encryption
        )
        return str(properties["Name"]), {}

    def remove(self, context: Context) -> None:
        context.client("glue").delete_security_configuration(Name=self.physical_resource_id)


class GlueDataCatalogEncryptionSettings(LocalResource):
    TYPE = "AWS::Glue::DataCatalogEncryptionSettings"
    PROPERTIES = frozenset({"CatalogId", "DataCatalogEncryptionSettings"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        settings = dict(properties["DataCatalogEncryptionSettings"])
        password = dict(settings.get("ConnectionPasswordEncryption") or {})
        if "KmsKeyId" in password:  # CloudFormation's name for the API's AwsKmsKeyId
            password["AwsKmsKeyId"] = password.pop("KmsKeyId")
        if "ReturnConnectionPasswordEncrypted" in password:
            password["ReturnConnectionPasswordEncrypted"] = (
                str(password["ReturnConnectionPasswordEncrypted"]).lower() == "true"
            )
        if password:
            settings["ConnectionPasswordEncryption"] = password
        context.client("glue").put_data_catalog_encryption_settings(
            CatalogId=str(properties["CatalogId"]), DataCatalogEncryptionSettings=settings
        )
        return f"{properties['CatalogId']}-encryption", {}

    @classmethod
    def update(
        cls, context: Context, original: LocalResource, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return cls.create(context, properties)


class GlueJob(LocalResource):
    TYPE = "AWS::Glue::Job"
    PROPERTIES = frozenset(
        {
            "Name", "Role", "Command", "DefaultArguments", "NonOverridableArguments", "GlueVersion", "WorkerType",
            "NumberOfWorkers", "MaxRetries", "Timeout", "ExecutionProperty", "SecurityConfiguration",
            "Description", "Tags", "NotificationProperty", "ExecutionClass", "JobMode",
        }
    )  # fmt: skip

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("Name", context.generated_name)
        arguments = {k: v for k, v in properties.items() if k not in {"Name", "Tags"}}
        if "Tags" in properties:
            arguments["Tags"] = _tags_dict(properties["Tags"])
        # CloudFormation accepts numbers as strings (a String parameter, a quoted literal); the API does not.
        for key in ("Timeout", "NumberOfWorkers", "MaxRetries"):
            if key in arguments:
                arguments[key] = int(arguments[key])
        for key, field in (("ExecutionProperty", "MaxConcurrentRuns"), ("NotificationProperty", "NotifyDelayAfter")):
            if field in (arguments.get(key) or {}):
                arguments[key] = {**arguments[key], field: int(arguments[key][field])}
        for key in ("DefaultArguments", "NonOverridableArguments"):
            if key in arguments:
                arguments[key] = {str(k): _text_value(v) for k, v in (arguments[key] or {}).items()}
        context.client("glue").create_job(Name=name, **arguments)
        return str(name), {}

    def remove(self, context: Context) -> None:
        context.client("glue").delete_job(JobName=self.physical_resource_id)


class GlueTable(LocalResource):
    TYPE = "AWS::Glue::Table"
    PROPERTIES = frozenset({"CatalogId", "DatabaseName", "TableInput"})
    INERT: ClassVar[dict[str, str]] = {
        "OpenTableFormatInput": "table formats are not emulated; the table definition is created"
    }

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        context.client("glue").create_table(
            DatabaseName=properties["DatabaseName"], TableInput=properties["TableInput"]
        )
        return f"{properties['DatabaseName']}|{properties['TableInput']['Name']}", {}

    def remove(self, context: Context) -> None:
        database, _, table = self.physical_resource_id.partition("|")
        context.client("glue").delete_table(DatabaseName=database, Name=table)


# ----------------------------------------------------------------------------------------- athena


class AthenaWorkGroup(LocalResource):
    TYPE = "AWS::Athena::WorkGroup"
    PROPERTIES = frozenset({"Name", "Description", "WorkGroupConfiguration", "Tags"})
    INERT: ClassVar[dict[str, str]] = {
        "State": "workgroups are created ENABLED locally",
        "RecursiveDeleteOption": "workgroups are not deleted locally",
    }
    _FLAGS = ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled")

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = str(properties.get("Name", context.generated_name))
        # CloudFormation's WorkGroupConfiguration is the API's Configuration; its numbers and flags arrive as
        # text from parameters.
        configuration = dict(properties.get("WorkGroupConfiguration") or {})
        for flag in cls._FLAGS:
            if flag in configuration:
                configuration[flag] = str(configuration[flag]).lower() == "true"
        if "BytesScannedCutoffPerQuery" in configuration:
            configuration["BytesScannedCutoffPerQuery"] = int(configuration["BytesScannedCutoffPerQuery"])
        context.client("athena").create_work_group(
            Name=name,
            Configuration=configuration,
            Description=str(properties.get("Description", "")),
            Tags=_tags_list(properties.get("Tags")),
        )
        return name, {}

    def remove(self, context: Context) -> None:
        context.client("athena").delete_work_group(WorkGroup=self.physical_resource_id)


# ------------------------------------------------------------------------------------------- iam


class IamOidcProvider(LocalResource):
    TYPE = "AWS::IAM::OIDCProvider"
    ATTRIBUTES = frozenset({"Arn"})
    PROPERTIES = frozenset({"Url", "ClientIdList", "ThumbprintList", "Tags"})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = context.client("iam").create_open_id_connect_provider(
            Url=properties["Url"],
            ClientIDList=properties.get("ClientIdList", []),
            ThumbprintList=properties.get("ThumbprintList", []),
            Tags=_tags_list(properties.get("Tags")),
        )["OpenIDConnectProviderArn"]
        return arn, {"Arn": arn}

    def remove(self, context: Context) -> None:
        context.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=self.physical_resource_id)


# --------------------------------------------------------------------------------------- cloudwatch

_ALARM_KEYS = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions", "MetricName",
    "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile",
    "Metrics", "ThresholdMetricId",
)  # fmt: skip


class CloudWatchAlarm(LocalResource):
    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = frozenset({"Arn"})
    PROPERTIES = frozenset({"AlarmName", "Tags", *_ALARM_KEYS})

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("AlarmName", context.generated_name)
        arguments = {k: properties[k] for k in _ALARM_KEYS if k in properties}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in arguments:
                arguments[key] = int(arguments[key])
        if "Threshold" in arguments:
            arguments["Threshold"] = float(arguments["Threshold"])
        if "ActionsEnabled" in arguments:
            arguments["ActionsEnabled"] = str(arguments["ActionsEnabled"]).lower() == "true"
        for query in arguments.get("Metrics", []):
            if "ReturnData" in query:
                query["ReturnData"] = str(query["ReturnData"]).lower() == "true"
            if "Period" in query:
                query["Period"] = int(query["Period"])
            stat = query.get("MetricStat")
            if stat and "Period" in stat:
                stat["Period"] = int(stat["Period"])
        cloudwatch = context.client("cloudwatch")
        cloudwatch.put_metric_alarm(AlarmName=name, Tags=_tags_list(properties.get("Tags")), **arguments)
        arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        return str(name), {"Arn": arn}

    def remove(self, context: Context) -> None:
        context.client("cloudwatch").delete_alarms(AlarmNames=[self.physical_resource_id])


# ---------------------------------------------------------------------------------------- scheduler


class SchedulerSchedule(LocalResource):
    TYPE = "AWS::Scheduler::Schedule"
    ATTRIBUTES = frozenset({"Arn"})
    PROPERTIES = frozenset(
        {
            "Name", "GroupName", "Description", "ScheduleExpression", "ScheduleExpressionTimezone",
            "FlexibleTimeWindow", "Target", "State", "StartDate", "EndDate", "KmsKeyArn",
        }
    )  # fmt: skip

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("Name", context.generated_name)[:64]
        arguments = {k: v for k, v in properties.items() if k not in {"Name", "StartDate", "EndDate"}}
        target = dict(arguments["Target"])
        if "RetryPolicy" in target:
            target["RetryPolicy"] = {k: int(v) for k, v in target["RetryPolicy"].items()}
        arguments["Target"] = target
        window = dict(arguments.get("FlexibleTimeWindow") or {"Mode": "OFF"})
        if "MaximumWindowInMinutes" in window:
            window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
        arguments["FlexibleTimeWindow"] = window
        arn = context.client("scheduler").create_schedule(Name=name, **arguments)["ScheduleArn"]
        return str(name), {"Arn": arn}

    def remove(self, context: Context) -> None:
        group = self.properties.get("GroupName", "default")
        context.client("scheduler").delete_schedule(Name=self.physical_resource_id, GroupName=group)


# ----------------------------------------------------------------------------- API Gateway HTTP APIs


class HttpApi(LocalResource):
    TYPE = "AWS::ApiGatewayV2::Api"
    ATTRIBUTES = frozenset({"ApiEndpoint", "ApiId"})
    PROPERTIES = frozenset(
        {"Name", "ProtocolType", "Description", "CorsConfiguration", "DisableExecuteApiEndpoint",
         "RouteSelectionExpression", "Tags", "Version", "ApiKeySelectionExpression"}
    )  # fmt: skip

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments = {k: v for k, v in properties.items() if k != "Tags"}
        arguments.setdefault("Name", context.generated_name)
        arguments["Tags"] = _tags_dict(properties.get("Tags"))
        if "DisableExecuteApiEndpoint" in arguments:
            arguments["DisableExecuteApiEndpoint"] = str(arguments["DisableExecuteApiEndpoint"]).lower() == "true"
        api_id = context.client("apigatewayv2").create_api(**arguments)["ApiId"]
        if api_endpoint_hook is not None:
            endpoint = api_endpoint_hook(api_id)
        else:
            endpoint = f"https://{api_id}.execute-api.{context.region}.amazonaws.com"
        return str(api_id), {"ApiEndpoint": endpoint, "ApiId": api_id}

    def remove(self, context: Context) -> None:
        context.client("apigatewayv2").delete_api(ApiId=self.physical_resource_id)


class HttpApiStage(LocalResource):
    TYPE = "AWS::ApiGatewayV2::Stage"
    PROPERTIES = frozenset(
        {"ApiId", "StageName", "AutoDeploy", "DefaultRouteSettings", "AccessLogSettings", "RouteSettings",
         "StageVariables", "Description", "Tags"}
    )  # fmt: skip
    INERT: ClassVar[dict[str, str]] = {"DeploymentId": "routes are served as soon as they exist (AutoDeploy semantics)"}

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments = {k: v for k, v in properties.items() if k in cls.PROPERTIES and k != "Tags"}
        arguments["Tags"] = _tags_dict(properties.get("Tags"))
        if "AutoDeploy" in arguments:
            arguments["AutoDeploy"] = str(arguments["AutoDeploy"]).lower() == "true"
        settings = dict(arguments.get("DefaultRouteSettings") or {})
        for key in ("ThrottlingBurstLimit",):
            if key in settings:
                settings[key] = int(settings[key])
        if "ThrottlingRateLimit" in settings:
            settings["ThrottlingRateLimit"] = float(settings["ThrottlingRateLimit"])
        if "DetailedMetricsEnabled" in settings:
            settings["DetailedMetricsEnabled"] = str(settings["DetailedMetricsEnabled"]).lower() == "true"
        if settings:
            arguments["DefaultRouteSettings"] = settings
        context.client("apigatewayv2").create_stage(**arguments)
        return str(properties["StageName"]), {}

    def remove(self, context: Context) -> None:
        context.client("apigatewayv2").delete_stage(ApiId=self.properties["ApiId"], StageName=self.physical_resource_id)


class HttpApiIntegration(LocalResource):
    TYPE = "AWS::ApiGatewayV2::Integration"
    ATTRIBUTES = frozenset({"IntegrationId"})
    PROPERTIES = frozenset(
        {"ApiId", "IntegrationType", "IntegrationUri", "IntegrationMethod", "PayloadFormatVersion",
         "TimeoutInMillis", "Description", "ConnectionType", "CredentialsArn", "RequestParameters"}
    )  # fmt: skip

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments = dict(properties)
        if "TimeoutInMillis" in arguments:
            arguments["TimeoutInMillis"] = int(arguments["TimeoutInMillis"])
        integration_id = context.client("apigatewayv2").create_integration(**arguments)["IntegrationId"]
        return str(integration_id), {"IntegrationId": integration_id}

    def remove(self, context: Context) -> None:
        context.client("apigatewayv2").delete_integration(
            ApiId=self.properties["ApiId"], IntegrationId=self.physical_resource_id
        )


class HttpApiRoute(LocalResource):
    TYPE = "AWS::ApiGatewayV2::Route"
    ATTRIBUTES = frozenset({"RouteId"})
    PROPERTIES = frozenset(
        {"ApiId", "RouteKey", "Target", "AuthorizationType", "AuthorizerId", "OperationName", "ApiKeyRequired"}
    )

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments = dict(properties)
        if "ApiKeyRequired" in arguments:
            arguments["ApiKeyRequired"] = str(arguments["ApiKeyRequired"]).lower() == "true"
        route_id = context.client("apigatewayv2").create_route(**arguments)["RouteId"]
        return str(route_id), {"RouteId": route_id}

    def remove(self, context: Context) -> None:
        context.client("apigatewayv2").delete_route(ApiId=self.properties["ApiId"], RouteId=self.physical_resource_id)


# ------------------------------------------------------------------------------------------ lambda


class LambdaEventInvokeConfig(LocalResource):
    TYPE = "AWS::Lambda::EventInvokeConfig"
    PROPERTIES = frozenset(
        {"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}
    )

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"FunctionName": properties["FunctionName"]}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in properties:
                arguments[key] = int(properties[key])
        if "DestinationConfig" in properties:
            arguments["DestinationConfig"] = properties["DestinationConfig"]
        context.client("lambda").put_function_event_invoke_config(**arguments)
        return f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}", {}

    @classmethod
    def update(
        cls, context: Context, original: LocalResource, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return cls.create(context, properties)

    def remove(self, context: Context) -> None:
        context.client("lambda").delete_function_event_invoke_config(FunctionName=self.properties["FunctionName"])


# ------------------------------------------------------------------------------------- edge (not local)


class _NotEmulated(LocalResource):
    """A type the local cloud knows of but does not emulate: declared by a template behind a condition
    that the local environment keeps off. Creating one fails the deploy in one line, never silently."""

    WHY: ClassVar[str] = ""

    @classmethod
    def create(cls, context: Context, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotEmulatedError(f"{cls.TYPE} ({context.logical_id}) is not emulated locally: {cls.WHY}")


class WafWebAcl(_NotEmulated):
    TYPE = "AWS::WAFv2::WebACL"
    ATTRIBUTES = frozenset({"Arn", "Id"})
    PROPERTIES = frozenset(
        {"Name", "Description", "Scope", "DefaultAction", "VisibilityConfig", "Rules", "Tags", "CustomResponseBodies"}
    )
    WHY = "the Recharge edge front (EdgeFront) is an AWS-only option; keep it disabled in the local environment"


class ChatbotSlackChannel(_NotEmulated):
    TYPE = "AWS::Chatbot::SlackChannelConfiguration"
    ATTRIBUTES = frozenset({"Arn"})
    PROPERTIES = frozenset(
        {
            "ConfigurationName",
            "SlackWorkspaceId",
            "SlackChannelId",
            "IamRoleArn",
            "SnsTopicArns",
            "GuardrailPolicies",
            "UserRoleRequired",
            "LoggingLevel",
            "Tags",
        }
    )
    WHY = "Slack alert routing (AlertSlackWorkspaceId) is AWS-only; leave it empty in the local environment"


class CloudFrontDistribution(_NotEmulated):
    TYPE = "AWS::CloudFront::Distribution"
    ATTRIBUTES = frozenset({"DomainName", "Id"})
    PROPERTIES = frozenset({"DistributionConfig", "Tags"})
    WHY = "the Recharge edge front (EdgeFront) is an AWS-only option; keep it disabled in the local environment"
