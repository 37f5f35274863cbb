package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/orderflow/orderflow/dashboards"
)

// The committed dashboards are what the builders make: edit the builders,
// then `make dashboards`.
func TestCommittedDashboardsAreGenerated(t *testing.T) {
	want, err := render()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob("../*.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range committed {
		committed[i] = filepath.Base(committed[i])
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Errorf("%s is not committed: run make dashboards", name)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("dashboards/%s differs from what ./dashboards/generate writes: run make dashboards", name)
		}
	}
	for _, name := range committed {
		if _, ok := want[name]; !ok {
			t.Errorf("dashboards/%s is not generated: remove it, or add it to boards()", name)
		}
	}
}

// Each committed file decodes strictly with Grafana's own schema types
// (an unknown or misspelt field fails) and passes their validation, and
// follows the conventions file provisioning and on-call engineers rely on.
func TestDashboardsDecodeStrictlyWithGrafanasSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	names, err := dashboards.DashboardFiles()
	if err != nil || len(names) != 3 {
		t.Fatalf("dashboards %v (%v), want 3", names, err)
	}
	uids := map[string]bool{}
	for _, name := range names {
		data, err := dashboards.DashboardFile(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeStrict(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// The decoder is strict: the same file with a field Grafana does
		// not know in a panel is refused.
		for _, field := range []string{`"description":`, `"fillOpacity":`, `"legendFormat":`} {
			misspelt := bytes.Replace(data, []byte(field), []byte(field[:4]+field[5:]), 1)
			if _, err := decodeStrict(misspelt); err == nil {
				t.Errorf("%s: %s misspelt decoded without an error", name, field)
			}
		}
		checkConventions(t, name, d)
		if d.Uid == nil || uids[*d.Uid] {
			t.Errorf("%s: uid missing or shared", name)
		} else {
			uids[*d.Uid] = true
		}
	}
}

// decodeStrict decodes a dashboard with the SDK's strict decoder and
// validates it.
//
// v0.0.22's strict decoder returns its error list typed even when it is
// empty; PanelOrRowPanel then takes that for an error and leaves every panel
// nil, silently. So the panels are decoded here, each with the strict
// decoder of its kind, and an empty error list is no error.
func decodeStrict(data []byte) (dashboard.Dashboard, error) {
	var d dashboard.Dashboard
	if err := sdkError(d.UnmarshalJSONStrict(data)); err != nil {
		return d, fmt.Errorf("strict decode: %w", err)
	}
	var raw struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return d, err
	}
	d.Panels = d.Panels[:0]
	for i, p := range raw.Panels {
		var kind struct {
			Type    string            `json:"type"`
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(p, &kind); err != nil {
			return d, err
		}
		// The panel's decoder leaves its queries to the data source's
		// plugin, loosely: each is decoded strictly as a Prometheus query.
		for j, target := range kind.Targets {
			var q prometheus.Dataquery
			if err := sdkError(q.UnmarshalJSONStrict(target)); err != nil {
				return d, fmt.Errorf("strict decode of panel %d's query %d: %w", i, j, err)
			}
			if err := sdkError(q.Validate()); err != nil {
				return d, fmt.Errorf("panel %d's query %d: %w", i, j, err)
			}
		}
		var err error
		if kind.Type == "row" {
			row := &dashboard.RowPanel{}
			err = sdkError(row.UnmarshalJSONStrict(p))
			d.Panels = append(d.Panels, dashboard.PanelOrRowPanel{RowPanel: row})
		} else {
			panel := &dashboard.Panel{}
			err = sdkError(panel.UnmarshalJSONStrict(p))
			d.Panels = append(d.Panels, dashboard.PanelOrRowPanel{Panel: panel})
		}
		if err != nil {
			return d, fmt.Errorf("strict decode of panel %d: %w", i, err)
		}
	}
	if err := sdkError(d.Validate()); err != nil {
		return d, fmt.Errorf("validate: %w", err)
	}
	return d, nil
}

func sdkError(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

func checkConventions(t *testing.T, name string, d dashboard.Dashboard) {
	t.Helper()
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if len(vars) == 0 || vars[0] != "datasource" {
		t.Errorf("%s: variables %v, want the Prometheus data source variable first", name, vars)
	}
	ids := map[uint32]bool{}
	panels := 0
	for _, p := range d.Panels {
		if p.RowPanel != nil {
			if ids[p.RowPanel.Id] {
				t.Errorf("%s: panel id %d repeats", name, p.RowPanel.Id)
			}
			ids[p.RowPanel.Id] = true
			continue
		}
		panels++
		panel := p.Panel
		title := ""
		if panel.Title != nil {
			title = *panel.Title
		}
		if panel.Id == nil || ids[*panel.Id] {
			t.Errorf("%s: %q has no id, or one that repeats", name, title)
		} else {
			ids[*panel.Id] = true
		}
		if panel.Description == nil || len(*panel.Description) < 60 {
			t.Errorf("%s: %q needs a description that says what to do", name, title)
		}
		if panel.Datasource == nil || panel.Datasource.Uid == nil || *panel.Datasource.Uid != "${datasource}" {
			t.Errorf("%s: %q does not use the datasource variable", name, title)
		}
		if panel.FieldConfig == nil || panel.FieldConfig.Defaults.Unit == nil || *panel.FieldConfig.Defaults.Unit == "" {
			t.Errorf("%s: %q has no unit", name, title)
		}
		if len(panel.Targets) == 0 {
			t.Errorf("%s: %q has no query", name, title)
		}
	}
	if panels < 8 {
		t.Errorf("%s: %d panels", name, panels)
	}
	// A variable the queries use exists, and one that exists is used.
	text, _ := dashboards.DashboardFile(name)
	for _, v := range vars[1:] {
		if !strings.Contains(string(text), "$"+v) {
			t.Errorf("%s: variable %s is used by no query", name, v)
		}
	}
	if !slices.Contains(vars, "datasource") {
		t.Errorf("%s: no datasource variable", name)
	}
}
