package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/dashboards"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/demo"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/topics"
)

// TestDemoSummaryMatchesTheTally runs the demo on a known seed and checks every
// figure of its summary against the generator's exact tally, which is computed
// apart from the worker: orders per seller and channel, dead letters per
// reason, card numbers removed, rows, totals per currency to the penny, and
// what each dry-run purge would remove.
func TestDemoSummaryMatchesTheTally(t *testing.T) {
	e := newStackEnv(t)
	cfg := e.config(t)
	// The address the stack's Prometheus scrapes, and that Prometheus: the
	// dashboards' and alerts' queries are evaluated over the run.
	cfg.Metrics.Listen = stacktest.MetricsAddr(t)
	o := demo.Config{
		Count: 3000, Seed: 42, Tenants: 3, Timeout: 3 * time.Minute,
		TopicPrefix: stacktest.UniqueName("demotest") + ".",
		Database:    e.ch.Database, RestrictedDatabase: e.ch.RestrictedDatabase,
		Prometheus: stacktest.PrometheusURL(t),
	}
	conn := clickhousetest.Open(t, e.ch)
	clickhousetest.DropAtCleanup(t, conn, e.ch)
	t.Cleanup(func() { deleteTopics(t, e.brokers, o.TopicPrefix) })

	// Each step logs in as its command's Vault role, as make demo's do: a
	// policy that lacks what a command needs fails the run.
	rolesDir := os.Getenv("ORDERFLOW_STACK_ROLES_DIR")
	if rolesDir == "" {
		t.Fatal("ORDERFLOW_STACK_ROLES_DIR is unset: source the env that make up writes (.stack/env)")
	}
	// The roles' files refer to the stack's environment (.stack/env), which the test has.
	logins, err := loadRoleLogins("", append(os.Environ(), e.vars...), rolesDir, roleWorker, roleDispatcher, rolePurger)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{roleWorker, roleDispatcher, rolePurger} {
		if logins[role].Method != "approle" {
			t.Fatalf("role %s logs in with %q, want approle", role, logins[role].Method)
		}
	}
	var progress bytes.Buffer
	s, err := demo.Run(context.Background(), demoConfig(cfg, o, logins, &progress))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, progress.String())
	}
	// Its topics are the pipeline's, as worker/topics defines them.
	if drifts, err := topics.Check(context.Background(), stacktest.KafkaClient(e.brokers),
		topics.Inputs(s.Topics.Orders(), s.Topics.DeadLetter)...); err != nil || len(drifts) != 0 {
		t.Errorf("the demo's topics differ from worker/topics: %v %v", drifts, err)
	}
	if s.FirstCommit <= 0 || s.FirstCommit > s.Elapsed {
		t.Errorf("first batch committed %s after the start, all of them %s: want 0 < first <= all", s.FirstCommit, s.Elapsed)
	}
	g := s.Generated
	if s.Produced != o.Count || g.Messages != o.Count {
		t.Fatalf("produced %d, tally %d messages, want %d", s.Produced, g.Messages, o.Count)
	}
	if g.Malformed == 0 || g.CardNumbers == 0 || g.Updates == 0 || len(g.Currencies) < 2 {
		t.Fatalf("seed %d gives a tally too plain to test the demo: %+v", o.Seed, g)
	}
	for tenant, byChannel := range g.Tenants {
		for ch, c := range byChannel {
			if got := s.OrdersByTenant[tenant][ch]; got != uint64(c.Orders) {
				t.Errorf("%s/%s: %d orders written, want %d", tenant, ch, got, c.Orders)
			}
		}
	}
	for ch, c := range g.Channels {
		if got := s.OrdersWritten[ch]; got != float64(c.Snapshots) {
			t.Errorf("%s: %v snapshots committed, want %d", ch, got, c.Snapshots)
		}
	}
	for reason, n := range g.MalformedByReason {
		if got := s.DeadLetters[reason]; got != float64(n) {
			t.Errorf("dead letters %s: %v, want %d", reason, got, n)
		}
	}
	if len(s.DeadLetters) != len(g.MalformedByReason) {
		t.Errorf("dead letters by reason %v, want %v", s.DeadLetters, g.MalformedByReason)
	}
	var redacted float64
	for _, n := range s.CardsRedacted {
		redacted += n
	}
	if redacted != float64(g.CardNumbers) {
		t.Errorf("%v card numbers removed, want %d", redacted, g.CardNumbers)
	}
	for _, table := range []string{"order_facts", "financial_records"} {
		if got := s.Rows[table]; got != [2]uint64{uint64(g.Snapshots), uint64(g.Orders)} {
			t.Errorf("%s rows %v, want %d stored and %d under FINAL", table, got, g.Snapshots, g.Orders)
		}
	}
	for cur, want := range g.Currencies {
		got := s.Currencies[cur]
		if got.Orders != uint64(want.Orders) || !sameAmount(got.Total, want.Total) || !sameAmount(got.Refunded, want.Refunded) {
			t.Errorf("%s: %+v, want %d orders, total %s, refunded %s", cur, got, want.Orders, want.Total, want.Refunded)
		}
	}
	if len(s.Currencies) != len(g.Currencies) {
		t.Errorf("currencies %v, want %v", s.Currencies, g.Currencies)
	}
	// Every order is at most 30 days old: at +22 days every label has expired
	// and nothing else; at +12 years everything has (DE's financial records
	// last longest: 10 years from the end of the calendar year in which
	// their financial year ends).
	for _, table := range demo.Tables {
		want22 := uint64(0)
		if table == "delivery_labels" {
			want22 = s.Rows[table][0]
		}
		if got := s.Purge22d[table]; got != want22 {
			t.Errorf("purge +22d would remove %d %s rows, want %d", got, table, want22)
		}
		if got := s.Purge12y[table]; got != s.Rows[table][0] {
			t.Errorf("purge +12y would remove %d %s rows, want all %d", got, table, s.Rows[table][0])
		}
	}
	if s.Rows["delivery_labels"][0] == 0 || s.LabelsExpired == 0 {
		t.Errorf("labels written %d, skipped as expired %v: both should occur with 30 days of orders", s.Rows["delivery_labels"][0], s.LabelsExpired)
	}

	checkObserved(t, s.Observed, personalValues(t, o))

	var out bytes.Buffer
	printDemo(&out, cfg, s, logins)
	if strings.Contains(out.String(), "MISMATCH") || !strings.Contains(out.String(), "Where to look next") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// checkObserved: every dashboard panel's query and every alert rule's
