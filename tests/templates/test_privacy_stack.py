"""The privacy stack (infrastructure/privacy/privacy-requests.yaml), resolved for a prod deployment and asked
of the IAM policy evaluator: the indexer reads only what lands in raw/ and quarantine/ and writes only the
index; the workflow's role does exactly its steps (redact raw/ and quarantine/ with their versions, bulk
checkpoints, its own metadata, exports, the hot stores, the five Shopify DLQs) and nothing of processed/,
artifacts/ or other metadata; the state machine's definition retries and catches as docs/privacy.md says;
the indexer's rule takes S3 "Object Created" events of the lake's raw/ and quarantine/ only."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.iam.template_policies import TemplateResolver
from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template
from tests.templates import iam_fixtures as iam

STACK = "privacy/requests"
TEMPLATE = REPO_ROOT / "infrastructure" / "privacy" / "privacy-requests.yaml"
ENTITIES = ("orders", "fulfillments", "customers", "products", "carts")
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
    "Lambda.SdkClientException",
}


@cache
def _privacy() -> TemplateResolver:
    return iam.resolvers()[STACK]


def _out(stack: str, name: str) -> str:
    return iam.output(iam.resolvers()[stack], name)


def _lake() -> str:
    return f"arn:aws:s3:::{_out('shared/data-lake', 'DataLakeBucketName')}"


def _table(output: str) -> str:
    return f"arn:aws:dynamodb:{iam.REGION}:{iam.ACCOUNT}:table/{_out('shared/dynamodb-tables', output)}"


def _index_table() -> str:
    return _privacy().get_att("PrivacyIndexTable", "Arn")


def _queue(name: str) -> str:
    return f"arn:aws:sqs:{iam.REGION}:{iam.ACCOUNT}:{name}"


def _shopify_dlq(entity: str) -> str:
    return _queue(f"{iam.brand()}-shopify-{entity}-events-dlq")


def _via(service: str) -> dict[str, Any]:
    return {"kms:ViaService": f"{service}.{iam.REGION}.amazonaws.com", "aws:ResourceTag/Brand": iam.brand()}


def _as(role: str, action: str, resource: str, context: dict[str, Any] | None = None) -> Decision:
    """The role's own policies and the permissions boundary, as IAM evaluates a call of the role."""
    return evaluate(
        Request(action=action, resource=resource, context=context or {}),
        iam.role_policies(role, STACK),
        iam.boundary_document(),
    )


def _allowed(role: str, action: str, resource: str, context: dict[str, Any] | None = None) -> None:
    decision = _as(role, action, resource, context)
    assert decision.allowed, f"{role} may not {action} on {resource}: {decision.reason}"


def _denied(role: str, action: str, resource: str, context: dict[str, Any] | None = None) -> None:
    assert not _as(role, action, resource, context).allowed, f"{role} may {action} on {resource}"


WEBHOOK = "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/b54557e4.json"
PART = "raw/shopify/bulk/Order/run=gid-shopify-BulkOperation-9/part-00000.jsonl.gz"
RECHARGE = "raw/recharge/customer/topic=customer_created/dt=2026-12-05/1-2026.json"
QUARANTINED = "quarantine/shopify/dt=2026-12-05/foreign-source/x.json"
CHECKPOINT = "metadata/shopify/bulk/run=gid-shopify-BulkOperation-9/checkpoints/00001.json"
NOT_THE_WORKFLOWS = (
    "processed/shopify/orders_enriched/dt=2026-12-05/part-0.parquet",
    "artifacts/glue-scripts/orders_enriched_job.py",
    "artifacts/deployments/prod/shopify/1.json",
    "metadata/data-quality/dt=2026-12-05/run=1/results.json",
    "metadata/shopify/bulk/watermark.json",
    "metadata/shopify/bulk/run=gid-shopify-BulkOperation-9/manifest.json",
)


# ------------------------------------------------------------------------------------------ the indexer


@pytest.mark.parametrize("key", [WEBHOOK, PART, RECHARGE, QUARANTINED])
def test_the_indexer_reads_what_lands_in_raw_and_quarantine(key: str) -> None:
    _allowed("IndexerRole", "s3:GetObject", f"{_lake()}/{key}")


