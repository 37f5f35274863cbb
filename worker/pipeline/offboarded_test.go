package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// offboardedList is a list of offboarded tenants that a test changes while
// the pipeline runs (retention.Blocklist reloads it from ClickHouse; the
// worker's wiring is tested with it in worker/cmd/orderflow). It is also a
// transit.Gate that refuses the tenants of gateOnly, so that a test can have
// Vault refuse a tenant before the pipeline's own list names it.
type offboardedList struct {
	mu       sync.Mutex
	tenants  map[string]bool
	gateOnly map[string]bool
}

func newOffboardedList() *offboardedList {
	return &offboardedList{tenants: map[string]bool{}, gateOnly: map[string]bool{}}
}

func (l *offboardedList) Offboarded(tenant string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tenants[tenant]
}

func (l *offboardedList) Hold() (func(), error) { return func() {}, nil }

func (l *offboardedList) EraseOrders([]protected.Order) int { return 0 }

func (l *offboardedList) Enter(tenant string) (func(), bool, error) {
	offboarded, err := l.Check(tenant)
	if offboarded || err != nil {
		return nil, offboarded, err
	}
	return func() {}, false, nil
}

func (l *offboardedList) Check(tenant string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tenants[tenant] || l.gateOnly[tenant], nil
}

func (l *offboardedList) add(tenant string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tenants[tenant] = true
}

// forget removes the tenant's messages from what the stream expects, and
// returns how many of its messages were produced.
func (s *topicsUnderTest) forget(t *testing.T, tenant string) (messages int) {
	t.Helper()
	for k := range s.goodByKey {
		if k.TenantID == tenant {
			delete(s.goodByKey, k)
			messages += 2 // each good fixture is produced twice
		}
	}
	for value := range s.badReasons {
		o, err := normalizer.Normalize([]byte(value))
		if normalize.TenantOf(err) == tenant || err == nil && o.TenantID == tenant {
			delete(s.badReasons, value)
			messages++
		}
	}
	if messages == 0 {
		t.Fatalf("no fixture of tenant %s", tenant)
	}
	return messages
}

const leaving = "bramble-home" // a fixtures' tenant

