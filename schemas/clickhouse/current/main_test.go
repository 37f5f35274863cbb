package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// The Python test runs what this prints and nothing else: every migration
// and every query must be there, in order, with no placeholder left.
func TestPrintsEveryMigrationAndQueryWithTheNamesFilled(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--database", "an_db", "--restricted-database", "re_db"}, &out); err != nil {
		t.Fatal(err)
	}
	var p Printed
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	all, _ := schema.All()
	if len(p.Migrations) != len(all) || len(p.Queries) != len(schema.Queries()) {
		t.Fatalf("printed %d migrations and %d queries; want %d and %d", len(p.Migrations), len(p.Queries), len(all), len(schema.Queries()))
	}
	if p.Tables["delivery_labels"] != "re_db" || p.Tables["order_facts"] != "an_db" {
		t.Errorf("tables = %v; want labels in the restricted database, facts in the other", p.Tables)
	}
	var sql []string
	for i, m := range p.Migrations {
		if m.Version != i+1 || len(m.Statements) == 0 {
			t.Errorf("migration %d printed as version %d with %d statements", i+1, m.Version, len(m.Statements))
		}
		sql = append(sql, m.Statements...)
	}
	for _, q := range p.Queries {
		sql = append(sql, q.SQL)
	}
	joined := strings.Join(sql, "\n")
	if strings.Contains(joined, "{database}") || strings.Contains(joined, "{restricted_database}") {
		t.Error("a placeholder is left in the printed SQL")
	}
	for _, name := range []string{"an_db.order_facts", "re_db.delivery_labels", "RENAME TABLE re_db.delivery_labels TO re_db.delivery_labels_0013_old"} {
		if !strings.Contains(joined, name) {
			t.Errorf("the printed SQL never says %q", name)
		}
	}
}

func TestRefusesMissingNames(t *testing.T) {
	if err := run([]string{"--database", "an_db"}, &bytes.Buffer{}); err == nil {
		t.Error("no restricted database name, and no error")
	}
}
