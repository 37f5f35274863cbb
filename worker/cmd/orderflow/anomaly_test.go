package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// baselineFixtures are channel orders of twelve different delivery
// addresses: a seller's ordinary hour.
var baselineFixtures = []string{
	"amazon/uk-gift-wrap-message.json", "amazon/uk-invoice-unconfirmed.json", "amazon/uk-lvi-marketplace-facilitator.json",
	"amazon/uk-partially-shipped.json", "amazon/uk-prime-nextday.json", "amazon/uk-promotions.json",
	"ebay/cancel-requested.json", "ebay/cancelled.json", "ebay/fully-refunded.json", "ebay/import-vat-collected.json",
	"ebay/partially-shipped.json", "ebay/promotions-multiline.json",
}

// The hacked-account pattern, generated and caught on the real stack: two
// sellers have an ordinary hour of orders to twelve addresses each; then one
// of them (its account taken over) gets thirty orders to one new address. The
// worker's anomaly gauges, read from `orderflow run` itself, go over the
// alert's threshold for that seller alone, and the alert rule of
// dashboards/alerts, evaluated by promtool on those values after a day of the
// first hour's, fires for that seller and not the other.
func TestAHackedAccountPatternFiresItsAlert(t *testing.T) {
	e := newStackEnv(t)
	_, _ = e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("hk")
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0")
	hacked, steady := stacktest.UniqueName("hacked"), stacktest.UniqueName("steady")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() {
		for _, tenant := range []string{hacked, steady} {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})
	now := time.Now().UTC().Truncate(time.Second)
	n := 0
	produce := func(tenant string, fixtures ...string) {
		t.Helper()
		byTopic := map[string][]kafka.Message{}
		for _, f := range fixtures {
			n++
			topic, id := e.amazon, fmt.Sprintf("203-%07d-%07d", n, n)
			if strings.HasPrefix(f, "ebay/") {
				topic, id = e.ebay, fmt.Sprintf("12-%05d-%05d", n, n)
			}
			o := buyerOrder{fixture: f, id: id, email: fmt.Sprintf("buyer%d@example.org", n), username: fmt.Sprintf("buyer_%d", n)}
			byTopic[topic] = append(byTopic[topic], o.message(t, tenant, now.Add(-30*time.Minute), now.Add(-20*time.Minute)))
		}
		for topic, msgs := range byTopic {
			w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
			_ = w.Close()
		}
	}
	cfg := e.config(t)
	reg := telemetry.NewRegistry()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, cfg, nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	share := func(tenant string) float64 {
		return telemetrytest.Sum(t, reg, "orderflow_tenant_top_address_share", "tenant="+tenant)
	}
	orders := func(tenant string) float64 {
		return telemetrytest.Sum(t, reg, "orderflow_tenant_recent_orders", "tenant="+tenant)
	}

	produce(hacked, baselineFixtures...)
	produce(steady, baselineFixtures...)
	waitFor(t, "the ordinary hour", func() bool { return orders(hacked) == 12 && orders(steady) == 12 })
	before := map[string]float64{hacked: share(hacked), steady: share(steady)}

	burst := make([]string, 30)
	for i := range burst {
		burst[i] = "amazon/uk-two-lines-typical.json"
	}
	produce(hacked, burst...)
	produce(steady, baselineFixtures[:6]...)
	waitFor(t, "the burst", func() bool { return orders(hacked) == 42 && orders(steady) == 18 })
	after := map[string]float64{hacked: share(hacked), steady: share(steady)}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if before[hacked] > 0.25 || after[hacked] < 0.7 || after[steady] > 0.25 {
		t.Fatalf("top-address shares before %v, after %v: want the hacked seller's to jump over the alert's 0.5, the other's to stay low", before, after)
	}

	// The alert rule on these values: a day of the ordinary hour, then the
	// hour of the burst, at 2-minute steps.
	promtool := stacktest.Promtool(t)
	rules, err := filepath.Abs("../../../dashboards/alerts/orderflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var series strings.Builder
	for _, tenant := range []string{hacked, steady} {
		fmt.Fprintf(&series, "      - series: 'orderflow_tenant_top_address_share{job=\"orderflow\",instance=\"w1\",tenant=%q}'\n        values: '%gx720 %gx30'\n",
			tenant, before[tenant], after[tenant])
		fmt.Fprintf(&series, "      - series: 'orderflow_tenant_recent_orders{job=\"orderflow\",instance=\"w1\",tenant=%q}'\n        values: '12x720 %gx30'\n",
			tenant, orders(tenant))
	}
	test := fmt.Sprintf(`rule_files:
  - %s
evaluation_interval: 1m
tests:
  - interval: 2m
    input_series:
%s    alert_rule_test:
      - eval_time: 1500m
        alertname: OrderflowTenantShipsToOneAddress
        exp_alerts:
          - exp_labels: {severity: critical, job: orderflow, tenant: %s}
            exp_annotations:
              summary: "Seller %s's recent orders go to one delivery address, unlike its last week: the pattern of a hacked seller account."
              runbook_url: https://github.com/orderflow/orderflow/blob/main/dashboards/RUNBOOK.md#orderflowtenantshipstooneaddress
`, rules, series.String(), hacked, hacked)
	file := filepath.Join(t.TempDir(), "hacked_test.yaml")
	if err := os.WriteFile(file, []byte(test), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool: the alert did not fire for the hacked seller alone: %v\n%s", err, out)
	}
}
