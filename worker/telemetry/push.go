package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
)

// PushConfig says where a one-shot command's metrics go: a Prometheus
// Pushgateway, which keeps the last push of each group (job plus grouping
// labels) for Prometheus to scrape after the command has exited.
type PushConfig struct {
	// URL is the Pushgateway's base URL (metrics.pushgateway). Required.
	URL string
	// Job is the group's job label, one per command ("orderflow-purge").
	// Required.
	Job string
	// Grouping are the group's other labels. Pick values that name what the
	// job acts on, never a pod or run: each distinct group lives in the
	// Pushgateway until deleted.
	Grouping map[string]string
	// Timeout bounds one push. Default 10s.
	Timeout time.Duration
}

// Pusher pushes the gauges of a registry to a Pushgateway.
//
// Only gauges go: a command that lives for one run starts its counters and
// histograms at zero every run, so pushed they would restart at every push,
// and Prometheus' rate() and increase() would read each restart as a reset
// and undercount. The commands keep gauges that describe their last run
// (rows, outcome, timestamps) for the push, and their counters for the
// /metrics they serve while they run.
type Pusher struct {
	cfg    PushConfig
	client *http.Client
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// NewPusher checks cfg and returns a Pusher.
func NewPusher(cfg PushConfig) (*Pusher, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("telemetry: pushgateway %q is not an http(s) URL", cfg.URL)
	case cfg.Job == "":
		return nil, errors.New("telemetry: a push needs a job name")
	}
	for name := range cfg.Grouping {
		if !labelName.MatchString(name) || name == "job" {
			return nil, fmt.Errorf("telemetry: %q cannot be a grouping label", name)
		}
	}
	return &Pusher{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Push sends g's gauges whose names keep accepts. With replace it PUTs: the
// group then holds these metrics and nothing else. Without, it POSTs: these
// metric names are replaced, and every other metric pushed to the group
// before stays (a failed run keeps the last success's timestamp).
func (p *Pusher) Push(ctx context.Context, g prometheus.Gatherer, keep func(name string) bool, replace bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	gauges := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families, err := g.Gather()
		var out []*dto.MetricFamily
		for _, f := range families {
			if f.GetType() == dto.MetricType_GAUGE && len(f.GetMetric()) > 0 && keep(f.GetName()) {
				out = append(out, f)
			}
		}
		return out, err
	})
	pusher := push.New(p.cfg.URL, p.cfg.Job).Gatherer(gauges).Client(p.client)
	for name, value := range p.cfg.Grouping {
		pusher = pusher.Grouping(name, value)
	}
	var err error
	if replace {
		err = pusher.PushContext(ctx)
	} else {
		err = pusher.AddContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("telemetry: pushing job %s to the pushgateway: %w", p.cfg.Job, err)
	}
	return nil
}
