package bench

import (
	"math"
	"testing"
	"time"
)

func TestThroughputSteadyWindow(t *testing.T) {
	// A worker that starts committing at 3s, a batch of 10 every second.
	var points []Sample
	for i := range 10 {
		points = append(points, Sample{At: 3 + float64(i), Count: float64(10 * (i + 1))})
	}
	tp := newThroughput(100, 3, 12, points, nil)
	if math.Abs(tp.Overall-100.0/12) > 1e-9 {
		t.Errorf("overall %v", tp.Overall)
	}
	// The first point at least 1s after the first commit is (4s, 20).
	if tp.SteadyFrom != 4 || tp.SteadyCount != 80 || math.Abs(tp.Steady-10) > 1e-9 || tp.SteadyShort {
		t.Errorf("steady %+v, want 10/s from 4s", tp)
	}
}

func TestThroughputShortPhase(t *testing.T) {
	tp := newThroughput(100, 0.2, 0.6, []Sample{{0.25, 40}, {0.5, 80}, {0.6, 100}}, nil)
	if !tp.SteadyShort || tp.SteadyFrom != 0.25 || math.Abs(tp.Steady-60/0.35) > 1e-9 {
		t.Errorf("short phase: %+v", tp)
	}
	one := newThroughput(100, 2, 2, []Sample{{2, 100}}, nil)
	if !one.SteadyShort || one.Steady != one.Overall || one.Overall != 50 {
		t.Errorf("one batch: %+v", one)
	}
}

func TestRates(t *testing.T) {
	// 100 a second for 2 seconds, sampled every 0.5s.
	var s []Sample
	for i := 1; i <= 4; i++ {
		s = append(s, Sample{At: 0.5 * float64(i), Count: 50 * float64(i)})
	}
	for _, r := range Rates(s, time.Second, 1) {
		if math.Abs(r.Count-100) > 1e-9 {
			t.Errorf("rate at %v = %v, want 100", r.At, r.Count)
		}
	}
	for _, r := range Rates(s, time.Second, 4) {
		if math.Abs(r.Count-25) > 1e-9 {
			t.Errorf("rate per 4 at %v = %v, want 25", r.At, r.Count)
		}
	}
	// A batch of 100 at 1s, nothing after: the trailing window sees it, then not.
	b := []Sample{{0.5, 0}, {1, 100}, {1.5, 100}, {2, 100}, {2.5, 100}}
	got := Rates(b, time.Second, 1)
	want := []float64{0, 100, 100, 0, 0}
	for i, r := range got {
		if math.Abs(r.Count-want[i]) > 1e-9 {
			t.Errorf("batch rate at %v = %v, want %v", r.At, r.Count, want[i])
		}
	}
}
