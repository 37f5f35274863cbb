package clickhouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// ClickHouse 18.16's answers to a refused statement.
const (
	allowed        = 0
	accessDenied   = 291 // DATABASE_ACCESS_DENIED: a database not in allow_databases
	readonlyMode   = 164 // READONLY: a write, a SET or a table function under readonly = 1
	ddlProhibited  = 392 // QUERY_IS_PROHIBITED: ALTER, CREATE or DROP under allow_ddl = 0
	reloadDeadline = time.Minute
)

// On the stack's ClickHouse 18.16, each role's user, installed from the
// users.xml form (UsersXML) for this test's databases, logs in through
// clickhousedb.Open as the commands do, can do what its commands need (the
// migrator runs every migration, the writer passes the writer's schema check,
// the purger runs a real retention pass) and is refused what 18.16 can
// refuse it. The expectations are written out here, not derived from
// roles.go, so that a role widened there fails here.
func TestEachUserReachesWhatItsRoleNeedsAndNoMore(t *testing.T) {
	dir := stacktest.ClickHouseUsersDir(t)
	httpURL := stacktest.ClickHouseHTTP(t)
	cfg := clickhousetest.Config(t)
	admin := clickhousetest.Open(t, cfg)
	clickhousetest.DropAtCleanup(t, admin, cfg)
	ctx := context.Background()
	db, rdb := cfg.Database, cfg.RestrictedDatabase

	// A database that no role lists, holding a table.
	other := db + "_other"
	mustExec(t, admin, "CREATE DATABASE "+other)
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+other) })
	mustExec(t, admin, "CREATE TABLE "+other+".t (tenant_id String) ENGINE = MergeTree ORDER BY tenant_id")

	// The users, under names of this test's own, with random passwords.
	prefix := db + "_"
	passwords, sums := map[string]string{}, map[string]string{}
	for _, r := range Roles() {
		passwords[r.Name] = randomHex()
		sum := sha256.Sum256([]byte(passwords[r.Name]))
		sums[r.Name] = hex.EncodeToString(sum[:])
	}
	loopback := []string{"127.0.0.1", "::1"}
	users, err := UsersXML(Options{
		Database: db, RestrictedDatabase: rdb, UserPrefix: prefix, PasswordSHA256: sums,
		Networks: map[Audience][]string{Workload: loopback, People: loopback},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Written whole or not at all: the server may read the folder at any
	// moment, and it merges *.xml files only.
	file := filepath.Join(dir, prefix+"orderflow.xml")
	if err := os.WriteFile(file+".tmp", users, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
	// Removed before the databases are dropped (cleanups run last first).
	t.Cleanup(func() { _ = os.Remove(file) })

	conns := map[string]driver.Conn{}
	cfgs := map[string]config.ClickHouse{}
	for _, r := range Roles() {
		c := cfg
		c.Username = r.User(prefix)
		c.Password = config.SecretRef{Value: config.Secret(passwords[r.Name])}
		cfgs[r.Name], conns[r.Name] = c, login(t, c)
	}

	// The migrator creates both databases and the whole schema.
	quiet := slog.New(slog.DiscardHandler)
	m, err := migrate.New(migrate.Config{Conn: conns["migrator"], Database: db, RestrictedDatabase: rdb, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate as the migrator: %v", err)
	}

	// The writer's start: the schema version, then the writer's own check
	// of its tables' columns (system.columns shows it only what it may see).
	for _, role := range []string{"writer", "dispatcher", "purger", "offboarding", "dlq_replay"} {
		m, err := migrate.New(migrate.Config{Conn: conns[role], Database: db, RestrictedDatabase: rdb, Logger: quiet})
		if err == nil {
			err = m.Check(ctx)
		}
		if err != nil {
			t.Errorf("%s: the schema check every command makes at start: %v", role, err)
		}
	}
	w, err := facts.New(facts.Config{Conn: conns["writer"], Database: db, RestrictedDatabase: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CheckSchema(ctx); err != nil {
		t.Errorf("writer: the writer's schema check: %v", err)
	}

	// The purger's real pass drops an expired day of labels.
	mustInsert(t, admin, rdb+"."+schema.TableDeliveryLabels, "tenant_id, purchased_at", "acme", time.Now().AddDate(0, 0, -60))
	purger, err := retention.New(retention.Config{
		Conn: conns["purger"], Database: db, RestrictedDatabase: rdb,
		Retention: config.Defaults().Retention, MutationTimeout: time.Minute,
		Registerer: prometheus.NewRegistry(), Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if report, err := purger.Purge(ctx, time.Now(), false); err != nil {
		t.Errorf("purger: a retention pass: %v", err)
	} else if report.PartitionsDropped() != 1 {
		t.Errorf("purger: the pass dropped %d partitions, want the expired day of labels", report.PartitionsDropped())
	}
	if n := clickhousetest.Count(t, admin, "SELECT count() FROM "+rdb+"."+schema.TableDeliveryLabels); n != 0 {
		t.Errorf("purger: %d labels left after the pass, want 0", n)
	}

	// What each statement of the probes needs: a String column per table.
	columns := map[string]string{}
	for table, d := range schema.Tables() {
		var col string
		if err := admin.QueryRow(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ? AND type = 'String' LIMIT 1",
			d.Name(db, rdb), table).Scan(&col); err != nil {
			t.Fatalf("a String column of %s: %v", table, err)
		}
		columns[table] = col
	}
	p := probes{db: db, rdb: rdb, columns: columns, httpURL: httpURL}

	analytics := []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TablePurgeLog, schema.TableOffboardedTenants,
		schema.TableOffboardHeartbeats, schema.TableOffboardAcks, schema.TableSchemaMigrations, schema.TableErasedOrders, schema.TableErasureRequests}
	restricted := []string{schema.TableDeliveryLabels, schema.TableFinancialRecords, schema.TableAccountingPostings}
	everyWorkload := func() []expect {
		// Whatever a command's user is, other databases stay shut.
		return []expect{
			{p.readOther(other), is(accessDenied)},
			{p.createDatabase(other + "_2"), anyOf(accessDenied, ddlProhibited)},
		}
	}
	readers := func() []expect {
		// A user with readonly = 1 writes nothing, changes no setting, in
		// any of the ways a client can try, and calls no table function.
		return []expect{
			{p.insert(schema.Analytics, schema.TableOrderFacts), anyOf(readonlyMode, accessDenied)},
			{p.insert(schema.Restricted, schema.TableFinancialRecords), anyOf(readonlyMode, accessDenied)},
			{p.alterDelete(schema.Restricted, schema.TableFinancialRecords), anyOf(readonlyMode, accessDenied)},
			{p.dropPartition(schema.Analytics, schema.TableOrderFacts), anyOf(readonlyMode, accessDenied)},
			{p.createTable(schema.Analytics), anyOf(readonlyMode, accessDenied)},
			{p.set("readonly", "0"), is(readonlyMode)},
			{p.set("max_memory_usage", "0"), is(readonlyMode)},
			{p.withSettings(p.insert(schema.Analytics, schema.TableOrderFacts), chgo.Settings{"readonly": 0}), anyOf(readonlyMode, accessDenied)},
			{p.withSettings(p.insert(schema.Restricted, schema.TableFinancialRecords), chgo.Settings{"readonly": 0}), anyOf(readonlyMode, accessDenied)},
			{p.tableFunction(), is(readonlyMode)},
			{p.readOther(other), is(accessDenied)},
		}
	}

	expectations := map[string][]expect{
		"migrator": append(everyWorkload(),
			expect{p.createTable(schema.Analytics), is(allowed)},
			expect{p.createTable(schema.Restricted), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableSchemaMigrations), is(allowed)},
		),
		"writer": append(everyWorkload(),
			expect{p.read(schema.Analytics, schema.TableSchemaMigrations), is(allowed)},
			expect{p.read(schema.Analytics, schema.TableOffboardedTenants), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableOrderFacts), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableOrderLineFacts), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableOffboardHeartbeats), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableOffboardAcks), is(allowed)},
			expect{p.insert(schema.Restricted, schema.TableDeliveryLabels), is(allowed)},
			expect{p.insert(schema.Restricted, schema.TableFinancialRecords), is(allowed)},
			expect{p.alterDelete(schema.Analytics, schema.TableOrderFacts), is(ddlProhibited)},
			expect{p.alterDelete(schema.Restricted, schema.TableFinancialRecords), is(ddlProhibited)},
			expect{p.dropPartition(schema.Restricted, schema.TableDeliveryLabels), is(ddlProhibited)},
			expect{p.createTable(schema.Analytics), is(ddlProhibited)},
			expect{p.dropTable(schema.Analytics, schema.TableOrderFacts), is(ddlProhibited)},
			expect{p.set("allow_ddl", "1"), is(ddlProhibited)},
			expect{p.exec("SYSTEM", "SYSTEM DROP DNS CACHE"), is(ddlProhibited)},
		),
		"dispatcher": append(everyWorkload(),
			expect{p.read(schema.Restricted, schema.TableFinancialRecords), is(allowed)},
			expect{p.read(schema.Restricted, schema.TableAccountingPostings), is(allowed)},
			expect{p.insert(schema.Restricted, schema.TableAccountingPostings), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableOffboardHeartbeats), is(allowed)},
			expect{p.alterDelete(schema.Restricted, schema.TableAccountingPostings), is(ddlProhibited)},
			expect{p.dropPartition(schema.Restricted, schema.TableFinancialRecords), is(ddlProhibited)},
			expect{p.createTable(schema.Restricted), is(ddlProhibited)},
			expect{p.set("allow_ddl", "1"), is(ddlProhibited)},
		),
		"eraser": append(everyWorkload(),
			expect{p.read(schema.Analytics, schema.TableOrderFacts), is(allowed)},
			expect{p.read(schema.Analytics, schema.TableOffboardAcks), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableErasedOrders), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TableErasureRequests), is(allowed)},
			expect{p.insert(schema.Analytics, schema.TablePurgeLog), is(allowed)},
			expect{p.alterDelete(schema.Restricted, schema.TableDeliveryLabels), is(allowed)},
		),
		"purger":      deleters(p, everyWorkload(), true),
		"offboarding": deleters(p, everyWorkload(), false),
		"finance": append(readers(),
			expect{p.read(schema.Restricted, schema.TableFinancialRecords), is(allowed)},
		),
		"analyst": readers(),
		"dlq_replay": append(readers(),
			expect{p.read(schema.Analytics, schema.TableSchemaMigrations), is(allowed)},
			expect{p.read(schema.Analytics, schema.TableOffboardedTenants), is(allowed)},
			expect{p.read(schema.Restricted, schema.TableFinancialRecords), is(accessDenied)},
		),
	}
	for _, table := range analytics {
		expectations["finance"] = append(expectations["finance"], expect{p.read(schema.Analytics, table), is(accessDenied)})
		expectations["analyst"] = append(expectations["analyst"], expect{p.read(schema.Analytics, table), is(allowed)})
	}
	for _, table := range restricted {
		expectations["analyst"] = append(expectations["analyst"], expect{p.read(schema.Restricted, table), is(accessDenied)})
	}
	for _, r := range []string{"finance", "analyst"} {
		expectations[r] = append(expectations[r], expect{p.httpInsert(schema.Analytics, schema.TableOrderFacts, "readonly=0"), anyOf(readonlyMode, accessDenied)})
	}
	if len(expectations) != len(Roles()) {
		t.Fatalf("expectations for %d roles, but there are %d roles: write out what the new one may and may not do", len(expectations), len(Roles()))
	}

	// What 18.16 cannot refuse, which users.xml's comments and the README
	// say: held here so that they stay true of the server the stack runs.
	var version string
	if err := admin.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(version, "18.") {
		expectations["finance"] = append(expectations["finance"],
			expect{p.gap(p.read(schema.Restricted, schema.TableDeliveryLabels)), is(allowed)})
		expectations["writer"] = append(expectations["writer"],
			expect{p.gap(p.withSettings(p.alterDelete(schema.Analytics, schema.TableOrderFacts), chgo.Settings{"allow_ddl": 1})), is(allowed)},
			expect{p.gap(p.read(schema.Analytics, schema.TablePurgeLog)), is(allowed)},
			expect{p.gap(p.tableFunction()), is(allowed)})
		// Harmless: it only empties the server's DNS cache.
		expectations["purger"] = append(expectations["purger"],
			expect{p.gap(p.exec("SYSTEM", "SYSTEM DROP DNS CACHE")), is(allowed)})
	}

	for _, r := range Roles() {
		for _, e := range expectations[r.Name] {
			t.Run(r.Name+"/"+e.probe.name, func(t *testing.T) {
				err := e.probe.run(ctx, conns[r.Name], cfgs[r.Name])
				if got := code(err); !e.want(got) {
					t.Errorf("got %v, want %s", describe(got, err), e.wantText)
				}
			})
		}
	}
}

