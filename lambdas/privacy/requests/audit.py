"""The ``finish`` step's audit entry (``metadata/privacy/audit/<request id>.json``): what was done where.

It names keys, version ids and counts, JSON field paths, tables and item keys, attribute names, queue
names and counts — never a personal value (no name, e-mail, phone, address, body, nor the e-mail and
phone digests of the request). Every location the plan found is listed, changed or not, so a request
for a person already erased reads "checked everywhere, nothing left to change" (``totals.changes`` 0).
``processed/`` is listed as checked by contract: the Glue job writes no contact fields there
(``tests/glue``), so there is nothing in it to erase.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from common.privacy.requests import PrivacyRequest, audit_key
from common.timeutil import iso_utc
from privacy.requests import work

SCHEMA = 1
PROCESSED = {
    "zone": "processed/",
    "checked": True,
    "reason": "holds no contact fields by contract (tests/glue); ids and money stay, as in the orders hot store",
}


def _of(progress: work.Progress, kind: str) -> list[dict[str, Any]]:
    return [result for result in progress.results if result.get("kind") == kind]


def totals(progress: work.Progress) -> dict[str, int]:
    objects = _of(progress, work.OBJECT)
    items = _of(progress, work.ITEM)
    queues = _of(progress, work.QUEUE)
    sweeps = _of(progress, work.CHECKPOINTS)
    found = {
        "locations_checked": len(objects),
        "versions_checked": sum(int(r.get("versions_checked", 0)) for r in objects),
        "objects_rewritten": sum(1 for r in objects if r.get("rewritten")),
        "versions_deleted": sum(len(r.get("versions_deleted", [])) for r in objects),
        "items_checked": len(items),
        "items_changed": sum(1 for r in items if r.get("removed")),
        "attributes_removed": sum(len(r.get("removed", [])) for r in items),
        "queues_checked": len(queues),
        "messages_checked": sum(int(r.get("messages", 0)) for r in queues),
        "messages_redacted": sum(int(r.get("redacted", 0)) for r in queues),
        "checkpoint_versions_checked": sum(int(r.get("versions_checked", 0)) for r in sweeps),
        "checkpoint_versions_deleted": sum(len(r.get("versions_deleted", [])) for r in sweeps),
        "uploads_aborted": sum(int(r.get("aborted_uploads", 0)) for r in sweeps),
    }
    found["changes"] = (
        found["objects_rewritten"]
        + found["versions_deleted"]
        + found["items_changed"]
        + found["messages_redacted"]
        + found["checkpoint_versions_deleted"]
        + found["uploads_aborted"]
    )
    return found


def audit_document(
    request: PrivacyRequest, plan: work.Plan, progress: work.Progress, *, finished_at: datetime
) -> dict[str, Any]:
    kinds = Counter(subject.split(":", 1)[0] for subject in plan.person.subjects)
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "request_id": request.request_id,
        "kind": request.kind,
        "origin": request.origin,
        "topic": request.topic,
        "shop_domain": request.shop_domain,
        "received_at": request.received_at,
        "request_key": plan.request_key,
        "planned_at": plan.planned_at,
        "finished_at": iso_utc(finished_at),
        "plan": {
            "full_scan": plan.full_scan,
            "rounds": plan.rounds,
            "converged": plan.converged,
            "subject_kinds": dict(sorted(kinds.items())),
            "locations": len(plan.locations),
            "hot_store_items": len(plan.items),
            "queues": list(plan.queues),
        },
        "erase_steps": progress.steps,
        "totals": totals(progress),
    }
    if request.kind == "erase":
        document["erasure"] = {
            "objects": _of(progress, work.OBJECT),
            "items": _of(progress, work.ITEM),
            "queues": _of(progress, work.QUEUE),
            "checkpoints": _of(progress, work.CHECKPOINTS),
            "bulk_runs": _of(progress, work.RUN),
            "processed": PROCESSED,
        }
    if progress.export is not None:
        document["export"] = progress.export
    return document


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """What the ``finish`` step returns: the request, where its audit is, and the totals."""
    return {
        "request_id": document["request_id"],
        "kind": document["kind"],
        "status": "done",
        "remaining": 0,
        "audit_key": audit_key(str(document["request_id"])),
        "totals": document.get("totals", {}),
        "export": document.get("export"),
    }
