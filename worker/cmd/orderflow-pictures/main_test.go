package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// One PNG per dashboard, named after its uid, from the real Prometheus; the
// panels without data are named on stderr and do not fail the run.
func TestRunWritesOnePicturePerDashboard(t *testing.T) {
	promURL := stacktest.PrometheusURL(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"--prometheus", promURL, "--dashboards", "../../../dashboards/pictures/testdata", "--out", out, "--since", "2m",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	for _, uid := range []string{"orderflow-pipeline-example", "pictures-test"} {
		path := filepath.Join(out, uid+".png")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("no picture for dashboard %s: %v", uid, err)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("%s is not a PNG: %v", path, err)
		}
		if !strings.Contains(stdout.String(), "wrote "+path) {
			t.Errorf("stdout does not name %s:\n%s", path, stdout.String())
		}
	}
	// (Whether the other panels have data depends on what ran lately.)
	if !strings.Contains(stderr.String(), `pictures-test.png: no data in `) || !strings.Contains(stderr.String(), `"A metric nobody exports"`) {
		t.Errorf("stderr does not name the panels without data:\n%s", stderr.String())
	}
}

// Prometheus' address comes from ORDERFLOW_PROMETHEUS_URL (.stack/env), else
// the local stack's default; a bad command line exits 2.
func TestFlags(t *testing.T) {
	t.Setenv("ORDERFLOW_PROMETHEUS_URL", "http://prometheus.example:9090")
	var stderr bytes.Buffer
	o, ok := parseFlags(nil, &stderr)
	if !ok || o.cfg.Prometheus != "http://prometheus.example:9090" {
		t.Errorf("--prometheus defaults to %q (ok %v), want the environment's", o.cfg.Prometheus, ok)
	}
	t.Setenv("ORDERFLOW_PROMETHEUS_URL", "")
	if o, _ := parseFlags(nil, &stderr); o.cfg.Prometheus != defaultPrometheus {
		t.Errorf("--prometheus defaults to %q without the environment, want %q", o.cfg.Prometheus, defaultPrometheus)
	}
	for _, args := range [][]string{{"--since", "0s"}, {"--var", "tenant"}, {"extra"}} {
		if code := run(context.Background(), args, &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("run %q exited %d, want 2", args, code)
		}
	}
}
