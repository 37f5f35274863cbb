package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// steadySamples are a soak of n samples every 10s at rate/s where every
// series holds still, with a little ripple, and the worker keeps up.
func steadySamples(n int, rate float64) []SoakSample {
	out := make([]SoakSample, n)
	for i := range out {
		t := float64(i * 10)
		ripple := float64(i%3) - 1 // -1, 0, 1
		out[i] = SoakSample{
			At: t, HeapLive: (40 + ripple) * mib, HeapInuse: (70 + 10*ripple) * mib, RSS: 80 * mib, Goroutines: 60 + ripple, OpenFDs: 30,
			Lag: 2000 + 500*ripple, Produced: rate * t, Committed: rate*t - 2000, Parts: 12 + 3*ripple, PartsTable: "db.order_facts", PurgeRuns: t / 60,
		}
	}
	return out
}

func ruleNamed(t *testing.T, name string) SoakRule {
	t.Helper()
	for _, r := range SoakRules(5000) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return SoakRule{}
}

func TestJudgeSteadySeriesFlat(t *testing.T) {
	samples := steadySamples(121, 5000) // 0 to 1200s
	for _, rule := range SoakRules(5000) {
		f := judge(rule, samples, 120, 1200)
		if rule.Judged && !f.Flat {
			t.Errorf("%s: not flat on a steady series: %+v", rule.Name, f)
		}
		// 120s to 1200s at every 10s.
		if f.Samples != 109 {
			t.Errorf("%s: %d samples judged, want 109", rule.Name, f.Samples)
		}
		if math.Abs(f.SlopePerMinute) > 0.05*math.Max(1, f.First) {
			t.Errorf("%s: slope %v a minute on a steady series", rule.Name, f.SlopePerMinute)
		}
	}
}

func TestJudgeHeapGrowth(t *testing.T) {
	heap := ruleNamed(t, "live heap")
	for _, c := range []struct {
		growth float64 // the last fifth's heap over the first's
		flat   bool
	}{{1.0, true}, {1.19, true}, {1.21, false}, {2, false}, {0.5, true}} {
		samples := steadySamples(121, 5000)
		for i := range samples {
			if samples[i].At >= 1200-216 { // the last fifth of 120..1200
				samples[i].HeapLive = 40 * mib * c.growth
			} else {
				samples[i].HeapLive = 40 * mib
			}
		}
		f := judge(heap, samples, 120, 1200)
		if f.Flat != c.flat {
			t.Errorf("heap ×%.2f in the last fifth: flat %v, want %v (%+v)", c.growth, f.Flat, c.flat, f)
		}
		if f.First != 40 || f.Limit != 48 || f.Unit != "MiB" {
			t.Errorf("heap ×%.2f: first %v MiB, limit %v MiB, want 40 and 48", c.growth, f.First, f.Limit)
		}
	}
}

func TestJudgeSteadyLeakNotFlat(t *testing.T) {
	// A goroutine leaked every 30s: 36 more over the judged window.
	samples := steadySamples(121, 5000)
	for i := range samples {
		samples[i].Goroutines = 60 + math.Floor(samples[i].At/30)
	}
	f := judge(ruleNamed(t, "goroutines"), samples, 120, 1200)
	if f.Flat {
		t.Errorf("a goroutine every 30s judged flat: %+v", f)
	}
	if math.Abs(f.SlopePerMinute-2) > 0.1 {
		t.Errorf("slope %v a minute, want 2", f.SlopePerMinute)
	}
}

func TestJudgeFilesAndGoroutinesAbsolute(t *testing.T) {
	for _, name := range []string{"goroutines", "open files"} {
		rule := ruleNamed(t, name)
		for _, c := range []struct {
			more float64
			flat bool
		}{{10, true}, {11, false}} {
			samples := steadySamples(121, 5000)
			for i := range samples {
				v := 30.0
				if samples[i].At >= 1200-216 {
					v += c.more
				}
				samples[i].Goroutines, samples[i].OpenFDs = v, v
			}
			if f := judge(rule, samples, 120, 1200); f.Flat != c.flat {
				t.Errorf("%s %v more in the last fifth: flat %v, want %v", name, c.more, f.Flat, c.flat)
			}
		}
	}
}

