-- Repeat buyers per tenant, counted by email token: a per-tenant HMAC, so a
-- buyer is linkable within a tenant and never across tenants.
SELECT
    tenant_id,
    uniqExact(buyer_email_token) AS buyers,
    countIf(n > 1) AS repeat_buyers
FROM
(
    SELECT tenant_id, buyer_email_token, count() AS n
    FROM {database}.order_facts FINAL
    WHERE buyer_email_token != ''
    GROUP BY tenant_id, buyer_email_token
)
GROUP BY tenant_id
ORDER BY tenant_id
