package clickhouse

import (
	"fmt"
	"slices"
	"strings"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// UsersXML renders the roles for ClickHouse 18.16 as a users.xml file (to
// install as users.d/orderflow.xml beside the server's users.xml, which the
// server merges and reloads within seconds). 18.16 has no SQL access control:
// a user reaches whole databases (allow_databases), reads only with
// readonly = 1, and is refused ALTER, CREATE and DROP with allow_ddl = 0. So
// each role becomes the least of these that still holds its grants, and the
// comment above each user says what 18.16 therefore cannot refuse it (Gaps).
func UsersXML(o Options) ([]byte, error) {
	o, err := o.complete()
	if err != nil {
		return nil, fmt.Errorf("clickhouse users: %w", err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>
<!-- orderflow's ClickHouse users for ClickHouse 18.16, one per role.
     Rendered from deploy/clickhouse/roles.go; do not edit (go test ./deploy/clickhouse -update).
     Current releases use grants.sql instead, which can grant per table.
     Install it as users.d/orderflow.xml beside the server's users.xml.
     Passwords are SHA-256 hex from the server's environment (ORDERFLOW_CLICKHOUSE_<ROLE>_PASSWORD_SHA256):
     while one is unset the server refuses the whole file (and keeps the users it had).
     Networks likewise (ORDERFLOW_CLICKHOUSE_<AUDIENCE>_NETWORK): while one is unset its users are refused. -->
<yandex>
    <profiles>
`)
	for _, r := range roles {
		user := r.User(o.UserPrefix)
		fmt.Fprintf(&b, "        <%s>\n            <profile>default</profile>\n", user)
		if r.readOnly() {
			// 1, not 2: readonly = 2 lets the user change settings and, on
			// 18.16, use table functions (url, file, remote).
			b.WriteString("            <readonly>1</readonly>\n")
		} else {
			fmt.Fprintf(&b, "            <readonly>0</readonly>\n            <allow_ddl>%d</allow_ddl>\n", boolInt(r.ddl()))
		}
		fmt.Fprintf(&b, "        </%s>\n", user)
	}
	b.WriteString("    </profiles>\n    <users>\n")
	for _, r := range roles {
		user := r.User(o.UserPrefix)
		fmt.Fprintf(&b, "        <!-- %s: %s.\n", r.Name, r.Uses)
		for _, g := range r.grantLines(o) {
			fmt.Fprintf(&b, "             grants %s\n", g)
		}
		for _, g := range r.Gaps(o) {
			fmt.Fprintf(&b, "             18.16 cannot refuse: %s\n", g)
		}
		b.WriteString("        -->\n")
		fmt.Fprintf(&b, "        <%s>\n", user)
		if sum, ok := o.PasswordSHA256[r.Name]; ok {
			fmt.Fprintf(&b, "            <password_sha256_hex>%s</password_sha256_hex>\n", strings.ToLower(sum))
		} else {
			fmt.Fprintf(&b, "            <password_sha256_hex from_env=%q/>\n", PasswordEnv(r.Name))
		}
		b.WriteString("            <networks>\n")
		if nets, ok := o.Networks[r.Audience]; ok && len(nets) > 0 {
			for _, n := range nets {
				fmt.Fprintf(&b, "                <ip>%s</ip>\n", n)
			}
		} else {
			fmt.Fprintf(&b, "                <ip from_env=%q/>\n", NetworkEnv(r.Audience))
		}
		b.WriteString("            </networks>\n")
		fmt.Fprintf(&b, "            <profile>%s</profile>\n            <quota>default</quota>\n            <allow_databases>\n", user)
		for _, d := range r.databases() {
			fmt.Fprintf(&b, "                <database>%s</database>\n", o.name(d))
		}
		fmt.Fprintf(&b, "            </allow_databases>\n        </%s>\n", user)
	}
	b.WriteString("    </users>\n</yandex>\n")
	return []byte(b.String()), nil
}

// Gaps says, in words, what the users.xml form of r allows beyond r's
// grants, because 18.16 cannot express it: for the comments in users.xml and
// the README. Current ClickHouse (grants.sql) refuses all of it.
func (r Role) Gaps(o Options) []string {
	var out []string
	for _, d := range r.databases() {
		if granted := r.tablesIn(d); granted != nil {
			verb := "reads"
			if !r.readOnly() {
				verb = "reads and inserts into"
			}
			out = append(out, fmt.Sprintf("it %s every table of %s, not only %s (no table-level grants)", verb, o.name(d), strings.Join(granted, ", ")))
		}
	}
	if r.readOnly() {
		return out
	}
	if r.ddl() {
		out = append(out, "it may create, alter and drop any table of its databases, and run SYSTEM statements (allow_ddl = 1 is all or nothing)")
	} else {
		out = append(out, "allow_ddl = 0 refuses ALTER, CREATE, DROP and SYSTEM, but a client lifts it by sending allow_ddl = 1 with a query: a guard against mistakes, not a boundary")
	}
	out = append(out, "table functions such as url(), open to every user with readonly = 0")
	return out
}

// tablesIn returns the tables r's grants name in d, sorted, or nil when a
// grant covers every table of d or r's grants name every table d has.
func (r Role) tablesIn(d schema.Database) []string {
	var out []string
	for _, g := range r.Grants {
		if g.Database != d {
			continue
		}
		if g.Tables == nil {
			return nil
		}
		for _, t := range g.Tables {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	var all int
	for _, db := range schema.Tables() {
		if db == d {
			all++
		}
	}
	if len(out) == all {
		return nil
	}
	slices.Sort(out)
	return out
}

// grantLines are r's grants as "PRIVILEGES ON db.table" lines.
func (r Role) grantLines(o Options) []string {
	var out []string
	for _, g := range r.Grants {
		for _, on := range g.targets(o) {
			out = append(out, privileges(g.Privileges)+" ON "+on)
		}
	}
	return out
}

// targets are the GRANT targets of g: db.table for each table, or db.*. A
// table sharded in cluster mode (schema.Sharded) is granted with its shards'
// <table>_local, which the cluster's writer and purger reach directly.
func (g Grant) targets(o Options) []string {
	db := o.name(g.Database)
	if g.Tables == nil {
		return []string{db + ".*"}
	}
	out := make([]string, 0, len(g.Tables))
	for _, t := range g.Tables {
		out = append(out, db+"."+t)
		if schema.Sharded(t) {
			out = append(out, db+"."+schema.Local(t))
		}
	}
	return out
}

func privileges(ps []Privilege) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
