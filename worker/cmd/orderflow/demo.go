package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/topics"
)

// demoOptions are the demo's flags and the names it owns.
type demoOptions struct {
	count   int64
	seed    uint64
	tenants int
	timeout time.Duration
	// topicPrefix starts the demo's topics ("demo." + a run stamp + ".orders.amazon");
	// older topics with the prefix are deleted at the start of a run.
	topicPrefix string
	// database and restrictedDatabase are dropped and migrated afresh each run.
	database, restrictedDatabase string
}

// demoCommand is `make demo`: the main job end to end on the local stack.
// It owns its topics and databases (demo.*, orderflow_demo*), which it starts
// afresh, so the figures it prints are this run's alone.
func demoCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (the local stack's: deploy/local/orderflow.yaml)")
	o := demoOptions{topicPrefix: "demo.", database: "orderflow_demo", restrictedDatabase: "orderflow_demo_restricted"}
	fs.Int64Var(&o.count, "count", 20000, "messages to generate")
	fs.Uint64Var(&o.seed, "seed", 2026, "generator seed: the same seed gives the same orders")
	fs.IntVar(&o.tenants, "tenants", 3, "sellers to generate orders for")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up if the worker has not processed everything by then")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadFor("demo", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	sum, err := runDemo(ctx, cfg, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow demo: %v\n", err)
		return 1
	}
	printDemo(stdout, cfg, sum)
	return 0
}

// demoSummary is what the demo found: the generator's tally beside what the
// worker did and what ClickHouse holds.
type demoSummary struct {
	Seed      uint64
	Topics    config.Topics
	Databases [2]string
	Generated generate.Stats
	Produced  int64
	Elapsed   time.Duration // from the worker's start to its last commit

	// From the worker's metrics.
	OrdersWritten  map[string]float64 // by channel
	DeadLetters    map[string]float64 // by reason
	CardsRedacted  map[string]float64 // by field
	LabelsExpired  float64            // label rows not written: older than the label retention at write time
	VaultRequests  float64
	TokenCacheHits float64
	TokenCacheAll  float64

	// From ClickHouse.
	OrdersByTenant map[string]map[string]uint64 // tenant -> channel -> orders (FINAL)
	Rows           map[string][2]uint64         // table -> {rows stored, rows under FINAL}
	Currencies     map[string]demoCurrency

	// Dry-run purges: rows per table that would go.
	Purge22d, Purge12y map[string]uint64
	PurgeAsOf          [2]time.Time
}

type demoCurrency struct {
	Orders          uint64
	Total, Refunded string // decimal, to the penny and beyond (scale 4)
}

// demoTables are the data tables, in the order the summary prints them.
var demoTables = []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords}

