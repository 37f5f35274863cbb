package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	soakLine   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	soakSecond = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	soakMedian = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	soakLimit  = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
)

// WriteChart draws the soak to a PNG at path: one panel a series against
// minutes since production started, the judged series with their first and
// last fifths' medians and the last fifth's limit, and a last panel of the
// produced and committed rates.
func (r *SoakResult) WriteChart(path string) error {
	rules := SoakRules(r.Params.Rate)
	var plots [][]*plot.Plot
	warm := 0.0
	if d, err := time.ParseDuration(r.Params.Warmup); err == nil {
		warm = d.Minutes()
	}
	end := r.ProduceEnd / 60
	fifth := (end - warm) / 5
	for i, rule := range rules {
		p := soakPanel()
		unit := ""
		if rule.Unit != "" {
			unit = " (" + rule.Unit + ")"
		}
		var xys plotter.XYs
		for _, s := range r.Samples {
			if v := rule.Value(s); !math.IsNaN(v) {
				xys = append(xys, plotter.XY{X: s.At / 60, Y: v / rule.Scale})
			}
		}
		if _, err := addLine(p, xys, soakLine, nil); err != nil {
			return fmt.Errorf("chart: %s: %w", rule.Name, err)
		}
		if i < len(r.Series) {
			f := r.Series[i]
			verdict := "shown, not judged"
			if f.Judged {
				verdict = "NOT FLAT"
				if f.Flat {
					verdict = "flat"
				}
				dash := []vg.Length{vg.Points(4), vg.Points(2)}
				_, _ = addLine(p, plotter.XYs{{X: warm, Y: f.First}, {X: warm + fifth, Y: f.First}}, soakMedian, dash)
				_, _ = addLine(p, plotter.XYs{{X: end - fifth, Y: f.Last}, {X: end, Y: f.Last}}, soakMedian, dash)
				_, _ = addLine(p, plotter.XYs{{X: end - fifth, Y: f.Limit}, {X: end, Y: f.Limit}}, soakLimit, []vg.Length{vg.Points(1), vg.Points(2)})
			}
			limit := ""
			if f.Judged {
				limit = ", limit " + trimFloat(f.Limit)
			}
			p.Title.Text = fmt.Sprintf("%s%s: %s (first fifth %s, last fifth %s%s, slope %s/min)",
				rule.Name, unit, verdict, trimFloat(f.First), trimFloat(f.Last), limit, trimFloat(f.SlopePerMinute))
		}
		plots = append(plots, []*plot.Plot{p})
	}

	// The rates over each sample interval.
	p := soakPanel()
	p.Title.Text = fmt.Sprintf("messages/s over each sample interval: produced (target %.0f/s, achieved %.0f/s) and committed", r.Params.Rate, r.Produced.Rate())
	var prod, comm plotter.XYs
	for j := 1; j < len(r.Samples); j++ {
		a, b := r.Samples[j-1], r.Samples[j]
		if dt := b.At - a.At; dt > 0 {
			prod = append(prod, plotter.XY{X: b.At / 60, Y: (b.Produced - a.Produced) / dt})
			comm = append(comm, plotter.XY{X: b.At / 60, Y: (b.Committed - a.Committed) / dt})
		}
	}
	if len(prod) > 0 {
		lp, err := addLine(p, prod, soakSecond, nil)
		if err != nil {
			return fmt.Errorf("chart: rates: %w", err)
		}
		lc, err := addLine(p, comm, soakLine, []vg.Length{vg.Points(3), vg.Points(2)})
		if err != nil {
			return fmt.Errorf("chart: rates: %w", err)
		}
		p.Legend.Add("produced (acknowledged)", lp)
		p.Legend.Add("committed by the worker", lc)
		p.Legend.Top = true
	}
	p.X.Label.Text = "minutes since production started"
	plots = append(plots, []*plot.Plot{p})

	width, panel := 11*vg.Inch, 2.1*vg.Inch
	img := vgimg.New(width, panel*vg.Length(len(plots)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(10)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("chart: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

func soakPanel() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	return p
}

// addLine adds a line through xys to p; nothing for no points.
func addLine(p *plot.Plot, xys plotter.XYs, c color.RGBA, dashes []vg.Length) (*plotter.Line, error) {
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	line.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.3), Dashes: dashes}
	p.Add(line)
	return line, nil
}
