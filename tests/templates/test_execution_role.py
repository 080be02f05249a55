"""The CloudFormation execution role allows what CloudFormation's resource handlers need, and no escalation.

Offline: the handlers' permissions come from the resource provider schemas cfn-lint ships (key ``handlers``,
``create`` / ``update`` / ``delete`` -> ``permissions``); the role's policies come from github-oidc.yaml,
resolved for a deployment; each needed permission is asked of the IAM policy evaluator against the ARN the
resource gets from the template's names (the naming contract in github-oidc.yaml's Metadata), or ``*`` for
the actions that admit no resource. Some handler permissions are needed only for property combinations the
platform does not use (``ONLY_WHEN``: they are checked as soon as a template uses the property), and some are
deliberately not granted (``NOT_GRANTED``, each with its reason); any other missing permission fails. The
stacks with optional features (``iam_fixtures.OPTIONAL_FEATURES``) are checked with them on as well.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.iam.template_policies import TemplateResolver
from tests.templates import iam_fixtures as iam

_CFNLINT = importlib.util.find_spec("cfnlint")
assert _CFNLINT is not None, "cfn-lint is not installed"
assert _CFNLINT.origin is not None
SCHEMAS = Path(_CFNLINT.origin).parent / "data" / "schemas"
OPERATIONS = ("create", "update", "delete")

# Handler permissions needed only when the resource sets a property (path in its Properties). The test
# checks them for every resource that does.
ONLY_WHEN: dict[tuple[str, str], str] = {
    ("AWS::Lambda::Function", "ec2:DescribeSecurityGroups"): "VpcConfig",
    ("AWS::Lambda::Function", "ec2:DescribeSubnets"): "VpcConfig",
    ("AWS::Lambda::Function", "ec2:DescribeVpcs"): "VpcConfig",
    ("AWS::Lambda::Function", "ec2:DescribeNetworkInterfaces"): "VpcConfig",
    ("AWS::Lambda::Function", "elasticfilesystem:DescribeMountTargets"): "FileSystemConfigs",
    ("AWS::Lambda::Function", "s3files:ListMountTargets"): "FileSystemConfigs",
    ("AWS::Lambda::Function", "s3:GetObject"): "Code.S3Bucket",
    ("AWS::Lambda::Function", "s3:GetObjectVersion"): "Code.S3ObjectVersion",
    ("AWS::Lambda::Function", "kms:CreateGrant"): "KmsKeyArn",
    ("AWS::Lambda::Function", "kms:Decrypt"): "KmsKeyArn",
    ("AWS::Lambda::Function", "kms:DescribeKey"): "KmsKeyArn",
    ("AWS::Lambda::Function", "kms:Encrypt"): "KmsKeyArn",
    ("AWS::Lambda::Function", "kms:GenerateDataKey"): "KmsKeyArn",
    ("AWS::Lambda::Function", "lambda:GetLayerVersion"): "Layers",
    ("AWS::Lambda::Function", "lambda:GetCodeSigningConfig"): "CodeSigningConfigArn",
    ("AWS::Lambda::Function", "lambda:PutFunctionCodeSigningConfig"): "CodeSigningConfigArn",
    ("AWS::Lambda::Function", "lambda:DeleteFunctionCodeSigningConfig"): "CodeSigningConfigArn",
    ("AWS::Lambda::Function", "lambda:PutRuntimeManagementConfig"): "RuntimeManagementConfig",
    ("AWS::Lambda::Function", "lambda:AssociateRuntimeAlias"): "RuntimeAlias",
    ("AWS::Lambda::Function", "lambda:PassCapacityProvider"): "CapacityProviderConfig",
    ("AWS::Lambda::Function", "lambda:PutFunctionScalingConfig"): "FunctionScalingConfig",
    ("AWS::StepFunctions::StateMachine", "s3:GetObject"): "DefinitionS3Location",
    ("AWS::StepFunctions::StateMachine", "s3:GetObjectVersion"): "DefinitionS3Location",
    ("AWS::StepFunctions::StateMachine", "kms:DescribeKey"): "EncryptionConfiguration.KmsKeyId",
    ("AWS::StepFunctions::StateMachine", "kms:GenerateDataKey"): "EncryptionConfiguration.KmsKeyId",
    ("AWS::ApiGatewayV2::Api", "s3:getObject"): "BodyS3Location",
    ("AWS::DynamoDB::Table", "dynamodb:ImportTable"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:DescribeImport"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "s3:GetObject"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "s3:GetObjectMetadata"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "s3:ListBucket"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:CreateLogGroup"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:CreateLogStream"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:DescribeLogGroups"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:DescribeLogStreams"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:PutLogEvents"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "logs:PutRetentionPolicy"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:BatchWriteItem"): "ImportSourceSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:PutResourcePolicy"): "ResourcePolicy",
    ("AWS::DynamoDB::Table", "dynamodb:DeleteResourcePolicy"): "ResourcePolicy",
    ("AWS::DynamoDB::Table", "kinesis:DescribeStream"): "KinesisStreamSpecification",
    ("AWS::DynamoDB::Table", "kinesis:PutRecords"): "KinesisStreamSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:EnableKinesisStreamingDestination"): "KinesisStreamSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:DisableKinesisStreamingDestination"): "KinesisStreamSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:UpdateKinesisStreamingDestination"): "KinesisStreamSpecification",
    ("AWS::DynamoDB::Table", "dynamodb:UpdateContributorInsights"): "ContributorInsightsSpecification",
    ("AWS::Events::EventBus", "events:PutPermission"): "Policy",
    ("AWS::Events::EventBus", "events:RemovePermission"): "Policy",
    ("AWS::Events::EventBus", "kms:Decrypt"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:DescribeKey"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:Encrypt"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:GenerateDataKey"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:GenerateDataKeyWithoutPlaintext"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:ReEncrypt"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:ReEncryptFrom"): "KmsKeyIdentifier",
    ("AWS::Events::EventBus", "kms:ReEncryptTo"): "KmsKeyIdentifier",
    ("AWS::Events::Archive", "kms:Decrypt"): "KmsKeyIdentifier",
    ("AWS::Events::Archive", "kms:DescribeKey"): "KmsKeyIdentifier",
    ("AWS::Events::Archive", "kms:GenerateDataKey"): "KmsKeyIdentifier",
    ("AWS::Events::Archive", "kms:ReEncryptFrom"): "KmsKeyIdentifier",
    ("AWS::Events::Archive", "kms:ReEncryptTo"): "KmsKeyIdentifier",
    ("AWS::ECR::Repository", "kms:CreateGrant"): "EncryptionConfiguration.KmsKey",
    ("AWS::ECR::Repository", "kms:DescribeKey"): "EncryptionConfiguration.KmsKey",
    ("AWS::ECR::Repository", "kms:RetireGrant"): "EncryptionConfiguration.KmsKey",
    ("AWS::Glue::Database", "glue:CreateConnection"): "DatabaseInput.FederatedDatabase",
    ("AWS::Glue::Database", "glue:DeleteConnection"): "DatabaseInput.FederatedDatabase",
    ("AWS::Glue::Database", "glue:GetConnection"): "DatabaseInput.FederatedDatabase",
    ("AWS::Glue::Database", "glue:UpdateConnection"): "DatabaseInput.FederatedDatabase",
    ("AWS::Glue::Database", "glue:PassConnection"): "DatabaseInput.FederatedDatabase",
    ("AWS::Glue::Table", "glue:PassConnection"): "TableInput.StorageDescriptor.Location.Connection",
    ("AWS::Glue::Table", "glue:GetSchemaVersion"): "TableInput.StorageDescriptor.SchemaReference",
    ("AWS::Glue::Table", "s3:PutObject"): "OpenTableFormatInput",
    ("AWS::Glue::Table", "s3:GetObject"): "OpenTableFormatInput",
    ("AWS::Glue::Table", "iam:PassRole"): "OpenTableFormatInput",
    ("AWS::Glue::DataCatalogEncryptionSettings", "iam:PassRole"): (
        "DataCatalogEncryptionSettings.EncryptionAtRest.CatalogEncryptionServiceRole"
    ),
    ("AWS::S3::Bucket", "iam:PassRole"): "ReplicationConfiguration",
    ("AWS::S3::Bucket", "s3:PutBucketReplication"): "ReplicationConfiguration",
    ("AWS::S3::Bucket", "s3:PutReplicationConfiguration"): "ReplicationConfiguration",
    ("AWS::S3::Bucket", "s3:DeleteBucketReplication"): "ReplicationConfiguration",
    ("AWS::S3::Bucket", "s3:PutAccelerateConfiguration"): "AccelerateConfiguration",
    ("AWS::S3::Bucket", "s3:PutAnalyticsConfiguration"): "AnalyticsConfigurations",
    ("AWS::S3::Bucket", "s3:DeleteBucketAnalyticsConfiguration"): "AnalyticsConfigurations",
    ("AWS::S3::Bucket", "s3:PutBucketCORS"): "CorsConfiguration",
    ("AWS::S3::Bucket", "s3:DeleteBucketCors"): "CorsConfiguration",
    ("AWS::S3::Bucket", "s3:PutBucketWebsite"): "WebsiteConfiguration",
    ("AWS::S3::Bucket", "s3:DeleteBucketWebsite"): "WebsiteConfiguration",
    ("AWS::S3::Bucket", "s3:PutBucketObjectLockConfiguration"): "ObjectLockConfiguration",
    ("AWS::S3::Bucket", "s3:PutObjectLockConfiguration"): "ObjectLockConfiguration",
    ("AWS::S3::Bucket", "s3:PutIntelligentTieringConfiguration"): "IntelligentTieringConfigurations",
    ("AWS::S3::Bucket", "s3:PutInventoryConfiguration"): "InventoryConfigurations",
    ("AWS::S3::Bucket", "s3:PutMetricsConfiguration"): "MetricsConfigurations",
    ("AWS::S3::Bucket", "s3:DeleteBucketMetricsConfiguration"): "MetricsConfigurations",
    ("AWS::S3::Bucket", "s3:PutBucketAcl"): "AccessControl",
    ("AWS::S3::Bucket", "s3:PutObjectAcl"): "AccessControl",
    ("AWS::S3::Bucket", "s3:PutBucketAbac"): "AbacStatus",
    ("AWS::S3::Bucket", "s3:CreateBucketMetadataTableConfiguration"): "MetadataConfiguration",
    ("AWS::S3::Bucket", "s3:GetBucketMetadataTableConfiguration"): "MetadataConfiguration",
    ("AWS::S3::Bucket", "s3:DeleteBucketMetadataTableConfiguration"): "MetadataConfiguration",
    ("AWS::S3::Bucket", "s3:UpdateBucketMetadataAnnotationTableConfiguration"): "MetadataConfiguration",
    ("AWS::S3::Bucket", "s3:UpdateBucketMetadataInventoryTableConfiguration"): "MetadataConfiguration",
    ("AWS::S3::Bucket", "s3:UpdateBucketMetadataJournalTableConfiguration"): "MetadataConfiguration",
    ("AWS::Logs::LogGroup", "logs:PutDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:GetDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:DeleteDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:PutIndexPolicy"): "FieldIndexPolicies",
    ("AWS::Logs::LogGroup", "logs:DescribeIndexPolicies"): "FieldIndexPolicies",
    ("AWS::Logs::LogGroup", "logs:DeleteIndexPolicy"): "FieldIndexPolicies",
    ("AWS::Logs::LogGroup", "logs:PutResourcePolicy"): "ResourcePolicyDocument",
    ("AWS::Logs::LogGroup", "logs:DeleteResourcePolicy"): "ResourcePolicyDocument",
    ("AWS::Logs::LogGroup", "logs:DescribeResourcePolicies"): "ResourcePolicyDocument",
    ("AWS::Logs::LogGroup", "logs:CreateLogDelivery"): "DeliverySourceName",
    ("AWS::Logs::LogGroup", "logs:PutBearerTokenAuthentication"): "BearerTokenAuthenticationEnabled",
    ("AWS::Logs::LogGroup", "logs:PutLogGroupDeletionProtection"): "DeletionProtectionEnabled",
    ("AWS::Logs::LogGroup", "firehose:TagDeliveryStream"): "DeliverySourceName",
    ("AWS::Logs::LogGroup", "s3:REST.PUT.OBJECT"): "DeliverySourceName",
    ("AWS::SNS::Topic", "sns:PutDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::SNS::Topic", "sns:GetDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::SNS::Topic", "sns:Subscribe"): "Subscription",
    ("AWS::SNS::Topic", "sns:Unsubscribe"): "Subscription",
    ("AWS::SNS::Topic", "iam:GetRole"): "DeliveryStatusLogging",
    ("AWS::SNS::Topic", "iam:PassRole"): "DeliveryStatusLogging",
    ("AWS::SNS::Subscription", "iam:GetRole"): "SubscriptionRoleArn",
    ("AWS::SNS::Subscription", "iam:PassRole"): "SubscriptionRoleArn",
    ("AWS::SecretsManager::Secret", "secretsmanager:ReplicateSecretToRegions"): "ReplicaRegions",
    ("AWS::SecretsManager::Secret", "secretsmanager:RemoveRegionsFromReplication"): "ReplicaRegions",
    ("AWS::Events::Rule", "iam:PassRole"): "RoleArn",
    ("AWS::Athena::WorkGroup", "iam:PassRole"): "WorkGroupConfiguration.ExecutionRole",
}

# Handler permissions the execution role deliberately does not have, whatever the templates say.
NOT_GRANTED: dict[tuple[str, str], str] = {
    ("AWS::IAM::Role", "iam:DeleteRolePermissionsBoundary"): (
        "removing a role's permissions boundary is the escalation the boundary exists to prevent"
    ),
    ("AWS::IAM::ManagedPolicy", "iam:AttachGroupPolicy"): "the platform has no IAM groups",
    ("AWS::IAM::ManagedPolicy", "iam:DetachGroupPolicy"): "the platform has no IAM groups",
    ("AWS::IAM::ManagedPolicy", "iam:AttachUserPolicy"): "the platform has no IAM users",
    ("AWS::IAM::ManagedPolicy", "iam:DetachUserPolicy"): "the platform has no IAM users",
    ("AWS::IAM::Policy", "iam:GetGroupPolicy"): "the platform has no IAM groups",
    ("AWS::IAM::Policy", "iam:PutGroupPolicy"): "the platform has no IAM groups",
    ("AWS::IAM::Policy", "iam:DeleteGroupPolicy"): "the platform has no IAM groups",
    ("AWS::IAM::Policy", "iam:GetUserPolicy"): "the platform has no IAM users",
    ("AWS::IAM::Policy", "iam:PutUserPolicy"): "the platform has no IAM users",
    ("AWS::IAM::Policy", "iam:DeleteUserPolicy"): "the platform has no IAM users",
    ("AWS::DynamoDB::Table", "iam:CreateServiceLinkedRole"): (
        "only for global-table replicas and auto scaling, which the platform does not use; a service-linked "
        "role is created by an administrator if ever needed"
    ),
    ("AWS::DynamoDB::Table", "dynamodb:AssociateTableReplica"): "global tables (Replicas) are not used",
    ("AWS::DynamoDB::Table", "dynamodb:CreateTableReplica"): "global tables (Replicas) are not used",
    ("AWS::DynamoDB::Table", "dynamodb:GetItem"): "item reads belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "dynamodb:PutItem"): "item writes belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "dynamodb:UpdateItem"): "item writes belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "dynamodb:DeleteItem"): "item writes belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "dynamodb:Query"): "item reads belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "dynamodb:Scan"): "item reads belong to the functions, not to deployment",
    ("AWS::DynamoDB::Table", "kms:RevokeGrant"): (
        "DynamoDB retires its own grants; revoking grants on the brand keys is not the deployment's business"
    ),
    ("AWS::Glue::Database", "lakeformation:DescribeLakeFormationIdentityCenterConfiguration"): (
        "Lake Formation is not used: the catalog is governed by IAM"
    ),
    ("AWS::Glue::Database", "lakeformation:DescribeResource"): "Lake Formation is not used",
    ("AWS::Glue::Database", "lakeformation:ListResources"): "Lake Formation is not used",
    ("AWS::Glue::Table", "lakeformation:CreateTable"): "Lake Formation is not used",
    (
        "AWS::Glue::Table",
        "lakeformation:DescribeLakeFormationIdentityCenterConfiguration",
    ): "Lake Formation is not used",
    ("AWS::Glue::Table", "lakeformation:DescribeResource"): "Lake Formation is not used",
    ("AWS::Glue::Table", "lakeformation:GetDataAccess"): "Lake Formation is not used",
    ("AWS::Glue::Table", "lakeformation:ListResources"): "Lake Formation is not used",
    ("AWS::S3::Bucket", "s3:DeleteObject"): (
        "the handler empties nothing the platform needs emptied: the lake is retained, never deleted by a deploy"
    ),
    ("AWS::S3::Bucket", "s3tables:CreateNamespace"): "S3 Tables (MetadataConfiguration) are not used",
    ("AWS::S3::Bucket", "s3tables:CreateTable"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:CreateTableBucket"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:GetTable"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:GetTableMetadataLocation"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:PutTableBucketPolicy"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:PutTableEncryption"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:PutTablePolicy"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3tables:UpdateTableMetadataLocation"): "S3 Tables are not used",
    ("AWS::S3::Bucket", "s3:DeleteBucketEncryption"): "a bucket's encryption is never removed",
    ("AWS::S3::Bucket", "s3:DeleteBucketLifecycle"): "lifecycle rules are changed, never removed wholesale",
    ("AWS::KMS::Key", "kms:DisableKey"): "disabling a brand key would lock the platform out of its data",
    ("AWS::KMS::Key", "kms:EnableKey"): "keys are never disabled, so never re-enabled",
    ("AWS::KMS::Key", "kms:DisableKeyRotation"): "key rotation stays on (contract test test_kms_keys_rotate)",
    ("AWS::Lambda::Function", "lambda:PutFunctionRecursionConfig"): (
        "recursive-loop detection stays at its default (Terminate); a template cannot allow loops"
    ),
    ("AWS::Logs::LogGroup", "logs:DeleteRetentionPolicy"): "log groups keep a retention (contract test)",
    ("AWS::ApiGatewayV2::Stage", "apigateway:TagResource"): (
        "no such IAM action (the Service Authorization Reference, and cfn-lint's Policies.json, list none): "
        "API Gateway authorizes tagging as apigateway:POST/DELETE on /tags/*, which the role has"
    ),
    ("AWS::ApiGatewayV2::Stage", "apigateway:UntagResource"): "no such IAM action (see apigateway:TagResource)",
    ("AWS::Athena::WorkGroup", "iam:CreateServiceLinkedRole"): (
        "a SQL workgroup with an S3 results location needs no service-linked role; like every service-linked "
        "role, one is created by an administrator if ever needed: a deploy creates no role without the boundary"
    ),
    ("AWS::Chatbot::SlackChannelConfiguration", "iam:CreateServiceLinkedRole"): (
        "AWSServiceRoleForAWSChatbot is created once by an administrator (docs/operations.md, Alert routing), "
        "like every service-linked role: a deploy creates no role without the boundary"
    ),
    ("AWS::SecretsManager::Secret", "secretsmanager:GetSecretValue"): (
        "a deploy never reads a secret's value: CloudFormation resolves {{resolve:secretsmanager:...}} with the "
        "execution role, so a template could copy a secret into a name or tag the deploy role reads back; the "
        "update handler needs it only to regenerate a GenerateSecretString value, which an operator does"
    ),
}


@dataclass(frozen=True)
class Need:
    stack: str
    logical_id: str
    type: str
    operation: str
    permission: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return f"{self.stack} {self.logical_id} ({self.type}, {self.operation}): {self.permission} on {self.resource}"


@cache
def _schema_index() -> dict[str, str]:
    return dict(json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8")))


@cache
def handler_permissions(resource_type: str) -> dict[str, tuple[str, ...]]:
    digest = _schema_index()[resource_type]
    schema = json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text(encoding="utf-8"))
    handlers = schema.get("handlers") or {}
    return {op: tuple(handlers[op].get("permissions", [])) for op in OPERATIONS if op in handlers}


@cache
def execution_policies() -> dict[str, dict[str, Any]]:
    return iam.role_policies("CloudFormationExecutionRole")


def execution_role_allows(request: Request) -> Decision:
    return evaluate(request, execution_policies())


# ------------------------------------------------------------------------ what each handler acts on


def _has(properties: dict[str, Any], path: str) -> bool:
    node: Any = properties
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _service(permission: str) -> str:
    return permission.split(":", 1)[0].lower()


SERVICE_OF_TYPE = {
    "ApiGatewayV2": "apigateway",
    "Athena": "athena",
    "Chatbot": "chatbot",
    "CloudWatch": "cloudwatch",
    "DynamoDB": "dynamodb",
    "ECR": "ecr",
    "Events": "events",
    "Glue": "glue",
    "IAM": "iam",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "S3": "s3",
    "SNS": "sns",
    "SQS": "sqs",
    "Scheduler": "scheduler",
    "SecretsManager": "secretsmanager",
    "StepFunctions": "states",
}
SERVICE_PRINCIPAL = {
    "AWS::ApiGatewayV2::Integration": "apigateway.amazonaws.com",
    "AWS::Chatbot::SlackChannelConfiguration": "chatbot.amazonaws.com",
    "AWS::Events::Rule": "events.amazonaws.com",
    "AWS::Glue::Crawler": "glue.amazonaws.com",
    "AWS::Glue::Job": "glue.amazonaws.com",
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::Scheduler::Schedule": "scheduler.amazonaws.com",
    "AWS::StepFunctions::StateMachine": "states.amazonaws.com",
}
# Actions that admit no resource (the Service Authorization Reference lists no resource type for them).
NO_RESOURCE = {
    "chatbot:CreateSlackChannelConfiguration",
    "chatbot:DescribeSlackChannelConfigurations",
    "chatbot:ListTagsForResource",
    "kms:CreateKey",
    "kms:ListAliases",
    "logs:CreateLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:PutResourcePolicy",
    "logs:DeleteResourcePolicy",
    "secretsmanager:GetRandomPassword",
    "glue:CreateSecurityConfiguration",
    "glue:DeleteSecurityConfiguration",
    "glue:GetSecurityConfiguration",
}


REF_NAMED = {
    "AWS::IAM::ManagedPolicy",
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
    "AWS::SecretsManager::Secret",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::ECR::Repository",
    "AWS::Glue::Database",
    "AWS::Glue::Job",
    "AWS::Glue::Crawler",
    "AWS::Events::Rule",
    "AWS::Events::EventBus",
    "AWS::Scheduler::Schedule",
}


def _own_arns(resolver: TemplateResolver, logical_id: str, kind: str) -> list[str]:
    d = resolver.deployment
    region = f"{d.region}:{d.account_id}"
    props = resolver.properties(logical_id)
    ref = resolver.ref(logical_id) if kind in REF_NAMED else ""
    if kind in {"AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::DynamoDB::Table"}:
        return [resolver.get_att(logical_id, "Arn")]
    if kind in {"AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}:
        return [ref]
    if kind == "AWS::SecretsManager::Secret":
        return [ref]
    if kind == "AWS::S3::Bucket":
        return [f"arn:aws:s3:::{ref}"]
    if kind == "AWS::S3::BucketPolicy":
        return [f"arn:aws:s3:::{props['Bucket']}"]
    if kind == "AWS::KMS::Key":
        return [f"arn:aws:kms:{region}:key/{ref}"]
    if kind == "AWS::Logs::LogGroup":
        return [f"arn:aws:logs:{region}:log-group:{ref}"]
    if kind == "AWS::ECR::Repository":
        return [f"arn:aws:ecr:{region}:repository/{ref}"]
    if kind == "AWS::Glue::Table":
        database = str(props["DatabaseName"])
        return [
            f"arn:aws:glue:{region}:catalog",
            f"arn:aws:glue:{region}:database/{database}",
            f"arn:aws:glue:{region}:table/{database}/{props['TableInput']['Name']}",
        ]
    if kind == "AWS::Glue::Database":
        return [f"arn:aws:glue:{region}:catalog", f"arn:aws:glue:{region}:database/{ref}"]
    if kind in {"AWS::Glue::Job", "AWS::Glue::Crawler"}:
        return [f"arn:aws:glue:{region}:{kind.rsplit('::', 1)[1].lower()}/{ref}"]
    if kind == "AWS::Glue::DataCatalogEncryptionSettings":
        return [f"arn:aws:glue:{region}:catalog"]
    if kind == "AWS::Events::Rule":
        bus = str(props.get("EventBusName", "default"))
        bus = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") and "/partner/" not in bus else bus
        return [
            f"arn:aws:events:{region}:rule/{ref}" if bus == "default" else f"arn:aws:events:{region}:rule/{bus}/{ref}"
        ]
    if kind == "AWS::Events::EventBus":
        return [f"arn:aws:events:{region}:event-bus/{ref}"]
    if kind == "AWS::Events::Archive":
        return [f"arn:aws:events:{region}:archive/{props['ArchiveName']}"]
    if kind == "AWS::Scheduler::Schedule":
        return [f"arn:aws:scheduler:{region}:schedule/{props.get('GroupName', 'default')}/{ref}"]
    if kind == "AWS::Athena::WorkGroup":
        return [f"arn:aws:athena:{region}:workgroup/{props['Name']}"]
    if kind == "AWS::CloudWatch::Dashboard":
        return [f"arn:aws:cloudwatch::{d.account_id}:dashboard/{props['DashboardName']}"]
    if kind == "AWS::CloudWatch::Alarm":
        return [f"arn:aws:cloudwatch:{region}:alarm:{props['AlarmName']}"]
    if kind == "AWS::KMS::Alias":
        return [f"arn:aws:kms:{region}:{props['AliasName']}", _key_arn(resolver, str(props["TargetKeyId"]))]
    if kind in {"AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig"}:
        function = str(props["FunctionName"])
        return [function if function.startswith("arn:") else f"arn:aws:lambda:{region}:function:{function}"]
    if kind == "AWS::SNS::Subscription":
        return [str(props["TopicArn"])]
    if kind == "AWS::Chatbot::SlackChannelConfiguration":
        return [f"arn:aws:chatbot::{d.account_id}:chat-configuration/slack-channel/{props['ConfigurationName']}"]
    if kind == "AWS::SNS::TopicPolicy":
        return [str(t) for t in props["Topics"]]
    if kind == "AWS::SQS::QueuePolicy":
        return [f"arn:aws:sqs:{region}:{str(q).rsplit('/', 1)[-1]}" for q in props["Queues"]]
    if kind.startswith("AWS::ApiGatewayV2::"):
        return [f"arn:aws:apigateway:{d.region}::/apis", f"arn:aws:apigateway:{d.region}::/apis/a1b2c3"]
    raise AssertionError(f"the test does not know the ARN of {kind}: add it")


def _key_arn(resolver: TemplateResolver, key: str) -> str:
    d = resolver.deployment
    return key if key.startswith("arn:") else f"arn:aws:kms:{d.region}:{d.account_id}:key/{key}"


def _role_arns(props: dict[str, Any]) -> list[str]:
    return sorted({s for s in _strings(props) if re.match(r"^arn:aws:iam::\d{12}:role/", s)})


def _key_arns(resolver: TemplateResolver, props: dict[str, Any]) -> list[str]:
    return sorted({s for s in _strings(props) if re.match(r"^arn:aws:kms:[^:]+:\d{12}:(key|alias)/", s)})


def _targets(
    resolver: TemplateResolver, logical_id: str, kind: str, permission: str
) -> list[tuple[str, dict[str, Any]]]:
    """The (resource ARN, request context) pairs ``permission`` is asked for on this resource."""
    props = resolver.properties(logical_id)
    brand_tag: dict[str, Any] = {"aws:ResourceTag/Brand": iam.brand(), "aws:RequestTag/Brand": iam.brand()}
    if permission in NO_RESOURCE:
        return [("*", brand_tag if permission == "kms:CreateKey" else {})]
    if permission in {"iam:PassRole", "iam:GetRole"}:
        passed: dict[str, Any] = {"iam:PassedToService": SERVICE_PRINCIPAL.get(kind, "")}
        return [(arn, passed if permission == "iam:PassRole" else {}) for arn in _role_arns(props)]
    if kind == "AWS::Athena::WorkGroup" and _service(permission) == "s3":
        # The results location: the bucket (bucket-level actions) or an object under the output prefix.
        location = str(props["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"])
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        on_bucket = permission in {"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"}
        return [(f"arn:aws:s3:::{bucket}" if on_bucket else f"arn:aws:s3:::{bucket}/{prefix}result.csv", {})]
    own_service = SERVICE_OF_TYPE[kind.split("::")[1]]
    if _service(permission) == "kms" and own_service != "kms":
        return [(arn, brand_tag) for arn in _key_arns(resolver, props)]
    if _service(permission) != own_service:
        raise AssertionError(f"{kind}: the test does not know what {permission} acts on: add it")
    context: dict[str, Any] = {}
    if kind in {"AWS::KMS::Key", "AWS::KMS::Alias"}:
        context = brand_tag
    if kind == "AWS::IAM::Role":
        context = {"iam:PermissionsBoundary": str(props.get("PermissionsBoundary", ""))}
        if permission in {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}:
            context["iam:PolicyARN"] = f"arn:aws:iam::{iam.ACCOUNT}:policy/{iam.brand()}-prod-example"
    if kind == "AWS::IAM::Policy":
        # The policy's roles carry the boundary (test_every_platform_role_carries_the_boundary).
        roles = [f"arn:aws:iam::{iam.ACCOUNT}:role/{name}" for name in props.get("Roles", [])]
        return [(arn, {"iam:PermissionsBoundary": iam.boundary_arn()}) for arn in roles]
    if kind == "AWS::IAM::ManagedPolicy" and permission in {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}:
        # Attached to the template's roles, which carry the boundary.
        attached = {"iam:PermissionsBoundary": iam.boundary_arn(), "iam:PolicyARN": resolver.ref(logical_id)}
        return [(f"arn:aws:iam::{iam.ACCOUNT}:role/{name}", attached) for name in props.get("Roles", [])]

    if permission == "events:PutTargets":
        targets = [str(t["Arn"]) for t in props.get("Targets", [])]
        if not targets:
            return []  # a rule without targets: the handler puts none
        context = {"events:TargetArn": targets}
    if permission == "sns:Subscribe" and kind == "AWS::SNS::Subscription":
        context = {"sns:Protocol": str(props["Protocol"]), "sns:Endpoint": str(props.get("Endpoint", ""))}
    return [(arn, context) for arn in _own_arns(resolver, logical_id, kind)]


def _deployed() -> Iterator[tuple[str, TemplateResolver]]:
    """Every stack CI deploys, as the parameter files have it, then those with optional features on."""
    for resolvers in (iam.resolvers(), iam.optional_resolvers()):
        for key, resolver in resolvers.items():
            if not iam.stack(key).bootstrap:  # bootstrap: deployed by an administrator, not through the role
                yield key, resolver


def _needs() -> Iterator[Need]:
    for key, resolver in _deployed():
        for logical_id, body in resolver.resources.items():
            kind = str(body["Type"])
            if not resolver.exists(logical_id) or kind.startswith("Custom::"):
                continue
            props = resolver.properties(logical_id)
            for operation, permissions in handler_permissions(kind).items():
                for permission in permissions:
                    only_when = ONLY_WHEN.get((kind, permission))
                    if only_when and not _has(props, only_when):
                        continue
                    if (kind, permission) in NOT_GRANTED:
                        continue
                    for resource, context in _targets(resolver, logical_id, kind, permission):
                        yield Need(key, logical_id, kind, operation, permission, resource, tuple(context.items()))


def test_the_execution_role_allows_every_handler_permission_the_templates_need() -> None:
    needs = list(_needs())
    assert len(needs) > 500, "the test saw too few permissions to mean anything"
    missing = sorted(
        {
            str(need)
            for need in needs
            if not execution_role_allows(Request(need.permission, need.resource, dict(need.context))).allowed
        }
    )
    assert missing == [], "\n".join(["the execution role lacks (AccessDenied on deploy):", *missing])


def test_the_exceptions_name_resource_types_the_templates_use() -> None:
    used = {str(body["Type"]) for resolver in iam.resolvers().values() for body in resolver.resources.values()}
    stale = sorted(f"{k} {p}" for k, p in {**ONLY_WHEN, **NOT_GRANTED} if k not in used)
    assert stale == []


def test_the_not_granted_permissions_are_really_not_granted() -> None:
    granted = []
    for _key, resolver in _deployed():
        for logical_id, body in resolver.resources.items():
            kind = str(body["Type"])
            for (not_kind, permission), _reason in NOT_GRANTED.items():
                if kind != not_kind or not resolver.exists(logical_id):
                    continue
                for resource, context in _targets_or_own(resolver, logical_id, kind, permission):
                    if execution_role_allows(Request(permission, resource, context)).allowed:
                        granted.append(f"{kind} {permission} on {resource}")
    assert granted == [], "listed as deliberately not granted, yet allowed: remove them from NOT_GRANTED"


def _targets_or_own(resolver: TemplateResolver, logical_id: str, kind: str, permission: str) -> list[tuple[str, Any]]:
    try:
        return _targets(resolver, logical_id, kind, permission)
    except AssertionError:
        return [("*", {})]


# ------------------------------------------------------------------------------ attacks on the role

ROLE = f"arn:aws:iam::{iam.ACCOUNT}:role/{iam.brand()}-prod-shopify-attacker"


def _allowed(action: str, resource: str, **context: Any) -> bool:
    return execution_role_allows(Request(action, resource, context)).allowed


def test_a_role_is_created_only_with_the_boundary() -> None:
    assert _allowed("iam:CreateRole", ROLE, **{"iam:PermissionsBoundary": iam.boundary_arn()})
    assert not _allowed("iam:CreateRole", ROLE)
    other = f"arn:aws:iam::{iam.ACCOUNT}:policy/{iam.brand()}-prod-lenient-boundary"
    assert not _allowed("iam:CreateRole", ROLE, **{"iam:PermissionsBoundary": other})
    assert not _allowed(
        "iam:CreateRole", ROLE, **{"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}
    )


@pytest.mark.parametrize(
    "action", ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy"]
)
def test_a_role_without_the_boundary_cannot_be_given_permissions(action: str) -> None:
    policy = {"iam:PolicyARN": f"arn:aws:iam::{iam.ACCOUNT}:policy/{iam.brand()}-prod-x"}
    assert _allowed(action, ROLE, **{"iam:PermissionsBoundary": iam.boundary_arn()}, **policy)
    assert not _allowed(action, ROLE, **policy)  # an existing role without a boundary


def test_administrator_policies_are_never_attached() -> None:
    boundary = {"iam:PermissionsBoundary": iam.boundary_arn()}
    admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert not _allowed("iam:AttachRolePolicy", ROLE, **boundary, **admin)


def test_the_boundary_cannot_be_removed_or_changed() -> None:
    boundary = iam.boundary_arn()
    assert not _allowed("iam:DeleteRolePermissionsBoundary", ROLE, **{"iam:PermissionsBoundary": boundary})
    assert not _allowed(
        "iam:PutRolePermissionsBoundary",
        ROLE,
        **{"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    for action in (
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:DeletePolicyVersion",
        "iam:SetDefaultPolicyVersion",
    ):
        assert not _allowed(action, boundary), action


def test_the_ci_roles_cannot_be_changed_or_passed() -> None:
    for role in ("DeployRole", "BuildRole", "CloudFormationExecutionRole"):
        arn = iam.role_arn(role)
        boundary = {"iam:PermissionsBoundary": iam.boundary_arn()}
        for action in (
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",
        ):
            assert not _allowed(action, arn, **boundary), f"{action} on {role}"
        for service in ("lambda.amazonaws.com", "states.amazonaws.com", "glue.amazonaws.com"):
            assert not _allowed("iam:PassRole", arn, **{"iam:PassedToService": service}), f"PassRole {role}"


def test_another_environments_ci_roles_and_policies_in_the_same_account_are_out_of_reach() -> None:
    """Staging and prod sharing an account (against the advice of docs/deploy.md): staging's execution role
    must not take over prod's CI roles, their policies or prod's boundary."""
    other = "staging" if iam.ENVIRONMENT != "staging" else "prod"
    prefix = f"arn:aws:iam::{iam.ACCOUNT}"
    boundary = {"iam:PermissionsBoundary": iam.boundary_arn()}
    for role in ("github-deploy", "github-build", "cfn-execution"):
        arn = f"{prefix}:role/{iam.brand()}-{other}-{role}"
        for action in ("iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRole"):
            assert not _allowed(action, arn, **boundary), f"{action} on {other}'s {role}"
    for policy in (f"{other}-cfn-execution-compute", f"{other}-permissions-boundary"):
        for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
            assert not _allowed(action, f"{prefix}:policy/{iam.brand()}-{policy}"), f"{action} on {policy}"


RULE = f"arn:aws:events:{iam.REGION}:{iam.ACCOUNT}:rule/{iam.brand()}-prod-orders"


def test_event_targets_stay_in_the_account() -> None:
    own = f"arn:aws:lambda:{iam.REGION}:{iam.ACCOUNT}:function:{iam.brand()}-prod-shopify-order-processor"
    foreign_bus = f"arn:aws:events:{iam.REGION}:{iam.OTHER_ACCOUNT}:event-bus/default"
    assert _allowed("events:PutTargets", RULE, **{"events:TargetArn": [own]})
    assert not _allowed("events:PutTargets", RULE, **{"events:TargetArn": [foreign_bus]})
    assert not _allowed("events:PutTargets", RULE, **{"events:TargetArn": [own, foreign_bus]})
    assert not _allowed("events:PutTargets", RULE)


TOPIC = f"arn:aws:sns:{iam.REGION}:{iam.ACCOUNT}:{iam.brand()}-data-platform-alerts"


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("email", "oncall@example.com"),
        ("https", "https://events.pagerduty.com/x"),
        ("sqs", f"arn:aws:sqs:{iam.REGION}:{iam.ACCOUNT}:{iam.brand()}-alerts"),
        ("lambda", f"arn:aws:lambda:{iam.REGION}:{iam.ACCOUNT}:function:{iam.brand()}-prod-x"),
    ],
)
def test_safe_subscriptions_are_allowed(protocol: str, endpoint: str) -> None:
    assert _allowed("sns:Subscribe", TOPIC, **{"sns:Protocol": protocol, "sns:Endpoint": endpoint})


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("application", f"arn:aws:sns:{iam.REGION}:{iam.ACCOUNT}:endpoint/GCM/app/1"),
        ("sms", "+15555550100"),
        ("http", "http://example.com/hook"),
        ("firehose", f"arn:aws:firehose:{iam.REGION}:{iam.ACCOUNT}:deliverystream/x"),
        ("sqs", f"arn:aws:sqs:{iam.REGION}:{iam.OTHER_ACCOUNT}:exfiltrate"),
        ("lambda", f"arn:aws:lambda:{iam.REGION}:{iam.OTHER_ACCOUNT}:function:exfiltrate"),
    ],
)
def test_unsafe_subscriptions_are_refused(protocol: str, endpoint: str) -> None:
    assert not _allowed("sns:Subscribe", TOPIC, **{"sns:Protocol": protocol, "sns:Endpoint": endpoint})
