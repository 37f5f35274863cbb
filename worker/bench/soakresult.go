package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SoakResult is one soak: its samples, its figures and its verdicts.
type SoakResult struct {
	Started time.Time `json:"started"`
	ID      string    `json:"id"` // the run's topics and databases: bench_...
	Source
	Machine Machine    `json:"machine"`
	Params  SoakParams `json:"parameters"`
	// ProduceEnd is when the producer finished, seconds since it started;
	// the verdicts judge the samples from Params.Warmup to ProduceEnd.
	ProduceEnd float64       `json:"produce_end_seconds"`
	Produced   ProducedTally `json:"produced"`
	Worker     SoakWorker    `json:"worker"`
	Samples    []SoakSample  `json:"samples"`
	// Missed counts the samples lost because the worker's /metrics did not
	// answer, PartsMissed those without parts because ClickHouse did not.
	Missed      int            `json:"missed_samples"`
	PartsMissed int            `json:"parts_missed_samples"`
	Series      []SeriesFigure `json:"series"`
	// Flat are the flatness verdicts (SoakRules), Checks the rate held,
	// nothing lost, the purge run and the clean stop.
	Flat   []Verdict `json:"flat"`
	Checks []Verdict `json:"checks"`
	// HeapProfiles are the worker's heap profiles, files beside the results.
	HeapProfiles []HeapProfile `json:"heap_profiles,omitempty"`
}

// HeapProfile is one heap profile the soak took: At seconds since production
// started, written to File in the results folder.
type HeapProfile struct {
	At   float64 `json:"t"`
	File string  `json:"file"`
	data []byte
}

// SoakParams are the soak's parameters.
type SoakParams struct {
	Rate              float64   `json:"rate_per_s"`
	Duration          string    `json:"duration"`
	Warmup            string    `json:"warmup"`
	SampleInterval    string    `json:"sample_interval"`
	RetentionInterval string    `json:"retention_interval"`
	Seed              uint64    `json:"seed"`
	Now               time.Time `json:"generated_as_of"`
	Config            string    `json:"config"`
	Binary            string    `json:"binary"`
	BatchMaxMessages  int       `json:"batch_max_messages"`
	BatchMaxWait      string    `json:"batch_max_wait"`
	Partitions        int       `json:"partitions_per_topic"`
}

// ProducedTally is what the brokers acknowledged, from the generator's tally.
type ProducedTally struct {
	Messages  int64 `json:"messages"`
	Snapshots int64 `json:"snapshots"`
	Malformed int64 `json:"malformed"`
	// Unacknowledged are messages handed to a producer that failed (a broker
	// restarted under it), whose fate is unknown: they may be in the topics.
	Unacknowledged int64 `json:"unacknowledged"`
	// Failures are the producer's failures, when and why.
	Failures []string `json:"failures,omitempty"`
	Seconds  float64  `json:"seconds"` // the producer's start to its last flush
	// BenchCPUSeconds is the CPU the bench process (the generator and the
	// producer, the sampling) had used by the producer's end.
	BenchCPUSeconds float64 `json:"bench_cpu_seconds"`
}

// Rate is the achieved produce rate, messages per second.
func (p ProducedTally) Rate() float64 {
	if p.Seconds <= 0 {
		return 0
	}
	return float64(p.Messages) / p.Seconds
}

// SoakWorker is the worker's tally at the end, from its /metrics.
type SoakWorker struct {
	Committed       int64              `json:"committed"`
	Orders          int64              `json:"orders"`
	DeadLetters     int64              `json:"dead_letters"`
	Refused         int64              `json:"refused"`
	Batches         int64              `json:"batches"`
	BatchedMessages int64              `json:"batched_messages"`
	PurgeRuns       map[string]float64 `json:"purge_runs"` // by outcome
	PurgeRows       float64            `json:"purge_rows"`
	CPUSeconds      float64            `json:"cpu_seconds"`
	ExitCode        int                `json:"exit_code"`
}