// deleters are the expectations of the purger and offboarding: they read and
// delete in every retained table, and only the purger drops partitions
// (offboarding could too on 18.16, where allow_ddl is all or nothing).
func deleters(p probes, base []expect, purger bool) []expect {
	out := append(base,
		expect{p.read(schema.Analytics, schema.TableSchemaMigrations), is(allowed)},
		expect{p.read(schema.Analytics, schema.TableOffboardedTenants), is(allowed)},
		expect{p.insert(schema.Analytics, schema.TablePurgeLog), is(allowed)},
	)
	for _, t := range []struct {
		d     schema.Database
		table string
	}{
		{schema.Analytics, schema.TableOrderFacts}, {schema.Analytics, schema.TableOrderLineFacts},
		{schema.Restricted, schema.TableDeliveryLabels}, {schema.Restricted, schema.TableFinancialRecords},
		{schema.Restricted, schema.TableAccountingPostings},
	} {
		out = append(out, expect{p.read(t.d, t.table), is(allowed)}, expect{p.alterDelete(t.d, t.table), is(allowed)})
		if purger {
			out = append(out, expect{p.dropPartition(t.d, t.table), is(allowed)})
		}
	}
	if purger {
		out = append(out,
			expect{p.alterDelete(schema.Analytics, schema.TableOffboardHeartbeats), is(allowed)},
			expect{p.alterDelete(schema.Analytics, schema.TableOffboardAcks), is(allowed)})
	} else {
		out = append(out, expect{p.insert(schema.Analytics, schema.TableOffboardedTenants), is(allowed)})
	}
	return out
}

