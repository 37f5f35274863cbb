package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/dashboards"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/demo"
	"github.com/orderflow/orderflow/worker/order"
)

// demoCommand is `make demo`: the main job end to end on the local stack
// (package demo). It owns its topics and databases (demo.*, orderflow_demo*),
// which it starts afresh, so the figures it prints are this run's alone.
func demoCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("demo", stderr)
	var o demo.Config
	fs.Int64Var(&o.Count, "count", demo.DefaultCount, "messages to generate")
	fs.Uint64Var(&o.Seed, "seed", 2026, "generator seed: the same seed gives the same orders")
	fs.IntVar(&o.Tenants, "tenants", demo.DefaultTenants, "sellers to generate orders for")
	fs.DurationVar(&o.Timeout, "timeout", demo.DefaultTimeout, "give up if the worker has not processed everything by then")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadFor("demo", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	// The stack's Prometheus (deploy/local/stack.sh writes its address).
	o.Prometheus = os.Getenv("ORDERFLOW_PROMETHEUS_URL")
	// Each step logs in to Vault as its command's role (deploy/vault), as in production.
	logins, err := loadRoleLogins(*configPath, os.Environ(), os.Getenv("ORDERFLOW_STACK_ROLES_DIR"), roleWorker, roleDispatcher, rolePurger)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow demo: %v\n", err)
		return 2
	}
	ctx, cancel := signalContext()
	defer cancel()
	sum, err := demo.Run(ctx, demoConfig(cfg, o, logins, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "orderflow demo: %v\n", err)
		return 1
	}
	printDemo(stdout, cfg, sum, logins)
	return 0
}

// demoConfig wires the demo to cfg and to the worker and purger as `orderflow
// run` and `orderflow purge` build them. Progress lines go to progress, and
// the worker logs only errors, which would otherwise bury them. Each step runs
// under its command's Vault role when logins has it.
func demoConfig(cfg config.Config, o demo.Config, logins roleLogins, progress io.Writer) demo.Config {
	quiet := newLogger(config.Log{Level: "error", Format: "text"}, progress)
	o.App, o.Progress, o.Logger = cfg, progress, quiet
	// Each step serves its metrics as its command does, build info too.
	o.Worker = func(ctx context.Context, cfg config.Config, reg *prometheus.Registry) error {
		return runWorker(ctx, logins.as(roleWorker, cfg), nil, withBuildInfo(reg), quiet)
	}
	o.Dispatcher = func(ctx context.Context, cfg config.Config, reg *prometheus.Registry) error {
		return runDispatcher(ctx, logins.as(roleDispatcher, cfg), withBuildInfo(reg), quiet)
	}
	o.NewPurger = func(cfg config.Config, conn driver.Conn, cluster *clickhousedb.Cluster, reg *prometheus.Registry) (demo.Purger, error) {
		return newPurger(logins.as(rolePurger, cfg), &clickHouse{Conn: conn, cluster: cluster}, nil, nil, withBuildInfo(reg), quiet)
	}
	return o
}

