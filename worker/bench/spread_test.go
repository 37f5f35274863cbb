package bench

import (
	"math"
	"slices"
	"testing"
)

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		name             string
		values           []float64
		median, min, max float64
		runs             []float64
	}{
		{"odd: the middle value, not the mean", []float64{0.55, 0.70, 0.62}, 0.62, 0.55, 0.70, []float64{0.55, 0.70, 0.62}},
		{"even: the mean of the middle two", []float64{4, 1, 3, 2}, 2.5, 1, 4, []float64{4, 1, 3, 2}},
		{"one run", []float64{7}, 7, 7, 7, []float64{7}},
		{"an outlier does not move the median", []float64{10, 10.5, 1000}, 10.5, 10, 1000, []float64{10, 10.5, 1000}},
		{"NaN left out, kept as 0 in its place", []float64{3, math.NaN(), 1}, 2, 1, 3, []float64{3, 0, 1}},
		{"all NaN", []float64{math.NaN(), math.Inf(1)}, 0, 0, 0, []float64{0, 0}},
		{"none", nil, 0, 0, 0, []float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpread(tc.values)
			if s.Median != tc.median || s.Min != tc.min || s.Max != tc.max || !slices.Equal(s.Runs, tc.runs) {
				t.Errorf("newSpread(%v) = %+v, want median %v, range %v–%v, runs %v", tc.values, s, tc.median, tc.min, tc.max, tc.runs)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	for _, tc := range []struct {
		values []float64
		want   int
	}{
		{[]float64{0.55, 0.70, 0.62}, 2},
		{[]float64{0.62, 0.55, 0.70}, 0},
		{[]float64{5, 1, 3, 2}, 3}, // the lower of the middle two (2 and 3)
		{[]float64{1, 1, 1}, 1},
		{[]float64{9}, 0},
		{nil, -1},
	} {
		if got := medianRun(tc.values); got != tc.want {
			t.Errorf("medianRun(%v) = %d, want %d", tc.values, got, tc.want)
		}
	}
}