@pytest.mark.parametrize(
    "key",
    [
        "exports/privacy/0123456789abcdef0123456789abcdef/export.json",
        "metadata/privacy/requests/customers_redact/0123456789abcdef0123456789abcdef.json",
        "metadata/privacy/audit/0123456789abcdef0123456789abcdef.json",
        CHECKPOINT,
        *NOT_THE_WORKFLOWS,
    ],
)
def test_the_indexer_reads_nothing_else(key: str) -> None:
    _denied("IndexerRole", "s3:GetObject", f"{_lake()}/{key}")


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObjectVersion"])
@pytest.mark.parametrize("key", [WEBHOOK, PART, QUARANTINED])
def test_the_indexer_never_writes_or_deletes_the_lake(action: str, key: str) -> None:
    _denied("IndexerRole", action, f"{_lake()}/{key}")


def test_the_indexer_lists_nothing() -> None:
    for action in ("s3:ListBucket", "s3:ListBucketVersions"):
        _denied("IndexerRole", action, _lake(), {"s3:prefix": "raw/"})


def test_the_indexer_writes_index_items_only() -> None:
    for action in ("dynamodb:BatchWriteItem", "dynamodb:PutItem"):
        _allowed("IndexerRole", action, _index_table())
    for action in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:UpdateItem"):
        _denied("IndexerRole", action, _index_table())
    for table in ("OrdersTableName", "CustomersTableName", "AbandonedCartsTableName"):
        _denied("IndexerRole", "dynamodb:BatchWriteItem", _table(table))
        _denied("IndexerRole", "dynamodb:GetItem", _table(table))


def test_the_indexer_reads_the_digest_key_and_no_other_secret() -> None:
    _allowed(
        "IndexerRole", "secretsmanager:GetSecretValue", _out("shared/secrets-manager", "PrivacyDigestKeySecretArn")
    )
    for other in ("ShopifyAppClientSecretArn", "ShopifyAdminApiSecretArn", "RechargeWebhookSecretArn"):
        _denied("IndexerRole", "secretsmanager:GetSecretValue", _out("shared/secrets-manager", other))


def test_the_indexer_uses_each_key_only_through_its_service() -> None:
    lake_key = _out("shared/data-lake", "DataLakeKmsKeyArn")
    _allowed("IndexerRole", "kms:Decrypt", lake_key, _via("s3"))
    _denied("IndexerRole", "kms:Decrypt", lake_key, {"aws:ResourceTag/Brand": iam.brand()})
    _denied("IndexerRole", "kms:GenerateDataKey", lake_key, _via("s3"))  # it writes nothing to the lake
    tables_key = _out("shared/dynamodb-tables", "TablesKmsKeyArn")
    _allowed("IndexerRole", "kms:GenerateDataKey", tables_key, _via("dynamodb"))
    _denied("IndexerRole", "kms:GenerateDataKey", tables_key, _via("s3"))
    secrets_key = _out("shared/secrets-manager", "SecretsKmsKeyArn")
    _allowed("IndexerRole", "kms:Decrypt", secrets_key, _via("secretsmanager"))
    _denied("IndexerRole", "kms:Decrypt", secrets_key, _via("s3"))


def test_the_indexer_dead_letters_to_its_own_queue_only() -> None:
    own = _privacy().get_att("IndexerDlq", "Arn")
    assert own == _queue(f"{iam.brand()}-prod-privacy-indexer-dlq")
    _allowed("IndexerRole", "sqs:SendMessage", own)
    _denied("IndexerRole", "sqs:ReceiveMessage", own)
    _denied("IndexerRole", "sqs:SendMessage", _shopify_dlq("orders"))


# ------------------------------------------------------------------------------------ the workflow role


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObjectVersion"])
@pytest.mark.parametrize("key", [WEBHOOK, PART, RECHARGE, QUARANTINED])
def test_the_workflow_redacts_raw_and_quarantine_with_every_version(action: str, key: str) -> None:
    _allowed("RequestsRole", action, f"{_lake()}/{key}")


