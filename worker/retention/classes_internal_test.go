package retention

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/config"
)

// The purger purges the declared classes' tables, in the declared order, in
// their databases and with their partition schemes.
func TestThePurgersTablesAreTheClasses(t *testing.T) {
	tables, err := classTables(config.RetentionClasses(), "an", "re")
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, tb := range tables {
		got = append(got, tb.reason()+" "+tb.qualified()+" "+tb.partitionKey())
	}
	for _, c := range config.RetentionClasses() {
		for _, ct := range c.Tables {
			db, _ := schema.DatabaseOf(ct.Name)
			want = append(want, string(c.Name)+" "+db.Name("an", "re")+"."+ct.Name+" "+ct.PartitionBy())
		}
	}
	if !slices.Equal(got, want) || len(got) < 4 {
		t.Errorf("the purger's tables:\n%s\nthe classes':\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A class the configuration has no period for, or one the purger could purge
// only wrongly, is refused when the purger is built, naming it: never purged
// with some other class's period.
func TestAClassThePurgerCannotPurgeIsRefusedAtStart(t *testing.T) {
	class := func(name config.Class, change func(*config.RetentionClass)) []config.RetentionClass {
		c, err := config.LookupClass(string(name))
		if err != nil {
			t.Fatal(err)
		}
		c.Tables = slices.Clone(c.Tables)
		change(&c)
		return []config.RetentionClass{c}
	}
	for _, tc := range []struct {
		name    string
		classes []config.RetentionClass
		want    string
	}{
		{"undeclared", []config.RetentionClass{{Name: "archive", TimeColumn: "purchased_at"}},
			`retention class: "archive" is not a retention class: the classes are analytics, label, financial (declared in worker/config/classes.go)`},
		{"no such table", class(config.ClassLabel, func(c *config.RetentionClass) { c.Tables[0].Name = "labels" }),
			"retention class label: table labels is not a table of the schema"},
		{"partition key", class(config.ClassLabel, func(c *config.RetentionClass) { c.Tables[0].Partition = config.TimeKey{Name: "week"} }),
			"retention class label: table delivery_labels is partitioned by week, which the purger cannot drop by (month, UK financial year)"},
		{"partition column", class(config.ClassAnalytics, func(c *config.RetentionClass) { c.Tables[1].PartitionColumn = "written_at" }),
			"retention class analytics: table order_line_facts is partitioned by written_at, but the period counts from purchased_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := classTables(tc.classes, "an", "re"); err == nil || err.Error() != tc.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

// The retention metrics' class label takes the declared classes' names, and
// no other: the gauges per class and the purged rows' reasons.
func TestTheMetricsClassesAreTheDeclaredOnes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	classes := config.RetentionClasses()
	tables, err := classTables(classes, "an", "re")
	if err != nil {
		t.Fatal(err)
	}
	m.preRegister(classes, tables)
	p := &Purger{cfg: Config{Retention: config.Defaults().Retention}, classes: classes, tables: tables, m: m}
	p.setLimits([]string{"GB"})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := func(name, label string) []string {
		var out []string
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == label {
						out = append(out, l.GetValue())
					}
				}
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	names := slices.Sorted(slices.Values(config.ClassNames()))
	for _, name := range []string{"orderflow_retention_limit_seconds", "orderflow_retention_oldest_row_age_seconds", "orderflow_retention_future_dated_rows"} {
		if got := values(name, "class"); !slices.Equal(got, names) {
			t.Errorf("%s{class} takes %v, the declared classes are %v", name, got, names)
		}
	}
	reasons := slices.Sorted(slices.Values(append(config.ClassNames(), reasonOffboarding)))
	if got := values("orderflow_purge_rows_total", "reason"); !slices.Equal(got, reasons) {
		t.Errorf("orderflow_purge_rows_total{reason} takes %v, want the classes and offboarding: %v", got, reasons)
	}
	for _, c := range classes {
		got := values("orderflow_retention_financial_limit_seconds", "jurisdiction")
		if c.ByJurisdiction() && !slices.Contains(got, "GB") {
			t.Errorf("class %s's period is by jurisdiction, but its limit for GB is not set: %v", c.Name, got)
		}
	}
}