func printDemo(w io.Writer, cfg config.Config, s demo.Summary, logins roleLogins) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw, "\t")
	}
	fmt.Fprintf(w, "\n== orderflow demo: seed %d, %d messages, processed in %s (first batch committed %s after the start) ==\n",
		s.Seed, s.Produced, s.Elapsed.Round(100*time.Millisecond), s.FirstCommit.Round(10*time.Millisecond))
	fmt.Fprintf(w, "Connections: %s\n", describeConnections(cfg, logins))

	fmt.Fprintf(w, "\nOrders read (generated) and written (order_facts FINAL), by seller and channel:\n")
	line("seller", "channel", "messages", "snapshots", "orders", "written", "")
	for _, tenant := range slices.Sorted(maps.Keys(s.Generated.Tenants)) {
		for _, name := range channel.Default().Names() {
			ch := string(name)
			c := s.Generated.Tenants[tenant][ch]
			line(tenant, ch, c.Messages, c.Snapshots, c.Orders, s.OrdersByTenant[tenant][ch], check(uint64(c.Orders) == s.OrdersByTenant[tenant][ch]))
		}
	}
	_ = tw.Flush()
	var committed []string
	for _, name := range channel.Default().Names() {
		committed = append(committed, fmt.Sprintf("%s %.0f", name, s.OrdersWritten[string(name)]))
	}
	fmt.Fprintf(w, "Snapshots committed by channel (metrics): %s\n", strings.Join(committed, ", "))

	fmt.Fprintf(w, "\nDead letters, by reason (expected from the generator / dead-lettered):\n")
	line("reason", "expected", "dead-lettered", "")
	for _, r := range sortedUnion(s.Generated.MalformedByReason, s.DeadLetters) {
		line(r, s.Generated.MalformedByReason[r], s.DeadLetters[r], check(float64(s.Generated.MalformedByReason[r]) == s.DeadLetters[r]))
	}
	_ = tw.Flush()

	var redacted float64
	for _, n := range s.CardsRedacted {
		redacted += n
	}
	fmt.Fprintf(w, "\nCard numbers removed before anything was stored: %.0f of %d planted %s\n", redacted, s.Generated.CardNumbers,
		check(redacted == float64(s.Generated.CardNumbers)))
	for _, f := range slices.Sorted(maps.Keys(s.CardsRedacted)) {
		if s.CardsRedacted[f] > 0 {
			fmt.Fprintf(w, "  %-24s %.0f\n", f, s.CardsRedacted[f])
		}
	}

	fmt.Fprintf(w, "\nRows per table (stored; under FINAL, one per order or line):\n")
	line("table", "stored", "FINAL", "")
	for _, t := range demo.Tables {
		line(t, s.Rows[t][0], s.Rows[t][1], "")
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "Label rows not written, the order being older than the label retention (%s) when it arrived: %.0f\n", cfg.Retention.Label, s.LabelsExpired)

	fmt.Fprintf(w, "\nTotals per currency (latest snapshot of each order; order_facts FINAL beside the generator):\n")
	line("currency", "orders", "total", "refunded", "generated total", "generated refunded", "")
	for _, cur := range slices.Sorted(maps.Keys(s.Currencies)) {
		c, g := s.Currencies[cur], s.Generated.Currencies[cur]
		line(cur, c.Orders, c.Total, c.Refunded, g.Total.String(), g.Refunded.String(),
			check(sameAmount(c.Total, g.Total) && sameAmount(c.Refunded, g.Refunded) && c.Orders == uint64(g.Orders)))
	}
	_ = tw.Flush()

	if c := s.Couriers; len(c.Couriers) > 0 {
		fmt.Fprintf(w, "\nCouriers (orderflow dispatch against the stand-ins, in %s; every %dth call failed with 5xx or 429): what the outbox asked beside each courier's ledger\n",
			c.Elapsed.Round(100*time.Millisecond), demo.FaultEvery)
		line("connector", "sellers", "ready orders", "created", "created twice", "updated", "cancel after ready", "cancelled", "calls", "failed on purpose", "")
		for _, k := range c.Couriers {
			line(k.Name+" ("+k.Kind+")", strings.Join(k.Tenants, ","), k.ReadyOrders, k.Created, k.CreatedTwice, k.Updates,
				k.CancelledAfterReady, k.Cancelled, k.Calls, k.Faults,
				check(k.Created == k.ReadyOrders && k.Cancelled == k.CancelledAfterReady && (k.Kind != "clickanddrop" || k.CreatedTwice == 0)))
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "Dispatcher: %.0f jobs delivered, %.0f retries, %.0f parked\n", c.Delivered, c.Retries, c.Parked)
	}

	if len(s.Books) > 0 {
		fmt.Fprintf(w, "\nBooks (orderflow dispatch's accounting pass and dispatcher; Xero and QuickBooks standing in): closed periods' financial records beside what was posted\n")
		line("seller", "provider", "periods", "summaries", "adjustments", "invoices", "documents", "currency", "records", "posted", "parked", "open periods", "")
		for _, b := range s.Books {
			for _, cur := range slices.Sorted(maps.Keys(b.Records)) {
				line(b.Tenant, b.Kind, b.Period, b.Summaries, b.Adjustments, b.Invoices, b.Documents, cur, b.Records[cur].String(), b.Posted[cur].String(),
					fmt.Sprintf("%s (%d)", b.ParkedGross[cur], b.Parked), b.Open, check(b.Records[cur] == b.Posted[cur]+b.ParkedGross[cur]))
			}
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "Records = posted + parked, to the penny; a parked posting is one the provider refused (a VAT rate the seller's mapping lacks): orderflow reconcile --tenant T names it, and orderflow dispatch posts it when it starts with the mapping fixed.\n")
	}

	fmt.Fprintf(w, "\nVault: %.0f requests for %d snapshots (%.3f per order); token cache hit rate %.0f%%\n",
		s.VaultRequests, s.Generated.Snapshots, s.VaultRequests/max(1, float64(s.Generated.Snapshots)), 100*s.TokenCacheHits/max(1, s.TokenCacheAll))

	for i, rows := range []map[string]uint64{s.Purge22d, s.Purge12y} {
		label := [2]string{"+22 days", "+12 years"}[i]
		fmt.Fprintf(w, "\nPurge dry run as of %s (%s): rows that would be removed\n", s.PurgeAsOf[i].Format(time.DateOnly), label)
		line("table", "rows", "")
		for _, t := range demo.Tables {
			line(t, rows[t], "")
		}
		_ = tw.Flush()
	}

	printObserved(w, s.Observed)

	// The server the demo wrote through, and in cluster mode the settings a
	// purge in another shell needs to act on the cluster.
	port, purgeEnv := "19000", ""
	if len(cfg.ClickHouse.Addr) > 0 {
		if _, p, err := net.SplitHostPort(cfg.ClickHouse.Addr[0]); err == nil {
			port = p
		}
	}
	if cfg.ClickHouse.Cluster != "" {
		purgeEnv = "ORDERFLOW_CLICKHOUSE_ADDR=" + strings.Join(cfg.ClickHouse.Addr, ",") + " ORDERFLOW_CLICKHOUSE_CLUSTER=" + cfg.ClickHouse.Cluster + " \\\n                     "
	}
	fmt.Fprintf(w, `
Where to look next:
  Prometheus       %[1]s  (every step's metrics were scraped while it ran: try orderflow_orders_normalized_total, or Alerts)
  dashboards       dashboards/*.json for Grafana's file provisioning (README: dashboards); make pictures draws them from this run
  ClickHouse       clickhouse-client --port %[4]s, databases %[2]s and %[3]s
  sample queries   schemas/clickhouse/queries/*.sql, e.g.
                   sed 's/{database}/%[2]s/g; s/{restricted_database}/%[3]s/g' schemas/clickhouse/queries/orders_by_tenant_and_channel.sql | clickhouse-client --port %[4]s
  purge for real   %[5]sORDERFLOW_CLICKHOUSE_DATABASE=%[2]s ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE=%[3]s \
                     bin/orderflow purge --config deploy/local/orderflow.yaml --now +22d --dry-run (drop --dry-run to do it)
  run it again     make demo (CLUSTER=1 on the local cluster; the demo's topics and databases start afresh each time)
  stop the stack   make down
`, os.Getenv("ORDERFLOW_PROMETHEUS_URL"), s.Databases[0], s.Databases[1], port, purgeEnv)
	fmt.Fprintf(w, "  the %d sample queries: %s\n", len(schema.Queries()), strings.Join(queryNames(), ", "))
}

