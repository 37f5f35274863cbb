package clickhouse

import (
	"fmt"
	"strings"
)

// GrantsSQL renders the roles for current ClickHouse releases (SQL access
// control): per role a ROLE holding its grants, table by table, and a USER of
// the same name without "_role" that has it. Applying it again converges: each
// role loses what it no longer lists, each user gets its password and network
// anew. Finance staff and analysts may instead get a user each, granted the
// role (GRANT orderflow_analyst_role TO alice).
//
// With the zero Options the passwords' hashes and the networks are ${NAME}
// placeholders for envsubst, the same variables users.xml reads.
func GrantsSQL(o Options) ([]byte, error) {
	o, err := o.complete()
	if err != nil {
		return nil, fmt.Errorf("clickhouse grants: %w", err)
	}
	var b strings.Builder
	b.WriteString(`-- orderflow's ClickHouse users for current releases, one per role.
-- Rendered from deploy/clickhouse/roles.go; do not edit (go test ./deploy/clickhouse -update).
-- ClickHouse 18.16 has no SQL access control: it reads users.xml instead.
-- Apply as an administrator, with each ORDERFLOW_CLICKHOUSE_<ROLE>_PASSWORD_SHA256 (the hex
-- SHA-256 of the role's password) and ORDERFLOW_CLICKHOUSE_<AUDIENCE>_NETWORK set:
--   envsubst < grants.sql | clickhouse-client --multiquery
`)
	for _, r := range roles {
		role := r.User(o.UserPrefix) + "_role"
		fmt.Fprintf(&b, "\n-- %s: %s.\n", r.Name, r.Uses)
		fmt.Fprintf(&b, "CREATE ROLE IF NOT EXISTS %s;\n", role)
		fmt.Fprintf(&b, "REVOKE ALL ON *.* FROM %s;\n", role)
		for _, g := range r.grantLines(o) {
			fmt.Fprintf(&b, "GRANT %s TO %s;\n", g, role)
		}
		if r.ddl() {
			// Cluster mode (clickhouse.cluster) runs its DDL and deletes ON CLUSTER.
			fmt.Fprintf(&b, "GRANT CLUSTER ON *.* TO %s;\n", role)
		}
		if r.readOnly() {
			// As in users.xml: no writes, no settings changed, no table
			// functions, even if a grant is widened by mistake.
			fmt.Fprintf(&b, "ALTER ROLE %s SETTINGS readonly = 1;\n", role)
		} else {
			fmt.Fprintf(&b, "ALTER ROLE %s SETTINGS NONE;\n", role)
		}
		sum := "${" + PasswordEnv(r.Name) + "}"
		if s, ok := o.PasswordSHA256[r.Name]; ok {
			sum = strings.ToLower(s)
		}
		hosts := []string{"IP '${" + NetworkEnv(r.Audience) + "}'"}
		if nets, ok := o.Networks[r.Audience]; ok && len(nets) > 0 {
			hosts = hosts[:0]
			for _, n := range nets {
				hosts = append(hosts, "IP '"+n+"'")
			}
		}
		user := r.User(o.UserPrefix)
		fmt.Fprintf(&b, "CREATE USER OR REPLACE %s IDENTIFIED WITH sha256_hash BY '%s' HOST %s;\n", user, sum, strings.Join(hosts, ", "))
		fmt.Fprintf(&b, "GRANT %s TO %s;\n", role, user)
	}
	return []byte(b.String()), nil
}
