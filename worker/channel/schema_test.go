package channel_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
)

// The published JSON schemas list exactly the registry's channels, and the
// canonical order's source formats exactly its decoders'.
func TestJSONSchemasListTheRegistry(t *testing.T) {
	r := channel.Default()
	var names []string
	for _, n := range r.Names() {
		names = append(names, string(n))
	}
	for _, c := range []struct {
		file, property string
		want           []string
	}{
		{"../../schemas/envelope/v1.schema.json", "channel", names},
		{"../../schemas/order/v1.schema.json", "channel", names},
		{"../../schemas/order/v1.schema.json", "source_format", r.SourceFormats()},
	} {
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		got := slices.Sorted(slices.Values(doc.Properties[c.property].Enum))
		if want := slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
			t.Errorf("%s: %s enum %v, the registry has %v", c.file, c.property, got, want)
		}
	}
}

// channelColumn finds a channel column's type where a migration creates a
// table or changes the column.
var (
	createTable  = regexp.MustCompile(`(?s)^CREATE TABLE (?:IF NOT EXISTS )?\{(?:restricted_)?database\}\.(\w+)\s*\((.*)\)`)
	columnDef    = regexp.MustCompile(`(?m)^\s*channel\s+(.+?),?\s*$`)
	modifyColumn = regexp.MustCompile(`^ALTER TABLE \{(?:restricted_)?database\}\.(\w+) MODIFY COLUMN channel (.+)$`)
)

// Applied in order, the migrations leave every table's channel column an Enum8
// of exactly the registry's channels: a registry entry without its migration,
// or a migration without its entry, fails here without a server.
func TestMigrationsGiveEveryChannelColumnTheRegistrysEnum(t *testing.T) {
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	columns := map[string]string{} // table -> the channel column's type
	for _, m := range all {
		for _, stmt := range m.Statements("{database}", "{restricted_database}") {
			if c := createTable.FindStringSubmatch(stmt); c != nil {
				table := c[1]
				if base, isNew, ok := schema.RebuildOf(table); ok {
					if !isNew {
						continue
					}
					table = base // a rebuild's new table becomes the table
				}
				if d := columnDef.FindStringSubmatch(c[2]); d != nil {
					columns[table] = d[1]
				}
			} else if c := modifyColumn.FindStringSubmatch(stmt); c != nil {
				columns[c[1]] = c[2]
			}
		}
	}
	want := []string{schema.TableDeliveryLabels, schema.TableErasedOrders, schema.TableFinancialRecords, schema.TableOrderFacts, schema.TableOrderLineFacts}
	if got := slices.Sorted(maps.Keys(columns)); !slices.Equal(got, want) {
		t.Errorf("tables with a channel column: %v, want %v (is the parse still right?)", got, want)
	}
	wantEnum, _ := channel.ParseEnum8(channel.Default().Enum8())
	for table, typ := range columns {
		if got, err := channel.ParseEnum8(typ); err != nil || !maps.Equal(got, wantEnum) {
			t.Errorf("%s.channel is %s after the migrations, the registry is %s", table, typ, channel.Default().Enum8())
		}
	}
}

// On the real server: a freshly migrated schema's channel columns, as
// ClickHouse reports them, hold exactly the registry's channels.
func TestMigratedChannelColumnsAreTheRegistrys(t *testing.T) {
	cfg, conn := clickhousetest.Migrated(t)
	rows, err := conn.Query(context.Background(),
		"SELECT database, table, type FROM system.columns WHERE database IN (?, ?) AND name = 'channel' ORDER BY database, table",
		cfg.Database, cfg.RestrictedDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	wantEnum, _ := channel.ParseEnum8(channel.Default().Enum8())
	var tables []string
	for rows.Next() {
		var db, table, typ string
		if err := rows.Scan(&db, &table, &typ); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, table)
		if got, err := channel.ParseEnum8(typ); err != nil || !maps.Equal(got, wantEnum) {
			t.Errorf("%s.%s.channel is %s, the registry is %s", db, table, typ, channel.Default().Enum8())
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{schema.TableErasedOrders, schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords}
	if !slices.Equal(tables, want) {
		t.Errorf("tables with a channel column: %v, want %v", tables, want)
	}
}