func runDemo(ctx context.Context, cfg config.Config, o demoOptions, progress io.Writer) (demoSummary, error) {
	stamp := time.Now().UTC().Format("20060102-150405")
	cfg.Kafka.Topics = config.Topics{
		Amazon:     o.topicPrefix + stamp + ".orders.amazon",
		Ebay:       o.topicPrefix + stamp + ".orders.ebay",
		DeadLetter: o.topicPrefix + stamp + ".orders.dlq",
	}
	cfg.Kafka.GroupID = "orderflow-demo-" + stamp
	cfg.ClickHouse.Database, cfg.ClickHouse.RestrictedDatabase = o.database, o.restrictedDatabase
	// The worker's own log would bury the progress lines: errors only.
	quiet := newLogger(config.Log{Level: "error", Format: "text"}, progress)
	say := func(format string, args ...any) { fmt.Fprintf(progress, "demo: "+format+"\n", args...) }
	sum := demoSummary{Seed: o.seed, Topics: cfg.Kafka.Topics, Databases: [2]string{o.database, o.restrictedDatabase}}

	say("fresh topics %s, %s, %s", cfg.Kafka.Topics.Amazon, cfg.Kafka.Topics.Ebay, cfg.Kafka.Topics.DeadLetter)
	if err := demoTopics(ctx, cfg.Kafka, o.topicPrefix); err != nil {
		return sum, err
	}
	conn, err := clickhousedb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return sum, err
	}
	defer conn.Close()
	say("fresh databases %s and %s, migrated", o.database, o.restrictedDatabase)
	for _, db := range sum.Databases {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			return sum, fmt.Errorf("dropping %s: %w", db, err)
		}
	}
	m, err := migrate.New(migrate.Config{Conn: conn, Database: o.database, RestrictedDatabase: o.restrictedDatabase, Logger: quiet})
	if err != nil {
		return sum, err
	}
	if _, err := m.Up(ctx); err != nil {
		return sum, err
	}

	say("generating %d messages (seed %d, %d sellers) ...", o.count, o.seed, o.tenants)
	gen, err := generate.New(generate.Config{Seed: o.seed, Tenants: o.tenants})
	if err != nil {
		return sum, err
	}
	producer, err := newGenerateProducer(cfg, gen, generateOptions{count: o.count, gen: gen.Config()}, quiet)
	if err != nil {
		return sum, err
	}
	res := producer.run(ctx)
	if res.err != nil {
		return sum, fmt.Errorf("generating: %w", res.err)
	}
	sum.Generated, sum.Produced = res.stats, res.acked
	say("%d messages on the topics: %d order snapshots of %d orders, %d malformed, %d card numbers typed into free text and addresses",
		res.acked, res.stats.Snapshots, res.stats.Orders, res.stats.Malformed, res.stats.CardNumbers)

	say("running the worker until every message is committed ...")
	reg := telemetry.NewRegistry()
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	start := time.Now()
	go func() { workerDone <- runWorker(wctx, cfg, nil, reg, quiet) }()
	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last float64
	for done := false; !done; {
		select {
		case err := <-workerDone:
			return sum, fmt.Errorf("the worker stopped early: %w", cmp.Or(err, errors.New("no error")))
		case <-deadline.C:
			stopWorker()
			<-workerDone
			return sum, fmt.Errorf("the worker had not processed all %d messages after %s", res.acked, o.timeout)
		case <-ctx.Done():
			stopWorker()
			<-workerDone
			return sum, ctx.Err()
		case <-tick.C:
			committed := gatheredSum(reg, "orderflow_orders_normalized_total") + gatheredSum(reg, "orderflow_dead_letters_total")
			say("  %6.0f of %d messages written and committed (%5.0f/s)", committed, res.acked, committed-last)
			last = committed
			done = committed >= float64(res.acked)
		}
	}
	sum.Elapsed = time.Since(start)
	stopWorker()
	if err := <-workerDone; err != nil {
		return sum, fmt.Errorf("worker: %w", err)
	}

	sum.OrdersWritten = gatheredBy(reg, "orderflow_orders_normalized_total", "channel")
	sum.DeadLetters = gatheredBy(reg, "orderflow_dead_letters_total", "reason")
	sum.CardsRedacted = gatheredBy(reg, "orderflow_card_numbers_redacted_total", "field")
	sum.LabelsExpired = gatheredSum(reg, "orderflow_facts_labels_expired_skipped_total")
	sum.VaultRequests = gatheredSum(reg, "orderflow_vault_requests_total")
	cache := gatheredBy(reg, "orderflow_token_cache_requests_total", "result")
	sum.TokenCacheHits = cache["hit"]
	for _, n := range cache {
		sum.TokenCacheAll += n
	}
	if err := demoQueries(ctx, conn, o, &sum); err != nil {
		return sum, err
	}

	purger, err := newPurger(cfg, conn, nil, nil, prometheus.NewRegistry(), quiet)
	if err != nil {
		return sum, err
	}
	now := time.Now().UTC()
	// +12 years: financial records are kept to the end of their financial
	// year plus their jurisdiction's period, DE's 10 years counted from the
	// end of the calendar year, so everything has gone by then.
	for i, asOf := range []time.Time{now.AddDate(0, 0, 22), now.AddDate(12, 0, 0)} {
		report, err := purger.Purge(ctx, asOf, true)
		if err != nil {
			return sum, fmt.Errorf("purge dry run as of %s: %w", asOf.Format(time.DateOnly), err)
		}
		rows := map[string]uint64{}
		for _, a := range report.Actions {
			rows[a.Table] += a.Rows
		}
		sum.PurgeAsOf[i] = asOf
		if i == 0 {
			sum.Purge22d = rows
		} else {
			sum.Purge12y = rows
		}
	}
	return sum, nil
}

// demoTopics deletes the topics of earlier demo runs and creates this run's.
func demoTopics(ctx context.Context, k config.Kafka, prefix string) error {
	client := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 30 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var old []string
	for _, t := range meta.Topics {
		if strings.HasPrefix(t.Name, prefix) {
			old = append(old, t.Name)
		}
	}
	if len(old) > 0 {
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: old}); err != nil {
			return fmt.Errorf("deleting the last demo's topics: %w", err)
		}
	}
	// The pipeline's topics as worker/topics defines them: they hold personal data.
	created, err := topics.Create(ctx, client, topics.Inputs(k.Topics.Amazon, k.Topics.Ebay, k.Topics.DeadLetter)...)
	if err != nil {
		return fmt.Errorf("creating the demo's topics: %w", err)
	}
	if len(created) != 3 {
		return fmt.Errorf("creating the demo's topics: %d of them existed already", 3-len(created))
	}
	return nil
}

