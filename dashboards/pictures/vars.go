package pictures

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Grafana's legend templates: {{label}}, spaces allowed inside the braces.
var legendRE = regexp.MustCompile(`\{\{\s*(.+?)\s*\}\}`)

// window is the time range a picture shows and its resolution.
type window struct {
	start, end time.Time
	step       time.Duration
	// scrape is the Prometheus scrape interval that Grafana's
	// $__rate_interval is built from.
	scrape time.Duration
}

// legend is a series' name in the panel's legend: legendFormat with each
// {{label}} replaced by the series' value of it (empty when it has none), or,
// when the format is empty or "__auto", the series as Prometheus prints it:
// metric{label="value", ...}, or the expression when it has no labels at all.
func legend(format string, labels map[string]string, expr string) string {
	if format != "" && format != "__auto" {
		return legendRE.ReplaceAllStringFunc(format, func(m string) string {
			return labels[legendRE.FindStringSubmatch(m)[1]]
		})
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k != "__name__" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
		}
	}
	name := labels["__name__"]
	switch {
	case len(parts) > 0:
		return name + "{" + strings.Join(parts, ", ") + "}"
	case name != "":
		return name
	}
	return expr
}
