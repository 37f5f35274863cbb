package stacktest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestPrometheusScrapesMetricsEndpoint proves the real Prometheus: a client_golang
// registry served on the address the stack scrapes appears, with its exact value,
// through Prometheus' HTTP query API.
func TestPrometheusScrapesMetricsEndpoint(t *testing.T) {
	promURL := stacktest.PrometheusURL(t)
	scrapeAddr := stacktest.ScrapeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	run := stacktest.UniqueName("run")
	reg := prometheus.NewRegistry()
	processed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderflow_smoke_orders_processed_total",
		Help: "Orders processed by the Prometheus smoke test.",
	}, []string{"run"})
	reg.MustRegister(processed)
	processed.WithLabelValues(run).Add(1234)

	listener, err := net.Listen("tcp", scrapeAddr)
	if err != nil {
		t.Fatalf("listen on the scrape address %s (is another test run using it?): %v", scrapeAddr, err)
	}
	server := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve metrics: %v", err)
		}
	}()
	defer server.Close()

	client, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatalf("prometheus client: %v", err)
	}
	api := promv1.NewAPI(client)
	query := `orderflow_smoke_orders_processed_total{job="orderflow-smoke",run="` + run + `"}`
	// The smoke job is scraped every second; wait for the first scrape that has our run.
	for {
		result, _, _, err := api.Query(ctx, query, time.Now())
		if err == nil {
			if vec, ok := result.(model.Vector); ok && len(vec) == 1 {
				if vec[0].Value != 1234 {
					t.Fatalf("%s = %v, want 1234", query, vec[0].Value)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus at %s never returned %s (last error: %v); is its smoke job scraping %s?", promURL, query, err, scrapeAddr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
