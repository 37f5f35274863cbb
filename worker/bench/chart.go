package bench

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chartWindow is the trailing window of the chart's rates: the worker commits
// a batch (10,000 messages by default) at a time, about one a second or more
// slowly, so a shorter window would show the batches, not the rate.
const chartWindow = 2 * time.Second

// WriteChart draws the three pipelines' throughput over time in the median
// run (Summary.MedianRun) to a PNG at path: orders per second over a trailing
// window against seconds since each phase started, reference (b) as orders
// equivalent.
func (r *Result) WriteChart(path string) error {
	if r.Summary.MedianRun < 1 || r.Summary.MedianRun > len(r.Runs) {
		return fmt.Errorf("chart: no run %d of %d to draw", r.Summary.MedianRun, len(r.Runs))
	}
	shown := r.Runs[r.Summary.MedianRun-1]
	p := plot.New()
	p.Title.Text = fmt.Sprintf("orderflow-bench %s: throughput, run %d of %d (the median worker ÷ slower reference), %d orders",
		r.heading(), shown.Run, len(r.Runs), r.Params.Orders)
	p.X.Label.Text = "seconds since the phase started (the worker: its process start)"
	p.Y.Label.Text = fmt.Sprintf("orders/s (trailing %s)", chartWindow)
	p.Y.Min = 0
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = false

	perOrder := shown.InsertRef.RowsPerOrder
	if perOrder <= 0 {
		perOrder = 1
	}
	// Reference (a) is often ten times the others: past ymax it is clipped
	// (its legend says so), so that the worker and (b) stay readable.
	ymax := 3 * max(peak(Rates(shown.Worker.Samples, chartWindow, 1)), peak(Rates(shown.InsertRef.Samples, chartWindow, perOrder)))
	kafkaName := fmt.Sprintf("(a) kafka-go consume: %.0f/s steady", shown.KafkaRef.Steady)
	clip := ymax > 0 && peak(Rates(shown.KafkaRef.Samples, chartWindow, 1)) > ymax
	if clip {
		kafkaName += " (clipped)"
	}
	lines := []struct {
		name    string
		samples []Sample
		per     float64
		color   color.RGBA
		dashes  []vg.Length
	}{
		{fmt.Sprintf("worker (orderflow run): %.0f/s steady", shown.Worker.Steady), shown.Worker.Samples, 1, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, nil},
		{kafkaName, shown.KafkaRef.Samples, 1, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, []vg.Length{vg.Points(6), vg.Points(3)}},
		{fmt.Sprintf("(b) clickhouse-go insert as orders (rows ÷ %.2f): %.0f/s steady", perOrder, shown.InsertRef.OrdersSteady), shown.InsertRef.Samples, perOrder, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, []vg.Length{vg.Points(2), vg.Points(2)}},
	}
	for _, l := range lines {
		rates := Rates(l.samples, chartWindow, l.per)
		xys := make(plotter.XYs, 0, len(rates)+1)
		xys = append(xys, plotter.XY{X: 0, Y: 0})
		for _, s := range rates {
			xys = append(xys, plotter.XY{X: s.At, Y: s.Count})
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("chart: %s: %w", l.name, err)
		}
		line.LineStyle = draw.LineStyle{Color: l.color, Width: vg.Points(1.5), Dashes: l.dashes}
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	if clip { // after Add, which widens the axes to the data
		p.Y.Max = ymax
	}
	if err := p.Save(11*vg.Inch, 5.5*vg.Inch, path); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

func peak(rates []Sample) float64 {
	m := 0.0
	for _, s := range rates {
		m = max(m, s.Count)
	}
	return m
}

// niceTicks labels an axis every 1, 2 or 5 times a power of ten, about eight
// labels in all, with plain numbers (gonum's default gives as few as two).
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'f', -1, 64)}}
	}
	raw := (hi - lo) / 8
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		v = math.Round(v/step) * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if mid := v + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}
