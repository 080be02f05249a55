"""The Lambda images' task-root finisher: slimmed SDK data behaves as the stock data, code is compiled."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore
import pytest

import finish_task_root
from common.aws import SERVICES

REPO_ROOT = Path(__file__).resolve().parents[2]
STOCK_BOTOCORE = Path(botocore.__file__).parent
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1")
EXTRA_SERVICES = ("kinesis", "ec2")  # stand for the services the images drop

# The probe prints, per service and region, what decides where and how a request goes, and the request
# itself for a call the platform makes. Run once on the stock SDK data and once on the slimmed copy.
PROBE = r"""
import json, re, sys
import botocore.session

CALLS = {
    "s3": ("put_object", {"Bucket": "shop-lake", "Key": "raw/x.json", "Body": b"{}"}),
    "dynamodb": ("put_item", {"TableName": "orders", "Item": {"id": {"S": "1"}}}),
    "secretsmanager": ("get_secret_value", {"SecretId": "shop/admin"}),
    "sns": ("publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Message": "m"}),
    "cloudwatch": ("put_metric_data", {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
    "sqs": ("send_message", {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "m"}),
    "stepfunctions": (
        "start_execution",
        {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "name": "n", "input": "{}"},
    ),
}
VOLATILE = {"x-amz-date", "authorization", "amz-sdk-invocation-id", "user-agent", "x-amz-user-agent"}


class Sent(Exception):
    pass


def capture(request, **_):
    auth = request.headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else auth
    scope = re.search(r"Credential=[^/]+/[0-9]+/([^,]+)", auth)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    body = request.body.read() if hasattr(request.body, "read") else request.body  # S3: an aws-chunked stream
    raise Sent(json.dumps({
        "url": request.url, "method": request.method, "scope": scope.group(1) if scope else None,
        "headers": {k: v for k, v in sorted(headers.items()) if k not in VOLATILE},
        "body": body.decode() if isinstance(body, bytes) else str(body),
    }))


print("botocore from", botocore.__file__, file=sys.stderr)
result = {}
for service in sys.argv[1].split(","):
    for region in sys.argv[2].split(","):
        session = botocore.session.get_session()
        session.set_credentials("AKIDEXAMPLE", "secret")
        client = session.create_client(service, region_name=region)
        client.meta.events.register("before-send", capture)
        operation, params = CALLS[service]
        try:
            getattr(client, operation)(**params)
            sent = None
        except Sent as exc:
            sent = json.loads(str(exc))
        model = client.meta.service_model
        result[f"{service} {region}"] = {
            "endpoint": client.meta.endpoint_url,
            "partition": client.meta.partition,
            "signing": [client._request_signer.signing_name, client._request_signer.region_name],
            "operations": sorted(model.operation_names),
            "sent": sent,
        }
print(json.dumps(result, sort_keys=True))
"""


def _probe(sdk_path: Path | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if sdk_path is not None:
        env["PYTHONPATH"] = str(sdk_path)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(sorted(SERVICES)), ",".join(REGIONS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    expected = STOCK_BOTOCORE if sdk_path is None else sdk_path / "botocore"
    assert f"botocore from {expected}" in result.stderr, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _copy_botocore(target: Path, services: set[str]) -> None:
    """The installed botocore, as pip leaves it in an image; only ``services`` of its data, for speed."""

    def skip(folder: str, names: list[str]) -> list[str]:
        if Path(folder) != STOCK_BOTOCORE / "data":
            return []
        return [name for name in names if (Path(folder) / name).is_dir() and name not in services]

    shutil.copytree(STOCK_BOTOCORE, target, ignore=skip)


@pytest.fixture(scope="module")
def slimmed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, finish_task_root.Slimmed]:
    """A copy of the installed botocore, as an image has it after pip, then slimmed as the image is."""
    sdk = tmp_path_factory.mktemp("sdk")
    _copy_botocore(sdk / "botocore", {*SERVICES, *EXTRA_SERVICES})
    return sdk, finish_task_root.slim_sdk_data(sdk / "botocore" / "data", SERVICES)


def test_the_dockerfile_command_finishes_a_task_root(tmp_path: Path) -> None:
    """``python finish_task_root.py /var/task``, as the Dockerfiles run it on a task root pip filled."""
    _copy_botocore(tmp_path / "botocore", {*SERVICES, "kinesis"})
    no_bytecode = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "lambdas" / "common", tmp_path / "common", ignore=no_bytecode)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "finish_task_root.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "kept cloudwatch, dynamodb, s3, secretsmanager, sns, sqs, stepfunctions; code byte-compiled" in result.stdout
    assert not (tmp_path / "botocore" / "data" / "kinesis").exists()
    assert Path(importlib.util.cache_from_source(str(tmp_path / "app.py"))).is_file()


def test_slimmed_sdk_data_resolves_and_sends_as_the_stock_data(slimmed: tuple[Path, Any]) -> None:
    sdk, _ = slimmed
    stock, slim = _probe(None), _probe(sdk)
    assert len(stock) == len(SERVICES) * len(REGIONS)
    assert all(entry["sent"] for entry in stock.values()), "a sample call sent no request"
    for case, expected in stock.items():
        assert slim[case] == expected, case


def test_slimmed_sdk_data_keeps_only_the_services_and_no_documentation(slimmed: tuple[Path, Any]) -> None:
    sdk, report = slimmed
    data = sdk / "botocore" / "data"
    assert {path.name for path in data.iterdir() if path.is_dir()} == set(SERVICES)
    assert report.services == tuple(sorted(SERVICES))
    for model in data.glob("*/*/service-2.json*"):
        assert model.suffix == ".json", f"{model} is still compressed"
        text = re.sub(r'"clientContextParams":\{.*?\}\}', "", model.read_text(encoding="utf-8"))
        assert '"documentation"' not in text, model
    assert not list(data.glob("*/*/examples-1.json"))
    endpoints = json.loads((data / "endpoints.json").read_text(encoding="utf-8"))
    kept = {name for partition in endpoints["partitions"] for name in partition["services"]}
    assert kept == {"s3", "dynamodb", "secretsmanager", "sns", "sqs", "states", "monitoring"}  # endpoint prefixes
    assert report.bytes_after < report.bytes_before


def test_documentation_is_stripped_but_a_member_named_documentation_is_kept() -> None:
    context = {"Accelerate": {"type": "boolean", "documentation": "botocore reads this one"}}
    model = {
        "documentation": "the service",
        "clientContextParams": context,
        "operations": {"documentation": {"name": "documentation", "documentation": "an operation so named"}},
        "shapes": {
            "Thing": {
                "type": "structure",
                "documentation": "a thing",
                "members": {"documentation": {"shape": "String", "documentation": "a member so named"}},
            }
        },
    }
    assert finish_task_root._without_docs(model) == {
        "clientContextParams": context,
        "operations": {"documentation": {"name": "documentation"}},
        "shapes": {"Thing": {"type": "structure", "members": {"documentation": {"shape": "String"}}}},
    }


def test_a_service_without_sdk_data_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text('{"partitions": []}', encoding="utf-8")
    (tmp_path / "s3").mkdir()
    with pytest.raises(SystemExit, match=r"no data for \['sns'\]"):
        finish_task_root.slim_sdk_data(tmp_path, {"s3", "sns"})


def test_the_code_is_byte_compiled_without_source_checks(tmp_path: Path) -> None:
    no_bytecode = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "lambdas" / "common", tmp_path / "common", ignore=no_bytecode)
    function = tmp_path / "shopify" / "order_processor"
    shutil.copytree(REPO_ROOT / "lambdas" / "shopify" / "order_processor", function, ignore=no_bytecode)
    (tmp_path / "shopify" / "__init__.py").write_text("", encoding="utf-8")
    installed = tmp_path / "installed"  # a distribution pip put there: pip compiled it already
    installed.mkdir()
    (installed / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "installed-1.0.dist-info").mkdir()
    (tmp_path / "installed-1.0.dist-info" / "RECORD").write_text("installed/__init__.py,,\n", encoding="utf-8")
    finish_task_root.compile_code(tmp_path)
    assert not Path(importlib.util.cache_from_source(str(installed / "__init__.py"))).exists()
    for source in [function / "app.py", tmp_path / "shopify" / "__init__.py", *(tmp_path / "common").rglob("*.py")]:
        cached = Path(importlib.util.cache_from_source(str(source)))
        assert cached.is_file(), source
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{cached} is not an unchecked-hash pyc (flags {flags:#b})"


def test_code_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "app.py").write_text("def handler(:\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="byte-compiling"):
        finish_task_root.compile_code(tmp_path)


def test_a_client_of_a_service_the_images_lack_is_refused() -> None:
    from common import aws

    with pytest.raises(ValueError, match=r"add it to common\.aws\.SERVICES"):
        aws.client("kinesis")


def test_functions_make_clients_only_through_common_aws() -> None:
    direct = re.compile(r"boto3\.(client|resource|session)|botocore\.session|\bSession\(")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in (REPO_ROOT / "lambdas").rglob("*.py")
        if path != REPO_ROOT / "lambdas" / "common" / "aws.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line)
    ]
    assert not offenders, f"make clients with common.aws (its SERVICES decide the images' SDK data): {offenders}"
