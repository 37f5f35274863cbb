package pictures

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"net/http"
	"time"

	"github.com/orderflow/orderflow/dashboards"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ErrNoPanels is returned for a dashboard without a time series panel on
// screen: there is nothing to draw.
var ErrNoPanels = errors.New("no time series panel outside a collapsed row")

// Config says where the data comes from and what the picture looks like.
type Config struct {
	// Prometheus is the base URL of the Prometheus to query (required).
	Prometheus string
	// Client runs the queries; default: one with a 30 s timeout.
	Client *http.Client
	// Start and End bound the window the panels show (required, End after Start).
	Start, End time.Time
	// Step is the resolution of the queries and $__interval; default: the
	// window ÷ 240 rounded up to a whole second.
	Step time.Duration
	// ScrapeInterval is Prometheus' scrape interval, from which
	// $__rate_interval is computed as Grafana does; default 15 s, Grafana's
	// default for a Prometheus data source.
	ScrapeInterval time.Duration
	// Vars sets template variables by name (values inserted as given); any
	// other variable is "All". Default: none.
	Vars map[string]string
	// MaxPanels is how many main panels are drawn; default 6.
	MaxPanels int
	// Columns is how many panels are side by side; default 2.
	Columns int
	// PanelWidth and PanelHeight are each panel's size; default 6.5 × 3.4
	// inches (624 × 326 pixels at the 96 dpi of the PNG).
	PanelWidth, PanelHeight vg.Length
}

// HeaderHeight is the height of the band above the panels that names the
// dashboard and the window.
const HeaderHeight = 0.45 * vg.Inch

// DPI is the resolution of the pictures.
const DPI = vgimg.DefaultDPI

// maxLegend is how many series a panel's legend lists; more are counted.
const maxLegend = 4

// Renderer draws dashboards' pictures; safe for concurrent use.
type Renderer struct {
	cfg Config
}

// New completes cfg with its defaults and checks it.
func New(cfg Config) (*Renderer, error) {
	if cfg.Prometheus == "" {
		return nil, errors.New("pictures: the Prometheus URL is empty")
	}
	if cfg.Start.IsZero() || !cfg.End.After(cfg.Start) {
		return nil, fmt.Errorf("pictures: the window must end after it starts (start %s, end %s)", cfg.Start.Format(time.RFC3339), cfg.End.Format(time.RFC3339))
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Step == 0 {
		cfg.Step = max(time.Second, (cfg.End.Sub(cfg.Start)/240 + time.Second - 1).Truncate(time.Second))
	}
	if cfg.Step < time.Millisecond {
		return nil, fmt.Errorf("pictures: the step %s is under a millisecond", cfg.Step)
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = 15 * time.Second
	}
	if cfg.MaxPanels == 0 {
		cfg.MaxPanels = 6
	}
	if cfg.Columns == 0 {
		cfg.Columns = 2
	}
	if cfg.PanelWidth == 0 {
		cfg.PanelWidth = 6.5 * vg.Inch
	}
	if cfg.PanelHeight == 0 {
		cfg.PanelHeight = 3.4 * vg.Inch
	}
	if cfg.MaxPanels < 0 || cfg.Columns < 0 || cfg.PanelWidth < 0 || cfg.PanelHeight < 0 || cfg.ScrapeInterval < 0 {
		return nil, errors.New("pictures: MaxPanels, Columns, the panel size and the scrape interval must not be negative")
	}
	return &Renderer{cfg: cfg}, nil
}

// Picture is one dashboard's rendering.
type Picture struct {
	UID, Title string
	// PNG is the image: the header, then the panels in rows of Columns.
	PNG []byte
	// Panels are the panels drawn, in the picture's order.
	Panels []PanelResult
}

// PanelResult says what a panel showed.
type PanelResult struct {
	Title string
	// Series is how many series its queries returned; 0 is "no data".
	Series int
	// Area is where its data are drawn, in the PNG's pixels (for a panel
	// with no data, its whole tile).
	Area image.Rectangle
}

// Empty returns the titles of the panels that had no data.
func (p *Picture) Empty() []string {
	var out []string
	for _, r := range p.Panels {
		if r.Series == 0 {
			out = append(out, r.Title)
		}
	}
	return out
}

// Render queries and draws the main panels (see dashboards.Dashboard.MainPanels) of the
// dashboard whose JSON is data. A query that fails fails the picture; one
// that returns nothing draws "no data" in its panel.
func (r *Renderer) Render(ctx context.Context, data []byte) (*Picture, error) {
	d, err := dashboards.ParseDashboard(data)
	if err != nil {
		return nil, err
	}
	panels := d.MainPanels(r.cfg.MaxPanels)
	if len(panels) == 0 {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, ErrNoPanels)
	}
	w := window{start: r.cfg.Start, end: r.cfg.End, step: r.cfg.Step, scrape: r.cfg.ScrapeInterval}
	vals := dashboards.Variables(d, r.cfg.Vars, dashboards.Interval{Range: w.end.Sub(w.start), Step: w.step, Scrape: w.scrape})

	cols := min(r.cfg.Columns, len(panels))
	rows := (len(panels) + cols - 1) / cols
	width := vg.Length(cols) * r.cfg.PanelWidth
	height := HeaderHeight + vg.Length(rows)*r.cfg.PanelHeight
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	drawHeader(dc, d.Title, w)
	grid := draw.Crop(dc, 0, 0, 0, -HeaderHeight)
	tiles := draw.Tiles{
		Rows: rows, Cols: cols,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(6), PadRight: vg.Points(10),
	}

	pic := &Picture{UID: d.UID, Title: d.Title}
	for i, p := range panels {
		lines, err := r.query(ctx, p, vals, w)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: panel %q: %w", d.UID, p.Title, err)
		}
		tile := tiles.At(grid, i%cols, i/cols)
		area, err := drawPanel(tile, p, lines, w)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: panel %q: %w", d.UID, p.Title, err)
		}
		pic.Panels = append(pic.Panels, PanelResult{Title: p.Title, Series: len(lines), Area: pixels(area, height)})
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("dashboard %s: encoding the PNG: %w", d.UID, err)
	}
	pic.PNG = buf.Bytes()
	return pic, nil
}

