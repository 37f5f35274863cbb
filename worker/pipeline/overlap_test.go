package pipeline_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// These fakes inject timing, which no real server can be made to do on cue:
// a sink that holds its first write until released.

type scriptedSource struct {
	mu        sync.Mutex
	batches   [][]stream.Message
	lastID    uint64
	fetched   chan int // first offset of each batch handed out
	committed []int64  // last offset of each commit, in commit order
	// fetchErrs and commitErrs, when set, fail the next calls, one each.
	fetchErrs, commitErrs []error
}

func (s *scriptedSource) Fetch(ctx context.Context) (stream.Batch, error) {
	s.mu.Lock()
	if len(s.fetchErrs) > 0 {
		err := s.fetchErrs[0]
		s.fetchErrs = s.fetchErrs[1:]
		s.mu.Unlock()
		return stream.Batch{}, err
	}
	if len(s.batches) == 0 {
		s.mu.Unlock()
		<-ctx.Done()
		return stream.Batch{}, ctx.Err()
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	s.lastID++
	id := s.lastID
	s.mu.Unlock()
	s.fetched <- int(b[0].Offset)
	return stream.Batch{ID: id, Messages: b}, nil
}

// waitCommits waits until n batches are committed or the timeout passes; the
// test then checks what was committed.
func (s *scriptedSource) waitCommits(n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		got := len(s.committed)
		s.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *scriptedSource) Commit(_ context.Context, batch stream.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.commitErrs) > 0 {
		err := s.commitErrs[0]
		s.commitErrs = s.commitErrs[1:]
		return err
	}
	s.committed = append(s.committed, batch.Messages[len(batch.Messages)-1].Offset)
	return nil
}

// commits returns the offsets committed so far.
func (s *scriptedSource) commits() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed)
}

type passProtector struct{}

func (passProtector) Protect(_ context.Context, orders []order.Order) ([]protected.Order, error) {
	out := make([]protected.Order, len(orders))
	for i, o := range orders {
		out[i] = protected.Order{TenantID: o.TenantID, Channel: o.Channel, ChannelOrderID: o.ChannelOrderID}
	}
	return out, nil
}

type gateSink struct {
	release chan struct{}
	mu      sync.Mutex
	writes  int
}

