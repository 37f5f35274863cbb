package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The worker's metrics the bench reads (see worker/pipeline, worker/facts and
// worker/transit).
const (
	metricOrders        = "orderflow_orders_normalized_total"
	metricDeadLetters   = "orderflow_dead_letters_total"
	metricRefused       = "orderflow_orders_refused_offboarded_total"
	metricBatchMessages = "orderflow_batch_messages"
	metricLastCommit    = "orderflow_last_commit_timestamp_seconds"
	metricEndToEnd      = "orderflow_end_to_end_seconds"
	metricBatches       = "orderflow_batches_committed_total"
	metricStageSeconds  = "orderflow_pipeline_stage_seconds"
	metricInsertRows    = "orderflow_clickhouse_insert_rows_total"
	metricInsertBatches = "orderflow_clickhouse_insert_batches_total"
	metricVaultRequests = "orderflow_vault_requests_total"
	metricVaultItems    = "orderflow_vault_batch_items_total"
	metricTokenCache    = "orderflow_token_cache_requests_total"
)

// Snapshot is one scrape of a /metrics endpoint in the Prometheus text format.
type Snapshot struct {
	families map[string]*dto.MetricFamily
}

// ParseExposition reads a scrape in the Prometheus text exposition format.
func ParseExposition(r io.Reader) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("metrics exposition: %w", err)
	}
	return Snapshot{families: families}, nil
}

// Scrape fetches and parses url (a /metrics endpoint).
func Scrape(ctx context.Context, client *http.Client, url string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	// The text format, not protobuf or OpenMetrics.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	s, err := ParseExposition(resp.Body)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}

// Has reports whether the scrape holds the metric.
func (s Snapshot) Has(name string) bool {
	_, ok := s.families[name]
	return ok
}

// Sum is the sum of a counter's or gauge's series; 0 when the metric is absent
// (a labelled counter has no series until its first increment).
func (s Snapshot) Sum(name string) float64 {
	total := 0.0
	for _, m := range s.metrics(name) {
		total += scalar(m)
	}
	return total
}

// SumBy sums a counter's or gauge's series by the value of one label.
func (s Snapshot) SumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range s.metrics(name) {
		key := ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				key = lp.GetValue()
			}
		}
		out[key] += scalar(m)
	}
	return out
}

// Histogram merges the series of a histogram (they must share bucket bounds);
// false when the metric is absent or not a histogram.
func (s Snapshot) Histogram(name string) (Histogram, bool) {
	mf, ok := s.families[name]
	if !ok || mf.GetType() != dto.MetricType_HISTOGRAM {
		return Histogram{}, false
	}
	var h Histogram
	for _, m := range mf.GetMetric() {
		dh := m.GetHistogram()
		one := Histogram{Count: count(dh.GetSampleCount(), dh.GetSampleCountFloat()), Sum: dh.GetSampleSum()}
		for _, b := range dh.GetBucket() {
			one.Buckets = append(one.Buckets, Bucket{UpperBound: b.GetUpperBound(), Count: count(b.GetCumulativeCount(), b.GetCumulativeCountFloat())})
		}
		slices.SortFunc(one.Buckets, func(a, b Bucket) int { return cmpFloat(a.UpperBound, b.UpperBound) })
		// The text format always has le="+Inf"; add it if a producer left it out.
		if n := len(one.Buckets); n == 0 || !math.IsInf(one.Buckets[n-1].UpperBound, +1) {
			one.Buckets = append(one.Buckets, Bucket{UpperBound: math.Inf(+1), Count: one.Count})
		}
		if h.Buckets == nil {
			h = one
			continue
		}
		if len(one.Buckets) != len(h.Buckets) {
			return Histogram{}, false
		}
		h.Count += one.Count
		h.Sum += one.Sum
		for i := range h.Buckets {
			if h.Buckets[i].UpperBound != one.Buckets[i].UpperBound {
				return Histogram{}, false
			}
			h.Buckets[i].Count += one.Buckets[i].Count
		}
	}
	return h, h.Buckets != nil
}

// HistogramTotalsBy returns a histogram's sums and counts by the value of one
// label (its series of one value added up).
func (s Snapshot) HistogramTotalsBy(name, label string) (sums, counts map[string]float64) {
	sums, counts = map[string]float64{}, map[string]float64{}
	for _, m := range s.metrics(name) {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		key := ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				key = lp.GetValue()
			}
		}
		sums[key] += h.GetSampleSum()
		counts[key] += count(h.GetSampleCount(), h.GetSampleCountFloat())
	}
	return sums, counts
}

// meanBetween is the mean observation of each label value's series between
// two scrapes, for the values observed in between.
func meanBetween(before, after Snapshot, name, label string) map[string]float64 {
	s0, c0 := before.HistogramTotalsBy(name, label)
	s1, c1 := after.HistogramTotalsBy(name, label)
	out := map[string]float64{}
	for k, c := range c1 {
		if n := c - c0[k]; n > 0 {
			out[k] = (s1[k] - s0[k]) / n
		}
	}
	return out
}

func (s Snapshot) metrics(name string) []*dto.Metric {
	mf, ok := s.families[name]
	if !ok {
		return nil
	}
	return mf.GetMetric()
}

func scalar(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func count(n uint64, f float64) float64 {
	if f != 0 {
		return f
	}
	return float64(n)
}