// expect is a probe and the answers it may get.
type expect struct {
	probe
	wantCodes
}

type wantCodes struct {
	want     func(int32) bool
	wantText string
}

func is(c int32) wantCodes {
	return wantCodes{func(got int32) bool { return got == c }, describe(c, nil)}
}

// anyOf accepts any of the codes: a write to a database the user may not
// see is refused for the one reason or the other, and either will do.
func anyOf(cs ...int32) wantCodes {
	var texts []string
	for _, c := range cs {
		texts = append(texts, describe(c, nil))
	}
	return wantCodes{func(got int32) bool {
		for _, c := range cs {
			if got == c {
				return true
			}
		}
		return false
	}, strings.Join(texts, " or ")}
}

// probe is one statement a user tries.
type probe struct {
	name string
	run  func(ctx context.Context, conn driver.Conn, cfg config.ClickHouse) error
}

type probes struct {
	db, rdb string
	columns map[string]string // a String column of each table
	httpURL string
}

func (p probes) table(d schema.Database, table string) string {
	return d.Name(p.db, p.rdb) + "." + table
}

func (p probes) exec(name, stmt string) probe {
	return probe{name, func(ctx context.Context, conn driver.Conn, _ config.ClickHouse) error { return conn.Exec(ctx, stmt) }}
}

