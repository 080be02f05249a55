"""The Triple Whale job under moto: the lake bucket and the API key secret in moto, the local Triple Whale simulator
on 127.0.0.1, and a fixed 'now'."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT
from platformctl.simulators.triplewhale import SimulatorState, TripleWhaleSimulator
from tests.unit import lambda_loader

REGION = "us-east-1"
API_KEY = "tw-test-key-0123456789abcdef"
SHOP = "example.myshopify.com"
BUCKET = "acme-data-lake-123456789012"
# 2025-03-10 14:30 UTC: today is 2025-03-10 in UTC, and 10:30 in New York (still 2025-03-10).
NOW = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _powertools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Metrics added outside the decorated handler flush by themselves past 100 values, which needs the
    namespace the stack sets; cleared so that one test's metrics never reach another's."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "acme/TripleWhale")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "triplewhale-summary")
    observability = sys.modules.get("common.observability")
    if observability is None:
        yield
        return
    monkeypatch.setattr(observability.metrics, "namespace", "acme/TripleWhale")
    observability.metrics.clear_metrics()
    yield
    observability.metrics.clear_metrics()


@pytest.fixture
def simulator() -> Iterator[TripleWhaleSimulator]:
    state = SimulatorState()
    state.api_keys = {API_KEY}
    sim = TripleWhaleSimulator(state=state)
    yield sim
    sim.stop()


@dataclass
class Stack:
    s3: Any
    secrets: Any
    secret_arn: str = ""
    bucket: str = BUCKET
    sleeps: list[float] = field(default_factory=list)

    def environment(self, base_url: str, **overrides: str) -> dict[str, str]:
        values = {
            "DATA_LAKE_BUCKET_NAME": self.bucket,
            "TRIPLEWHALE_API_KEY_SECRET_ARN": self.secret_arn,
            "TRIPLEWHALE_API_BASE_URL": base_url,
            "SHOP_DOMAIN": SHOP,
            "SHOP_TIME_ZONE": "UTC",
            "LOOKBACK_DAYS": "3",
            "FIRST_RUN_DAYS": "4",
            "MAX_DAYS_PER_RUN": "92",
            "MAX_ATTEMPTS": "3",
        }
        return {**values, **overrides}

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = self.s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
        return found

    def watermark(self) -> dict[str, Any] | None:
        key = f"metadata/triplewhale/summary-page/{SHOP}/watermark.json"
        return json.loads(self.objects(key)[key]) if self.objects(key) else None


@pytest.fixture
def aws_stack() -> Iterator[Stack]:
    with mock_aws():
        stack = Stack(
            s3=boto3.client("s3", region_name=REGION), secrets=boto3.client("secretsmanager", region_name=REGION)
        )
        stack.s3.create_bucket(Bucket=stack.bucket)
        stack.secret_arn = stack.secrets.create_secret(
            Name="acme/test/TripleWhaleApiKey", SecretString=json.dumps({"api_key": API_KEY})
        )["ARN"]
        yield stack


@pytest.fixture(scope="session")
def app_classes() -> ModuleType:
    """app.py's classes, imported once: its module-level job (placeholder settings) is not used."""
    placeholders = {
        "DATA_LAKE_BUCKET_NAME": "unused",
        "TRIPLEWHALE_API_KEY_SECRET_ARN": "unused",
        "SHOP_DOMAIN": SHOP,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "triplewhale-summary",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/TripleWhale",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, placeholders):
        return load_app_module("triplewhale_app_classes")


JobFactory = Callable[..., Any]


@pytest.fixture
def make_job(aws_stack: Stack, app_classes: ModuleType, simulator: TripleWhaleSimulator) -> JobFactory:
    """A job wired to moto and the simulator; ``now`` fixes the clock, sleeps are recorded, not slept."""

    def make(*, now: datetime = NOW, base_url: str | None = None, session: Any = None, **overrides: str) -> Any:
        from common.config import load_settings
        from common.http_session import retrying_session
        from common.secret_cache import CachedSecret

        settings = load_settings(app_classes.Settings, aws_stack.environment(base_url or simulator.url, **overrides))
        return app_classes.SummaryJob(
            settings,
            s3=aws_stack.s3,
            secret=CachedSecret(aws_stack.secrets, settings.secret_arn),
            session=session or retrying_session(total=0),
            clock=lambda: now,
            sleep=aws_stack.sleeps.append,
        )

    return make


def load_app_module(name: str) -> ModuleType:
    """app.py imported whole, as the runtime imports it (module-level set-up included)."""
    return lambda_loader.load_app("triplewhale/summary", name=name, fresh=True)


def path_of(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)
