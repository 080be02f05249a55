"""The person a privacy request is about: every subject known to identify them.

A request names some subjects (customer id, order ids, e-mail and phone digests); planning reads the
documents that concern the person and ``learn``s the ids they carry (the Recharge customer behind the
e-mail, a guest checkout's token, the orders of the customer id), until nothing new turns up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.privacy.subjects import (
    CHECKOUT,
    IDENTIFIER_KINDS,
    RECHARGE_CUSTOMER,
    SHOPIFY_CUSTOMER,
    SHOPIFY_ORDER,
    is_subject,
)

# Kinds that say whose a document is.
_OWNER_KINDS = (SHOPIFY_CUSTOMER, RECHARGE_CUSTOMER)
# Kinds that identify one order or checkout, not a person: matching one of them alone is not enough in a
# document that says it belongs to someone else.
_RESOURCE_KINDS = frozenset({SHOPIFY_ORDER, CHECKOUT})


def _kind(subject: str) -> str:
    return subject.partition(":")[0]


def _of_kind(subjects: Iterable[str], kind: str) -> set[str]:
    return {s for s in subjects if _kind(s) == kind}


@dataclass
class Person:
    subjects: set[str] = field(default_factory=set)

    def concerns(self, doc_subjects: Iterable[str]) -> bool:
        """Whether a document with these subjects is about the person: a subject in common, unless the
        only ones in common are order ids or checkout tokens and the document names another customer
        (of a kind the person has) and not them: an order or a cart is one customer's, so such a match
        is a reused cart token or a stale reference, not the person's data."""
        subjects = set(doc_subjects)
        shared = self.subjects & subjects
        if not shared:
            return False
        if any(_kind(s) not in _RESOURCE_KINDS for s in shared):
            return True
        return not self._names_another_owner(subjects)

    def learn(self, doc_subjects: Iterable[str]) -> None:
        """Add the ids (customer, order, Recharge customer, checkout) of a document that concerns them.

        Contact digests are never learnt (a document's other e-mails may be someone else's), and
        nothing is learnt from a document that names another customer of a kind the person already
        has (a gift whose shipping address is theirs concerns them, but its buyer's orders do not).
        Several customer ids of one kind, none of them the person's, are ambiguous and not learnt.
        """
        subjects = set(doc_subjects)
        if not self.concerns(subjects) or self._names_another_owner(subjects):
            return
        learnt = {s for s in subjects if is_subject(s) and _kind(s) in IDENTIFIER_KINDS}
        for kind in _OWNER_KINDS:
            theirs = _of_kind(learnt, kind)
            if len(theirs) > 1 and theirs.isdisjoint(self.subjects):
                learnt -= theirs
        self.subjects |= learnt

    def _names_another_owner(self, subjects: set[str]) -> bool:
        for kind in _OWNER_KINDS:
            theirs, mine = _of_kind(subjects, kind), _of_kind(self.subjects, kind)
            if theirs and mine and theirs.isdisjoint(mine):
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {"subjects": sorted(self.subjects)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Person:
        """The person ``to_json`` wrote; ValueError when it is not that shape."""
        subjects = data.get("subjects") if isinstance(data, Mapping) else None
        if not isinstance(subjects, list) or not all(is_subject(s) for s in subjects):
            raise ValueError("person: subjects is not a list of privacy subjects")
        return cls(set(subjects))