func (p probes) read(d schema.Database, table string) probe {
	return probe{"SELECT " + table, func(ctx context.Context, conn driver.Conn, _ config.ClickHouse) error {
		var n uint64
		return conn.QueryRow(ctx, "SELECT count() FROM "+p.table(d, table)).Scan(&n)
	}}
}

func (p probes) readOther(db string) probe {
	return probe{"SELECT another database", func(ctx context.Context, conn driver.Conn, _ config.ClickHouse) error {
		var n uint64
		return conn.QueryRow(ctx, "SELECT count() FROM "+db+".t").Scan(&n)
	}}
}

// insert inserts one row naming one column, as every insert of orderflow
// does (a block insert with its columns named).
func (p probes) insert(d schema.Database, table string) probe {
	return probe{"INSERT " + table, func(ctx context.Context, conn driver.Conn, _ config.ClickHouse) error {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+p.table(d, table)+" ("+p.columns[table]+")")
		if err != nil {
			return err
		}
		if err := batch.Append("probe"); err != nil {
			_ = batch.Abort()
			return err
		}
		return batch.Send()
	}}
}

func (p probes) alterDelete(d schema.Database, table string) probe {
	return p.exec("ALTER DELETE "+table, "ALTER TABLE "+p.table(d, table)+" DELETE WHERE "+p.columns[table]+" = 'nobody'")
}

// dropPartition drops a partition that holds nothing: what is checked is
// whether the user may.
func (p probes) dropPartition(d schema.Database, table string) probe {
	return p.exec("DROP PARTITION "+table, "ALTER TABLE "+p.table(d, table)+" DROP PARTITION ID 'nothing'")
}

