package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// figure is one row of the runs table: a value a run, shown with format.
type figure struct {
	label  string
	format string
	values []float64
}

// figures are the runs table's rows: what the goals judge and what explains
// it, each run's value beside the median and the range.
func (r *Result) figures() []figure {
	each := func(label, format string, f func(RunResult) float64) figure {
		v := make([]float64, len(r.Runs))
		for i, x := range r.Runs {
			v[i] = f(x)
		}
		return figure{label: label, format: format, values: v}
	}
	out := []figure{
		each("(a) kafka-go consume + commit, steady msgs/s", "%.0f", func(x RunResult) float64 { return x.KafkaRef.Steady }),
		each("worker (orderflow run), steady orders/s", "%.0f", func(x RunResult) float64 { return x.Worker.Steady }),
		each("(b) clickhouse-go insert, steady orders/s equivalent", "%.0f", func(x RunResult) float64 { return x.InsertRef.OrdersSteady }),
		each("worker ÷ (a)", "%.2f", func(x RunResult) float64 { return x.Ratios.VsKafka }),
		each("worker ÷ (b)", "%.2f", func(x RunResult) float64 { return x.Ratios.VsInsert }),
		each("worker ÷ slower reference", "%.2f", func(x RunResult) float64 { return x.Ratios.Share }),
		each("worker first commit after start (s)", "%.2f", func(x RunResult) float64 { return x.Worker.First }),
		each("worker CPU-s per 100k orders (start to drained)", "%.2f", func(x RunResult) float64 { return x.Worker.CPUSecondsPer100k }),
		each("worker batches in the drain", "%.0f", func(x RunResult) float64 { return float64(x.Worker.Batches) }),
	}
	for i, rate := range r.Params.LatencyRates {
		prefix := fmt.Sprintf("live %.0f/s: ", rate)
		out = append(out,
			each(prefix+"p50 (s)", "%.3f", func(x RunResult) float64 { return x.latency(i).P50 }),
			each(prefix+"p99 (s)", "%.3f", func(x RunResult) float64 { return x.latency(i).P99 }),
			each(prefix+"mean (s)", "%.3f", func(x RunResult) float64 { return x.latency(i).Mean }),
			each(prefix+"messages per batch", "%.0f", func(x RunResult) float64 { return x.latency(i).MessagesPerBatch }),
			each(prefix+"worker CPU-s per 100k messages", "%.2f", func(x RunResult) float64 { return x.latency(i).CPUSecondsPer100k }),
		)
	}
	if len(r.Runs) > 0 {
		for i, p := range r.Runs[0].Parts {
			out = append(out, each(p.Phase+": parts per batch, all tables", "%.1f", func(x RunResult) float64 { return x.parts(i).PerBatch }))
			for _, table := range slices.Sorted(maps.Keys(p.Tables)) {
				out = append(out, each(fmt.Sprintf("%s: parts per batch, %s", p.Phase, table), "%.1f", func(x RunResult) float64 {
					return x.parts(i).tablePerBatch(table)
				}))
			}
		}
	}
	return out
}

// figureRows is the runs table as strings, header first.
func (r *Result) figureRows() [][]string {
	header := []string{"figure"}
	for _, x := range r.Runs {
		header = append(header, fmt.Sprintf("run %d", x.Run))
	}
	header = append(header, "median", "spread (min–max)")
	rows := [][]string{header}
	for _, f := range r.figures() {
		row := []string{f.label}
		for _, v := range f.values {
			row = append(row, fmtValue(f.format, v))
		}
		s := newSpread(f.values)
		row = append(row, fmtValue(f.format, s.Median), spreadRange(s, f.format))
		rows = append(rows, row)
	}
	return rows
}

