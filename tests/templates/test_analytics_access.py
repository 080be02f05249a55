"""Analysts' access (infrastructure/analytics/athena-access.yaml), resolved for a prod deployment: the workgroup
enforces its configuration (results encrypted with the results key in the results bucket, a bytes-scanned limit,
a pinned engine version, CloudWatch metrics, no requester pays); the results expire; and, asked of the IAM policy
evaluator with the role's policies, the permissions boundary, the lake's bucket policy and the keys' policies,
the analyst role queries the processed zone through its workgroup only and reaches nothing of raw/, quarantine/,
exports/, metadata/, the raw database, the hot stores or the secrets."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.iam.template_policies import TemplateResolver
from platformctl.manifest import Manifest
from platformctl.params import check_parameters
from tests.templates import iam_fixtures as iam

STACK = "analytics/athena-access"
ENGINE = "Athena engine version 3"
MIN_CUTOFF = 10_000_000  # Athena's minimum BytesScannedCutoffPerQuery (10 MB)
TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}
SESSION_NAME = "jane.doe"


@cache
def _stack() -> TemplateResolver:
    return iam.resolvers()[STACK]


def _with(**parameters: str) -> TemplateResolver:
    base = _stack()
    return TemplateResolver(base.template, {**base.parameters, **parameters}, base.deployment)


def _out(stack: str, name: str) -> str:
    return iam.output(iam.resolvers()[stack], name)


def _workgroup() -> dict[str, Any]:
    return _stack().properties("AnalyticsWorkGroup")


def _workgroup_arn(name: str | None = None) -> str:
    return f"arn:aws:athena:{iam.REGION}:{iam.ACCOUNT}:workgroup/{name or _workgroup()['Name']}"


def _lake() -> str:
    return f"arn:aws:s3:::{_out('shared/data-lake', 'DataLakeBucketName')}"


def _results() -> str:
    return _stack().get_att("QueryResultsBucket", "Arn")


def _lake_key() -> str:
    return _out("shared/data-lake", "DataLakeKmsKeyArn")


def _results_key() -> str:
    return _stack().get_att("QueryResultsKey", "Arn")


def _glue(kind: str, database_output: str, table: str | None = None) -> str:
    database = _out("shared/glue-catalog", database_output)
    path = f"database/{database}" if kind == "database" else f"table/{database}/{table}"
    return f"arn:aws:glue:{iam.REGION}:{iam.ACCOUNT}:{path}"


def _analyst_session() -> str:
    role = _stack().ref("AnalystRole")
    return f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{role}/{SESSION_NAME}"


def _as_analyst(
    action: str, resource: str, context: dict[str, Any] | None = None, resource_policy: Any = None
) -> Decision:
    """A call of an analyst's session: the role's policies, the boundary and the resource's policy, as IAM does."""
    return evaluate(
        Request(action=action, resource=resource, context=context or {}, principal=_analyst_session()),
        _stack().policy_documents("AnalystRole"),
        iam.boundary_document(),
        resource_policy,
    )


def _lake_bucket_policy() -> dict[str, Any]:
    return dict(iam.resolvers()["shared/data-lake"].properties("DataLakeBucketPolicy")["PolicyDocument"])


def _lake_key_policy() -> dict[str, Any]:
    return dict(iam.resolvers()["shared/data-lake"].properties("DataLakeKey")["KeyPolicy"])


def _results_bucket_policy() -> dict[str, Any]:
    return dict(_stack().properties("QueryResultsBucketPolicy")["PolicyDocument"])


def _results_key_policy() -> dict[str, Any]:
    return dict(_stack().properties("QueryResultsKey")["KeyPolicy"])


def _via_s3(**extra: Any) -> dict[str, Any]:
    return {
        "kms:ViaService": f"s3.{iam.REGION}.amazonaws.com",
        "kms:CallerAccount": iam.ACCOUNT,
        "aws:ResourceTag/Brand": iam.brand(),
        **extra,
    }


# ---------------------------------------------------------------------------------------- the workgroup


def test_the_workgroup_is_named_for_the_brand_and_environment() -> None:
    assert _workgroup()["Name"] == f"{iam.brand()}-{iam.ENVIRONMENT}-analytics"
    assert _workgroup().get("State", "ENABLED") == "ENABLED"


