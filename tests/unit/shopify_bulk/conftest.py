"""Fixtures of the bulk workflow tests: the Shopify simulator on 127.0.0.1, moto's S3, the handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.simulators.shopify_admin import ShopifyAdminSimulator, SimulatorState
from tests.unit import lambda_loader

BUCKET = "acme-data-lake-test"
SECRET_NAME = "acme/test/ShopifyAdminApiSecret"
TOKEN = "shpat_test_token_0123456789"
SMALL_PART = 1024  # moto's minimum multipart part size in these tests (S3's is 5 MiB)


@pytest.fixture
def simulator() -> Iterator[ShopifyAdminSimulator]:
    sim = ShopifyAdminSimulator(state=SimulatorState({"running_polls": 1}))
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 with the lake bucket; multipart parts may be small, so tests can have many of them."""
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", SMALL_PART)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class Context:
    """The Lambda context attributes the handlers and Powertools read."""

    function_name = "acme-test-shopify-bulk"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-shopify-bulk"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_app(folder: str) -> ModuleType:
    """A bulk function's app.py imported anew under this test's environment (the simulator's URL)."""
    return lambda_loader.load_app(f"shopify/{folder}", fresh=True)


@pytest.fixture
def handlers(s3: Any, simulator: ShopifyAdminSimulator, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """The three handlers against moto (lake, secret) and the simulator (Admin API, result files)."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name=SECRET_NAME, SecretString=f'{{"access_token": "{TOKEN}"}}')["ARN"]
    simulator.state.access_tokens = {TOKEN}
    environment = {
        "POWERTOOLS_SERVICE_NAME": "shopify-bulk-test",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Shopify",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SHOP_DOMAIN": "example.myshopify.com",
        "SHOPIFY_API_VERSION": "2026-01",
        "SHOPIFY_ADMIN_BASE_URL": simulator.url,
        "SHOPIFY_ADMIN_SECRET_ARN": arn,
        "DATA_LAKE_BUCKET_NAME": BUCKET,
        "WATERMARK_OVERLAP_SECONDS": "900",
        "MAX_THROTTLE_WAIT_SECONDS": "5",
        "GZIP_LEVEL": "6",
        "PART_TARGET_MIB": "8",
        "STEP_SAFETY_SECONDS": "5",
        # The simulator serves the result files on its own http://127.0.0.1 origin, as the local stack says.
        "BULK_RESULT_HOSTS": simulator.url,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Powertools reads the namespace once, when common.observability is first imported (by whichever test
    # came first); the handlers flush metrics, so give the shared object the namespace the stack sets.
    from common.observability import metrics

    monkeypatch.setattr(metrics, "namespace", "acme/Shopify")
    metrics.clear_metrics()
    loaded: dict[str, ModuleType] = {}

    def get(folder: str) -> ModuleType:
        if folder not in loaded:
            loaded[folder] = load_app(folder)
        return loaded[folder]

    return get


def read_gzip_parts(s3: Any, keys: list[str]) -> bytes:
    import gzip

    return b"".join(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys)


def fixture_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]
