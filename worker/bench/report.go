package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// phaseRows is the table of the three pipelines, header first.
func (r *Result) phaseRows() [][]string {
	window := func(t Throughput) string {
		w := fmt.Sprintf("%.1f–%.1f", t.SteadyFrom, t.Seconds)
		if t.SteadyShort {
			w += " (short)"
		}
		return w
	}
	w, a, b := r.Worker, r.KafkaRef, r.InsertRef
	return [][]string{
		{"pipeline", "count", "seconds", "first at (s)", "overall /s", "steady /s", "steady window (s)"},
		{"(a) kafka-go consume + commit", fmt.Sprintf("%d msgs", a.Count), f1(a.Seconds), f1(a.First), f0(a.Overall), f0(a.Steady), window(a)},
		{"worker (orderflow run)", fmt.Sprintf("%d orders", w.Count), f1(w.Seconds), f1(w.First), f0(w.Overall), f0(w.Steady), window(w.Throughput)},
		{"(b) clickhouse-go insert", fmt.Sprintf("%d rows", b.Count), f1(b.Seconds), f1(b.First), f0(b.Overall), f0(b.Steady), window(b.Throughput)},
		{fmt.Sprintf("(b) as orders (÷ %.2f rows/order)", b.RowsPerOrder), "", "", "", f0(b.OrdersOverall), f0(b.OrdersSteady), ""},
	}
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func (r *Result) heading() string {
	return fmt.Sprintf("%s, commit %s%s", r.Started.Format("2006-01-02 15:04 UTC"), r.Commit, dirtyMark(r.Dirty))
}

func (r *Result) machineLine() string {
	m := r.Machine
	cpu := ""
	if m.CPU != "" {
		cpu = " (" + m.CPU + ")"
	}
	return fmt.Sprintf("%d cores%s, %.1f GiB, %s; load average before %s, after %s", m.Cores, cpu, m.MemoryGiB, m.OS, m.LoadBefore, m.LoadAfter)
}

func (r *Result) paramsLine() string {
	p := r.Params
	return fmt.Sprintf("%d orders (seed %d, %d tenants, as of %s), %d partitions a topic; worker batches of up to %d messages or %s; latency phase %.0f/s for %s",
		p.Orders, p.Seed, p.Tenants, p.Now.Format("2006-01-02T15:04:05Z"), p.Partitions, p.BatchMaxMessages, p.BatchMaxWait, p.LatencyRate, p.LatencyDuration)
}

// workerLines are the worker's other figures as label, value.
func (r *Result) workerLines() [][2]string {
	w := r.Worker
	ops := slices.Sorted(maps.Keys(w.Vault))
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %.0f", op, w.Vault[op]))
	}
	tables := slices.Sorted(maps.Keys(w.Rows))
	var rows []string
	for _, t := range tables {
		rows = append(rows, fmt.Sprintf("%s %d", t, w.Rows[t]))
	}
	l := r.Latency
	return [][2]string{
		{"CPU", fmt.Sprintf("%.2f s user+system from start to drained = %.2f CPU-s per 100k orders", w.CPUSeconds, w.CPUSecondsPer100k)},
		{"Vault", fmt.Sprintf("%.0f requests = %.4f per order (%s); %.1f items a request", w.VaultRequests, w.VaultRequestsPerOrder, strings.Join(parts, ", "), w.VaultItemsPerRequest)},
		{"token cache", fmt.Sprintf("%.1f%% hits (%.0f hits, %.0f misses)", 100*w.TokenCacheHitRate, w.TokenCacheHits, w.TokenCacheMisses)},
		{"ClickHouse rows", fmt.Sprintf("%s = %d, %.2f per order", strings.Join(rows, ", "), w.RowsTotal, w.RowsPerOrder)},
		{"committed", fmt.Sprintf("%d orders + %d dead letters in %d batches (generated: %d malformed)", w.Orders, w.DeadLetters, w.Batches, r.Generated.Malformed)},
		{"latency", fmt.Sprintf("at %.0f/s for %.0fs (%d messages): p50 %.3f s, p99 %.3f s, mean %.3f s (produce to commit)", l.Rate, l.Seconds, l.Messages, l.P50, l.P99, l.Mean)},
	}
}

func (r *Result) ratioLine() string {
	return fmt.Sprintf("worker ÷ (a) = %.2f, worker ÷ (b) = %.2f (steady rates; the slower reference is %s at %.0f orders/s)",
		r.Ratios.VsKafka, r.Ratios.VsInsert, refName(r.Ratios.Slower), r.Ratios.SlowerRate)
}

func refName(s string) string {
	if s == "insert" {
		return "(b) clickhouse-go insert"
	}
	return "(a) kafka-go consume"
}

