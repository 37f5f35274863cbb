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
	opts, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	if opts.soak != nil {
		return runSoak(ctx, *opts.soak, opts.out, stdout, stderr)
	}
	cfg, out := opts.cfg, opts.out
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

// runSoak runs the soak and writes its folder; it exits 1 when a series was
// not flat, the rate was not held or a message was lost.
func runSoak(ctx context.Context, cfg bench.SoakConfig, out string, stdout, stderr io.Writer) int {
	res, err := bench.RunSoak(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-bench: %v\n", err)
		return 1
	}
	dir, err := res.WriteFiles(out)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-bench: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, res.Markdown())
	fmt.Fprintf(stdout, "\nwrote %s\n", dir)
	if !res.OK() {
		fmt.Fprintln(stderr, "orderflow-bench: the soak failed (see above)")
		return 1
	}
	return 0
}

// options are the command line: the benchmark's configuration, or the soak's
// when --soak, and the results directory.
type options struct {
	cfg  bench.Config
	soak *bench.SoakConfig
	out  string
}

func parseFlags(args []string, stderr io.Writer) (options, bool) {
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

With --soak it instead holds the worker at --rate messages/s for
--duration with its purge every --retention-interval, samples its heap,
goroutines, open files, RSS, consumer lag and the parts per partition every
--sample-interval, judges each series flat or not, and writes
<out>/soak-<UTC start>/ (summary.md, samples.csv, soak.json, soak.png).

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
	soak := fs.Bool("soak", false, "run the soak instead of the benchmark (the flags below)")
	var sc bench.SoakConfig
	fs.Float64Var(&sc.Rate, "rate", bench.DefaultSoakRate, "soak: messages per second to hold")
	fs.DurationVar(&sc.Duration, "duration", bench.DefaultSoakDuration, "soak: how long to produce")
	fs.DurationVar(&sc.Warmup, "warmup", 0, "soak: the start left out of the flatness verdicts (default a tenth of --duration)")
	sampleEvery := fs.Duration("sample-interval", bench.DefaultSoakSampleInterval, "soak: how often to sample")
	fs.DurationVar(&sc.RetentionInterval, "retention-interval", bench.DefaultSoakRetentionInterval, "soak: how often the worker purges (at least 1m)")
	if err := fs.Parse(args); err != nil {
		return options{}, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderflow-bench: unexpected argument %q\n", fs.Arg(0))
		return options{}, false
	}
	bad := func(format string, args ...any) (options, bool) {
		fmt.Fprintf(stderr, "orderflow-bench: "+format+"\n", args...)
		return options{}, false
	}
	if *soak {
		switch {
		case !(sc.Rate > 0) || math.IsInf(sc.Rate, 0):
			return bad("--rate: %v is not a positive rate", sc.Rate)
		case sc.Duration < 30*time.Second:
			return bad("--duration: %s is shorter than 30s", sc.Duration)
		case sc.Warmup < 0 || sc.Warmup > sc.Duration/2:
			return bad("--warmup: %s is not between 0 and half of --duration", sc.Warmup)
		case *sampleEvery < time.Second:
			return bad("--sample-interval: %s is shorter than 1s", *sampleEvery)
		case sc.RetentionInterval < time.Minute:
			return bad("--retention-interval: %s is shorter than the worker's minimum of 1m", sc.RetentionInterval)
		case *out == "":
			return bad("--out: a directory is required")
		}
		cfg.OutDir = *out
		cfg.Progress = stderr
		sc.Config = cfg
		sc.SampleInterval = *sampleEvery
		return options{soak: &sc, out: *out}, true
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
	return options{cfg: cfg, out: *out}, true
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