// SoakRule says when one series is flat. The judged window (the warm-up to
// the producer's end) is cut in fifths; the series is flat when the median of
// its last fifth is at most the median of its first fifth × (1 + Ratio) +
// Plus, and, when Below is set, every judged sample is below it.
type SoakRule struct {
	Name  string
	Unit  string  // after Scale: "MiB", "" for a count
	Scale float64 // the raw value is divided by it for display
	Value func(SoakSample) float64
	Ratio float64
	Plus  float64
	Below float64
	// Judged is false for a series that is shown but not judged.
	Judged bool
}

// SoakRules are the soak's series and their flatness thresholds at a rate:
//
//   - live heap (what the last garbage collection found reachable): the
//     last fifth's median at most 20% above the first's; a leak is what
//     stays reachable. Heap in use is shown, not judged: it adds the garbage
//     not yet collected, up to GOGC% of the live heap, so it swings with when
//     the collector last ran;
//   - goroutines and open files: at most 10 more;
//   - active parts in the fullest partition: below 300 throughout (ClickHouse
//     18.16 delays inserts at 150 and refuses them at 300, parts_to_delay_insert
//     and parts_to_throw_insert) and at most 20 more in the last fifth, so
//     merges keep up;
//   - the backlog, messages acknowledged by the brokers but not yet committed
//     by the worker (exact at the sample, unlike the worker's lag gauge,
//     which it measures every 15s and which the samples keep): at most 10
//     seconds of input more, so the worker keeps up;
//   - RSS is shown, not judged: the Go runtime returns freed memory to the
//     system lazily, so RSS lags the heap and says less about a leak.
func SoakRules(rate float64) []SoakRule {
	return []SoakRule{
		{Name: "live heap", Unit: "MiB", Scale: mib, Value: func(s SoakSample) float64 { return s.HeapLive }, Ratio: 0.20, Judged: true},
		{Name: "heap in use", Unit: "MiB", Scale: mib, Value: func(s SoakSample) float64 { return s.HeapInuse }},
		{Name: "goroutines", Scale: 1, Value: func(s SoakSample) float64 { return s.Goroutines }, Plus: 10, Judged: true},
		{Name: "open files", Scale: 1, Value: func(s SoakSample) float64 { return s.OpenFDs }, Plus: 10, Judged: true},
		{Name: "active parts, fullest partition", Scale: 1, Value: partsValue, Plus: 20, Below: 300, Judged: true},
		{Name: "backlog (produced − committed)", Unit: "messages", Scale: 1, Value: func(s SoakSample) float64 { return s.Produced - s.Committed }, Plus: 10 * rate, Judged: true},
		{Name: "RSS", Unit: "MiB", Scale: mib, Value: func(s SoakSample) float64 { return s.RSS }},
	}
}

// partsValue is a sample's parts, NaN when unknown: left out of the figures.
func partsValue(s SoakSample) float64 {
	if s.Parts < 0 {
		return math.NaN()
	}
	return s.Parts
}

// rateHeld is the share of the target rate the producer must achieve.
const rateHeld = 0.95

