"""The person: when a document concerns them, what is learnt from it, and the JSON form."""

from __future__ import annotations

from typing import Any

import pytest

from common.privacy.person import Person
from common.privacy.subjects import document_subjects
from tests.unit.privacy.common.support import DIGESTER, copied, email, phone

C1, C2 = "shopify-customer:1", "shopify-customer:2"
R1, R2 = "recharge-customer:11", "recharge-customer:12"
O1, O2 = "shopify-order:100", "shopify-order:200"
K1 = "checkout:abc"


def test_a_subject_in_common_concerns_them() -> None:
    person = Person({C1, email("a@b.c")})
    assert person.concerns({C1, O1})
    assert person.concerns([email("a@b.c")])
    assert not person.concerns({C2, O2})
    assert not person.concerns(())
    assert not Person().concerns({C1})


def test_an_order_or_cart_match_in_another_customers_document_does_not() -> None:
    person = Person({C1, O1, K1})
    assert person.concerns({O1}), "a fulfillment names its order only"
    assert person.concerns({K1, C1})
    assert not person.concerns({K1, C2}), "a cart token reused by someone else"
    assert not person.concerns({O1, C2, O2})
    assert person.concerns({O1, C2, email("x@y.z"), phone("+16135550100")}) is False
    person.subjects.add(phone("+16135550100"))
    assert person.concerns({O2, C2, phone("+16135550100")}), "their phone on a gift's shipping address"


def test_learning_the_ids_of_their_documents() -> None:
    person = Person({C1, email("a@b.c")})
    person.learn({email("a@b.c"), R1, "shopify-customer:1", O1, K1, email("other@b.c"), phone("+16135550100")})
    assert person.subjects == {C1, email("a@b.c"), R1, O1, K1}, "ids, never contact digests"
    person.learn({O2, C2})
    assert O2 not in person.subjects, "nothing from a document that does not concern them"


def test_nothing_is_learnt_from_another_customers_document() -> None:
    person = Person({C1, phone("+16135550100")})
    person.learn({phone("+16135550100"), C2, O2, K1})  # a gift sent to them by customer 2
    assert person.subjects == {C1, phone("+16135550100")}
    recharge = Person({R1, email("a@b.c")})
    recharge.learn({email("a@b.c"), R2, "shopify-customer:9"})
    assert recharge.subjects == {R1, email("a@b.c")}


def test_an_email_only_request_learns_the_customer_but_not_from_ambiguous_documents() -> None:
    person = Person({email("a@b.c")})
    person.learn({email("a@b.c"), C1, C2, O1})  # a merge names two customers
    assert person.subjects == {email("a@b.c"), O1}
    person.learn({email("a@b.c"), C1, O2})
    assert person.subjects == {email("a@b.c"), O1, C1, O2}
    person.learn({O1, C1, C2})  # now one of the two is theirs: both are the same person, merged
    assert C2 in person.subjects


def test_learning_from_real_documents() -> None:
    def subjects(doc: Any) -> frozenset[str]:
        return document_subjects(doc, DIGESTER)

    person = Person({"shopify-customer:5213433266347"})
    customer = {"customer": copied("recharge/customer__airbyte.json")}
    charge = {"charge": copied("recharge/charge__airbyte.json")}
    subscription = {"subscription": copied("recharge/subscription__airbyte.json")}
    assert not person.concerns(subjects(subscription))
    person.learn(subjects(customer))
    assert "recharge-customer:64962974" in person.subjects
    assert person.concerns(subjects(subscription)), "found through the Recharge customer learnt"
    person.learn(subjects(charge))
    assert "shopify-order:5006149877931" in person.subjects


def test_json_round_trip() -> None:
    person = Person({C1, O1, email("a@b.c"), K1})
    data = person.to_json()
    assert data == {"subjects": sorted(person.subjects)}
    assert Person.from_json(data) == person


@pytest.mark.parametrize(
    "data",
    [{}, {"subjects": "shopify-customer:1"}, {"subjects": ["jon@doe.ca"]}, {"subjects": [1]}, []],
)
def test_a_bad_person_is_refused_without_its_values(data: Any) -> None:
    with pytest.raises(ValueError, match="person") as raised:
        Person.from_json(data)
    assert "jon@doe.ca" not in str(raised.value)