func (p probes) createTable(d schema.Database) probe {
	return p.exec("CREATE TABLE in "+string(d), "CREATE TABLE "+p.table(d, "probe_"+randomHex()[:8])+" (a UInt8) ENGINE = Memory")
}

func (p probes) dropTable(d schema.Database, table string) probe {
	return p.exec("DROP TABLE "+table, "DROP TABLE "+p.table(d, table))
}

func (p probes) createDatabase(db string) probe {
	return p.exec("CREATE DATABASE another", "CREATE DATABASE "+db)
}

func (p probes) set(setting, value string) probe {
	return p.exec("SET "+setting, "SET "+setting+" = "+value)
}

func (p probes) tableFunction() probe {
	return probe{"table function", func(ctx context.Context, conn driver.Conn, _ config.ClickHouse) error {
		var n uint64
		return conn.QueryRow(ctx, "SELECT count() FROM numbers(1)").Scan(&n)
	}}
}

// withSettings sends settings with the probe's query, as a client may:
// settings the user could not SET.
func (p probes) withSettings(pr probe, s chgo.Settings) probe {
	var names []string
	for k, v := range s {
		names = append(names, fmt.Sprintf("%s=%v", k, v))
	}
	return probe{pr.name + " with " + strings.Join(names, ","), func(ctx context.Context, conn driver.Conn, cfg config.ClickHouse) error {
		return pr.run(chgo.Context(ctx, chgo.WithSettings(s)), conn, cfg)
	}}
}

// httpInsert inserts over the HTTP interface with the settings of query in
// the URL, the other way a client may send settings.
func (p probes) httpInsert(d schema.Database, table, query string) probe {
	return probe{"HTTP INSERT " + table + " with " + query, func(ctx context.Context, _ driver.Conn, cfg config.ClickHouse) error {
		q, err := url.ParseQuery(query)
		if err != nil {
			return err
		}
		q.Set("query", "INSERT INTO "+p.table(d, table)+" ("+p.columns[table]+") FORMAT TabSeparated")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.httpURL+"/?"+q.Encode(), strings.NewReader("probe\n"))
		if err != nil {
			return err
		}
		req.SetBasicAuth(cfg.Username, cfg.Password.Value.Reveal())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		// "Code: 164, e.displayText() = ...": the same codes as natively.
		if m := regexp.MustCompile(`Code: (\d+)`).FindSubmatch(body); m != nil {
			c, _ := strconv.Atoi(string(m[1]))
			return &chgo.Exception{Code: int32(c), Message: string(body)}
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}}
}

// gap marks a probe that shows what 18.16 cannot refuse.
func (p probes) gap(pr probe) probe {
	pr.name = "18.16 gap: " + pr.name
	return pr
}

// code is the ClickHouse exception code of err: 0 for none, -1 for an error
// that is not a ClickHouse exception.
func code(err error) int32 {
	if err == nil {
		return allowed
	}
	var ex *chgo.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return -1
}

func describe(c int32, err error) string {
	names := map[int32]string{allowed: "allowed", accessDenied: "refused: access denied (291)",
		readonlyMode: "refused: readonly (164)", ddlProhibited: "refused: DDL prohibited (392)"}
	s, ok := names[c]
	if !ok {
		s = fmt.Sprintf("code %d", c)
	}
	if err != nil {
		s += " (" + err.Error() + ")"
	}
	return s
}

// login opens cfg's user as the commands do, once the server has loaded the
// users file: it rereads users.xml and users.d every few seconds.
func login(t *testing.T, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reloadDeadline)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		conn, err := clickhousedb.Open(ctx, cfg)
		if err == nil {
			t.Cleanup(func() { _ = conn.Close() })
			return conn
		}
		if backoff.Sleep(ctx, wait) != nil {
			t.Fatalf("%s cannot log in within %s of its users file being written: %v", cfg.Username, reloadDeadline, err)
		}
		wait = min(2*wait, time.Second)
	}
}

func mustExec(t *testing.T, conn driver.Conn, stmt string) {
	t.Helper()
	if err := conn.Exec(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func mustInsert(t *testing.T, conn driver.Conn, table, columns string, values ...any) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO "+table+" ("+columns+")")
	if err == nil {
		if err = batch.Append(values...); err == nil {
			err = batch.Send()
		}
	}
	if err != nil {
		t.Fatalf("insert into %s: %v", table, err)
	}
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
