// Command current prints, as JSON, the SQL that orderflow runs on ClickHouse
// for the given database names: every migration's statements in order,
// every sample query, and the database of every table. The current-ClickHouse
// test (test_current_clickhouse.py beside this file) runs them on PyPI's
// chdb, an in-process build of a current ClickHouse, where no Go driver can
// reach: the stack's server is ClickHouse 18.16. A test tool, not part of the
// orderflow binary:
//
//	go run ./schemas/clickhouse/current --database db --restricted-database rdb
//
// The statements are printed as the files write them; the migrator runs a
// table rebuild's RENAME and INSERT, and ADD COLUMN IF NOT EXISTS, its own
// way (worker/migrate), which the Python test does as it does.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// Printed is the JSON written.
type Printed struct {
	Database           string      `json:"database"`
	RestrictedDatabase string      `json:"restricted_database"`
	Migrations         []Migration `json:"migrations"`
	Queries            []Query     `json:"queries"`
	// Tables names the database of every table of the schema.
	Tables map[string]string `json:"tables"`
}

// Migration is one numbered migration's statements, placeholders filled.
type Migration struct {
	Version    int      `json:"version"`
	Name       string   `json:"name"`
	Statements []string `json:"statements"`
}

// Query is one sample query, placeholders filled.
type Query struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "current:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("current", flag.ContinueOnError)
	database := fs.String("database", "", "the analytics database's name (clickhouse.database)")
	restricted := fs.String("restricted-database", "", "the restricted database's name (clickhouse.restricted_database)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *database == "" || *restricted == "" {
		return fmt.Errorf("--database and --restricted-database are required")
	}
	p, err := collect(*database, *restricted)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func collect(database, restricted string) (Printed, error) {
	all, err := schema.All()
	if err != nil {
		return Printed{}, fmt.Errorf("reading the migrations: %w", err)
	}
	p := Printed{Database: database, RestrictedDatabase: restricted, Tables: map[string]string{}}
	for table, in := range schema.Tables() {
		p.Tables[table] = in.Name(database, restricted)
	}
	for _, m := range all {
		p.Migrations = append(p.Migrations, Migration{Version: m.Version, Name: m.Name, Statements: m.Statements(database, restricted)})
	}
	for _, q := range schema.Queries() {
		p.Queries = append(p.Queries, Query{Name: q.Name, SQL: q.Render(database, restricted)})
	}
	return p, nil
}
