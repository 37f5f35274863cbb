package retention_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
)

// pushedGroup pushes to a group of the test's own on the stack's
// Pushgateway and reads back what the group holds.
type pushedGroup struct {
	url, job, database string
	pusher             *telemetry.Pusher
}

func newPushedGroup(t *testing.T, job string) *pushedGroup {
	t.Helper()
	g := &pushedGroup{job: job}
	g.url, g.database = stacktest.NewPushGroup(t, job, "database", "push")
	var err error
	g.pusher, err = telemetry.NewPusher(telemetry.PushConfig{URL: g.url, Job: job, Grouping: map[string]string{"database": g.database}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// value is the group's sample of name, and whether it holds one.
func (g *pushedGroup) value(t *testing.T, name string) (float64, bool) {
	t.Helper()
	for _, v := range stacktest.PushedSeries(t, g.url, name, "job="+g.job, "database="+g.database) {
		return v, true
	}
	return 0, false
}

func (g *pushedGroup) want(t *testing.T, step string, values map[string]float64, absent ...string) {
	t.Helper()
	for name, want := range values {
		if got, ok := g.value(t, name); !ok || got != want {
			t.Errorf("%s: the group holds %s = %v (present %v), want %v", step, name, got, ok, want)
		}
	}
	for _, name := range absent {
		if got, ok := g.value(t, name); ok {
			t.Errorf("%s: the group holds %s = %v, want none", step, name, got)
		}
	}
}

// TestPushPassKeepsTheLastSuccess pushes one pass after another through the
// real Pushgateway: a success replaces the group; a skipped pass adds only
// its skip time; a failed pass updates everything but the last success; dry
// runs and passes refused for a future instant push nothing; gauges of other
// packages never go.
func TestPushPassKeepsTheLastSuccess(t *testing.T) {
	g := newPushedGroup(t, "orderflow-purge-test")
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	gauge := func(name string) prometheus.Gauge {
		c := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
		reg.MustRegister(c)
		return c
	}
	rows, success := gauge("orderflow_purge_last_run_rows"), gauge("orderflow_purge_last_success_timestamp_seconds")
	skip, age := gauge("orderflow_purge_last_skip_timestamp_seconds"), gauge("orderflow_retention_oldest_row_age_seconds")
	gauge("orderflow_vault_token_ttl_seconds").Set(1) // not retention's: never pushed
	const (
		rowsName, successName = "orderflow_purge_last_run_rows", "orderflow_purge_last_success_timestamp_seconds"
		skipName, ageName     = "orderflow_purge_last_skip_timestamp_seconds", "orderflow_retention_oldest_row_age_seconds"
	)

	for _, step := range []struct {
		name   string
		set    func()
		report retention.Report
		err    error
		want   map[string]float64
		absent []string
	}{
		{"a success", func() { rows.Set(5); success.Set(100); age.Set(60) }, retention.Report{}, nil,
			map[string]float64{rowsName: 5, successName: 100, ageName: 60, skipName: 0}, []string{"orderflow_vault_token_ttl_seconds"}},
		{"a skipped pass", func() { rows.Set(99); skip.Set(150) }, retention.Report{Skipped: true}, nil,
			map[string]float64{rowsName: 5, successName: 100, skipName: 150}, nil},
		{"a failed pass", func() { rows.Set(7); success.Set(300) }, retention.Report{}, errors.New("clickhouse is down"),
			map[string]float64{rowsName: 7, successName: 100, skipName: 150}, nil},
		{"a dry run", func() { rows.Set(1); success.Set(400) }, retention.Report{DryRun: true}, nil,
			map[string]float64{rowsName: 7, successName: 100}, nil},
		{"a future instant", func() { rows.Set(2) }, retention.Report{}, fmt.Errorf("purge: %w", retention.ErrFutureAsOf),
			map[string]float64{rowsName: 7, successName: 100}, nil},
		// A run whose registry lacks the skip time: the group is replaced, so
		// the skip time pushed before goes.
		{"the next success", func() { rows.Set(0); success.Set(500); reg.Unregister(skip) }, retention.Report{}, nil,
			map[string]float64{rowsName: 0, successName: 500}, []string{skipName}},
	} {
		step.set()
		if err := retention.PushPass(ctx, g.pusher, reg, step.report, step.err); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		g.want(t, step.name, step.want, step.absent...)
	}
	if err := retention.PushPass(ctx, nil, reg, retention.Report{}, nil); err != nil {
		t.Errorf("no pusher: %v", err)
	}
}

func TestPushOffboardingKeepsTheLastSuccess(t *testing.T) {
	g := newPushedGroup(t, "orderflow-offboard-test")
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	rows := prometheus.NewGauge(prometheus.GaugeOpts{Name: "orderflow_offboard_last_run_rows"})
	success := prometheus.NewGauge(prometheus.GaugeOpts{Name: "orderflow_offboard_last_success_timestamp_seconds"})
	reg.MustRegister(rows, success)

	rows.Set(9)
	success.Set(100)
	if err := retention.PushOffboarding(ctx, g.pusher, reg, nil); err != nil {
		t.Fatal(err)
	}
	rows.Set(3)
	success.Set(200)
	if err := retention.PushOffboarding(ctx, g.pusher, reg, errors.New("a live worker did not acknowledge")); err != nil {
		t.Fatal(err)
	}
	g.want(t, "after a failure", map[string]float64{"orderflow_offboard_last_run_rows": 3, "orderflow_offboard_last_success_timestamp_seconds": 100})
	if err := retention.PushOffboarding(ctx, nil, reg, nil); err != nil {
		t.Errorf("no pusher: %v", err)
	}
}
