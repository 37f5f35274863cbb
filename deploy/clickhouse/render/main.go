// Command render prints orderflow's ClickHouse users (deploy/clickhouse) for
// given database names: as users.xml for ClickHouse 18.16, as grants.sql for
// current releases, or, for the local stack, as the environment lines that
// give each role's password to the commands.
//
//	go run ./deploy/clickhouse/render -format users.xml -database analytics -restricted-database vault_data
//	go run ./deploy/clickhouse/render -format users.xml -dev-passwords -network 127.0.0.1 -network ::1
//	go run ./deploy/clickhouse/render -format env -dev-passwords
//
// Without -dev-passwords the passwords' hashes come from the environment
// where the users are installed (users.xml's from_env, ${...} in the SQL).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orderflow/orderflow/deploy/clickhouse"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "users.xml", "users.xml, grants.sql, or env (the local stack's passwords, with -dev-passwords)")
	var o clickhouse.Options
	fs.StringVar(&o.Database, "database", "", "clickhouse.database (default orderflow)")
	fs.StringVar(&o.RestrictedDatabase, "restricted-database", "", "clickhouse.restricted_database (default orderflow_restricted)")
	dev := fs.Bool("dev-passwords", false, "give each role the password orderflow-dev-<role>: for the local stack only, whose server listens on loopback")
	var networks []string
	fs.Func("network", "an IP address or CIDR every user may connect from (repeat it); default: from the environment", func(s string) error {
		networks = append(networks, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(networks) > 0 {
		o.Networks = map[clickhouse.Audience][]string{clickhouse.Workload: networks, clickhouse.People: networks}
	}
	if *dev {
		o.PasswordSHA256 = map[string]string{}
		for _, r := range clickhouse.Roles() {
			sum := sha256.Sum256([]byte(devPassword(r.Name)))
			o.PasswordSHA256[r.Name] = hex.EncodeToString(sum[:])
		}
	}
	var out []byte
	var err error
	switch *format {
	case "users.xml":
		out, err = clickhouse.UsersXML(o)
	case "grants.sql":
		out, err = clickhouse.GrantsSQL(o)
	case "env":
		if !*dev {
			fmt.Fprintln(stderr, "render: -format env prints the local stack's passwords: it needs -dev-passwords")
			return 2
		}
		var b strings.Builder
		b.WriteString("# The local stack's ClickHouse users (deploy/clickhouse): orderflow_<role>, password in\n" +
			"# ORDERFLOW_CLICKHOUSE_<ROLE>_PASSWORD (clickhouse.password: {env: ...}).\n")
		for _, r := range clickhouse.Roles() {
			fmt.Fprintf(&b, "ORDERFLOW_CLICKHOUSE_%s_PASSWORD=%s\n", strings.ToUpper(r.Name), devPassword(r.Name))
		}
		out = []byte(b.String())
	default:
		fmt.Fprintf(stderr, "render: -format %q is not users.xml, grants.sql or env\n", *format)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "render: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

// devPassword is a role's password in the local stack: not a secret, like
// the Vault dev server's root token (deploy/local/lib.sh).
func devPassword(role string) string { return "orderflow-dev-" + strings.ReplaceAll(role, "_", "-") }
