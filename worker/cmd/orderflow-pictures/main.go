// Command orderflow-pictures draws each Grafana dashboard in --dashboards
// (*.json) to a PNG named after its uid in --out, from the real Prometheus'
// data over the last --since: its main time series panels, as an SRE would
// see them (see package dashboards/pictures). Template variables are "All"
// unless --var sets them.
//
// Exit status: 0 when every dashboard was drawn (a panel without data is
// drawn "no data" and named on stderr), 1 when one could not be, 2 for a bad
// command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/orderflow/orderflow/dashboards/pictures"
)

// defaultPrometheus is the local stack's Prometheus (deploy/local), when
// ORDERFLOW_PROMETHEUS_URL (.stack/env) is not set.
const defaultPrometheus = "http://127.0.0.1:19090"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	cfg        pictures.Config
	dashboards string
	out        string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	r, err := pictures.New(opts.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-pictures: %v\n", err)
		return 1
	}
	files, err := filepath.Glob(filepath.Join(opts.dashboards, "*.json"))
	if err != nil {
		fmt.Fprintf(stderr, "orderflow-pictures: %v\n", err)
		return 1
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "orderflow-pictures: no dashboard (*.json) in %s\n", opts.dashboards)
		return 1
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		fmt.Fprintf(stderr, "orderflow-pictures: %v\n", err)
		return 1
	}
	code := 0
	for _, f := range files {
		path, empty, err := draw(ctx, r, f, opts.out)
		switch {
		case errors.Is(err, pictures.ErrNoPanels):
			fmt.Fprintf(stderr, "orderflow-pictures: %s: skipped: %v\n", f, err)
		case err != nil:
			fmt.Fprintf(stderr, "orderflow-pictures: %s: %v\n", f, err)
			code = 1
		default:
			fmt.Fprintf(stdout, "wrote %s\n", path)
			if len(empty) > 0 {
				fmt.Fprintf(stderr, "orderflow-pictures: %s: no data in %s\n", path, strings.Join(quote(empty), ", "))
			}
		}
	}
	return code
}

// draw renders one dashboard file to out/<uid>.png.
func draw(ctx context.Context, r *pictures.Renderer, file, out string) (path string, empty []string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", nil, err
	}
	pic, err := r.Render(ctx, data)
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(out, pic.UID+".png")
	if err := os.WriteFile(path, pic.PNG, 0o644); err != nil {
		return "", nil, err
	}
	return path, pic.Empty(), nil
}

func quote(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func parseFlags(args []string, stderr io.Writer) (options, bool) {
	var o options
	fs := flag.NewFlagSet("orderflow-pictures", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: orderflow-pictures [flags]

Draws each Grafana dashboard (*.json) in --dashboards to <uid>.png in --out,
from Prometheus' data over the last --since.

`)
		fs.PrintDefaults()
	}
	prom := defaultPrometheus
	if v := os.Getenv("ORDERFLOW_PROMETHEUS_URL"); v != "" {
		prom = v
	}
	fs.StringVar(&o.cfg.Prometheus, "prometheus", prom, "Prometheus' base URL (default: ORDERFLOW_PROMETHEUS_URL, else the local stack's)")
	fs.StringVar(&o.dashboards, "dashboards", "dashboards", "the directory of the dashboards' JSON")
	fs.StringVar(&o.out, "out", "dashboards/pictures", "the directory the PNGs are written to")
	since := fs.Duration("since", 15*time.Minute, "the window the panels show, ending now")
	fs.DurationVar(&o.cfg.Step, "step", 0, "the queries' resolution and $__interval (default: the window ÷ 240, at least 1s)")
	fs.DurationVar(&o.cfg.ScrapeInterval, "scrape-interval", 5*time.Second, "Prometheus' scrape interval, for $__rate_interval (the local stack's is 5s)")
	o.cfg.Vars = map[string]string{}
	fs.Func("var", "set a template variable, `name=value` (repeatable; the others are All)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q is not name=value", s)
		}
		o.cfg.Vars[name] = value
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderflow-pictures: unexpected argument %q\n", fs.Arg(0))
		return o, false
	}
	if *since <= 0 {
		fmt.Fprintf(stderr, "orderflow-pictures: --since: %s is not positive\n", *since)
		return o, false
	}
	o.cfg.End = time.Now()
	o.cfg.Start = o.cfg.End.Add(-*since)
	return o, true
}