// line is one series to draw, with its legend.
type line struct {
	name   string
	points []point
}

// query runs the panel's visible targets and names each series.
func (r *Renderer) query(ctx context.Context, p dashboards.Panel, vals map[string]string, w window) ([]line, error) {
	var out []line
	for _, t := range p.Targets {
		if t.Hide || t.Expr == "" {
			continue
		}
		expr := dashboards.Interpolate(t.Expr, vals)
		res, err := queryRange(ctx, r.cfg.Client, r.cfg.Prometheus, expr, w)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", t.RefID, err)
		}
		for _, s := range res {
			out = append(out, line{name: legend(t.LegendFormat, s.labels, expr), points: s.points})
		}
	}
	return out, nil
}

func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler}
}

func drawHeader(dc draw.Canvas, title string, w window) {
	top := dc.Max.Y - vg.Points(6)
	sty := textStyle(vg.Points(14), color.Black)
	sty.YAlign = draw.YTop
	dc.FillText(sty, vg.Point{X: dc.Min.X + vg.Points(8), Y: top}, title)
	sub := textStyle(vg.Points(9), color.Gray{Y: 0x55})
	sub.YAlign = draw.YTop
	sub.XAlign = draw.XRight
	span := fmt.Sprintf("%s – %s UTC, step %s", w.start.UTC().Format("2006-01-02 15:04"), w.end.UTC().Format("15:04"), w.step)
	dc.FillText(sub, vg.Point{X: dc.Max.X - vg.Points(8), Y: top - vg.Points(3)}, span)
}

// drawPanel draws one panel in its tile and returns its data area.
func drawPanel(tile draw.Canvas, p dashboards.Panel, lines []line, w window) (vg.Rectangle, error) {
	if len(lines) == 0 {
		drawNoData(tile, p.Title)
		return tile.Rectangle, nil
	}
	steps := thresholds(p)
	peak := 0.0
	for _, l := range lines {
		for _, pt := range l.points {
			if !math.IsNaN(pt.v) && !math.IsInf(pt.v, 0) {
				peak = max(peak, math.Abs(pt.v))
			}
		}
	}
	for _, v := range []*float64{p.FieldConfig.Defaults.Custom.AxisSoftMax, p.FieldConfig.Defaults.Max} {
		if v != nil {
			peak = max(peak, math.Abs(*v))
		}
	}
	unit := unitFor(p.FieldConfig.Defaults.Unit, peak)

	pl := plot.New()
	pl.Title.Text = p.Title
	pl.Title.TextStyle.Font.Size = vg.Points(10)
	pl.Title.Padding = vg.Points(4)
	pl.X.Min, pl.X.Max = unixSeconds(w.start), unixSeconds(w.end)
	pl.X.Tick.Marker = timeTicks{}
	pl.Y.Label.Text = unit.label
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		a.Tick.Label.Font.Size = vg.Points(7)
		a.Label.TextStyle.Font.Size = vg.Points(8)
	}
	pl.Add(plotter.NewGrid())

	leg := plot.NewLegend()
	leg.Left, leg.Top = true, true
	leg.TextStyle = textStyle(vg.Points(7), color.Black)
	leg.ThumbnailWidth = vg.Points(14)
	nonNegative := true
	for i, l := range lines {
		style := draw.LineStyle{Color: Palette[i%len(Palette)], Width: vg.Points(1.5)}
		for _, seg := range segments(l.points, w.step) {
			xys := make(plotter.XYs, len(seg))
			for j, pt := range seg {
				xys[j] = plotter.XY{X: unixSeconds(pt.t), Y: pt.v * unit.scale}
				nonNegative = nonNegative && pt.v >= 0
			}
			if len(xys) == 1 { // a lone sample: a dot, as Grafana shows sparse points
				dot, err := plotter.NewScatter(xys)
				if err != nil {
					return vg.Rectangle{}, fmt.Errorf("series %d: %w", i+1, err)
				}
				dot.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
				pl.Add(dot)
				continue
			}
			ln, err := plotter.NewLine(xys)
			if err != nil {
				return vg.Rectangle{}, fmt.Errorf("series %d: %w", i+1, err)
			}
			ln.LineStyle = style
			pl.Add(ln)
		}
		if i < maxLegend {
			leg.Add(l.name, legendThumb(style))
		}
	}
	if n := len(lines) - maxLegend; n > 0 {
		leg.Add(fmt.Sprintf("… and %d more series", n))
	}
	yAxis(pl, p, unit.scale, nonNegative)
	for _, s := range steps {
		y := s.value * unit.scale
		if y < pl.Y.Min || y > pl.Y.Max {
			continue // Grafana draws a threshold only within the axis
		}
		ln, err := plotter.NewLine(plotter.XYs{{X: pl.X.Min, Y: y}, {X: pl.X.Max, Y: y}})
		if err != nil {
			return vg.Rectangle{}, fmt.Errorf("threshold: %w", err)
		}
		ln.LineStyle = draw.LineStyle{Color: s.color, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		pl.Add(ln)
	}
	// Adding lines widened the x axis to the data; the window stays the
	// window.
	pl.X.Min, pl.X.Max = unixSeconds(w.start), unixSeconds(w.end)

	entries := min(len(lines), maxLegend+1)
	legendH := vg.Length(entries)*vg.Points(9) + vg.Points(4)
	plotArea := draw.Crop(tile, 0, 0, legendH, 0)
	pl.Draw(plotArea)
	legArea := tile
	legArea.Max.Y = tile.Min.Y + legendH
	leg.Draw(draw.Crop(legArea, vg.Points(30), 0, 0, 0))
	return pl.DataCanvas(plotArea).Rectangle, nil
}

