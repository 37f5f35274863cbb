-- How old the oldest row of each retention class is, beside the promise
-- (label 21 days from purchase, analytics 2 years from purchase, financial 6
-- years after the financial year of the order's last financial event); the
-- same figures are the metrics orderflow_retention_oldest_row_age_seconds{class}
-- (a negative age: rows dated in the future).
SELECT 'label' AS class, count() AS rows, min(purchased_at) AS oldest, dateDiff('day', min(purchased_at), now()) AS oldest_age_days
FROM {restricted_database}.delivery_labels FINAL
UNION ALL
SELECT 'financial', count(), min(last_financial_event_at), dateDiff('day', min(last_financial_event_at), now())
FROM {restricted_database}.financial_records FINAL
UNION ALL
SELECT 'analytics', count(), min(purchased_at), dateDiff('day', min(purchased_at), now())
FROM {database}.order_facts FINAL