// printObserved says what Prometheus saw of the run: whether every dashboard
// panel's and alert rule's query found series, and which alerts fire.
func printObserved(w io.Writer, o demo.Observed) {
	if o.Prometheus == "" {
		fmt.Fprintf(w, "\nPrometheus: none given (ORDERFLOW_PROMETHEUS_URL), so the dashboards' and alerts' queries were not tried\n")
		return
	}
	fmt.Fprintf(w, "\nPrometheus (%s), over the run:\n", o.Prometheus)
	var panels, panelsOK, rules, rulesOK int
	var empty []string
	for _, q := range o.Queries {
		isRule := strings.HasPrefix(q.Source, "alert ")
		ok := q.Series > 0 && q.Err == ""
		if isRule {
			rules++
		} else {
			panels++
		}
		switch {
		case ok && isRule:
			rulesOK++
		case ok:
			panelsOK++
		default:
			empty = append(empty, q.Source+" "+q.Err)
		}
	}
	if !o.Scraped {
		fmt.Fprintf(w, "  Prometheus does not scrape this run's metrics address: queries over it find nothing  MISMATCH\n")
	}
	fmt.Fprintf(w, "  dashboards   %d panel queries of dashboards/*.json returned data: %d  %s\n", panels, panelsOK, check(panels > 0 && panels == panelsOK))
	fmt.Fprintf(w, "  alert rules  %d loaded from %s; their expressions matched series: %d of %d  %s\n",
		o.RulesLoaded, dashboards.RulesFile, rulesOK, rules, check(o.RulesLoaded == rules && rules == rulesOK))
	for _, e := range empty {
		fmt.Fprintf(w, "    no data: %s\n", e)
	}
	if o.Unanswered != "" {
		fmt.Fprintf(w, "  Prometheus did not answer: %s  MISMATCH\n", o.Unanswered)
	}
	firing := "none"
	if len(o.Firing) > 0 {
		firing = strings.Join(o.Firing, ", ")
	}
	fmt.Fprintf(w, "  firing       %s  %s\n", firing, check(len(o.Firing) == 0))
	if len(o.Pending) > 0 {
		fmt.Fprintf(w, "  pending      %s (each fires only if its condition lasts its rule's 'for')\n", strings.Join(o.Pending, ", "))
	}
}

