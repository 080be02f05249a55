"""Webhooks arrive late, out of order, more than once and under sibling topics (Recharge sends the same
body as subscription/updated and subscription/activated, and anyone holding a captured body can re-post
it under another topic): whatever the order and the topics, the hot store ends with the newest version,
its state never depends on the topic, and the lake holds every (version, topic) once (property-based,
through the whole handler)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.recharge.conftest import ReceiverFactory, Stack, fixture_record, response_json, signed_event

_ids = itertools.count(900_000_000)
STATUSES = ("active", "paused", "cancelled", "expired")
# Topics whose agreement with the body does not depend on its status: any of them may carry any version.
SIBLINGS = ("subscription/updated", "subscription/activated", "subscription/skipped", "subscription/swapped")
NEW_YORK = ZoneInfo("America/New_York")
BASE = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)  # spans the New York DST change, where naive values are tricky


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Distinct versions of one subscription, and a delivery order with repeats (indices into versions)."""
    offsets = draw(st.lists(st.integers(min_value=0, max_value=72 * 60), min_size=1, max_size=6, unique=True))
    versions = []
    for offset in offsets:
        moment = BASE + timedelta(minutes=offset)
        naive = draw(st.booleans())  # Recharge mixes naive (New York) and offset forms
        stamp = (
            moment.astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M:%S")
            if naive
            else moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        )
        versions.append({"status": draw(st.sampled_from(STATUSES)), "updated_at": stamp, "moment": moment})
    order = draw(st.lists(st.sampled_from(range(len(versions))), min_size=len(versions), max_size=3 * len(versions)))
    missing = [i for i in range(len(versions)) if i not in order]
    order = draw(st.permutations(order + missing))
    topics = draw(st.lists(st.sampled_from(SIBLINGS), min_size=len(order), max_size=len(order)))
    return versions, list(zip(order, topics, strict=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_any_delivery_order_leaves_the_newest_state(
    aws_stack: Stack, make_receiver: ReceiverFactory, history: tuple[list[dict[str, Any]], list[tuple[int, str]]]
) -> None:
    versions, order = history
    receiver = make_receiver()
    subscription_id = str(next(_ids))
    base = fixture_record("subscription")
    outcomes = []
    for index, topic in order:
        version = versions[index]
        record = dict(base, id=int(subscription_id), status=version["status"], updated_at=version["updated_at"])
        body = json.dumps({"subscription": record}).encode()
        response = receiver.handle(signed_event(body, topic))
        assert response["statusCode"] == 200
        outcomes.append(response_json(response)["outcome"])
    newest = max(versions, key=lambda v: v["moment"])
    item = aws_stack.item("subscriptions", {"subscription_id": subscription_id})
    assert item is not None
    assert item["status"] == newest["status"]
    assert item["source_updated_at"] == newest["moment"].strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert item["source_event_id"].startswith("c-")  # the body's hash: no topic can outrank another
    indices = [index for index, _ in order]
    assert outcomes.count("written") <= len(versions)  # never more writes than versions, whatever the topics
    assert len(indices) - len(set(indices)) <= outcomes.count("duplicate") + outcomes.count("stale")
    raw = [k for k in aws_stack.keys("raw/recharge/subscription/") if f"/{subscription_id}-" in k]
    assert len(raw) == len(set(order))  # every (version, topic) once in the lake, whatever arrived late or twice
