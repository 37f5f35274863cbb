// Package faults is orderflow's fault suite: each case drives generated orders
// with a known tally through `orderflow run` on the real stack, injects one
// fault mid-stream (a SIGKILLed worker, a stopped ClickHouse or Kafka, a Vault
// that refuses or fails, a full disk, a rebalance), and then proves that every
// order's facts exist exactly once under FINAL with its latest snapshot, that the
// totals per currency equal the tally to the penny, that every dead letter is
// accounted for, that no committed offset ever ran ahead of a write, and that no
// personal data reached a log.
//
// The harness is test code's: it reports failures through testing.TB.
package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/bench"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
	"github.com/orderflow/orderflow/worker/workerproc"
)

// Partitions is each input topic's partition count: more than the most workers
// a case runs, so that every member of a group has partitions to lose in a
// rebalance.
const Partitions = 6

// Suite is what every case shares: the worker binary and the stack.
type Suite struct {
	// Binary is the orderflow binary under test.
	Binary string
	// ConfigPath is the worker's configuration file; the harness overrides its
	// addresses and names through the environment.
	ConfigPath string
}

// Case is one fault scenario.
type Case struct {
	Name string
	// Seed makes the orders; ORDERFLOW_FAULTS_SEED replays a failed run's.
	Seed uint64
	// Messages is how many messages to produce; Rate how many a second (0: as
	// fast as Kafka takes them).
	Messages int
	Rate     float64
	// MalformedRate is the generator's share of messages to dead-letter
	// (default 0.01).
	MalformedRate float64
	// Workers is how many workers start in the group (default 1).
	Workers int
	// ClickHouseAddr is the ClickHouse server the case's databases are made on
	// and the workers write to. Default: the stack's.
	ClickHouseAddr string
	// Env adds to (and overrides) every worker's environment.
	Env []string
	// Fault injects the fault, on the test's goroutine, while orders flow; it
	// returns once the fault is over and the workers it wants are running.
	Fault func(h *Harness)
	// Timeout bounds the whole case (default 5 minutes).
	Timeout time.Duration
}

// Report is what a case measured.
type Report struct {
	Case string
	Seed uint64
	// Messages were produced; Orders distinct orders among the good ones.
	Messages, Orders int64
	// Written orders are under FINAL with their latest snapshot; Duplicated
	// appear more than once under FINAL; Lost never appear or not at their latest
	// version.
	Written, Duplicated, Lost int64
	// Redelivered rows are stored copies of a snapshot already stored (at-least-
	// once delivery); merges fold them.
	Redelivered int64
	// Letters are distinct dead letters; RedeliveredLetters the copies.
	Letters, RedeliveredLetters int64
	// Recoveries are the times from each fault's end to the next commit.
	Recoveries []time.Duration
	// Checkpoints is how many times the commits were checked against the writes.
	Checkpoints int
}

