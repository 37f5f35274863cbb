-- PLACEHOLDER on branch hard-offboard only, so that 0009 parses (versions run
-- without gaps). Version 0008 belongs to another change of issue 10: drop this
-- file when merging, keep that one.
CREATE DATABASE IF NOT EXISTS {database};
