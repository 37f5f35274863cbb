package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	vaultapi "github.com/hashicorp/vault/api"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/lease"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// A purge as of a future instant would delete data before its time: the
// command refuses it before reading any configuration or reaching any server,
// unless it is a dry run.
func TestPurgeRefusesToDeleteAsOfTheFuture(t *testing.T) {
	for _, now := range []string{"+1d", "+6y", time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339), "2099-01-01"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"purge", "--now", now}, &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "in the future") || !strings.Contains(stderr.String(), "--dry-run") {
			t.Errorf("purge --now %s: exit %d, stderr %q; want 2 and a refusal that suggests --dry-run", now, code, stderr.String())
		}
	}
	// A dry run goes on: here as far as the configuration, which an empty
	// broker list makes it refuse before it reaches any server.
	t.Setenv("ORDERFLOW_KAFKA_BROKERS", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"purge", "--now", "+6y", "--dry-run"}, &stdout, &stderr); strings.Contains(stderr.String(), "in the future") {
		t.Errorf("purge --now +6y --dry-run was refused (exit %d): %s", code, stderr.String())
	}
}

// The one-shot commands serve /metrics while they run (and not after), and
// an address already taken costs only a warning.
func TestOneShotCommandsServeMetricsWhileRunning(t *testing.T) {
	cfg := config.Defaults()
	cfg.Metrics.Listen = freeAddr(t)
	cfg.Pipeline.ShutdownTimeout = time.Second
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "orderflow_test_serving", Help: "h"})
	reg.MustRegister(g)
	g.Set(3)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stop := serveWhileRunning(context.Background(), cfg, reg, log)
	if body := get(t, "http://"+cfg.Metrics.Listen+"/metrics"); !strings.Contains(body, "orderflow_test_serving 3") {
		t.Errorf("/metrics while running: %s", body)
	}
	again := serveWhileRunning(context.Background(), cfg, reg, log) // the address is taken
	again()
	if !strings.Contains(logs.String(), "not serving metrics") {
		t.Errorf("a taken address was not logged: %s", logs.String())
	}
	stop()
	if resp, err := http.Get("http://" + cfg.Metrics.Listen + "/metrics"); err == nil {
		resp.Body.Close()
		t.Error("/metrics still served after the command ended")
	}
}

// purgeStack is what the purge command needs on the stack: migrated databases
// of its own, Vault (for the lease), and the Pushgateway.
type purgeStack struct {
	cfg    config.Config
	conn   driver.Conn
	pgw    string
	tenant string // the rows' seller: unique, since offboarding it destroys its Vault keys
	// vault is a root client, for holding the command's lease from outside.
	vault *vaultapi.Client
}

func newPurgeStack(t *testing.T) *purgeStack {
	t.Helper()
	chCfg, conn := clickhousetest.Migrated(t)
	vaultAddr, vaultToken := stacktest.Vault(t)
	pgw := stacktest.PushgatewayURL(t)
	for k, v := range map[string]string{
		"ORDERFLOW_KAFKA_BROKERS":                  "127.0.0.1:1", // required by config, unused by purge
		"ORDERFLOW_CLICKHOUSE_ADDR":                strings.Join(chCfg.Addr, ","),
		"ORDERFLOW_CLICKHOUSE_DATABASE":            chCfg.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE": chCfg.RestrictedDatabase,
		"ORDERFLOW_VAULT_ADDRESS":                  vaultAddr,
		"ORDERFLOW_VAULT_AUTH_TOKEN_ENV":           "TEST_VAULT_TOKEN",
		"TEST_VAULT_TOKEN":                         vaultToken,
		"ORDERFLOW_METRICS_LISTEN":                 freeAddr(t),
		"ORDERFLOW_METRICS_PUSHGATEWAY":            pgw,
		"ORDERFLOW_LOG_LEVEL":                      "warn",
	} {
		t.Setenv(k, v)
	}
	cfg, err := loadFor("test", "", io.Discard, needClickHouse, needVault)
	if err != nil {
		t.Fatal(err)
	}
	stacktest.DeletePushGroupAtCleanup(t, pgw, purgeJob, "database", chCfg.Database)
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: vaultAddr})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(vaultToken)
	key := cfg.Retention.Lease.Path + "/purge-" + chCfg.Database
	t.Cleanup(func() { _, _ = vc.Logical().Delete(cfg.Retention.Lease.KVMount + "/metadata/" + key) })
	return &purgeStack{cfg: cfg, conn: conn, pgw: pgw, vault: vc, tenant: stacktest.UniqueName("seller")}
}

