package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

const fixtures = "../normalize/testdata"

// topicsUnderTest is one test's topics on the real Kafka: the two order streams and the DLQ.
type topicsUnderTest struct {
	brokers           []string
	amazon, ebay, dlq string
	group             string
	inputs            map[string]int // topic -> partitions
	goodByKey         map[pipelinetest.Key]order.Order
	badReasons        map[string]string // message value -> expected DLQ reason
	produced          int
	vault             *transit.Client // tokens, ciphertexts, and the DLQ's payloads
	stage             *protect.Stage
	// blocklist and dlqEncrypter, when set, are the workers' (default: none,
	// and vault).
	blocklist    pipeline.Blocklist
	dlqEncrypter deadletter.Encrypter
}

// stageOn is the protect stage with the embedded policy on a Vault client.
func stageOn(t *testing.T, vault *transit.Client) *protect.Stage {
	t.Helper()
	return protecttest.NewStage(t, vault, protect.Config{})
}

func newStream(t *testing.T) *topicsUnderTest {
	t.Helper()
	brokers := stacktest.KafkaBrokers(t)
	s := &topicsUnderTest{
		brokers:    brokers,
		amazon:     stacktest.UniqueName("test.orders.amazon"),
		ebay:       stacktest.UniqueName("test.orders.ebay"),
		dlq:        stacktest.UniqueName("test.orders.dlq"),
		group:      stacktest.UniqueName("test-orderflow"),
		goodByKey:  map[pipelinetest.Key]order.Order{},
		badReasons: map[string]string{},
	}
	s.inputs = map[string]int{s.amazon: 6, s.ebay: 6}
	s.vault = transittest.NewClient(t, transit.Config{})
	s.stage = stageOn(t, s.vault)
	stacktest.CreateTopic(t, brokers, s.amazon, 6)
	stacktest.CreateTopic(t, brokers, s.ebay, 6)
	stacktest.CreateTopic(t, brokers, s.dlq, 3)
	return s
}

