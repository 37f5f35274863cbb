package stacktest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/orderflow/orderflow/worker/migrate"
)

// Configuration overrides (worker/config: ORDERFLOW_<key path>) that
// RunExamples sets, so that a package's examples, which read their
// configuration from the environment as orderflow does, use names of their own.
const (
	envVaultKeyPrefix         = "ORDERFLOW_VAULT_KEY_PREFIX"
	envClickHouseDatabase     = "ORDERFLOW_CLICKHOUSE_DATABASE"
	envClickHouseRestrictedDB = "ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE"
)

// RunExamples is TestMain for a package whose examples run against the stack:
// os.Exit(stacktest.RunExamples(m, stacktest.EnvVaultAddr, ...)). The examples
// load their configuration from the environment (config.Load, which requires
// kafka.brokers: EnvKafkaBrokers is always needed), as the command does, and
// check their output; need names the other variables they read.
//
// An example cannot skip itself, so when one of need is unset, outside CI,
// RunExamples skips the package's examples (the -test.skip flag) and says so,
// as each test that needs the server skips; under CI they run, and fail.
// Otherwise it gives the examples a Vault key prefix and two ClickHouse
// databases no other run shares (through the configuration's environment
// overrides: the stack is shared), migrated as `orderflow migrate` leaves
// them when need has EnvClickHouseAddr, runs the tests and examples, and then
// deletes the transit keys of that prefix and drops the databases.
func RunExamples(m *testing.M, need ...string) int {
	flag.Parse()
	var missing []string
	for _, env := range append([]string{EnvKafkaBrokers}, need...) {
		if os.Getenv(env) == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 && !InCI() {
		fmt.Fprintf(os.Stderr, "examples skipped: %s not set: %s\n", strings.Join(missing, ", "), howToStart)
		skip := "^Example"
		if s := flag.Lookup("test.skip").Value.String(); s != "" {
			skip = s + "|" + skip
		}
		if err := flag.Set("test.skip", skip); err != nil {
			panic(err)
		}
		return m.Run()
	}
	name := UniqueName("example")
	prefix := name + "-"
	database, restricted := name, name+"_restricted"
	for env, v := range map[string]string{envVaultKeyPrefix: prefix, envClickHouseDatabase: database, envClickHouseRestrictedDB: restricted} {
		if err := os.Setenv(env, v); err != nil {
			panic(err)
		}
	}
	if slices.Contains(need, EnvClickHouseAddr) {
		if err := migrateDatabases(database, restricted); err != nil {
			fmt.Fprintf(os.Stderr, "examples: migrating their databases: %v\n", err)
			return 1
		}
	}
	code := m.Run()
	// A deadline of its own: the package's tests may have run for minutes.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := deleteTransitKeys(ctx, prefix); err != nil {
		fmt.Fprintf(os.Stderr, "examples: deleting their transit keys %s*: %v\n", prefix, err)
		code = max(code, 1)
	}
	if err := dropDatabases(ctx, database, restricted); err != nil {
		fmt.Fprintf(os.Stderr, "examples: dropping their databases: %v\n", err)
		code = max(code, 1)
	}
	return code
}

// deleteTransitKeys deletes the stack's transit keys whose names start with
// prefix (the keys of tenants are created deletable; others are made so).
func deleteTransitKeys(ctx context.Context, prefix string) error {
	addr, token := os.Getenv(EnvVaultAddr), os.Getenv(EnvVaultToken)
	if addr == "" || token == "" {
		return nil
	}
	c, err := vaultClient(addr, token)
	if err != nil {
		return err
	}
	list, err := c.Logical().ListWithContext(ctx, "transit/keys")
	if err != nil || list == nil {
		return err
	}
	keys, _ := list.Data["keys"].([]any)
	for _, k := range keys {
		name, _ := k.(string)
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if _, err := c.Logical().WriteWithContext(ctx, "transit/keys/"+name+"/config", map[string]any{"deletion_allowed": true}); err != nil {
			return err
		}
		if _, err := c.Logical().DeleteWithContext(ctx, "transit/keys/"+name); err != nil {
			return err
		}
	}
	return nil
}

// migrateDatabases creates the two databases on the stack's ClickHouse with
// the whole schema.
func migrateDatabases(database, restricted string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{os.Getenv(EnvClickHouseAddr)}})
	if err != nil {
		return err
	}
	defer conn.Close()
	m, err := migrate.New(migrate.Config{Conn: conn, Database: database, RestrictedDatabase: restricted, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

// dropDatabases drops the named databases on the stack's ClickHouse.
func dropDatabases(ctx context.Context, names ...string) error {
	addr := os.Getenv(EnvClickHouseAddr)
	if addr == "" {
		return nil
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, db := range names {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			return err
		}
	}
	return nil
}
