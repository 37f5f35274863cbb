package dashboards

import (
	"slices"
	"testing"
)

func TestWithBoolMakesEveryComparisonReturnZeroOrOne(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`up{job="orderflow"} == 0`, `up{job="orderflow"} == bool 0`},
		{`a > on (job) b + 7200`, `a > bool on (job) b + 7200`},
		{`a{x!="y",z=~"a|b"} >= 1 and b <= 2`, `a{x!="y",z=~"a|b"} >= bool 1 and b <= bool 2`},
		{`a != 3`, `a != bool 3`},
		{`a > bool 3`, `a > bool 3`},
		{`label_replace(a, "x", "$1", "y", "(.+)>(.*)") < 1`, `label_replace(a, "x", "$1", "y", "(.+)>(.*)") < bool 1`},
		{`rate(a[5m])`, `rate(a[5m])`},
	} {
		if got := WithBool(c.in); got != c.want {
			t.Errorf("WithBool(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestExpandSetsEveryVariableToAll(t *testing.T) {
	var d Dashboard
	for _, name := range []string{"channel", "tenant"} {
		d.Templating.List = append(d.Templating.List, Variable{Name: name, Type: "query", IncludeAll: true, AllValue: ".*"})
	}
	vals := Variables(&d, nil, Interval{})
	vals["__rate_interval"] = "1m" // as PanelQueries("1m") sets it
	got := Interpolate(`sum by (channel) (rate(x{channel=~"$channel",tenant=~"${tenant}"}[$__rate_interval]))`, vals)
	if want := `sum by (channel) (rate(x{channel=~".*",tenant=~".*"}[1m]))`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMetricNamesSkipsLabelsAndFoldsHistogramSeries(t *testing.T) {
	got := MetricNames(`histogram_quantile(0.99, sum by (operation, le) (rate(orderflow_vault_request_duration_seconds_bucket{job="orderflow_x"}[5m])))
		/ on (up) max(orderflow_last_commit_timestamp_seconds) + up - process_resident_memory_bytes`)
	want := []string{"orderflow_vault_request_duration_seconds", "orderflow_last_commit_timestamp_seconds", "up", "process_resident_memory_bytes"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Every panel and every rule has an expression, and every one reads at least
// one metric (a typo in a metric's name leaves a query that is valid and
// always empty; the stack test catches that).
func TestEveryQueryReadsAMetric(t *testing.T) {
	panels, err := PanelQueries("1m")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RuleQueries()
	if err != nil {
		t.Fatal(err)
	}
	if len(panels) < 30 || len(rules) < 14 {
		t.Fatalf("%d panel queries and %d rules: the files did not parse as expected", len(panels), len(rules))
	}
	for _, q := range append(panels, rules...) {
		if len(MetricNames(q.Expr)) == 0 {
			t.Errorf("%s: %q reads no metric", q.Source, q.Expr)
		}
	}
}
