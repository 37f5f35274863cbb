package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/generate/produce"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/order"
)

// generateCommand produces synthetic orders (package generate) to the input
// topics: a number of messages (--count), or for a while (--duration), as fast as
// the brokers take them or at --rate. It reports progress on stderr every second
// and ends with the tally of what the brokers acknowledged: a table on stdout and,
// with --json, a file for tools. SIGINT or SIGTERM stops it cleanly: what was
// produced is flushed, and the tally counts only what was acknowledged.
func generateCommand(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	return runGenerate(ctx, args, stdout, stderr)
}

// generateOptions are generate's flags, read.
type generateOptions struct {
	configPath string
	count      int64
	rate       float64 // messages per second; 0 for as fast as possible
	duration   time.Duration
	jsonPath   string
	gen        generate.Config
}

func parseGenerateFlags(args []string, stderr io.Writer) (generateOptions, bool) {
	var o generateOptions
	fs, configPath := commandFlags("generate", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: orderflow generate --config FILE (--count N | --duration D) [flags]

Produces synthetic Amazon and eBay orders to the configured input topics, then
prints the tally of what the brokers acknowledged. The same --seed and options
(with --now) give the same messages.

`)
		fs.PrintDefaults()
	}
	fs.Int64Var(&o.count, "count", 0, "messages to produce; 0 for no limit (then --duration is required)")
	rate := fs.String("rate", "", "messages per second, as `R` or R/s (also R/m, R/h); default as fast as the brokers acknowledge")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long, e.g. 30s or 5m; 0 for no limit (then --count is required)")
	seed := fs.Uint64("seed", 1, "random seed")
	tenants := fs.Int("tenants", generate.DefaultTenants, "how many tenants the orders belong to")
	now := fs.String("now", "", "the RFC 3339 instant the orders are generated as of (default the current time)")
	days := fs.Int("days", generate.DefaultDays, "purchase dates spread over this many days before --now")
	malformed := fs.Float64("malformed-rate", generate.DefaultMalformedRate, "share of messages the worker must dead-letter")
	cards := fs.Float64("card-rate", generate.DefaultCardInTextRate, "share of orders with a card number typed into a gift message, checkout note or address line")
	updates := fs.Float64("update-rate", generate.DefaultUpdateRate, "share of orders that get later snapshots (shipped, cancelled, refunded)")
	repeat := fs.Float64("repeat-buyer-rate", generate.DefaultRepeatBuyerRate, "share of orders placed by a returning buyer")
	fs.StringVar(&o.jsonPath, "json", "", "also write the tally as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return o, false
	}
	o.configPath = *configPath
	usageErr := func(format string, args ...any) (generateOptions, bool) {
		fmt.Fprintf(stderr, "orderflow generate: "+format+"\n", args...)
		return o, false
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if o.count < 0 {
		return usageErr("--count: %d is negative", o.count)
	}
	if o.duration < 0 {
		return usageErr("--duration: %s is negative", o.duration)
	}
	if o.count == 0 && o.duration == 0 {
		return usageErr("one of --count or --duration is required")
	}
	if *rate != "" {
		r, err := parseGenerateRate(*rate)
		if err != nil {
			return usageErr("--rate: %v", err)
		}
		o.rate = r
	}
	if *now != "" {
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return usageErr("--now: %q is not an RFC 3339 time", *now)
		}
		o.gen.Now = t
	}
	// generate.Config reads 0 as "the default": a rate of 0 asked for here is none.
	none := func(v float64) float64 {
		if v == 0 {
			return -1
		}
		return v
	}
	o.gen.Seed, o.gen.Tenants, o.gen.Days = *seed, *tenants, *days
	o.gen.MalformedRate, o.gen.CardInTextRate = none(*malformed), none(*cards)
	o.gen.UpdateRate, o.gen.RepeatBuyerRate = none(*updates), none(*repeat)
	for _, r := range []struct {
		flag string
		v    float64
	}{{"--malformed-rate", *malformed}, {"--card-rate", *cards}, {"--update-rate", *updates}, {"--repeat-buyer-rate", *repeat}} {
		if r.v < 0 || r.v > 1 || r.v != r.v {
			return usageErr("%s: %v is not between 0 and 1", r.flag, r.v)
		}
	}
	return o, true
}

// parseGenerateRate reads a rate: "5000", "5000/s", "300/m" or "3600/h", in messages per second.
func parseGenerateRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(s, "/")
	per := time.Second
	switch unit {
	case "", "s":
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return 0, fmt.Errorf("%q: the unit must be /s, /m or /h", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v != v || v > 1e9 {
		return 0, fmt.Errorf("%q is not a positive number of messages", s)
	}
	return v / per.Seconds(), nil
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, ok := parseGenerateFlags(args, stderr)
	if !ok {
		return 2
	}
	gen, err := generate.New(o.gen)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", err)
		return 2
	}
	cfg, err := loadFor("generate", o.configPath, stderr)
	if err != nil {
		return 2
	}
	log := newLogger(cfg.Log, stderr)
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", err)
		return 2
	}
	producer, err := produce.New(produce.Config{
		Generator: gen, Brokers: clients.Brokers, Transport: clients.Transport,
		Topics: cfg.Kafka.Topics.Channels,
		Count:  o.count, Rate: o.rate, Duration: o.duration, CloseTimeout: cfg.Pipeline.ShutdownTimeout, Logger: log,
		Progress: func(s produce.Status) {
			log.Info("progress", "component", "generate", "produced", s.Produced, "acknowledged", s.Acknowledged, "failed", s.Failed,
				"messages_per_s", int64(s.PerSecond))
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", err)
		return 2
	}
	res, runErr := producer.Run(ctx)

	report := generateReport{
		Seed: o.gen.Seed, TenantCount: gen.Config().Tenants, Now: gen.Config().Now,
		Topics:   cfg.Kafka.Topics.Channels,
		Produced: res.Produced, Acknowledged: res.Acknowledged, Failed: res.Failed,
		Unacknowledged: res.Produced - res.Acknowledged - res.Failed,
		Seconds:        res.Elapsed.Seconds(),
		Stats:          res.Stats,
	}
	printGenerateReport(stdout, report)
	code := 0
	if runErr != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", runErr)
		code = 1
	}
	if o.jsonPath != "" {
		if err := writeGenerateJSON(o.jsonPath, report); err != nil {
			fmt.Fprintf(stderr, "orderflow generate: --json: %v\n", err)
			code = 1
		}
	}
	return code
}

// generateReport is what generate reports: the run and the tally of the
// acknowledged messages. Its JSON form (--json) has the tally's members at the
// top level.
type generateReport struct {
	Seed           uint64                   `json:"seed"`
	TenantCount    int                      `json:"tenant_count"`
	Now            time.Time                `json:"now"`
	Topics         map[order.Channel]string `json:"topics"`
	Produced       int64                    `json:"produced"`
	Acknowledged   int64                    `json:"acknowledged"`
	Failed         int64                    `json:"failed"`
	Unacknowledged int64                    `json:"unacknowledged"`
	Seconds        float64                  `json:"seconds"`
	generate.Stats
}

func writeGenerateJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func printGenerateReport(w io.Writer, r generateReport) {
	s := r.Stats
	rate := 0.0
	if r.Seconds > 0 {
		rate = float64(r.Acknowledged) / r.Seconds
	}
	fmt.Fprintf(w, "orderflow generate: %d of %d messages acknowledged in %.1fs (%.0f messages/s); seed %d, %d tenants, as of %s\n",
		r.Acknowledged, r.Produced, r.Seconds, rate, r.Seed, r.TenantCount, r.Now.Format(time.RFC3339))
	if r.Failed > 0 || r.Unacknowledged > 0 {
		fmt.Fprintf(w, "  NOT acknowledged: %d failed, %d unknown; the tally below counts only acknowledged messages\n", r.Failed, r.Unacknowledged)
	}
	fmt.Fprintf(w, "  %d order snapshots (%d updates) of %d orders; %d malformed messages; %d card numbers planted\n\n",
		s.Snapshots, s.Updates, s.Orders, s.Malformed, s.CardNumbers)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tenant\ttopic\tmessages\tsnapshots\torders\tmalformed\t")
	for _, tenant := range slices.Sorted(maps.Keys(s.Tenants)) {
		for _, ch := range slices.Sorted(maps.Keys(s.Tenants[tenant])) {
			c := s.Tenants[tenant][ch]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", tenant, r.Topics[order.Channel(ch)], c.Messages, c.Snapshots, c.Orders, c.Malformed)
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(s.Channels)) {
		c := s.Channels[ch]
		fmt.Fprintf(tw, "all\t%s\t%d\t%d\t%d\t%d\t\n", r.Topics[order.Channel(ch)], c.Messages, c.Snapshots, c.Orders, c.Malformed)
	}
	fmt.Fprintf(tw, "all\tall\t%d\t%d\t%d\t%d\t\n", s.Messages, s.Snapshots, s.Orders, s.Malformed)
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "currency\torders\ttotal\trefunded\t")
	for _, cur := range slices.Sorted(maps.Keys(s.Currencies)) {
		c := s.Currencies[cur]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", cur, c.Orders, c.Total, c.Refunded)
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	printGenerateCounts(w, "latest status of each order", s.Statuses)
	printGenerateCounts(w, "snapshots by source format", s.Formats)
	printGenerateCounts(w, "dead letters to expect, by reason", s.MalformedByReason)
	printGenerateCounts(w, "card numbers to remove, by field", s.CardNumbersByField)
}

func printGenerateCounts(w io.Writer, title string, counts map[string]int64) {
	if len(counts) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, counts[k])
	}
	_ = tw.Flush()
}
