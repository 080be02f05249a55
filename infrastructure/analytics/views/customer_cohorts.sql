-- customer_cohorts: customers grouped by the UTC month of their first counted order (test = false AND
-- deleted = false, with a customer: guest checkouts have none), and for each month since - up to the last
-- month with a counted order - how many of the cohort placed a counted order in it (retention =
-- active_customers / cohort_customers; month 0 is the first order's month, so its retention is 1).
-- docs/analytics.md#customer_cohorts
--
-- Athena engine 3 (Trino) SQL over the processed database; the local engine runs it translated by sqlglot.
WITH counted AS (
    SELECT customer_id, CAST(date_trunc('month', created_at) AS date) AS order_month
    FROM orders_enriched
    WHERE test = false AND deleted = false AND customer_id IS NOT NULL
),
firsts AS (
    SELECT customer_id, min(order_month) AS cohort_month
    FROM counted
    GROUP BY customer_id
),
cohorts AS (
    SELECT cohort_month, count(*) AS cohort_customers
    FROM firsts
    GROUP BY cohort_month
),
activity AS (
    SELECT f.cohort_month, c.order_month AS activity_month,
           count(DISTINCT c.customer_id) AS active_customers, count(*) AS orders
    FROM counted c
    JOIN firsts f ON f.customer_id = c.customer_id
    GROUP BY f.cohort_month, c.order_month
),
grid AS (
    SELECT k.cohort_month, k.cohort_customers, CAST(m.month_start AS date) AS activity_month
    FROM cohorts k
    CROSS JOIN (SELECT max(order_month) AS last_month FROM counted) l
    CROSS JOIN UNNEST(sequence(k.cohort_month, l.last_month, INTERVAL '1' MONTH)) AS m (month_start)
)
SELECT
    g.cohort_month,
    CAST((year(g.activity_month) - year(g.cohort_month)) * 12
         + month(g.activity_month) - month(g.cohort_month) AS integer) AS months_since_first_order,
    g.activity_month,
    CAST(g.cohort_customers AS bigint) AS cohort_customers,
    CAST(coalesce(a.active_customers, 0) AS bigint) AS active_customers,
    CAST(coalesce(a.active_customers, 0) AS double) / g.cohort_customers AS retention,
    CAST(coalesce(a.orders, 0) AS bigint) AS orders
FROM grid g
LEFT JOIN activity a ON a.cohort_month = g.cohort_month AND a.activity_month = g.activity_month
