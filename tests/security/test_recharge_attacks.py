"""Hostile input against the Recharge webhook endpoint (docs/recharge.md, "Attacks the endpoint withstands").

Each case sends one attack between two legitimate deliveries (fresh ids, signed as Recharge signs today:
both headers) to the handler under moto, and asserts: the HTTP status; that no hot-store item, raw lake
object or alert changed apart from the legitimate deliveries' own; that the quarantine grew only where
the design says it may (an HMAC-authenticated body whose topic disagrees with it: one object, keyed by the
body's hash, so replays overwrite it); and that both legitimate deliveries were stored.

The world before each attack: a captured ``subscription/updated`` (fresh), a captured cancellation (its
alert already published), a captured ``charge/failed`` and a stale delivery signed 49 hours ago, all
stored, as an eavesdropper on the wire (or in a log) would hold them.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from platformctl.commands.recharge import signed_headers
from tests.unit.recharge.conftest import (  # noqa: F401 - the fixtures are used by name
    OLD_PATH_TOKEN,
    OLD_SECRET,
    PATH_TOKEN,
    SECRET,
    ReceiverFactory,
    Stack,
    _metrics_namespace,
    app_classes,
    aws_stack,
    fixture_record,
    http_event,
    make_receiver,
    response_json,
    signed_event,
)

_ids = itertools.count(700_000_000)
NOW = time.time()
STALE = int(NOW) - 49 * 3600
CANCELLED = {"status": "cancelled", "cancelled_at": "2026-01-01T00:00:00+00:00"}


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def _body(resource: str, resource_id: int, *, at: float = NOW - 60, **changes: Any) -> bytes:
    return json.dumps(
        {resource: dict(fixture_record(resource), id=resource_id, updated_at=_stamp(at), **changes)}
    ).encode()


# ------------------------------------------------------------------------------ SHA-256 length extension

_K = [
    0x428A2F98,
    0x71374491,
    0xB5C0FBCF,
    0xE9B5DBA5,
    0x3956C25B,
    0x59F111F1,
    0x923F82A4,
    0xAB1C5ED5,
    0xD807AA98,
    0x12835B01,
    0x243185BE,
    0x550C7DC3,
    0x72BE5D74,
    0x80DEB1FE,
    0x9BDC06A7,
    0xC19BF174,
    0xE49B69C1,
    0xEFBE4786,
    0x0FC19DC6,
    0x240CA1CC,
    0x2DE92C6F,
    0x4A7484AA,
    0x5CB0A9DC,
    0x76F988DA,
    0x983E5152,
    0xA831C66D,
    0xB00327C8,
    0xBF597FC7,
    0xC6E00BF3,
    0xD5A79147,
    0x06CA6351,
    0x14292967,
    0x27B70A85,
    0x2E1B2138,
    0x4D2C6DFC,
    0x53380D13,
    0x650A7354,
    0x766A0ABB,
    0x81C2C92E,
    0x92722C85,
    0xA2BFE8A1,
    0xA81A664B,
    0xC24B8B70,
    0xC76C51A3,
    0xD192E819,
    0xD6990624,
    0xF40E3585,
    0x106AA070,
    0x19A4C116,
    0x1E376C08,
    0x2748774C,
    0x34B0BCB5,
    0x391C0CB3,
    0x4ED8AA4A,
    0x5B9CCA4F,
    0x682E6FF3,
    0x748F82EE,
    0x78A5636F,
    0x84C87814,
    0x8CC70208,
    0x90BEFFFA,
    0xA4506CEB,
    0xBEF9A3F7,
    0xC67178F2,
]


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF


def _compress(state: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xFFFFFFFF)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & 0xFFFFFFFF
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & 0xFFFFFFFF
        a, b, c, d, e, f, g, h = (t1 + t2) & 0xFFFFFFFF, a, b, c, (d + t1) & 0xFFFFFFFF, e, f, g
    return [(x + y) & 0xFFFFFFFF for x, y in zip(state, [a, b, c, d, e, f, g, h], strict=True)]


def _padding(length: int) -> bytes:
    return b"\x80" + b"\x00" * ((55 - length) % 64) + struct.pack(">Q", length * 8)


def length_extend(digest_hex: str, known: bytes, secret_length: int, suffix: bytes) -> tuple[bytes, str]:
    """(forged body, its legacy digest) from one legacy-signed body, without the secret."""
    glue = _padding(secret_length + len(known))
    forged = known + glue + suffix
    state = list(struct.unpack(">8I", bytes.fromhex(digest_hex)))
    tail = suffix + _padding(secret_length + len(forged))
    for offset in range(0, len(tail), 64):
        state = _compress(state, tail[offset : offset + 64])
    return forged, struct.pack(">8I", *state).hex()


# ------------------------------------------------------------------------------ the world


@dataclass
class World:
    stack: Stack
    receiver: Any
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.receiver.handle(event)
        return response

    def state(self) -> dict[str, Any]:
        items = {}
        for table, name in self.stack.tables.items():
            for item in self.stack.dynamodb.scan(TableName=name)["Items"]:
                items[
                    (table, json.dumps({k: v for k, v in item.items() if k.endswith("_id") or k.endswith("_key")}))
                ] = item
        return {
            "items": items,
            "raw": self.stack.objects("raw/"),
            "quarantine": self.stack.objects("quarantine/"),
        }


def _legit(world: World) -> tuple[int, dict[str, Any]]:
    resource_id = next(_ids)
    return resource_id, signed_event(_body("subscription", resource_id), "subscription/updated", per_topic_url=True)


@pytest.fixture(params=["legacy-allowed", "timestamp-required"])
def world(request: pytest.FixtureRequest, aws_stack: Stack, make_receiver: ReceiverFactory) -> World:  # noqa: F811
    required = request.param == "timestamp-required"
    receiver = make_receiver(REQUIRE_TIMESTAMPED_SIGNATURE="true" if required else "false")
    found = World(aws_stack, receiver)
    ids = {name: next(_ids) for name in ("updated", "cancelled", "failed", "stale")}
    found.ids = ids
    found.bodies = {
        "updated": _body("subscription", ids["updated"]),
        "cancelled": _body("subscription", ids["cancelled"], **CANCELLED),
        "failed": _body("charge", ids["failed"], status="error", retry_date=_stamp(NOW + 86400)),
        "stale": _body("subscription", ids["stale"], at=STALE - 600),
    }
    found.captured = {
        "updated": signed_event(found.bodies["updated"], "subscription/updated", per_topic_url=True),
        "cancelled": signed_event(found.bodies["cancelled"], "subscription/cancelled", per_topic_url=True),
        "failed": signed_event(found.bodies["failed"], "charge/failed", per_topic_url=True),
        "stale": signed_event(found.bodies["stale"], "subscription/updated", per_topic_url=True, timestamp=STALE),
    }
    for name in ("updated", "cancelled", "failed"):
        assert response_json(found.send(found.captured[name]))["outcome"] == "written", name
    # The stale one was stored when it was fresh (49 hours ago): write it through a receiver of that time.
    then = make_receiver(clock=lambda: STALE + 5.0)
    assert response_json(then.handle(found.captured["stale"]))["outcome"] == "written"
    assert [a["message"]["alert"] for a in aws_stack.alerts()] == ["subscription-cancelled"]
    return found


def _event_for(world: World, body: bytes, headers: dict[str, str], topic: str | None, **kwargs: Any) -> dict[str, Any]:
    return http_event(body, headers, path_topic=topic, **kwargs)


def _legacy_only(event: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(event))
    for name in ("x-recharge-webhook-signature", "x-recharge-webhook-timestamp"):
        copy["headers"].pop(name, None)
    return copy


def _with(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(event))
    for key, value in changes.items():
        if key == "headers":
            copy["headers"].update(value)
        elif key == "method":
            copy["requestContext"]["http"]["method"] = value
        elif key == "token":
            copy["pathParameters"]["token"] = value
        else:
            copy[key] = value
    return copy


def _relabel(world: World, name: str, topic: str) -> dict[str, Any]:
    """A captured delivery, headers and all, re-posted to another per-topic URL."""
    copy: dict[str, Any] = json.loads(json.dumps(world.captured[name]))
    resource, _, event = topic.partition("/")
    copy["pathParameters"].update(resource=resource, event=event)
    return copy


def _extended(world: World) -> dict[str, Any]:
    captured = world.captured["updated"]
    digest = captured["headers"]["x-recharge-hmac-sha256"]
    suffix = b'{"subscription": {"id": 1, "updated_at": "2099-01-01T00:00:00Z"}}' + b" " * 1000
    forged, forged_digest = length_extend(digest, world.bodies["updated"], len(SECRET), suffix)
    assert signed_headers(SECRET, forged, topic=None, scheme="legacy")["X-Recharge-Hmac-Sha256"] == forged_digest
    headers = {"content-type": "application/json", "x-recharge-hmac-sha256": forged_digest}
    return http_event(forged, headers, path_topic="subscription/updated", base64_body=True)


def _oversized(base64_body: bool) -> Callable[[World], dict[str, Any]]:
    def build(world: World) -> dict[str, Any]:
        limit = world.receiver.settings.max_body_bytes
        head, tail = b'{"subscription": {"id": 1, "pad": "', b'"}}'
        big = head + b"x" * (limit + 1 - len(head) - len(tail)) + tail
        return signed_event(big, "subscription/updated", per_topic_url=True, base64_body=base64_body)

    return build


def _forged_signature(world: World) -> dict[str, Any]:
    return signed_event(
        _body("subscription", world.ids["updated"], status="expired"),
        "subscription/updated",
        secret="not-the-secret",
        per_topic_url=True,
    )


def _tampered(world: World) -> dict[str, Any]:
    return _with(world.captured["updated"], body=world.bodies["updated"].decode().replace('"active"', '"expired"'))


def _old_secret(world: World) -> dict[str, Any]:
    body = _body("subscription", world.ids["updated"], status="expired", at=NOW - 30)
    return signed_event(body, "subscription/updated", secret=OLD_SECRET, per_topic_url=True)


def _probe(token: str | None, topic: str | None = "subscription/updated") -> Callable[[World], dict[str, Any]]:
    def build(world: World) -> dict[str, Any]:
        body = _body("subscription", world.ids["updated"], status="expired", at=NOW - 30)
        headers = signed_headers(SECRET, body, topic=None)
        return http_event(body, headers, path_topic=topic, token=token)

    return build


@dataclass(frozen=True)
class Attack:
    name: str
    build: Callable[[World], dict[str, Any]]
    status: int
    quarantined: str | None = None  # the reason, where the design lets one authentic object in
    new_raw: int = 0  # raw objects the design lets in (a sibling topic of an authentic body)


ATTACKS = [
    # forged
    Attack("forged-timestamped-and-legacy", _forged_signature, 401),
    Attack("forged-legacy-only", lambda w: _legacy_only(_forged_signature(w)), 401),
    Attack("tampered-body", _tampered, 401),
    Attack(
        "legacy-right-timestamped-wrong",
        lambda w: _with(w.captured["updated"], headers={"x-recharge-webhook-signature": f"t={int(NOW)},v1={'0' * 64}"}),
        401,
    ),
    Attack(
        "malformed-signature",
        lambda w: _with(w.captured["updated"], headers={"x-recharge-webhook-signature": "v1=,t=abc"}),
        401,
    ),
    Attack("unsigned", lambda w: _event_for(w, w.bodies["updated"], {}, "subscription/updated"), 401),
    # replayed, stale, future
    Attack("stale-timestamped", lambda w: w.captured["stale"], 401),
    Attack("stale-with-timestamp-header-dropped", lambda w: _legacy_only(w.captured["stale"]), 401),
    Attack(
        "future-timestamp",
        lambda w: signed_event(
            w.bodies["updated"], "subscription/updated", per_topic_url=True, timestamp=int(NOW) + 3600
        ),
        401,
    ),
    Attack("replayed-verbatim", lambda w: w.captured["updated"], 200),
    Attack("replayed-cancellation", lambda w: w.captured["cancelled"], 200),
    Attack("signed-with-another-secret", _old_secret, 401),
    # relabelled (the topic is not signed)
    Attack("updated-as-deleted", lambda w: _relabel(w, "updated", "subscription/deleted"), 200, "topic-disagrees"),
    Attack("updated-as-cancelled", lambda w: _relabel(w, "updated", "subscription/cancelled"), 200, "topic-disagrees"),
    Attack(
        "failed-as-max-retries", lambda w: _relabel(w, "failed", "charge/max_retries_reached"), 200, "topic-disagrees"
    ),
    Attack("cancellation-as-sibling", lambda w: _relabel(w, "cancelled", "subscription/activated"), 200, new_raw=1),
    Attack("subscription-as-charge", lambda w: _relabel(w, "updated", "charge/updated"), 200, "topic-mismatch"),
    Attack(
        "header-topic-conflicts-with-path",
        lambda w: _with(w.captured["updated"], headers={"x-recharge-topic": "subscription/deleted"}),
        200,
        "topic-conflict",
    ),
    # length-extended
    Attack("length-extended-legacy", _extended, 401),
    # oversized
    Attack("oversized", _oversized(False), 413),
    Attack("oversized-base64", _oversized(True), 413),
    # wrong method
    *[
        Attack(f"method-{m}", lambda w, m=m: _with(w.captured["updated"], method=m), 405)  # type: ignore[misc]
        for m in ("GET", "PUT", "DELETE", "PATCH")
    ],
    # wrong content type
    Attack(
        "form-encoded-forgery",
        lambda w: _with(_forged_signature(w), headers={"content-type": "application/x-www-form-urlencoded"}),
        401,
    ),
    Attack(
        "octet-stream-not-base64",
        lambda w: _with(w.captured["updated"], isBase64Encoded=True, body="%%% not base64 %%%"),
        400,
    ),
    # path-token probes
    Attack("no-token-old-common-url", _probe(None, "recharge/webhooks"), 404),
    Attack("no-token-old-per-topic-url", _probe(None, "recharge/webhooks/subscription/updated"), 404),
    Attack("wrong-token", _probe("x" * len(PATH_TOKEN)), 404),
    Attack("token-prefix", _probe(PATH_TOKEN[:-1]), 404),
    Attack("token-plus-one", _probe(PATH_TOKEN + "a"), 404),
    Attack("token-other-case", _probe(PATH_TOKEN.upper()), 404),
    Attack("empty-token", _probe(""), 404),
    Attack("another-deployments-token", _probe(OLD_PATH_TOKEN), 404),
    Attack("valid-delivery-wrong-token", lambda w: _with(w.captured["updated"], token="0" * len(PATH_TOKEN)), 404),
]


def _without(state: dict[str, Any], legit: list[int]) -> dict[str, Any]:
    marks = [str(i) for i in legit]
    return {
        "items": {k: v for k, v in state["items"].items() if not any(m in k[1] for m in marks)},
        "raw": {k: v for k, v in state["raw"].items() if not any(f"/{m}-" in k for m in marks)},
        "quarantine": state["quarantine"],
    }


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_the_attack_changes_nothing_and_legitimate_traffic_flows(world: World, attack: Attack) -> None:
    before = world.state()
    legit_before, first = _legit(world)
    assert world.send(first)["statusCode"] == 200
    event = attack.build(world)
    response = world.send(event)
    assert response["statusCode"] == attack.status, response
    if attack.status == 404:
        assert response_json(response) == {"message": "Not Found"}  # API Gateway's own answer: nothing told
    legit_after, second = _legit(world)
    assert world.send(second)["statusCode"] == 200

    after = world.state()
    expected_quarantine = dict(before["quarantine"])
    if attack.quarantined:
        assert response_json(response) == {"status": "quarantined", "reason": attack.quarantined}
        (added,) = set(after["quarantine"]) - set(before["quarantine"])
        assert f"/{attack.quarantined}/" in added
        expected_quarantine[added] = after["quarantine"][added]
        # bounded: the key is the body's hash, so the same replay again adds nothing
        world.send(attack.build(world))
        assert world.state()["quarantine"] == after["quarantine"]
    assert after["quarantine"] == expected_quarantine
    unchanged = _without(after, [legit_before, legit_after])
    assert unchanged["items"] == before["items"]
    new_raw = set(unchanged["raw"]) - set(before["raw"])
    assert len(new_raw) == attack.new_raw
    assert all(after["raw"][k] in world.bodies.values() for k in new_raw)  # only an authentic body, verbatim
    assert {k: v for k, v in unchanged["raw"].items() if k in before["raw"]} == before["raw"]
    assert world.stack.alerts() == []  # no alert published, not even again
    for resource_id in (legit_before, legit_after):
        assert world.stack.item("subscriptions", {"subscription_id": str(resource_id)}) is not None
        assert any(f"/{resource_id}-" in key for key in after["raw"])


def test_a_flood_of_probes_never_reads_the_secret_more_than_once_a_minute(
    aws_stack: Stack,  # noqa: F811
    make_receiver: ReceiverFactory,  # noqa: F811
) -> None:
    calls = []

    class Counting:
        def get_secret_value(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return aws_stack.secrets.get_secret_value(**kwargs)

    receiver = make_receiver(secrets_client=Counting())
    for index in range(200):
        event = http_event(b"{}", {}, path_topic="subscription/updated", token=f"probe-{index:040d}")
        assert receiver.handle(event)["statusCode"] == 404
    assert len(calls) <= 4  # current and previous, read once, refreshed at most once in the interval


def test_probes_and_refusals_log_no_body_token_or_signature(world: World, caplog: pytest.LogCaptureFixture) -> None:
    from common.observability import logger

    marker = "attacker-marker-0001"
    body = _body("subscription", next(_ids), product_title=marker)
    events = [
        http_event(body, signed_headers(SECRET, body, topic=None), path_topic="subscription/updated", token="bad" * 12),
        signed_event(body, "subscription/updated", secret="nope", per_topic_url=True),
        _extended(world),
    ]
    with caplog.at_level("DEBUG", logger=logger.name):
        for event in events:
            assert world.send(event)["statusCode"] in (401, 404)
    logged = "\n".join(logger.registered_formatter.format(r) for r in caplog.records if r.name == logger.name)
    for secret_thing in (marker, PATH_TOKEN, "bad" * 12, SECRET, base64.b64encode(body).decode()[:40]):
        assert secret_thing not in logged


def test_the_previous_secret_and_token_work_only_within_the_grace_period(
    aws_stack: Stack,  # noqa: F811
    make_receiver: ReceiverFactory,  # noqa: F811
) -> None:
    """After a rotation the previous secret signs and its path token opens the URL for
    PreviousSecretGraceHours after the current version was created, then never again."""
    new_secret, new_token = "rotated-client-secret-0000000000", "rotated-path-token-000000000000000000000"
    aws_stack.secrets.put_secret_value(
        SecretId=aws_stack.secret_arn, SecretString=json.dumps({"webhook_secret": new_secret, "path_token": new_token})
    )
    now = [time.time()]
    receiver = make_receiver(clock=lambda: now[0])

    def deliver(secret: str, token: str) -> int:
        body = _body("subscription", next(_ids), at=now[0] - 30)
        event = signed_event(
            body, "subscription/updated", secret=secret, per_topic_url=True, token=token, timestamp=int(now[0])
        )
        return int(receiver.handle(event)["statusCode"])

    assert deliver(SECRET, PATH_TOKEN) == 200  # the previous pair, within the grace period
    assert deliver(new_secret, new_token) == 200
    now[0] += 48 * 3600 + 60
    receiver.secrets.refresh()
    assert deliver(SECRET, PATH_TOKEN) == 404  # the old URL is gone
    assert deliver(SECRET, new_token) == 401  # the old secret no longer signs
    assert deliver(new_secret, new_token) == 200
