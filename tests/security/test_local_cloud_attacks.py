"""Attacks on the local cloud from a web page in the developer's browser and from a hostile template.

A page can make the browser send requests to 127.0.0.1: simple requests without a preflight (form POSTs,
``no-cors`` fetches), preflighted ones (which moto's global CORS used to allow for any origin), and, after
DNS rebinding, same-origin requests under the attacker's host name. Each attack here is sent with exactly
the headers a browser would send (``Origin``, a foreign ``Host``, ``Sec-Fetch-Site``), at the emulator
(signed boto3 calls, a multipart form POST to S3, ``/moto-api/reset``), at an HTTP API of the front, and at
the simulators. Each asserts the refusal (403 before anything is processed), that no state changed, and
that legitimate traffic sent alongside (a boto3 call, an invocation, a webhook, a simulator call) works.

A hostile template declares variables that would make the worker's interpreter, loader or shell run
something (``PYTHONWARNINGS`` importing ``antigravity`` + ``BROWSER`` running a command is a working
exploit against a plain ``python``), or point the function's calls elsewhere; none may reach the worker.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from platformctl.deploy import Deployer
from platformctl.manifest import REPO_ROOT, load_manifest

pytestmark = pytest.mark.integration

PROBE_MANIFEST = REPO_ROOT / "tests" / "integration" / "probe" / "ingestion_jobs.json"


@pytest.fixture(scope="module")
def probe(local_cloud: Any) -> dict[str, str]:
    manifest = load_manifest(PROBE_MANIFEST)
    local_cloud._runtime.add_manifest(manifest)
    outputs: dict[str, str] = (
        Deployer(local_cloud.target, manifest, image_tag="local", out=io.StringIO()).deploy(manifest.stacks)[0].outputs
    )
    return outputs


def _raw(
    url_port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (``Host`` included when given: http.client adds none then)."""
    connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _no_cors(headers: dict[str, str]) -> None:
    assert not [name for name in headers if name.startswith("access-control-")], headers


def _browser_headers(kind: str, port: int) -> dict[str, str]:
    """What a browser adds to a request a hostile page makes, per attack."""
    return {
        "foreign-origin": {"Origin": "https://evil.example"},
        "null-origin": {"Origin": "null"},  # sandboxed iframe, file:// page, cross-origin redirect
        "other-loopback-port": {"Origin": "http://127.0.0.1:1"},  # any other local web server's page
        "lookalike-origin": {"Origin": f"http://127.0.0.1.evil.example:{port}"},
        "rebinding-host": {"Host": f"evil.example:{port}"},  # DNS rebinding: a same-origin request
        "rebinding-lookalike-host": {"Host": f"localhost.evil.example:{port}"},
        "rebinding-ip-host": {"Host": f"127.0.0.1.nip.io:{port}"},
        "cross-site-fetch": {"Sec-Fetch-Site": "cross-site"},
        "same-site-fetch": {"Sec-Fetch-Site": "same-site"},
    }[kind]


BROWSER_ATTACKS = [
    "foreign-origin",
    "null-origin",
    "other-loopback-port",
    "lookalike-origin",
    "rebinding-host",
    "rebinding-lookalike-host",
    "rebinding-ip-host",
    "cross-site-fetch",
    "same-site-fetch",
]


def _hostile_client(cloud: Any, service: str, headers: dict[str, str]) -> Any:
    """A boto3 client whose requests carry a browser's headers (a page can sign: moto takes any key)."""
    client = cloud.target.client(service)

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            if name in request.headers:
                del request.headers[name]
            request.headers[name] = value

    def record(response_dict: Any, **_: Any) -> None:
        client.statuses.append(response_dict["status_code"])

    client.statuses = []
    client.meta.events.register("before-send", add)
    client.meta.events.register("before-parse", record)
    return client


