// Package clickhouse holds orderflow's ClickHouse schema as numbered migrations
// (NNNN_name.sql beside this file), embedded so that the binary carries the
// schema it writes. worker/migrate applies them.
//
// The rules a migration follows, which tests check:
//   - Every statement is idempotent (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT
//     EXISTS, DROP ... IF EXISTS): ClickHouse has no DDL transactions or locks,
//     so two migrators started at once both run it, and one that died half way
//     runs it again.
//   - Database names are written {database} and {restricted_database}, which
//     are replaced by the configured names.
//   - Types stay within what both ClickHouse 18.16 and current releases accept
//     (DESIGN.md, "ClickHouse compatibility").
//   - An applied migration never changes: its checksum is recorded, and a
//     changed one is refused. Change the schema with a new file.
package clickhouse

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

//go:embed queries/*.sql
var queryFiles embed.FS

// Query is one of the sample queries the project ships (queries/*.sql): the
// README and `make demo` show them, and a test runs each against the schema.
type Query struct {
	Name string // file name without .sql
	// SQL has the placeholders {database} and {restricted_database}; see Render.
	SQL string
}

// Render returns the query for the given database names.
func (q Query) Render(database, restrictedDatabase string) string {
	return strings.NewReplacer("{database}", database, "{restricted_database}", restrictedDatabase).Replace(q.SQL)
}

// Queries returns the sample queries, by name.
func Queries() []Query {
	names, _ := fs.Glob(queryFiles, "queries/*.sql")
	out := make([]Query, 0, len(names))
	for _, name := range names {
		data, _ := fs.ReadFile(queryFiles, name)
		out = append(out, Query{Name: strings.TrimSuffix(strings.TrimPrefix(name, "queries/"), ".sql"), SQL: string(data)})
	}
	return out
}

// Migration is one numbered file.
type Migration struct {
	Version int    // from the file name: 0002_order_facts.sql is 2
	Name    string // "order_facts"
	// Checksum is the hex SHA-256 of the file as written, placeholders and all.
	Checksum string
	// statements are the file's statements, comments removed, placeholders kept.
	statements []string
}

// Statements returns the migration's statements for the given database names.
func (m Migration) Statements(database, restrictedDatabase string) []string {
	r := strings.NewReplacer("{database}", database, "{restricted_database}", restrictedDatabase)
	out := make([]string, len(m.statements))
	for i, s := range m.statements {
		out[i] = r.Replace(s)
	}
	return out
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// All returns the migrations in version order. Versions run 1, 2, 3, ...
// without gaps or repeats.
func All() ([]Migration, error) {
	return parse(files)
}

func parse(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		m := fileName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_lower_snake.sql", name)
		}
		version, _ := strconv.Atoi(m[1])
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		statements := split(string(data))
		if len(statements) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", name)
		}
		out = append(out, Migration{Version: version, Name: m[2], Checksum: hex.EncodeToString(sum[:]), statements: statements})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: expected version %d (versions run 1, 2, 3 without gaps)", m.Version, m.Name, i+1)
		}
	}
	return out, nil
}

// split removes "--" comment lines and splits at semicolons that end a line.
// The schema's SQL has no string literal holding ";\n" or "--" at a line's
// start, which keeps this simple; a test holds every file to it.
func split(sql string) []string {
	var statements []string
	var cur strings.Builder
	for line := range strings.Lines(sql) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			statements = append(statements, s)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		statements = append(statements, s)
	}
	return statements
}
