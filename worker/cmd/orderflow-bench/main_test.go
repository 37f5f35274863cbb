package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/bench"
)

func TestFlagsDefaults(t *testing.T) {
	var stderr bytes.Buffer
	cfg, out, ok := parseFlags(nil, &stderr)
	if !ok {
		t.Fatalf("defaults refused: %s", stderr.String())
	}
	if cfg.ConfigPath != "deploy/local/orderflow.yaml" || cfg.Binary != "bin/orderflow" || cfg.Orders != bench.DefaultOrders || cfg.Runs != 3 ||
		cfg.Seed != 1 || !slices.Equal(cfg.LatencyRates, []float64{2000, 5000}) || cfg.LatencyDuration != bench.DefaultLatencyDuration ||
		cfg.Keep || out != "worker/bench/results" {
		t.Errorf("defaults: %+v, out %q", cfg, out)
	}
}

func TestFlagsSet(t *testing.T) {
	var stderr bytes.Buffer
	cfg, out, ok := parseFlags([]string{"--config", "c.yaml", "--orders", "3000", "--seed", "7", "--binary", "/x/orderflow",
		"--out", "/tmp/r", "--keep", "--latency-rates", "500, 1500.5", "--latency-duration", "2s", "--runs", "1"}, &stderr)
	if !ok {
		t.Fatalf("refused: %s", stderr.String())
	}
	if cfg.ConfigPath != "c.yaml" || cfg.Orders != 3000 || cfg.Seed != 7 || cfg.Binary != "/x/orderflow" || out != "/tmp/r" ||
		cfg.OutDir != "/tmp/r" || !cfg.Keep || !slices.Equal(cfg.LatencyRates, []float64{500, 1500.5}) || cfg.LatencyDuration != 2*time.Second || cfg.Runs != 1 {
		t.Errorf("flags: %+v, out %q", cfg, out)
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--orders", "0"},
		{"--latency-rates", "-1"},
		{"--latency-rates", "2000,"},
		{"--latency-rates", "2000,x"},
		{"--latency-rates", "+Inf"},
		{"--runs", "0"},
		{"--latency-duration", "10ms"},
		{"--out", ""},
		{"--nope"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
		if stdout.Len() > 0 || !strings.Contains(stderr.String(), "-") {
			t.Errorf("%v: stdout %q, stderr %q", args, stdout.String(), stderr.String())
		}
	}
}
