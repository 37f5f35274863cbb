package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// Partitions of the tests' topics, as worker/topics makes them.
const (
	courierPartitions = 6
	parkedPartitions  = 3
)

// scripted is a courier connector for fault injection: it answers each
// delivery as plan says, and records what it was given. The real connectors
// against their stand-ins are proven in their own packages and in the
// dispatcher's end-to-end test (worker/cmd/orderflow).
type scripted struct {
	plan func(d courier.Delivery, attempt int) courier.Result
	// fail, when set, fails a whole call instead (credentials refused).
	fail error

	mu       sync.Mutex
	attempts map[string]int // idempotency key -> deliveries seen
	done     map[string]int // idempotency key -> Done answers
	order    []string       // order references of the Done answers, in order
	got      map[string]courier.Delivery
	calls    int
	at       []time.Time // each call's time
}

func newScripted(plan func(courier.Delivery, int) courier.Result) *scripted {
	return &scripted{plan: plan, attempts: map[string]int{}, done: map[string]int{}, got: map[string]courier.Delivery{}}
}

func (s *scripted) Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.at = append(s.at, time.Now())
	if s.fail != nil {
		return nil, s.fail
	}
	out := make([]courier.Result, len(ds))
	for i, d := range ds {
		s.attempts[d.IdempotencyKey]++
		r := courier.Result{Outcome: courier.Done}
		if s.plan != nil {
			r = s.plan(d, s.attempts[d.IdempotencyKey])
		}
		if r.Outcome == courier.Done {
			s.done[d.IdempotencyKey]++
			s.order = append(s.order, string(d.Kind)+":"+d.OrderReference)
			s.got[d.IdempotencyKey] = d
		}
		out[i] = r
	}
	return out, nil
}

func (s *scripted) doneCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[key]
}

// rig is one test's topics, consumer group and dispatcher settings.
type rig struct {
	brokers                []string
	courier, parked, group string
	reg                    *prometheus.Registry
	// erased is the dispatchers' Erased (nil: none).
	erased dispatch.ErasedOrders
	// consumer is the last dispatcher's, closed when it has run: a member
	// left in the group would hold partitions no one reads.
	consumer *consume.Consumer
}

func newRig(t testing.TB) *rig {
	t.Helper()
	brokers := stacktest.KafkaBrokers(t)
	r := &rig{
		brokers: brokers,
		courier: stacktest.UniqueName("courier"),
		parked:  stacktest.UniqueName("parked"),
		group:   stacktest.UniqueName("dispatch"),
		reg:     prometheus.NewRegistry(),
	}
	stacktest.CreateTopic(t, brokers, r.courier, courierPartitions)
	stacktest.CreateTopic(t, brokers, r.parked, parkedPartitions)
	return r
}

// produce writes values to the outbox as the pipeline's sink does: keyed,
// acknowledged by every replica.
func (r *rig) produce(t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(r.brokers...), Topic: r.courier, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("produce %d jobs: %v", len(msgs), err)
	}
}

func jobMessages(t testing.TB, jobs []outbox.Job) []kafka.Message {
	t.Helper()
	out := make([]kafka.Message, len(jobs))
	for i := range jobs {
		v, err := json.Marshal(&jobs[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = kafka.Message{Key: []byte(jobs[i].Key()), Value: v}
	}
	return out
}

// connectors routes every tenant to one connector "rm" of the Click & Drop
// kind (its allow-list), without a rate limit worth the name.
func connectors(tenants []string, notifications ...string) config.Connectors {
	return config.Connectors{"rm": {
		Kind: "clickanddrop", Purpose: config.PurposeDelivery, Tenants: tenants, Notifications: notifications,
		RatePerSecond: 1000, Burst: 1000,
		Parcel:   config.Parcel{WeightGrams: 750, Format: "smallParcel", TariffCode: "420292"},
		Services: map[string]string{"NextDay": "TPN24"},
	}}
}

// dispatcher returns a dispatcher of the rig's topics and group.
func (r *rig) dispatcher(t testing.TB, dec dispatch.Decrypter, cs config.Connectors, c dispatch.Connector, maxAttempts int) *dispatch.Dispatcher {
	t.Helper()
	consumer, err := consume.New(consume.Config{
		Brokers: r.brokers, GroupID: r.group, Topics: []string{r.courier},
		BatchMaxMessages: 50, BatchMaxWait: 100 * time.Millisecond,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = consumer.Close() })
	r.consumer = consumer
	deliverers := map[string]dispatch.Connector{}
	for name := range cs {
		deliverers[name] = c
	}
	d, err := dispatch.New(dispatch.Config{
		Source: consumer, Decrypter: dec, Erased: r.erased, Connectors: cs, Deliverers: deliverers,
		Brokers: r.brokers, ParkedTopic: r.parked, MaxAttempts: maxAttempts,
		Backoff:    backoff.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Registerer: r.reg, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// runUntilCommitted runs d until its group has committed the whole outbox,
// and returns Run's error (nil when it was stopped).
func (r *rig) runUntilCommitted(t testing.TB, d *dispatch.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	end := stacktest.EndOffsets(t, r.brokers, r.courier, courierPartitions)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("the dispatcher stopped before the outbox was committed: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if r.committed(t, end) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the outbox was not committed in 90s: committed %v, end %v",
				stacktest.CommittedOffsets(t, r.brokers, r.group, r.courier, courierPartitions), end)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if err := r.consumer.Close(); err != nil {
		t.Errorf("leave the group: %v", err)
	}
}

// parkedJobs reads the parked topic whole.
func (r *rig) parkedJobs(t testing.TB) []kafka.Message {
	t.Helper()
	return stacktest.ReadAll(t, r.brokers, r.parked, parkedPartitions)
}

func headerOf(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// counter reads one series of the registry, 0 when absent.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// tenantsOf returns the distinct tenants of jobs, sorted.
func tenantsOf(jobs []outbox.Job) []string {
	set := map[string]bool{}
	for _, j := range jobs {
		set[j.TenantID] = true
	}
	return slices.Sorted(maps.Keys(set))
}

var errRefused = errors.New("HTTP 400 Bad Request, field recipient.address.postcode is required")

// outboxSize is the number of messages written to the outbox so far.
func (r *rig) outboxSize(t testing.TB) int64 {
	t.Helper()
	var n int64
	for _, end := range stacktest.EndOffsets(t, r.brokers, r.courier, courierPartitions) {
		n += end
	}
	return n
}

// committed reports whether the group has committed every partition to its
// end (an empty partition needs no commit).
func (r *rig) committed(t testing.TB, end map[int]int64) bool {
	t.Helper()
	got := stacktest.CommittedOffsets(t, r.brokers, r.group, r.courier, courierPartitions)
	for p, e := range end {
		if e > 0 && got[p] < e {
			return false
		}
	}
	return true
}