// produceBad writes malformed messages of the fixtures (their envelopes
// readable, so their tenants known) to the Amazon topic, each expected in the
// DLQ with its reason.
func (s *topicsUnderTest) produceBad(t *testing.T, files ...string) {
	t.Helper()
	var msgs []kafka.Message
	for _, f := range files {
		value := readFile(t, filepath.Join(fixtures, f))
		s.expectBad(t, value)
		msgs = append(msgs, kafka.Message{Topic: s.amazon, Key: messageKey(value), Value: value})
	}
	writer := &kafka.Writer{Addr: kafka.TCP(s.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	if err := writer.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	s.produced += len(msgs)
}

// badOfBoth are malformed messages of the leaving tenant and of another.
var badOfBoth = []string{
	"amazon/bad/amount-exponent.bad.json", "amazon/bad/bad-country.bad.json", // bramble-home
	"ebay/bad/amount-nan.bad.json", // acme-uk
}

// An offboarded tenant's messages are refused, not dead-lettered: malformed
// ones whose envelope names it included. They are counted, and the other
// tenants' messages all arrive; the letters of those are encrypted under
// their tenants' keys.
func TestOffboardedTenantsMessagesAreRefusedNotDeadLettered(t *testing.T) {
	s := newStream(t)
	list := newOffboardedList()
	list.add(leaving)
	s.blocklist = list
	s.produceFixtures(t)
	s.produceBad(t, badOfBoth...)
	refused := s.forget(t, leaving)
	sink, reg := s.runToEnd(t, s.stage)
	s.checkOutcome(t, sink)
	if got := telemetrytest.Sum(t, reg, "orderflow_orders_refused_offboarded_total"); got != float64(refused) {
		t.Errorf("orderflow_orders_refused_offboarded_total = %v, want %d", got, refused)
	}
}

// A tenant offboarded while its batch's write is being retried is dropped at
// the next attempt: the retry neither writes its orders nor stalls the
// partition for the tenants behind it.
func TestTenantOffboardedDuringSinkRetriesIsDropped(t *testing.T) {
	s := newStream(t)
	list := newOffboardedList()
	s.blocklist = list
	s.produceFixtures(t)
	sink := pipelinetest.NewMemorySink()
	var mu sync.Mutex
	blocked, writtenAfter := false, 0
	faulty := sinkFunc(func(ctx context.Context, batch uint64, orders []protected.Order) error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range orders {
			if o.TenantID != leaving {
				continue
			}
			if blocked {
				writtenAfter++
				continue
			}
			// The worker's list is reloaded while this write fails.
			blocked = true
			list.add(leaving)
			return errors.New("clickhouse: connection reset (injected)")
		}
		return sink.Write(ctx, batch, orders)
	})
	reg := prometheus.NewRegistry()
	w := s.startWorker(t, faulty, reg)
	s.waitCommitted(t, 2*time.Minute)
	w.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if !blocked {
		t.Fatal("no batch of the tenant reached the sink")
	}
	if writtenAfter != 0 {
		t.Errorf("%d orders of the tenant were written after it was offboarded", writtenAfter)
	}
	got := sink.Orders()
	for k := range s.goodByKey {
		if _, ok := got[k]; !ok && k.TenantID != leaving {
			t.Errorf("order %v of another tenant lost", k)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_orders_refused_offboarded_total"); n < 1 {
		t.Errorf("orderflow_orders_refused_offboarded_total = %v: the retried batch's orders of the tenant were not counted", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage=write"); n != 1 {
		t.Errorf("sink retries = %v, want the one injected failure", n)
	}
}

type sinkFunc func(context.Context, uint64, []protected.Order) error

func (f sinkFunc) Write(ctx context.Context, batch uint64, orders []protected.Order) error {
	return f(ctx, batch, orders)
}

// When Vault's gate refuses a tenant (it was offboarded, and the gate saw it
// before the pipeline's list did), protecting the batch fails with
// ErrTenantOffboarded: the pipeline drops the tenant's orders and goes on at
// once, rather than retrying a batch that can never pass; the dead letters of
// the tenant are refused the same way by the publisher's encryption. (An
// order of the tenant that needs nothing from Vault passes the gate; in a
// worker the gate and the list are one, and the list refuses it.)
func TestVaultRefusalOfAnOffboardedTenantDropsItsOrders(t *testing.T) {
	s := newStream(t)
	list := newOffboardedList()
	list.gateOnly[leaving] = true
	gated := transittest.NewClient(t, transit.Config{Gate: list})
	stage := stageOn(t, gated)
	s.dlqEncrypter = gated
	s.produceFixtures(t)
	s.produceBad(t, badOfBoth...)
	sink, reg := s.runToEnd(t, stage)

	got := sink.Orders()
	for k, o := range got {
		if k.TenantID != leaving {
			continue
		}
		b := o.Buyer
		if !b.Name.IsZero() || !b.Email.IsZero() || !b.Phone.IsZero() || !b.Username.IsZero() || !b.UserID.IsZero() ||
			!o.DeliveryLabel.IsZero() || !o.InvoiceParty.IsZero() {
			t.Errorf("order %v of the refused tenant was written with Vault's tokens or ciphertexts", k)
		}
	}
	for k := range s.goodByKey {
		if _, ok := got[k]; !ok && k.TenantID != leaving {
			t.Errorf("order %v of another tenant lost", k)
		}
	}
	others := 0
	for _, m := range stacktest.ReadAll(t, s.brokers, s.dlq, 3) {
		h := headerMap(m)
		switch h[deadletter.HeaderTenantID] {
		case leaving:
			t.Errorf("a message of the refused tenant was dead-lettered (reason %s)", h[deadletter.HeaderReason])
		case "acme-uk":
			others++
		}
	}
	if others == 0 {
		t.Error("no dead letter of another tenant under its key")
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_orders_refused_offboarded_total"); got == 0 {
		t.Error("no message of the refused tenant was counted as refused")
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total"); got != 0 {
		t.Errorf("%v retries: a refusal for an offboarded tenant is not retried", got)
	}
}