func drawNoData(tile draw.Canvas, title string) {
	sty := textStyle(vg.Points(10), color.Black)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	tile.FillText(sty, vg.Point{X: tile.Center().X, Y: tile.Max.Y}, title)
	msg := textStyle(vg.Points(12), color.Gray{Y: 0x80})
	msg.XAlign, msg.YAlign = draw.XCenter, draw.YCenter
	tile.FillText(msg, tile.Center(), "no data")
}

// legendThumb draws a series' colour in the legend.
type legendThumb draw.LineStyle

func (s legendThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle(s), c.Min.X, y, c.Max.X, y)
}

// yAxis sets the y axis' range as Grafana would: the data's, from zero
// when no value is negative, with a little headroom above, widened to the
// panel's soft limits and fixed by its hard ones (values in the panel's
// unit, scaled to the axis').
func yAxis(pl *plot.Plot, p dashboards.Panel, scale float64, nonNegative bool) {
	d := p.FieldConfig.Defaults
	if nonNegative {
		pl.Y.Min = 0
	}
	if pl.Y.Max > pl.Y.Min {
		pl.Y.Max += (pl.Y.Max - pl.Y.Min) / 20
	}
	if v := d.Custom.AxisSoftMin; v != nil {
		pl.Y.Min = min(pl.Y.Min, *v*scale)
	}
	if v := d.Custom.AxisSoftMax; v != nil {
		pl.Y.Max = max(pl.Y.Max, *v*scale)
	}
	if d.Min != nil {
		pl.Y.Min = *d.Min * scale
	}
	if d.Max != nil {
		pl.Y.Max = *d.Max * scale
	}
}

type threshold struct {
	value float64
	color color.RGBA
}

// thresholds returns the panel's absolute threshold steps that have a value
// (the base step has none), unless its thresholdsStyle is "off".
func thresholds(p dashboards.Panel) []threshold {
	d := p.FieldConfig.Defaults
	if d.Custom.ThresholdsStyle.Mode == "off" || d.Thresholds.Mode == "percentage" {
		return nil
	}
	var out []threshold
	for _, s := range d.Thresholds.Steps {
		if s.Value != nil && !math.IsNaN(*s.Value) && !math.IsInf(*s.Value, 0) {
			out = append(out, threshold{value: *s.Value, color: thresholdColor(s.Color)})
		}
	}
	return out
}

// segments splits a series where it has no sample for more than a step and
// a half, or a value that is not finite, so that the gap shows, as in
// Grafana.
func segments(pts []point, step time.Duration) [][]point {
	var out [][]point
	var cur []point
	for _, p := range pts {
		if math.IsNaN(p.v) || math.IsInf(p.v, 0) {
			out, cur = flush(out, cur), nil
			continue
		}
		if len(cur) > 0 && p.t.Sub(cur[len(cur)-1].t) > step*3/2 {
			out, cur = flush(out, cur), nil
		}
		cur = append(cur, p)
	}
	return flush(out, cur)
}

func flush(out [][]point, seg []point) [][]point {
	if len(seg) == 0 {
		return out
	}
	return append(out, seg)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// pixels converts a rectangle of the canvas (points, origin bottom left)
// to the PNG's pixels (origin top left).
func pixels(r vg.Rectangle, height vg.Length) image.Rectangle {
	px := func(l vg.Length) int { return int(math.Round(l.Dots(DPI))) }
	return image.Rect(px(r.Min.X), px(height-r.Max.Y), px(r.Max.X), px(height-r.Min.Y))
}
