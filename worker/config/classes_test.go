package config

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// The retention section has one period per declared class, under the class's
// name, and per-jurisdiction periods exactly for the classes that declare
// them; each declaration reads and writes its own field.
func TestTheRetentionSectionHasAPeriodPerClass(t *testing.T) {
	typ := reflect.TypeFor[Retention]()
	periods, byJurisdiction := map[string]int{}, map[string]int{}
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		switch typ.Field(i).Type {
		case periodType:
			periods[name] = i
		case periodMapType:
			byJurisdiction[name] = i
		}
	}
	for _, c := range RetentionClasses() {
		i, ok := periods[string(c.Name)]
		if !ok {
			t.Errorf("class %s has no period retention.%s", c.Name, c.Name)
			continue
		}
		delete(periods, string(c.Name))
		var r Retention
		sentinel := Period{Years: 3, Months: 2, Days: 1}
		*c.period(&r) = sentinel
		if got := reflect.ValueOf(r).Field(i).Interface(); got != sentinel {
			t.Errorf("class %s's period is not the field of %s", c.Name, c.Key())
		}
		if c.JurisdictionKey() == "" {
			continue
		}
		key := strings.TrimPrefix(c.JurisdictionKey(), "retention.")
		i, ok = byJurisdiction[key]
		if !ok {
			t.Errorf("class %s has no field for %s", c.Name, c.JurisdictionKey())
			continue
		}
		delete(byJurisdiction, key)
		*c.byJurisdiction(&r) = map[string]Period{"DE": sentinel}
		if got := reflect.ValueOf(r).Field(i).Interface(); !reflect.DeepEqual(got, map[string]Period{"DE": sentinel}) {
			t.Errorf("class %s's periods by jurisdiction are not the field of %s", c.Name, c.JurisdictionKey())
		}
	}
	for name := range periods {
		t.Errorf("retention.%s is a period of no declared class", name)
	}
	for name := range byJurisdiction {
		t.Errorf("retention.%s is a map of periods of no declared class", name)
	}
	// Every constant is declared, once.
	for _, c := range []Class{ClassAnalytics, ClassLabel, ClassFinancial} {
		if d, err := LookupClass(string(c)); err != nil || d.Name != c {
			t.Errorf("LookupClass(%s): %v", c, err)
		}
	}
	if names := ClassNames(); len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("a class is declared twice: %v", names)
	}
}

// Each class's default is a period the configuration accepts, and the
// defaults are the declarations'.
func TestDefaultsAreTheDeclarations(t *testing.T) {
	r := Defaults().Retention
	if err := r.Validate(); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	for _, c := range RetentionClasses() {
		if got := c.PeriodIn(r, PlatformJurisdiction); got != c.Default {
			t.Errorf("class %s: default period %s, declared %s", c.Name, got, c.Default)
		}
		if !c.Default.AtLeast(c.Min) || !c.Max.AtLeast(c.Default) {
			t.Errorf("class %s: default %s outside %s-%s", c.Name, c.Default, c.Min, c.Max)
		}
	}
	// The financial class's minimums are statutory.go's, per jurisdiction.
	fin, _ := LookupClass(string(ClassFinancial))
	for _, m := range append(StatutoryMinimums(), StatutoryMinimum{Jurisdiction: "US"}) {
		if got, want := fin.Statutory(m.Jurisdiction), MinimumFor(m.Jurisdiction); got != want {
			t.Errorf("financial minimum for %s: %+v, want statutory.go's %+v", m.Jurisdiction, got, want)
		}
	}
}

// An unknown class is refused with its name and the declared ones (and so
// is a period for one in the configuration: class.bad.yaml).
func TestAnUnknownClassIsRefusedByName(t *testing.T) {
	const want = `"archive" is not a retention class: the classes are analytics, label, financial (declared in worker/config/classes.go)`
	if _, err := LookupClass("archive"); err == nil || err.Error() != want {
		t.Errorf("LookupClass(archive) error\n got: %v\nwant: %s", err, want)
	}
}