@pytest.mark.parametrize("key", [WEBHOOK, PART, QUARANTINED])
def test_the_workflow_never_deletes_a_current_object(key: str) -> None:
    """A location is redacted in place (a new version); a plain DeleteObject would leave a delete marker and
    take the order's money fields with it."""
    _denied("RequestsRole", "s3:DeleteObject", f"{_lake()}/{key}")


@pytest.mark.parametrize(
    "action",
    ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
)
@pytest.mark.parametrize("key", NOT_THE_WORKFLOWS)
def test_the_workflow_cannot_touch_processed_artifacts_or_other_metadata(action: str, key: str) -> None:
    _denied("RequestsRole", action, f"{_lake()}/{key}")


def test_the_workflow_deletes_bulk_checkpoints_but_writes_none() -> None:
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        _allowed("RequestsRole", action, f"{_lake()}/{CHECKPOINT}")
    _denied("RequestsRole", "s3:PutObject", f"{_lake()}/{CHECKPOINT}")


def test_the_workflow_aborts_a_dead_bulk_runs_uploads_only() -> None:
    _allowed("RequestsRole", "s3:AbortMultipartUpload", f"{_lake()}/{PART}")
    for key in (WEBHOOK, QUARANTINED, CHECKPOINT):
        _denied("RequestsRole", "s3:AbortMultipartUpload", f"{_lake()}/{key}")


def test_the_workflow_reads_request_records_and_writes_its_work_audit_and_exports() -> None:
    request_id = "0123456789abcdef0123456789abcdef"
    record = f"{_lake()}/metadata/privacy/requests/customers_redact/{request_id}.json"
    _allowed("RequestsRole", "s3:GetObject", record)
    _denied("RequestsRole", "s3:PutObject", record)  # the webhook and the CLI record requests
    for key in (
        f"metadata/privacy/work/{request_id}/plan.json",
        f"metadata/privacy/work/{request_id}/progress.json",
        f"metadata/privacy/audit/{request_id}.json",
    ):
        _allowed("RequestsRole", "s3:GetObject", f"{_lake()}/{key}")
        _allowed("RequestsRole", "s3:PutObject", f"{_lake()}/{key}")
        _denied("RequestsRole", "s3:DeleteObjectVersion", f"{_lake()}/{key}")
    export = f"{_lake()}/exports/privacy/{request_id}/export.json"
    lake_key = _out("shared/data-lake", "DataLakeKmsKeyArn")
    sse = {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": lake_key,
    }
    _allowed("RequestsRole", "s3:PutObject", export, sse)
    _allowed("RequestsRole", "kms:GenerateDataKey", lake_key, _via("s3"))
    _denied("RequestsRole", "s3:DeleteObjectVersion", export)


@pytest.mark.parametrize("prefix", [WEBHOOK, "raw/", "quarantine/", CHECKPOINT, "metadata/privacy/audit/x.json"])
def test_the_workflow_lists_its_prefixes(prefix: str) -> None:
    for action in ("s3:ListBucket", "s3:ListBucketVersions"):
        _allowed("RequestsRole", action, _lake(), {"s3:prefix": prefix})


@pytest.mark.parametrize("prefix", ["", "processed/", "artifacts/", "metadata/", "metadata/data-quality/"])
def test_the_workflow_lists_nothing_else(prefix: str) -> None:
    for action in ("s3:ListBucket", "s3:ListBucketVersions"):
        _denied("RequestsRole", action, _lake(), {"s3:prefix": prefix})
    _denied("RequestsRole", "s3:ListBucket", _lake())  # no prefix at all


HOT_STORES = (
    "OrdersTableName",
    "CustomersTableName",
    "AbandonedCartsTableName",
    "SubscriptionsTableName",
    "ChargesTableName",
    "InvoicesTableName",
)