func TestJudgePartsCeiling(t *testing.T) {
	parts := ruleNamed(t, "active parts, fullest partition")
	// One sample at 300 mid-run fails it though the fifths are alike.
	samples := steadySamples(121, 5000)
	samples[60].Parts = 300
	if f := judge(parts, samples, 120, 1200); f.Flat || f.Max != 300 {
		t.Errorf("300 parts once: flat %v, max %v", f.Flat, f.Max)
	}
	samples[60].Parts = 299
	if f := judge(parts, samples, 120, 1200); !f.Flat {
		t.Errorf("299 parts once, fifths alike: not flat %+v", f)
	}
	// Climbing from 12 to 60: merges fall behind.
	for i := range samples {
		samples[i].Parts = 12 + samples[i].At/25
	}
	if f := judge(parts, samples, 120, 1200); f.Flat {
		t.Errorf("parts climbing 12 to 60: flat %+v", f)
	}
}

func TestJudgeWindow(t *testing.T) {
	heap := ruleNamed(t, "live heap")
	samples := steadySamples(131, 5000) // to 1300s
	// The warm-up's growth and the drain after the producer's end are not judged.
	for i := range samples {
		if samples[i].At < 120 {
			samples[i].HeapLive = 5 * mib
		}
		if samples[i].At > 1200 {
			samples[i].HeapLive = 400 * mib
		}
	}
	if f := judge(heap, samples, 120, 1200); !f.Flat || f.Max > 41 || f.Min < 39 {
		t.Errorf("samples outside the window judged: %+v", f)
	}
	// Too few samples in a fifth: not flat, never a pass by default.
	if f := judge(heap, samples[:1], 120, 1200); f.Flat {
		t.Errorf("no samples judged flat: %+v", f)
	}
}

func TestJudgeUnknownParts(t *testing.T) {
	parts := ruleNamed(t, "active parts, fullest partition")
	samples := steadySamples(121, 5000)
	// ClickHouse down for a minute mid-run: those samples have no parts.
	for i := 50; i < 56; i++ {
		samples[i].Parts = partsUnknown
	}
	f := judge(parts, samples, 120, 1200)
	if !f.Flat || f.Samples != 103 || f.Min != 9 {
		t.Errorf("unknown parts judged: %+v", f)
	}
	// Down through the whole last fifth: nothing shows the end flat.
	for i := range samples {
		if samples[i].At >= 1200-216 {
			samples[i].Parts = partsUnknown
		}
	}
	if f := judge(parts, samples, 120, 1200); f.Flat || f.LastSamples != 0 || f.FirstSamples != 22 {
		t.Errorf("no parts in the last fifth judged flat: %+v", f)
	}
	// The worker's series keep those samples.
	if f := judge(ruleNamed(t, "heap in use"), samples, 120, 1200); !f.Flat || f.LastSamples != 22 {
		t.Errorf("heap lost the samples without parts: %+v", f)
	}
}

func TestSlopePerMinute(t *testing.T) {
	x := []float64{0, 10, 20, 30}
	y := []float64{5, 25, 45, 65} // 2 a second
	if got := slopePerMinute(x, y); math.Abs(got-120) > 1e-9 {
		t.Errorf("slope %v, want 120 a minute", got)
	}
	if got := slopePerMinute([]float64{1}, []float64{1}); got != 0 {
		t.Errorf("one point: slope %v", got)
	}
	if got := slopePerMinute([]float64{5, 5}, []float64{1, 2}); got != 0 {
		t.Errorf("one time: slope %v", got)
	}
}

// soakResult is a whole sound 20-minute soak at 5000/s.
func soakResult() (*SoakResult, SoakConfig) {
	cfg := SoakConfig{Rate: 5000, Duration: 20 * time.Minute, Warmup: 2 * time.Minute, RetentionInterval: time.Minute}
	r := &SoakResult{
		Started: time.Date(2026, 12, 4, 10, 40, 0, 0, time.UTC), ID: "bench_0123456789ab",
		Params:     SoakParams{Rate: 5000, Duration: "20m0s", Warmup: "2m0s", SampleInterval: "10s", RetentionInterval: "1m0s"},
		ProduceEnd: 1200, Samples: steadySamples(122, 5000),
		Produced: ProducedTally{Messages: 6_000_000, Snapshots: 5_979_000, Malformed: 21_000, Seconds: 1200.5},
		Worker: SoakWorker{Committed: 6_000_000, Orders: 5_979_000, DeadLetters: 21_000, Batches: 2400, BatchedMessages: 6_000_000,
			PurgeRuns: map[string]float64{"ok": 20}, PurgeRows: 1234, ExitCode: 0},
	}
	r.evaluate(cfg)
	return r, cfg
}

