"""``platformctl recharge sign``: a Recharge webhook delivery signed like Recharge signs it, for manual tests;
``platformctl recharge url``: the webhook URL to register with Recharge (it carries the path token).

Prints the headers Recharge would send and a curl line that posts the file's exact bytes (``--data-binary``)
to the webhook URL. The signing here is written from Recharge's description (docs/recharge.md), apart
from the handler's verifier, so the two check each other in the tests:

- legacy ``X-Recharge-Hmac-Sha256``: hex SHA-256 of the client secret followed by the body;
- timestamped ``X-Recharge-Webhook-Signature: t=<epoch>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
  with ``X-Recharge-Webhook-Timestamp: <t>`` beside it.

The URL is ``<RechargeWebhookUrl output>/<path token>[/<resource>/<event>]``: the path token is the
secret's ``path_token`` key, or, when the secret has none, the one derived from its ``webhook_secret``
(first 40 hex digits of HMAC-SHA256 keyed by it over ``recharge-webhook-path-token``), written here apart
from the handler's ``path_token_of`` so the two check each other in the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformctl.aws_target import add_env_argument
from platformctl.errors import UserError

URL_PLACEHOLDER = "https://<api-id>.execute-api.<region>.amazonaws.com/recharge/webhooks/<path-token>"
SCHEMES = ("both", "timestamped", "legacy")


def legacy_signature(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def timestamped_signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(
    secret: str, body: bytes, *, topic: str | None, timestamp: int | None = None, scheme: str = "both"
) -> dict[str, str]:
    """The headers of a Recharge delivery of ``body`` (``scheme``: both, timestamped or legacy)."""
    if scheme not in SCHEMES:
        raise UserError(f"unknown signature scheme {scheme!r}: one of {', '.join(SCHEMES)}")
    headers = {"Content-Type": "application/json"}
    if topic:
        headers["X-Recharge-Topic"] = topic
    if scheme in ("both", "legacy"):
        headers["X-Recharge-Hmac-Sha256"] = legacy_signature(secret, body)
    if scheme in ("both", "timestamped"):
        moment = int(time.time()) if timestamp is None else timestamp
        headers["X-Recharge-Webhook-Timestamp"] = str(moment)
        headers["X-Recharge-Webhook-Signature"] = timestamped_signature(secret, body, moment)
    return headers


def infer_topic(body: bytes) -> str:
    """``<resource>/updated`` from a payload's single top-level key."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise UserError("the file is not JSON, so its topic cannot be inferred: pass --topic") from None
    if not isinstance(payload, dict) or len(payload) != 1:
        raise UserError(
            'a Recharge payload has one top-level key named after its resource ({"subscription": {...}}); '
            "pass --topic for anything else"
        )
    return f"{next(iter(payload))}/updated"


def path_token(document: dict[str, Any]) -> str:
    """The path token of a RechargeWebhookSecret JSON document (see the module doc)."""
    token = document.get("path_token")
    if isinstance(token, str) and token:
        return token
    secret = document.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise UserError("the RechargeWebhookSecret has neither path_token nor webhook_secret")
    return hmac.new(secret.encode("utf-8"), b"recharge-webhook-path-token", hashlib.sha256).hexdigest()[:40]


def webhook_url(environment: str, topic: str | None = None, *, edge: bool = False) -> str:
    """The URL Recharge must post to in ``environment`` (the stack output plus the secret's path token)."""
    from platformctl.aws_target import stack_output, target_for

    target = target_for(environment)
    base = stack_output(target, "recharge", "webhook", "RechargeWebhookEdgeUrl" if edge else "RechargeWebhookUrl")
    secret_arn = stack_output(target, "shared", "secrets-manager", "RechargeWebhookSecretArn")
    try:
        value = target.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        document = json.loads(value)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the operator's to fix, in one line
        raise UserError(
            f"cannot read the RechargeWebhookSecret ({type(exc).__name__}): check your credentials"
        ) from None
    if not isinstance(document, dict):
        raise UserError("the RechargeWebhookSecret is not a JSON object")
    url = f"{base.rstrip('/')}/{path_token(document)}"
    return f"{url}/{topic}" if topic else url


