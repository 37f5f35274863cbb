package bench

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

func hist(pairs ...float64) Histogram {
	var h Histogram
	for i := 0; i < len(pairs); i += 2 {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: pairs[i], Count: pairs[i+1]})
	}
	h.Count = h.Buckets[len(h.Buckets)-1].Count
	return h
}

var inf = math.Inf(+1)

func TestQuantileKnownHistograms(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		// 0.1:0, (0.1,0.2]:10, (0.2,0.4]:20, (0.4,0.8]:10.
		{"median in the third bucket", hist(0.1, 0, 0.2, 10, 0.4, 30, 0.8, 40, inf, 40), 0.5, 0.3},
		{"p99 interpolated", hist(0.1, 0, 0.2, 10, 0.4, 30, 0.8, 40, inf, 40), 0.99, 0.4 + 0.4*0.96},
		{"rank on a bucket's upper bound", hist(0.1, 0, 0.2, 10, 0.4, 30, 0.8, 40, inf, 40), 0.25, 0.2},
		{"p100 is the last finite bound", hist(0.1, 0, 0.2, 10, 0.4, 30, 0.8, 40, inf, 40), 1, 0.8},
		{"first bucket starts at zero", hist(1, 10, inf, 10), 0.5, 0.5},
		{"rank in +Inf gives the largest finite bound", hist(1, 5, inf, 10), 0.9, 1},
		{"first bucket with a negative bound", hist(-1, 5, 0, 10, inf, 10), 0.2, -1},
		{"unsorted buckets are sorted", hist(0.4, 30, 0.1, 0, inf, 40, 0.2, 10, 0.8, 40), 0.5, 0.3},
		{"counts that dip are made monotonic", hist(1, 10, 2, 8, 4, 20, inf, 20), 0.5, 1},
		{"q below 0", hist(1, 10, inf, 10), -0.1, math.Inf(-1)},
		{"q above 1", hist(1, 10, inf, 10), 1.1, math.Inf(+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.h.Quantile(tc.q)
			if math.Abs(got-tc.want) > 1e-9 && !(math.IsInf(got, 0) && got == tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestQuantileUndefined(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Histogram
	}{
		{"no observations", hist(1, 0, inf, 0)},
		{"no +Inf bucket", hist(1, 5, 2, 10)},
		{"only +Inf", hist(inf, 10)},
		{"no buckets", Histogram{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Quantile(0.5); !math.IsNaN(got) {
				t.Errorf("Quantile(0.5) = %v, want NaN", got)
			}
		})
	}
}

func TestHistogramSub(t *testing.T) {
	before := hist(1, 10, 2, 15, inf, 20)
	before.Sum = 25
	after := hist(1, 12, 2, 25, inf, 40)
	after.Sum = 60
	d, err := after.Sub(before)
	if err != nil {
		t.Fatal(err)
	}
	want := hist(1, 2, 2, 10, inf, 20)
	want.Sum = 35
	if d.Count != want.Count || d.Sum != want.Sum || len(d.Buckets) != len(want.Buckets) {
		t.Fatalf("Sub = %+v, want %+v", d, want)
	}
	for i := range d.Buckets {
		if d.Buckets[i] != want.Buckets[i] {
			t.Errorf("bucket %d = %+v, want %+v", i, d.Buckets[i], want.Buckets[i])
		}
	}
	// p50 of the delta: rank 10 in (1,2] holding 8 of it, 2 below: 1 + 8/8.
	if got := d.Quantile(0.5); got != 2 {
		t.Errorf("delta p50 = %v, want 2", got)
	}
	if _, err := after.Sub(hist(1, 1, inf, 1)); err == nil {
		t.Error("Sub of histograms with different buckets succeeded")
	}
	if _, err := after.Sub(hist(1, 1, 3, 1, inf, 1)); err == nil {
		t.Error("Sub of histograms with different bounds succeeded")
	}
}

// The worker's own histogram (orderflow_end_to_end_seconds' buckets), filled
// with known values, exposed as text and read back: the estimate lands in the
// bucket of the true quantile, within the linear interpolation's error.
func TestQuantileOfExposedHistogram(t *testing.T) {
	buckets := prometheus.ExponentialBucketsRange(0.005, 600, 40)
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "orderflow_end_to_end_seconds", Help: "test", Buckets: buckets})
	reg.MustRegister(h)
	// 1000 values spread evenly over [0.5s, 1.5s): p50 1.0, p99 1.49.
	for i := range 1000 {
		h.Observe(0.5 + float64(i)/1000)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ParseExposition(strings.NewReader(text.String()))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Histogram("orderflow_end_to_end_seconds")
	if !ok {
		t.Fatal("histogram not found")
	}
	if got.Count != 1000 || len(got.Buckets) != len(buckets)+1 {
		t.Fatalf("count %v, %d buckets; want 1000, %d", got.Count, len(got.Buckets), len(buckets)+1)
	}
	for _, tc := range []struct{ q, truth float64 }{{0.5, 1.0}, {0.99, 1.49}} {
		est := got.Quantile(tc.q)
		lo, hi := bucketAround(buckets, tc.truth)
		if est < lo || est > hi {
			t.Errorf("q%v: estimate %.4f outside the true value's bucket (%.4f, %.4f]", tc.q, est, lo, hi)
		}
		if math.Abs(est-tc.truth)/tc.truth > 0.1 {
			t.Errorf("q%v: estimate %.4f is more than 10%% from %.4f", tc.q, est, tc.truth)
		}
	}
}

func bucketAround(bounds []float64, v float64) (lo, hi float64) {
	for _, b := range bounds {
		if v <= b {
			return lo, b
		}
		lo = b
	}
	return lo, math.Inf(+1)
}

func TestHistogramJSONRoundTrip(t *testing.T) {
	h := hist(0.005, 1, 2.5, 7, inf, 9)
	h.Sum = 4.5
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"buckets":[{"le":"0.005","count":1},{"le":"2.5","count":7},{"le":"+Inf","count":9}],"count":9,"sum":4.5}`
	if string(data) != want {
		t.Errorf("JSON %s, want %s", data, want)
	}
	var back Histogram
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Count != h.Count || back.Sum != h.Sum || len(back.Buckets) != 3 || !math.IsInf(back.Buckets[2].UpperBound, +1) || back.Buckets[1] != h.Buckets[1] {
		t.Errorf("round trip %+v, want %+v", back, h)
	}
	if err := json.Unmarshal([]byte(`{"buckets":[{"le":"x","count":1}]}`), &back); err == nil {
		t.Error("a bad bound was read")
	}
}