func verdictValue(v Verdict) string {
	if v.Want > 0 && v.Want < 1 {
		return fmt.Sprintf("%.2f (want ≥ %.2f)", v.Got, v.Want)
	}
	return fmt.Sprintf("%.0f (want %.0f)", v.Got, v.Want)
}

func passMiss(pass bool, miss string) string {
	if pass {
		return "PASS"
	}
	return miss
}

// PrintTable writes the results as text.
func (r *Result) PrintTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "orderflow-bench %s\n", r.heading())
	fmt.Fprintf(&b, "  binary:     %s\n", r.Machine.WorkerBuild)
	fmt.Fprintf(&b, "  machine:    %s\n", r.machineLine())
	fmt.Fprintf(&b, "  parameters: %s\n\n", r.paramsLine())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for i, row := range r.phaseRows() {
		if i == 0 {
			fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
			continue
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, l := range r.workerLines() {
		fmt.Fprintf(tw, "worker %s\t%s\n", l[0], l[1])
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "\nratios: %s\n", r.ratioLine())
	for _, g := range r.Goals {
		fmt.Fprintf(&b, "goal  %-4s  %s: %s\n", passMiss(g.Pass, "MISS"), g.Name, verdictValue(g))
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "check %-4s  %s: %s\n", passMiss(c.Pass, "FAIL"), c.Name, verdictValue(c))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown renders the results file.
func (r *Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# orderflow-bench %s\n\n", r.heading())
	fmt.Fprintf(&b, "- date: %s\n", r.Started.Format("2006-01-02 15:04:05 UTC"))
	dirty := "clean"
	if r.Dirty {
		dirty = "dirty (uncommitted changes: the binary may not be this commit)"
	}
	fmt.Fprintf(&b, "- commit: `%s`, tree %s\n", r.Commit, dirty)
	fmt.Fprintf(&b, "- binary: `%s` (`%s`)\n", r.Params.Binary, r.Machine.WorkerBuild)
	fmt.Fprintf(&b, "- machine: %s; Go %s", r.machineLine(), r.Machine.GoVersion)
	if r.Machine.Kernel != "" {
		fmt.Fprintf(&b, ", Linux %s", r.Machine.Kernel)
	}
	fmt.Fprintf(&b, "\n- parameters: %s; config `%s`; run `%s`\n\n", r.paramsLine(), r.Params.Config, r.Params.RunID)
	fmt.Fprintln(&b, "Measured on a shared machine: the stack's servers, the worker and the bench share its cores, so compare runs by their ratios and note the load averages.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## Throughput")
	fmt.Fprintln(&b)
	for i, row := range r.phaseRows() {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		if i == 0 {
			fmt.Fprintf(&b, "|%s\n", strings.Repeat("---|", len(row)))
		}
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "*first at*: when the first message was read (a), the first batch committed (worker) or the first block inserted (b), from the phase's start (the worker's: its process start). "+
		"*overall*: count ÷ seconds from the phase's start to the last one done, start-up included. "+
		"*steady*: from the first measurement at least 1 s after *first at* to the end (*short*: the phase ended before that, so from the first measurement with work done). "+
		"An order is one input message committed (snapshot or dead letter).")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## The worker")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| | |")
	fmt.Fprintln(&b, "|---|---|")
	for _, l := range r.workerLines() {
		fmt.Fprintf(&b, "| %s | %s |\n", l[0], l[1])
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## Goals")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "Ratios: %s.\n\n", r.ratioLine())
	for _, g := range r.Goals {
		fmt.Fprintf(&b, "- **%s** %s: %s\n", passMiss(g.Pass, "MISS"), g.Name, verdictValue(g))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Checks:")
	fmt.Fprintln(&b)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "- %s %s: %s\n", passMiss(c.Pass, "FAIL"), c.Name, verdictValue(c))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "![throughput](throughput.png)")
	return b.String()
}

// ResultsFile is the name of the run's markdown file in the results directory.
func (r *Result) ResultsFile() string {
	return fmt.Sprintf("%s-%s.md", r.Started.Format("2006-01-02"), r.Commit)
}

// WriteFiles writes the markdown file, latest.json and throughput.png to dir
// and returns their paths.
func (r *Result) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	md := filepath.Join(dir, r.ResultsFile())
	if err := os.WriteFile(md, []byte(r.Markdown()), 0o644); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	js := filepath.Join(dir, "latest.json")
	if err := os.WriteFile(js, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	png := filepath.Join(dir, "throughput.png")
	if err := r.WriteChart(png); err != nil {
		return nil, err
	}
	return []string{md, js, png}, nil
}
