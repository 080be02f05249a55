"""Hostile inputs against the lake's encryption and against the clients that carry a credential.

The lake: S3 evaluates a bucket policy with condition keys taken from the request's headers, and moto
evaluates none. So the lake's S3 client here goes through a gate that does what S3 does: it reads the
``x-amz-server-side-encryption*`` headers botocore really sends, and decides with the IAM evaluation
library (``platformctl.iam.evaluation``), the bucket policy of ``infrastructure/shared/data-lake.yaml``
resolved for prod and the real identity policies and boundary of a writer (the Triple Whale job's
role). A refused request never reaches the bucket; every attack checks that the bucket (objects, versions,
multipart uploads) is exactly as before.

The endpoints: a local HTTP server on 127.0.0.1 plays the configured origin and redirects to a second
one on another port (another origin), which records everything it receives. The deploy-time attacks run
``platformctl deploy``'s own preflight against a copy of ``ci/`` with one hostile value each.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
import requests
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError
from moto import mock_aws

from common.http_session import retrying_session
from common.shopify.admin import TOKEN_HEADER, ShopifyAdminClient, ShopifyRedirectError, admin_api_url
from platformctl.aws_target import Target
from platformctl.deploy import Deployer
from platformctl.errors import UserError
from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.manifest import REPO_ROOT, load_manifest
from tests.templates import iam_fixtures
from triplewhale.summary.api import API_KEY_HEADER, SummaryPageClient, TripleWhaleRequestError

REGION = iam_fixtures.REGION
ACCOUNT = iam_fixtures.ACCOUNT
TOKEN = "shpat_attack_target_0123456789abcdef"
API_KEY = "tw-attack-target-0123456789abcdef"


# ================================================================================================ the lake

LAKE_STACK = "shared/data-lake"
WRITER = ("triplewhale/ingestion", "SummaryRole")  # writes raw/triplewhale/ and quarantine/triplewhale/
KEY_PREFIX = "raw/triplewhale/summary-page/dt=2025-03-09/"
WRITE_OPERATIONS = {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
SSE_HEADERS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
)


@dataclass
class PolicyGate:
    """S3's authorization of the writes, in front of moto: the bucket policy decides with the real headers."""

    bucket: str
    bucket_policy: dict[str, Any]
    identity: dict[str, Any]
    boundary: dict[str, Any]
    principal: str
    decisions: list[tuple[str, Decision]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], event_name: str, **_: Any) -> tuple[AWSResponse, Any] | None:
        """A ``before-call`` handler: ``params`` is the serialized request (url, headers) about to be sent."""
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in WRITE_OPERATIONS:
            return None
        context: dict[str, Any] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
        headers = {str(name).lower(): value for name, value in params["headers"].items()}
        for name in SSE_HEADERS:
            value = headers.get(name)
            if value is not None:
                context[f"s3:{name}"] = value.decode() if isinstance(value, bytes) else str(value)
        decision = evaluate(
            Request("s3:PutObject", self._object_arn(params["url"]), context, self.principal),
            identity_policies=self.identity,
            boundary=self.boundary,
            resource_policy=self.bucket_policy,
        )
        self.decisions.append((operation, decision))
        if decision.allowed:
            return None
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        error = {"Code": "AccessDenied", "Message": "Access Denied"}
        parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}}}
        answer_headers = HTTPHeaders()
        answer_headers["Content-Type"] = "application/xml"
        return AWSResponse(params["url"], 403, answer_headers, _Raw(body)), parsed

    def _object_arn(self, url: str) -> str:
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.hostname and parts.hostname.startswith(f"{self.bucket}."):
            return f"arn:aws:s3:::{self.bucket}{path}"
        return f"arn:aws:s3:::{path.lstrip('/')}"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Lake:
    s3: Any
    bucket: str
    key_arn: str
    same_account_key_arn: str
    gate: PolicyGate
    seed: str

    def state(self) -> tuple[list[tuple[str, str]], list[str]]:
        versions = self.s3.list_object_versions(Bucket=self.bucket)
        objects = sorted((v["Key"], v["VersionId"]) for v in versions.get("Versions", []))
        uploads = sorted(u["Key"] for u in self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))
        return objects, uploads