@pytest.mark.parametrize("table", HOT_STORES)
def test_the_workflow_finds_and_redacts_hot_store_items(table: str) -> None:
    for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"):
        _allowed("RequestsRole", action, _table(table))
    _allowed("RequestsRole", "dynamodb:Query", f"{_table(table)}/index/by-customer")
    for action in ("dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"):
        _denied("RequestsRole", action, _table(table))
    _denied("RequestsRole", "dynamodb:UpdateItem", f"{_table(table)}/index/by-customer")
    _allowed("RequestsRole", "kms:Decrypt", _out("shared/dynamodb-tables", "TablesKmsKeyArn"), _via("dynamodb"))


def test_the_workflow_queries_the_index_deletes_from_it_and_no_other_table() -> None:
    _allowed("RequestsRole", "dynamodb:Query", _index_table())
    _denied("RequestsRole", "dynamodb:BatchWriteItem", _index_table())
    _denied("RequestsRole", "dynamodb:PutItem", _index_table())
    _allowed("RequestsRole", "dynamodb:DeleteItem", _index_table())  # an erased person's contact digests
    _denied("RequestsRole", "dynamodb:Query", f"arn:aws:dynamodb:{iam.REGION}:{iam.ACCOUNT}:table/other-table")


@pytest.mark.parametrize("entity", ENTITIES)
def test_the_workflow_rewrites_the_shopify_dead_letter_queues(entity: str) -> None:
    for action in (
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:SendMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    ):
        _allowed("RequestsRole", action, _shopify_dlq(entity))
    for action in ("sqs:PurgeQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes"):
        _denied("RequestsRole", action, _shopify_dlq(entity))
    _allowed("RequestsRole", "kms:Decrypt", _out("shopify/eventbridge-rules", "ShopifyEventsKmsKeyArn"), _via("sqs"))


def test_the_dead_letter_queues_the_role_names_are_the_deployed_ones() -> None:
    rules = iam.resolvers()["shopify/eventbridge-rules"]
    deployed = {rules.get_att(f"{entity.capitalize()}Dlq", "Arn") for entity in ENTITIES}
    assert deployed == {_shopify_dlq(entity) for entity in ENTITIES}
    names = _privacy().properties("RequestsFunction")["Environment"]["Variables"]["DLQ_NAMES"].split(",")
    assert {_queue(name) for name in names} == deployed


def test_the_workflow_touches_no_other_queue() -> None:
    for queue in (
        _privacy().get_att("IndexerDlq", "Arn"),
        _queue(f"{iam.brand()}-prod-data-quality-dlq"),
        _queue("someone-elses-queue"),
    ):
        _denied("RequestsRole", "sqs:ReceiveMessage", queue)
        _denied("RequestsRole", "sqs:SendMessage", queue)


def test_the_workflow_notifies_the_alerts_topic_only() -> None:
    topic = _out("monitoring/monitoring", "AlertsTopicArn")
    _allowed("RequestsRole", "sns:Publish", topic)
    _allowed("RequestsRole", "kms:GenerateDataKey", _out("monitoring/monitoring", "AlertsKmsKeyArn"), _via("sns"))
    _denied("RequestsRole", "sns:Publish", f"arn:aws:sns:{iam.REGION}:{iam.ACCOUNT}:{iam.brand()}-other-topic")
    _denied("RequestsRole", "sns:Subscribe", topic)


def test_the_workflow_reads_the_digest_key_only() -> None:
    _allowed(
        "RequestsRole", "secretsmanager:GetSecretValue", _out("shared/secrets-manager", "PrivacyDigestKeySecretArn")
    )
    _denied("RequestsRole", "secretsmanager:GetSecretValue", _out("shared/secrets-manager", "ShopifyAdminApiSecretArn"))


def test_the_workflow_cannot_start_executions_or_invoke_functions() -> None:
    machine = _privacy().ref("StateMachine")
    _denied("RequestsRole", "states:StartExecution", machine)
    _denied("RequestsRole", "lambda:InvokeFunction", _privacy().get_att("IndexerFunction", "Arn"))


# ------------------------------------------------------------------------------- the state machine role


