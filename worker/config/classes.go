package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/order"
)

// Class names a retention class: how long one kind of stored data may be
// kept. The personal-data policy (schemas/policy) gives every stored field
// one; the name is also the class's value of the class label of the
// retention metrics, the reason of its purges in purge_log, and the key of
// its period in the retention section (retention.<name>).
type Class string

// The declared classes (RetentionClasses has the declarations).
const (
	ClassAnalytics Class = "analytics"
	ClassLabel     Class = "label"
	ClassFinancial Class = "financial"
)

// RetentionClass declares one retention class: its period and what bounds
// it, and what it governs. The table of them (RetentionClasses) is the one
// place a class is declared: the retention section's periods, their
// defaults and checks, the policy's classes, the purger's and offboarding's
// tables and the retention metrics all read it, and each refuses, at start,
// a class that is not in it. Adding a class is one declaration here, its
// period's field in Retention (named after it), the migration of its
// tables, and the policy's fields that name it.
type RetentionClass struct {
	Name Class
	// Default is the period when the configuration sets none.
	Default Period
	// Min and Max bound a configured period: purging sooner than a day after
	// writing would race the writer, and a longer period than Max is a typo.
	Min, Max Period
	// Statutory is the shortest period the law lets a jurisdiction's data of
	// the class be kept (statutory.go's table, through MinimumFor); a
	// configured period below it is refused, and a jurisdiction without a
	// period of its own is raised to it. Nil where no statute sets one.
	Statutory func(jurisdiction string) StatutoryMinimum
	// TimeColumn is the column of the governed tables that the period counts
	// from: purchased_at, or for financial records last_financial_event_at.
	TimeColumn string
	// FinancialYear says the period counts from the end of the seller's
	// financial year holding TimeColumn (retention.financial_year_end), or
	// where the jurisdiction's statute says so from the end of that calendar
	// year, rather than from TimeColumn itself.
	FinancialYear bool
	// Tables are the ClickHouse tables whose rows the class governs: purged
	// when the period ends, deleted when their tenant is offboarded.
	Tables []ClassTable
	// KafkaTopics says the class also bounds every Kafka topic that carries
	// personal data (worker/topics.PersonalData: the order streams, the DLQ,
	// the connector topics): a message stays no longer than its Default
	// (worker/topics.Promise), whatever the configured period.
	KafkaTopics bool

	// period is the class's field of the retention section.
	period func(*Retention) *Period
	// byJurisdiction, when set, is its field of per-jurisdiction periods,
	// which override period (retention.<name>_by_jurisdiction).
	byJurisdiction func(*Retention) *map[string]Period
}

// ClassTable is a table a class governs and how it is partitioned: by
// Partition of PartitionColumn (the migrations' PARTITION BY, which a test
// holds to it).
type ClassTable struct {
	Name            string // in schemas/clickhouse (tables.go), which says its database
	Partition       TimeKey
	PartitionColumn string
}

// PartitionBy is the table's partition key, as its migration writes it.
func (t ClassTable) PartitionBy() string { return t.Partition.Of(t.PartitionColumn) }

// TimeKey is how a table's partitions divide time: a ClickHouse expression of
// a DateTime column whose values are whole numbers that never decrease as time
// goes on, computed in the server's time zone. A partition whose value is
// below that of an instant therefore holds only earlier instants, which is
// what lets the purger drop it whole.
//
// Partitions are coarse, as ClickHouse advises: every insert block writes a
// part per partition it touches, and a live stream's batch carries orders of
// the last month (issue 16 measured 34 parts a batch with labels by day and
// financial records by jurisdiction and month, 7 with these keys).
type TimeKey struct {
	Name string // for messages: "month"
	sql  string // the expression, %[1]s standing for the column
}

