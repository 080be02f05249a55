"""``platformctl privacy``: the operator's side of the privacy workflow (docs/privacy.md).

``erase`` and ``export`` record a request for one person that arrived by another channel than Shopify
(e-mail, a Recharge customer, a guest checkout) and start the privacy workflow for it, exactly as the
compliance webhook does for Shopify's ``customers/redact`` and ``customers/data_request``:

1. the person's *subjects*: ``shopify-customer:<id>``, ``shopify-order:<id>``,
   ``recharge-customer:<id>``, and each e-mail and phone as a keyed digest (``email:<hmac>``) made with
   the digest key ``<brand>/<env>/PrivacyDigestKey`` read with the operator's own credentials; the clear
   e-mails and phones are never printed, logged or written anywhere;
2. the request id, the first 32 hex of SHA-256 over the sorted subjects and the kind (and ``full-scan``
   with ``--full-scan``, so a full scan is a request of its own): the same command
   twice is the same request (the second run records nothing and starts nothing new);
3. the record ``metadata/privacy/requests/operator_<kind>/<request id>.json`` (``common.privacy.requests``,
   origin ``operator``), written with a conditional PutObject;
4. an execution of the privacy state machine named after the request id with input
   ``{"request_key": <record key>}`` (plus ``"full_scan": true`` with ``--full-scan``); one that exists
   already is shown instead. ``--wait`` follows it to its end and prints its summary.

``status`` shows a request's record, its executions and its audit entry; ``resume`` starts the request
again after a failure (``<id>-resume-<n>``, the same input); ``fetch`` downloads an access request's
export. ``purge-shop`` deletes every object, item and message of the environment's shop after Shopify's
``shop/redact``: an operator's decision, never automatic, refused unless ``--confirm`` is exactly the
environment's ``ShopDomain``.

The privacy library (digests, the request record) is the platform's own ``lambdas/common/privacy``, the
code every Lambda image carries: a digest made here must equal the indexer's byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import botocore.exceptions

from platformctl.aws_target import add_env_argument, deployed_stack_outputs, target_for
from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT

PRIVACY_STACK = ("privacy", "requests")
LAKE_STACK = ("shared", "data-lake")
TABLES_STACK = ("shared", "dynamodb-tables")
HOT_STORE_OUTPUTS = (
    "OrdersTableName",
    "CustomersTableName",
    "AbandonedCartsTableName",
    "SubscriptionsTableName",
    "ChargesTableName",
    "InvoicesTableName",
)
DLQ_ENTITIES = ("orders", "fulfillments", "customers", "products", "carts")
PURGED_PREFIXES = ("raw/", "quarantine/", "processed/", "exports/", "metadata/shopify/")
KEPT_PREFIXES = ("metadata/privacy/", "artifacts/")
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
FAILED_RUNBOOK = "docs/runbooks/privacy-requests-failed.md"
BATCH_WRITE_ATTEMPTS = 8

_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_GID = re.compile(r"^gid://shopify/(?P<type>Customer|Order)/(?P<id>[1-9][0-9]{0,19})$")
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


# ------------------------------------------------------------------------------------- the library


def _use_platform_library() -> None:
    """Put ``lambdas/`` on the path: ``common.privacy`` is the code the Lambda images run. Imported by the
    functions that need it only, so that the rest of platformctl (deploy's lean environment) never does."""
    folder = str(REPO_ROOT / "lambdas")
    if folder not in sys.path:
        sys.path.append(folder)


class SubjectDigester(Protocol):
    """``common.privacy.digest.SubjectDigester``, as far as this module uses it."""

    def email(self, value: str) -> str | None: ...

    def phone(self, value: str) -> str | None: ...


# ---------------------------------------------------------------------------------- the environment


@dataclass
class Platform:
    """What the commands need of one environment, resolved once from its deployed stacks."""

    environment: str
    brand: str
    shop_domain: str
    client: Callable[[str], Any]  # boto3 client by service name (the target's)
    bucket: str
    state_machine_arn: str | None = None  # None: the privacy job is not deployed
    index_table: str | None = None
    hot_stores: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)  # what could not be resolved, said once

    @property
    def digest_secret(self) -> str:
        return f"{self.brand}/{self.environment}/PrivacyDigestKey"

    @property
    def dlq_names(self) -> tuple[str, ...]:
        return tuple(f"{self.brand}-shopify-{entity}-events-dlq" for entity in DLQ_ENTITIES)

    def machine(self) -> str:
        if not self.state_machine_arn:
            raise UserError(
                f"the privacy workflow is not deployed in {self.environment}: deploy it first "
                f"(platformctl deploy --env {self.environment} --job privacy)"
            )
        return self.state_machine_arn

    def execution_arn(self, name: str) -> str:
        return self.machine().replace(":stateMachine:", ":execution:") + ":" + name


