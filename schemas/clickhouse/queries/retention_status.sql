-- How old the oldest row of each retention class is, beside the promise
-- (label 21 days, financial 6 years, analytics 2 years by default); the same
-- figures are the metrics orderflow_retention_oldest_row_age_seconds{class}.
SELECT 'label' AS class, count() AS rows, min(purchased_at) AS oldest, dateDiff('day', min(purchased_at), now()) AS oldest_age_days
FROM {restricted_database}.delivery_labels FINAL
UNION ALL
SELECT 'financial', count(), min(purchased_at), dateDiff('day', min(purchased_at), now())
FROM {restricted_database}.financial_records FINAL
UNION ALL
SELECT 'analytics', count(), min(purchased_at), dateDiff('day', min(purchased_at), now())
FROM {database}.order_facts FINAL