// demoQueries reads what the worker wrote, always with FINAL.
func demoQueries(ctx context.Context, conn driver.Conn, o demoOptions, sum *demoSummary) error {
	sum.OrdersByTenant = map[string]map[string]uint64{}
	rows, err := conn.Query(ctx, "SELECT tenant_id, toString(channel), count() FROM "+o.database+"."+schema.TableOrderFacts+" FINAL GROUP BY tenant_id, channel")
	if err != nil {
		return fmt.Errorf("orders by tenant: %w", err)
	}
	for rows.Next() {
		var tenant, channel string
		var n uint64
		if err := rows.Scan(&tenant, &channel, &n); err != nil {
			rows.Close()
			return fmt.Errorf("orders by tenant: %w", err)
		}
		if sum.OrdersByTenant[tenant] == nil {
			sum.OrdersByTenant[tenant] = map[string]uint64{}
		}
		sum.OrdersByTenant[tenant][channel] = n
	}
	rows.Close()

	sum.Rows = map[string][2]uint64{}
	for _, t := range demoTables {
		in, _ := schema.DatabaseOf(t)
		db := in.Name(o.database, o.restrictedDatabase)
		var stored, final uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+t).Scan(&stored); err != nil {
			return fmt.Errorf("counting %s: %w", t, err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+t+" FINAL").Scan(&final); err != nil {
			return fmt.Errorf("counting %s: %w", t, err)
		}
		sum.Rows[t] = [2]uint64{stored, final}
	}

	sum.Currencies = map[string]demoCurrency{}
	rows, err = conn.Query(ctx, "SELECT currency, count(), toString(sum(total)), toString(sum(refunded)) FROM "+o.database+"."+schema.TableOrderFacts+" FINAL GROUP BY currency")
	if err != nil {
		return fmt.Errorf("totals by currency: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cur string
		var c demoCurrency
		if err := rows.Scan(&cur, &c.Orders, &c.Total, &c.Refunded); err != nil {
			return fmt.Errorf("totals by currency: %w", err)
		}
		sum.Currencies[cur] = c
	}
	return rows.Err()
}

func printDemo(w io.Writer, cfg config.Config, s demoSummary) {
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
	fmt.Fprintf(w, "\n== orderflow demo: seed %d, %d messages, processed in %s ==\n", s.Seed, s.Produced, s.Elapsed.Round(100*time.Millisecond))

	fmt.Fprintf(w, "\nOrders read (generated) and written (order_facts FINAL), by seller and channel:\n")
	line("seller", "channel", "messages", "snapshots", "orders", "written", "")
	for _, tenant := range slices.Sorted(maps.Keys(s.Generated.Tenants)) {
		for _, ch := range []string{"amazon", "ebay"} {
			c := s.Generated.Tenants[tenant][ch]
			line(tenant, ch, c.Messages, c.Snapshots, c.Orders, s.OrdersByTenant[tenant][ch], check(uint64(c.Orders) == s.OrdersByTenant[tenant][ch]))
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "Snapshots committed by channel (metrics): amazon %.0f, ebay %.0f\n", s.OrdersWritten["amazon"], s.OrdersWritten["ebay"])

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
	for _, t := range demoTables {
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

	fmt.Fprintf(w, "\nVault: %.0f requests for %d snapshots (%.3f per order); token cache hit rate %.0f%%\n",
		s.VaultRequests, s.Generated.Snapshots, s.VaultRequests/max(1, float64(s.Generated.Snapshots)), 100*s.TokenCacheHits/max(1, s.TokenCacheAll))

	for i, rows := range []map[string]uint64{s.Purge22d, s.Purge12y} {
		label := [2]string{"+22 days", "+12 years"}[i]
		fmt.Fprintf(w, "\nPurge dry run as of %s (%s): rows that would be removed\n", s.PurgeAsOf[i].Format(time.DateOnly), label)
		line("table", "rows", "")
		for _, t := range demoTables {
			line(t, rows[t], "")
		}
		_ = tw.Flush()
	}

	fmt.Fprintf(w, `
Where to look next:
  Prometheus       %s  (the worker's metrics were scraped while it ran: try orderflow_orders_normalized_total)
  ClickHouse       clickhouse-client --port 19000, databases %s and %s
  sample queries   schemas/clickhouse/queries/*.sql, e.g.
                   sed 's/{database}/%s/g; s/{restricted_database}/%s/g' schemas/clickhouse/queries/orders_by_tenant_and_channel.sql | clickhouse-client --port 19000
  purge for real   ORDERFLOW_CLICKHOUSE_DATABASE=%s ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE=%s \
                     bin/orderflow purge --config deploy/local/orderflow.yaml --now +22d --dry-run (drop --dry-run to do it)
  run it again     make demo (the demo's topics and databases start afresh each time)
  stop the stack   make down
`, os.Getenv("ORDERFLOW_PROMETHEUS_URL"), s.Databases[0], s.Databases[1], s.Databases[0], s.Databases[1], s.Databases[0], s.Databases[1])
	fmt.Fprintf(w, "  the %d sample queries: %s\n", len(schema.Queries()), strings.Join(queryNames(), ", "))
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

// gatheredSum adds every series of a counter or gauge in g.
func gatheredSum(g prometheus.Gatherer, name string) float64 {
	var total float64
	for _, v := range gatheredBy(g, name, "") {
		total += v
	}
	return total
}

// gatheredBy sums a counter or gauge's series by one label's value ("" for
// no grouping).
func gatheredBy(g prometheus.Gatherer, name, label string) map[string]float64 {
	out := map[string]float64{}
	families, err := g.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					key = l.GetValue()
				}
			}
			out[key] += metricValue(m)
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}