def test_the_workgroup_enforces_its_configuration() -> None:
    configuration = _workgroup()["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["RequesterPaysEnabled"] is False


def test_the_engine_version_is_pinned() -> None:
    assert _workgroup()["WorkGroupConfiguration"]["EngineVersion"] == {"SelectedEngineVersion": ENGINE}


def test_results_go_encrypted_with_the_results_key_to_the_results_bucket() -> None:
    results = _workgroup()["WorkGroupConfiguration"]["ResultConfiguration"]
    bucket = _stack().ref("QueryResultsBucket")
    assert results["OutputLocation"] == f"s3://{bucket}/results/"
    assert results["ExpectedBucketOwner"] == iam.ACCOUNT
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": _results_key()}
    assert _results_key() != _lake_key()


def test_the_bytes_scanned_limit_is_a_parameter_of_at_least_10_mb(manifest: Manifest) -> None:
    spec = _stack().template["Parameters"]["BytesScannedCutoffPerQuery"]
    assert spec["Type"] == "Number"
    assert int(spec["MinValue"]) == MIN_CUTOFF
    assert MIN_CUTOFF <= int(spec["Default"]) <= 100 * 10**9  # a sane default: at most 100 GB (0.50 USD)
    assert _workgroup()["WorkGroupConfiguration"]["BytesScannedCutoffPerQuery"] == _stack().ref(
        "BytesScannedCutoffPerQuery"
    )
    stack = iam.stack(STACK)
    for environment in manifest.environments():
        assert int(check_parameters(stack, environment).values["BytesScannedCutoffPerQuery"]) >= MIN_CUTOFF


# ----------------------------------------------------------------------------------- the results bucket


def test_the_results_bucket_is_encrypted_with_the_results_key_and_logged() -> None:
    props = _stack().properties("QueryResultsBucket")
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _results_key()}
    assert rule["BucketKeyEnabled"] is True
    assert props["LoggingConfiguration"]["DestinationBucketName"] == _stack().ref("AccessLogsBucket")
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_the_results_expire_and_so_do_their_earlier_versions() -> None:
    (rule,) = _stack().properties("QueryResultsBucket")["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule  # every object of the bucket
    assert "Filter" not in rule
    assert rule["ExpirationInDays"] == _stack().ref("QueryResultsRetentionDays")
    assert int(_stack().template["Parameters"]["QueryResultsRetentionDays"]["MaxValue"]) <= 90
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_the_logs_bucket_admits_the_results_buckets_logs_only() -> None:
    policy = _stack().properties("AccessLogsBucketPolicy")["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == _results()
    target = _stack().properties("QueryResultsBucket")["LoggingConfiguration"]["LogFilePrefix"]
    assert allow["Resource"].endswith(f"/{target}*")


# ------------------------------------------------------------------------------------- the results key


def test_only_the_analyst_role_may_use_the_results_key_and_only_through_s3() -> None:
    users = [s for s in _results_key_policy()["Statement"] if {"kms:Decrypt", "kms:GenerateDataKey"} & set(s["Action"])]
    assert [s["Principal"] for s in users] == [{"AWS": _stack().get_att("AnalystRole", "Arn")}]
    assert users[0]["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{iam.REGION}.amazonaws.com"


def test_another_principal_of_the_account_cannot_decrypt_the_results() -> None:
    other = f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{iam.brand()}-prod-shopify-order-processor/x"
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    decision = evaluate(
        Request("kms:Decrypt", _results_key(), _via_s3(), principal=other),
        [allow_all],
        resource_policy=_results_key_policy(),
    )
    assert not decision.allowed, decision.reason


# ------------------------------------------------------------------------------------ what it may do


def _allowed(action: str, resource: str, context: dict[str, Any] | None = None, policy: Any = None) -> None:
    decision = _as_analyst(action, resource, context, policy)
    assert decision.allowed, f"the analyst may not {action} on {resource}: {decision.reason}"


def _denied(action: str, resource: str, context: dict[str, Any] | None = None, policy: Any = None) -> None:
    decision = _as_analyst(action, resource, context, policy)
    assert not decision.allowed, f"the analyst may {action} on {resource} ({decision.reason})"


PROCESSED = "processed/shopify/orders_enriched/dt=2026-12-05/part-00000.parquet"


@pytest.mark.parametrize(
    "action",
    [
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
    ],
)
def test_the_analyst_runs_queries_in_the_analytics_workgroup(action: str) -> None:
    _allowed(action, _workgroup_arn())


@pytest.mark.parametrize("workgroup", ["primary", "acme-staging-analytics", "other-team"])
def test_the_analyst_runs_no_query_in_another_workgroup(workgroup: str) -> None:
    for action in ("athena:StartQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup"):
        _denied(action, _workgroup_arn(workgroup))


def test_the_analyst_cannot_change_the_workgroup() -> None:
    for action in ("athena:UpdateWorkGroup", "athena:DeleteWorkGroup", "athena:CreateWorkGroup"):
        _denied(action, _workgroup_arn())


@pytest.mark.parametrize("table", ["orders_enriched", "daily_sales"])
def test_the_analyst_reads_the_processed_databases_tables_and_views(table: str) -> None:
    # Glue authorizes a table action on the table, its database and the catalog.
    catalog = f"arn:aws:glue:{iam.REGION}:{iam.ACCOUNT}:catalog"
    for resource in (
        catalog,
        _glue("database", "ProcessedDatabaseName"),
        _glue("table", "ProcessedDatabaseName", table),
    ):
        for action in ("glue:GetTable", "glue:GetPartitions", "glue:BatchGetPartition", "glue:GetDatabase"):
            _allowed(action, resource)


def test_the_analyst_cannot_change_the_catalog() -> None:
    for action in ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:CreatePartition"):
        _denied(action, _glue("table", "ProcessedDatabaseName", "orders_enriched"))


@pytest.mark.parametrize("table", ["shopify_webhooks_orders", "shopify_bulk_order", "triplewhale_summary_page"])
def test_the_analyst_reads_nothing_of_the_raw_database(table: str) -> None:
    for action in ("glue:GetTable", "glue:GetPartitions", "glue:GetTables"):
        _denied(action, _glue("table", "RawDatabaseName", table))
    _denied("glue:GetDatabase", _glue("database", "RawDatabaseName"))


def test_the_analyst_reads_the_processed_zone() -> None:
    _allowed("s3:GetObject", f"{_lake()}/{PROCESSED}", TLS, _lake_bucket_policy())
    _allowed(
        "s3:ListBucket", _lake(), {**TLS, "s3:prefix": "processed/shopify/orders_enriched/"}, _lake_bucket_policy()
    )
    _allowed("s3:GetBucketLocation", _lake(), TLS, _lake_bucket_policy())


def test_the_analyst_decrypts_the_lake_through_s3_only() -> None:
    _allowed("kms:Decrypt", _lake_key(), _via_s3(), _lake_key_policy())
    for context in (
        _via_s3(**{"kms:ViaService": f"glue.{iam.REGION}.amazonaws.com"}),
        {"kms:CallerAccount": iam.ACCOUNT},
    ):
        _denied("kms:Decrypt", _lake_key(), context, _lake_key_policy())
    _denied("kms:GenerateDataKey", _lake_key(), _via_s3(), _lake_key_policy())


PERSONAL = [
    "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/b54557e4.json",
    "raw/shopify/bulk/Order/run=gid-shopify-BulkOperation-9/part-00000.jsonl.gz",
    "raw/recharge/customer/topic=customer_created/dt=2026-12-05/1-2026.json",
    "raw/triplewhale/summary-page/dt=2026-12-05/example.myshopify.com.json",
    "quarantine/shopify/dt=2026-12-05/foreign-source/x.json",
    "exports/privacy/0123456789abcdef0123456789abcdef/export.json",
    "metadata/privacy/audit/0123456789abcdef0123456789abcdef.json",
    "metadata/shopify/bulk/run=gid-shopify-BulkOperation-9/checkpoints/00001.json",
]


@pytest.mark.parametrize("key", PERSONAL)
def test_the_analyst_reads_nothing_where_personal_data_is(key: str) -> None:
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        _denied(action, f"{_lake()}/{key}", TLS, _lake_bucket_policy())


@pytest.mark.parametrize(
    "prefix", ["raw/", "raw/shopify/webhooks/", "quarantine/", "exports/privacy/", "metadata/", ""]
)
def test_the_analyst_lists_nothing_outside_the_processed_zone(prefix: str) -> None:
    _denied("s3:ListBucket", _lake(), {**TLS, "s3:prefix": prefix}, _lake_bucket_policy())


def test_the_analyst_never_writes_the_lake_nor_reads_earlier_versions() -> None:
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObjectVersion"):
        _denied(action, f"{_lake()}/{PROCESSED}", TLS, _lake_bucket_policy())


def test_the_analyst_writes_results_through_athena_and_reads_them() -> None:
    result = f"{_results()}/results/0b6f7a1e-query.csv"
    via_athena = {**TLS, "aws:CalledVia": ["athena.amazonaws.com"]}
    encrypted = {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": _results_key(),
    }
    _allowed("s3:PutObject", result, {**via_athena, **encrypted}, _results_bucket_policy())
    _allowed("s3:PutObject", result, via_athena, _results_bucket_policy())  # no header: the bucket's default key
    _allowed("s3:GetObject", result, TLS, _results_bucket_policy())
    _allowed("s3:ListBucket", _results(), TLS, _results_bucket_policy())
    _allowed("kms:GenerateDataKey", _results_key(), _via_s3(), _results_key_policy())
    _allowed("kms:Decrypt", _results_key(), _via_s3(), _results_key_policy())


def test_the_results_bucket_is_no_file_drop() -> None:
    result = f"{_results()}/results/0b6f7a1e-query.csv"
    _denied("s3:PutObject", result, TLS, _results_bucket_policy())  # straight from the analyst, not via Athena
    via_athena = {**TLS, "aws:CalledVia": ["athena.amazonaws.com"]}
    other_key = {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": _lake_key(),
    }
    _denied("s3:PutObject", result, {**via_athena, **other_key}, _results_bucket_policy())
    _denied(
        "s3:PutObject", result, {**via_athena, "s3:x-amz-server-side-encryption": "AES256"}, _results_bucket_policy()
    )
    _denied("s3:GetObject", result, {"aws:SecureTransport": "false"}, _results_bucket_policy())


def test_the_analyst_reads_no_hot_store_and_no_secret() -> None:
    tables = iam.resolvers()["shared/dynamodb-tables"]
    for output in ("OrdersTableName", "CustomersTableName", "SubscriptionsTableName"):
        table = f"arn:aws:dynamodb:{iam.REGION}:{iam.ACCOUNT}:table/{iam.output(tables, output)}"
        for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"):
            _denied(action, table)
    secrets = iam.resolvers()["shared/secrets-manager"]
    for output in ("ShopifyAdminApiSecretArn", "RechargeWebhookSecretArn", "PrivacyDigestKeySecretArn"):
        _denied("secretsmanager:GetSecretValue", iam.output(secrets, output))


def test_the_analyst_cannot_use_the_hot_store_or_secrets_keys() -> None:
    for stack, output in (
        ("shared/dynamodb-tables", "TablesKmsKeyArn"),
        ("shared/secrets-manager", "SecretsKmsKeyArn"),
    ):
        key = iam.output(iam.resolvers()[stack], output)
        _denied("kms:Decrypt", key, {"aws:ResourceTag/Brand": iam.brand(), "kms:CallerAccount": iam.ACCOUNT})


def test_every_allow_of_the_policy_is_within_the_boundary() -> None:
    """The boundary does not silently cut what the policy grants (a statement the boundary refuses is dead)."""
    for name, document in _stack().policy_documents("AnalystRole").items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                for resource in resources:
                    concrete = resource.replace("*", "x")
                    context = {"aws:ResourceTag/Brand": iam.brand()}
                    decision = evaluate(Request(action, concrete, context), [], iam.boundary_document())
                    assert "boundary does not allow" not in decision.reason, f"{name}/{statement['Sid']}: {action}"
                    allow_all = {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                    within = evaluate(Request(action, concrete, context), [allow_all], iam.boundary_document())
                    assert within.allowed, f"{name}/{statement['Sid']}: the boundary cuts {action} on {concrete}"


# ------------------------------------------------------------------------------------------- the trust


def _assume(resolver: TemplateResolver, principal: str, identity: list[Any], context: dict[str, Any]) -> Decision:
    return evaluate(
        Request("sts:AssumeRole", resolver.get_att("AnalystRole", "Arn"), context, principal=principal),
        identity,
        resource_policy=resolver.properties("AnalystRole")["AssumeRolePolicyDocument"],
    )


def _may_assume(role_arn: str) -> list[dict[str, Any]]:
    return [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}
    ]


def test_by_default_the_account_decides_who_assumes_the_role_with_mfa() -> None:
    assert _stack().ref("AnalystPrincipalArns") == ""
    assert _stack().ref("AnalystRequireMfa") == "true"
    someone = f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{iam.brand()}-data-team/jane"
    grant = _may_assume(_stack().get_att("AnalystRole", "Arn"))
    assert _assume(_stack(), someone, grant, {"aws:MultiFactorAuthPresent": "true"}).allowed
    assert not _assume(_stack(), someone, grant, {}).allowed  # no MFA
    assert not _assume(_stack(), someone, [], {"aws:MultiFactorAuthPresent": "true"}).allowed  # not granted in IAM
    stranger = f"arn:aws:sts::{iam.OTHER_ACCOUNT}:assumed-role/anyone/x"
    assert not _assume(_stack(), stranger, grant, {"aws:MultiFactorAuthPresent": "true"}).allowed


def test_named_principals_are_trusted_and_no_one_else() -> None:
    sso_role = f"arn:aws:iam::{iam.ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_0123abcd"
    partner = f"arn:aws:iam::{iam.OTHER_ACCOUNT}:role/bi-tool"
    resolver = _with(AnalystPrincipalArns=f"{sso_role},{partner}", AnalystRequireMfa="false")
    sso_session = f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/AWSReservedSSO_Analyst_0123abcd/jane"
    assert _assume(resolver, sso_session, [], {}).allowed
    someone = f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{iam.brand()}-data-team/jane"
    assert not _assume(resolver, someone, _may_assume(resolver.get_att("AnalystRole", "Arn")), {}).allowed
    principals = resolver.properties("AnalystRole")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert principals == [sso_role, partner]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (f"arn:aws:iam::{iam.ACCOUNT}:root", True),
        (f"arn:aws:iam::{iam.ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_0123", True),
        (f"arn:aws:iam::{iam.ACCOUNT}:role/a,arn:aws-cn:iam::{iam.OTHER_ACCOUNT}:user/b", True),
        ("*", False),
        (f"arn:aws:iam::{iam.ACCOUNT}:role/a, arn:aws:iam::{iam.ACCOUNT}:role/b", False),
        (f"arn:aws:iam::{iam.ACCOUNT}:saml-provider/okta", False),
        ("arn:aws:iam::123:root", False),
        (f"arn:aws:iam::{iam.ACCOUNT}:role/a,", False),
    ],
)
def test_the_principals_parameter_takes_iam_arns_only(value: str, accepted: bool) -> None:
    pattern = _stack().template["Parameters"]["AnalystPrincipalArns"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


def test_the_policy_is_the_roles_and_managed() -> None:
    policy = _stack().resources["AnalystPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert policy["Properties"]["Roles"] == [{"Ref": "AnalystRole"}]
    assert "Policies" not in _stack().resources["AnalystRole"]["Properties"]


# ------------------------------------------------------------------------------ catalog encryption


def test_the_catalog_encryption_is_left_to_the_account_by_default(manifest: Manifest) -> None:
    catalog = iam.resolvers()["shared/glue-catalog"]
    assert catalog.template["Parameters"]["ManageDataCatalogEncryption"]["Default"] == "false"
    stack = iam.stack("shared/glue-catalog")
    for environment in ("staging", "prod"):
        assert check_parameters(stack, environment).values["ManageDataCatalogEncryption"] == "false"
    assert not catalog.exists("DataCatalogEncryption")
