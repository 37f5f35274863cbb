package stacktest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestPushgatewayKeepsWhatIsPushed proves the stack's Pushgateway: a gauge
// pushed under a job and a grouping label is served on its /metrics with
// those labels, as Prometheus scrapes it.
func TestPushgatewayKeepsWhatIsPushed(t *testing.T) {
	base, group := stacktest.NewPushGroup(t, "orderflow-smoke", "run", "smoke")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := "# TYPE orderflow_smoke_pushed gauge\norderflow_smoke_pushed 42\n"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/metrics/job/orderflow-smoke/run/"+group, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
	got := stacktest.PushedSeries(t, base, "orderflow_smoke_pushed", "job=orderflow-smoke", "run="+group)
	if len(got) != 1 || got["job=orderflow-smoke,run="+group] != 42 {
		t.Errorf("the pushgateway serves %v, want the pushed 42 under job and run", got)
	}
}