def _resolved_lake() -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """(bucket policy, bucket encryption, bucket name, lake key ARN) as the prod deployment resolves them."""
    resolver = iam_fixtures.resolvers()[LAKE_STACK]
    policy = dict(resolver.properties("DataLakeBucketPolicy")["PolicyDocument"])
    encryption = dict(resolver.properties("DataLakeBucket")["BucketEncryption"])
    bucket = iam_fixtures.output(resolver, "DataLakeBucketName")
    key_arn = iam_fixtures.output(resolver, "DataLakeKmsKeyArn")
    return policy, encryption, bucket, key_arn


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    policy, encryption, bucket, resolved_key_arn = _resolved_lake()
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Description="the lake key")["KeyMetadata"]["Arn"]
        same_account_key_arn = kms.create_key(Description="another key of the account")["KeyMetadata"]["Arn"]
        # The template's key gets moto's ARN: the policy and the default encryption name the same key.
        policy = json.loads(json.dumps(policy).replace(resolved_key_arn, key_arn))
        s3: Any = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        rules = []
        for rule in encryption["ServerSideEncryptionConfiguration"]:
            default = dict(rule["ServerSideEncryptionByDefault"])
            default["KMSMasterKeyID"] = default["KMSMasterKeyID"].replace(resolved_key_arn, key_arn)
            rules.append({"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": rule["BucketKeyEnabled"]})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        stack_key, role = WRITER
        writer = iam_fixtures.resolvers()[stack_key]
        gate = PolicyGate(
            bucket=bucket,
            bucket_policy=policy,
            identity=writer.policy_documents(role),
            boundary=iam_fixtures.boundary_document(),
            principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/{iam_fixtures.brand()}-prod-triplewhale-summary/session",
        )
        # before-call: after serialization (the real headers), before moto (which answers at before-send)
        s3.meta.events.register("before-call.s3", gate)
        seed = KEY_PREFIX + "seed.json"
        s3.put_object(Bucket=bucket, Key=seed, Body=b'{"metrics": []}')  # no header: the default applies
        yield Lake(s3, bucket, key_arn, same_account_key_arn, gate, seed)


FOREIGN_KEY = f"arn:aws:kms:{REGION}:{iam_fixtures.OTHER_ACCOUNT}:key/0f0e0d0c-0b0a-4908-8706-050403020100"

# name -> (encryption arguments, the statement that must refuse it); "<lake>" / "<same-account>" are filled in.
ENCRYPTION_ATTACKS: dict[str, tuple[dict[str, str], str]] = {
    "sse-s3": ({"ServerSideEncryption": "AES256"}, "DenyEncryptionOtherThanSseKms"),
    "foreign-account-kms-key": (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": FOREIGN_KEY},
        "DenySseKmsWithAnotherKey",
    ),
    "same-account-other-kms-key": (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "<same-account>"},
        "DenySseKmsWithAnotherKey",
    ),
    "aws-managed-key-aws-kms-without-key-id": ({"ServerSideEncryption": "aws:kms"}, "DenySseKmsWithoutTheLakeKeyId"),
    "lake-key-by-alias-not-arn": (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/acme-prod-data-lake"},
        "DenySseKmsWithAnotherKey",
    ),
    "dsse-kms-with-the-lake-key": (
        {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "<lake>"},
        "DenyEncryptionOtherThanSseKms",
    ),
    "sse-c-customer-key": (
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32},
        "DenyCustomerProvidedKeys",
    ),
}