def test_the_state_machine_invokes_its_function_only() -> None:
    _allowed("StateMachineRole", "lambda:InvokeFunction", _privacy().get_att("RequestsFunction", "Arn"))
    _denied("StateMachineRole", "lambda:InvokeFunction", _privacy().get_att("IndexerFunction", "Arn"))
    _denied("StateMachineRole", "s3:GetObject", f"{_lake()}/{WEBHOOK}")


@pytest.mark.parametrize(
    ("role", "service"),
    [
        ("IndexerRole", "lambda.amazonaws.com"),
        ("RequestsRole", "lambda.amazonaws.com"),
        ("StateMachineRole", "states.amazonaws.com"),
    ],
)
def test_each_role_is_assumed_by_its_service_in_this_account_only(role: str, service: str) -> None:
    trust = iam.trust_policy(role, STACK)
    arn = iam.role_arn(role, STACK)
    here = {"aws:SourceAccount": iam.ACCOUNT}
    assert evaluate(Request("sts:AssumeRole", arn, here, service), [], resource_policy=trust).allowed
    other = {"aws:SourceAccount": iam.OTHER_ACCOUNT}
    assert not evaluate(Request("sts:AssumeRole", arn, other, service), [], resource_policy=trust).allowed


# -------------------------------------------------------------------------------- the state machine


@cache
def _definition() -> dict[str, Any]:
    return dict(json.loads(_privacy().properties("StateMachine")["DefinitionString"]))


def test_the_state_machine_is_the_named_standard_workflow() -> None:
    props = _privacy().properties("StateMachine")
    assert props["StateMachineName"] == f"{iam.brand()}-privacy-requests"
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert _privacy().template["Outputs"]["PrivacyStateMachineArn"]["Value"] == {"Ref": "StateMachine"}


def test_every_task_calls_the_function_with_its_step_retries_and_catches() -> None:
    states = _definition()["States"]
    function = _privacy().get_att("RequestsFunction", "Arn")
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {"Plan", "Erase", "Export", "Finish"}
    for name, task in tasks.items():
        assert task["Resource"] == function
        assert task["Parameters"]["step"] == name.lower()
        retried = [error for retrier in task["Retry"] for error in retrier["ErrorEquals"]]
        assert set(retried) >= LAMBDA_ERRORS, name
        assert "PrivacyStepBusy" in retried, name
        assert "States.ALL" not in retried, name
        busy = next(r for r in task["Retry"] if "PrivacyStepBusy" in r["ErrorEquals"])
        assert busy["MaxAttempts"] == 10
        assert busy["BackoffRate"] == 2.0
        assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    assert states["Failed"]["Type"] == "Fail"


def test_the_flow_is_plan_then_erase_loop_or_export_then_finish() -> None:
    definition = _definition()
    states = definition["States"]

    def after(name: str) -> set[str]:
        state = states[name]
        found = {choice["Next"] for choice in state.get("Choices", [])}
        found |= {state[k] for k in ("Next", "Default") if k in state}
        return found

    assert definition["StartAt"] == "Plan"
    assert after("Plan") == {"AlreadyDone"}
    assert states["AlreadyDone"]["Choices"] == [
        {"Variable": "$.plan.status", "StringEquals": "already_done", "Next": "Done"}
    ]
    assert after("Kind") == {"Erase", "Export", "UnknownKind"}
    assert after("Erase") == {"EraseRemaining"}
    assert states["EraseRemaining"]["Choices"] == [
        {"Variable": "$.erase.remaining", "NumericGreaterThan": 0, "Next": "Erase"}
    ]
    assert states["EraseRemaining"]["Default"] == "Finish"
    assert after("Export") == {"Finish"}
    assert after("Finish") == {"Done"}
    assert states["Done"]["Type"] == "Succeed"
    request = states["Plan"]["Parameters"]
    assert request == {"step": "plan", "input.$": "$"}  # request_key, and full_scan when given
    for name in ("Erase", "Export", "Finish"):
        assert states[name]["Parameters"]["request_id.$"] == "$.plan.request_id"


