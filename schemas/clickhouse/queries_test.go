package clickhouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
)

var tableRead = regexp.MustCompile(`(?i)FROM\s+\{(?:restricted_)?database\}\.(\w+)(\s+FINAL\b)?`)

// replacingTables are the ReplacingMergeTree tables of the migrations: a read
// of one without FINAL would count every re-delivered snapshot not yet
// merged away.
func replacingTables(t *testing.T) map[string]bool {
	t.Helper()
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	create := regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+\{\w+\}\.(\w+).*ENGINE\s*=\s*ReplacingMergeTree`)
	out := map[string]bool{}
	for _, m := range all {
		for _, s := range m.Statements("{database}", "{restricted_database}") {
			if c := create.FindStringSubmatch(s); c != nil {
				out[c[1]] = true
			}
		}
	}
	for _, table := range []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords} {
		if !out[table] {
			t.Fatalf("%s is not a ReplacingMergeTree table of the migrations (read %v)", table, out)
		}
	}
	return out
}

func TestShippedQueriesReadWithFinal(t *testing.T) {
	replacing := replacingTables(t)
	qs := schema.Queries()
	if len(qs) < 5 {
		t.Fatalf("%d queries shipped", len(qs))
	}
	for _, q := range qs {
		reads := tableRead.FindAllStringSubmatch(q.SQL, -1)
		if len(reads) == 0 {
			t.Errorf("%s reads no orderflow table", q.Name)
		}
		for _, r := range reads {
			if replacing[r[1]] && r[2] == "" {
				t.Errorf("%s reads %s without FINAL", q.Name, r[1])
			}
		}
	}
}

// TestShippedQueriesRun runs every sample query on a known fixture
// (testdata/queries/fixture.json: two sellers, six orders, a superseded
// snapshot, a cancelled order, one older than 30 days, two currencies, three
// purge actions) and compares its result, header and rows, with
// testdata/queries/<query>.tsv. Dates that the queries judge against now()
// are written {day-N}: N days before the server's today. A query without
// ORDER BY is compared as a set of rows.
func TestShippedQueriesRun(t *testing.T) {
	testShippedQueriesRun(t, func(t *testing.T) (config.ClickHouse, driver.Conn, func()) {
		cfg, conn := clickhousetest.Migrated(t)
		return cfg, conn, func() {}
	})
}

// On the cluster the queries read the Distributed tables and give the same
// answers: the fixture goes in through them (insert_distributed_sync, so
// that each row is on its shard when the insert returns, where the sharding
// key puts it as the writer would) and every replica has it before the reads.
func TestClusterShippedQueriesRun(t *testing.T) {
	testShippedQueriesRun(t, func(t *testing.T) (config.ClickHouse, driver.Conn, func()) {
		cfg, conn, cluster := clickhousetest.ClusterMigrated(t)
		return cfg, conn, func() { clickhousetest.SyncReplicas(t, cfg, cluster) }
	})
}

// testShippedQueriesRun is TestShippedQueriesRun on the databases migrated
// makes; its third result is called once the fixture is in.
func testShippedQueriesRun(t *testing.T, migrated func(*testing.T) (config.ClickHouse, driver.Conn, func())) {
	queries := schema.Queries()
	expected, _ := filepath.Glob(filepath.Join("testdata", "queries", "*.tsv"))
	if len(expected) != len(queries) {
		t.Errorf("%d queries shipped, %d expected results in testdata/queries", len(queries), len(expected))
	}
	// A run that straddles the server's midnight would see two todays: once
	// more, on a fresh fixture, and it cannot straddle again.
	for attempt := 0; ; attempt++ {
		cfg, conn, loaded := migrated(t)
		today, loc := serverToday(t, conn)
		loadFixture(t, conn, cfg.Database, cfg.RestrictedDatabase, today, loc)
		loaded()
		got := map[string]string{}
		for _, q := range queries {
			got[q.Name] = runQuery(t, conn, q, cfg.Database, cfg.RestrictedDatabase, loc)
		}
		if after, _ := serverToday(t, conn); !after.Equal(today) && attempt == 0 {
			continue
		}
		for _, q := range queries {
			want, err := os.ReadFile(filepath.Join("testdata", "queries", q.Name+".tsv"))
			if err != nil {
				t.Errorf("%s: no expected result: %v", q.Name, err)
				continue
			}
			w := expand(string(want), today)
			g := got[q.Name]
			if !regexp.MustCompile(`(?i)\bORDER\s+BY\b`).MatchString(q.SQL) {
				w, g = sortedRows(w), sortedRows(g)
			}
			if g != w {
				t.Errorf("%s: result\n%s\nwant\n%s", q.Name, g, w)
			}
		}
		return
	}
}

// serverToday returns ClickHouse's today() and its time zone, in which the
// queries' dates are taken.
func serverToday(t *testing.T, conn driver.Conn) (time.Time, *time.Location) {
	t.Helper()
	var day time.Time
	var tz string
	if err := conn.QueryRow(context.Background(), "SELECT today(), timezone()").Scan(&day, &tz); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc), loc
}

var dayN = regexp.MustCompile(`\{day-(\d+)\}`)

// expand writes the date of each {day-N}.
func expand(s string, today time.Time) string {
	return dayN.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(dayN.FindStringSubmatch(m)[1])
		return today.AddDate(0, 0, -n).Format(time.DateOnly)
	})
}

// loadFixture inserts testdata/queries/fixture.json, each table's rows in one
// block insert naming the columns the rows give.
func loadFixture(t *testing.T, conn driver.Conn, database, restricted string, today time.Time, loc *time.Location) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "queries", "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var fixture map[string]json.RawMessage
	if err := dec.Decode(&fixture); err != nil {
		t.Fatal(err)
	}
	delete(fixture, "_comment")
	// Through a Distributed table (cluster mode) the insert returns once
	// every shard has its rows.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	for table, raw := range fixture {
		in, ok := schema.DatabaseOf(table)
		if !ok {
			t.Fatalf("fixture: %s is not a table of the schema", table)
		}
		db := in.Name(database, restricted)
		var rows []map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&rows); err != nil {
			t.Fatalf("fixture %s: %v", table, err)
		}
		types := columnTypes(t, conn, db, table)
		var cols []string
		for _, r := range rows {
			for c := range r {
				if !slices.Contains(cols, c) {
					cols = append(cols, c)
				}
			}
		}
		slices.Sort(cols)
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+"."+table+" (`"+strings.Join(cols, "`, `")+"`)")
		if err != nil {
			t.Fatalf("fixture %s: %v", table, err)
		}
		for i, r := range rows {
			values := make([]any, len(cols))
			for j, c := range cols {
				v, ok := r[c]
				if !ok {
					t.Fatalf("fixture %s row %d: no %s (every row names the same columns)", table, i, c)
				}
				if values[j], err = value(types[c], v, today, loc); err != nil {
					t.Fatalf("fixture %s row %d, %s: %v", table, i, c, err)
				}
			}
			if err := batch.Append(values...); err != nil {
				t.Fatalf("fixture %s row %d: %v", table, i, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("fixture %s: %v", table, err)
		}
	}
}

func columnTypes(t *testing.T, conn driver.Conn, database, table string) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", database, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out[name] = typ
	}
	return out
}

// value converts a fixture's JSON value to what the driver appends to a
// column of type typ.
func value(typ string, v any, today time.Time, loc *time.Location) (any, error) {
	switch {
	case typ == "String" || strings.HasPrefix(typ, "Enum8("):
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", v)
		}
		return s, nil
	case typ == "DateTime":
		s, _ := v.(string)
		return time.ParseInLocation(time.DateTime, expand(s, today), loc)
	case strings.HasPrefix(typ, "Decimal("):
		s, _ := v.(string)
		return decimal.NewFromString(s)
	case typ == "UUID":
		s, _ := v.(string)
		return uuid.Parse(s)
	case strings.HasPrefix(typ, "UInt"):
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return nil, err
		}
		switch typ {
		case "UInt8":
			return uint8(u), nil
		case "UInt16":
			return uint16(u), nil
		case "UInt32":
			return uint32(u), nil
		case "UInt64":
			return u, nil
		}
	}
	return nil, fmt.Errorf("the fixture cannot fill a column of type %s", typ)
}

// runQuery returns q's result as tab-separated lines: the column names, then
// each row.
func runQuery(t *testing.T, conn driver.Conn, q schema.Query, database, restricted string, loc *time.Location) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q.Render(database, restricted))
	if err != nil {
		t.Fatalf("%s: %v", q.Name, err)
	}
	defer rows.Close()
	var b strings.Builder
	b.WriteString(strings.Join(rows.Columns(), "\t") + "\n")
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		cells := make([]string, len(dest))
		for i, d := range dest {
			cells[i] = cell(reflect.ValueOf(d).Elem().Interface(), types[i].DatabaseTypeName(), loc)
		}
		b.WriteString(strings.Join(cells, "\t") + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q.Name, err)
	}
	return b.String()
}

// cell writes one value as the expected results do: decimals without
// trailing zeros, dates and times in the server's zone.
func cell(v any, typ string, loc *time.Location) string {
	switch v := v.(type) {
	case decimal.Decimal:
		return v.String()
	case time.Time:
		if typ == "Date" {
			return v.Format(time.DateOnly)
		}
		return v.In(loc).Format(time.DateTime)
	}
	return fmt.Sprint(v)
}

func sortedRows(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > 1 {
		slices.Sort(lines[1:])
	}
	return strings.Join(lines, "\n") + "\n"
}
