package clickhouse

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// Options say what a rendering is for. The zero value renders the committed
// files: the default database names, user names "orderflow_<role>", and
// passwords and networks taken from the environment where the users are
// installed, so that no secret is in git.
type Options struct {
	// Database and RestrictedDatabase are clickhouse.database and
	// clickhouse.restricted_database. Default "orderflow" and
	// "orderflow_restricted".
	Database, RestrictedDatabase string
	// UserPrefix starts every user, profile and role name. Default
	// "orderflow_"; tests give a unique one.
	UserPrefix string
	// PasswordSHA256 maps a role's name to the hex SHA-256 of its password.
	// A role without one takes it from the environment variable
	// PasswordEnv(role): from_env in users.xml, ${...} for envsubst in the SQL.
	PasswordSHA256 map[string]string
	// Networks lists, per audience, the addresses (IP or CIDR) its users may
	// connect from. An audience without any takes one from the environment
	// variable NetworkEnv(audience) likewise; unset, it admits nobody.
	Networks map[Audience][]string
}

// PasswordEnv is the environment variable that holds the hex SHA-256 of the
// role's password where the users are installed:
// ORDERFLOW_CLICKHOUSE_WRITER_PASSWORD_SHA256.
func PasswordEnv(role string) string {
	return "ORDERFLOW_CLICKHOUSE_" + strings.ToUpper(role) + "_PASSWORD_SHA256"
}

// NetworkEnv is the environment variable that holds the network (IP or CIDR)
// an audience's users connect from: ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK.
func NetworkEnv(a Audience) string {
	return "ORDERFLOW_CLICKHOUSE_" + strings.ToUpper(string(a)) + "_NETWORK"
}

// complete fills the defaults and checks the options; every name goes into
// XML or SQL unquoted, so only identifiers, hex and addresses pass.
func (o Options) complete() (Options, error) {
	if o.Database == "" {
		o.Database = "orderflow"
	}
	if o.RestrictedDatabase == "" {
		o.RestrictedDatabase = "orderflow_restricted"
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "orderflow_"
	}
	var errs []error
	if !schema.ValidDatabaseName(o.Database) || !schema.ValidDatabaseName(o.RestrictedDatabase) || o.Database == o.RestrictedDatabase {
		errs = append(errs, fmt.Errorf("the databases must be two different names, each %s", schema.DatabaseNameRule))
	}
	if !schema.ValidDatabaseName(o.UserPrefix) {
		errs = append(errs, fmt.Errorf("the user prefix must be letters, digits and '_', starting with a letter or '_'"))
	}
	for role, sum := range o.PasswordSHA256 {
		if !hasRole(role) {
			errs = append(errs, fmt.Errorf("a password for %q, which is not a role", role))
		}
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("the password of %s is not a hex SHA-256 (%d characters)", role, len(sum)))
		}
	}
	for a, nets := range o.Networks {
		if a != Workload && a != People {
			errs = append(errs, fmt.Errorf("networks for %q, which is not an audience", a))
		}
		for _, n := range nets {
			if _, err := netip.ParsePrefix(n); err != nil {
				if _, err := netip.ParseAddr(n); err != nil {
					errs = append(errs, fmt.Errorf("network %q of %s is not an IP address or CIDR", n, a))
				}
			}
		}
	}
	return o, errors.Join(errs...)
}

func hasRole(name string) bool {
	for _, r := range roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// name returns the configured name of d.
func (o Options) name(d schema.Database) string { return d.Name(o.Database, o.RestrictedDatabase) }