func queryNames() []string {
	var names []string
	for _, q := range schema.Queries() {
		names = append(names, q.Name)
	}
	return names
}

func check(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

// sameAmount compares ClickHouse's decimal text with an order.Amount.
func sameAmount(text string, a order.Amount) bool {
	b, err := order.ParseAmount(text)
	return err == nil && b == a
}

func sortedUnion(a map[string]int64, b map[string]float64) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return slices.Sorted(maps.Keys(keys))
}

// describeConnections says how the run reached its servers: over TLS or not
// (make demo TLS=1), and how its steps logged in to Vault.
func describeConnections(cfg config.Config, logins roleLogins) string {
	kafka := "Kafka plaintext"
	if cfg.Kafka.TLS.Enabled {
		kafka = "Kafka TLS"
		if cfg.Kafka.TLS.CertFile != "" {
			kafka += " with a client certificate"
		}
	}
	if cfg.Kafka.SASL.Mechanism != "" {
		kafka += " and " + strings.ToUpper(cfg.Kafka.SASL.Mechanism)
	}
	clickhouse := "ClickHouse plaintext"
	if cfg.ClickHouse.TLS.Enabled {
		clickhouse = "ClickHouse TLS"
		if cfg.ClickHouse.TLS.CertFile != "" {
			clickhouse += " with a client certificate"
		}
	}
	vault := "Vault plaintext"
	if strings.HasPrefix(cfg.Vault.Address, "https://") {
		vault = "Vault HTTPS"
	}
	if len(logins) == 0 {
		vault += ", every step with the configured login"
	} else {
		vault += ", each step as its command's role (orderflow-" + strings.Join(slices.Sorted(maps.Keys(logins)), ", orderflow-") + "; deploy/vault)"
	}
	return kafka + "; " + clickhouse + "; " + vault
}