func TestEvaluateSoundSoak(t *testing.T) {
	r, _ := soakResult()
	if !r.OK() {
		t.Fatalf("a sound soak failed: %s\n%+v\n%+v", r.verdictLine(), r.Flat, r.Checks)
	}
	if len(r.Flat) != 5 || len(r.Series) != 7 || len(r.Checks) != 6 {
		t.Errorf("%d flat verdicts, %d series, %d checks; want 5, 7, 6", len(r.Flat), len(r.Series), len(r.Checks))
	}
}

func TestEvaluateFailures(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(*SoakResult)
		check string // the verdict that must fail, alone
	}{
		{"a message lost", func(r *SoakResult) { r.Worker.Committed--; r.Worker.BatchedMessages-- }, "nothing lost"},
		{"a message counted twice", func(r *SoakResult) { r.Worker.BatchedMessages++ }, "nothing counted twice"},
		{"the rate not held", func(r *SoakResult) { r.Produced.Seconds = 6_000_000 / 4700.0 }, "rate held"},
		{"the purge never ran", func(r *SoakResult) { r.Worker.PurgeRuns = map[string]float64{"failed": 20} }, "the purge ran"},
		{"a dirty stop", func(r *SoakResult) { r.Worker.ExitCode = 1 }, "exit code"},
		{"the live heap grew", func(r *SoakResult) {
			for i := range r.Samples {
				r.Samples[i].HeapLive = (40 + r.Samples[i].At/30) * mib
			}
		}, "live heap flat"},
		{"the backlog grew past 10s of input", func(r *SoakResult) {
			for i := range r.Samples {
				r.Samples[i].Committed = r.Samples[i].Produced - 2000 - 60*r.Samples[i].At
			}
		}, "backlog (produced − committed) flat"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, cfg := soakResult()
			c.spoil(r)
			r.evaluate(cfg)
			if r.OK() {
				t.Fatal("passed")
			}
			var failed []string
			for _, v := range append(append([]Verdict(nil), r.Flat...), r.Checks...) {
				if !v.Pass {
					failed = append(failed, v.Name)
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], c.check) {
				t.Errorf("failed %q, want only %q", failed, c.check)
			}
			if !strings.Contains(r.verdictLine(), c.check) {
				t.Errorf("verdict line %q names not %q", r.verdictLine(), c.check)
			}
		})
	}
}

// TestEvaluateUnacknowledged: when a broker restart failed a producer, its
// unacknowledged messages may be in the topics, so the worker's count must
// fall between the acknowledged and those plus the unacknowledged.
func TestEvaluateUnacknowledged(t *testing.T) {
	for _, c := range []struct {
		committed, deadLetters int64
		ok                     bool
	}{
		{6_000_000, 21_000, true},
		{6_000_300, 21_002, true},
		{6_000_500, 21_000, true},
		{6_000_501, 21_000, false},
		{5_999_999, 21_000, false},
		{6_000_000, 20_999, false},
	} {
		r, cfg := soakResult()
		r.Produced.Unacknowledged = 500
		r.Produced.Failures = []string{"600s: 1000 of 1500 messages acknowledged: connection refused"}
		r.Worker.Committed, r.Worker.BatchedMessages, r.Worker.DeadLetters = c.committed, c.committed, c.deadLetters
		r.evaluate(cfg)
		if r.OK() != c.ok {
			t.Errorf("committed %d, dead letters %d of 6000000 and 21000 acknowledged, 500 unknown: ok %v, want %v (%s)",
				c.committed, c.deadLetters, r.OK(), c.ok, r.verdictLine())
		}
		if md := r.Markdown(); !strings.Contains(md, "the producer failed 1 times") || !strings.Contains(md, "≤ 6000500: 500 messages were not acknowledged") {
			t.Errorf("summary does not tell the failure:\n%s", md)
		}
	}
}