def _write(lake: Lake, operation: str, key: str, encryption: dict[str, str]) -> None:
    if operation == "put_object":
        lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=b'{"metrics": []}', **encryption)
    elif operation == "copy_object":
        source = {"Bucket": lake.bucket, "Key": lake.seed}
        lake.s3.copy_object(Bucket=lake.bucket, Key=key, CopySource=source, **encryption)
    else:
        upload = lake.s3.create_multipart_upload(Bucket=lake.bucket, Key=key, **encryption)
        part = lake.s3.upload_part(
            Bucket=lake.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b'{"metrics": []}'
        )
        lake.s3.complete_multipart_upload(
            Bucket=lake.bucket,
            Key=key,
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )


def _filled(lake: Lake, encryption: dict[str, str]) -> dict[str, str]:
    names = {"<lake>": lake.key_arn, "<same-account>": lake.same_account_key_arn}
    return {name: names.get(value, value) for name, value in encryption.items()}


@pytest.mark.parametrize("operation", ["put_object", "copy_object", "create_multipart_upload"])
@pytest.mark.parametrize("attack", sorted(ENCRYPTION_ATTACKS))
def test_a_write_not_encrypted_with_the_lake_key_is_refused_and_changes_nothing(
    lake: Lake, operation: str, attack: str
) -> None:
    encryption, statement = ENCRYPTION_ATTACKS[attack]
    before = lake.state()
    with pytest.raises(ClientError) as refused:
        _write(lake, operation, KEY_PREFIX + f"{attack}.json", _filled(lake, encryption))
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    _, decision = lake.gate.decisions[-1]
    assert not decision.allowed
    assert f"'{statement}'" in decision.reason, decision.reason
    assert lake.state() == before


