package pictures

import "testing"

// Legends follow legendFormat; without one, the series as Prometheus
// prints it.
func TestLegendExpandsTheLegendFormat(t *testing.T) {
	labels := map[string]string{"__name__": "orderflow_orders_normalized_total", "tenant": "acme", "channel": "amazon"}
	for _, c := range []struct {
		format string
		labels map[string]string
		want   string
	}{
		{"{{ tenant }} / {{channel}}", labels, "acme / amazon"},
		{"{{topic}} lag", labels, " lag"},
		{"", labels, `orderflow_orders_normalized_total{channel="amazon", tenant="acme"}`},
		{"__auto", map[string]string{"tenant": "acme"}, `{tenant="acme"}`},
		{"", map[string]string{"__name__": "up"}, "up"},
		{"", map[string]string{}, "sum(up)"},
	} {
		if got := legend(c.format, c.labels, "sum(up)"); got != c.want {
			t.Errorf("legend(%q, %v) = %q, want %q", c.format, c.labels, got, c.want)
		}
	}
}
