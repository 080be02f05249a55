"""The processing flow every Shopify webhook processor shares (``Processor.process``).

Check the source, parse (bad input is quarantined and the invocation succeeds), write the event verbatim
to ``raw/shopify/webhooks/...``, fetch a reduced payload's full resource, apply it to the hot store, log
one line (topic, shop, event id; never the payload) and count the outcome. Transient failures propagate,
so Lambda's asynchronous retries and then the dead-letter queue keep the event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from common.errors import BadInput
from common.timeutil import partition_date, utc_now

if TYPE_CHECKING:
    from common.lake import Lake
from common.shopify.events import (
    QUARANTINE_SOURCE,
    Action,
    ShopifyEvent,
    check_source,
    expected_topic,
    parse_event,
    verbatim,
)

Prepared = TypeVar("Prepared")


@dataclass
class Processor(Generic[Prepared]):
    """What one Shopify processor does with an event; ``process`` is the handler's body.

    ``prepare`` reads and checks the payload without side effects (``BadInput`` quarantines the
    event before anything is written); ``store`` applies the prepared state to the hot store or the
    lake and names the outcome (written, stale, duplicate, ...); ``fetch`` returns the full resource
    of a reduced payload. With ``keep_fetched`` the completed event (the delivered envelope with the
    fetched resource as its payload) is also written to ``raw/shopify/fetched/...`` once ``prepare``
    has accepted it and before ``store``, so the lake holds every state the hot store was written from.
    """

    lake: Lake
    entities: Collection[str]
    prepare: Callable[[ShopifyEvent], Prepared]
    store: Callable[[ShopifyEvent, Prepared], str]
    source: str  # the partner event source events must carry (SHOPIFY_EVENT_SOURCE)
    fetch: Callable[[ShopifyEvent], Mapping[str, Any]] | None = None
    keep_fetched: bool = False

    def process(self, event: Any) -> dict[str, str]:
        from common.observability import MetricUnit, logger, metrics

        received_at = utc_now()
        body = verbatim(event)
        try:
            check_source(event, self.source, len(body))
            parsed = parse_event(event)
            logger.append_keys(**parsed.log_keys)
            expected_topic(parsed, self.entities)
            needs_state = parsed.action is not Action.RAW_ONLY
            prepared = self.prepare(parsed) if needs_state and not parsed.reduced else None
        except BadInput as bad:
            return self._quarantine(body, bad, received_at)

        self.lake.put_verbatim(parsed.lake_key(), body, metadata={"event-id": parsed.event_id})
        outcome = "raw-only"
        if needs_state:
            try:
                if parsed.reduced:
                    parsed = self._complete(parsed)
                    prepared = self.prepare(parsed)
                    if self.keep_fetched:
                        self._keep_fetched(parsed)
                outcome = self.store(parsed, prepared)  # type: ignore[arg-type]
            except BadInput as bad:
                return self._quarantine(body, bad, received_at)
        metrics.add_metric(name=f"Events{_camel(outcome)}", unit=MetricUnit.Count, value=1)
        logger.info(
            "shopify event processed",
            extra={"entity": parsed.entity, "outcome": outcome, "dt": partition_date(parsed.triggered_at)},
        )
        return {"outcome": outcome, "event_id": parsed.event_id, "topic": parsed.topic}

    def _complete(self, event: ShopifyEvent) -> ShopifyEvent:
        from common.observability import MetricUnit, logger, metrics

        if self.fetch is None:
            raise BadInput("reduced-payload-unsupported", f"{event.topic}: no Admin API lookup for this resource")
        resource = self.fetch(event)
        metrics.add_metric(name="ReducedPayloadsFetched", unit=MetricUnit.Count, value=1)
        logger.info("reduced payload: fetched the full resource from the Admin API")
        return event.with_payload(resource)

    def _keep_fetched(self, completed: ShopifyEvent) -> None:
        """Same encryption (the bucket's) and idempotency (a key per event id) as the raw write: a
        redelivery rewrites this object, with what the Admin API answers then."""
        self.lake.put_verbatim(
            completed.fetched_key(),
            verbatim(completed.completed()),
            metadata={"event-id": completed.event_id, "payload": "fetched-admin-graphql"},
        )

    def _quarantine(self, body: bytes, bad: BadInput, received_at: datetime) -> dict[str, str]:
        from common.observability import MetricUnit, logger, metrics

        key = self.lake.quarantine(
            source=QUARANTINE_SOURCE,
            reason=bad.reason,
            body=body,
            received_at=received_at,
            detail=bad.detail,
        )
        metrics.add_metric(name="EventsQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("shopify event quarantined", extra={"reason": bad.reason, "detail": bad.detail, "key": key})
        return {"outcome": "quarantined", "reason": bad.reason, "key": key}


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", slug))
