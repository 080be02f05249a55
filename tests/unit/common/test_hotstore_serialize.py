"""``hotstore.serialize``/``deserialize`` answer exactly what boto3's TypeSerializer/TypeDeserializer
answer (after ``to_dynamo_value``), errors included: they only skip its generic dispatch."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from common.hotstore import deserialize, serialize, to_dynamo_value

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),  # beyond 38 digits boto3 refuses: so must serialize
    st.text(max_size=5),
    st.decimals(allow_nan=False, places=4),
    st.decimals(allow_nan=False, allow_infinity=True),  # boto3 refuses Infinity: so must serialize
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=3),
    st.sets(st.text(max_size=3), min_size=1, max_size=3),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


def _outcome(function: Any, item: Any) -> Any:
    try:
        return function(item)
    except Exception as exc:
        return type(exc)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), VALUES, max_size=4))
def test_serialize_and_deserialize_answer_as_boto3_does(item: dict[str, Any]) -> None:
    boto3_serializer, boto3_deserializer = TypeSerializer(), TypeDeserializer()
    expected = _outcome(lambda i: {k: boto3_serializer.serialize(to_dynamo_value(v)) for k, v in i.items()}, item)
    assert _outcome(serialize, item) == expected
    if isinstance(expected, dict):
        assert deserialize(expected) == {k: boto3_deserializer.deserialize(v) for k, v in expected.items()}