var (
	createTable = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS \{\w+\}\.(\w+)\s*\((.*)\)\s*ENGINE.*?PARTITION BY (.+?)\s+ORDER BY`)
	addColumn   = regexp.MustCompile(`^ALTER TABLE \{\w+\}\.(\w+) ADD COLUMN IF NOT EXISTS (\w+) `)
	renameTable = regexp.MustCompile(`\{\w+\}\.(\w+) TO \{\w+\}\.(\w+)`)
	dropTable   = regexp.MustCompile(`^DROP TABLE IF EXISTS \{\w+\}\.(\w+)$`)
	columnDef   = regexp.MustCompile(`(?m)^\s*(\w+)\s+\S`)
)

// bookkeeping are the tables no class governs, and why: they hold no order.
var bookkeeping = map[string]string{
	schema.TablePurgeLog:           "the purges' audit trail, kept always",
	schema.TableOffboardedTenants:  "sellers who left, kept always so that their rows never come back",
	schema.TableOffboardHeartbeats: "one row per worker, pruned by the purge pass after a week",
	schema.TableOffboardAcks:       "one row per worker and offboarded tenant, pruned with the heartbeats",
	schema.TableSchemaMigrations:   "the applied migrations",
	schema.TableErasureRequests:    "the answers to buyers' erasure requests (what was erased and kept, no identifier), kept always as the record of each",
}

// The classes' tables are the migrations' tables that hold orders: every
// table of the schema is governed by exactly one class or is bookkeeping,
// and each governed table has the partition key its class declares, the
// columns its purges and offboarding read, and an order key.
func TestClassTablesAreTheMigrations(t *testing.T) {
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	partitionBy := map[string]string{}
	columns := map[string][]string{}
	for _, m := range all {
		for _, s := range m.Statements("{database}", "{restricted_database}") {
			if c := createTable.FindStringSubmatch(s); c != nil {
				partitionBy[c[1]] = c[3]
				for _, col := range columnDef.FindAllStringSubmatch(c[2], -1) {
					columns[c[1]] = append(columns[c[1]], col[1])
				}
			}
			if c := addColumn.FindStringSubmatch(s); c != nil {
				columns[c[1]] = append(columns[c[1]], c[2])
			}
			// A table rebuilt with another partition key: created beside
			// the old one, swapped in by name, the old one dropped.
			if strings.HasPrefix(s, "RENAME TABLE ") {
				for _, r := range renameTable.FindAllStringSubmatch(s, -1) {
					partitionBy[r[2]], columns[r[2]] = partitionBy[r[1]], columns[r[1]]
					delete(partitionBy, r[1])
					delete(columns, r[1])
				}
			}
			if c := dropTable.FindStringSubmatch(s); c != nil {
				delete(partitionBy, c[1])
				delete(columns, c[1])
			}
		}
	}
	governed := map[string]Class{}
	for _, c := range RetentionClasses() {
		if len(c.Tables) == 0 {
			t.Errorf("class %s governs no table", c.Name)
		}
		for _, table := range c.Tables {
			if other, ok := governed[table.Name]; ok {
				t.Errorf("%s is governed by both %s and %s", table.Name, other, c.Name)
			}
			governed[table.Name] = c.Name
			if _, ok := schema.DatabaseOf(table.Name); !ok {
				t.Errorf("class %s governs %s, which is not a table of schemas/clickhouse", c.Name, table.Name)
				continue
			}
			if got := partitionBy[table.Name]; got != table.PartitionBy() {
				t.Errorf("%s: the migrations partition it by %q, class %s declares %q", table.Name, got, c.Name, table.PartitionBy())
			}
			need := []string{"tenant_id", "channel_order_id", c.TimeColumn, table.PartitionColumn}
			if c.ByJurisdiction() {
				need = append(need, "jurisdiction")
			}
			for _, col := range need {
				if !slices.Contains(columns[table.Name], col) {
					t.Errorf("%s (class %s) has no column %s", table.Name, c.Name, col)
				}
			}
		}
	}
	for _, table := range slices.Sorted(maps.Keys(schema.Tables())) {
		_, isGoverned := governed[table]
		_, isBookkeeping := bookkeeping[table]
		switch {
		case isGoverned && isBookkeeping:
			t.Errorf("%s is governed by class %s and listed as bookkeeping", table, governed[table])
		case !isGoverned && !isBookkeeping:
			t.Errorf("%s is governed by no retention class: declare it in classes.go, or list it here as bookkeeping", table)
		case isBookkeeping && slices.Contains(columns[table], "channel_order_id"):
			t.Errorf("%s holds orders (channel_order_id), so a retention class must govern it", table)
		}
	}
}
