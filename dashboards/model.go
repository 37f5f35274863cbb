package dashboards

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Dashboard is the part of Grafana's dashboard model that orderflow reads
// (its queries, for the proof on the real Prometheus; its panels' layout,
// units and thresholds, for the pictures); unknown fields are ignored.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is one panel of a dashboard. A row panel holds its panels in Panels
// only while collapsed; an expanded row's panels follow it at the top level.
type Panel struct {
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Collapsed   bool     `json:"collapsed"`
	GridPos     GridPos  `json:"gridPos"`
	Targets     []Target `json:"targets"`
	Panels      []Panel  `json:"panels"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
			// Min and Max fix the y axis (Grafana's hard limits).
			Min        *float64 `json:"min"`
			Max        *float64 `json:"max"`
			Thresholds struct {
				Mode  string `json:"mode"` // "absolute" (the default) or "percentage"
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"` // null for the base step
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				// AxisSoftMin and AxisSoftMax widen the y axis to include
				// them (a threshold is shown only within the axis, as in
				// Grafana: a soft max at it keeps it in view).
				AxisSoftMin     *float64 `json:"axisSoftMin"`
				AxisSoftMax     *float64 `json:"axisSoftMax"`
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// GridPos is a panel's place on Grafana's 24-column grid.
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Hide         bool   `json:"hide"`
}

// Variable is a template variable (templating.list[]).
type Variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"` // a string, or a list of strings for multi-value variables
	} `json:"current"`
}

// ParseDashboard decodes a dashboard's JSON.
func ParseDashboard(data []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decoding the dashboard JSON: %w", err)
	}
	if d.UID == "" {
		return nil, fmt.Errorf("the dashboard %q has no uid", d.Title)
	}
	return &d, nil
}

// MainPanels returns the dashboard's main panels: its time series panels that
// are on screen when it opens (not inside a collapsed row), in reading order
// (gridPos y, then x), at most limit of them. The author chooses what the
// picture shows by what they put at the top, as an SRE sees it.
func (d *Dashboard) MainPanels(limit int) []Panel {
	var out []Panel
	for _, p := range d.Panels {
		if p.Type == "timeseries" {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Panel) int {
		if a.GridPos.Y != b.GridPos.Y {
			return a.GridPos.Y - b.GridPos.Y
		}
		return a.GridPos.X - b.GridPos.X
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
