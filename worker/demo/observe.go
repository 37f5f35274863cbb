package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orderflow/orderflow/dashboards"
)

// Observed is what Prometheus saw of the run, and what the run's /metrics
// exposed: the dashboards' and alert rules' queries evaluated over the run,
// the alerts at its end, and every metric family with its label values.
type Observed struct {
	// Prometheus is the server's address; empty when the demo had none.
	Prometheus string
	// Scraped says whether Prometheus scraped every step's metrics address
	// (it scrapes only the configured one: metrics.listen).
	Scraped bool
	// Queries are the dashboards' panel queries and the alert rules'
	// expressions, each with the number of series it returned over the run.
	Queries []QueryResult
	// RulesLoaded counts the alerting rules Prometheus has loaded from
	// dashboards/alerts; Firing and Pending name the alerts in those states
	// at the end.
	RulesLoaded     int
	Firing, Pending []string
	// Unanswered is why Prometheus did not say which rules it has or which
	// alerts fire; empty when it did.
	Unanswered string
	// Exposed is every metric family the steps exposed on /metrics, with
	// each label's values: family → label → values.
	Exposed map[string]map[string][]string
}

// QueryResult is one query and how many series it returned.
type QueryResult struct {
	dashboards.Query
	Series int
	Err    string
}

// observer reads each step's /metrics before it stops, and waits until
// Prometheus has scraped the step's final values.
type observer struct {
	prometheus string // base URL; "" means none
	target     string // host:port each step serves its metrics on
	client     *http.Client
	scraped    bool
	exposed    map[string]map[string]map[string]bool
}

func newObserver(prometheus, target string) *observer {
	return &observer{
		prometheus: strings.TrimSuffix(prometheus, "/"), target: target,
		client: &http.Client{Timeout: 10 * time.Second}, scraped: prometheus != "",
		exposed: map[string]map[string]map[string]bool{},
	}
}

// settle is called when a step has done its work and before it stops. It
// reads the step's /metrics, then waits (at most 20 s) for two more scrapes
// by Prometheus, so that every series has two samples after the work: what
// rate() needs, and what the dashboards then show.
func (o *observer) settle(ctx context.Context) error {
	if err := o.readExposition(ctx); err != nil {
		return err
	}
	if o.prometheus == "" {
		return nil
	}
	since := time.Now()
	deadline := since.Add(20 * time.Second)
	for scrapes := 0; scrapes < 2; {
		last, err := o.lastScrape(ctx)
		if err != nil {
			// Prometheus down is the summary's to say, not the demo's end.
			o.scraped = false
			return nil
		}
		if last.After(since) {
			scrapes++
			since = last
			continue
		}
		if time.Now().After(deadline) {
			o.scraped = false // not scraped here (a test's own address): say so, go on
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// readExposition records the families and label values the step exposes.
func (o *observer) readExposition(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.target+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("reading the step's metrics: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return fmt.Errorf("parsing the step's metrics: %w", err)
	}
	for name, f := range families {
		labels := o.exposed[name]
		if labels == nil {
			labels = map[string]map[string]bool{}
			o.exposed[name] = labels
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] == nil {
					labels[l.GetName()] = map[string]bool{}
				}
				labels[l.GetName()][l.GetValue()] = true
			}
		}
	}
	return nil
}

// lastScrape is when Prometheus last scraped the target (up's timestamp).
func (o *observer) lastScrape(ctx context.Context) (time.Time, error) {
	var out []struct {
		Value [2]any `json:"value"`
	}
	// timestamp() of a selector is its sample's time; of an expression
	// (up == 1) it would be the evaluation's, so the filter comes after.
	up := `up{instance="` + o.target + `"}`
	if err := o.api(ctx, "query", url.Values{"query": {"timestamp(" + up + ") and " + up + " == 1"}}, &out); err != nil {
		return time.Time{}, err
	}
	if len(out) == 0 {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseFloat(fmt.Sprint(out[0].Value[1]), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("prometheus: up's timestamp: %w", err)
	}
	return time.UnixMilli(int64(secs * 1000)), nil
}

// api calls Prometheus' HTTP API and decodes its data into out.
func (o *observer) api(ctx context.Context, path string, params url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.prometheus+"/api/v1/"+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("prometheus %s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("prometheus %s: %s", path, body.Error)
	}
	var result struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body.Data, &result); err == nil && result.Result != nil {
		return json.Unmarshal(result.Result, out)
	}
	return json.Unmarshal(body.Data, out)
}

// observe evaluates every dashboard and alert query over [start, end] and
// reads the alerts' state.
func (o *observer) observe(ctx context.Context, start, end time.Time) (Observed, error) {
	obs := Observed{Prometheus: o.prometheus, Scraped: o.scraped, Exposed: map[string]map[string][]string{}}
	for name, labels := range o.exposed {
		obs.Exposed[name] = map[string][]string{}
		for label, values := range labels {
			for v := range values {
				obs.Exposed[name][label] = append(obs.Exposed[name][label], v)
			}
			slices.Sort(obs.Exposed[name][label])
		}
	}
	if o.prometheus == "" {
		return obs, nil
	}
	panels, err := dashboards.PanelQueries("1m")
	if err != nil {
		return obs, err
	}
	rules, err := dashboards.RuleQueries()
	if err != nil {
		return obs, err
	}
	params := url.Values{
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)},
		"step": {"2"},
	}
	for _, q := range append(panels, rules...) {
		params.Set("query", q.Expr)
		var series []json.RawMessage
		r := QueryResult{Query: q}
		if err := o.api(ctx, "query_range", params, &series); err != nil {
			r.Err = err.Error()
		}
		r.Series = len(series)
		obs.Queries = append(obs.Queries, r)
	}

	var groups struct {
		Groups []struct {
			File  string `json:"file"`
			Rules []struct {
				Type string `json:"type"`
			} `json:"rules"`
		} `json:"groups"`
	}
	// Unanswered, the rules count 0 and the summary says why.
	if err := o.api(ctx, "rules", url.Values{"type": {"alert"}}, &groups); err != nil {
		obs.Unanswered = err.Error()
	}
	for _, g := range groups.Groups {
		if strings.HasSuffix(g.File, dashboards.RulesFile) {
			obs.RulesLoaded += len(g.Rules)
		}
	}
	var alerts struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := o.api(ctx, "alerts", nil, &alerts); err != nil {
		obs.Unanswered = err.Error()
	}
	for _, a := range alerts.Alerts {
		name := a.Labels["alertname"]
		if !strings.HasPrefix(name, "Orderflow") {
			continue
		}
		switch a.State {
		case "firing":
			obs.Firing = append(obs.Firing, name)
		case "pending":
			obs.Pending = append(obs.Pending, name)
		}
	}
	slices.Sort(obs.Firing)
	obs.Firing = slices.Compact(obs.Firing)
	slices.Sort(obs.Pending)
	obs.Pending = slices.Compact(obs.Pending)
	return obs, nil
}
