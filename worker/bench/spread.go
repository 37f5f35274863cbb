package bench

import (
	"math"
	"slices"
)

// Spread is one figure over the runs: each run's value in run order, their
// median and their range. On a shared 2-core machine one run can be off by
// half; the goals are judged on the median, and the range says how far to
// trust it.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// newSpread summarises values, one a run. The median of an even count is the
// mean of the middle two; an empty or all-NaN list gives zeros. NaNs (a
// figure a run could not measure) are left out of the median and the range
// but kept, as 0, in Runs, which JSON could not hold otherwise.
func newSpread(values []float64) Spread {
	s := Spread{Runs: make([]float64, len(values))}
	var ok []float64
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s.Runs[i] = v
		ok = append(ok, v)
	}
	if len(ok) == 0 {
		return s
	}
	slices.Sort(ok)
	s.Min, s.Max = ok[0], ok[len(ok)-1]
	if m := len(ok) / 2; len(ok)%2 == 1 {
		s.Median = ok[m]
	} else {
		s.Median = (ok[m-1] + ok[m]) / 2
	}
	return s
}

// spreadOf is newSpread of one figure of each run.
func spreadOf[T any](runs []T, figure func(T) float64) Spread {
	values := make([]float64, len(runs))
	for i, r := range runs {
		values[i] = figure(r)
	}
	return newSpread(values)
}

// medianRun is the index of the run whose value is the median (for an even
// count, the lower of the middle two): the run the chart shows.
func medianRun(values []float64) int {
	if len(values) == 0 {
		return -1
	}
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(values[a], values[b]) })
	return idx[(len(idx)-1)/2]
}
