package clickhouse

import (
	"maps"
	"regexp"
)

// The tables the migrations create: the one list of their names, which the
// writer (worker/facts), the purger (worker/retention), the migrator, the
// demo and the bench read, and which a test holds to the migrations.
const (
	// In {database}, the analytics-safe database (clickhouse.database).
	TableOrderFacts         = "order_facts"
	TableOrderLineFacts     = "order_line_facts"
	TablePurgeLog           = "purge_log"
	TableOffboardedTenants  = "offboarded_tenants"
	TableOffboardHeartbeats = "offboard_heartbeats"
	TableOffboardAcks       = "offboard_acks"
	TableErasedOrders       = "erased_orders"
	TableErasureRequests    = "erasure_requests"
	TableSchemaMigrations   = "schema_migrations" // created by worker/migrate, not by a file
	// In {restricted_database}, the restricted database
	// (clickhouse.restricted_database), granted apart.
	TableDeliveryLabels   = "delivery_labels"
	TableFinancialRecords = "financial_records"
	// TableAccountingPostings is the accounting ledger: what each provider
	// confirmed of each posting (connectors/accounting).
	TableAccountingPostings = "accounting_postings"
)

// Database is one of orderflow's two databases, named by its placeholder in
// the migrations and sample queries; their real names are configured.
type Database string

const (
	// Analytics holds analytics-safe data: no personal data but tokens.
	Analytics Database = "{database}"
	// Restricted holds the encrypted label and financial data, so that access
	// to it can be granted apart.
	Restricted Database = "{restricted_database}"
)

// Name returns the configured name of d: database for Analytics,
// restrictedDatabase for Restricted.
func (d Database) Name(database, restrictedDatabase string) string {
	if d == Restricted {
		return restrictedDatabase
	}
	return database
}

// tables are the tables of the schema and the database each lives in.
var tables = map[string]Database{
	TableOrderFacts:         Analytics,
	TableOrderLineFacts:     Analytics,
	TablePurgeLog:           Analytics,
	TableOffboardedTenants:  Analytics,
	TableOffboardHeartbeats: Analytics,
	TableOffboardAcks:       Analytics,
	TableErasedOrders:       Analytics,
	TableErasureRequests:    Analytics,
	TableSchemaMigrations:   Analytics,
	TableDeliveryLabels:     Restricted,
	TableFinancialRecords:   Restricted,
	TableAccountingPostings: Restricted,
}

// Tables returns every table of the schema with the database it lives in.
func Tables() map[string]Database { return maps.Clone(tables) }

// DatabaseOf returns the database that holds table, and false for a name that
// is not a table of the schema.
func DatabaseOf(table string) (Database, bool) {
	d, ok := tables[table]
	return d, ok
}

// A migration that changes a table's partition key rebuilds the table
// (worker/migrate): it creates <table>_NNNN_new, NNNN its version, swaps it
// in by name (the old table becoming <table>_NNNN_old) and drops both
// spares.
var rebuildSpare = regexp.MustCompile(`^(\w+)_\d{4}_(new|old)$`)

// RebuildOf returns the table whose rebuild name is a spare of, and whether
// it is the new table (which becomes the table) or the old one (which is
// dropped); ok is false for any other name.
func RebuildOf(name string) (table string, isNew, ok bool) {
	m := rebuildSpare.FindStringSubmatch(name)
	if m == nil {
		return "", false, false
	}
	return m[1], m[2] == "new", true
}

// DatabaseNameRule says in words what ValidDatabaseName accepts, for errors.
const DatabaseNameRule = "a database name of letters, digits and '_'"

// ValidDatabaseName reports whether s may name one of the two databases: a
// letter or '_', then letters, digits and '_', 64 at most. Such a name goes
// into SQL unquoted (the statements cannot bind identifiers), so nothing else
// is accepted.
func ValidDatabaseName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// In cluster mode (clickhouse.cluster) the tables of orders are sharded: each
// shard holds the rows of the orders whose ShardingKey falls to it in
// <table>_local (Local), a Replicated*MergeTree whose replicas are the shard's
// servers, and a Distributed table of the table's own name reads every shard,
// so that queries name the tables as on a single server. The other tables are
// small and have one replica on every server of the cluster.
var sharded = map[string]bool{
	TableOrderFacts:       true,
	TableOrderLineFacts:   true,
	TableDeliveryLabels:   true,
	TableFinancialRecords: true,
}

// Sharded reports whether table (or a rebuild's spare of it) is sharded by
// order in cluster mode.
func Sharded(table string) bool {
	if base, _, ok := RebuildOf(table); ok {
		table = base
	}
	return sharded[table]
}

// LocalSuffix ends the name of a sharded table's shard-local table.
const LocalSuffix = "_local"

// Local returns the name of a sharded table's shard-local table.
func Local(table string) string { return table + LocalSuffix }

// ShardingKey is the sharded tables' sharding key: every snapshot of an order
// (tenant_id, channel_order_id) lands on one shard, so FINAL through the
// Distributed table still sees them together. The writer computes the same
// hash to insert into the owning shard (worker/clickhousedb.Cluster.ShardOf).
const ShardingKey = "cityHash64(tenant_id, channel_order_id)"