// expression returned series from the run's metrics in Prometheus; every
// metric they name was served on /metrics; Prometheus has loaded every rule
// and none fires; and no label value of any metric holds a personal value.
func checkObserved(t *testing.T, obs demo.Observed, personal []string) {
	t.Helper()
	if !obs.Scraped {
		t.Fatalf("Prometheus at %s did not scrape the demo's metrics address", obs.Prometheus)
	}
	panels, err := dashboards.PanelQueries("1m")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := dashboards.RuleQueries()
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Queries) != len(panels)+len(rules) || len(rules) < 16 {
		t.Fatalf("%d queries evaluated, want %d panels' and %d rules'", len(obs.Queries), len(panels), len(rules))
	}
	for _, q := range obs.Queries {
		if q.Series == 0 || q.Err != "" {
			t.Errorf("%s returned no series over the run: %s %s", q.Source, q.Expr, q.Err)
		}
		for _, name := range dashboards.MetricNames(q.Expr) {
			if _, ok := obs.Exposed[name]; !ok && name != "up" { // up is Prometheus' own
				t.Errorf("%s reads %s, which no step served on /metrics", q.Source, name)
			}
		}
	}
	if obs.Unanswered != "" {
		t.Errorf("Prometheus did not answer: %s", obs.Unanswered)
	}
	if obs.RulesLoaded != len(rules) {
		t.Errorf("Prometheus has %d of the %d alert rules loaded", obs.RulesLoaded, len(rules))
	}
	if len(obs.Firing) > 0 {
		t.Errorf("alerts firing after a healthy run: %v", obs.Firing)
	}
	if len(obs.Exposed) < 60 {
		t.Fatalf("%d metric families served: too few to have read /metrics", len(obs.Exposed))
	}
	labelValues := 0
	for family, labels := range obs.Exposed {
		for label, values := range labels {
			for _, v := range values {
				labelValues++
				lower := strings.ToLower(v)
				for _, p := range personal {
					if strings.Contains(lower, strings.ToLower(p)) {
						t.Errorf("%s{%s} holds a personal value of the orders (%d bytes)", family, label, len(p))
					}
				}
				if leaks := privacytest.Leaks(v); len(leaks) > 0 {
					t.Errorf("%s{%s} holds a value of the privacy corpus", family, label)
				}
			}
		}
	}
	t.Logf("%d queries returned data; %d metric families, %d label values checked against %d personal values",
		len(obs.Queries), len(obs.Exposed), labelValues, len(personal))
}

// personalValues are the personal values of the orders the demo generated:
// the same seed makes the same messages, normalised as the worker does.
func personalValues(t *testing.T, o demo.Config) []string {
	t.Helper()
	gen, err := generate.New(generate.Config{Seed: o.Seed, Tenants: o.Tenants})
	if err != nil {
		t.Fatal(err)
	}
	normalizer, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var orders []order.Order
	for range o.Count {
		if ord, err := normalizer.Normalize(gen.Next().Value); err == nil {
			orders = append(orders, ord)
		}
	}
	if len(orders) < int(o.Count)/2 {
		t.Fatalf("%d of %d generated messages normalised", len(orders), o.Count)
	}
	return privacytest.OrderValues{MinLen: 4, Places: true}.Of(orders)
}

func deleteTopics(t *testing.T, brokers []string, prefix string) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	var names []string
	for _, topic := range meta.Topics {
		if strings.HasPrefix(topic.Name, prefix) {
			names = append(names, topic.Name)
		}
	}
	if len(names) > 0 {
		if _, err := client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: names}); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}