def _assert_refused(client: Any, call: Any) -> None:
    """The call failed with the guard's 403 (its plain body is no AWS error document, so boto3 may fail
    to parse it: either way the status seen on the wire is 403)."""
    with pytest.raises((ClientError, ResponseParserError)):
        call()
    assert client.statuses, "no answer was seen"
    assert set(client.statuses) == {403}, client.statuses


# ------------------------------------------------------------------------------------------- emulator


@pytest.mark.parametrize("attack", BROWSER_ATTACKS)
def test_a_signed_call_from_a_web_page_is_refused(local_cloud: Any, attack: str) -> None:
    sqs = local_cloud.target.client("sqs")
    before = sorted(sqs.list_queues().get("QueueUrls", []))
    name = f"web-page-{attack}-{uuid.uuid4().hex[:6]}"
    hostile = _hostile_client(local_cloud, "sqs", _browser_headers(attack, local_cloud.port))
    _assert_refused(hostile, lambda: hostile.create_queue(QueueName=name))
    assert sorted(sqs.list_queues().get("QueueUrls", [])) == before
    # The same call from the test itself (boto3: no Origin, loopback Host) still works.
    legit = sqs.create_queue(QueueName=f"legit-{name}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=legit)


def test_a_stack_created_from_a_web_page_is_refused(local_cloud: Any) -> None:
    cfn = local_cloud.target.client("cloudformation")
    hostile = _hostile_client(local_cloud, "cloudformation", {"Origin": "https://evil.example"})
    template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    _assert_refused(hostile, lambda: hostile.create_stack(StackName="from-a-web-page", TemplateBody=template))
    names = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"]}
    assert "from-a-web-page" not in names
    assert cfn.describe_stacks()["Stacks"]  # the platform's stacks still answer


def test_a_cors_preflight_from_a_web_page_is_refused(local_cloud: Any) -> None:
    status, headers, body = _raw(
        local_cloud.port,
        "OPTIONS",
        "/",
        {
            "Host": f"127.0.0.1:{local_cloud.port}",
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-target,content-type",
        },
    )
    assert status == 403, body
    _no_cors(headers)
    assert local_cloud.target.client("sts").get_caller_identity()["Account"]


def test_moto_api_reset_from_a_web_page_is_refused(local_cloud: Any) -> None:
    """A form POST (no preflight) to /moto-api/reset would wipe the whole emulator."""
    s3 = local_cloud.target.client("s3")
    before = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert before
    status, headers, _ = _raw(
        local_cloud.port,
        "POST",
        "/moto-api/reset",
        {
            "Host": f"127.0.0.1:{local_cloud.port}",
            "Origin": "https://evil.example",
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert status == 403
    _no_cors(headers)
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == before


def test_an_s3_form_upload_from_a_web_page_is_refused(local_cloud: Any) -> None:
    """S3's browser-based POST upload is a simple request: moto would store the object unsigned."""
    s3 = local_cloud.target.client("s3")
    bucket = f"csrf-target-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    boundary = "----page"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nplanted.txt\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
        f"Content-Type: text/plain\r\n\r\nplanted by a web page\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Host": f"127.0.0.1:{local_cloud.port}"}
    status, _, _ = _raw(local_cloud.port, "POST", f"/{bucket}", {**headers, "Origin": "https://evil.example"}, form)
    assert status == 403
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    # The very same form without a browser's Origin is accepted: the refusal is the guard's, not moto's.
    status, _, _ = _raw(local_cloud.port, "POST", f"/{bucket}", headers, form)
    assert status in (200, 201, 204)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["planted.txt"]


def test_a_request_without_host_is_refused(local_cloud: Any) -> None:
    with socket.create_connection(("127.0.0.1", local_cloud.port), timeout=10) as conn:
        conn.sendall(b"POST /moto-api/reset HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"403"
    assert local_cloud.target.client("s3").list_buckets()["Buckets"]


def test_legitimate_answers_carry_no_cors_headers(local_cloud: Any) -> None:
    """moto's global CORS is gone: not even the emulator's own origin gets Access-Control-* headers."""
    own = {"Origin": f"http://127.0.0.1:{local_cloud.port}"}
    for method, extra in (("GET", {}), ("GET", own), ("OPTIONS", {**own, "Access-Control-Request-Method": "PUT"})):
        status, headers, _ = _raw(local_cloud.port, method, "/", {"Host": f"localhost:{local_cloud.port}", **extra})
        assert status == 200  # S3 ListBuckets (an unsigned request goes to S3) and its preflight
        _no_cors(headers)


# ------------------------------------------------------------------------------------------- HTTP API front


def _settled_lines(path: Path) -> int:
    """The access log's line count once it stopped growing (a request is logged just after its answer)."""
    count = -1
    while True:
        now = path.read_text().count("\n") if path.exists() else 0
        if now == count:
            return count
        count = now
        time.sleep(0.2)


@pytest.mark.parametrize("attack", ["foreign-origin", "null-origin", "rebinding-host", "cross-site-fetch"])
def test_a_webhook_post_from_a_web_page_is_refused(local_cloud: Any, probe: dict[str, str], attack: str) -> None:
    endpoint = probe["ApiEndpoint"]
    port = _port(endpoint)
    api_id = next(a for a, s in local_cloud._front.servers.items() if s.url == endpoint)
    access_log = local_cloud.state_dir / "logs" / f"http-api-{api_id}.log"
    lines = _settled_lines(access_log)
    base = {"Host": f"127.0.0.1:{port}", "Content-Type": "text/plain"}
    status, headers, _ = _raw(port, "POST", "/probe/exact", {**base, **_browser_headers(attack, port)}, b"{}")
    assert status == 403
    _no_cors(headers)
    assert _settled_lines(access_log) == lines  # never routed, never logged as a request of the API
    status, headers, body = _raw(port, "POST", "/probe/exact", base, b"{}")
    assert status == 201, body
    assert json.loads(body)["routeKey"] == "POST /probe/exact"


# ------------------------------------------------------------------------------------------- simulators


@pytest.mark.parametrize("simulator", ["shopify", "triplewhale"])
@pytest.mark.parametrize("attack", ["foreign-origin", "rebinding-host"])
def test_a_simulator_control_from_a_web_page_is_refused(local_cloud: Any, simulator: str, attack: str) -> None:
    port = _port(local_cloud.simulator_urls()[simulator])
    base = {"Host": f"127.0.0.1:{port}"}
    status, _, before = _raw(port, "GET", "/_simulator/state", base)
    assert status == 200
    body = json.dumps({"throttle": 99}).encode()
    status, headers, _ = _raw(
        port,
        "POST",
        "/_simulator/control",
        {**base, "Content-Type": "text/plain", **_browser_headers(attack, port)},
        body,
    )
    assert status == 403
    _no_cors(headers)
    status, _, after = _raw(port, "GET", "/_simulator/state", base)
    assert status == 200
    assert json.loads(after) == json.loads(before)


# ------------------------------------------------------------------------------------------- hostile template

HOSTILE_VARIABLES = {
    "PYTHONWARNINGS": "ignore::antigravity.Exploit",  # imports antigravity, which opens $BROWSER
    "BROWSER": "sh -c 'touch {marker}' #%s",
    "PYTHONSTARTUP": "{marker}",
    "PYTHONPATH": "/tmp/evil-python-path",
    "PYTHONHOME": "/tmp/evil-python-home",
    "LD_PRELOAD": "/tmp/evil-preload.so",
    "PATH": "/tmp/evil-bin",
    "HOME": "/tmp/evil-home",
    "BASH_ENV": "{marker}",
    "AWS_ENDPOINT_URL": "http://evil.example",
    "AWS_ACCESS_KEY_ID": "AKIAEVILEVILEVILEVIL",
    "AWS_CONFIG_FILE": "/tmp/evil-aws-config",
    "PLATFORM_LOCAL_FUNCTION_ARN": "arn:aws:lambda:us-east-1:000000000000:function:evil",
    "http_proxy": "http://evil.example:3128",
}


@pytest.fixture(scope="module")
def hostile(local_cloud: Any, probe: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A stack whose function declares every hostile variable, invoked once; the runtime's log captured."""
    marker = tmp_path_factory.mktemp("hostile") / "pwned"
    variables = {name: value.format(marker=marker) for name, value in HOSTILE_VARIABLES.items()}
    variables["HARMLESS_SETTING"] = "kept"
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "acme-hostile-environment",
                    "PackageType": "Image",
                    "Code": {"ImageUri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/acme/probe:local"},
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Timeout": 10,
                    "Environment": {"Variables": {**variables, "RESULTS_QUEUE_URL": probe["ResultsUrl"]}},
                },
            },
        }
    }
    records: list[logging.LogRecord] = []

    class _Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    capture = _Capture(level=logging.WARNING)
    runtime_logger = logging.getLogger("platformctl.localcloud.lambda_runtime")
    runtime_logger.addHandler(capture)
    cfn = local_cloud.target.client("cloudformation")
    try:
        cfn.create_stack(
            StackName="acme-hostile-template", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
        )
        response = local_cloud.target.client("lambda").invoke(
            FunctionName="acme-hostile-environment", Payload=json.dumps({"action": "environ"}).encode()
        )
        assert "FunctionError" not in response, response["Payload"].read()
        seen = json.loads(response["Payload"].read())
        yield {"seen": seen, "marker": marker, "variables": variables, "records": records}
    finally:
        runtime_logger.removeHandler(capture)
        cfn.delete_stack(StackName="acme-hostile-template")


