package pictures

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// series is one result series of a range query.
type series struct {
	labels map[string]string
	points []point
}

type point struct {
	t time.Time
	v float64
}

// queryRange runs expr through Prometheus' /api/v1/query_range over w.
func queryRange(ctx context.Context, client *http.Client, base, expr string, w window) ([]series, error) {
	form := url.Values{
		"query": {expr},
		"start": {formatTime(w.start)},
		"end":   {formatTime(w.end)},
		"step":  {strconv.FormatFloat(w.step.Seconds(), 'f', -1, 64)},
	}
	// POST, as Grafana does, so that long expressions fit.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/api/v1/query_range", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("query_range request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query_range: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("query_range: reading the response: %w", err)
	}
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string    `json:"metric"`
				Values [][2]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query_range: %s: decoding the response: %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query_range: %s: %s: %s", resp.Status, r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("query_range: result type %q, want matrix", r.Data.ResultType)
	}
	out := make([]series, 0, len(r.Data.Result))
	for _, res := range r.Data.Result {
		s := series{labels: res.Metric}
		for _, pair := range res.Values {
			p, err := parsePoint(pair)
			if err != nil {
				return nil, fmt.Errorf("query_range: %w", err)
			}
			s.points = append(s.points, p)
		}
		out = append(out, s)
	}
	return out, nil
}

// parsePoint decodes [unix seconds, "value"]; NaN and ±Inf are kept (the
// picture leaves a gap there, as Grafana does).
func parsePoint(pair [2]json.RawMessage) (point, error) {
	var ts float64
	if err := json.Unmarshal(pair[0], &ts); err != nil {
		return point{}, fmt.Errorf("sample timestamp: %w", err)
	}
	var raw string
	if err := json.Unmarshal(pair[1], &raw); err != nil {
		return point{}, fmt.Errorf("sample value: %w", err)
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return point{}, fmt.Errorf("sample value: %w", err)
	}
	sec, frac := math.Modf(ts)
	return point{t: time.Unix(int64(sec), int64(frac*1e9)).UTC(), v: v}, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}
