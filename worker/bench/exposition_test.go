package bench

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// testdata/metrics.txt is a scrape of `orderflow run` (its orderflow_* and
// process_cpu families) after it committed 3,000 prefilled messages and 1,000
// more.
func sampleSnapshot(t *testing.T) Snapshot {
	t.Helper()
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s, err := ParseExposition(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExpositionCounters(t *testing.T) {
	s := sampleSnapshot(t)
	if got := s.Sum(metricOrders); got != 3977 {
		t.Errorf("orders normalized = %v, want 3977", got)
	}
	if got := s.Sum(metricDeadLetters); got != 23 {
		t.Errorf("dead letters = %v, want 23", got)
	}
	if got := committed(s); got != 4000 {
		t.Errorf("committed = %v, want 4000", got)
	}
	if got := s.SumBy(metricOrders, "channel"); got["amazon"] != 2352 || got["ebay"] != 1625 || len(got) != 2 {
		t.Errorf("orders by channel = %v", got)
	}
	if got := s.SumBy(metricDeadLetters, "stage"); got["normalize"] != 19 || got["route"] != 4 {
		t.Errorf("dead letters by stage = %v", got)
	}
	rows := s.SumBy(metricInsertRows, "table")
	want := map[string]float64{"order_facts": 3977, "order_line_facts": 6468, "delivery_labels": 2521, "financial_records": 3977}
	for table, n := range want {
		if rows[table] != n {
			t.Errorf("rows of %s = %v, want %v", table, rows[table], n)
		}
	}
	if got := s.SumBy(metricTokenCache, "result"); got["hit"] != 0 || got["miss"] != 5495 {
		t.Errorf("token cache = %v", got)
	}
	vault := s.SumBy(metricVaultRequests, "operation")
	if vault["hmac"] != 24 || vault["encrypt"] != 23 {
		t.Errorf("vault requests = %v", vault)
	}
	if got := s.Sum(metricLastCommit); got < 1.7e9 {
		t.Errorf("last commit = %v, want a Unix time", got)
	}
	if got := s.Sum("orderflow_no_such_metric"); got != 0 || s.Has("orderflow_no_such_metric") {
		t.Errorf("an absent metric sums to %v", got)
	}
}

func TestExpositionHistogram(t *testing.T) {
	s := sampleSnapshot(t)
	h, ok := s.Histogram(metricEndToEnd)
	if !ok {
		t.Fatal("no end-to-end histogram")
	}
	if h.Count != 4000 || math.Abs(h.Sum-37174.878903999976) > 1e-6 {
		t.Errorf("count %v sum %v", h.Count, h.Sum)
	}
	if n := len(h.Buckets); n != 41 || !math.IsInf(h.Buckets[n-1].UpperBound, +1) || h.Buckets[n-1].Count != 4000 {
		t.Fatalf("%d buckets, last %+v; want 40 and +Inf", n, h.Buckets[len(h.Buckets)-1])
	}
	for i := 1; i < len(h.Buckets); i++ {
		if h.Buckets[i].UpperBound <= h.Buckets[i-1].UpperBound || h.Buckets[i].Count < h.Buckets[i-1].Count {
			t.Fatalf("buckets not cumulative in order at %d: %+v %+v", i, h.Buckets[i-1], h.Buckets[i])
		}
	}
	p50, p99 := h.Quantile(0.5), h.Quantile(0.99)
	if !(p50 > 0 && p50 <= p99 && p99 < 600) {
		t.Errorf("p50 %v, p99 %v", p50, p99)
	}
	// A histogram with labelled series merges them: the ClickHouse insert
	// durations of the four tables.
	d, ok := s.Histogram("orderflow_clickhouse_insert_duration_seconds")
	if !ok || d.Count != s.Sum("orderflow_clickhouse_insert_batches_total") {
		t.Errorf("insert durations: %+v, %v; want one observation per insert", d.Count, ok)
	}
	if _, ok := s.Histogram(metricOrders); ok {
		t.Error("a counter read as a histogram")
	}
}

func TestExpositionRejectsGarbage(t *testing.T) {
	if _, err := ParseExposition(strings.NewReader("orderflow_x{a=\"b\" 1\n")); err == nil {
		t.Error("a broken label set parsed")
	}
	s, err := ParseExposition(strings.NewReader("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := s.Histogram("h")
	if !ok || len(h.Buckets) != 2 || h.Buckets[1].Count != 3 {
		t.Errorf("a histogram without +Inf: %+v; want +Inf added with the count", h)
	}
}

// The mean time per batch in each stage between two scrapes: only the
// batches observed in between count, and a stage with none is left out.
func TestMeanBetweenTakesEachStagesBatchesBetweenTwoScrapes(t *testing.T) {
	scrape := func(text string) Snapshot {
		t.Helper()
		s, err := ParseExposition(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const head = "# HELP orderflow_pipeline_stage_seconds x\n# TYPE orderflow_pipeline_stage_seconds histogram\n"
	series := func(stage string, sum float64, n int) string {
		return fmt.Sprintf("orderflow_pipeline_stage_seconds_bucket{stage=%q,le=\"+Inf\"} %d\norderflow_pipeline_stage_seconds_sum{stage=%q} %g\norderflow_pipeline_stage_seconds_count{stage=%q} %d\n",
			stage, n, stage, sum, stage, n)
	}
	before := scrape(head + series("write", 10, 4) + series("commit", 0.5, 4) + series("protect", 2, 4))
	after := scrape(head + series("write", 10.9, 7) + series("commit", 0.53, 7) + series("protect", 2, 4))
	got := meanBetween(before, after, metricStageSeconds, "stage")
	want := map[string]float64{"write": 0.3, "commit": 0.01}
	if len(got) != len(want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Errorf("%s: %v s a batch, want %v", k, got[k], w)
		}
	}
}