@pytest.mark.parametrize("name", sorted(HOSTILE_VARIABLES))
def test_a_hostile_template_variable_never_reaches_the_worker(
    local_cloud: Any, probe: dict[str, str], hostile: dict[str, Any], name: str
) -> None:
    environ: dict[str, str] = hostile["seen"]["environ"]
    assert environ.get(name) != hostile["variables"][name]
    assert not hostile["marker"].exists()  # nothing ran: no BROWSER command, no startup file
    dropped = [r.getMessage() for r in hostile["records"] if "acme-hostile-environment" in r.getMessage()]
    assert [m for m in dropped if f"{name!r} dropped" in m], dropped  # one line per name ...
    assert not [m for m in dropped if hostile["variables"][name] in m]  # ... and never its value
    # The platform's own variables did arrive, the harmless one too, and the interpreter ignores PYTHON*.
    assert environ["AWS_ENDPOINT_URL"] == local_cloud.endpoint_url
    assert environ["PLATFORM_LOCAL_FUNCTION_ARN"].endswith(":function:acme-hostile-environment")
    assert environ["AWS_ACCESS_KEY_ID"] != HOSTILE_VARIABLES["AWS_ACCESS_KEY_ID"]
    assert environ["HARMLESS_SETTING"] == "kept"
    assert hostile["seen"]["isolated"] == 1
    # A normal invocation of the platform's probe alongside still works.
    normal = local_cloud.target.client("lambda").invoke(
        FunctionName=probe["ProbeFunctionName"], Payload=json.dumps({"action": "ok", "value": 4}).encode()
    )
    assert json.loads(normal["Payload"].read())["doubled"] == 8


def test_the_hostile_variables_are_a_working_exploit_without_the_guard(tmp_path: Path) -> None:
    """Control: the same PYTHONWARNINGS + BROWSER pair runs a command in a plain ``python`` (what the
    worker was before), so the test above proves a refusal, not an attack that never worked."""
    marker = tmp_path / "pwned"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONWARNINGS": HOSTILE_VARIABLES["PYTHONWARNINGS"],
        "BROWSER": HOSTILE_VARIABLES["BROWSER"].format(marker=marker),
    }
    subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, timeout=60, check=False)
    assert marker.exists()
