package pictures_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/orderflow/orderflow/dashboards/pictures"
	"github.com/orderflow/orderflow/worker/stacktest"
)

const testJob = "orderflow-pictures-test"

// A dashboard rendered from the real Prometheus: the panel whose query finds
// a gauge pushed through the stack's Pushgateway draws its line, rising where
// the gauge rose; the panel whose metric nobody exports draws "no data" and
// is reported empty; the PNG has the size the layout says.
func TestRenderDrawsWhatPrometheusHolds(t *testing.T) {
	promURL := stacktest.PrometheusURL(t)
	base, run := stacktest.NewPushGroup(t, testJob, "run", "pictures")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, v := range []float64{1, 3} {
		push(ctx, t, base, run, v)
		waitForValue(ctx, t, promURL, run, v)
	}

	data, err := os.ReadFile("testdata/live.json")
	if err != nil {
		t.Fatal(err)
	}
	// The window ends now, so that its last step is when the 3 was seen
	// (a window from before the pushes could end up to a step earlier).
	end := time.Now()
	cfg := pictures.Config{
		Prometheus:  promURL,
		Start:       end.Add(-time.Minute),
		End:         end,
		Step:        time.Second,
		Vars:        map[string]string{"run": run},
		PanelWidth:  6 * vg.Inch,
		PanelHeight: 3 * vg.Inch,
	}
	r, err := pictures.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := r.Render(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("PICTURES_KEEP"); path != "" { // to look at it
		if err := os.WriteFile(path, pic.PNG, 0o644); err != nil {
			t.Error(err)
		}
	}

	img, err := png.Decode(bytes.NewReader(pic.PNG))
	if err != nil {
		t.Fatalf("the picture is not a PNG: %v", err)
	}
	dots := func(l vg.Length) int { return int(l/vg.Inch*pictures.DPI + 0.5) }
	wantSize := image.Pt(dots(2*cfg.PanelWidth), dots(pictures.HeaderHeight+cfg.PanelHeight))
	if got := img.Bounds().Size(); got != wantSize {
		t.Errorf("picture %v, want %v (two panels side by side under the header)", got, wantSize)
	}
	if len(pic.Panels) != 2 {
		t.Fatalf("%d panels drawn, want 2: %+v", len(pic.Panels), pic.Panels)
	}
	if got, want := pic.Empty(), []string{"A metric nobody exports"}; !slices.Equal(got, want) {
		t.Errorf("empty panels %q, want %q", got, want)
	}
	if pic.Panels[0].Series != 1 {
		t.Errorf("the gauge panel drew %d series, want 1", pic.Panels[0].Series)
	}

	// The series' colour in the gauge panel's data area: a line, from the
	// height of 1 up to the height of 3.
	lineColor := pictures.Palette[0]
	area := pic.Panels[0].Area
	top, bottom, n := colored(img, area, lineColor)
	if n < 20 {
		t.Fatalf("%d pixels of the series' colour in the gauge panel's data area %v, want a line", n, area)
	}
	if rise := bottom - top; rise < area.Dy()/4 {
		t.Errorf("the line spans %d pixels vertically in a data area %d high, want the rise from 1 to 3 (about a third)", rise, area.Dy())
	}
	if _, _, n := colored(img, pic.Panels[1].Area, lineColor); n != 0 {
		t.Errorf("%d pixels of a series' colour in the panel with no data", n)
	}
}

// colored returns the highest and lowest rows of area that hold pixels of
// colour c (the line is antialiased: its core is c within a little), and
// how many there are.
func colored(img image.Image, area image.Rectangle, c color.RGBA) (top, bottom, n int) {
	top, bottom = area.Max.Y, area.Min.Y
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R) && near(g>>8, c.G) && near(b>>8, c.B) {
				n++
				top, bottom = min(top, y), max(bottom, y)
			}
		}
	}
	return top, bottom, n
}

func near(a uint32, b uint8) bool { return max(a, uint32(b))-min(a, uint32(b)) <= 12 }

// push sets the gauge of run to v on the Pushgateway.
func push(ctx context.Context, t *testing.T, base, run string, v float64) {
	t.Helper()
	body := fmt.Sprintf("# TYPE orderflow_pictures_test_gauge gauge\norderflow_pictures_test_gauge %s\n", strconv.FormatFloat(v, 'f', -1, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/metrics/job/"+testJob+"/run/"+url.PathEscape(run), bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
}

// waitForValue waits until Prometheus has scraped the gauge of run at v.
func waitForValue(ctx context.Context, t *testing.T, promURL, run string, v float64) {
	t.Helper()
	query := fmt.Sprintf(`orderflow_pictures_test_gauge{job=%q,run=%q}`, testJob, run)
	var last string
	for {
		got, err := instant(ctx, promURL, query)
		if err == nil && got == strconv.FormatFloat(v, 'f', -1, 64) {
			return
		}
		last = fmt.Sprintf("value %q, error %v", got, err)
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus at %s never returned %s = %v (last: %s); does it scrape the Pushgateway?", promURL, query, v, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// instant returns the value of the one series query returns now.
func instant(ctx context.Context, promURL, query string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	if len(r.Data.Result) != 1 {
		return "", fmt.Errorf("%d series", len(r.Data.Result))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return s, nil
}
