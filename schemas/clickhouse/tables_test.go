package clickhouse

import (
	"regexp"
	"strings"
	"testing"
)

var (
	createTable = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\{\w+\})\.(\w+)`)
	renamePair  = regexp.MustCompile(`(\{\w+\})\.(\w+) TO (\{\w+\})\.(\w+)`)
	dropTable   = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+IF\s+EXISTS\s+\{\w+\}\.(\w+)\s*$`)
)

// The list of tables is the migrations' list: every table a migration creates
// is in it, in the database the migration puts it in, and every table in it
// but the migrator's own version table is created by a migration.
func TestTablesAreTheMigrationsTables(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]Database{}
	for _, m := range all {
		for _, s := range m.statements {
			if c := createTable.FindStringSubmatch(s); c != nil {
				created[c[2]] = Database(c[1])
			}
			// A rebuilt table: its new version swapped in by name, the old
			// one dropped.
			if strings.HasPrefix(s, "RENAME TABLE ") {
				for _, r := range renamePair.FindAllStringSubmatch(s, -1) {
					delete(created, r[2])
					created[r[4]] = Database(r[3])
				}
			}
			if d := dropTable.FindStringSubmatch(s); d != nil {
				delete(created, d[1])
			}
		}
	}
	listed := Tables()
	for table, db := range created {
		if got, ok := DatabaseOf(table); !ok || got != db {
			t.Errorf("a migration creates %s in %s; DatabaseOf says %q, %v", table, db, got, ok)
		}
	}
	for table, db := range listed {
		if _, ok := created[table]; !ok && table != TableSchemaMigrations {
			t.Errorf("%s (in %s) is listed but no migration creates it", table, db)
		}
		if db != Analytics && db != Restricted {
			t.Errorf("%s lives in %q, neither database", table, db)
		}
	}
	if _, ok := DatabaseOf("orders"); ok {
		t.Error("DatabaseOf knows a table the schema does not have")
	}
	if Restricted.Name("a", "b") != "b" || Analytics.Name("a", "b") != "a" {
		t.Error("Name does not pick the configured name of its database")
	}
}

func TestValidDatabaseName(t *testing.T) {
	for name, want := range map[string]bool{
		"orderflow": true, "orderflow_restricted": true, "_x": true, "T9": true, strings.Repeat("a", 64): true,
		"": false, "9lives": false, "a-b": false, "a.b": false, "orders; DROP": false, "a b": false, "é": false,
		"`x`": false, strings.Repeat("a", 65): false,
	} {
		if got := ValidDatabaseName(name); got != want {
			t.Errorf("ValidDatabaseName(%q) = %v, want %v", name, got, want)
		}
	}
}
