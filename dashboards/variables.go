package dashboards

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// allValue is what a variable set to "All" stands for when the dashboard
// gives no allValue of its own: a regex that matches every value, as the
// dashboards use their variables inside =~"..." matchers.
const allValue = ".*"

// Grafana's variable syntaxes: $name, [[name]] and ${name}, ${name:format},
// ${name.field} (format and field are ignored here).
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::\w+)?\]\]|\$\{(\w+)(?:\.[^:}]+)?(?::[^}]+)?\}`)

// Interval is what Grafana's built-in interval variables are made from: the
// time range shown, the step between points, and the Prometheus scrape
// interval ($__rate_interval's base).
type Interval struct {
	Range, Step, Scrape time.Duration
}

// Variables returns the value of each template variable and each built-in
// interval variable, as Grafana would substitute them for this interval with
// every user variable on "All" unless set names its value.
//
// A variable's value, in order: set[name] (inserted as given, so it may be
// a regex such as "acme|globex"); for a variable with includeAll, its
// allValue or ".*"; its current value from the JSON (several values as
// "(a|b)"); else ".*". Built-ins: $__interval is the step, $__interval_ms the same in
// milliseconds, $__range and $__range_s (_ms) the window, and
// $__rate_interval Grafana's max($__interval + scrape, 4 × scrape).
func Variables(d *Dashboard, set map[string]string, w Interval) map[string]string {
	vals := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue // appears in datasource fields, never in an expression
		}
		switch {
		case v.IncludeAll && v.AllValue != "":
			vals[v.Name] = v.AllValue
		case v.IncludeAll:
			vals[v.Name] = allValue
		default:
			cur, ok := currentValue(v.Current.Value)
			if !ok {
				// Grafana would pick the first value a query returns; every
				// value shows more, with no query to run.
				cur = allValue
			}
			vals[v.Name] = cur
		}
	}
	maps.Copy(vals, set)
	rng := w.Range
	vals["__interval"] = promDuration(w.Step)
	vals["__interval_ms"] = strconv.FormatInt(w.Step.Milliseconds(), 10)
	vals["__rate_interval"] = promDuration(max(w.Step+w.Scrape, 4*w.Scrape))
	vals["__range"] = promDuration(rng)
	vals["__range_s"] = strconv.FormatInt(int64(rng/time.Second), 10)
	vals["__range_ms"] = strconv.FormatInt(rng.Milliseconds(), 10)
	return vals
}

// currentValue reads a variable's current value: a string or a list of
// strings; "$__all" stands for every value.
func currentValue(raw json.RawMessage) (string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "$__all" {
			return allValue, true
		}
		return one, one != ""
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return "", false
	}
	if slices.Contains(many, "$__all") {
		return allValue, true
	}
	if len(many) == 1 {
		return many[0], true
	}
	return "(" + strings.Join(many, "|") + ")", true
}

// Interpolate replaces every known variable in expr by its value; an
// unknown one stays as written, so that Prometheus rejects the query and the
// error names it.
func Interpolate(expr string, vals map[string]string) string {
	return variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3] // exactly one group matched
		if v, ok := vals[name]; ok {
			return v
		}
		return m
	})
}

// promDuration formats d as a PromQL duration: whole seconds, or
// milliseconds when it has a fraction of a second.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
