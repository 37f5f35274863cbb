// Package dashboards holds orderflow's Grafana dashboards (*.json, written by
// ./generate) and Prometheus alert rules (alerts/*.yaml), and reads the
// PromQL in them: for the tests that run every expression against the real
// Prometheus, and for the demo, which says which alerts fire.
package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed *.json alerts/orderflow.yaml
var files embed.FS

// RulesFile is the alert rules' path in the repository, for Prometheus'
// rule_files.
const RulesFile = "dashboards/alerts/orderflow.yaml"

// Query is one PromQL expression of a dashboard's panel or of an alert rule.
type Query struct {
	// Source names where it is: "pipeline.json: Consumer lag, by group
	// and topic (A)" or "alert OrderflowWorkerDown".
	Source string
	Expr   string
}

// DashboardFiles lists the dashboards' file names.
func DashboardFiles() ([]string, error) {
	return fs.Glob(files, "*.json")
}

// DashboardFile returns one dashboard file's bytes.
func DashboardFile(name string) ([]byte, error) {
	return files.ReadFile(name)
}

// PanelQueries returns every target expression of every dashboard panel, as
// Grafana would send it with every variable at "All" and rateInterval for
// each built-in interval variable.
func PanelQueries(rateInterval string) ([]Query, error) {
	names, err := DashboardFiles()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		d, err := ParseDashboard(data)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		vals := Variables(d, nil, Interval{})
		for _, v := range []string{"__rate_interval", "__interval", "__range"} {
			vals[v] = rateInterval
		}
		for _, p := range d.Panels {
			for _, t := range p.Targets {
				out = append(out, Query{Source: fmt.Sprintf("%s: %s (%s)", name, p.Title, t.RefID), Expr: Interpolate(t.Expr, vals)})
			}
		}
	}
	return out, nil
}

// Rule is one alert rule as the rules file has it.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns every alert rule, in file order.
func Rules() ([]Rule, error) {
	data, err := files.ReadFile("alerts/orderflow.yaml")
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []struct {
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	var out []Rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// RuleQueries returns every alert rule's expression with its comparisons
// made to return 0 or 1 (see WithBool): a healthy system makes an alert's
// expression empty, and the question asked of it here is whether its
// metrics and joins match real series at all.
func RuleQueries() ([]Query, error) {
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	out := make([]Query, 0, len(rules))
	for _, r := range rules {
		out = append(out, Query{Source: "alert " + r.Alert, Expr: WithBool(r.Expr)})
	}
	return out, nil
}

// WithBool adds PromQL's bool modifier to every comparison outside label
// matchers and strings, so that `a > b` returns 0 or 1 for every pair of
// series that match instead of only those that compare true.
func WithBool(expr string) string {
	var b strings.Builder
	depth, quote := 0, rune(0)
	rs := []rune(expr)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == '\\' && i+1 < len(rs) {
				b.WriteRune(r)
				i++
				r = rs[i]
			} else if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '{':
			depth++
		case r == '}':
			depth--
		case depth == 0 && strings.ContainsRune("<>=!", r):
			op := string(r)
			if i+1 < len(rs) && rs[i+1] == '=' {
				op += "="
			}
			if op == "=" || op == "!" { // not a comparison
				break
			}
			b.WriteString(op)
			i += len(op) - 1
			if rest := strings.TrimLeft(string(rs[i+1:]), " \t\n"); !strings.HasPrefix(rest, "bool") {
				b.WriteString(" bool")
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// metricName is an orderflow metric, Go's and the process's, and up.
var metricName = regexp.MustCompile(`\b(?:orderflow_\w+|go_\w+|process_\w+|up)\b`)

// notMetrics are the parts of an expression that hold label names and values:
// matchers and grouping clauses.
var notMetrics = regexp.MustCompile(`\{[^}]*\}|\b(?:by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)`)

// MetricNames returns the metric families an expression reads, histogram
// series (_bucket, _sum, _count) under their family's name. Label names,
// which share the pattern only by accident, are not metric names: the
// expression's label matchers and by/on clauses are skipped.
func MetricNames(expr string) []string {
	clean := notMetrics.ReplaceAllString(expr, " ")
	var names []string
	for _, n := range metricName.FindAllString(clean, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && strings.HasPrefix(n, "orderflow_") {
				n = base
				break
			}
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
