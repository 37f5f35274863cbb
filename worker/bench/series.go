package bench

import (
	"sync"
	"time"
)

// Sample is a cumulative count (messages, orders or rows done) at a moment of
// a phase.
type Sample struct {
	At    float64 `json:"t"`     // seconds since the phase started
	Count float64 `json:"count"` // done by then
}

// Throughput is how fast one phase did its work.
//
//   - Seconds runs from the phase's start to the last item done, so Overall
//     (Count / Seconds) includes the start-up: joining the consumer group,
//     connecting, the first fetch.
//   - First is when the first item was done (for the worker: its first
//     commit), the start-up cost.
//   - Steady excludes the first second after First: it is the rate from the
//     first exact point at least one second after First to the end. When the
//     phase is too short for that, SteadyShort is set and Steady is the rate
//     from the first point with work done (or, failing that, Overall).
type Throughput struct {
	Count       int64   `json:"count"`
	Seconds     float64 `json:"seconds"`
	First       float64 `json:"first_seconds"`
	Overall     float64 `json:"overall_per_s"`
	Steady      float64 `json:"steady_per_s"`
	SteadyFrom  float64 `json:"steady_from_seconds"`
	SteadyCount int64   `json:"steady_count"` // items done within the steady window
	SteadyShort bool    `json:"steady_window_short,omitempty"`
	// Samples are the cumulative counts every sample interval from the phase's
	// start, for the time series.
	Samples []Sample `json:"samples"`
}

// newThroughput computes a phase's rates. points are exact (time, count)
// pairs in time order (for the worker, commit times and the committed count
// at each); first and end are the times of the first and the last item done,
// count the items; samples the time series.
func newThroughput(count int64, first, end float64, points, samples []Sample) Throughput {
	t := Throughput{Count: count, Seconds: end, First: first, Samples: samples}
	if end > 0 {
		t.Overall = float64(count) / end
	}
	for _, p := range points {
		if p.At >= first+1 && p.At < end && p.Count < float64(count) {
			t.setSteady(p)
			return t
		}
	}
	// Too short for a steady window: from the first point with work done.
	t.SteadyShort = true
	for _, p := range points {
		if p.Count > 0 && p.At < end && p.Count < float64(count) {
			t.setSteady(p)
			return t
		}
	}
	t.SteadyFrom, t.SteadyCount, t.Steady = 0, count, t.Overall
	return t
}

func (t *Throughput) setSteady(from Sample) {
	t.SteadyFrom = from.At
	t.SteadyCount = t.Count - int64(from.Count)
	t.Steady = (float64(t.Count) - from.Count) / (t.Seconds - from.At)
}

// Rates turns cumulative samples into a rate per second over a trailing
// window (the rate at each sample over the window before it; from the
// phase's start while that is shorter), divided by per (1 for the count
// itself; rows per order to turn rows into orders).
func Rates(samples []Sample, window time.Duration, per float64) []Sample {
	w := window.Seconds()
	out := make([]Sample, 0, len(samples))
	j := -1 // the sample that starts the window; -1 is the phase's start
	for i, s := range samples {
		for j+1 < i && samples[j+1].At <= s.At-w {
			j++
		}
		t0, c0 := 0.0, 0.0
		if j >= 0 {
			t0, c0 = samples[j].At, samples[j].Count
		}
		if s.At <= t0 {
			continue
		}
		out = append(out, Sample{At: s.At, Count: (s.Count - c0) / (s.At - t0) / per})
	}
	return out
}

// sampler records a counter every interval from a start until stopped. Its
// goroutine is owned by whoever calls newSampler, which must call stop.
type sampler struct {
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples []Sample
}

func newSampler(start time.Time, interval time.Duration, read func() float64) *sampler {
	s := &sampler{done: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case now := <-tick.C:
				v := read()
				s.mu.Lock()
				s.samples = append(s.samples, Sample{At: now.Sub(start).Seconds(), Count: v})
				s.mu.Unlock()
			}
		}
	})
	return s
}

// stop ends the sampling, adds a last sample of the final count at end, and
// returns the samples.
func (s *sampler) stop(end float64, final float64) []Sample {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.samples
	for len(out) > 0 && out[len(out)-1].At >= end {
		out = out[:len(out)-1]
	}
	return append(out, Sample{At: end, Count: final})
}
