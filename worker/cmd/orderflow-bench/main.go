// Command orderflow-bench is orderflow's end-to-end benchmark (`make bench`):
// it measures bin/orderflow draining a backlog of synthetic orders on the
// local stack beside two reference pipelines run on the same data (a bare
// kafka-go consumer and bare clickhouse-go inserts), measures its end-to-end
// latency under a steady rate, prints a table and writes the results (a
// markdown file, latest.json and throughput.png) to --out. See package
// worker/bench.
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
	"os"
	"os/signal"
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
consumer and bare clickhouse-go inserts, on fresh topics and databases of its
own (deleted at the end unless --keep). Needs the stack's environment
(set -a; . .stack/env) and a current binary (make build).

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.ConfigPath, "config", "deploy/local/orderflow.yaml", "the worker's configuration file (ORDERFLOW_* variables override it)")
	fs.Int64Var(&cfg.Orders, "orders", bench.DefaultOrders, "messages to prefill and drain")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "the generator's seed")
	fs.StringVar(&cfg.Binary, "binary", "bin/orderflow", "the orderflow binary to measure")
	out := fs.String("out", bench.DefaultOutDir, "results directory")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the run's topics, consumer groups and databases")
	fs.Float64Var(&cfg.LatencyRate, "latency-rate", bench.DefaultLatencyRate, "messages per second in the latency phase")
	fs.DurationVar(&cfg.LatencyDuration, "latency-duration", bench.DefaultLatencyDuration, "how long the latency phase produces")
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
	case cfg.Orders < 1:
		return bad("--orders: %d is not positive", cfg.Orders)
	case cfg.LatencyRate <= 0:
		return bad("--latency-rate: %v is not positive", cfg.LatencyRate)
	case cfg.LatencyDuration < time.Second:
		return bad("--latency-duration: %s is shorter than 1s", cfg.LatencyDuration)
	case *out == "":
		return bad("--out: a directory is required")
	}
	cfg.OutDir = *out
	cfg.Progress = stderr
	return cfg, *out, true
}
