package pictures

import (
	"time"

	"gonum.org/v1/plot"
)

// tickSteps are the spacings a time axis may use, each a round number of
// a clock unit.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeTicks labels a time axis (Unix seconds) in UTC at round times, about
// six labels: HH:MM, or HH:MM:SS when the labels are less than a minute
// apart (gonum's default puts them at arbitrary seconds).
type timeTicks struct{}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	format := "15:04"
	if step < time.Minute {
		format = "15:04:05"
	}
	var ticks []plot.Tick
	first := time.Unix(int64(lo), 0).UTC().Truncate(step)
	for t := first; float64(t.Unix()) <= hi; t = t.Add(step) {
		if v := float64(t.Unix()); v >= lo {
			ticks = append(ticks, plot.Tick{Value: v, Label: t.Format(format)})
		}
		if mid := t.Add(step / 2); step >= 2*time.Second && float64(mid.Unix()) >= lo && float64(mid.Unix()) <= hi {
			ticks = append(ticks, plot.Tick{Value: float64(mid.Unix())})
		}
	}
	return ticks
}
