package dashboards

import (
	"os"
	"slices"
	"testing"
	"time"
)

func exampleDashboard(t *testing.T) *Dashboard {
	t.Helper()
	data, err := os.ReadFile("pictures/testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDashboard(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The main panels are the time series panels on screen, in reading order:
// not the stat panel, not the one in the collapsed row.
func TestMainPanelsAreTheTimeSeriesOnScreenInReadingOrder(t *testing.T) {
	d := exampleDashboard(t)
	var got []string
	for _, p := range d.MainPanels(6) {
		got = append(got, p.Title)
	}
	want := []string{"Orders normalised per second", "Consumer lag"}
	if !slices.Equal(got, want) {
		t.Errorf("main panels %q, want %q", got, want)
	}
	if got := d.MainPanels(1); len(got) != 1 || got[0].Title != want[0] {
		t.Errorf("with a limit of 1, main panels %v, want only %q", got, want[0])
	}
}

// Variables are substituted as Grafana does with every variable on "All":
// includeAll without allValue is .*, allValue as given, a custom variable its
// current value, a variable with neither .*, the built-in intervals from the window; a value set by the
// caller wins; an unknown variable stays for Prometheus to reject.
func TestVariablesAreSubstitutedAsGrafanaDoesForAll(t *testing.T) {
	d := exampleDashboard(t)
	w := Interval{Range: 15 * time.Minute, Step: 10 * time.Second, Scrape: 15 * time.Second}
	all := Variables(d, nil, w)
	acme := Variables(d, map[string]string{"tenant": "acme"}, w)
	fast := Variables(d, nil, Interval{Range: time.Hour, Step: 90 * time.Second, Scrape: 5 * time.Second})

	for _, c := range []struct {
		name, expr string
		vals       map[string]string
		want       string
	}{
		{"includeAll is .*", d.Panels[2].Targets[0].Expr, all,
			`sum by (topic) (orderflow_kafka_consumer_lag_messages{tenant=~".*"})`},
		{"allValue, ${name}, $__rate_interval", d.Panels[3].Targets[0].Expr, all,
			`sum by (tenant, channel) (rate(orderflow_orders_normalized_total{tenant=~".*", channel=~"amazon|ebay"}[60s]))`},
		{"$__interval is the step", d.Panels[3].Targets[1].Expr, all,
			`sum(rate(orderflow_orders_normalized_total[10s]))`},
		{"a custom variable's current value", d.Panels[4].Panels[0].Targets[0].Expr, all,
			`histogram_quantile(0.99, sum by (le) (rate(orderflow_batch_duration_seconds_bucket[60s])))`},
		{"a variable without includeAll or a current value is all", `x{topic=~"$topic"}`, all,
			`x{topic=~".*"}`},
		{"$__range is the window", d.Panels[1].Targets[0].Expr, all,
			`sum(increase(orderflow_orders_normalized_total[900s]))`},
		{"a value set by the caller", d.Panels[2].Targets[0].Expr, acme,
			`sum by (topic) (orderflow_kafka_consumer_lag_messages{tenant=~"acme"})`},
		{"$__rate_interval is step + scrape when that is more than 4 scrapes", `rate(x[$__rate_interval])`, fast,
			`rate(x[95s])`},
		{"[[name]] and ${name:format}", `x{a=~"[[tenant]]", b=~"${channel:regex}"}`, all,
			`x{a=~".*", b=~"amazon|ebay"}`},
		{"$__interval_ms and $__range_s", `x[$__interval_ms] $__range_s`, all,
			`x[10000] 900`},
		{"an unknown variable stays", `x{a=~"$nope"}[$__rate_interval]`, all,
			`x{a=~"$nope"}[60s]`},
	} {
		if got := Interpolate(c.expr, c.vals); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
