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
	opts, ok := parseFlags(nil, &stderr)
	cfg, out := opts.cfg, opts.out
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
	opts, ok := parseFlags([]string{"--config", "c.yaml", "--orders", "3000", "--seed", "7", "--binary", "/x/orderflow",
		"--out", "/tmp/r", "--keep", "--latency-rates", "500, 1500.5", "--latency-duration", "2s", "--runs", "1"}, &stderr)
	cfg, out := opts.cfg, opts.out
	if !ok {
		t.Fatalf("refused: %s", stderr.String())
	}
	if cfg.ConfigPath != "c.yaml" || cfg.Orders != 3000 || cfg.Seed != 7 || cfg.Binary != "/x/orderflow" || out != "/tmp/r" ||
		cfg.OutDir != "/tmp/r" || !cfg.Keep || !slices.Equal(cfg.LatencyRates, []float64{500, 1500.5}) || cfg.LatencyDuration != 2*time.Second || cfg.Runs != 1 {
		t.Errorf("flags: %+v, out %q", cfg, out)
	}
}

func TestSoakFlags(t *testing.T) {
	var stderr bytes.Buffer
	opts, ok := parseFlags([]string{"--soak", "--config", "c.yaml", "--out", "/tmp/r"}, &stderr)
	if !ok || opts.soak == nil {
		t.Fatalf("--soak refused: %s", stderr.String())
	}
	sc := opts.soak
	if sc.Rate != 5000 || sc.Duration != 20*time.Minute || sc.Warmup != 0 || sc.SampleInterval != 10*time.Second ||
		sc.RetentionInterval != time.Minute || sc.ConfigPath != "c.yaml" || sc.OutDir != "/tmp/r" || opts.out != "/tmp/r" {
		t.Errorf("soak defaults: %+v, out %q", sc, opts.out)
	}
	opts, ok = parseFlags([]string{"--soak", "--rate", "3000", "--duration", "2m", "--warmup", "20s", "--sample-interval", "5s", "--retention-interval", "2m"}, &stderr)
	if !ok {
		t.Fatalf("refused: %s", stderr.String())
	}
	if sc := opts.soak; sc.Rate != 3000 || sc.Duration != 2*time.Minute || sc.Warmup != 20*time.Second || sc.SampleInterval != 5*time.Second || sc.RetentionInterval != 2*time.Minute {
		t.Errorf("soak flags: %+v", sc)
	}
	if opts, _ := parseFlags(nil, &stderr); opts.soak != nil {
		t.Error("a soak without --soak")
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
		{"--soak", "--rate", "0"},
		{"--soak", "--duration", "10s"},
		{"--soak", "--retention-interval", "30s"},
		{"--soak", "--warmup", "15m"},
		{"--soak", "--sample-interval", "100ms"},
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
