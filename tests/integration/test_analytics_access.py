"""Analysts' access on the local cloud: the workgroup is deployed with its enforced configuration, and a session of
the analyst role - held to its policies by the local IAM enforcement - reads the processed zone and nothing of
raw/ or quarantine/, writes nothing to the lake and reads no hot store."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

STACK = "analytics/athena-access"
# "_" first: Spark and Athena skip such files, so the probe never reaches a Glue run of the same session.
PROCESSED = "processed/shopify/orders_enriched/dt=2026-12-05/_analytics-probe.parquet"
PERSONAL = (
    "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/analytics-probe.json",
    "quarantine/shopify/dt=2026-12-05/foreign-source/analytics-probe.json",
)


@pytest.fixture(scope="module")
def outputs(local_cloud: Any) -> dict[str, str]:
    found = local_cloud.stack_outputs()
    if STACK not in found:
        pytest.skip(f"{STACK} is not deployed (PLATFORM_LOCAL_STACKS)")
    return dict(found[STACK])


@pytest.fixture(scope="module")
def analyst(local_cloud: Any, outputs: dict[str, str]) -> dict[str, Any]:
    credentials = local_cloud.target.client("sts").assume_role(
        RoleArn=outputs["AnalystRoleArn"], RoleSessionName="analyst-probe"
    )["Credentials"]

    def client(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=local_cloud.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return {"s3": client("s3"), "dynamodb": client("dynamodb")}


def _denied(call: Any, **arguments: Any) -> str:
    with pytest.raises(ClientError) as denied:
        call(**arguments)
    return str(denied.value.response["Error"]["Code"])


def test_the_workgroup_enforces_its_configuration(local_cloud: Any, outputs: dict[str, str]) -> None:
    workgroup = local_cloud.target.client("athena").get_work_group(WorkGroup=outputs["AnalyticsWorkGroupName"])
    configuration = workgroup["WorkGroup"]["Configuration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["RequesterPaysEnabled"] is False
    assert configuration["BytesScannedCutoffPerQuery"] == 10_000_000_000
    assert configuration["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    results = configuration["ResultConfiguration"]
    assert results["OutputLocation"] == f"s3://{outputs['QueryResultsBucketName']}/results/"
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": outputs["QueryResultsKmsKeyArn"],
    }


def test_the_analyst_reads_the_processed_zone_and_nothing_personal(local_cloud: Any, analyst: dict[str, Any]) -> None:
    bucket = local_cloud.endpoints()["bucket"]
    admin = local_cloud.target.client("s3")
    for key in (PROCESSED, *PERSONAL):
        admin.put_object(Bucket=bucket, Key=key, Body=b"probe")
    try:
        s3 = analyst["s3"]
        assert s3.get_object(Bucket=bucket, Key=PROCESSED)["Body"].read() == b"probe"
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="processed/shopify/orders_enriched/")
        assert PROCESSED in {o["Key"] for o in listed.get("Contents", [])}
        for key in PERSONAL:
            assert _denied(s3.get_object, Bucket=bucket, Key=key) == "AccessDenied", key
        for prefix in ("raw/", "quarantine/"):
            assert _denied(s3.list_objects_v2, Bucket=bucket, Prefix=prefix) == "AccessDenied", prefix
        assert _denied(s3.put_object, Bucket=bucket, Key=PROCESSED, Body=b"x") == "AccessDenied"
    finally:  # every version: later tests of this process share the lake
        for key in (PROCESSED, *PERSONAL):
            for version in admin.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []):
                if version["Key"] == key:
                    admin.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])


def test_the_analyst_reads_no_hot_store(local_cloud: Any, analyst: dict[str, Any]) -> None:
    table = local_cloud.endpoints()["tables"]["orders"]
    code = _denied(analyst["dynamodb"].get_item, TableName=table, Key={"order_id": {"S": "1"}})
    assert code in {"AccessDeniedException", "AccessDenied"}