@pytest.mark.parametrize("operation", ["put_object", "copy_object", "create_multipart_upload"])
@pytest.mark.parametrize("explicit", [False, True], ids=["default-encryption", "explicit-lake-key-arn"])
def test_the_writers_way_is_accepted_and_the_object_is_sse_kms_with_the_lake_key(
    lake: Lake, operation: str, explicit: bool
) -> None:
    """The control: no header (what every writer sends) or exactly the lake key's ARN (Glue's way)."""
    key = KEY_PREFIX + f"{operation}-{explicit}.json"
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": lake.key_arn} if explicit else {}
    _write(lake, operation, key, encryption)
    assert all(decision.allowed for _, decision in lake.gate.decisions), lake.gate.decisions
    head = lake.s3.head_object(Bucket=lake.bucket, Key=key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", lake.key_arn)


def test_the_lake_default_encryption_is_the_lake_key_with_a_bucket_key() -> None:
    """What makes a header-less write SSE-KMS with the lake key (docs/security.md, the lake)."""
    _, encryption, _, key_arn = _resolved_lake()
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule == {
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,
    }


# ======================================================================================== the endpoints


@dataclass
class Origin:
    """A local HTTP server: either redirects everything to ``redirect_to`` or answers 200 with ``answer``."""

    status: int = 200
    redirect_to: str | None = None
    answer: bytes = b'{"data": {"shop": {"name": "not yours"}}}'
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                origin.received.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                if origin.redirect_to is not None:
                    self.send_response(origin.status)
                    self.send_header("Location", origin.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(origin.answer)))
                self.end_headers()
                self.wfile.write(origin.answer)

            do_GET = _serve  # noqa: N815
            do_POST = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return None

        return Handler


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    """(configured, elsewhere): two servers on 127.0.0.1, different ports, so different origins."""
    configured, elsewhere = Origin(), Origin()
    servers = []
    for origin in (elsewhere, configured):
        server = ThreadingHTTPServer(("127.0.0.1", 0), origin.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin.url = f"http://127.0.0.1:{server.server_address[1]}"
        servers.append(server)
    configured.redirect_to = elsewhere.url
    yield configured, elsewhere
    for server in servers:
        server.shutdown()
        server.server_close()


def _headers_lower(received: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in received["headers"].items()}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_shopify_admin_client_never_follows_a_redirect_with_its_token(
    origins: tuple[Origin, Origin], status: int
) -> None:
    configured, elsewhere = origins
    configured.status = status
    client = ShopifyAdminClient(
        url=admin_api_url("acme.myshopify.com", "2026-10", configured.url),
        access_token=lambda: TOKEN,
        # a session that does follow redirects: the client refuses them whatever session it is given
        session=retrying_session(retry_post=True, total=0),
    )
    with pytest.raises(ShopifyRedirectError) as refused:
        client.execute("query { shop { name } }")
    assert refused.value.status == status
    assert f"redirecting to http://127.0.0.1:{elsewhere.url.rsplit(':', 1)[1]}" in str(refused.value)
    assert TOKEN not in str(refused.value)
    assert elsewhere.received == []
    assert [_headers_lower(r)[TOKEN_HEADER.lower()] for r in configured.received] == [TOKEN]


@pytest.mark.parametrize("status", [302, 307, 308])
def test_the_triple_whale_client_never_follows_a_redirect_with_its_key(
    origins: tuple[Origin, Origin], status: int
) -> None:
    configured, elsewhere = origins
    configured.status = status
    client = SummaryPageClient(
        # the session the job builds (triplewhale/summary/app.py build_job)
        retrying_session(total=2, follow_redirects=False),
        configured.url,
        lambda: API_KEY,
        secret_id="acme/prod/TripleWhaleApiKey",
        max_attempts=3,
        sleep=lambda _: None,
    )
    from datetime import date

    with pytest.raises(TripleWhaleRequestError) as refused:
        client.fetch("acme.myshopify.com", date(2025, 3, 9), 25)
    assert f"HTTP {status} redirecting to http://127.0.0.1:" in str(refused.value)
    assert API_KEY not in str(refused.value)
    assert elsewhere.received == []
    assert len(configured.received) == 1  # not retried either


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("header", [TOKEN_HEADER, API_KEY_HEADER, "Authorization"])
def test_a_session_that_follows_redirects_drops_credentials_at_the_origin_boundary(
    origins: tuple[Origin, Origin], header: str, method: str
) -> None:
    """The second layer, for any client of the shared session: 302 (GET) and 307 (POST keeps its body)."""
    configured, elsewhere = origins
    configured.status = 302 if method == "GET" else 307
    response = retrying_session(total=0).request(
        method, configured.url + "/admin/api/2026-10/graphql.json", headers={header: TOKEN, "X-Trace": "t-1"}, json={}
    )
    assert response.status_code == 200  # followed
    (arrived,) = elsewhere.received
    headers = _headers_lower(arrived)
    assert header.lower() not in headers
    assert TOKEN not in json.dumps(arrived, default=str)
    assert headers["x-trace"] == "t-1"  # only credentials are dropped
    assert _headers_lower(configured.received[0])[header.lower()] == TOKEN


@pytest.mark.parametrize(
    "shop_domain",
    ["attacker.example", "acme.myshopify.com.attacker.example", "acme.myshopify.com@attacker.example", "<elsewhere>"],
)
def test_a_shop_domain_that_is_not_myshopify_gets_no_admin_url(
    origins: tuple[Origin, Origin], shop_domain: str
) -> None:
    """A ``shop_domain`` edited into the Admin API secret cannot send the token elsewhere at run time."""
    _, elsewhere = origins
    domain = elsewhere.url.removeprefix("http://") if shop_domain == "<elsewhere>" else shop_domain
    with pytest.raises(ValueError, match="shop domain must be"):
        admin_api_url(domain, "2026-10")
    assert elsewhere.received == []


# -------------------------------------------------------------------------------------- deploy time


@pytest.fixture
def prod_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of ci/ whose prod placeholders are filled in, so that the only problem is the attack's."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    shutil.copy(REPO_ROOT / "ci" / "ingestion_jobs.json", tmp_path)
    shutil.copytree(REPO_ROOT / "ci" / "environments", tmp_path / "environments")
    prod = tmp_path / "environments" / "prod"
    _set(prod / "settings.json", "ShopDomain", "acme.myshopify.com")
    _set(prod / "shared" / "github-oidc.json", "GitHubOrg", "octo-org")
    _set(prod / "monitoring" / "monitoring.json", "AlertEmail", "data@acme.example")
    _set(
        prod / "shopify" / "eventbridge-rules.json",
        "PartnerEventSourceName",
        "aws.partner/shopify.com/7654321/acme-shopify-events",
    )
    with mock_aws():
        yield tmp_path


def _set(path: Path, key: str, value: str) -> None:
    entries = json.loads(path.read_text(encoding="utf-8"))
    (entry,) = [e for e in entries if e["ParameterKey"] == key]
    entry["ParameterValue"] = value
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")


def _deploy(root: Path) -> str | None:
    manifest = load_manifest(root / "ingestion_jobs.json")
    deployer = Deployer(Target("prod", region=REGION), manifest, image_tag="attack", out=io.StringIO())
    try:
        deployer.deploy(manifest.stacks)
    except UserError as exc:
        return str(exc)
    return None


def test_the_filled_in_prod_config_passes_the_origin_checks(prod_config: Path) -> None:
    """The control: without an attack, preflight has nothing to say (the deploy then needs images)."""
    from platformctl.origins import origin_problems

    manifest = load_manifest(prod_config / "ingestion_jobs.json")
    assert origin_problems(manifest.stacks, "prod") == []


DEPLOY_ATTACKS = {
    "admin-origin-over-http": ("settings.json", "ShopifyAdminBaseUrl", "http://acme.myshopify.com", "https://"),
    "admin-origin-not-myshopify": ("settings.json", "ShopifyAdminBaseUrl", "https://admin.attacker.example", "end in"),
    "admin-origin-myshopify-prefix": (
        "settings.json",
        "ShopifyAdminBaseUrl",
        "https://acme.myshopify.com.attacker.example",
        "end in .myshopify.com",
    ),
    "admin-origin-userinfo-trick": (
        "settings.json",
        "ShopifyAdminBaseUrl",
        "https://acme.myshopify.com@attacker.example",
        "no user or password",
    ),
    "triplewhale-origin-over-http": (
        "triplewhale/ingestion.json",
        "TripleWhaleApiBaseUrl",
        "http://api.triplewhale.com",
        "https://",
    ),
    "shop-domain-not-myshopify": ("settings.json", "ShopDomain", "acme.attacker.example", "<shop>.myshopify.com"),
}


@pytest.mark.parametrize("attack", sorted(DEPLOY_ATTACKS))
def test_a_hostile_origin_is_refused_at_deploy_time_in_one_line_and_nothing_is_deployed(
    prod_config: Path, attack: str
) -> None:
    file, key, value, says = DEPLOY_ATTACKS[attack]
    path = prod_config / "environments" / "prod" / file
    _set(path, key, value)
    refusal = _deploy(prod_config)
    assert refusal is not None
    lines = [line for line in refusal.splitlines() if f": {key} is " in line]
    assert len(lines) == 1, refusal
    assert lines[0].startswith(f"{path}: {key} is {value!r}")
    assert says in lines[0]
    assert boto3.client("cloudformation", region_name=REGION).list_stacks()["StackSummaries"] == []
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_requests_itself_would_forward_the_shopify_token(origins: tuple[Origin, Origin]) -> None:
    """Why the session needs its own rule: a plain requests.Session keeps a custom token header."""
    configured, elsewhere = origins
    configured.status = 302
    requests.Session().get(configured.url + "/x", headers={TOKEN_HEADER: TOKEN}, timeout=5)
    assert _headers_lower(elsewhere.received[0])[TOKEN_HEADER.lower()] == TOKEN