def environment_settings(environment: str) -> tuple[str, str]:
    """(brand, ShopDomain) of an environment, from ci/environments/<env>/settings.json; no AWS call."""
    from platformctl.manifest import load_manifest
    from platformctl.params import brand_of, read_settings

    manifest = load_manifest()
    known = manifest.environments()
    if environment not in known:
        raise UserError(f"unknown environment {environment!r}: environments are {', '.join(known)}")
    settings = read_settings(manifest.stacks[0], environment)
    shop = settings.get("ShopDomain", "")
    if not shop:
        raise UserError(f"ci/environments/{environment}/settings.json sets no ShopDomain")
    return brand_of(environment, manifest.stacks), shop


def resolve(environment: str, *, endpoint_url: str | None = None) -> Platform:
    """The environment's platform: its lake (required), the privacy workflow, the tables.
    ``endpoint_url`` names a local cloud other than the one in ``.local-cloud/endpoints.json``."""

    brand, shop = environment_settings(environment)
    target = target_for(environment, endpoint_url=endpoint_url)
    lake = deployed_stack_outputs(target, *LAKE_STACK) or {}
    if "DataLakeBucketName" not in lake:
        raise UserError(
            f"the lake is not deployed in {environment}: deploy it first "
            f"(platformctl deploy --env {environment} --job shared)"
        )
    platform = Platform(environment, brand, shop.strip().lower(), target.client, lake["DataLakeBucketName"])
    privacy = deployed_stack_outputs(target, *PRIVACY_STACK)
    if privacy is None:
        platform.notes.append(f"the privacy job is not deployed in {environment}")
    else:
        platform.state_machine_arn = privacy.get("PrivacyStateMachineArn")
        platform.index_table = privacy.get("PrivacyIndexTableName")
    tables = deployed_stack_outputs(target, *TABLES_STACK) or {}
    platform.hot_stores = tuple(tables[name] for name in HOT_STORE_OUTPUTS if name in tables)
    return platform


# --------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Person:
    """Who an operator request is about, as typed (the e-mails and phones stay in memory only)."""

    customer_ids: tuple[str, ...] = ()
    order_ids: tuple[str, ...] = ()
    recharge_customer_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @property
    def needs_digests(self) -> bool:
        return bool(self.emails or self.phones)


def _identifier(value: str, option: str, gid_type: str | None = None) -> str:
    text = value.strip()
    match = _GID.match(text)
    if match and gid_type and match["type"] == gid_type:
        text = match["id"]
    if not _ID.match(text):
        raise UserError(f"{option} {value!r} is not an id (digits, e.g. 7365420000001)")
    return text


def id_subjects(person: Person) -> set[str]:
    """The subjects of the ids given (no AWS call: checked before anything else); UserError for a bad id
    or for a person named by nothing at all."""
    if not (person.customer_ids or person.order_ids or person.recharge_customer_ids or person.needs_digests):
        raise UserError("name the person: --customer-id, --email, --phone, --recharge-customer-id or --order-id")
    found = {f"shopify-customer:{_identifier(v, '--customer-id', 'Customer')}" for v in person.customer_ids}
    found |= {f"shopify-order:{_identifier(v, '--order-id', 'Order')}" for v in person.order_ids}
    found |= {f"recharge-customer:{_identifier(v, '--recharge-customer-id')}" for v in person.recharge_customer_ids}
    return found


def subjects_of(person: Person, digester: SubjectDigester | None) -> tuple[str, ...]:
    """The person's subjects, sorted; a UserError (that never repeats an e-mail or phone) for a bad value."""
    found = id_subjects(person)
    if person.needs_digests:
        if digester is None:
            raise ValueError("e-mails and phones need the digest key")
        for number, email in enumerate(person.emails, 1):
            subject = digester.email(email)
            if subject is None:
                raise UserError(f"--email number {number} is not an e-mail address (it is not repeated here)")
            found.add(subject)
        for number, phone in enumerate(person.phones, 1):
            subject = digester.phone(phone)
            if subject is None:
                raise UserError(f"--phone number {number} is not a phone number (6 to 20 digits)")
            found.add(subject)
    return tuple(sorted(found))