// expired writes n expired rows into each of delivery_labels (bought 30 days
// ago), order_facts (3 years ago) and financial_records (last event 8 years
// ago), and one row of each that has not expired; it returns the expired
// rows written.
func (s *purgeStack) expired(t *testing.T, prefix string, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	insert := func(table, columns string, row func(id string, at time.Time) []any, old time.Time) {
		batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+columns+")")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n + 1 {
			at := old.Add(-time.Duration(i) * time.Hour)
			if i == n {
				at = now.Add(-day) // kept
			}
			if err := batch.Append(row(prefix+"-"+string(rune('a'+i)), at)...); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}
	ch := s.cfg.ClickHouse
	insert(ch.RestrictedDatabase+".delivery_labels", "tenant_id, channel, channel_order_id, version, purchased_at, written_at",
		func(id string, at time.Time) []any { return []any{s.tenant, "ebay", id, uint64(1), at, now} }, now.Add(-30*day))
	insert(ch.Database+".order_facts", "tenant_id, channel, channel_order_id, version, purchased_at, source_updated_at, received_at, written_at",
		func(id string, at time.Time) []any { return []any{s.tenant, "ebay", id, uint64(1), at, at, at, now} }, now.AddDate(-3, 0, 0))
	insert(ch.RestrictedDatabase+".financial_records",
		"tenant_id, channel, channel_order_id, version, jurisdiction, purchased_at, last_financial_event_at, written_at",
		func(id string, at time.Time) []any { return []any{s.tenant, "ebay", id, uint64(1), "GB", at, at, now} }, now.AddDate(-8, 0, 0))
	return uint64(3 * n)
}

// pushed reads a metric of the purge job's group from the Pushgateway, summed.
func (s *purgeStack) pushed(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	series := stacktest.PushedSeries(t, s.pgw, name, append([]string{"job=" + purgeJob, "database=" + s.cfg.ClickHouse.Database}, labels...)...)
	sum := 0.0
	for _, v := range series {
		sum += v
	}
	return sum, len(series) > 0
}

