package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Bucket is one cumulative bucket of a Prometheus histogram: how many
// observations were at most UpperBound. In JSON its bound is a string as in
// the exposition format ("0.005", "+Inf"), since JSON has no infinity.
type Bucket struct {
	UpperBound float64
	Count      float64
}

type bucketJSON struct {
	LE    string  `json:"le"`
	Count float64 `json:"count"`
}

// MarshalJSON writes {"le": "0.005", "count": 12}.
func (b Bucket) MarshalJSON() ([]byte, error) {
	return json.Marshal(bucketJSON{LE: formatBound(b.UpperBound), Count: b.Count})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (b *Bucket) UnmarshalJSON(data []byte) error {
	var j bucketJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(j.LE, 64)
	if err != nil {
		return fmt.Errorf("bucket bound %q: %w", j.LE, err)
	}
	*b = Bucket{UpperBound: v, Count: j.Count}
	return nil
}

func formatBound(v float64) string {
	if math.IsInf(v, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Histogram is a Prometheus histogram as scraped: cumulative buckets in
// increasing order of their upper bounds, the last one +Inf.
type Histogram struct {
	Buckets []Bucket `json:"buckets"`
	Count   float64  `json:"count"`
	Sum     float64  `json:"sum"`
}

// Sub returns h - prev: the observations made between two scrapes of the same
// histogram. The two must have the same bucket bounds.
func (h Histogram) Sub(prev Histogram) (Histogram, error) {
	if len(prev.Buckets) == 0 {
		return h, nil
	}
	if len(h.Buckets) != len(prev.Buckets) {
		return Histogram{}, fmt.Errorf("histograms with %d and %d buckets cannot be subtracted", len(h.Buckets), len(prev.Buckets))
	}
	d := Histogram{Buckets: make([]Bucket, len(h.Buckets)), Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum}
	for i, b := range h.Buckets {
		if b.UpperBound != prev.Buckets[i].UpperBound {
			return Histogram{}, fmt.Errorf("bucket %d: bounds %g and %g differ", i, b.UpperBound, prev.Buckets[i].UpperBound)
		}
		d.Buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - prev.Buckets[i].Count}
	}
	return d, nil
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations in h
// the way Prometheus' histogram_quantile does: it finds the bucket that holds
// the rank q*count and interpolates linearly within it, taking the lower bound
// of the first bucket as 0 (when its upper bound is positive). A rank in the
// +Inf bucket gives the largest finite upper bound. It returns NaN for an
// empty histogram or one without a +Inf bucket, -Inf for q < 0 and +Inf for
// q > 1.
func (h Histogram) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	buckets := slices.Clone(h.Buckets)
	slices.SortFunc(buckets, func(a, b Bucket) int { return cmpFloat(a.UpperBound, b.UpperBound) })
	if len(buckets) < 2 || !math.IsInf(buckets[len(buckets)-1].UpperBound, +1) {
		return math.NaN()
	}
	// Counts read from two scrapes at slightly different moments can dip;
	// histogram_quantile treats a bucket as at least the one before it.
	for i := 1; i < len(buckets); i++ {
		buckets[i].Count = max(buckets[i].Count, buckets[i-1].Count)
	}
	total := buckets[len(buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	b, _ := slices.BinarySearchFunc(buckets[:len(buckets)-1], rank, func(bk Bucket, r float64) int {
		if bk.Count >= r {
			return 1
		}
		return -1
	})
	if b == len(buckets)-1 {
		return buckets[len(buckets)-2].UpperBound
	}
	if b == 0 && buckets[0].UpperBound <= 0 {
		return buckets[0].UpperBound
	}
	start, end, count := 0.0, buckets[b].UpperBound, buckets[b].Count
	if b > 0 {
		start = buckets[b-1].UpperBound
		count -= buckets[b-1].Count
		rank -= buckets[b-1].Count
	}
	if count <= 0 { // q = 0 and an empty first bucket
		return start
	}
	return start + (end-start)*(rank/count)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
