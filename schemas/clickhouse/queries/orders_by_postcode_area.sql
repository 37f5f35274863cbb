-- Orders per shipping country and postcode area (coarsened: "SW", never the
-- full postcode).
SELECT ship_country, ship_postcode_area, count() AS orders
FROM {database}.order_facts FINAL
WHERE ship_country != ''
GROUP BY ship_country, ship_postcode_area
ORDER BY orders DESC
LIMIT 20
