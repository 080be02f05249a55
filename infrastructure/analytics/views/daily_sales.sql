-- daily_sales: the shop's sales per UTC day (the order's creation day) and currency, over counted orders
-- (test = false AND deleted = false; cancelled orders count, and what was refunded on them shows as refunds).
-- Amounts are what the order charged, shipping and tax included; refunds are those recorded on the order so
-- far, on the order's creation day. net_sales = gross_sales - discounts - refunds. docs/analytics.md#daily_sales
--
-- Athena engine 3 (Trino) SQL over the processed database; the local engine runs it translated by sqlglot.
-- Every output column is cast so that both engines give it the same type (the catalog declares it).
WITH counted AS (
    SELECT
        CAST(created_at AS date) AS day,
        currency,
        coalesce(total_price, 0) AS total_price,
        coalesce(total_discounts, 0) AS total_discounts,
        coalesce(total_refunded, 0) AS total_refunded
    FROM orders_enriched
    WHERE test = false AND deleted = false
)
SELECT
    day,
    currency,
    CAST(count(*) AS bigint) AS orders,
    CAST(sum(total_price + total_discounts) AS decimal(38, 4)) AS gross_sales,
    CAST(sum(total_discounts) AS decimal(38, 4)) AS discounts,
    CAST(sum(total_refunded) AS decimal(38, 4)) AS refunds,
    CAST(sum(total_price - total_refunded) AS decimal(38, 4)) AS net_sales,
    CAST(sum(total_price) AS double) / count(*) AS average_order_value
FROM counted
GROUP BY day, currency
