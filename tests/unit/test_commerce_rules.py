"""One definition of the commerce rules: the Lambdas and the Glue scripts use the same module."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from common import commerce_rules as rules
from common.shopify import order_attributes

REPO = Path(__file__).resolve().parents[2]


def test_the_glue_scripts_load_the_lambdas_file_and_keep_no_copy_of_the_rules() -> None:
    link = REPO / "glue-scripts" / "commerce_rules.py"
    assert link.resolve() == (REPO / "lambdas" / "common" / "commerce_rules.py").resolve()
    for script in (REPO / "glue-scripts").glob("*.py"):
        if script.is_symlink():
            continue
        text = script.read_text()
        assert '"PARTIALLY_FULFILLED"' not in text, script.name
        assert "[0-9]{1,19}" not in text, script.name


@pytest.mark.parametrize(
    ("number", "name", "expected"),
    [(1001, "#1001", "1001"), ("1002", None, "1002"), (None, "#1003", "1003"), ("", "1004", "1004"),
     (None, "SHOP-1005", None), (None, None, None)],
)  # fmt: skip
def test_the_order_number_rule_is_the_lambdas(number: object, name: object, expected: str | None) -> None:
    payload = {"order_number": number, "name": name}
    assert order_attributes._order_number(payload) == expected
    assert rules.order_number(number, name) == expected
    spark_form = None if not isinstance(name, str) else re.fullmatch(rules.ORDER_NAME_PATTERN, name)
    if number in (None, "") and spark_form is not None:
        assert spark_form.group(1) == expected


def test_the_fulfillment_map_and_money_are_shared() -> None:
    assert rules.fulfillment_status("PARTIALLY_FULFILLED") == "partial"
    assert rules.fulfillment_status("ON_HOLD") is None
    assert rules.money_column_value("199.00005") == Decimal("199.0001")
    assert rules.money_column_value(0.1) == Decimal("0.1000")
    assert rules.money_column_value("N/A") is None
    assert rules.counts_as_refund("refund", None)
    assert not rules.counts_as_refund("refund", "failure")
    assert rules.is_counted_order(test=None, deleted=False)
    assert not rules.is_counted_order(test=True, deleted=False)


@pytest.mark.slow
def test_spark_applies_the_same_rules_as_python(spark: object) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F  # noqa: N812

    import curated_common as cc
    import orders_enriched as oe

    assert isinstance(spark, SparkSession)
    amounts = ["199.00", "0.1", "12.34567", "N/A", "-3.5"]
    ids = ["450789469", "gid://shopify/Order/12", "gid://x/1", "abc"]
    names = ["#1001", "1002", "SHOP-1"]
    flags = [(None, False), (True, False), (False, True), (False, False)]
    frame = spark.createDataFrame([(a,) for a in amounts], "value string")
    assert [r[0] for r in frame.select(cc.money(F.col("value"))).collect()] == [
        rules.money_column_value(a) for a in amounts
    ]
    frame = spark.createDataFrame([(i,) for i in ids], "value string")
    assert [r[0] for r in frame.select(cc.shopify_id(F.col("value"))).collect()] == [rules.shopify_id(i) for i in ids]
    frame = spark.createDataFrame([(n,) for n in names], "name string")
    numbers = frame.select(oe._order_number(F.lit(None).cast("string"), F.col("name"))).collect()
    assert [r[0] for r in numbers] == [rules.order_number(None, n) for n in names]
    frame = spark.createDataFrame(flags, "test boolean, deleted boolean")
    assert [r[0] for r in frame.select(F.expr(rules.COUNTED_ORDER_SQL)).collect()] == [
        rules.is_counted_order(test=t, deleted=d) for t, d in flags
    ]
