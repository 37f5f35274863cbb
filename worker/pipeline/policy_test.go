package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// The error policy, one class at a time, with faults injected at every stage
// by in-process fakes (the real servers cannot be made to fail on cue; the
// real-server cases are in classes_test.go and worker/cmd/orderflow).

// goodEbay returns n distinct good eBay fixtures' values.
func goodEbay(t *testing.T, n int) [][]byte {
	return pipelinetest.GoodFixtures(t, filepath.Join(fixtures, "ebay"), n)
}

// oneBatch is a source of one batch of the values, at offsets 0, 1, ...
func oneBatch(values [][]byte) *scriptedSource {
	var b []stream.Message
	for i, v := range values {
		b = append(b, stream.Message{Topic: "orders.ebay", Offset: int64(i), Value: v})
	}
	return &scriptedSource{fetched: make(chan int, 10), batches: [][]stream.Message{b}}
}

// scriptSink records every Write (batch ID and orders) and fails those that
// fail says to.
type scriptSink struct {
	mu     sync.Mutex
	calls  []sinkCall
	fail   func(call sinkCall, n int) error // n: this sink's calls so far
	taken  map[string]int                   // order id -> times written successfully
	failed int
}

type sinkCall struct {
	batch  uint64
	orders []string // channel order ids
}

func (s *scriptSink) Write(_ context.Context, batch uint64, orders []protected.Order) error {
	c := sinkCall{batch: batch}
	for _, o := range orders {
		c.orders = append(c.orders, o.ChannelOrderID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.calls)
	s.calls = append(s.calls, c)
	if s.fail != nil {
		if err := s.fail(c, n); err != nil {
			s.failed++
			return err
		}
	}
	if s.taken == nil {
		s.taken = map[string]int{}
	}
	for _, id := range c.orders {
		s.taken[id]++
	}
	return nil
}

func (s *scriptSink) snapshot() ([]sinkCall, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	taken := map[string]int{}
	for k, v := range s.taken {
		taken[k] = v
	}
	return slices.Clone(s.calls), taken
}

// recordingLetters keeps what is published and fails while errs last.
type recordingLetters struct {
	mu      sync.Mutex
	letters []deadletter.Letter
	errs    []error
}

func (r *recordingLetters) Publish(_ context.Context, letters []deadletter.Letter) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(letters) > 0 && len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		return err
	}
	r.letters = append(r.letters, letters...)
	return nil
}

func (r *recordingLetters) all() []deadletter.Letter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.letters)
}

// faultyProtector passes orders through and fails while errs last; refuse,
// when set, names orders to refuse for good.
type faultyProtector struct {
	mu     sync.Mutex
	errs   []error
	refuse func(o order.Order) error
}

func (f *faultyProtector) Protect(ctx context.Context, orders []order.Order) ([]protected.Order, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	if f.refuse != nil {
		for i, o := range orders {
			if err := f.refuse(o); err != nil {
				return nil, failure.InOrder(i, err)
			}
		}
	}
	return passProtector{}.Protect(ctx, orders)
}

// run runs p until done reports true (then stops it and returns nil) or Run
// returns by itself (its error).
func run(t *testing.T, p *pipeline.Pipeline, done func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- p.Run(ctx) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-result:
			return err
		case <-deadline:
			t.Fatal("the pipeline neither finished nor stopped within 30s")
		case <-time.After(5 * time.Millisecond):
		}
		if done() {
			cancel()
			if err := <-result; err != nil {
				t.Fatalf("Run after the stop: %v", err)
			}
			return nil
		}
	}
}

