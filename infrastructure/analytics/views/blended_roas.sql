-- blended_roas: blended return on ad spend per day and currency: net_sales of daily_sales (counted orders,
-- refunds deducted) against the day's total ad spend across channels that Triple Whale reports
-- (marketing_daily.blended_ad_spend, summed over the shops of the brand). blended_roas = net_sales /
-- ad_spend, null on a day without spend; cost_per_order = ad_spend / orders, null on a day without orders.
-- A day with spend but no orders, or orders but no spend, still has a row. Spend without a currency (Triple
-- Whale's summary page names none) is taken to be in the shop's currency.
-- Caveats: Triple Whale's days are the shop's time zone and daily_sales' are UTC days; a refund recorded
-- later lowers the net_sales of its order's day. docs/analytics.md#blended_roas
--
-- Athena engine 3 (Trino) SQL over the processed database; the local engine runs it translated by sqlglot.
WITH shop_currency AS (
    -- Triple Whale's summary page names no currency: its figures are in the shop's, the currency most of the
    -- shop's counted orders are in.
    SELECT currency FROM daily_sales GROUP BY currency ORDER BY sum(orders) DESC, currency LIMIT 1
),
spend AS (
    SELECT day, coalesce(currency, (SELECT currency FROM shop_currency)) AS currency, sum(blended_ad_spend) AS ad_spend
    FROM marketing_daily
    GROUP BY day, coalesce(currency, (SELECT currency FROM shop_currency))
)
SELECT
    coalesce(s.day, d.day) AS day,
    coalesce(s.currency, d.currency) AS currency,
    CAST(coalesce(s.ad_spend, 0) AS decimal(38, 4)) AS ad_spend,
    CAST(coalesce(d.net_sales, 0) AS decimal(38, 4)) AS net_sales,
    CAST(coalesce(d.orders, 0) AS bigint) AS orders,
    CASE WHEN s.ad_spend > 0 THEN CAST(coalesce(d.net_sales, 0) AS double) / CAST(s.ad_spend AS double) END
        AS blended_roas,
    CASE WHEN d.orders > 0 THEN CAST(coalesce(s.ad_spend, 0) AS double) / d.orders END AS cost_per_order
FROM spend s
FULL OUTER JOIN daily_sales d ON d.day = s.day AND d.currency = s.currency