// SeriesFigure is one series over the judged window, in its rule's unit.
type SeriesFigure struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit,omitempty"`
	First float64 `json:"first_fifth_median"`
	Last  float64 `json:"last_fifth_median"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	// SlopePerMinute is the least-squares slope over the judged window.
	SlopePerMinute float64 `json:"slope_per_minute"`
	Limit          float64 `json:"last_fifth_limit"`
	Samples        int     `json:"samples"` // in the judged window
	FirstSamples   int     `json:"first_fifth_samples"`
	LastSamples    int     `json:"last_fifth_samples"`
	Judged         bool    `json:"judged"`
	Flat           bool    `json:"flat"`
}

// judge computes a rule's figure from the samples in [from, to] (seconds).
func judge(rule SoakRule, samples []SoakSample, from, to float64) SeriesFigure {
	f := SeriesFigure{Name: rule.Name, Unit: rule.Unit, Judged: rule.Judged}
	fifth := (to - from) / 5
	var xs, ys, first, last []float64
	for _, s := range samples {
		if s.At < from || s.At > to {
			continue
		}
		v := rule.Value(s) / rule.Scale
		if math.IsNaN(v) {
			continue
		}
		xs, ys = append(xs, s.At), append(ys, v)
		if s.At <= from+fifth {
			first = append(first, v)
		}
		if s.At >= to-fifth {
			last = append(last, v)
		}
	}
	f.Samples = len(ys)
	if len(ys) == 0 {
		return f
	}
	all := newSpread(ys)
	f.Min, f.Max = all.Min, all.Max
	f.SlopePerMinute = slopePerMinute(xs, ys)
	f.First, f.Last = newSpread(first).Median, newSpread(last).Median
	f.Limit = f.First*(1+rule.Ratio) + rule.Plus/rule.Scale
	// A fifth without samples cannot show the series flat.
	f.Flat = len(first) > 0 && len(last) > 0 && f.Last <= f.Limit && (rule.Below == 0 || f.Max < rule.Below/rule.Scale)
	f.FirstSamples, f.LastSamples = len(first), len(last)
	return f
}

// ruleText states a rule's threshold.
func ruleText(rule SoakRule) string {
	var parts []string
	switch {
	case rule.Ratio > 0 && rule.Plus > 0:
		parts = append(parts, fmt.Sprintf("last fifth ≤ first fifth × %.2f + %g", 1+rule.Ratio, rule.Plus/rule.Scale))
	case rule.Ratio > 0:
		parts = append(parts, fmt.Sprintf("last fifth ≤ first fifth + %.0f%%", rule.Ratio*100))
	case rule.Plus > 0:
		parts = append(parts, fmt.Sprintf("last fifth ≤ first fifth + %g", rule.Plus/rule.Scale))
	}
	if rule.Below > 0 {
		parts = append(parts, fmt.Sprintf("every sample < %g", rule.Below/rule.Scale))
	}
	if !rule.Judged {
		return "shown, not judged"
	}
	return strings.Join(parts, ", ")
}

// evaluate computes the series' figures and the verdicts.
func (r *SoakResult) evaluate(cfg SoakConfig) {
	r.Series, r.Flat, r.Checks = nil, nil, nil
	from, to := cfg.Warmup.Seconds(), r.ProduceEnd
	for _, rule := range SoakRules(cfg.Rate) {
		f := judge(rule, r.Samples, from, to)
		r.Series = append(r.Series, f)
		if !rule.Judged {
			continue
		}
		r.Flat = append(r.Flat, Verdict{
			Name: rule.Name + " flat: " + ruleText(rule), Op: "≤", Want: f.Limit, Got: f.Last, Unit: rule.Unit,
			Runs: []float64{f.Last}, Pass: f.Flat,
			Note: fmt.Sprintf("first fifth %s, max %s, slope %s/min; %d samples, %d in the first fifth, %d in the last",
				trimFloat(f.First), trimFloat(f.Max), trimFloat(f.SlopePerMinute), f.Samples, f.FirstSamples, f.LastSamples),
		})
	}
	// Exact when every message was acknowledged; when a producer failed, its
	// unacknowledged messages may or may not be in the topics: the count
	// must fall between.
	unknown := r.Produced.Unacknowledged
	between := func(name string, got, want int64) Verdict {
		v := Verdict{Name: name, Op: "=", Want: float64(want), Got: float64(got), Runs: []float64{float64(got)}, Pass: got >= want && got <= want+unknown}
		if unknown > 0 {
			v.Op = "≥"
			v.Note = fmt.Sprintf("and ≤ %d: %d messages were not acknowledged and may be in the topics", want+unknown, unknown)
		}
		return v
	}
	equal := func(name string, got, want int64) Verdict {
		return Verdict{Name: name, Op: "=", Want: float64(want), Got: float64(got), Runs: []float64{float64(got)}, Pass: got == want}
	}
	achieved := r.Produced.Rate()
	ok := r.Worker.PurgeRuns["ok"]
	wantPurges := max(1, float64(int(cfg.Duration/cfg.RetentionInterval))/2)
	r.Checks = []Verdict{
		{Name: "rate held: messages acknowledged ÷ the producer's time", Op: "≥", Want: rateHeld * cfg.Rate, Got: achieved, Unit: "/s",
			Runs: []float64{achieved}, Pass: achieved >= rateHeld*cfg.Rate,
			Note: fmt.Sprintf("%d messages in %.1fs; target %.0f/s, %.0f%% of it required", r.Produced.Messages, r.Produced.Seconds, cfg.Rate, rateHeld*100)},
		between("nothing lost: the worker committed every acknowledged message", r.Worker.Committed, r.Produced.Messages),
		equal("nothing counted twice: committed = messages in committed batches", r.Worker.Committed, r.Worker.BatchedMessages),
		between("dead letters = malformed messages generated", r.Worker.DeadLetters, r.Produced.Malformed),
		{Name: "the purge ran: passes with outcome ok", Op: "≥", Want: wantPurges, Got: ok, Runs: []float64{ok}, Pass: ok >= wantPurges,
			Note: fmt.Sprintf("every %s; %s rows purged; all passes: %s", cfg.RetentionInterval, trimFloat(r.Worker.PurgeRows), outcomes(r.Worker.PurgeRuns))},
		equal("worker exit code after SIGTERM", int64(r.Worker.ExitCode), 0),
	}
}

// OK reports whether every series was flat and every check passed.
func (r *SoakResult) OK() bool {
	for _, v := range append(append([]Verdict(nil), r.Flat...), r.Checks...) {
		if !v.Pass {
			return false
		}
	}
	return len(r.Flat) > 0 && len(r.Checks) > 0
}

// verdictLine is the verdicts on one line.
func (r *SoakResult) verdictLine() string {
	var failed []string
	for _, v := range append(append([]Verdict(nil), r.Flat...), r.Checks...) {
		if !v.Pass {
			failed = append(failed, v.Name)
		}
	}
	if len(failed) == 0 {
		return "every series flat, every check passed"
	}
	return "FAILED: " + strings.Join(failed, "; ")
}

// outcomes is "ok 19, failed 1", or "none".
func outcomes(by map[string]float64) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, fmt.Sprintf("%s %.0f", k, by[k]))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func trimFloat(v float64) string {
	if v == float64(int64(v)) || v >= 100 || v <= -100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Markdown renders the summary.
func (r *SoakResult) Markdown() string {
	var b strings.Builder
	p := r.Params
	fmt.Fprintf(&b, "# orderflow soak %s, commit %s%s\n\n", r.Started.Format("2006-01-02 15:04 UTC"), r.Commit, dirtyMark(r.Dirty))
	fmt.Fprintf(&b, "**%s**\n\n", r.verdictLine())
	fmt.Fprintf(&b, "- binary: `%s` (`%s`)\n", p.Binary, r.Machine.WorkerBuild)
	m := r.Machine
	fmt.Fprintf(&b, "- machine: %d cores (%s), %.1f GiB, %s; load average before %s, after %s (shared: the stack and other work run on the same cores)\n",
		m.Cores, m.CPU, m.MemoryGiB, m.OS, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(&b, "- parameters: %.0f messages/s for %s (seed %d, %d partitions a topic), purge every %s, a sample every %s, warm-up %s left out of the verdicts; worker batches of up to %d messages or %s; run `%s`\n",
		p.Rate, p.Duration, p.Seed, p.Partitions, p.RetentionInterval, p.SampleInterval, p.Warmup, p.BatchMaxMessages, p.BatchMaxWait, r.ID)
	fmt.Fprintf(&b, "- achieved: %d messages acknowledged in %.1fs = %.0f/s (%d snapshots, %d malformed, by the generator's tally; paced with bursts of up to %s to catch up after a stall; the generator and producer used %.0f CPU-seconds)\n",
		r.Produced.Messages, r.Produced.Seconds, r.Produced.Rate(), r.Produced.Snapshots, r.Produced.Malformed, soakBurst, r.Produced.BenchCPUSeconds)
	if len(r.Produced.Failures) > 0 {
		fmt.Fprintf(&b, "- the producer failed %d times (a broker restarted under it), %d messages unacknowledged: %s\n",
			len(r.Produced.Failures), r.Produced.Unacknowledged, strings.Join(r.Produced.Failures, "; "))
	}
	w := r.Worker
	fmt.Fprintf(&b, "- worker: committed %d (%d orders written, %d dead letters, %d refused) in %d batches; %.0f CPU-seconds; purge passes %s, %s rows purged; exit code %d\n",
		w.Committed, w.Orders, w.DeadLetters, w.Refused, w.Batches, w.CPUSeconds, outcomes(w.PurgeRuns), trimFloat(w.PurgeRows), w.ExitCode)
	fmt.Fprintf(&b, "- samples: %d, every %s (%d missed: the worker's /metrics did not answer; %d without parts: ClickHouse did not answer)\n\n",
		len(r.Samples), p.SampleInterval, r.Missed, r.PartsMissed)

	b.WriteString("![soak](soak.png)\n\n## Series\n\n")
	fmt.Fprintf(&b, "Judged from the end of the warm-up (%s) to the producer's end (%.0fs), cut in fifths; slope by least squares over that window.\n\n", p.Warmup, r.ProduceEnd)
	rows := [][]string{{"series", "first fifth (median)", "last fifth (median)", "min", "max", "slope per minute", "threshold", "limit", "verdict"}}
	rules := SoakRules(p.Rate)
	for i, f := range r.Series {
		unit := ""
		if f.Unit != "" {
			unit = " " + f.Unit
		}
		verdict := "shown"
		if f.Judged {
			verdict = passMiss(f.Flat, "**NOT FLAT**")
			if f.Flat {
				verdict = "flat"
			}
		}
		limit := "–"
		if f.Judged {
			limit = trimFloat(f.Limit)
		}
		rows = append(rows, []string{f.Name + unit, trimFloat(f.First), trimFloat(f.Last), trimFloat(f.Min), trimFloat(f.Max),
			trimFloat(f.SlopePerMinute), ruleText(rules[i]), limit, verdict})
	}
	markdownTable(&b, rows)
	b.WriteString("\n## Checks\n\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "- %s %s: %s\n", passMiss(c.Pass, "**FAIL**"), c.Name, verdictValue(c))
	}
	b.WriteString("\nFiles: `soak.png` (one panel a series), `samples.csv` (every sample), `soak.json` (everything here)")
	if len(r.HeapProfiles) > 0 {
		b.WriteString("; the worker's heap profiles (`go tool pprof -base <earlier> <later>` shows what grew):")
		for _, p := range r.HeapProfiles {
			fmt.Fprintf(&b, " `%s`", p.File)
		}
	}
	b.WriteString(".\n")
	return b.String()
}

// writeCSV writes the samples, one row each, raw units.
func (r *SoakResult) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"t_seconds", "heap_live_bytes", "heap_inuse_bytes", "rss_bytes", "goroutines", "open_fds", "consumer_lag_messages",
		"produced", "committed", "max_parts_per_partition", "max_parts_table", "purge_runs"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, s := range r.Samples {
		_ = cw.Write([]string{strconv.FormatFloat(s.At, 'f', 1, 64), g(s.HeapLive), g(s.HeapInuse), g(s.RSS), g(s.Goroutines), g(s.OpenFDs), g(s.Lag),
			g(s.Produced), g(s.Committed), g(s.Parts), s.PartsTable, g(s.PurgeRuns)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// WriteFiles writes the soak's folder, soak-<UTC start> under dir: the
// summary, the samples, the JSON and the chart. It returns the folder.
func (r *SoakResult) WriteFiles(dir string) (string, error) {
	out := soakDir(dir, r.Started)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("soak results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "summary.md"), []byte(r.Markdown()), 0o644); err != nil {
		return "", fmt.Errorf("soak results: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("soak results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "soak.json"), append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("soak results: %w", err)
	}
	if err := r.writeCSV(filepath.Join(out, "samples.csv")); err != nil {
		return "", fmt.Errorf("soak results: %w", err)
	}
	if err := r.WriteChart(filepath.Join(out, "soak.png")); err != nil {
		return "", err
	}
	for _, p := range r.HeapProfiles {
		if len(p.data) == 0 {
			continue // read back from soak.json: the file is there already
		}
		if err := os.WriteFile(filepath.Join(out, p.File), p.data, 0o644); err != nil {
			return "", fmt.Errorf("soak results: %w", err)
		}
	}
	return out, nil
}