func newPipeline(t *testing.T, cfg pipeline.Config) (*pipeline.Pipeline, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	cfg.TopicChannels = map[string]order.Channel{"orders.ebay": order.ChannelEbay}
	cfg.RetryInitial, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	if cfg.Protector == nil {
		cfg.Protector = passProtector{}
	}
	if cfg.DeadLetters == nil {
		cfg.DeadLetters = &recordingLetters{}
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

var errInjected = errors.New("connection reset by peer (injected)")

// Many sinks, one commit: a batch is written to every sink; while one fails,
// nothing is committed, and the sink that has the batch is not written it
// again when the batch is retried for the other.
func TestTwoSinksOneCommit(t *testing.T) {
	values := goodEbay(t, 3)
	src := oneBatch(values)
	var committedWhileFailing []int
	outbox := &scriptSink{}
	clickhouse := &scriptSink{fail: func(_ sinkCall, n int) error {
		if n < 4 {
			committedWhileFailing = append(committedWhileFailing, len(src.commits()))
			return errInjected
		}
		return nil
	}}
	p, reg := newPipeline(t, pipeline.Config{Source: src, Sinks: []pipeline.Sink{outbox, clickhouse}})
	if err := run(t, p, func() bool { return len(src.commits()) == 1 }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(committedWhileFailing, []int{0, 0, 0, 0}) {
		t.Errorf("commits seen while a sink failed: %v, want none", committedWhileFailing)
	}
	outCalls, outTaken := outbox.snapshot()
	chCalls, chTaken := clickhouse.snapshot()
	if len(outCalls) != 1 {
		t.Errorf("the sink that succeeded was written %d times for the batch, want once", len(outCalls))
	}
	if len(chCalls) != 5 {
		t.Errorf("the failing sink was written %d times, want 4 failures and a success", len(chCalls))
	}
	for _, c := range append(outCalls, chCalls...) {
		if c.batch != chCalls[0].batch || c.batch == 0 {
			t.Errorf("a write of batch %d, want every write to carry the batch's ID %d", c.batch, chCalls[0].batch)
		}
	}
	if len(outTaken) != len(values) || len(chTaken) != len(values) {
		t.Errorf("orders written: outbox %d, clickhouse %d, want %d each", len(outTaken), len(chTaken), len(values))
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage="+pipeline.StageWrite); got != 4 {
		t.Errorf("write retries %v, want 4", got)
	}
}

// Permanent for one order: a sink that can never take an order names it; its
// message is dead-lettered (stage write, reason unwritable, under its
// tenant's key) and the rest of the batch is written and committed at once,
// without a retry. The other sink, which took the batch, is not written again.
func TestAnOrderASinkRefusesIsDeadLetteredAndTheRestWritten(t *testing.T) {
	values := goodEbay(t, 4)
	refused, err := normalizer.Normalize(values[2])
	if err != nil {
		t.Fatal(err)
	}
	src := oneBatch(values)
	letters := &recordingLetters{}
	outbox := &scriptSink{}
	clickhouse := &scriptSink{fail: func(c sinkCall, _ int) error {
		if i := slices.Index(c.orders, refused.ChannelOrderID); i >= 0 {
			return failure.InOrder(i, errors.New("status is not a canonical status"))
		}
		return nil
	}}
	p, reg := newPipeline(t, pipeline.Config{Source: src, Sinks: []pipeline.Sink{outbox, clickhouse}, DeadLetters: letters})
	if err := run(t, p, func() bool { return len(src.commits()) == 1 }); err != nil {
		t.Fatal(err)
	}
	got := letters.all()
	if len(got) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got))
	}
	l := got[0]
	if l.Stage != pipeline.StageWrite || l.Reason != pipeline.ReasonUnwritable || l.Source.Offset != 2 || l.TenantID != refused.TenantID {
		t.Errorf("letter stage %q reason %q offset %d tenant %q, want write, unwritable, 2, %q",
			l.Stage, l.Reason, l.Source.Offset, l.TenantID, refused.TenantID)
	}
	if l.Err == nil || !strings.Contains(l.Err.Error(), "status") {
		t.Errorf("letter error %v, want the sink's", l.Err)
	}
	_, chTaken := clickhouse.snapshot()
	if len(chTaken) != len(values)-1 || chTaken[refused.ChannelOrderID] != 0 {
		t.Errorf("clickhouse took %v, want every order but the refused one", chTaken)
	}
	if outCalls, _ := outbox.snapshot(); len(outCalls) != 1 {
		t.Errorf("the sink that took the batch was written %d times, want once", len(outCalls))
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); n != 0 {
		t.Errorf("%v retries: a refused order is not retried", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_dead_letters_total", "stage=write", "reason=unwritable"); n != 1 {
		t.Errorf("dead_letters_total{write,unwritable} = %v, want 1", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_orders_normalized_total"); n != float64(len(values)-1) {
		t.Errorf("orders counted %v, want %d", n, len(values)-1)
	}
}

// Permanent for one order at the protect stage: the refused order is
// dead-lettered (stage protect, reason unprotectable) and the others are
// protected again at once and written.
func TestAnOrderTheProtectStageRefusesIsDeadLettered(t *testing.T) {
	values := goodEbay(t, 3)
	refused, err := normalizer.Normalize(values[0])
	if err != nil {
		t.Fatal(err)
	}
	src := oneBatch(values)
	letters := &recordingLetters{}
	sink := &scriptSink{}
	stage := &faultyProtector{refuse: func(o order.Order) error {
		if o.ChannelOrderID == refused.ChannelOrderID {
			return errors.New("protect: invalid order: the tenant id is not valid")
		}
		return nil
	}}
	p, reg := newPipeline(t, pipeline.Config{Source: src, Protector: stage, Sinks: []pipeline.Sink{sink}, DeadLetters: letters})
	if err := run(t, p, func() bool { return len(src.commits()) == 1 }); err != nil {
		t.Fatal(err)
	}
	got := letters.all()
	if len(got) != 1 || got[0].Stage != pipeline.StageProtect || got[0].Reason != pipeline.ReasonUnprotectable || got[0].Source.Offset != 0 {
		t.Fatalf("letters %+v, want the first message's, stage protect, reason unprotectable", got)
	}
	if _, taken := sink.snapshot(); len(taken) != len(values)-1 {
		t.Errorf("%d orders written, want %d", len(taken), len(values)-1)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); n != 0 {
		t.Errorf("%v retries: a refused order is not retried", n)
	}
}

// Transient at every stage: the stage is retried with backoff, counted, and
// the batch ends written and committed once.
func TestTransientErrorsAreRetriedAtEveryStage(t *testing.T) {
	values := goodEbay(t, 2)
	src := oneBatch(values)
	src.fetchErrs = []error{errInjected}
	src.commitErrs = []error{errInjected, errInjected}
	letters := &recordingLetters{errs: []error{errInjected}}
	stage := &faultyProtector{errs: []error{errInjected, errInjected, errInjected}}
	sink := &scriptSink{fail: func(_ sinkCall, n int) error {
		if n == 0 {
			return errInjected
		}
		return nil
	}}
	// A route letter, so that the dead-letter stage has something to publish.
	wrong := stream.Message{Topic: "orders.ebay", Offset: 2, Value: goodAmazon(t)}
	src.batches[0] = append(src.batches[0], wrong)
	p, reg := newPipeline(t, pipeline.Config{Source: src, Protector: stage, Sinks: []pipeline.Sink{sink}, DeadLetters: letters})
	if err := run(t, p, func() bool { return len(src.commits()) == 1 }); err != nil {
		t.Fatal(err)
	}
	for stage, want := range map[string]float64{
		pipeline.StageFetch: 1, pipeline.StageProtect: 3, pipeline.StageDeadLetter: 1, pipeline.StageWrite: 1, pipeline.StageCommit: 2,
	} {
		if got := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage="+stage); got != want {
			t.Errorf("retries{stage=%s} = %v, want %v", stage, got, want)
		}
	}
	if _, taken := sink.snapshot(); len(taken) != len(values) {
		t.Errorf("%d orders written, want %d", len(taken), len(values))
	}
	if got := letters.all(); len(got) != 1 {
		t.Errorf("%d letters, want the one wrong-topic message", len(got))
	}
}

func goodAmazon(t *testing.T) []byte {
	return pipelinetest.GoodFixtures(t, filepath.Join(fixtures, "amazon"), 1)[0]
}

// Permanent for the worker, at every stage: Run returns at once with an
// error naming the stage, after no retry, and nothing is committed. Also an
// error that says an order can never pass but not which: the pipeline cannot
// act on it, so it stops rather than spin.
func TestWorkerErrorsStopThePipelineAtEveryStage(t *testing.T) {
	denied := failure.Stop(errors.New("permission denied (injected)"))
	for _, tc := range []struct {
		stage string
		setup func(src *scriptedSource, cfg *pipeline.Config)
	}{
		{pipeline.StageFetch, func(src *scriptedSource, _ *pipeline.Config) { src.fetchErrs = []error{denied} }},
		{pipeline.StageProtect, func(_ *scriptedSource, cfg *pipeline.Config) {
			cfg.Protector = &faultyProtector{errs: []error{denied}}
		}},
		{pipeline.StageDeadLetter, func(src *scriptedSource, cfg *pipeline.Config) {
			src.batches[0] = append(src.batches[0], stream.Message{Topic: "orders.ebay", Offset: 9, Value: []byte("{")})
			cfg.DeadLetters = &recordingLetters{errs: []error{denied}}
		}},
		{pipeline.StageWrite, func(_ *scriptedSource, cfg *pipeline.Config) {
			cfg.Sinks = append(cfg.Sinks, &scriptSink{fail: func(sinkCall, int) error { return denied }})
		}},
		{pipeline.StageCommit, func(src *scriptedSource, _ *pipeline.Config) { src.commitErrs = []error{denied} }},
		{pipeline.StageWrite + " (an order, unnamed)", func(_ *scriptedSource, cfg *pipeline.Config) {
			cfg.Sinks = append(cfg.Sinks, &scriptSink{fail: func(sinkCall, int) error {
				return &failure.Error{Class: failure.Order, Index: 99, Err: errInjected} // no such order
			}})
		}},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			src := oneBatch(goodEbay(t, 2))
			cfg := pipeline.Config{Source: src, Sinks: []pipeline.Sink{&scriptSink{}}}
			tc.setup(src, &cfg)
			p, reg := newPipeline(t, cfg)
			err := run(t, p, func() bool { return false })
			var stop *pipeline.StopError
			if !errors.As(err, &stop) || !strings.HasPrefix(tc.stage, stop.Stage) {
				t.Fatalf("Run = %v, want a StopError of stage %s", err, tc.stage)
			}
			if failure.Of(err) != failure.Worker || !strings.Contains(err.Error(), "stage "+stop.Stage) {
				t.Errorf("Run's error %q: want one of class worker naming the stage", err)
			}
			if n := len(src.commits()); n != 0 {
				t.Errorf("%d commits", n)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); n != 0 {
				t.Errorf("%v retries of an error permanent for the worker", n)
			}
		})
	}
}