// produceFixtures writes every good fixture (each twice: a re-delivered snapshot
// must not duplicate), every bad fixture, and one good eBay order on the Amazon
// topic, interleaved so that bad messages sit between good ones in a partition.
func (s *topicsUnderTest) produceFixtures(t *testing.T) {
	t.Helper()
	var amazonMsgs, ebayMsgs []kafka.Message
	add := func(topic string, value []byte) {
		msg := kafka.Message{Key: messageKey(value), Value: value}
		if topic == s.amazon {
			amazonMsgs = append(amazonMsgs, msg)
		} else {
			ebayMsgs = append(ebayMsgs, msg)
		}
	}
	for _, dir := range []string{"amazon", "amazon2026", "ebay"} {
		topic := s.ebay
		if strings.HasPrefix(dir, "amazon") {
			topic = s.amazon
		}
		for _, f := range pipelinetest.Fixtures(t, filepath.Join(fixtures, dir, "*.json")) {
			switch {
			case strings.HasSuffix(f.File, ".bad.json"):
				s.expectBad(t, f.Value)
				add(topic, f.Value)
			case f.Err != nil:
				t.Fatalf("%s: %v", f.File, f.Err)
			default:
				s.expectGood(t, f.Order)
				add(topic, f.Value)
				add(topic, f.Value)
			}
		}
	}
	for _, f := range pipelinetest.Fixtures(t, filepath.Join(fixtures, "envelope", "*.bad.json")) {
		s.expectBad(t, f.Value)
		add(s.amazon, f.Value)
	}
	// An eBay order on the Amazon topic is routed to the DLQ, not written.
	value := append(slices.Clip(goodEbay(t, 1)[0]), ' ') // a distinct value for the DLQ check
	s.badReasons[string(value)] = pipeline.ReasonWrongTopic
	add(s.amazon, value)
	if len(s.goodByKey) == 0 {
		t.Fatal("no good fixtures found")
	}
	writer := &kafka.Writer{Addr: kafka.TCP(s.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for topic, msgs := range map[string][]kafka.Message{s.amazon: amazonMsgs, s.ebay: ebayMsgs} {
		for i := range msgs {
			msgs[i].Topic = topic
		}
		if err := writer.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		s.produced += len(msgs)
	}
}

func (s *topicsUnderTest) expectGood(t *testing.T, o order.Order) {
	t.Helper()
	k := pipelinetest.KeyOf(o)
	if _, dup := s.goodByKey[k]; dup {
		t.Fatalf("two fixtures share the order key %v", k)
	}
	s.goodByKey[k] = o
}

func (s *topicsUnderTest) expectBad(t *testing.T, value []byte) {
	t.Helper()
	_, err := normalizer.Normalize(value)
	reason := normalize.ReasonOf(err)
	if reason == "" {
		t.Fatalf("a bad fixture normalised without a reason: %v", err)
	}
	s.badReasons[string(value)] = string(reason)
}

// messageKey is the contract's key, <tenant_id>/<channel order id>, where the
// envelope can be read at all.
func messageKey(value []byte) []byte {
	var env struct {
		TenantID string `json:"tenant_id"`
	}
	_ = json.Unmarshal(value, &env)
	return fmt.Appendf(nil, "%s/%x", env.TenantID, len(value))
}

// worker is one running pipeline over the stream, as `orderflow run` builds it.
type worker struct {
	cancel context.CancelFunc
	done   chan error
}

func (s *topicsUnderTest) startWorker(t *testing.T, sink pipeline.Sink, reg prometheus.Registerer) *worker {
	t.Helper()
	return s.startWorkerWith(t, sink, reg, s.stage)
}

func (s *topicsUnderTest) startWorkerWith(t *testing.T, sink pipeline.Sink, reg prometheus.Registerer, stage pipeline.Protector) *worker {
	t.Helper()
	consumer, err := consume.New(consume.Config{
		Brokers: s.brokers, GroupID: s.group, Topics: []string{s.amazon, s.ebay},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
		BatchMaxMessages: 7, BatchMaxWait: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	encrypter := s.dlqEncrypter
	if encrypter == nil {
		encrypter = s.vault
	}
	dlq, err := deadletter.New(deadletter.Config{Brokers: s.brokers, Topic: s.dlq, Encrypter: encrypter})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{
		Source: consumer, Protector: stage, Sinks: []pipeline.Sink{sink}, DeadLetters: dlq, Blocklist: s.blocklist,
		TopicChannels: map[string]order.Channel{s.amazon: order.ChannelAmazon, s.ebay: order.ChannelEbay},
		RetryInitial:  10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := p.Run(ctx)
		err = errors.Join(err, consumer.Close(), dlq.Close())
		w.done <- err
	}()
	return w
}

// stop cancels the worker and waits for it, failing on any error but the stop.
func (w *worker) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop within a minute of cancel")
	}
}

// runToEnd runs one worker with stage into a memory sink until the group has
// committed every message produced so far, then stops it; it returns the sink
// and the worker's metrics.
func (s *topicsUnderTest) runToEnd(t *testing.T, stage pipeline.Protector) (*pipelinetest.MemorySink, *prometheus.Registry) {
	t.Helper()
	sink := pipelinetest.NewMemorySink()
	reg := prometheus.NewRegistry()
	w := s.startWorkerWith(t, sink, reg, stage)
	s.waitCommitted(t, 2*time.Minute)
	w.stop(t)
	return sink, reg
}

// waitCommitted waits until the group's committed offsets reach every input
// partition's end offset.
func (s *topicsUnderTest) waitCommitted(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		behind := 0
		for topic, parts := range s.inputs {
			ends := stacktest.EndOffsets(t, s.brokers, topic, parts)
			committed := stacktest.CommittedOffsets(t, s.brokers, s.group, topic, parts)
			for p, end := range ends {
				if committed[p] < end {
					behind += int(end - max(committed[p], 0))
				}
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still uncommitted after %s", behind, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkOutcome: every good order exactly once and equal to its golden form, every
// bad message in the DLQ with its reason, and nothing else there.
func (s *topicsUnderTest) checkOutcome(t *testing.T, sink *pipelinetest.MemorySink) {
	t.Helper()
	got := sink.Orders()
	if len(got) != len(s.goodByKey) {
		t.Errorf("sink holds %d orders, want %d", len(got), len(s.goodByKey))
	}
	for k, canonical := range s.goodByKey {
		o, ok := got[k]
		if !ok {
			t.Errorf("order %v lost", k)
			continue
		}
		// What the stage makes of the normalised order on its own: tokens are
		// deterministic, ciphertexts are compared by what they decrypt to.
		want, err := s.stage.Protect(context.Background(), []order.Order{canonical})
		if err != nil {
			t.Fatalf("protect %v: %v", k, err)
		}
		if diff := cmp.Diff(want[0], o, s.protectedComparers(t, k.TenantID)...); diff != "" {
			t.Errorf("order %v differs from its protected normalised form (-want +got):\n%s", k, diff)
		}
	}
	if sink.Received() < 2*len(s.goodByKey) {
		t.Errorf("sink received %d orders, want at least %d (each produced twice)", sink.Received(), 2*len(s.goodByKey))
	}

	letters := stacktest.ReadAll(t, s.brokers, s.dlq, 3)
	seen := map[string]int{}
	for _, m := range letters {
		h := headerMap(m)
		if _, inClear := s.badReasons[string(m.Value)]; inClear || !strings.HasPrefix(string(m.Value), "vault:v") {
			t.Errorf("a DLQ payload is not Vault ciphertext (payload_encoding %q)", h[deadletter.HeaderPayloadEncoding])
		}
		m.Value = s.decryptLetter(t, m)
		want, ok := s.badReasons[string(m.Value)]
		if !ok {
			t.Errorf("unexpected DLQ message from %s/%s/%s (reason %s)", h[deadletter.HeaderSourceTopic], h[deadletter.HeaderSourcePartition], h[deadletter.HeaderSourceOffset], h[deadletter.HeaderReason])
			continue
		}
		seen[string(m.Value)]++
		if h[deadletter.HeaderReason] != want {
			t.Errorf("DLQ reason %q, want %q (error %q)", h[deadletter.HeaderReason], want, h[deadletter.HeaderError])
		}
		for _, name := range []string{deadletter.HeaderStage, deadletter.HeaderError, deadletter.HeaderSourceTopic, deadletter.HeaderSourcePartition, deadletter.HeaderSourceOffset} {
			if h[name] == "" {
				t.Errorf("DLQ message lacks header %s", name)
			}
		}
		if topic := h[deadletter.HeaderSourceTopic]; topic != s.amazon && topic != s.ebay {
			t.Errorf("DLQ source_topic %q", topic)
		}
	}
	for value, reason := range s.badReasons {
		if seen[value] == 0 {
			t.Errorf("bad message (reason %s) missing from the DLQ: %.80q", reason, value)
		}
	}
}

// decryptLetter decrypts a dead letter's payload under the key its headers
// name; a letter whose envelope has a valid tenant id must be under that
// tenant's key.
func (s *topicsUnderTest) decryptLetter(t *testing.T, m kafka.Message) []byte {
	t.Helper()
	h := headerMap(m)
	var plain [][]byte
	var err error
	switch h[deadletter.HeaderPayloadKey] {
	case deadletter.PayloadKeyTenant:
		plain, err = s.vault.Decrypt(context.Background(), h[deadletter.HeaderTenantID], []string{string(m.Value)})
	case deadletter.PayloadKeyPlatform:
		plain, err = s.vault.DecryptPlatform(context.Background(), []string{string(m.Value)})
	default:
		t.Fatalf("a dead letter with payload_key %q", h[deadletter.HeaderPayloadKey])
	}
	if err != nil {
		t.Fatalf("decrypt a dead letter (payload_key %s): %v", h[deadletter.HeaderPayloadKey], err)
	}
	o, err := normalizer.Normalize(plain[0])
	tenant := normalize.TenantOf(err)
	if err == nil { // routed to the DLQ: a good order on the wrong topic
		tenant = o.TenantID
	}
	if tenant != h[deadletter.HeaderTenantID] {
		t.Errorf("a dead letter of tenant %q is under the key of %q", tenant, h[deadletter.HeaderTenantID])
	}
	return plain[0]
}

func headerMap(m kafka.Message) map[string]string {
	h := make(map[string]string, len(m.Headers))
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// TestPipelineOnKafka: good and bad orders on both topics; every good order
// written once and equal to its normalised form, every bad one dead-lettered with
// its reason, offsets committed to the end, and the metrics say the same.
func TestPipelineOnKafka(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	sink, reg := s.runToEnd(t, s.stage)
	s.checkOutcome(t, sink)

	letters := 0
	for _, r := range normalize.Reasons {
		letters += int(telemetrytest.Sum(t, reg, "orderflow_dead_letters_total", "stage="+pipeline.StageNormalize, "reason="+string(r)))
	}
	letters += int(telemetrytest.Sum(t, reg, "orderflow_dead_letters_total", "stage="+pipeline.StageRoute, "reason="+pipeline.ReasonWrongTopic))
	if letters != len(s.badReasons) {
		t.Errorf("orderflow_dead_letters_total adds up to %d, want %d", letters, len(s.badReasons))
	}
}

// TestPipelineRestartLosesNothing stops the worker in the middle of a write, then
// starts a new one in the same group: everything still arrives.
func TestPipelineRestartLosesNothing(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	sink := pipelinetest.NewMemorySink()
	var running atomic.Pointer[worker] // set once the first worker has started
	stopped := make(chan struct{})
	var once sync.Once
	sink.BeforeWrite = func(ctx context.Context, writes int) error {
		if w := running.Load(); writes == 2 && w != nil {
			// SIGTERM in the middle of the third batch's write.
			once.Do(func() { w.cancel(); close(stopped) })
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	first := s.startWorker(t, sink, prometheus.NewRegistry())
	running.Store(first)
	select {
	case <-stopped:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first worker never reached its third write")
	}
	first.stop(t)
	if got, total := len(sink.Orders()), len(s.goodByKey); got >= total {
		t.Fatalf("the first worker wrote all %d orders before stopping: the restart proves nothing", got)
	}

	sink.BeforeWrite = nil
	second := s.startWorker(t, sink, prometheus.NewRegistry())
	s.waitCommitted(t, 2*time.Minute)
	second.stop(t)
	s.checkOutcome(t, sink)
}

// TestPipelineRebalanceLosesNothing runs two workers in one group; the second
// joins while the first is busy, forcing a rebalance, and both end up writing.
func TestPipelineRebalanceLosesNothing(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	sink := pipelinetest.NewMemorySink()
	joined := make(chan struct{})
	var once sync.Once
	sink.BeforeWrite = func(ctx context.Context, writes int) error {
		if writes == 1 {
			once.Do(func() { close(joined) })
		}
		time.Sleep(50 * time.Millisecond) // a slow sink keeps both members busy
		return nil
	}
	first, second := &countingSink{Sink: sink}, &countingSink{Sink: sink}
	a := s.startWorker(t, first, prometheus.NewRegistry())
	<-joined
	b := s.startWorker(t, second, prometheus.NewRegistry())
	s.waitCommitted(t, 3*time.Minute)
	a.stop(t)
	b.stop(t)
	s.checkOutcome(t, sink)
	if first.orders.Load() == 0 || second.orders.Load() == 0 {
		t.Errorf("orders written by the first worker %d, by the second %d: the rebalance never shared the work",
			first.orders.Load(), second.orders.Load())
	}
}

// countingSink counts what one worker writes through a shared sink.
type countingSink struct {
	pipeline.Sink
	orders atomic.Int64
}

func (c *countingSink) Write(ctx context.Context, batch uint64, orders []protected.Order) error {
	if err := c.Sink.Write(ctx, batch, orders); err != nil {
		return err
	}
	c.orders.Add(int64(len(orders)))
	return nil
}

// protectedComparers compare protected orders: tokens by value, ciphertexts by
// their plaintext under the tenant's key, timestamps as instants.
func (s *topicsUnderTest) protectedComparers(t *testing.T, tenant string) []cmp.Option {
	decrypt := func(c protected.Ciphertext) string {
		if c.Value() == "" {
			return ""
		}
		plain, err := s.vault.Decrypt(context.Background(), tenant, []string{c.Value()})
		if err != nil {
			t.Fatalf("decrypt: %v", err)
		}
		return string(plain[0])
	}
	return []cmp.Option{
		cmp.Comparer(func(a, b protected.Token) bool { return a.Value() == b.Value() }),
		cmp.Comparer(func(a, b protected.Ciphertext) bool { return decrypt(a) == decrypt(b) }),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(b, "\n")
}

// TestPipelineRetriesAFailingSinkAndNeverSkips: a sink that fails several times is
// retried with backoff; nothing is committed past the failure and nothing is lost.
func TestPipelineRetriesAFailingSinkAndNeverSkips(t *testing.T) {
	s := newStream(t)
	s.produceFixtures(t)
	sink := pipelinetest.NewMemorySink()
	var mu sync.Mutex
	failures := 0
	sink.BeforeWrite = func(ctx context.Context, writes int) error {
		mu.Lock()
		defer mu.Unlock()
		if writes == 1 && failures < 4 {
			failures++
			return errors.New("clickhouse: connection refused (injected)")
		}
		return nil
	}
	reg := prometheus.NewRegistry()
	w := s.startWorker(t, sink, reg)
	s.waitCommitted(t, 2*time.Minute)
	w.stop(t)
	s.checkOutcome(t, sink)
	if got := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage=write"); got != 4 {
		t.Errorf("orderflow_pipeline_retries_total{stage=write} = %v, want 4", got)
	}
}

// TestPipelineVaultDownRetriesAndCommitsNothing: while Vault answers 503 the batch
// is retried and nothing is committed; when Vault is back, everything arrives.
func TestPipelineVaultDownRetriesAndCommitsNothing(t *testing.T) {
	s := newStream(t)
	addr, _ := stacktest.Vault(t)
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	fault := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, `{"errors":["Vault is sealed"]}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer fault.Close()
	stage := stageOn(t, transittest.NewClient(t, transit.Config{Address: fault.URL, MaxAttempts: 1}))

	down.Store(true)
	s.produceFixtures(t)
	sink := pipelinetest.NewMemorySink()
	reg := prometheus.NewRegistry()
	w := s.startWorkerWith(t, sink, reg, stage)
	deadline := time.Now().Add(time.Minute)
	for telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage="+pipeline.StageProtect) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the protect stage was never retried while Vault was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for topic, parts := range s.inputs {
		for p, off := range stacktest.CommittedOffsets(t, s.brokers, s.group, topic, parts) {
			if off > 0 {
				t.Errorf("%s/%d committed to %d while Vault was down", topic, p, off)
			}
		}
	}
	if n := len(sink.Orders()); n != 0 {
		t.Errorf("%d orders written while Vault was down", n)
	}

	down.Store(false)
	s.waitCommitted(t, 2*time.Minute)
	w.stop(t)
	s.checkOutcome(t, sink)
}
