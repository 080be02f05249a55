"""Local providers of types moto's CloudFormation skips, against moto's in-process mock (no emulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.localcloud import providers
from platformctl.localcloud.providers import (
    Context,
    GlueJob,
    GlueTable,
    SchedulerSchedule,
    UnhandledPropertyError,
)

REGION = "us-east-1"
CONTEXT = Context("Resource", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "s-Resource-X", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        monkeypatch.setattr(providers, "client", lambda service, region: boto3.client(service, region_name=region))
        yield


def _job_properties(**overrides: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Name": "acme-local-orders-enriched",
        "Role": "arn:aws:iam::123456789012:role/acme-local-orders-enriched-job",
        "GlueVersion": "5.0",
        "Command": {
            "Name": "glueetl",
            "PythonVersion": "3",
            "ScriptLocation": "s3://lake/artifacts/glue-scripts/job.py",
        },
        "DefaultArguments": {"--lookback_days": 3, "--enable-metrics": True, "--job-language": "python"},
        "SecurityConfiguration": "acme-local-glue",
        "WorkerType": "G.1X",
        "NumberOfWorkers": "2",
        "Timeout": "60",
        "MaxRetries": "1",
        "ExecutionProperty": {"MaxConcurrentRuns": "1"},
        "Tags": {"Brand": "acme"},
    }
    properties.update(overrides)
    return properties


def test_a_glue_job_gets_numbers_and_argument_strings_the_way_cloudformation_passes_them(aws: None) -> None:
    name, _ = GlueJob.create(CONTEXT, _job_properties())
    job = boto3.client("glue", region_name=REGION).get_job(JobName=name)["Job"]
    assert (job["NumberOfWorkers"], job["Timeout"], job["MaxRetries"]) == (2, 60, 1)
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["DefaultArguments"] == {"--lookback_days": "3", "--enable-metrics": "true", "--job-language": "python"}
    assert job["SecurityConfiguration"] == "acme-local-glue"
    assert job["Command"]["ScriptLocation"] == "s3://lake/artifacts/glue-scripts/job.py"


def test_a_glue_job_property_the_local_cloud_does_not_handle_fails_the_deploy(aws: None) -> None:
    template = {"Type": GlueJob.TYPE, "Properties": _job_properties(Connections={"Connections": ["vpc"]})}
    with pytest.raises(UnhandledPropertyError, match="Connections"):
        GlueJob.create_from_cloudformation_json("Job", template, "123456789012", REGION)


def test_a_glue_table_keeps_its_partition_projection(aws: None) -> None:
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "acme_local_processed"})
    table_input = {
        "Name": "orders_enriched",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "projection.enabled": "true",
            "projection.dt.type": "date",
            "storage.location.template": "s3://lake/processed/shopify/orders_enriched/dt=${dt}/",
        },
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Location": "s3://lake/processed/shopify/orders_enriched/",
            "Columns": [{"Name": "order_id", "Type": "string"}, {"Name": "total_price", "Type": "decimal(20,4)"}],
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        },
    }
    physical_id, _ = GlueTable.create(CONTEXT, {"DatabaseName": "acme_local_processed", "TableInput": table_input})
    assert physical_id == "acme_local_processed|orders_enriched"
    table = glue.get_table(DatabaseName="acme_local_processed", Name="orders_enriched")["Table"]
    assert table["Parameters"]["storage.location.template"].endswith("/dt=${dt}/")
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]


def test_a_schedule_can_start_a_glue_job_through_the_universal_target(aws: None) -> None:
    properties = {
        "Name": "acme-local-orders-enriched",
        "ScheduleExpression": "cron(30 3 * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": "arn:aws:scheduler:::aws-sdk:glue:startJobRun",
            "RoleArn": "arn:aws:iam::123456789012:role/schedule",
            "Input": json.dumps({"JobName": "acme-local-orders-enriched"}),
            "RetryPolicy": {"MaximumRetryAttempts": "3", "MaximumEventAgeInSeconds": "3600"},
        },
    }
    name, attributes = SchedulerSchedule.create(CONTEXT, properties)
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(Name=name)
    assert attributes["Arn"] == schedule["Arn"]
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
    assert json.loads(schedule["Target"]["Input"]) == {"JobName": "acme-local-orders-enriched"}
    assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}


@pytest.mark.parametrize("resource_type", ["AWS::WAFv2::WebACL", "AWS::CloudFront::Distribution"])
def test_an_edge_front_enabled_locally_fails_the_deploy_naming_the_option(resource_type: str) -> None:
    provider = providers.REGISTRY[resource_type]
    with pytest.raises(providers.NotEmulatedError, match=r"EdgeFront.*keep it disabled in the local environment"):
        provider.create(CONTEXT, {})
