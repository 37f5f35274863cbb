package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
)

// generateCommand produces synthetic orders (package generate) to the input
// topics: a number of messages (--count), or for a while (--duration), as fast as
// the brokers take them or at --rate. It reports progress on stderr every second
// and ends with the tally of what the brokers acknowledged: a table on stdout and,
// with --json, a file for tools. SIGINT or SIGTERM stops it cleanly: what was
// produced is flushed, and the tally counts only what was acknowledged.
func generateCommand(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: orderflow generate --config FILE (--count N | --duration D) [flags]

Produces synthetic Amazon and eBay orders to the configured input topics, then
prints the tally of what the brokers acknowledged. The same --seed and options
(with --now) give the same messages.

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.configPath, "config", "", "YAML configuration file (every key can also be set by ORDERFLOW_* variables)")
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
	p, err := newGenerateProducer(cfg, gen, o, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", err)
		return 2
	}
	res := p.run(ctx)

	report := generateReport{
		Seed: o.gen.Seed, TenantCount: gen.Config().Tenants, Now: gen.Config().Now,
		Topics:   map[string]string{"amazon": cfg.Kafka.Topics.Amazon, "ebay": cfg.Kafka.Topics.Ebay},
		Produced: res.produced, Acknowledged: res.acked, Failed: res.failed,
		Unacknowledged: res.produced - res.acked - res.failed,
		Seconds:        res.elapsed.Seconds(),
		Stats:          res.stats,
	}
	printGenerateReport(stdout, report)
	code := 0
	if res.err != nil {
		fmt.Fprintf(stderr, "orderflow generate: %v\n", res.err)
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

// newGenerateProducer returns a producer of gen's messages to cfg's input
// topics (`orderflow demo` uses it too).
func newGenerateProducer(cfg config.Config, gen *generate.Generator, o generateOptions, log *slog.Logger) (*generateProducer, error) {
	_, transport, err := kafkaClients(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	p := &generateProducer{
		gen: gen, opts: o, log: log,
		topics:       map[order.Channel]string{order.ChannelAmazon: cfg.Kafka.Topics.Amazon, order.ChannelEbay: cfg.Kafka.Topics.Ebay},
		acked:        generate.NewTally(),
		closeTimeout: cfg.Pipeline.ShutdownTimeout,
	}
	p.writer = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Kafka.Brokers...),
		Balancer:     &kafka.Hash{}, // by key: an order's snapshots keep their order in one partition
		BatchSize:    1000,
		BatchTimeout: 10 * time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		Async:        true, // acknowledgements arrive through Completion
		Completion:   p.completed,
		Transport:    transport,
	}
	return p, nil
}

// generateMaxInFlight bounds the messages produced but not yet acknowledged, and
// so the memory they hold.
const generateMaxInFlight = 20000

// generateProducer feeds the generator's messages to a kafka-go writer and
// tallies the acknowledged ones.
type generateProducer struct {
	gen          *generate.Generator
	opts         generateOptions
	log          *slog.Logger
	topics       map[order.Channel]string
	writer       *kafka.Writer
	closeTimeout time.Duration

	inFlight *semaphore.Weighted
	produced atomic.Int64
	ackedN   atomic.Int64
	failedN  atomic.Int64

	mu       sync.Mutex
	acked    *generate.Tally // guarded by mu
	firstErr error           // guarded by mu
}

type generateResult struct {
	produced, acked, failed int64
	elapsed                 time.Duration
	stats                   generate.Stats
	err                     error
}

func (p *generateProducer) run(ctx context.Context) generateResult {
	p.inFlight = semaphore.NewWeighted(generateMaxInFlight)
	start := time.Now()
	runCtx := ctx
	if p.opts.duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, p.opts.duration)
		defer cancel()
	}
	p.log.Info("generating", "brokers", p.writer.Addr.String(), "amazon_topic", p.topics[order.ChannelAmazon],
		"ebay_topic", p.topics[order.ChannelEbay], "count", p.opts.count, "rate_per_s", p.opts.rate,
		"duration", p.opts.duration.String(), "seed", p.opts.gen.Seed, "now", p.gen.Config().Now)

	progressDone := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() { p.reportProgress(progressDone) })

	loopErr := p.produce(runCtx)
	switch {
	case ctx.Err() != nil:
		p.log.Info("signalled: flushing what was produced", "produced", p.produced.Load())
	case loopErr != nil:
		p.log.Error("stopping", "err", loopErr)
	}

	// Close flushes the batches still open and waits for their acknowledgements.
	closed := make(chan error, 1)
	go func() { closed <- p.writer.Close() }()
	var closeErr error
	select {
	case closeErr = <-closed:
	case <-time.After(p.closeTimeout):
		closeErr = fmt.Errorf("the writer did not flush within %s", p.closeTimeout)
	}
	close(progressDone)
	progress.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	res := generateResult{
		produced: p.produced.Load(), acked: p.ackedN.Load(), failed: p.failedN.Load(),
		elapsed: time.Since(start), stats: p.acked.Stats(),
	}
	if p.firstErr != nil {
		loopErr = errors.Join(loopErr, fmt.Errorf("%d messages not acknowledged: %w", res.failed, p.firstErr))
	}
	res.err = errors.Join(loopErr, closeErr)
	if res.err == nil && res.produced != res.acked {
		res.err = fmt.Errorf("%d of %d messages were not acknowledged", res.produced-res.acked, res.produced)
	}
	p.log.Info("generated", "produced", res.produced, "acknowledged", res.acked, "failed", res.failed,
		"seconds", res.elapsed.Seconds())
	return res
}

