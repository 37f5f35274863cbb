package clickhouse

import (
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// eachStatement calls check with every statement of every shipped migration,
// its placeholders filled in; it fails the test when the set does not parse
// or holds fewer than 6 migrations (a broken embed would otherwise check nothing).
func eachStatement(t *testing.T, check func(m Migration, s string)) {
	t.Helper()
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 6 {
		t.Fatalf("%d migrations, want at least 6", len(all))
	}
	for _, m := range all {
		for _, s := range m.Statements("db", "rdb") {
			check(m, s)
		}
	}
}

func TestMigrationsParse(t *testing.T) {
	eachStatement(t, func(m Migration, s string) {
		if strings.Contains(s, "{") && strings.Contains(s, "database}") {
			t.Errorf("%04d: placeholder left in %q", m.Version, s)
		}
		if strings.Contains(s, ";") {
			t.Errorf("%04d: a statement holds a ';' the splitter would cut: %q", m.Version, s)
		}
	})
}

// Every statement must be safe to run twice: two migrators may run at once.
// MODIFY COLUMN is, when it sets a type (running it again changes nothing).
// So are a table rebuild's swap (RENAME TABLE t TO t_old, t_new TO t) and
// copy (INSERT INTO t SELECT * FROM t_old) in exactly these forms, which
// worker/migrate runs only while they are pending; it refuses any other
// RENAME or INSERT.
var idempotent = regexp.MustCompile(`(?is)^\s*(CREATE (DATABASE|TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS|DROP (TABLE|DATABASE|VIEW) IF EXISTS|ALTER TABLE \S+ (ADD COLUMN IF NOT EXISTS|DROP COLUMN IF EXISTS|MODIFY COMMENT|MODIFY COLUMN)` +
	`|RENAME TABLE (\w+\.\w+) TO \w+\.\w+, \w+\.\w+ TO (\w+\.\w+)\s*$|INSERT INTO \w+\.\w+ SELECT \* FROM \w+\.\w+\s*$)`)

func TestEveryStatementIsIdempotent(t *testing.T) {
	eachStatement(t, func(m Migration, s string) {
		if !idempotent.MatchString(s) {
			t.Errorf("%04d_%s: not idempotent: %.80s", m.Version, m.Name, s)
		}
	})
}

// Types outside the subset both ClickHouse 18.16 and current releases accept.
var unsupported = regexp.MustCompile(`(?i)\b(LowCardinality|DateTime64|Map\(|JSON|Object\(|Int128|Int256|UInt128|UInt256|Date32|Bool\b|IPv4|IPv6|TTL\b|CODEC)`)

func TestTypesStayInTheCompatibleSubset(t *testing.T) {
	eachStatement(t, func(m Migration, s string) {
		if loc := unsupported.FindString(s); loc != "" {
			t.Errorf("%04d_%s uses %s, which ClickHouse 18.16 lacks", m.Version, m.Name, loc)
		}
	})
}

func TestBadMigrationSetsAreRefused(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("CREATE DATABASE IF NOT EXISTS {database};\n")}
	cases := map[string]fstest.MapFS{
		"gap":       {"0001_a.sql": ok, "0003_c.sql": ok},
		"repeat":    {"0001_a.sql": ok, "0001_b.sql": ok},
		"bad name":  {"0001_A.sql": ok},
		"empty":     {"0001_a.sql": &fstest.MapFile{Data: []byte("-- nothing\n")}},
		"zero base": {"0000_a.sql": ok},
	}
	for name, fsys := range cases {
		if _, err := parse(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