func fmtValue(format string, v float64) string {
	if math.IsNaN(v) { // the run has no such figure
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func spreadRange(s Spread, format string) string {
	return fmt.Sprintf(format+"–"+format, s.Min, s.Max)
}

// spreadText is a spread on one line: the median and the range.
func spreadText(s Spread, format string) string {
	return fmt.Sprintf(format+" (runs "+format+"–"+format+")", s.Median, s.Min, s.Max)
}

// phaseRows is one run's table of the three pipelines, header first.
func (x RunResult) phaseRows() [][]string {
	window := func(t Throughput) string {
		w := fmt.Sprintf("%.1f–%.1f", t.SteadyFrom, t.Seconds)
		if t.SteadyShort {
			w += " (short)"
		}
		return w
	}
	w, a, b := x.Worker, x.KafkaRef, x.InsertRef
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
	return fmt.Sprintf("%d runs of %d orders each (seed %d, %d tenants, as of %s), %d partitions a topic; worker batches of up to %d messages or %s; live phases at %s for %s each",
		p.Runs, p.Orders, p.Seed, p.Tenants, p.Now.Format("2006-01-02T15:04:05Z"), p.Partitions, p.BatchMaxMessages, p.BatchMaxWait, rateList(p.LatencyRates), p.LatencyDuration)
}

// rateList is "2000/s and 5000/s".
func rateList(rates []float64) string {
	s := make([]string, len(rates))
	for i, r := range rates {
		s[i] = strconv.FormatFloat(r, 'f', -1, 64) + "/s"
	}
	switch len(s) {
	case 0:
		return "none"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// workerLines are a run's other figures of the worker as label, value.
func (x RunResult) workerLines() [][2]string {
	w := x.Worker
	var vault []string
	for _, op := range slices.Sorted(maps.Keys(w.Vault)) {
		vault = append(vault, fmt.Sprintf("%s %.0f", op, w.Vault[op]))
	}
	var rows []string
	for _, t := range slices.Sorted(maps.Keys(w.Rows)) {
		rows = append(rows, fmt.Sprintf("%s %d", t, w.Rows[t]))
	}
	lines := [][2]string{
		{"CPU", fmt.Sprintf("%.2f s user+system from start to drained = %.2f CPU-s per 100k orders", w.CPUSeconds, w.CPUSecondsPer100k)},
		{"Vault", fmt.Sprintf("%.0f requests = %.4f per order (%s); %.1f items a request", w.VaultRequests, w.VaultRequestsPerOrder, strings.Join(vault, ", "), w.VaultItemsPerRequest)},
		{"token cache", fmt.Sprintf("%.1f%% hits (%.0f hits, %.0f misses)", 100*w.TokenCacheHitRate, w.TokenCacheHits, w.TokenCacheMisses)},
		{"ClickHouse rows", fmt.Sprintf("%s = %d, %.2f per order", strings.Join(rows, ", "), w.RowsTotal, w.RowsPerOrder)},
		{"committed", fmt.Sprintf("%d orders + %d dead letters in %d batches (generated: %d malformed)", w.Orders, w.DeadLetters, w.Batches, x.Generated.Malformed)},
	}
	for _, l := range x.Latency {
		var stages []string
		for _, st := range slices.Sorted(maps.Keys(l.StageSeconds)) {
			stages = append(stages, fmt.Sprintf("%s %.0f ms", st, 1000*l.StageSeconds[st]))
		}
		lines = append(lines, [2]string{fmt.Sprintf("live %.0f/s", l.Rate), fmt.Sprintf(
			"%.0fs, %d messages in %d batches (%.0f a batch): p50 %.3f s, p99 %.3f s, mean %.3f s (produce to commit); %.2f CPU-s per 100k messages; a batch's mean time by stage: %s",
			l.Seconds, l.Messages, l.Batches, l.MessagesPerBatch, l.P50, l.P99, l.Mean, l.CPUSecondsPer100k, strings.Join(stages, ", "))})
	}
	for _, p := range x.Parts {
		var tables []string
		for _, t := range slices.Sorted(maps.Keys(p.Tables)) {
			tp := p.Tables[t]
			tables = append(tables, fmt.Sprintf("%s %d (%.1f a batch, %.1f an insert)", t, tp.Parts, tp.PerBatch, tp.PerInsert))
		}
		other := ""
		if len(p.Other) > 0 {
			var o []string
			for _, t := range slices.Sorted(maps.Keys(p.Other)) {
				o = append(o, fmt.Sprintf("%s %d", t, p.Other[t]))
			}
			other = "; not batch inserts: " + strings.Join(o, ", ")
		}
		lines = append(lines, [2]string{"parts, " + p.Phase, fmt.Sprintf("%d in %d batches = %.1f a batch: %s%s", p.Total, p.Batches, p.PerBatch, strings.Join(tables, ", "), other)})
	}
	return lines
}

func (x RunResult) ratioLine() string {
	return fmt.Sprintf("worker ÷ (a) = %.2f, worker ÷ (b) = %.2f (steady rates; the slower reference is %s at %.0f orders/s)",
		x.Ratios.VsKafka, x.Ratios.VsInsert, refName(x.Ratios.Slower), x.Ratios.SlowerRate)
}

func refName(s string) string {
	if s == "insert" {
		return "(b) clickhouse-go insert"
	}
	return "(a) kafka-go consume"
}

// verdictValue is "0.62 (want ≥ 0.60; runs 0.55, 0.62, 0.64; note)".
func verdictValue(v Verdict) string {
	format := valueFormat(v)
	unit := ""
	if v.Unit != "" {
		unit = " " + v.Unit
	}
	want := fmt.Sprintf("want %s %s%s", v.Op, fmtValue(format, v.Want), unit)
	if len(v.Runs) == 0 {
		// Not measured: there is no value to show.
		return fmt.Sprintf("– (%s; %s)", want, v.Note)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s (%s", fmtValue(format, v.Got), unit, want)
	if len(v.Runs) > 1 {
		runs := make([]string, len(v.Runs))
		for i, x := range v.Runs {
			runs[i] = fmtValue(format, x)
		}
		fmt.Fprintf(&b, "; runs %s", strings.Join(runs, ", "))
	}
	if v.Note != "" {
		fmt.Fprintf(&b, "; %s", v.Note)
	}
	b.WriteString(")")
	return b.String()
}

// valueFormat shows a verdict's values as its target is stated: counts
// whole, seconds to the millisecond, whole-number limits (parts) to tenths,
// ratios and CPU-seconds to hundredths.
func valueFormat(v Verdict) string {
	switch {
	case v.Op == "=":
		return "%.0f"
	case v.Unit == "s" && v.Want < 1:
		return "%.3f"
	case v.Unit == "" && v.Want == float64(int64(v.Want)):
		return "%.1f"
	}
	return "%.2f"
}

func passMiss(pass bool, miss string) string {
	if pass {
		return "PASS"
	}
	return miss
}

// PrintTable writes the results as text: the runs table, the median run's
// worker, the goals and the checks.
func (r *Result) PrintTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "orderflow-bench %s\n", r.heading())
	fmt.Fprintf(&b, "  binary:     %s\n", r.Machine.WorkerBuild)
	fmt.Fprintf(&b, "  machine:    %s\n", r.machineLine())
	fmt.Fprintf(&b, "  parameters: %s\n\n", r.paramsLine())
	// Numbers right-aligned, labels left: the labels padded to one width.
	rows := r.figureRows()
	width := 0
	for _, row := range rows {
		width = max(width, utf8.RuneCountInString(row[0]))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		row[0] += strings.Repeat(" ", width-utf8.RuneCountInString(row[0]))
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	if m := r.Summary.MedianRun; m >= 1 && m <= len(r.Runs) {
		fmt.Fprintf(&b, "\nthe median run (%d of %d, by worker ÷ slower reference):\n", m, len(r.Runs))
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, l := range r.Runs[m-1].workerLines() {
			fmt.Fprintf(tw, "  worker %s\t%s\n", l[0], l[1])
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(&b)
	for _, g := range r.Goals {
		fmt.Fprintf(&b, "goal  %-4s  %s: %s\n", passMiss(g.Pass, "MISS"), g.Name, verdictValue(g))
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "check %-4s  %s: %s\n", passMiss(c.Pass, "FAIL"), c.Name, verdictValue(c))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func markdownTable(b *strings.Builder, rows [][]string) {
	for i, row := range rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
		if i == 0 {
			fmt.Fprintf(b, "|%s\n", strings.Repeat("---|", len(row)))
		}
	}
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
	var ids []string
	for _, x := range r.Runs {
		ids = append(ids, "`"+x.ID+"`")
	}
	fmt.Fprintf(&b, "\n- parameters: %s; config `%s`; runs %s\n\n", r.paramsLine(), r.Params.Config, strings.Join(ids, ", "))
	fmt.Fprintln(&b, "Measured on a shared machine: the stack's servers, the worker and the bench share its cores, so the bench makes several runs, each on topics and databases of its own, and judges the goals on their medians; the spread says how far to trust them.")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "## Goals (issue 16), on the medians of %d runs\n\n", len(r.Runs))
	for _, g := range r.Goals {
		fmt.Fprintf(&b, "- **%s** %s: %s\n", passMiss(g.Pass, "MISS"), g.Name, verdictValue(g))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Checks, in every run:")
	fmt.Fprintln(&b)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "- %s %s: %s\n", passMiss(c.Pass, "FAIL"), c.Name, verdictValue(c))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## The runs")
	fmt.Fprintln(&b)
	markdownTable(&b, r.figureRows())
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "*steady*: a drain's rate from the first measurement at least 1 s after its first item done to its end (start-up excluded). "+
		"*worker ÷ slower reference*: the worker's steady rate ÷ the slower of (a) and (b) in the same run. "+
		"*first commit*: from the worker's process start (the consumer group's join included). "+
		"*live*: a caught-up worker given a steady stream at the rate; latency from each message's produce time to its batch's commit, every message observed. "+
		"*parts per batch*: parts the worker's inserts created (system.part_log, NEW_PART) in the phase ÷ the batches it committed in the phase; a mean, since 18.16's part_log cannot tell one batch's parts from the next's. "+
		"An order is one input message committed (snapshot or dead letter).")
	for _, x := range r.Runs {
		fmt.Fprintf(&b, "\n## Run %d (`%s`)\n\n", x.Run, x.ID)
		fmt.Fprintf(&b, "Load average before %s, after %s. Ratios: %s.\n\n", x.LoadBefore, x.LoadAfter, x.ratioLine())
		markdownTable(&b, x.phaseRows())
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "| worker | |")
		fmt.Fprintln(&b, "|---|---|")
		for _, l := range x.workerLines() {
			fmt.Fprintf(&b, "| %s | %s |\n", l[0], l[1])
		}
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "*first at*: when the first message was read (a), the first batch committed (worker) or the first block inserted (b), from the phase's start (the worker's: its process start). "+
		"*overall*: count ÷ seconds from the phase's start to the last one done, start-up included. "+
		"*steady*: from the first measurement at least 1 s after *first at* to the end (*short*: the phase ended before that, so from the first measurement with work done).")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "![throughput of run %d, the median](throughput.png)\n", r.Summary.MedianRun)
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