var (
	// Month is toYYYYMM: 202611 for November 2026.
	Month = TimeKey{Name: "month", sql: "toYYYYMM(%[1]s)"}
	// UKFinancialYear is the UK's financial year, 1 April to 31 March (the
	// default retention.financial_year_end), as the year it ends in: 2027
	// for April 2026 to March 2027. Records of a financial year mostly
	// expire together, and a year holds a year of records, whatever the
	// marketplace.
	UKFinancialYear = TimeKey{Name: "UK financial year", sql: "toYear(%[1]s) + (toMonth(%[1]s) >= 4)"}
)

// TimeKeys are the time keys tables are partitioned by.
func TimeKeys() []TimeKey { return []TimeKey{Month, UKFinancialYear} }

// Of is the key of column (or of any DateTime expression), as SQL.
func (k TimeKey) Of(column string) string { return fmt.Sprintf(k.sql, column) }

// byMonth and byFinancialYear partition a table by its orders' purchase,
// which every table has from an order's first snapshot on and which never
// changes.
func byMonth(table string) ClassTable {
	return ClassTable{Name: table, Partition: Month, PartitionColumn: "purchased_at"}
}

func byFinancialYear(table string) ClassTable {
	return ClassTable{Name: table, Partition: UKFinancialYear, PartitionColumn: "purchased_at"}
}

// classes is the table, in the order the purger purges: facts, labels,
// financial records.
var classes = []RetentionClass{
	{
		// Order and line facts: statuses, amounts, tokens; 2 years from the
		// purchase.
		Name:       ClassAnalytics,
		Default:    Period{Years: 2},
		Min:        Period{Days: 1},
		Max:        Period{Years: 30},
		TimeColumn: "purchased_at",
		// The orders of buyers' erasures, so that a later snapshot of one
		// is erased as it is written, for as long as its facts are kept.
		Tables: []ClassTable{byMonth(schema.TableOrderFacts), byMonth(schema.TableOrderLineFacts), byMonth(schema.TableErasedOrders)},
		period: func(r *Retention) *Period { return &r.Analytics },
	},
	{
		// Delivery label data, 21 days from the purchase (P9). Partitioned by
		// month: a live stream's batch writes two label parts, not a part per
		// day of the last three weeks; a pass drops the months whose every
		// label has expired and deletes the expired labels of the one month
		// that straddles the cutoff.
		Name:        ClassLabel,
		Default:     Period{Days: 21},
		Min:         Period{Days: 1},
		Max:         Period{Days: 366},
		TimeColumn:  "purchased_at",
		Tables:      []ClassTable{byMonth(schema.TableDeliveryLabels)},
		KafkaTopics: true,
		period:      func(r *Retention) *Period { return &r.Label },
	},
	{
		// Financial records (P8): to the end of the seller's financial year
		// holding the order's last financial event, plus 6 years (HMRC), or
		// the jurisdiction's period, never below its statutory minimum.
		// Partitioned by UK financial year, across jurisdictions: a batch
		// writes one financial part, not one per marketplace and month, and a
		// pass deletes a jurisdiction's expired records from the years that
		// hold records of longer-kept jurisdictions too, then drops each year
		// once every record in it has expired.
		Name:          ClassFinancial,
		Default:       Period{Years: 6},
		Min:           Period{Days: 1},
		Max:           Period{Years: 30},
		Statutory:     MinimumFor,
		TimeColumn:    "last_financial_event_at",
		FinancialYear: true,
		Tables: []ClassTable{
			byFinancialYear(schema.TableFinancialRecords),
			// The accounting ledger: each posting kept as long as the
			// records it sums (its purchased_at is its period's first day).
			byFinancialYear(schema.TableAccountingPostings),
		},
		period:         func(r *Retention) *Period { return &r.Financial },
		byJurisdiction: func(r *Retention) *map[string]Period { return &r.FinancialByJurisdiction },
	},
}

// RetentionClasses returns the declared classes, in purge order.
func RetentionClasses() []RetentionClass { return slices.Clone(classes) }

