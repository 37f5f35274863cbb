package stacktest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// EnvPushgatewayURL carries the stack's Prometheus Pushgateway (which the
// stack's Prometheus scrapes with honor_labels). It is not orderflow's own
// key (metrics.pushgateway, ORDERFLOW_METRICS_PUSHGATEWAY), so that sourcing
// .stack/env makes no command push: a test that wants a push sets that key.
const EnvPushgatewayURL = "ORDERFLOW_PUSHGATEWAY_URL"

// PushgatewayURL returns the base URL of the stack's Pushgateway.
func PushgatewayURL(t testing.TB) string {
	t.Helper()
	u := require(t, EnvPushgatewayURL, "Pushgateway")
	reachable(t, "Pushgateway", hostPort(t, u))
	return u
}

// NewPushGroup returns the stack's Pushgateway base URL and a grouping label
// value no other run uses (prefix and a unique suffix), whose group under job
// and label is deleted when the test ends.
func NewPushGroup(t testing.TB, job, label, prefix string) (base, group string) {
	t.Helper()
	base = PushgatewayURL(t)
	group = UniqueName(prefix)
	DeletePushGroupAtCleanup(t, base, job, label, group)
	return base, group
}

// PushedSeries returns the value of every sample of the metric name that the
// Pushgateway at base holds with all the given labels ("k=v", job and
// grouping labels included), keyed by the sample's non-empty labels
// ("k=v,k=v", sorted). It reads /metrics, as Prometheus does.
func PushedSeries(t testing.TB, base, name string, want ...string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reading the pushgateway: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the pushgateway's metrics: %v", err)
	}
	out := map[string]float64{}
	f := families[name]
	if f == nil {
		return out
	}
samples:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		var keys []string
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
			if l.GetValue() != "" { // an empty label is no label (the Pushgateway adds instance="")
				keys = append(keys, l.GetName()+"="+l.GetValue())
			}
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				continue samples
			}
		}
		out[strings.Join(keys, ",")] = value(m)
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// DeletePushGroupAtCleanup deletes the Pushgateway group (job and grouping
// labels, in order, as name, value pairs) when the test ends: groups live
// until deleted.
func DeletePushGroupAtCleanup(t testing.TB, base, job string, grouping ...string) {
	t.Helper()
	path := "/metrics/job/" + url.PathEscape(job)
	for i := 0; i+1 < len(grouping); i += 2 {
		path += "/" + url.PathEscape(grouping[i]) + "/" + url.PathEscape(grouping[i+1])
	}
	t.Cleanup(func() {
		req, err := http.NewRequest(http.MethodDelete, strings.TrimSuffix(base, "/")+path, nil)
		if err != nil {
			t.Error(err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Logf("deleting pushgateway group %s: %v", path, err)
			return
		}
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Logf("deleting pushgateway group %s: %s", path, fmt.Sprint(resp.Status))
		}
	})
}