func (r Report) String() string {
	return fmt.Sprintf("%s (seed %d): %d messages, %d orders: %d written, %d duplicated, %d lost; %d redelivered rows; %d dead letters (+%d redelivered); %d commit checkpoints; recovery %s",
		r.Case, r.Seed, r.Messages, r.Orders, r.Written, r.Duplicated, r.Lost, r.Redelivered, r.Letters, r.RedeliveredLetters, r.Checkpoints, durations(r.Recoveries))
}

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(100 * time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

// Harness is one running case: its topics, databases, workers and producer.
type Harness struct {
	t     testing.TB
	suite Suite
	c     Case
	rng   *rand.Rand

	brokers []string
	topics  map[order.Channel]string
	dlq     string
	group   string
	ch      config.ClickHouse
	conn    driver.Conn
	env     []string // every worker's environment

	messages []generate.Message
	stats    generate.Stats
	byBytes  map[uint64]int // hash of key and value -> index in messages
	seed     maphash.Seed

	sent atomic.Int64 // messages acknowledged by Kafka

	mu      sync.Mutex
	workers []*workerproc.Proc // by slot; nil where none runs
	metrics []string           // by slot: the worker's metrics address
	logs    bytes.Buffer       // every worker's output

	checkpoints []checkpoint
	recoveries  []time.Duration
}

// Run runs c and checks the outcome; it returns what it measured.
func Run(t *testing.T, suite Suite, c Case) Report {
	t.Helper()
	h := run(t, suite, c)
	r := h.check()
	if t.Failed() {
		t.Logf("%s: the workers' output ends:\n%s", c.Name, lastLines(h.Logs(), 80))
	}
	return r
}

// run runs c up to its checks: every message produced, committed, and the
// workers stopped.
func run(t *testing.T, suite Suite, c Case) *Harness {
	t.Helper()
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.MalformedRate == 0 {
		c.MalformedRate = 0.01
	}
	if s := os.Getenv("ORDERFLOW_FAULTS_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &c.Seed); err != nil {
			t.Fatalf("ORDERFLOW_FAULTS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("%s: seed %d (ORDERFLOW_FAULTS_SEED=%d replays it)", c.Name, c.Seed, c.Seed)
	h := newHarness(t, suite, c)
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()

	produced := make(chan error, 1)
	go func() { produced <- h.produce(ctx) }() // owned: ends with ctx or when all are sent
	for slot := range c.Workers {
		h.StartWorker(slot)
	}
	t.Cleanup(h.killAll)

	if c.Fault != nil {
		c.Fault(h)
	}
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	h.mu.Lock()
	running := 0
	for _, w := range h.workers {
		if w != nil {
			running++
		}
	}
	h.mu.Unlock()
	if running == 0 {
		t.Fatal("the fault left no worker running")
	}
	if err := h.waitCommitted(ctx, h.endOffsets()); err != nil {
		h.stalled(err.Error())
	}
	h.stopAll()
	return h
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func newHarness(t *testing.T, suite Suite, c Case) *Harness {
	brokers := stacktest.KafkaBrokers(t)
	vaultAddr, vaultToken := stacktest.Vault(t)
	h := &Harness{
		t: t, suite: suite, c: c, brokers: brokers,
		rng:     rand.New(rand.NewPCG(c.Seed, 0xfa17)),
		topics:  map[order.Channel]string{order.ChannelAmazon: stacktest.UniqueName("faults.amazon"), order.ChannelEbay: stacktest.UniqueName("faults.ebay")},
		dlq:     stacktest.UniqueName("faults.dlq"),
		group:   stacktest.UniqueName("faults-group"),
		byBytes: map[uint64]int{},
		seed:    maphash.MakeSeed(),
	}
	outbox := []string{stacktest.UniqueName("faults.courier"), stacktest.UniqueName("faults.parked"), stacktest.UniqueName("faults.accounting")}
	for _, topic := range append([]string{h.topics[order.ChannelAmazon], h.topics[order.ChannelEbay], h.dlq}, outbox...) {
		stacktest.CreateTopic(t, brokers, topic, Partitions)
	}
	chAddr := c.ClickHouseAddr
	if chAddr == "" {
		chAddr = stacktest.ClickHouseAddr(t)
	}
	h.ch, h.conn = clickhousetest.MigratedAt(t, chAddr)
	keyPrefix := stacktest.UniqueName("faults") + "-"

	g, err := generate.New(generate.Config{Seed: c.Seed, Tenants: 4, MalformedRate: c.MalformedRate, Days: 10})
	if err != nil {
		t.Fatal(err)
	}
	h.messages = make([]generate.Message, c.Messages)
	tenants := map[string]bool{}
	for i := range h.messages {
		m := g.Next()
		h.messages[i] = m
		h.byBytes[h.hash(m.Key, m.Value)] = i
		tenants[m.Tenant] = true
	}
	h.stats = g.Stats()
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() {
		for tenant := range tenants {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})

	h.env = append(os.Environ(),
		"ORDERFLOW_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"ORDERFLOW_KAFKA_GROUP_ID="+h.group,
		"ORDERFLOW_KAFKA_TOPICS_AMAZON="+h.topics[order.ChannelAmazon],
		"ORDERFLOW_KAFKA_TOPICS_EBAY="+h.topics[order.ChannelEbay],
		"ORDERFLOW_KAFKA_TOPICS_DEAD_LETTER="+h.dlq,
		"ORDERFLOW_KAFKA_TOPICS_COURIER="+outbox[0],
		"ORDERFLOW_KAFKA_TOPICS_PARKED="+outbox[1],
		"ORDERFLOW_KAFKA_TOPICS_ACCOUNTING="+outbox[2],
		"ORDERFLOW_KAFKA_SESSION_TIMEOUT=6s",
		"ORDERFLOW_KAFKA_HEARTBEAT_INTERVAL=500ms",
		"ORDERFLOW_PIPELINE_BATCH_MAX_MESSAGES=2000",
		"ORDERFLOW_PIPELINE_BATCH_MAX_WAIT=200ms",
		"ORDERFLOW_VAULT_ADDRESS="+vaultAddr,
		"ORDERFLOW_VAULT_AUTH_TOKEN_ENV=ORDERFLOW_FAULTS_VAULT_TOKEN",
		"ORDERFLOW_FAULTS_VAULT_TOKEN="+vaultToken,
		"ORDERFLOW_VAULT_KEY_PREFIX="+keyPrefix,
		"ORDERFLOW_CLICKHOUSE_ADDR="+strings.Join(h.ch.Addr, ","),
		"ORDERFLOW_CLICKHOUSE_DATABASE="+h.ch.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE="+h.ch.RestrictedDatabase,
		"ORDERFLOW_RETENTION_INTERVAL=0",
		"ORDERFLOW_METRICS_PUSHGATEWAY=",
		"ORDERFLOW_LOG_LEVEL=info",
		"GOTRACEBACK=all", // a stalled worker's SIGQUIT prints every goroutine
	)
	h.env = append(h.env, c.Env...)
	return h
}

func (h *Harness) hash(key, value []byte) uint64 {
	var mh maphash.Hash
	mh.SetSeed(h.seed)
	_, _ = mh.Write(key)
	_ = mh.WriteByte(0)
	_, _ = mh.Write(value)
	return mh.Sum64()
}

// T is the case's test.
func (h *Harness) T() testing.TB { return h.t }

// Rand is the case's random source, seeded by the case's seed.
func (h *Harness) Rand() *rand.Rand { return h.rng }

// Messages is how many messages the case produces.
func (h *Harness) Messages() int { return len(h.messages) }

// Brokers are the stack's Kafka brokers.
func (h *Harness) Brokers() []string { return h.brokers }

// Logf logs with the case's name.
func (h *Harness) Logf(format string, args ...any) {
	h.t.Helper()
	h.t.Logf(h.c.Name+": "+format, args...)
}

// Setenv sets name=value in the environment of the workers started from now on.
func (h *Harness) Setenv(name, value string) {
	h.env = append(h.env, name+"="+value)
}

// produce sends every message, paced at the case's rate.
func (h *Harness) produce(ctx context.Context) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(h.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond, BatchSize: 500, MaxAttempts: 20,
		WriteBackoffMin: 100 * time.Millisecond, WriteBackoffMax: time.Second,
	}
	defer w.Close()
	chunk := 500
	var tick time.Duration
	if h.c.Rate > 0 {
		chunk = max(1, int(h.c.Rate/20))
		tick = time.Duration(float64(chunk) / h.c.Rate * float64(time.Second))
	}
	next := time.Now()
	for i := 0; i < len(h.messages); i += chunk {
		batch := h.messages[i:min(i+chunk, len(h.messages))]
		msgs := make([]kafka.Message, len(batch))
		for j, m := range batch {
			msgs[j] = kafka.Message{Topic: h.topics[m.Topic], Key: m.Key, Value: m.Value}
		}
		// A broker restart fails a write for a while: keep trying the same
		// messages (a retried write may store some twice, as any producer
		// without idempotence does; the checks count orders, not messages).
		for {
			err := w.WriteMessages(ctx, msgs...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%d of %d messages sent: %w", h.sent.Load(), len(h.messages), ctx.Err())
			}
			var we kafka.WriteErrors
			if errors.As(err, &we) {
				var failed []kafka.Message
				for k, e := range we {
					if e != nil {
						failed = append(failed, msgs[k])
					}
				}
				h.sent.Add(int64(len(msgs) - len(failed)))
				msgs = failed
			}
			time.Sleep(200 * time.Millisecond)
		}
		h.sent.Add(int64(len(msgs)))
		if tick > 0 {
			next = next.Add(tick)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			}
		}
	}
	return nil
}

// Sent is how many messages Kafka has acknowledged so far.
func (h *Harness) Sent() int64 { return h.sent.Load() }

// WaitSent waits until at least n messages are sent.
func (h *Harness) WaitSent(n int64) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d messages sent", n), 2*time.Minute, func() bool { return h.sent.Load() >= n })
}

func (h *Harness) waitFor(what string, limit time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			h.stalled(fmt.Sprintf("waited %s for %s", limit, what))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartWorker starts a worker in slot (0, 1, ...), which must be free.
func (h *Harness) StartWorker(slot int) {
	h.t.Helper()
	h.StartWorkerEnv(slot)
}

// StartWorkerEnv starts a worker in slot with env added to its environment.
func (h *Harness) StartWorkerEnv(slot int, env ...string) {
	h.t.Helper()
	addr, err := workerproc.FreeAddr()
	if err != nil {
		h.t.Fatal(err)
	}
	full := append(append(append([]string{}, h.env...), "ORDERFLOW_METRICS_LISTEN="+addr), env...)
	if h.Worker(slot) != nil {
		h.t.Fatalf("worker %d already runs", slot)
	}
	var out io.Writer = &lockedWriter{mu: &h.mu, w: &h.logs}
	if os.Getenv("ORDERFLOW_FAULTS_VERBOSE") != "" {
		out = io.MultiWriter(out, os.Stderr) // to watch a case as it runs
	}
	p, err := workerproc.Start(workerproc.Config{
		Binary: h.suite.Binary, ConfigPath: h.suite.ConfigPath, Env: full,
		Output: out, Prefix: fmt.Sprintf("w%d| ", slot),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	for len(h.workers) <= slot {
		h.workers = append(h.workers, nil)
		h.metrics = append(h.metrics, "")
	}
	h.workers[slot], h.metrics[slot] = p, addr
	h.mu.Unlock()
	h.awaitServing(p, addr)
}

// awaitServing waits until a started worker answers on /healthz: it has set
// up its signal handling, so a SIGTERM from now on is a clean stop.
func (h *Harness) awaitServing(p *workerproc.Proc, addr string) {
	h.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if done, err := p.Exited(); done {
			h.t.Fatalf("%s: a worker exited as it started: %v", h.c.Name, p.ExitError(err))
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: a worker did not answer on /healthz within a minute; its output:\n%s", h.c.Name, p.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedWriter appends to a buffer the harness shares between workers, under
// the harness's lock.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// KillWorker SIGKILLs the worker in slot and records a checkpoint: what was
// committed then must already have been written.
func (h *Harness) KillWorker(slot int) {
	h.t.Helper()
	p := h.take(slot)
	p.Kill()
	h.Checkpoint()
}

// StopWorker stops the worker in slot with SIGTERM (a member leaving its group);
// it must exit cleanly.
func (h *Harness) StopWorker(slot int) {
	h.t.Helper()
	p := h.take(slot)
	if code, err := p.Stop(30 * time.Second); code != 0 || err != nil {
		h.t.Errorf("worker %d stopped with exit code %d (%v); its last output:\n%s", slot, code, err, p.Tail())
	}
}

// PauseWorker stops the worker in slot with SIGSTOP for d and resumes it: a
// process frozen by a stalled node or a long pause, whose group session
// times out while it holds a batch (when d exceeds the session timeout).
func (h *Harness) PauseWorker(slot int, d time.Duration) {
	h.t.Helper()
	p := h.Worker(slot)
	if p == nil {
		h.t.Fatalf("no worker runs in slot %d", slot)
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(d)
	if err := p.Signal(syscall.SIGCONT); err != nil {
		h.t.Fatal(err)
	}
}

// Metric is the sum of a metric's series on the worker in slot's /metrics
// (-1 when the worker does not answer).
func (h *Harness) Metric(slot int, name string) float64 {
	h.t.Helper()
	h.mu.Lock()
	addr := h.metrics[slot]
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := bench.Scrape(ctx, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/metrics")
	if err != nil {
		return -1
	}
	return s.Sum(name)
}

// Worker is the process in slot, or nil.
func (h *Harness) Worker(slot int) *workerproc.Proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	if slot >= len(h.workers) {
		return nil
	}
	return h.workers[slot]
}

func (h *Harness) take(slot int) *workerproc.Proc {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if slot >= len(h.workers) || h.workers[slot] == nil {
		h.t.Fatalf("no worker runs in slot %d", slot)
	}
	p := h.workers[slot]
	h.workers[slot] = nil
	if done, err := p.Exited(); done {
		h.t.Fatalf("worker %d had already exited: %v", slot, p.ExitError(err))
	}
	return p
}

func (h *Harness) killAll() {
	h.mu.Lock()
	ws := h.workers
	h.workers = nil
	h.mu.Unlock()
	for _, p := range ws {
		if p != nil {
			p.Kill()
		}
	}
}

func (h *Harness) stopAll() {
	h.mu.Lock()
	n := len(h.workers)
	h.mu.Unlock()
	for slot := range n {
		if h.Worker(slot) != nil {
			h.StopWorker(slot)
		}
	}
}

// stalled fails the case on a stall. The workers still running are made to
// print every goroutine's stack (SIGQUIT; GOTRACEBACK=all is in their
// environment) before they go: what each waited on, and for how long, is what
// a stall's diagnosis needs. Their whole output is kept in a temporary file
// that the failure names, since a run that stalls once in many cannot be
// watched.
func (h *Harness) stalled(what string) {
	h.t.Helper()
	tails := h.tails() // before the stacks fill them
	h.mu.Lock()
	workers := append([]*workerproc.Proc(nil), h.workers...)
	h.mu.Unlock()
	for _, w := range workers {
		if w == nil {
			continue
		}
		if exited, _ := w.Exited(); exited {
			continue
		}
		if err := w.Signal(syscall.SIGQUIT); err == nil {
			select {
			case <-w.Done():
			case <-time.After(10 * time.Second):
			}
		}
	}
	kept := "(not kept: %v)"
	name := strings.NewReplacer(" ", "-", "/", "-").Replace(h.c.Name)
	f, err := os.CreateTemp("", fmt.Sprintf("orderflow-faults-%s-%d-*.log", name, h.c.Seed))
	if err == nil {
		_, err = f.WriteString(h.Logs())
		err = errors.Join(err, f.Close())
	}
	if err == nil {
		kept = "in " + f.Name()
	} else {
		kept = fmt.Sprintf(kept, err)
	}
	h.t.Fatalf("%s: %s; the workers' whole output with their goroutines' stacks is %s; their last output:\n%s",
		h.c.Name, what, kept, tails)
}

// tails is the last lines of every running worker's output.
func (h *Harness) tails() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for i, w := range h.workers {
		if w != nil {
			fmt.Fprintf(&b, "worker %d:\n%s\n", i, w.Tail())
		}
	}
	return b.String()
}

// Logs is everything the workers printed so far.
func (h *Harness) Logs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// AwaitLog waits up to limit for the workers' output to contain substr, counted
// from the output's length at the call (from is what LogMark returned).
func (h *Harness) AwaitLog(from int, substr string, limit time.Duration) {
	h.t.Helper()
	h.waitFor("a log line with "+substr, limit, func() bool {
		logs := h.Logs()
		return strings.Contains(logs[min(from, len(logs)):], substr)
	})
}

// LogMark is the workers' output's length now, for AwaitLog.
func (h *Harness) LogMark() int { return len(h.Logs()) }

// committedTotal is the sum of the group's committed offsets over both input
// topics (-1 where nothing is committed counts as 0).
func (h *Harness) committedTotal(ctx context.Context) (int64, error) {
	offsets, err := h.committed(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range offsets {
		n += max(o, 0)
	}
	return n, nil
}

type partition struct {
	topic string
	id    int
}

// committed fetches the group's committed offsets of both input topics.
func (h *Harness) committed(ctx context.Context) (map[partition]int64, error) {
	ids := make([]int, Partitions)
	for p := range Partitions {
		ids[p] = p
	}
	req := &kafka.OffsetFetchRequest{GroupID: h.group, Topics: map[string][]int{}}
	for _, topic := range h.topics {
		req.Topics[topic] = ids
	}
	resp, err := stacktest.KafkaClient(h.brokers).OffsetFetch(ctx, req)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	out := map[partition]int64{}
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error != nil {
				return nil, fmt.Errorf("offset fetch %s/%d: %w", topic, po.Partition, po.Error)
			}
			out[partition{topic, po.Partition}] = po.CommittedOffset
		}
	}
	return out, nil
}

// endOffsets is each input partition's end offset.
func (h *Harness) endOffsets() map[partition]int64 {
	out := map[partition]int64{}
	for _, topic := range h.topics {
		for p, end := range stacktest.EndOffsets(h.t, h.brokers, topic, Partitions) {
			out[partition{topic, p}] = end
		}
	}
	return out
}

// endTotal is the sum of the input partitions' end offsets.
func (h *Harness) endTotal() int64 {
	var n int64
	for _, end := range h.endOffsets() {
		n += end
	}
	return n
}

// waitCommitted waits until the group has committed every partition to its end.
func (h *Harness) waitCommitted(ctx context.Context, ends map[partition]int64) error {
	var last map[partition]int64
	for {
		c, err := h.committed(ctx)
		if err == nil {
			done := true
			for p, end := range ends {
				if c[p] < end {
					done = false
				}
			}
			if done {
				return nil
			}
			last = c
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not everything committed: committed %v, ends %v: %w", h.c.Name, last, ends, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// WaitCommitted waits until the group has committed at least n messages.
func (h *Harness) WaitCommitted(n int64) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d messages committed", n), 3*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := h.committedTotal(ctx)
		return err == nil && c >= n
	})
}

// Recovery is a fault's end, for timing how long the workers take to commit
// again: FaultOver starts it, Wait ends it.
type Recovery struct {
	h     *Harness
	start time.Time
	base  int64 // committed at the fault's end; -1 when Kafka did not say
}

// FaultOver marks the end of a fault: the server is back, the worker started
// again. Wait then times the recovery.
func (h *Harness) FaultOver() *Recovery {
	r := &Recovery{h: h, start: time.Now(), base: -1}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := h.committedTotal(ctx); err == nil {
		r.base = c
	}
	return r
}

// Wait waits until the group commits past what it had committed at the fault's
// end (or everything sent is committed) and records the time from the fault's
// end. When everything was committed already, there is nothing to time.
func (r *Recovery) Wait() {
	h := r.h
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	allSent := func() bool { return h.sent.Load() == int64(len(h.messages)) }
	for {
		c, err := h.committedTotal(ctx)
		if err == nil {
			if r.base < 0 {
				r.base = c // Kafka was not answering at the fault's end
			}
			if r.base >= c && allSent() && c >= h.endTotal() {
				return // nothing was left to do: no recovery to time
			}
			if c > r.base || allSent() && c >= h.endTotal() {
				h.mu.Lock()
				h.recoveries = append(h.recoveries, time.Since(r.start))
				h.mu.Unlock()
				return
			}
		}
		if ctx.Err() != nil {
			h.stalled("nothing committed within 3 minutes of the fault's end")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