func TestRSSShownNotJudged(t *testing.T) {
	r, cfg := soakResult()
	for i := range r.Samples {
		r.Samples[i].RSS = (80 + r.Samples[i].At) * mib // climbing
	}
	r.evaluate(cfg)
	if !r.OK() {
		t.Errorf("RSS failed the soak: %s", r.verdictLine())
	}
	if rss := r.Series[len(r.Series)-1]; rss.Name != "RSS" || rss.Judged || rss.Last <= rss.First {
		t.Errorf("RSS figure %+v", rss)
	}
}

func TestSoakMarkdown(t *testing.T) {
	r, cfg := soakResult()
	r.HeapProfiles = []HeapProfile{{At: 120.4, File: "heap-0120s.pb.gz"}}
	r.Samples[len(r.Samples)-1].HeapLive = 0 // after the window: no effect
	r.Worker.Committed, r.Worker.BatchedMessages = 5_999_999, 5_999_999
	r.evaluate(cfg)
	md := r.Markdown()
	for _, want := range []string{
		"# orderflow soak 2026-12-04 10:40 UTC",
		"FAILED: nothing lost",
		"6000000 messages acknowledged in 1200.5s = 4998/s",
		"| live heap MiB | 40 | 40 | 39 | 41 |",
		"| heap in use MiB | 70 | 70 | 60 | 80 | 0.01 | shown, not judged | – | shown |",
		"`heap-0120s.pb.gz`",
		"last fifth ≤ first fifth + 20%",
		"| goroutines | 60 | 60 | 59 | 61 |",
		"last fifth ≤ first fifth + 10 |",
		"every sample < 300",
		"| RSS MiB | 80 | 80 | 80 | 80 | 0 | shown, not judged | – | shown |",
		"purge passes ok 20, 1234 rows purged",
		"**FAIL** nothing lost: the worker committed every acknowledged message: 5999999 (want = 6000000)",
		"PASS rate held",
		"![soak](soak.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestSoakWriteFiles(t *testing.T) {
	r, _ := soakResult()
	r.HeapProfiles = []HeapProfile{{At: 120.4, File: "heap-0120s.pb.gz", data: []byte("profile")}}
	dir, err := r.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "soak-20261204T104000Z" {
		t.Errorf("folder %s", dir)
	}
	f, err := os.Open(filepath.Join(dir, "samples.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "heap-0120s.pb.gz")); err != nil || string(data) != "profile" {
		t.Errorf("heap profile: %q, %v", data, err)
	}
	if len(rows) != len(r.Samples)+1 || rows[0][1] != "heap_live_bytes" || rows[2][0] != "10.0" || rows[2][1] != "41943040" {
		t.Errorf("csv: %d rows, header %v, second sample %v", len(rows), rows[0], rows[2])
	}
	data, err := os.ReadFile(filepath.Join(dir, "soak.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back SoakResult
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != len(r.Samples) || back.Worker.Committed != 6_000_000 || len(back.Flat) != 5 {
		t.Errorf("json: %d samples, committed %d, %d flat verdicts", len(back.Samples), back.Worker.Committed, len(back.Flat))
	}
	png, err := os.ReadFile(filepath.Join(dir, "soak.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) > 1<<20 {
		t.Errorf("chart: %d bytes, not a PNG under 1 MiB", len(png))
	}
	if md, err := os.ReadFile(filepath.Join(dir, "summary.md")); err != nil || !bytes.Equal(md, []byte(r.Markdown())) {
		t.Errorf("summary.md differs from Markdown (%v)", err)
	}
}

func TestSoakConfigDefaults(t *testing.T) {
	cfg, err := SoakConfig{Config: Config{ConfigPath: "c.yaml"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rate != 5000 || cfg.Duration != 20*time.Minute || cfg.Warmup != 2*time.Minute || cfg.SampleInterval != 10*time.Second ||
		cfg.RetentionInterval != time.Minute || cfg.Runs != 1 {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, bad := range []SoakConfig{
		{Duration: 10 * time.Second},
		{RetentionInterval: 30 * time.Second},
		{Duration: time.Minute, Config: Config{SampleInterval: 10 * time.Second}}, // 54s judged: 10.8s a fifth
		{Duration: 2 * time.Minute, Warmup: 90 * time.Second},
		{Rate: -1},
	} {
		bad.ConfigPath = "c.yaml"
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
