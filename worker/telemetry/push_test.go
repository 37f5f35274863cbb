package telemetry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
)

// TestPushSendsGaugesOnly, on the real Pushgateway: counters never leave the
// process (pushed, a one-shot job's counter would restart at every push);
// a replacing push leaves the group holding exactly what it sent, an adding
// push replaces only the names it sends.
func TestPushSendsGaugesOnly(t *testing.T) {
	base, group := stacktest.NewPushGroup(t, "orderflow-push-test", "database", "push")
	p, err := telemetry.NewPusher(telemetry.PushConfig{URL: base, Job: "orderflow-push-test", Grouping: map[string]string{"database": group}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rows := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "orderflow_test_last_run_rows", Help: "h"}, []string{"table"})
	success := prometheus.NewGauge(prometheus.GaugeOpts{Name: "orderflow_test_last_success_timestamp_seconds", Help: "h"})
	total := prometheus.NewCounter(prometheus.CounterOpts{Name: "orderflow_test_rows_total", Help: "h"})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "other_gauge", Help: "h"})
	reg.MustRegister(rows, success, total, other)
	rows.WithLabelValues("financial_records").Set(7)
	success.Set(1000)
	total.Add(7)
	other.Set(1)
	orderflow := func(name string) bool { return strings.HasPrefix(name, "orderflow_") }
	ctx := context.Background()
	series := func(name string) map[string]float64 {
		return stacktest.PushedSeries(t, base, name, "job=orderflow-push-test", "database="+group)
	}

	if err := p.Push(ctx, reg, orderflow, true); err != nil {
		t.Fatal(err)
	}
	if got := series("orderflow_test_last_run_rows"); got["database="+group+",job=orderflow-push-test,table=financial_records"] != 7 || len(got) != 1 {
		t.Errorf("pushed rows %v, want 7 under job, database and table", got)
	}
	for _, name := range []string{"orderflow_test_rows_total", "other_gauge"} {
		if got := series(name); len(got) != 0 {
			t.Errorf("%s was pushed: %v", name, got)
		}
	}
	// A failed run adds its rows and leaves the last success alone.
	rows.WithLabelValues("financial_records").Set(0)
	success.Set(2000)
	if err := p.Push(ctx, reg, func(name string) bool { return name == "orderflow_test_last_run_rows" }, false); err != nil {
		t.Fatal(err)
	}
	if got := series("orderflow_test_last_success_timestamp_seconds"); len(got) != 1 || got["database="+group+",job=orderflow-push-test"] != 1000 {
		t.Errorf("last success after an adding push %v, want the earlier 1000", got)
	}
	if got := series("orderflow_test_last_run_rows"); got["database="+group+",job=orderflow-push-test,table=financial_records"] != 0 {
		t.Errorf("rows after an adding push %v, want 0", got)
	}
	// A replacing push without the success gauge removes it.
	if err := p.Push(ctx, reg, func(name string) bool { return name == "orderflow_test_last_run_rows" }, true); err != nil {
		t.Fatal(err)
	}
	if got := series("orderflow_test_last_success_timestamp_seconds"); len(got) != 0 {
		t.Errorf("last success after a replacing push without it: %v", got)
	}
}

func TestNewPusherRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]telemetry.PushConfig{
		"no URL":       {Job: "j"},
		"not http":     {URL: "pushgateway:9091", Job: "j"},
		"no job":       {URL: "http://pgw:9091"},
		"job grouping": {URL: "http://pgw:9091", Job: "j", Grouping: map[string]string{"job": "x"}},
		"bad label":    {URL: "http://pgw:9091", Job: "j", Grouping: map[string]string{"a-b": "x"}},
	} {
		if _, err := telemetry.NewPusher(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
