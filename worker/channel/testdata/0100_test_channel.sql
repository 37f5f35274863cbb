-- What a new channel's migration looks like: its Enum8 value added to the
-- channel column of every table, the old values kept (rows written under them
-- keep them). Here the test-only channel 'test' = 100 of
-- worker/channel/thirdchannel_test.go, applied to that test's own databases only.
ALTER TABLE {database}.order_facts MODIFY COLUMN channel Enum8('amazon' = 1, 'ebay' = 2, 'test' = 100);
ALTER TABLE {database}.order_line_facts MODIFY COLUMN channel Enum8('amazon' = 1, 'ebay' = 2, 'test' = 100);
ALTER TABLE {restricted_database}.delivery_labels MODIFY COLUMN channel Enum8('amazon' = 1, 'ebay' = 2, 'test' = 100);
ALTER TABLE {restricted_database}.financial_records MODIFY COLUMN channel Enum8('amazon' = 1, 'ebay' = 2, 'test' = 100);
