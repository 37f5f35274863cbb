-- The two databases, so that access is granted per database: {database} holds
-- analytics-safe facts (tokens, coarsened locations, amounts) and the purge log;
-- {restricted_database} holds transit ciphertext of label and invoice data, for
-- the few roles that may decrypt it. The migrator creates {database} itself
-- before its version table; repeating it here keeps this file complete.
CREATE DATABASE IF NOT EXISTS {database};
CREATE DATABASE IF NOT EXISTS {restricted_database};
