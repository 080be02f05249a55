-- subscription_mrr: Recharge monthly recurring revenue per calendar month (UTC) and currency, with the
-- subscribers it gained and lost. A subscription (deleted = false) is active at a month's end when it was
-- created before the month ended and had not ended by then; it ended at cancelled_at, or - when its status is
-- not active and Recharge gave no cancelled_at (an expired prepaid one) - at its newest version (updated_at).
-- Its monthly value is price * quantity per delivery times deliveries a month: 1 / order_interval_frequency
-- for month units, 30.4375 / 7 / frequency for weeks, 30.4375 / frequency for days (30.4375 = 365.25 / 12).
-- A subscriber (the Recharge customer) is active when one of their subscriptions is. In a month:
-- new = active at its end, not at the previous month's end, first subscription created in the month;
-- reactivated = the same but with an earlier subscription (they came back through a new subscription);
-- churned = active at the previous month's end and not at this one's.
-- Caveat: the table holds the newest version of a subscription only, so a subscription cancelled and then
-- re-activated in place (same id, cancelled_at cleared) looks as if it never stopped: that churn and that
-- reactivation are both invisible. docs/analytics.md#subscription_mrr
--
-- Athena engine 3 (Trino) SQL over the processed database; the local engine runs it translated by sqlglot.
WITH subs AS (
    SELECT
        coalesce(customer_id, 'subscription:' || subscription_id) AS subscriber,
        currency,
        created_at,
        coalesce(cancelled_at, CASE WHEN lower(status) <> 'active' THEN updated_at END) AS ended_at,
        updated_at,
        CAST(CAST(price AS double) * quantity
             * CASE lower(order_interval_unit)
                   WHEN 'month' THEN 1e0
                   WHEN 'week' THEN 30.4375e0 / 7
                   WHEN 'day' THEN 30.4375e0
               END
             / order_interval_frequency AS decimal(38, 4)) AS monthly_value
    FROM subscriptions
    WHERE deleted = false AND created_at IS NOT NULL
),
bounds AS (
    SELECT
        CAST(date_trunc('month', min(created_at)) AS date) AS first_month,
        CAST(date_trunc('month', greatest(
            max(created_at),
            coalesce(max(ended_at), max(created_at)),
            coalesce(max(updated_at), max(created_at))
        )) AS date) AS last_month
    FROM subs
),
months AS (
    SELECT CAST(m.month_start AS date) AS month_start
    FROM bounds b
    CROSS JOIN UNNEST(sequence(b.first_month, b.last_month, INTERVAL '1' MONTH)) AS m (month_start)
),
state AS (
    SELECT
        mo.month_start,
        CAST(date_add('month', 1, mo.month_start) AS date) AS next_month,
        s.currency,
        s.subscriber,
        count(*) AS subscriptions,
        sum(s.monthly_value) AS mrr
    FROM months mo
    JOIN subs s
      ON s.created_at < date_add('month', 1, mo.month_start)
     AND (s.ended_at IS NULL OR s.ended_at >= date_add('month', 1, mo.month_start))
    GROUP BY mo.month_start, s.currency, s.subscriber
),
firsts AS (
    SELECT subscriber, currency, CAST(date_trunc('month', min(created_at)) AS date) AS first_month
    FROM subs
    GROUP BY subscriber, currency
),
pairs AS (
    SELECT
        coalesce(cur.month_start, prev.next_month) AS month_start,
        coalesce(cur.currency, prev.currency) AS currency,
        coalesce(cur.subscriber, prev.subscriber) AS subscriber,
        cur.subscriber IS NOT NULL AS active_now,
        prev.subscriber IS NOT NULL AS active_before,
        cur.subscriptions,
        cur.mrr AS mrr_now,
        prev.mrr AS mrr_before
    FROM state cur
    FULL OUTER JOIN state prev
      ON prev.next_month = cur.month_start AND prev.subscriber = cur.subscriber AND prev.currency = cur.currency
),
movements AS (
    SELECT
        p.*,
        p.active_now AND NOT p.active_before AND f.first_month = p.month_start AS is_new,
        p.active_now AND NOT p.active_before AND f.first_month < p.month_start AS is_reactivated,
        p.active_before AND NOT p.active_now AS is_churned
    FROM pairs p
    JOIN firsts f ON f.subscriber = p.subscriber AND f.currency = p.currency
    WHERE p.month_start <= (SELECT last_month FROM bounds)
)
SELECT
    month_start AS month,
    currency,
    CAST(count_if(active_now) AS bigint) AS active_subscribers,
    CAST(coalesce(sum(subscriptions), 0) AS bigint) AS active_subscriptions,
    CAST(coalesce(sum(mrr_now), 0) AS decimal(38, 4)) AS mrr,
    CAST(count_if(is_new) AS bigint) AS new_subscribers,
    CAST(coalesce(sum(CASE WHEN is_new THEN mrr_now END), 0) AS decimal(38, 4)) AS new_mrr,
    CAST(count_if(is_reactivated) AS bigint) AS reactivated_subscribers,
    CAST(coalesce(sum(CASE WHEN is_reactivated THEN mrr_now END), 0) AS decimal(38, 4)) AS reactivated_mrr,
    CAST(count_if(is_churned) AS bigint) AS churned_subscribers,
    CAST(coalesce(sum(CASE WHEN is_churned THEN mrr_before END), 0) AS decimal(38, 4)) AS churned_mrr
FROM movements
GROUP BY month_start, currency