def test_the_workflow_function_gets_the_environment_the_spec_names() -> None:
    variables = _privacy().properties("RequestsFunction")["Environment"]["Variables"]
    assert set(variables) >= {
        "DATA_LAKE_BUCKET_NAME",
        "DATA_LAKE_KMS_KEY_ARN",
        "PRIVACY_INDEX_TABLE_NAME",
        "DIGEST_KEY_SECRET_ARN",
        "ORDERS_TABLE_NAME",
        "CUSTOMERS_TABLE_NAME",
        "ABANDONED_CARTS_TABLE_NAME",
        "SUBSCRIPTIONS_TABLE_NAME",
        "CHARGES_TABLE_NAME",
        "INVOICES_TABLE_NAME",
        "DLQ_NAMES",
        "ALERTS_TOPIC_ARN",
        "PRIVACY_EXPORT_RETENTION_DAYS",
        "STALE_CHECKPOINT_HOURS",
        "POWERTOOLS_SERVICE_NAME",
    }
    assert variables["PRIVACY_INDEX_TABLE_NAME"] == f"{iam.brand()}-prod-privacy-index"
    assert variables["PRIVACY_EXPORT_RETENTION_DAYS"] == _out("shared/data-lake", "PrivacyExportRetentionDays")
    indexer = _privacy().properties("IndexerFunction")["Environment"]["Variables"]
    assert set(indexer) >= {"DATA_LAKE_BUCKET_NAME", "PRIVACY_INDEX_TABLE_NAME", "DIGEST_KEY_SECRET_ARN"}


# --------------------------------------------------------------------------- the rule and the index table


def test_the_indexer_rule_takes_object_created_events_of_raw_and_quarantine() -> None:
    rule = _privacy().properties("IndexerRule")
    assert "EventBusName" not in rule  # S3 sends to the account's default bus
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [_out("shared/data-lake", "DataLakeBucketName")]},
            "object": {"key": [{"prefix": "raw/"}, {"prefix": "quarantine/"}]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == _privacy().get_att("IndexerFunction", "Arn")
    assert target["DeadLetterConfig"] == {"Arn": _privacy().get_att("IndexerDlq", "Arn")}


def test_the_lake_sends_its_events_to_eventbridge() -> None:
    lake = load_template(REPO_ROOT / "infrastructure" / "shared" / "data-lake.yaml")
    notifications = lake["Resources"]["DataLakeBucket"]["Properties"]["NotificationConfiguration"]
    assert notifications == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_the_index_table_is_subject_then_location_with_the_tables_key() -> None:
    props = load_template(TEMPLATE)["Resources"]["PrivacyIndexTable"]["Properties"]
    assert props["TableName"] == {"Fn::Sub": "${Brand}-${Environment}-privacy-index"}
    assert props["KeySchema"] == [
        {"AttributeName": "subject", "KeyType": "HASH"},
        {"AttributeName": "location", "KeyType": "RANGE"},
    ]
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "TablesKmsKeyArn"}


def test_the_digest_key_is_generated_by_cloudformation() -> None:
    shared = load_template(REPO_ROOT / "infrastructure" / "shared" / "secrets-manager.yaml")
    secret = shared["Resources"]["PrivacyDigestKey"]
    assert secret["DeletionPolicy"] == "Retain"
    props = secret["Properties"]
    assert props["Name"] == {"Fn::Sub": "${Brand}/${Environment}/PrivacyDigestKey"}
    assert props["GenerateSecretString"]["GenerateStringKey"] == "digest_key"
    assert props["GenerateSecretString"]["PasswordLength"] == 64
    assert props["GenerateSecretString"]["ExcludePunctuation"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
    assert shared["Outputs"]["PrivacyDigestKeySecretArn"]["Value"] == {"Ref": "PrivacyDigestKey"}


def test_the_manifest_feeds_the_digest_key_to_the_compliance_webhook_and_the_privacy_stack() -> None:
    for key in ("shopify/compliance-webhook", STACK):
        ref = iam.stack(key).inputs["PrivacyDigestKeySecretArn"]
        assert str(ref) == "shared/secrets-manager.PrivacyDigestKeySecretArn"
    jobs = [stack.job for stack in iam.manifest().stacks]
    assert jobs.index("privacy") > jobs.index("data-quality")