func (s *gateSink) Write(ctx context.Context, _ uint64, _ []protected.Order) error {
	s.mu.Lock()
	s.writes++
	first := s.writes == 1
	s.mu.Unlock()
	if first {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type noLetters struct{}

func (noLetters) Publish(context.Context, []deadletter.Letter) error { return nil }

// While the first batch's write is held, the next batch is fetched and
// prepared (the stages overlap), but no further one: it would only wait, and
// on a live stream it is better filled once the writer is free. No commit
// happens before the held write ends, and commits follow fetch order.
func TestWriteOverlapsTheNextBatchAndCommitsInOrder(t *testing.T) {
	value := goodEbay(t, 1)[0]
	src := &scriptedSource{fetched: make(chan int, 10)}
	for i := range 4 {
		src.batches = append(src.batches, []stream.Message{{Topic: "orders.ebay", Offset: int64(10 * i), Value: value}, {Topic: "orders.ebay", Offset: int64(10*i + 1), Value: value}})
	}
	sink := &gateSink{release: make(chan struct{})}
	p, err := pipeline.New(pipeline.Config{
		Source: src, Protector: passProtector{}, Sinks: []pipeline.Sink{sink}, DeadLetters: noLetters{},
		TopicChannels: map[string]order.Channel{"orders.ebay": order.ChannelEbay},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	// Batch 0 is being written (held); batch 1 is fetched and prepared
	// meanwhile, and waits for the writer.
	for _, want := range []int{0, 10} {
		select {
		case got := <-src.fetched:
			if got != want {
				t.Fatalf("fetched batch at offset %d, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("batch at offset %d not fetched while the first write is held: the stages do not overlap", want)
		}
	}
	select {
	case got := <-src.fetched:
		t.Fatalf("batch at offset %d fetched while one prepared batch already waits for the held writer", got)
	case <-time.After(300 * time.Millisecond):
	}
	src.mu.Lock()
	early := len(src.committed)
	src.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d commits before the first write finished", early)
	}
	close(sink.release)
	src.waitCommits(4, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	want := []int64{1, 11, 21, 31}
	if len(src.committed) != len(want) {
		t.Fatalf("commits %v, want %v", src.committed, want)
	}
	for i := range want {
		if src.committed[i] != want[i] {
			t.Fatalf("commits %v, want %v (fetch order)", src.committed, want)
		}
	}
}

type blockTenant string

func (b blockTenant) Offboarded(tenant string) bool   { return tenant == string(b) }
func (blockTenant) Hold() (func(), error)             { return func() {}, nil }
func (blockTenant) EraseOrders([]protected.Order) int { return 0 }

type recordingSink struct {
	mu     sync.Mutex
	orders []protected.Order
}

func (s *recordingSink) Write(_ context.Context, _ uint64, orders []protected.Order) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = append(s.orders, orders...)
	return nil
}

// The orders of an offboarded tenant are neither written nor dead-lettered,
// yet committed: they are refused, and counted.
func TestOffboardedTenantsOrdersAreRefused(t *testing.T) {
	var good []pipelinetest.Fixture
	for _, f := range pipelinetest.Fixtures(t, filepath.Join(fixtures, "ebay", "*.json")) {
		if f.Err == nil {
			good = append(good, f)
		}
	}
	if len(good) < 2 {
		t.Fatal("fewer than two good eBay fixtures")
	}
	first := good[0].Order
	var batch []stream.Message
	refused := 0
	for i, f := range good {
		batch = append(batch, stream.Message{Topic: "orders.ebay", Offset: int64(i), Value: f.Value})
		if f.Order.TenantID == first.TenantID {
			refused++
		}
	}
	if refused == len(good) {
		t.Skip("every eBay fixture belongs to one tenant: nothing would be written")
	}
	src := &scriptedSource{fetched: make(chan int, 10), batches: [][]stream.Message{batch}}
	sink := &recordingSink{}
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.Config{
		Source: src, Protector: passProtector{}, Sinks: []pipeline.Sink{sink}, DeadLetters: noLetters{},
		Blocklist:     blockTenant(first.TenantID),
		TopicChannels: map[string]order.Channel{"orders.ebay": order.ChannelEbay}, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	src.waitCommits(1, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	committed := len(src.committed)
	src.mu.Unlock()
	if committed != 1 {
		t.Fatalf("%d commits, want 1", committed)
	}
	for _, o := range sink.orders {
		if o.TenantID == first.TenantID {
			t.Errorf("an order of offboarded tenant %s was written", first.TenantID)
		}
	}
	if len(sink.orders) != len(good)-refused {
		t.Errorf("%d orders written, want %d", len(sink.orders), len(good)-refused)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_orders_refused_offboarded_total"); got != float64(refused) {
		t.Errorf("refused counter %v, want %d", got, refused)
	}
}

// timedSink records when each write starts.
type timedSink struct {
	mu     sync.Mutex
	starts []time.Time
}

func (s *timedSink) Write(context.Context, uint64, []protected.Order) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, time.Now())
	return nil
}

// With MinWriteInterval, the writes of batches that are ready at once start
// at least that far apart, and every batch is still committed, in order.
func TestMinWriteIntervalSpacesTheWrites(t *testing.T) {
	const interval = 150 * time.Millisecond
	value := goodEbay(t, 1)[0]
	src := &scriptedSource{fetched: make(chan int, 10)}
	for i := range 4 {
		src.batches = append(src.batches, []stream.Message{{Topic: "orders.ebay", Offset: int64(i), Value: value}})
	}
	sink := &timedSink{}
	p, err := pipeline.New(pipeline.Config{
		Source: src, Protector: passProtector{}, Sinks: []pipeline.Sink{sink}, DeadLetters: noLetters{},
		TopicChannels: map[string]order.Channel{"orders.ebay": order.ChannelEbay}, MinWriteInterval: interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	src.waitCommits(4, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if !slices.Equal(src.committed, []int64{0, 1, 2, 3}) {
		t.Fatalf("commits %v, want every batch in order", src.committed)
	}
	// The pipeline times a write from its own start; the sink sees it a
	// moment later, by a goroutine's scheduling, so the gaps it sees may be
	// short of the interval by that much (without the interval they are
	// microseconds).
	const slack = 10 * time.Millisecond
	for i := 1; i < len(sink.starts); i++ {
		if gap := sink.starts[i].Sub(sink.starts[i-1]); gap < interval-slack {
			t.Errorf("write %d started %s after the one before, want at least %s", i, gap, interval)
		}
	}
}