// LookupClass returns the declaration of the class named name, or an error
// that names it and the declared classes.
func LookupClass(name string) (RetentionClass, error) {
	i := slices.IndexFunc(classes, func(c RetentionClass) bool { return string(c.Name) == name })
	if i < 0 {
		return RetentionClass{}, fmt.Errorf("%q is not a retention class: the classes are %s (declared in worker/config/classes.go)",
			name, strings.Join(ClassNames(), ", "))
	}
	return classes[i], nil
}

// declared returns the declaration of one of the Class constants, which a
// test holds to the table.
func declared(name Class) RetentionClass {
	c, err := LookupClass(string(name))
	if err != nil {
		panic(err)
	}
	return c
}

// ClassNames returns the declared classes' names, in purge order.
func ClassNames() []string {
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = string(c.Name)
	}
	return names
}

// Key is the configuration key of the class's period: retention.<name>.
func (c RetentionClass) Key() string { return "retention." + string(c.Name) }

// JurisdictionKey is the key of its per-jurisdiction periods
// (retention.financial_by_jurisdiction), "" for a class without them.
func (c RetentionClass) JurisdictionKey() string {
	if c.byJurisdiction == nil {
		return ""
	}
	return c.Key() + "_by_jurisdiction"
}

// ByJurisdiction reports whether the class's period can differ by
// jurisdiction, by its periods per jurisdiction or by statutory minimums
// (its tables then have a jurisdiction column).
func (c RetentionClass) ByJurisdiction() bool { return c.byJurisdiction != nil || c.Statutory != nil }

// Jurisdictions returns r's per-jurisdiction periods of the class (nil for a
// class without them).
func (c RetentionClass) Jurisdictions(r Retention) map[string]Period {
	if c.byJurisdiction == nil {
		return nil
	}
	return *c.byJurisdiction(&r)
}

// PeriodIn returns the class's period in r for a jurisdiction's data: the
// jurisdiction's own period where the class has one, else the class's,
// raised to the jurisdiction's statutory minimum where that is longer. c is
// a declaration of the table (RetentionClasses, LookupClass).
func (c RetentionClass) PeriodIn(r Retention, jurisdiction string) Period {
	p := *c.period(&r)
	if j, ok := c.Jurisdictions(r)[jurisdiction]; ok {
		p = j
	}
	if c.Statutory != nil {
		if m := c.Statutory(jurisdiction).Period; !p.AtLeast(m) {
			return m
		}
	}
	return p
}

// FromCalendarYearEnd reports whether the period of a jurisdiction's data
// of a FinancialYear class counts from the end of the calendar year in which
// the financial year ends (StatutoryMinimum.FromCalendarYearEnd).
func (c RetentionClass) FromCalendarYearEnd(jurisdiction string) bool {
	return c.Statutory != nil && c.Statutory(jurisdiction).FromCalendarYearEnd
}

// validate checks r's periods of the class, each error naming its key.
func (c RetentionClass) validate(r Retention) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(periodBetween(c.Key(), *c.period(&r), c.Min, c.Max))
	if c.Statutory != nil {
		add(atLeastStatutory(c.Key(), *c.period(&r), c.Statutory(PlatformJurisdiction)))
	}
	periods := c.Jurisdictions(r)
	for _, j := range slices.Sorted(maps.Keys(periods)) {
		key := c.JurisdictionKey() + "." + j
		if !order.ValidCountryCode(j) {
			add(keyErr(key, "%q is not %s", j, order.CountryCodeRule))
			continue
		}
		if err := periodBetween(key, periods[j], c.Min, c.Max); err != nil {
			add(err)
			continue
		}
		if c.Statutory != nil {
			add(atLeastStatutory(key, periods[j], c.Statutory(j)))
		}
	}
	return errs
}

// unknownKey says more about an unknown key of the retention section
// (decodeYAML) whose value is a period: it would be the period of a class
// that is not declared.
func (Retention) unknownKey(key string, value *yaml.Node) string {
	if value.Kind != yaml.ScalarNode {
		return ""
	}
	if _, err := ParsePeriod(value.Value); err != nil {
		return ""
	}
	if _, err := LookupClass(key); err != nil {
		return ": " + err.Error()
	}
	return ""
}
