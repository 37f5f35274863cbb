package clickhouse

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/config"
)

var update = flag.Bool("update", false, "render users.xml and grants.sql again from roles.go")

// The committed users.xml and grants.sql are what roles.go renders for the
// default names, so the two forms never drift from the one definition.
func TestCommittedFilesAreRendered(t *testing.T) {
	for file, render := range map[string]func(Options) ([]byte, error){"users.xml": UsersXML, "grants.sql": GrantsSQL} {
		want, err := render(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what roles.go renders: run go test ./deploy/clickhouse -update", file)
		}
	}
}

// Without a password or a network in the options, the files hold no secret:
// each comes from the environment where the users are installed.
func TestCommittedFilesHoldNoSecret(t *testing.T) {
	xml, err := UsersXML(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sql, err := GrantsSQL(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Roles() {
		if !bytes.Contains(xml, []byte(`<password_sha256_hex from_env="`+PasswordEnv(r.Name)+`"/>`)) {
			t.Errorf("users.xml: %s's password does not come from %s", r.Name, PasswordEnv(r.Name))
		}
		if !bytes.Contains(sql, []byte(`sha256_hash BY '${`+PasswordEnv(r.Name)+`}'`)) {
			t.Errorf("grants.sql: %s's password is not ${%s}", r.Name, PasswordEnv(r.Name))
		}
	}
	if hex := regexp.MustCompile(`[0-9a-fA-F]{64}`); hex.Match(xml) || hex.Match(sql) {
		t.Error("a rendered file holds a SHA-256")
	}
	if bytes.Contains(xml, []byte("<password>")) {
		t.Error("users.xml holds a plain password")
	}
}

// The migrator may run every statement of every migration: a migration of a
// new kind (DROP COLUMN, say) fails here until the role is given its grant,
// not at a production deploy.
func TestMigratorMayRunEveryMigration(t *testing.T) {
	migrator := role(t, "migrator")
	type kind struct {
		re         *regexp.Regexp
		privileges []Privilege
	}
	kinds := []kind{
		{regexp.MustCompile(`(?is)^CREATE DATABASE IF NOT EXISTS (\{\w+\})$`), []Privilege{CreateDatabase}},
		{regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS (\{\w+\})\.\w+\s*\(`), []Privilege{CreateTable}},
		{regexp.MustCompile(`(?is)^ALTER TABLE (\{\w+\})\.\w+\s+ADD COLUMN `), []Privilege{AlterAddColumn}},
		{regexp.MustCompile(`(?is)^ALTER TABLE (\{\w+\})\.\w+\s+MODIFY COLUMN `), []Privilege{AlterModifyColumn}},
		// A table rebuild (worker/migrate): the swap, within one database;
		// the copy, which drops each partition copied from the old table;
		// the spares dropped.
		{regexp.MustCompile(`(?is)^RENAME TABLE (\{\w+\})\.\w+ TO (\{\w+\})\.\w+, (\{\w+\})\.\w+ TO (\{\w+\})\.\w+$`),
			[]Privilege{Select, DropTable, CreateTable, Insert}},
		{regexp.MustCompile(`(?is)^INSERT INTO (\{\w+\})\.\w+ SELECT \* FROM (\{\w+\})\.\w+$`), []Privilege{Select, Insert, AlterDelete}},
		{regexp.MustCompile(`(?is)^DROP TABLE IF EXISTS (\{\w+\})\.\w+$`), []Privilege{DropTable}},
	}
	migrations, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		for i, stmt := range m.Statements(string(schema.Analytics), string(schema.Restricted)) {
			stmt = strings.TrimSpace(stmt)
			k := slices.IndexFunc(kinds, func(k kind) bool { return k.re.MatchString(stmt) })
			if k < 0 {
				t.Errorf("%04d_%s statement %d is of a kind this test does not know: give the migrator its privilege and add the kind here", m.Version, m.Name, i+1)
				continue
			}
			for _, db := range kinds[k].re.FindStringSubmatch(stmt)[1:] {
				for _, p := range kinds[k].privileges {
					if !migrator.may(p, schema.Database(db), "") {
						t.Errorf("%04d_%s statement %d needs %s on %s, which the migrator lacks", m.Version, m.Name, i+1, p, db)
					}
				}
			}
		}
	}
}

// The purger and offboarding may read and delete in every table of every
// retention class: a class given a new table fails here until both roles
// have it.
func TestPurgerAndOffboardingReachEveryRetainedTable(t *testing.T) {
	for _, name := range []string{"purger", "offboarding"} {
		r := role(t, name)
		for _, c := range config.RetentionClasses() {
			for _, ct := range c.Tables {
				db, _ := schema.DatabaseOf(ct.Name)
				for _, p := range []Privilege{Select, AlterDelete} {
					if !r.may(p, db, ct.Name) {
						t.Errorf("%s lacks %s on %s (retention class %s)", name, p, ct.Name, c.Name)
					}
				}
			}
		}
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	for name, o := range map[string]Options{
		"same databases":   {Database: "x", RestrictedDatabase: "x"},
		"quote in name":    {Database: "x'; DROP"},
		"prefix":           {UserPrefix: "a-b"},
		"short hash":       {PasswordSHA256: map[string]string{"writer": "abc"}},
		"unknown role":     {PasswordSHA256: map[string]string{"root": strings.Repeat("a", 64)}},
		"bad network":      {Networks: map[Audience][]string{Workload: {"10.0.0.0/8' OR 1"}}},
		"unknown audience": {Networks: map[Audience][]string{"robots": {"10.0.0.0/8"}}},
	} {
		if _, err := UsersXML(o); err == nil {
			t.Errorf("%s: UsersXML accepted %+v", name, o)
		}
		if _, err := GrantsSQL(o); err == nil {
			t.Errorf("%s: GrantsSQL accepted %+v", name, o)
		}
	}
}

func role(t *testing.T, name string) Role {
	t.Helper()
	i := slices.IndexFunc(Roles(), func(r Role) bool { return r.Name == name })
	if i < 0 {
		t.Fatalf("no role %s", name)
	}
	return Roles()[i]
}

// may reports whether r's grants include p on table of d ("" for a grant on
// the whole database).
func (r Role) may(p Privilege, d schema.Database, table string) bool {
	return slices.ContainsFunc(r.Grants, func(g Grant) bool {
		return g.Database == d && slices.Contains(g.Privileges, p) &&
			(g.Tables == nil || table != "" && slices.Contains(g.Tables, table))
	})
}