def _default_url() -> str:
    try:
        return webhook_url("local")
    except UserError:
        return URL_PLACEHOLDER


def _read_secret(value: str) -> str:
    secret = sys.stdin.readline().strip() if value == "-" else value
    if not secret:
        raise UserError("the secret is empty: pass --secret S (or --secret - and the secret on stdin)")
    return secret


def cmd_sign(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    secret = _read_secret(args.secret)
    topic = args.topic or infer_topic(body)
    if args.topic is None:
        print(f"# topic inferred from the payload: {topic} (pass --topic to choose)", file=sys.stderr)
    base = args.url or _default_url()  # the URL with its path token
    url = f"{base.rstrip('/')}/{topic}" if args.per_topic_url else base
    headers = signed_headers(secret, body, topic=topic, timestamp=args.timestamp, scheme=args.scheme)
    stamp = headers.get("X-Recharge-Webhook-Timestamp")
    when = f" at {datetime.fromtimestamp(int(stamp), UTC).isoformat()}" if stamp else ""
    print(f"# Recharge delivery of {topic}, {len(body)} bytes, signed ({args.scheme}){when}")
    for name, value in headers.items():
        print(f"{name}: {value}")
    print()
    parts = ["curl", "-sS", "-i", "-X", "POST", shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-binary", shlex.quote(f"@{path}")]
    print(" ".join(parts))
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    print(webhook_url(args.env, args.topic, edge=args.edge))
    return 0


def register(subparsers: Any) -> None:
    recharge = subparsers.add_parser(
        "recharge", help="Recharge webhooks: the URL to register, and signing a delivery for manual testing"
    )
    commands = recharge.add_subparsers(dest="recharge_command", required=True)
    url = commands.add_parser(
        "url",
        help="print the webhook URL to register with Recharge (it carries the secret path token: keep it private)",
        description=(
            "The stack output RechargeWebhookUrl followed by the path token from the RechargeWebhookSecret "
            "(key path_token). Register it, or its per-topic form (--topic), as each webhook's address."
        ),
    )
    add_env_argument(url)
    url.add_argument("--topic", help="the per-topic URL, e.g. subscription/cancelled (recommended)")
    url.add_argument("--edge", action="store_true", help="through the CloudFront + WAF front (EdgeFront=enabled)")
    url.set_defaults(func=cmd_url)
    sign = commands.add_parser(
        "sign",
        help="print a signed Recharge delivery of FILE (headers and a curl line)",
        description=(
            "Sign FILE's exact bytes as Recharge would (both schemes by default) and print the headers and a "
            "curl line. FILE is the whole body, e.g. jq '{subscription: .}' "
            "tests/fixtures/recharge/subscription__airbyte.json > /tmp/subscription.json"
        ),
    )
    sign.add_argument("file", metavar="FILE", help="the JSON body to send, byte for byte")
    sign.add_argument(
        "--secret", required=True, help="the Recharge API client secret; '-' reads it from stdin (no shell history)"
    )
    sign.add_argument("--topic", help="e.g. subscription/cancelled (default: <resource>/updated from the payload)")
    sign.add_argument("--scheme", choices=SCHEMES, default="both", help="signature headers to include (default both)")
    sign.add_argument("--timestamp", type=int, help="epoch seconds of the timestamped signature (default now)")
    sign.add_argument(
        "--url",
        help="webhook URL with its path token (default: the running local cloud's, see `platformctl recharge url`)",
    )
    sign.add_argument(
        "--per-topic-url", action="store_true", help="post to <url>/<resource>/<event> instead of the common URL"
    )
    sign.set_defaults(func=cmd_sign)