// produce writes messages until the count is reached, ctx ends or a write fails.
func (p *generateProducer) produce(ctx context.Context) error {
	const chunk = 100 // messages per WriteMessages call
	var bucket *generatePacer
	if p.opts.rate > 0 {
		bucket = newGeneratePacer(p.opts.rate, time.Now, generateSleep)
	}
	batch := make([]kafka.Message, 0, chunk)
	for ctx.Err() == nil {
		if p.failedN.Load() > 0 {
			return nil // the reason is in firstErr
		}
		n := int64(chunk)
		if p.opts.count > 0 {
			n = min(n, p.opts.count-p.produced.Load())
			if n == 0 {
				return nil
			}
		}
		if bucket != nil {
			got, err := bucket.take(ctx, int(n))
			if err != nil {
				return nil // ctx ended while waiting
			}
			n = int64(got)
		}
		if err := p.inFlight.Acquire(ctx, n); err != nil {
			return nil
		}
		batch = batch[:0]
		for range n {
			m := p.gen.Next()
			batch = append(batch, kafka.Message{Topic: p.topics[m.Topic], Key: m.Key, Value: m.Value, WriterData: m.Meta})
		}
		p.produced.Add(n)
		// Async: this queues the messages (after a metadata request for a topic
		// not seen yet); Completion reports each batch's fate.
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := p.writer.WriteMessages(wctx, batch...)
		cancel()
		if err != nil {
			p.failedN.Add(n)
			p.inFlight.Release(n)
			if errors.Is(err, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("writing to kafka: %w (the input topics %s and %s must exist)", err,
					p.topics[order.ChannelAmazon], p.topics[order.ChannelEbay])
			}
			return fmt.Errorf("writing to kafka: %w", err)
		}
	}
	return nil
}

// completed is the writer's Completion callback: it tallies the messages the
// brokers acknowledged. It runs on the writer's goroutines.
func (p *generateProducer) completed(msgs []kafka.Message, err error) {
	p.mu.Lock()
	if err != nil {
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.failedN.Add(int64(len(msgs)))
	} else {
		for i := range msgs {
			p.acked.Add(msgs[i].WriterData.(generate.Meta))
		}
		p.ackedN.Add(int64(len(msgs)))
	}
	p.mu.Unlock()
	p.inFlight.Release(int64(len(msgs)))
}

// reportProgress logs the rate of acknowledgements every second until done closes.
func (p *generateProducer) reportProgress(done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			acked := p.ackedN.Load()
			rate := float64(acked-last) / now.Sub(lastAt).Seconds()
			p.log.Info("progress", "produced", p.produced.Load(), "acknowledged", acked,
				"failed", p.failedN.Load(), "messages_per_s", int64(rate))
			last, lastAt = acked, now
		}
	}
}

// generatePacer is a token bucket: it paces production at a rate, allowing
// bursts of a twentieth of a second's worth so that messages go out in batches.
type generatePacer struct {
	rate, burst, tokens float64
	last                time.Time
	now                 func() time.Time
	sleep               func(context.Context, time.Duration) error
}

func newGeneratePacer(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *generatePacer {
	return &generatePacer{rate: rate, burst: max(1, rate/20), tokens: 1, last: now(), now: now, sleep: sleep}
}

// take waits for at least one token and takes up to limit of them.
func (b *generatePacer) take(ctx context.Context, limit int) (int, error) {
	for {
		now := b.now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= 1 {
			n := min(limit, int(b.tokens))
			b.tokens -= float64(n)
			return n, nil
		}
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		if err := b.sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return 0, err
		}
	}
}

func generateSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// generateReport is what generate reports: the run and the tally of the
// acknowledged messages. Its JSON form (--json) has the tally's members at the
// top level.
type generateReport struct {
	Seed           uint64            `json:"seed"`
	TenantCount    int               `json:"tenant_count"`
	Now            time.Time         `json:"now"`
	Topics         map[string]string `json:"topics"`
	Produced       int64             `json:"produced"`
	Acknowledged   int64             `json:"acknowledged"`
	Failed         int64             `json:"failed"`
	Unacknowledged int64             `json:"unacknowledged"`
	Seconds        float64           `json:"seconds"`
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
	for _, tenant := range sortedGenerateKeys(s.Tenants) {
		for _, ch := range sortedGenerateKeys(s.Tenants[tenant]) {
			c := s.Tenants[tenant][ch]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", tenant, r.Topics[ch], c.Messages, c.Snapshots, c.Orders, c.Malformed)
		}
	}
	for _, ch := range sortedGenerateKeys(s.Channels) {
		c := s.Channels[ch]
		fmt.Fprintf(tw, "all\t%s\t%d\t%d\t%d\t%d\t\n", r.Topics[ch], c.Messages, c.Snapshots, c.Orders, c.Malformed)
	}
	fmt.Fprintf(tw, "all\tall\t%d\t%d\t%d\t%d\t\n", s.Messages, s.Snapshots, s.Orders, s.Malformed)
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "currency\torders\ttotal\trefunded\t")
	for _, cur := range sortedGenerateKeys(s.Currencies) {
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
	for _, k := range sortedGenerateKeys(counts) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, counts[k])
	}
	_ = tw.Flush()
}

func sortedGenerateKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
