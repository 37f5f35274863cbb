// Command orderflow-bench is orderflow's end-to-end benchmark (`make bench`):
// in each of --runs runs (3 by default), it measures bin/orderflow draining
// a backlog of synthetic orders on the local stack beside two reference
// pipelines run on the same data (a bare kafka-go consumer and bare
// clickhouse-go inserts), then its end-to-end latency under a live stream
// at 2,000 and 5,000 orders/s, and the parts its inserts create; it prints
// each run, the medians and the goals, and writes the results (a markdown
// file, latest.json and throughput.png) to --out. See package worker/bench.
//
// It needs the stack's environment (set -a; . .stack/env) and a current
// bin/orderflow (make build). Exit status: 0 when the run completed and its
// checks passed (the goals may still MISS), 1 when it failed or a check did,
// 2 for a bad command line.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orderflow/orderflow/worker/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, out, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-bench: %v\n", err)
		return 1
	}
	if err := res.PrintTable(stdout); err != nil {
		fmt.Fprintf(stderr, "orderflow-bench: %v\n", err)
		return 1
	}
	paths, err := res.WriteFiles(out)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-bench: %v\n", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	if !res.OK() {
		fmt.Fprintln(stderr, "orderflow-bench: a check failed (see above)")
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (bench.Config, string, bool) {
	var cfg bench.Config
	fs := flag.NewFlagSet("orderflow-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: orderflow-bench [flags]

Measures bin/orderflow end to end on the local stack beside a bare kafka-go
consumer and bare clickhouse-go inserts, --runs times, each run on fresh
topics and databases of its own (deleted at its end unless --keep), and
judges the goals on the medians. Needs the stack's environment
(set -a; . .stack/env) and a current binary (make build).

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.ConfigPath, "config", "deploy/local/orderflow.yaml", "the worker's configuration file (ORDERFLOW_* variables override it)")
	fs.IntVar(&cfg.Runs, "runs", bench.DefaultRuns, "independent runs; the goals are judged on their medians")
	fs.Int64Var(&cfg.Orders, "orders", bench.DefaultOrders, "messages each run prefills and drains")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "the generator's seed")
	fs.StringVar(&cfg.Binary, "binary", "bin/orderflow", "the orderflow binary to measure")
	out := fs.String("out", bench.DefaultOutDir, "results directory")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the runs' topics, consumer groups and databases")
	rates := rateList(bench.GoalLatencyRates())
	fs.Var(&rates, "latency-rates", "messages per second of the live phases, comma-separated, one phase each")
	fs.DurationVar(&cfg.LatencyDuration, "latency-duration", bench.DefaultLatencyDuration, "how long each live phase produces")
	if err := fs.Parse(args); err != nil {
		return cfg, "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderflow-bench: unexpected argument %q\n", fs.Arg(0))
		return cfg, "", false
	}
	bad := func(format string, args ...any) (bench.Config, string, bool) {
		fmt.Fprintf(stderr, "orderflow-bench: "+format+"\n", args...)
		return cfg, "", false
	}
	switch {
	case cfg.Runs < 1:
		return bad("--runs: %d is not positive", cfg.Runs)
	case cfg.Orders < 1:
		return bad("--orders: %d is not positive", cfg.Orders)
	case len(rates) == 0:
		return bad("--latency-rates: at least one rate is required")
	case cfg.LatencyDuration < time.Second:
		return bad("--latency-duration: %s is shorter than 1s", cfg.LatencyDuration)
	case *out == "":
		return bad("--out: a directory is required")
	}
	cfg.LatencyRates = rates
	cfg.OutDir = *out
	cfg.Progress = stderr
	return cfg, *out, true
}

// rateList is a flag of positive rates, comma-separated: "2000,5000".
type rateList []float64

func (l *rateList) String() string {
	s := make([]string, len(*l))
	for i, r := range *l {
		s[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *rateList) Set(v string) error {
	var rates rateList
	for f := range strings.SplitSeq(v, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("%q is not a positive rate", f)
		}
		rates = append(rates, r)
	}
	*l = rates
	return nil
}
