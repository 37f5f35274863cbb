// Package clickhouse defines orderflow's ClickHouse users, one per role, as
// table-level grants, and renders them in the two forms ClickHouse reads:
// CREATE ROLE / GRANT statements for current releases (grants.sql) and
// users.xml for 18.16, the local stack's server, which has no SQL access
// control and can only coarsen the grants to database allow-lists and
// readonly profiles (users.xml). The grants are the one source of truth; a
// test keeps both committed files rendered from them, and another proves the
// users.xml form on the real server.
package clickhouse

import (
	"slices"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// Privilege is a ClickHouse privilege as GRANT names it.
type Privilege string

// The privileges orderflow's roles need, and no other.
const (
	Select Privilege = "SELECT"
	Insert Privilege = "INSERT"
	// AlterDelete covers ALTER TABLE ... DELETE and ... DROP PARTITION: current
	// ClickHouse checks ALTER DELETE for both.
	AlterDelete Privilege = "ALTER DELETE"
	// AlterUpdate covers ALTER TABLE ... UPDATE: a buyer's erasure replaces
	// tokens and clears invoice parties in place.
	AlterUpdate       Privilege = "ALTER UPDATE"
	CreateDatabase    Privilege = "CREATE DATABASE"
	CreateTable       Privilege = "CREATE TABLE"
	DropTable         Privilege = "DROP TABLE"
	AlterAddColumn    Privilege = "ALTER ADD COLUMN"
	AlterModifyColumn Privilege = "ALTER MODIFY COLUMN"
)

// ddl reports whether 18.16 counts p as DDL (refused under allow_ddl = 0):
// everything but reading and inserting.
func (p Privilege) ddl() bool { return p != Select && p != Insert }

// Audience is who connects as a role, and so from which network.
type Audience string

const (
	// Workload roles are orderflow's own commands (pods).
	Workload Audience = "workload"
	// People roles are for finance staff and analysts (their BI tools).
	People Audience = "people"
)

// Grant is privileges on tables of one of orderflow's two databases.
type Grant struct {
	Privileges []Privilege
	Database   schema.Database
	// Tables are names from schemas/clickhouse (tables.go); nil means every
	// table of Database, present and future.
	Tables []string
}

// Role is one ClickHouse user of orderflow and what it may do.
type Role struct {
	// Name is the role's short name; its user is "orderflow_" + Name.
	Name string
	// Uses says who connects as it: the commands, or people.
	Uses     string
	Audience Audience
	Grants   []Grant
}

// roles are orderflow's ClickHouse roles, each with exactly what its
// commands' statements need (worker/facts, worker/retention, worker/migrate,
// connectors/accounting/ledger). A command that reads a table needs SELECT on
// {database}.schema_migrations too: every command but migrate checks the
// schema version at start.
var roles = []Role{
	{
		Name: "migrator", Uses: "orderflow migrate (a deploy Job, before the new version starts)", Audience: Workload,
		// DDL stays out of the long-running commands: a worker's credentials
		// cannot create, alter or drop a table.
		Grants: []Grant{
			{Privileges: []Privilege{CreateDatabase, CreateTable, AlterAddColumn, AlterModifyColumn}, Database: schema.Analytics},
			{Privileges: []Privilege{CreateDatabase, CreateTable, AlterAddColumn, AlterModifyColumn}, Database: schema.Restricted},
			{Privileges: []Privilege{Select, Insert}, Database: schema.Analytics, Tables: []string{schema.TableSchemaMigrations}},
			// Rebuilding a table with a new partition key (0013): RENAME
			// (SELECT and DROP TABLE on the source, CREATE TABLE and INSERT
			// on the target), the copy (SELECT, INSERT), dropping each
			// partition copied (ALTER DELETE) and the spare tables.
			{Privileges: []Privilege{Select, Insert, DropTable, AlterDelete}, Database: schema.Restricted},
		},
	},
	{
		Name: "writer", Uses: "orderflow run (the worker, with retention.interval 0: the purge runs as the purger)", Audience: Workload,
		Grants: []Grant{
			// With the offboarded tenants, each reload reads the orders of
			// buyers' erasures, whose later snapshots it writes erased.
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{schema.TableSchemaMigrations, schema.TableOffboardedTenants, schema.TableErasedOrders}},
			{Privileges: []Privilege{Insert}, Database: schema.Analytics, Tables: []string{
				schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableOffboardHeartbeats, schema.TableOffboardAcks}},
			{Privileges: []Privilege{Insert}, Database: schema.Restricted, Tables: []string{schema.TableDeliveryLabels, schema.TableFinancialRecords}},
		},
	},
	{
		Name: "dispatcher", Uses: "orderflow dispatch, orderflow reconcile", Audience: Workload,
		Grants: []Grant{
			// A worker of its own: it acknowledges erasures as it does offboardings.
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{schema.TableSchemaMigrations, schema.TableOffboardedTenants, schema.TableErasedOrders}},
			{Privileges: []Privilege{Insert}, Database: schema.Analytics, Tables: []string{schema.TableOffboardHeartbeats, schema.TableOffboardAcks}},
			{Privileges: []Privilege{Select}, Database: schema.Restricted, Tables: []string{schema.TableFinancialRecords}},
			{Privileges: []Privilege{Select, Insert}, Database: schema.Restricted, Tables: []string{schema.TableAccountingPostings}},
		},
	},
	{
		Name: "purger", Uses: "orderflow purge (retention passes)", Audience: Workload,
		Grants: []Grant{
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{schema.TableSchemaMigrations, schema.TableOffboardedTenants}},
			{Privileges: []Privilege{Insert}, Database: schema.Analytics, Tables: []string{schema.TablePurgeLog}},
			// The retention classes' tables, and the offboarding bookkeeping
			// that each pass prunes.
			{Privileges: []Privilege{Select, AlterDelete}, Database: schema.Analytics, Tables: []string{
				schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableErasedOrders, schema.TableOffboardHeartbeats, schema.TableOffboardAcks}},
			{Privileges: []Privilege{Select, AlterDelete}, Database: schema.Restricted, Tables: []string{
				schema.TableDeliveryLabels, schema.TableFinancialRecords, schema.TableAccountingPostings}},
		},
	},
	{
		Name: "offboarding", Uses: "orderflow offboard", Audience: Workload,
		Grants: []Grant{
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{
				schema.TableSchemaMigrations, schema.TableOffboardHeartbeats, schema.TableOffboardAcks}},
			{Privileges: []Privilege{Select, Insert}, Database: schema.Analytics, Tables: []string{schema.TableOffboardedTenants}},
			{Privileges: []Privilege{Insert}, Database: schema.Analytics, Tables: []string{schema.TablePurgeLog}},
			{Privileges: []Privilege{Select, AlterDelete}, Database: schema.Analytics, Tables: []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableErasedOrders}},
			{Privileges: []Privilege{Select, AlterDelete}, Database: schema.Restricted, Tables: []string{
				schema.TableDeliveryLabels, schema.TableFinancialRecords, schema.TableAccountingPostings}},
		},
	},
	{
		// A buyer's erasure (worker/retention, erase.go): it finds the
		// buyer's orders by token, registers them and waits for the
		// workers' acknowledgements, replaces the tokens and clears
		// invoice parties in place, deletes the labels, verifies, and
		// records its actions and answer.
		Name: "eraser", Uses: "orderflow erase (one request, or the requests topic)", Audience: Workload,
		Grants: []Grant{
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{
				schema.TableSchemaMigrations, schema.TableOffboardedTenants, schema.TableOffboardHeartbeats, schema.TableOffboardAcks}},
			{Privileges: []Privilege{Select, Insert}, Database: schema.Analytics, Tables: []string{schema.TableErasedOrders}},
			{Privileges: []Privilege{Insert}, Database: schema.Analytics, Tables: []string{schema.TablePurgeLog, schema.TableErasureRequests}},
			{Privileges: []Privilege{Select, AlterUpdate}, Database: schema.Analytics, Tables: []string{schema.TableOrderFacts}},
			{Privileges: []Privilege{Select, AlterDelete}, Database: schema.Restricted, Tables: []string{schema.TableDeliveryLabels}},
			{Privileges: []Privilege{Select, AlterUpdate}, Database: schema.Restricted, Tables: []string{schema.TableFinancialRecords}},
		},
	},
	{
		// The observer's reads: the schema version and the offboarded
		// tenants, whose dead letters it must not decrypt.
		Name: "dlq_replay", Uses: "orderflow replay-dlq", Audience: Workload,
		Grants: []Grant{
			{Privileges: []Privilege{Select}, Database: schema.Analytics, Tables: []string{schema.TableSchemaMigrations, schema.TableOffboardedTenants}},
		},
	},
	{
		Name: "finance", Uses: "finance staff (financial records only)", Audience: People,
		Grants: []Grant{{Privileges: []Privilege{Select}, Database: schema.Restricted, Tables: []string{schema.TableFinancialRecords}}},
	},
	{
		Name: "analyst", Uses: "analysts (the analytics-safe database)", Audience: People,
		Grants: []Grant{{Privileges: []Privilege{Select}, Database: schema.Analytics}},
	},
}

// Roles returns orderflow's ClickHouse roles.
func Roles() []Role {
	out := slices.Clone(roles)
	for i := range out {
		out[i].Grants = slices.Clone(out[i].Grants)
	}
	return out
}

// User is the ClickHouse user name of the role, for names prefixed with
// prefix ("orderflow_" unless a test gives its own).
func (r Role) User(prefix string) string { return prefix + r.Name }

// readOnly reports whether every privilege of r is SELECT.
func (r Role) readOnly() bool {
	for _, g := range r.Grants {
		for _, p := range g.Privileges {
			if p != Select {
				return false
			}
		}
	}
	return true
}

// ddl reports whether r needs a privilege that 18.16 counts as DDL.
func (r Role) ddl() bool {
	for _, g := range r.Grants {
		if slices.ContainsFunc(g.Privileges, Privilege.ddl) {
			return true
		}
	}
	return false
}

// databases returns the databases r's grants name, in the order
// Analytics, Restricted.
func (r Role) databases() []schema.Database {
	var out []schema.Database
	for _, d := range []schema.Database{schema.Analytics, schema.Restricted} {
		if slices.ContainsFunc(r.Grants, func(g Grant) bool { return g.Database == d }) {
			out = append(out, d)
		}
	}
	return out
}