func runPurge(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"purge"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("purge %v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestPurgeCronJobPushesWhatItDid runs the scheduled pass of `orderflow run`
// (counters, scraped) and then `orderflow purge` passes (gauges, pushed) over
// one data set, with the real Pushgateway, Vault lease and Prometheus:
//
//   - the CronJob's push carries its rows, outcome and success time, and no
//     counter, so nothing it pushes can be added to the worker's counters;
//     the worker's rows plus the CronJob's equal purge_log's, once;
//   - Prometheus, scraping the Pushgateway with honor_labels, shows them
//     under job orderflow-purge;
//   - a pass skipped because the lease is held adds its skip time and
//     leaves the last pass's rows alone;
//   - the next pass replaces the group: rows 0, not a running total.
func TestPurgeCronJobPushesWhatItDid(t *testing.T) {
	s := newPurgeStack(t)
	promURL := stacktest.PrometheusURL(t)
	ctx := context.Background()
	db := s.cfg.ClickHouse.Database

	// The worker's scheduled pass, built as runWorker builds it.
	byWorker := s.expired(t, "w", 2)
	workerReg := prometheus.NewRegistry()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	vault, err := newTransit(ctx, s.cfg, workerReg, quiet, closedGate{})
	if err != nil {
		t.Fatal(err)
	}
	defer vault.Close()
	workerLease, err := newPurgeLease(s.cfg, vault, quiet)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := newPurger(s.cfg, &clickHouse{Conn: s.conn}, nil, workerLease, workerReg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Purge(ctx, time.Now(), false); err != nil {
		t.Fatal(err)
	}

	byCronJob := s.expired(t, "c", 3)
	before := float64(time.Now().Unix())
	out := runPurge(t)
	if !strings.Contains(out, "purged 9 rows") {
		t.Errorf("purge printed %q, want 9 rows purged", out)
	}
	rows, _ := s.pushed(t, "orderflow_purge_last_run_rows")
	ok, _ := s.pushed(t, "orderflow_purge_last_run_outcome", "outcome=ok")
	success, _ := s.pushed(t, "orderflow_purge_last_success_timestamp_seconds", "table=financial_records")
	if rows != float64(byCronJob) || ok != 1 || success < before {
		t.Errorf("pushed rows %v, outcome ok %v, last success %v; want %d, 1, after %v", rows, ok, success, byCronJob, before)
	}
	for _, counter := range []string{"orderflow_purge_rows_total", "orderflow_purge_runs_total", "orderflow_purge_duration_seconds"} {
		if _, found := s.pushed(t, counter); found {
			t.Errorf("%s was pushed: a one-shot run's counter restarts at every push", counter)
		}
	}
	workerRows := telemetrytest.Sum(t, workerReg, "orderflow_purge_rows_total")
	logged := clickhousetest.Count(t, s.conn, "SELECT sum(rows) FROM "+db+".purge_log WHERE outcome = 'ok'")
	if workerRows != float64(byWorker) || workerRows+rows != float64(logged) || logged != byWorker+byCronJob {
		t.Errorf("rows: worker counted %v, CronJob pushed %v, purge_log %d; want %d + %d = purge_log", workerRows, rows, logged, byWorker, byCronJob)
	}

	// Prometheus sees the push under the CronJob's job.
	waitForProm(t, promURL, `sum(orderflow_purge_last_run_rows{job="`+purgeJob+`",database="`+db+`"})`, rows)
	waitForProm(t, promURL, `orderflow_purge_last_run_outcome{job="`+purgeJob+`",database="`+db+`",outcome="ok"}`, 1)
	waitForProm(t, promURL, `orderflow_purge_last_success_timestamp_seconds{job="`+purgeJob+`",database="`+db+`",table="financial_records"}`, success)

	// Another holds the lease: the pass is skipped, and says so without
	// touching the last pass's rows.
	holder, err := lease.New(lease.Config{Client: s.vault, Mount: s.cfg.Retention.Lease.KVMount,
		Key: s.cfg.Retention.Lease.Path + "/purge-" + db, TTL: time.Minute, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if held, err := holder.Acquire(ctx); !held || err != nil {
		t.Fatalf("holding the lease: %v, %v", held, err)
	}
	s.expired(t, "s", 1)
	if out := runPurge(t); !strings.Contains(out, "skipped") {
		t.Errorf("purge while the lease is held printed %q, want skipped", out)
	}
	skip, found := s.pushed(t, "orderflow_purge_last_skip_timestamp_seconds")
	if rows2, _ := s.pushed(t, "orderflow_purge_last_run_rows"); !found || skip < before || rows2 != rows {
		t.Errorf("after a skipped pass: skip time %v (found %v), rows %v; want a skip time and the last pass's %v rows", skip, found, rows2, rows)
	}
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// The next pass removes the one left and replaces the group.
	runPurge(t)
	if rows3, _ := s.pushed(t, "orderflow_purge_last_run_rows"); rows3 != 3 {
		t.Errorf("pushed rows after the next pass %v, want its own 3, not a running total", rows3)
	}
	runPurge(t)
	if rows4, _ := s.pushed(t, "orderflow_purge_last_run_rows"); rows4 != 0 {
		t.Errorf("pushed rows after a pass with nothing to do %v, want 0", rows4)
	}
}

// waitForProm waits until Prometheus answers query with want.
func waitForProm(t *testing.T, promURL, query string, want float64) {
	t.Helper()
	client, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var last model.Value
	for {
		v, _, _, err := api.Query(ctx, query, time.Now())
		if err == nil {
			last = v
			if vec, ok := v.(model.Vector); ok && len(vec) == 1 && float64(vec[0].Value) == want {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus at %s never answered %s with %v (last: %v): does it scrape the Pushgateway with honor_labels?", promURL, query, want, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// The offboard command pushes its gauges under its own job.
func TestOffboardCommandPushes(t *testing.T) {
	s := newPurgeStack(t)
	stacktest.DeletePushGroupAtCleanup(t, s.pgw, offboardJob, "database", s.cfg.ClickHouse.Database)
	s.expired(t, "o", 2)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"offboard", "--tenant", s.tenant, "--confirm", s.tenant}, &stdout, &stderr); code != 0 {
		t.Fatalf("offboard: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	series := func(name string, labels ...string) float64 {
		sum := 0.0
		for _, v := range stacktest.PushedSeries(t, s.pgw, name, append([]string{"job=" + offboardJob, "database=" + s.cfg.ClickHouse.Database}, labels...)...) {
			sum += v
		}
		return sum
	}
	if rows, ok := series("orderflow_offboard_last_run_rows"), series("orderflow_offboard_last_run_outcome", "outcome=ok"); rows != 9 || ok != 1 ||
		series("orderflow_offboard_last_success_timestamp_seconds") == 0 {
		t.Errorf("pushed offboarding rows %v, outcome ok %v: want 9 and 1, with a success time", rows, ok)
	}
}
