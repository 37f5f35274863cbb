// Command generate writes orderflow's Grafana dashboards (dashboards/*.json)
// from the builders of Grafana's foundation SDK: `make dashboards`. The JSON
// is committed, for Grafana's file provisioning to read as it is; a test
// fails when it differs from what the builders make.
//
// Builders rather than hand-written JSON: the SDK's types carry Grafana's
// schema (units, thresholds, legend and reduce options, variables), so a
// misspelt option does not compile, and every panel shares one set of
// conventions (data source variable, legend table, dashed thresholds) from
// panels.go instead of copies of it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "dashboards", "where to write the dashboards")
	flag.Parse()
	files, err := render()
	if err != nil {
		fmt.Fprintf(os.Stderr, "generate: %v\n", err)
		os.Exit(1)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "generate: %v\n", err)
			os.Exit(1)
		}
	}
}

// render builds every dashboard and returns each file's bytes, by name.
func render() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, b := range boards() {
		d, err := b.builder.Build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.file, err)
		}
		// Grafana needs each panel's id unique within its dashboard: in
		// layout order, so that a panel added later does not renumber
		// the rest's links more than it must.
		for i, p := range d.Panels {
			id := uint32(i + 1)
			switch {
			case p.Panel != nil:
				p.Panel.Id = &id
			case p.RowPanel != nil:
				p.RowPanel.Id = id
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("%s: %w", b.file, err)
		}
		files[b.file] = buf.Bytes()
	}
	return files, nil
}