def operator_request_id(kind: str, subjects: Sequence[str], *, full_scan: bool = False) -> str:
    """First 32 hex of SHA-256 over the sorted subjects, then the kind, one per line (and a last line
    for a full scan: a full scan after an index-based erasure of the same person is a request of its own,
    not an already-done one)."""
    text = "\n".join([*sorted(subjects), kind, *(["full-scan"] if full_scan else [])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def operator_request(
    kind: str, subjects: Sequence[str], shop_domain: str, now: datetime, *, full_scan: bool = False
) -> Any:
    """The ``common.privacy.requests.PrivacyRequest`` of an operator request."""
    _use_platform_library()
    from common.privacy.requests import OPERATOR_ORIGIN, SCHEMA, PrivacyRequest

    return PrivacyRequest(
        schema=SCHEMA,
        request_id=operator_request_id(kind, subjects, full_scan=full_scan),
        kind=kind,
        origin=OPERATOR_ORIGIN,
        topic=f"operator/{kind}",
        shop_domain=shop_domain,
        subjects=tuple(sorted(subjects)),
        received_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        delivery=None,
        data_request_id=None,
    )


def digester_for(platform: Platform) -> SubjectDigester:
    """The digest key, read with the operator's credentials (never printed)."""
    _use_platform_library()
    from common.privacy.digest import digester_from_secret
    from common.secret_cache import CachedSecret, SecretFormatError

    try:
        return digester_from_secret(CachedSecret(platform.client("secretsmanager"), platform.digest_secret))
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise UserError(
            f"cannot read the secret {platform.digest_secret} ({code}): it is created by the shared "
            "secrets-manager stack; your credentials need secretsmanager:GetSecretValue on it and kms:Decrypt "
            "on the secrets key"
        ) from None
    except SecretFormatError as exc:
        raise UserError(f"the secret {platform.digest_secret} is not usable: {exc}") from None


def record_request(platform: Platform, request: Any) -> bool:
    """Write the record unless it exists (conditional PutObject): True when written now."""
    body = json.dumps(request.to_json(), sort_keys=True).encode("utf-8")
    try:
        platform.client("s3").put_object(
            Bucket=platform.bucket, Key=request.key, Body=body, ContentType="application/json", IfNoneMatch="*"
        )
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            return False
        raise
    return True


def find_record(platform: Platform, request_id: str) -> str | None:
    """The key of the record of ``request_id`` (whatever its topic), or None."""
    _use_platform_library()
    from common.privacy.requests import TOPICS, request_key

    s3 = platform.client("s3")
    for topic in TOPICS:
        key = request_key(topic, request_id)
        try:
            s3.head_object(Bucket=platform.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                continue
            raise
        return key
    return None


# -------------------------------------------------------------------------------------- executions


def describe(platform: Platform, name: str) -> dict[str, Any] | None:
    sfn = platform.client("stepfunctions")
    try:
        return dict(sfn.describe_execution(executionArn=platform.execution_arn(name)))
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return None
        raise


def executions_of(platform: Platform, request_id: str) -> list[dict[str, Any]]:
    """The request's executions: ``<id>``, then ``<id>-resume-1``, ``-2`` ... (each the first free one)."""
    found: list[dict[str, Any]] = []
    first = describe(platform, request_id)
    if first is None:
        return found
    found.append(first)
    number = 1
    while (resumed := describe(platform, f"{request_id}-resume-{number}")) is not None:
        found.append(resumed)
        number += 1
    return found


def start(platform: Platform, name: str, document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the execution's description, whether it was started now); an existing one is described."""
    existing = describe(platform, name)
    if existing is not None:
        return existing, False
    sfn = platform.client("stepfunctions")
    started_now = True
    try:
        sfn.start_execution(stateMachineArn=platform.machine(), name=name, input=json.dumps(document, sort_keys=True))
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "StateMachineDoesNotExist":
            platform.state_machine_arn = None
            platform.machine()  # raises, saying how to deploy it
        if code != "ExecutionAlreadyExists":
            raise
        started_now = False  # started meanwhile (another operator, the same command twice)
    described = describe(platform, name)
    if described is None:
        raise UserError(f"execution {name} was started but cannot be described; try `platformctl privacy status`")
    return described, started_now


def _moment(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if isinstance(value, datetime) else "-"


def wait(platform: Platform, execution_arn: str, out: TextIO, *, poll_seconds: float = 3.0) -> dict[str, Any]:
    """Poll until the execution ends, saying every minute that it still runs; its final description."""
    sfn = platform.client("stepfunctions")
    began = last = time.monotonic()
    while True:
        description = dict(sfn.describe_execution(executionArn=execution_arn))
        if description["status"] in TERMINAL:
            return description
        if time.monotonic() - last >= 60:
            print(f"  still {description['status']} after {int(time.monotonic() - began)} s", file=out, flush=True)
            last = time.monotonic()
        time.sleep(poll_seconds)


def cause_text(cause: Any, limit: int = 500) -> str:
    """An execution's cause, shortened: a Lambda error's type and message (not its stack trace)."""
    text = str(cause or "")
    try:
        document = json.loads(text)
    except ValueError:
        return text[:limit]
    if isinstance(document, dict) and document.get("errorMessage"):
        return f"{document.get('errorType') or 'Error'}: {document['errorMessage']}"[:limit]
    return text[:limit]


def report_end(platform: Platform, description: dict[str, Any], out: TextIO) -> int:
    """The summary of an ended execution (its output: ids and counts only); 0 when it succeeded."""
    status = description["status"]
    if status != "SUCCEEDED":
        print(f"execution {description['name']} ended {status}: {description.get('error') or ''}", file=out)
        if description.get("cause"):
            print(f"  cause: {cause_text(description['cause'])}", file=out)
        print(
            f"  runbook: {FAILED_RUNBOOK}; start it again where it stopped with: platformctl privacy resume "
            f"--env {platform.environment} --request-id {description['name'].split('-resume-')[0]}",
            file=out,
        )
        return 1
    try:
        output = json.loads(description.get("output") or "{}")
    except ValueError:
        output = {"output": description.get("output")}
    print(f"execution {description['name']} succeeded:", file=out)
    print(json.dumps(output, indent=2, sort_keys=True), file=out)
    return 0


def _print_export(platform: Platform, request_id: str, out: TextIO, *, ready: bool) -> None:
    _use_platform_library()
    from common.privacy.requests import export_key

    where = f"s3://{platform.bucket}/{export_key(request_id)}"
    print(f"export {'at' if ready else 'will be at'} {where} (KMS-encrypted; it expires)", file=out)
    print(
        f"  fetch it with: platformctl privacy fetch --env {platform.environment} --request-id {request_id} "
        "--out <file>",
        file=out,
    )


def submit(
    platform: Platform,
    kind: str,
    person: Person,
    out: TextIO,
    *,
    full_scan: bool = False,
    wait_for_end: bool = False,
    now: datetime | None = None,
    poll_seconds: float = 3.0,
) -> int:
    """Record an operator request and start (or show) its execution; see the module doc."""
    platform.machine()  # the workflow must exist before anything is written
    digester = digester_for(platform) if person.needs_digests else None
    subjects = subjects_of(person, digester)
    request = operator_request(kind, subjects, platform.shop_domain, now or datetime.now(UTC), full_scan=full_scan)
    kinds = Counter(subject.split(":", 1)[0] for subject in subjects)
    named = ", ".join(f"{count} {name}" for name, count in sorted(kinds.items()))
    written = record_request(platform, request)
    print(f"request {request.request_id} ({kind}; {named})", file=out)
    print(f"  record s3://{platform.bucket}/{request.key}{'' if written else ' (recorded before)'}", file=out)
    document: dict[str, Any] = {"request_key": request.key}
    if full_scan:
        document["full_scan"] = True
    description, started = start(platform, request.request_id, document)
    print(f"  execution {description['executionArn']}", file=out)
    if not started:
        print(
            f"  it exists already: {description['status']} (started {_moment(description.get('startDate'))})", file=out
        )
    if wait_for_end and description["status"] not in TERMINAL:
        print("  waiting for it to end (Ctrl-C stops waiting, not the execution)", file=out, flush=True)
        description = wait(platform, description["executionArn"], out, poll_seconds=poll_seconds)
    if description["status"] in TERMINAL:
        code = report_end(platform, description, out)
        if kind == "export" and code == 0:
            _print_export(platform, request.request_id, out, ready=True)
        return code
    print(
        f"  follow it with: platformctl privacy status --env {platform.environment} --request-id {request.request_id}",
        file=out,
    )
    if kind == "export":
        _print_export(platform, request.request_id, out, ready=False)
    return 0


def check_request_id(value: str) -> str:
    if not _REQUEST_ID.match(value):
        raise UserError(f"--request-id {value!r} is not a request id (32 lower-case hex digits)")
    return value


def status(platform: Platform, request_id: str, out: TextIO) -> int:
    """The request's record, executions and audit entry."""
    _use_platform_library()
    from common.privacy.requests import audit_key, export_key, load_request

    key = find_record(platform, request_id)
    if key is None:
        raise UserError(f"no request {request_id} in s3://{platform.bucket}/metadata/privacy/requests/")
    request = load_request(platform.client("s3"), platform.bucket, key)
    kinds = Counter(subject.split(":", 1)[0] for subject in request.subjects)
    print(f"request    {request.request_id}", file=out)
    print(f"kind       {request.kind} ({request.topic}, from {request.origin})", file=out)
    print(f"received   {request.received_at}", file=out)
    print(f"record     s3://{platform.bucket}/{key}", file=out)
    print(f"subjects   {', '.join(f'{n} {k}' for k, n in sorted(kinds.items())) or 'none'}", file=out)
    if platform.state_machine_arn:
        executions = executions_of(platform, request_id)
        if not executions:
            print("executions none (start it with `platformctl privacy resume`)", file=out)
        for item in executions:
            print(
                f"execution  {item['name']}  {item['status']}  started {_moment(item.get('startDate'))}"
                f"  stopped {_moment(item.get('stopDate'))}",
                file=out,
            )
            if item["status"] in {"FAILED", "TIMED_OUT", "ABORTED"} and item.get("error"):
                print(f"           {item['error']}: {cause_text(item.get('cause'), 300)}", file=out)
    else:
        print(f"executions unknown: {'; '.join(platform.notes) or 'the privacy job is not deployed'}", file=out)
    audit = _read_json(platform, audit_key(request_id))
    if audit is None:
        print("audit      none yet (written when the workflow finishes)", file=out)
    else:
        print(
            f"audit      s3://{platform.bucket}/{audit_key(request_id)}, finished {audit.get('finished_at')}", file=out
        )
        plan = audit.get("plan") or {}
        if plan:
            print(
                f"  plan     {plan.get('locations', 0)} objects, {plan.get('hot_store_items', 0)} hot-store items, "
                f"full scan {str(bool(plan.get('full_scan'))).lower()}",
                file=out,
            )
        for name, value in sorted((audit.get("totals") or {}).items()):
            print(f"  {name:<28} {value}", file=out)
        if request.kind == "export":
            _print_export(platform, request_id, out, ready=_exists(platform, export_key(request_id)))
    return 0


def _read_json(platform: Platform, key: str) -> dict[str, Any] | None:
    try:
        body = platform.client("s3").get_object(Bucket=platform.bucket, Key=key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    data = json.loads(body)
    return data if isinstance(data, dict) else None


def _exists(platform: Platform, key: str) -> bool:
    try:
        platform.client("s3").head_object(Bucket=platform.bucket, Key=key)
    except botocore.exceptions.ClientError:
        return False
    return True


def resume(platform: Platform, request_id: str, out: TextIO, *, wait_for_end: bool = False) -> int:
    """Start the request again: ``<id>`` if it never started, else ``<id>-resume-<n>`` with the same input."""
    executions = executions_of(platform, request_id)
    running = [item["name"] for item in executions if item["status"] == "RUNNING"]
    if running:
        raise UserError(
            f"execution {running[0]} is still running: let it end (platformctl privacy status --env "
            f"{platform.environment} --request-id {request_id}) or stop it first"
        )
    if executions:
        name = f"{request_id}-resume-{len(executions)}"
        document = json.loads(executions[0]["input"])
    else:
        key = find_record(platform, request_id)
        if key is None:
            raise UserError(f"no request {request_id} in s3://{platform.bucket}/metadata/privacy/requests/")
        name, document = request_id, {"request_key": key}
    description, _ = start(platform, name, document)
    print(f"started {name}", file=out)
    print(f"  execution {description['executionArn']}", file=out)
    if wait_for_end:
        description = wait(platform, description["executionArn"], out)
        return report_end(platform, description, out)
    print(
        f"  follow it with: platformctl privacy status --env {platform.environment} --request-id {request_id}", file=out
    )
    return 0


def fetch(platform: Platform, request_id: str, path: Path, out: TextIO) -> int:
    """Download the export of an access request to a new file only its owner can read."""
    _use_platform_library()
    from common.privacy.requests import export_key

    key = export_key(request_id)
    try:
        body = platform.client("s3").get_object(Bucket=platform.bucket, Key=key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise UserError(
                f"no export s3://{platform.bucket}/{key}: not finished yet, expired, or not an export "
                f"(platformctl privacy status --env {platform.environment} --request-id {request_id})"
            ) from None
        raise UserError(f"cannot read s3://{platform.bucket}/{key} ({code}): check your credentials") from None
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(f"{path} exists: choose another --out (an export is never written over a file)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(body)
    print(f"wrote {len(body)} bytes to {path} (readable by you only)", file=out)
    print("  it is the person's personal data: hand it over as agreed, then delete it", file=out)
    return 0


# ------------------------------------------------------------------------------------ shop purge


@dataclass
class PurgeCounts:
    objects: dict[str, dict[str, int]] = field(default_factory=dict)  # prefix -> versions, delete markers
    tables: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int | None] = field(default_factory=dict)  # None: the queue does not exist

    def to_json(self) -> dict[str, Any]:
        return {"objects": self.objects, "tables": self.tables, "queues": self.queues}


def check_confirmation(confirm: str | None, shop_domain: str) -> None:
    """The purge runs only when the operator typed the environment's shop domain exactly."""
    if not confirm:
        raise UserError("purge-shop needs --confirm <shop domain>")
    if confirm != shop_domain:
        raise UserError(
            f"--confirm {confirm!r} is not this environment's shop domain exactly; nothing was deleted "
            "(type the ShopDomain of ci/environments/<env>/settings.json, same case, no spaces)"
        )


def _object_versions(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[list[dict[str, str]], int, int]]:
    """Pages of (entries to delete, versions, delete markers) under ``prefix``."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        markers = [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
        yield versions + markers, len(versions), len(markers)


def _purge_prefix(s3: Any, bucket: str, prefix: str, *, dry_run: bool) -> dict[str, int]:
    counts = {"versions": 0, "delete_markers": 0}
    for entries, versions, markers in _object_versions(s3, bucket, prefix):
        counts["versions"] += versions
        counts["delete_markers"] += markers
        for start_at in range(0, 0 if dry_run else len(entries), 1000):
            chunk = entries[start_at : start_at + 1000]
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            if answer.get("Errors"):
                error = answer["Errors"][0]
                raise UserError(
                    f"could not delete {len(answer['Errors'])} object version(s) under {prefix} "
                    f"(first: {error.get('Code')}): fix it and run the purge again (it deletes what is left)"
                )
    return counts


def _table_keys(dynamodb: Any, table: str) -> list[str]:
    return [key["AttributeName"] for key in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]


def _purge_table(dynamodb: Any, table: str, *, dry_run: bool) -> int | None:
    """Delete every item (only the keys are read); the count, or None when the table does not exist."""
    try:
        keys = _table_keys(dynamodb, table)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    names = {f"#k{i}": name for i, name in enumerate(keys)}
    count = 0
    arguments: dict[str, Any] = {"TableName": table}
    if dry_run:
        arguments["Select"] = "COUNT"
    else:
        arguments["ProjectionExpression"] = ", ".join(names)
        arguments["ExpressionAttributeNames"] = names
    while True:
        page = dynamodb.scan(**arguments)
        count += int(page.get("Count", 0))
        items = page.get("Items", [])
        for start_at in range(0, len(items), 25):
            _batch_delete(
                dynamodb, table, [{"DeleteRequest": {"Key": item}} for item in items[start_at : start_at + 25]]
            )
        if "LastEvaluatedKey" not in page:
            return count
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _batch_delete(dynamodb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending = requests
    for attempt in range(BATCH_WRITE_ATTEMPTS):
        left = dynamodb.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {})
        pending = left.get(table, [])
        if not pending:
            return
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise UserError(f"{table}: DynamoDB kept refusing deletes (throttled); run the purge again to delete what is left")


def _purge_queue(sqs: Any, name: str, *, dry_run: bool) -> int | None:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except botocore.exceptions.ClientError as exc:
        if "NonExistentQueue" in exc.response.get("Error", {}).get("Code", "") or "QueueDoesNotExist" in str(exc):
            return None
        raise
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    count = sum(int(value) for value in attributes.values())
    if not dry_run:
        try:
            sqs.purge_queue(QueueUrl=url)
        except botocore.exceptions.ClientError as exc:
            if "PurgeQueueInProgress" not in exc.response.get("Error", {}).get("Code", ""):
                raise
    return count


def _shop_redact_requests(platform: Platform) -> list[str]:
    _use_platform_library()
    from common.privacy.requests import REQUESTS_PREFIX

    prefix = f"{REQUESTS_PREFIX}shop_redact/"
    found = []
    for page in platform.client("s3").get_paginator("list_objects_v2").paginate(Bucket=platform.bucket, Prefix=prefix):
        found += [Path(entry["Key"]).stem for entry in page.get("Contents", [])]
    return sorted(found)


def _operator(platform: Platform) -> str | None:
    try:
        return str(platform.client("sts").get_caller_identity()["Arn"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        return None


def purge_shop(
    platform: Platform, confirm: str | None, out: TextIO, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeCounts:
    """Delete everything of the environment's shop (see the module doc); the counts."""
    check_confirmation(confirm, platform.shop_domain)
    _use_platform_library()
    from common.privacy.requests import AUDIT_PREFIX

    started = now or datetime.now(UTC)
    verb = "would delete" if dry_run else "deleted"
    requests = _shop_redact_requests(platform)
    mode = " (dry run: nothing is deleted)" if dry_run else ""
    print(f"purge of {platform.shop_domain} in {platform.environment}{mode}", file=out, flush=True)
    if not requests:
        print("  no shop/redact request is recorded: purging on the operator's decision alone", file=out)
    counts = PurgeCounts()
    s3 = platform.client("s3")
    for prefix in PURGED_PREFIXES:
        counts.objects[prefix] = found = _purge_prefix(s3, platform.bucket, prefix, dry_run=dry_run)
        print(
            f"  s3://{platform.bucket}/{prefix}: {verb} {found['versions']} object version(s), "
            f"{found['delete_markers']} delete marker(s)",
            file=out,
            flush=True,
        )
    dynamodb = platform.client("dynamodb")
    tables = [*platform.hot_stores, *([platform.index_table] if platform.index_table else [])]
    for table in tables:
        items = _purge_table(dynamodb, table, dry_run=dry_run)
        if items is None:
            print(f"  table {table}: does not exist", file=out)
            continue
        counts.tables[table] = items
        print(f"  table {table}: {verb} {items} item(s)", file=out, flush=True)
    sqs = platform.client("sqs")
    for name in platform.dlq_names:
        counts.queues[name] = messages = _purge_queue(sqs, name, dry_run=dry_run)
        print(
            f"  queue {name}: " + ("does not exist" if messages is None else f"{verb} {messages} message(s)"),
            file=out,
            flush=True,
        )
    for note in platform.notes:
        print(f"  note: {note}", file=out)
    print(f"  kept: {', '.join(KEPT_PREFIXES)} (the proof that requests were handled; Glue scripts)", file=out)
    if dry_run:
        return counts
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{AUDIT_PREFIX}shop-purge-{stamp}.json"
    audit = {
        "kind": "shop_purge",
        "shop_domain": platform.shop_domain,
        "environment": platform.environment,
        "started_at": started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "finished_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "operator": _operator(platform),
        "shop_redact_requests": requests,
        "bucket": platform.bucket,
        "purged_prefixes": list(PURGED_PREFIXES),
        "kept_prefixes": list(KEPT_PREFIXES),
        **counts.to_json(),
    }
    s3.put_object(
        Bucket=platform.bucket,
        Key=key,
        Body=json.dumps(audit, indent=2, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )
    print(f"  audit s3://{platform.bucket}/{key}", file=out)
    return counts


# ---------------------------------------------------------------------------------------- commands


def _person(args: argparse.Namespace) -> Person:
    return Person(
        customer_ids=tuple(args.customer_id or ()),
        order_ids=tuple(args.order_id or ()),
        recharge_customer_ids=tuple(args.recharge_customer_id or ()),
        emails=tuple(args.email or ()),
        phones=tuple(args.phone or ()),
    )


def cmd_erase(args: argparse.Namespace) -> int:
    person = _person(args)
    id_subjects(person)  # the ids checked before any AWS call
    return submit(resolve(args.env), "erase", person, sys.stdout, full_scan=args.full_scan, wait_for_end=args.wait)


def cmd_export(args: argparse.Namespace) -> int:
    person = _person(args)
    id_subjects(person)
    return submit(resolve(args.env), "export", person, sys.stdout, wait_for_end=args.wait)


def cmd_status(args: argparse.Namespace) -> int:
    return status(resolve(args.env), check_request_id(args.request_id), sys.stdout)


def cmd_resume(args: argparse.Namespace) -> int:
    return resume(resolve(args.env), check_request_id(args.request_id), sys.stdout, wait_for_end=args.wait)


def cmd_fetch(args: argparse.Namespace) -> int:
    return fetch(resolve(args.env), check_request_id(args.request_id), Path(args.out), sys.stdout)


def cmd_purge_shop(args: argparse.Namespace) -> int:
    _, shop = environment_settings(args.env)
    check_confirmation(args.confirm, shop.strip().lower())  # before any AWS call
    purge_shop(resolve(args.env), args.confirm, sys.stdout, dry_run=args.dry_run)
    return 0


def _add_person(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument(
        "--customer-id", action="append", metavar="ID", help="Shopify customer id (repeatable; gid:// accepted)"
    )
    parser.add_argument(
        "--email",
        action="append",
        metavar="EMAIL",
        help="an e-mail address of the person (repeatable); only its keyed digest is kept, never the address",
    )
    parser.add_argument(
        "--phone", action="append", metavar="PHONE", help="a phone number (repeatable); only its keyed digest is kept"
    )
    parser.add_argument(
        "--recharge-customer-id", action="append", metavar="ID", help="Recharge customer id (repeatable)"
    )
    parser.add_argument("--order-id", action="append", metavar="ID", help="Shopify order id (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow the execution to its end and print its summary")


def register(subparsers: Any) -> None:
    privacy = subparsers.add_parser(
        "privacy",
        help="privacy requests: erase or export a person's data, follow a request, purge the shop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = privacy.add_subparsers(dest="privacy_command", required=True)
    erase = commands.add_parser(
        "erase",
        help="erase a person's contact data everywhere the platform keeps it (an operator request)",
        description="Record an erasure request for the person and start the privacy workflow for it.",
    )
    _add_person(erase)
    erase.add_argument(
        "--full-scan",
        action="store_true",
        help="read every object under raw/ and quarantine/ instead of the index (data written before it existed)",
    )
    erase.set_defaults(func=cmd_erase)
    export = commands.add_parser(
        "export",
        help="export everything the platform holds about a person (an access request)",
        description="Record an access request for the person and start the privacy workflow for it.",
    )
    _add_person(export)
    export.set_defaults(func=cmd_export)
    status_parser = commands.add_parser("status", help="a request's record, executions and audit entry")
    add_env_argument(status_parser)
    status_parser.add_argument("--request-id", required=True, help="the request id (32 hex)")
    status_parser.set_defaults(func=cmd_status)
    resume_parser = commands.add_parser(
        "resume", help="start a request again where it stopped (<id>-resume-<n>, same input)"
    )
    add_env_argument(resume_parser)
    resume_parser.add_argument("--request-id", required=True, help="the request id (32 hex)")
    resume_parser.add_argument("--wait", action="store_true", help="follow the execution to its end")
    resume_parser.set_defaults(func=cmd_resume)
    fetch_parser = commands.add_parser("fetch", help="download an access request's export (exports/privacy/<id>/)")
    add_env_argument(fetch_parser)
    fetch_parser.add_argument("--request-id", required=True, help="the request id (32 hex)")
    fetch_parser.add_argument("--out", required=True, metavar="FILE", help="a new file (never overwritten)")
    fetch_parser.set_defaults(func=cmd_fetch)
    purge = commands.add_parser(
        "purge-shop",
        help="after shop/redact: delete every object, item and DLQ message of the shop (never automatic)",
        description=(
            "Delete every object version and delete marker under "
            + ", ".join(PURGED_PREFIXES)
            + "; every item of the hot-store tables and the privacy index; the five Shopify event DLQs' "
            "messages. Keeps " + ", ".join(KEPT_PREFIXES) + ". Writes an audit entry. "
            "Runbook: docs/runbooks/shopify-shop-redact-received.md"
        ),
    )
    add_env_argument(purge)
    purge.add_argument(
        "--confirm", required=True, metavar="DOMAIN", help="the environment's shop domain, typed exactly (ShopDomain)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    purge.set_defaults(func=cmd_purge_shop)
