"""Hostile input against the Shopify compliance webhook (docs/privacy.md, "Attacks the endpoint withstands").

Each case sends one attack between two legitimate requests to the handler under moto and asserts the
HTTP status, that the lake holds exactly the legitimate requests' records (nothing added, nothing
changed by the attack), that the attack started no privacy workflow execution (an erasure started by
a forged or replayed request would be the worst outcome), and that both legitimate requests were
recorded and started. The attacker holds a captured, correctly signed ``customers/redact`` request (as
an eavesdropper on the wire or in a log would) but not the app's client secret.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.shopify_compliance.conftest import (  # noqa: F401 - the fixtures are used by name
    PREFIX,
    Lake,
    _metrics_namespace,
    app_classes,
    bare_lake,
    body_of,
    http_event,
    lake,
    make_receiver,
    sign,
)

_customers = itertools.count(500_000)
CAPTURED = body_of("customers/redact", customer={"id": 42, "email": "victim@example.com", "phone": None})


def _legitimate() -> dict[str, Any]:
    body = body_of("customers/redact", customer={"id": next(_customers), "email": "a@example.com", "phone": None})
    return http_event(body, event_id=f"legit-{next(_customers)}")


def _forged() -> dict[str, Any]:
    body = body_of("customers/redact", customer={"id": 1, "email": "someone@example.com", "phone": None})
    return http_event(body, signature=sign(body, "guessed-secret"))


def _forged_shop_redact() -> dict[str, Any]:
    body = body_of("shop/redact")
    return http_event(body, topic="shop/redact", signature=sign(body, ""))


def _unsigned() -> dict[str, Any]:
    return http_event(body_of("shop/redact"), topic="shop/redact", signature=None)


def _tampered() -> dict[str, Any]:
    """The captured signature over a body with one more order to erase."""
    document = json.loads(CAPTURED)
    document["orders_to_redact"].append(123)
    return http_event(json.dumps(document).encode(), signature=sign(CAPTURED))


def _relabelled_as_shop_redact() -> dict[str, Any]:
    return http_event(CAPTURED, topic="shop/redact")


def _relabelled_as_data_request() -> dict[str, Any]:
    return http_event(CAPTURED, topic="customers/data_request")


def _replayed_same_id() -> dict[str, Any]:
    return http_event(CAPTURED)


def _replayed_new_id() -> dict[str, Any]:
    return http_event(CAPTURED, event_id="fresh-looking-id", extra={"X-Shopify-Webhook-Id": "fresh"})


def _oversized() -> dict[str, Any]:
    body = body_of("customers/redact", padding="x" * 10_000)
    return http_event(body)


def _oversized_base64() -> dict[str, Any]:
    body = body_of("customers/redact", padding="x" * 10_000)
    return http_event(body, base64_body=True)


def _other_shop() -> dict[str, Any]:
    """Correctly signed (another shop of the same app) but not this platform's shop."""
    return http_event(body_of("shop/redact", shop_domain="other.myshopify.com"), topic="shop/redact")


def _other_shop_header_only() -> dict[str, Any]:
    """The unsigned shop header relabelled: the signed body still names this shop, so it is recorded
    once (the captured request itself) and a replay is a no-op."""
    return http_event(CAPTURED, extra={"X-Shopify-Shop-Domain": "other.myshopify.com"})


def _path_traversal_id() -> dict[str, Any]:
    return http_event(CAPTURED, event_id="../../raw/shopify/evil")


def _wrong_method() -> dict[str, Any]:
    return http_event(CAPTURED, method="GET")


def _conflicting_topic_spellings() -> dict[str, Any]:
    """The captured request with a second spelling of the topic header naming another topic."""
    return http_event(CAPTURED, extra={"Shopify-Topic": "shop/redact"})


def _other_route() -> dict[str, Any]:
    return http_event(CAPTURED) | {"routeKey": "$default", "rawPath": "/anything"}


def _relabelled_as_data_request_with_extra_keys() -> dict[str, Any]:
    """A new body (so a new request id) cannot be signed without the secret: any edit is a forgery."""
    document = json.loads(CAPTURED)
    document["data_request"] = {"id": 1}
    return http_event(json.dumps(document).encode(), topic="customers/data_request", signature=sign(CAPTURED))


ATTACKS: dict[str, tuple[Callable[[], dict[str, Any]], int]] = {
    "forged": (_forged, 401),
    "forged-empty-secret": (_forged_shop_redact, 401),
    "unsigned": (_unsigned, 401),
    "tampered-body": (_tampered, 401),
    "relabelled-shop-redact": (_relabelled_as_shop_redact, 400),
    "relabelled-data-request": (_relabelled_as_data_request, 400),
    "redelivered": (_replayed_same_id, 200),
    "replayed-new-id": (_replayed_new_id, 200),
    "oversized": (_oversized, 413),
    "oversized-base64": (_oversized_base64, 413),
    "other-shop": (_other_shop, 403),
    "other-shop-header": (_other_shop_header_only, 200),
    "traversal-in-id": (_path_traversal_id, 200),
    "wrong-method": (_wrong_method, 405),
    "conflicting-topic-headers": (_conflicting_topic_spellings, 400),
    "other-route": (_other_route, 404),
    "edited-into-data-request": (_relabelled_as_data_request_with_extra_keys, 401),
}


@pytest.fixture
def world(make_receiver: Callable[..., Any], lake: Lake) -> tuple[Any, Lake]:  # noqa: F811 - fixtures by name
    return make_receiver(), lake


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack(name: str, world: tuple[Any, Lake]) -> None:
    receiver, store = world
    assert receiver.handle(http_event(CAPTURED))["statusCode"] == 200  # the captured request, once
    first = _legitimate()
    assert receiver.handle(first)["statusCode"] == 200
    before, started = store.objects(), _started(store)
    assert len(started) == 2
    attack, status = ATTACKS[name]
    response = receiver.handle(attack())
    assert response["statusCode"] == status, response
    assert store.objects() == before, "the attack changed the lake"
    assert _started(store) == started, "the attack started a privacy workflow execution"
    second = _legitimate()
    assert receiver.handle(second)["statusCode"] == 200
    after = store.objects()
    assert len(after) == len(before) + 1
    assert all(key.startswith(PREFIX) for key in after)
    assert all(before[key] == after[key] for key in before)
    assert len(_started(store)) == len(started) + 1


def _started(store: Lake) -> dict[str, tuple[str, str]]:
    """name -> (input, start date) of every execution of the privacy state machine."""
    return {name: (json.dumps(e["input"]), str(e["startDate"])) for name, e in store.executions().items()}
