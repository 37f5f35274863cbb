package erasure_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/erasure"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stream"
)

func msg(offset int64, value string) stream.Message {
	return stream.Message{Topic: "requests.erasure", Partition: 1, Offset: offset, Value: []byte(value)}
}

func TestDecodeRefusesWhatIsNotARequest(t *testing.T) {
	bad := map[string]string{
		"not JSON":                 `{"tenant_id": "acme"`,
		"an unknown member":        `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}, "why": "x"}`,
		"an unknown identifier":    `{"tenant_id": "acme", "identifiers": {"postcode": "SW1A 1AA"}}`,
		"no identifier":            `{"tenant_id": "acme", "identifiers": {"email": "  "}}`,
		"an invalid tenant":        `{"tenant_id": "Acme Ltd", "identifiers": {"email": "a@example.org"}}`,
		"no tenant, not eBay":      `{"identifiers": {"username": "ann"}}`,
		"no tenant, eBay by email": `{"source": "ebay_account_deletion", "identifiers": {"email": "a@example.org"}}`,
		"two values":               `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}} {}`,
	}
	for name, value := range bad {
		_, err := erasure.Decode(msg(7, value))
		if !erasure.IsRefused(err) {
			t.Errorf("%s: %v, want a refusal", name, err)
			continue
		}
		for _, secret := range []string{"a@example.org", "SW1A", "ann"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error %q quotes the request", name, err)
			}
		}
	}
}

func TestDecodeDerivesAStableIDFromTheMessage(t *testing.T) {
	a, err := erasure.Decode(msg(7, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := erasure.Decode(msg(7, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`))
	c, _ := erasure.Decode(msg(8, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`))
	if a.ID == uuid.Nil || a.ID != b.ID || a.ID == c.ID {
		t.Errorf("ids %s %s %s: want one per message, the same when it is read again", a.ID, b.ID, c.ID)
	}
	if a.Source != "kafka" || a.Tenant != "acme" || a.Identifiers.Email != "a@example.org" {
		t.Errorf("request %+v", a)
	}
	given := uuid.New()
	d, _ := erasure.Decode(msg(9, `{"request_id": "`+given.String()+`", "tenant_id": "acme", "identifiers": {"phone": "+44 7700 900123"}, "source": "seller-portal"}`))
	if d.ID != given || d.Source != "seller-portal" {
		t.Errorf("request %+v: want the given id and source kept", d)
	}
}

// source is a request stream of fixed batches, for fault injection.
type source struct {
	mu        sync.Mutex
	batches   []stream.Batch
	committed []uint64
}

func (s *source) Fetch(ctx context.Context) (stream.Batch, error) {
	s.mu.Lock()
	if len(s.batches) > 0 {
		b := s.batches[0]
		s.batches = s.batches[1:]
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return stream.Batch{}, ctx.Err()
}

func (s *source) Commit(_ context.Context, b stream.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, b.ID)
	return nil
}

// eraser records the requests it runs and fails the first failures of them.
type eraser struct {
	mu       sync.Mutex
	failures int
	done     []retention.ErasureRequest
	calls    int
}

func (e *eraser) Erase(_ context.Context, req retention.ErasureRequest) (retention.ErasureAnswer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if e.failures > 0 {
		e.failures--
		return retention.ErasureAnswer{}, errors.New("not every live worker acknowledged the request")
	}
	e.done = append(e.done, req)
	return retention.ErasureAnswer{Outcome: retention.ErasureErased}, nil
}

type tenants []string

func (t tenants) TenantsWithOrders(context.Context, string) ([]string, error) { return t, nil }

// A batch is committed once each of its requests is done, a failed erasure
// being tried again until it is; an eBay account deletion runs in every
// tenant with eBay orders, under ids that a redelivery reproduces; a message
// that is no request is committed without running.
func TestRunnerErasesEveryRequestBeforeCommitting(t *testing.T) {
	src := &source{batches: []stream.Batch{
		{ID: 1, Messages: []stream.Message{
			msg(1, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`),
			msg(2, `not a request`),
			msg(3, `{"source": "ebay_account_deletion", "request_id": "`+erasure.RequestID("ebay/n-1").String()+`", "identifiers": {"username": "ann_e", "user_id": "u1"}}`),
		}},
	}}
	er := &eraser{failures: 2}
	r, err := erasure.New(erasure.Config{Source: src, Eraser: er, Tenants: tenants{"acme", "bramble"},
		Retry: backoff.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		src.mu.Lock()
		n := len(src.committed)
		src.mu.Unlock()
		if n == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(src.committed) != 1 {
		t.Fatalf("committed %v, want the batch", src.committed)
	}
	if er.calls != 5 || len(er.done) != 3 {
		t.Fatalf("%d calls, %d done; want 2 failures then 3 erasures", er.calls, len(er.done))
	}
	if er.done[0].Tenant != "acme" || er.done[1].Tenant != "acme" || er.done[2].Tenant != "bramble" {
		t.Errorf("tenants %s %s %s, want acme, then the eBay deletion in acme and bramble", er.done[0].Tenant, er.done[1].Tenant, er.done[2].Tenant)
	}
	if er.done[1].ID == er.done[2].ID || er.done[1].Identifiers.Username != "ann_e" {
		t.Errorf("fan-out requests %+v %+v: want one id per tenant", er.done[1], er.done[2])
	}
}

// A runner stopped while a request keeps failing commits nothing.
func TestRunnerStoppedMidRequestCommitsNothing(t *testing.T) {
	src := &source{batches: []stream.Batch{{ID: 1, Messages: []stream.Message{msg(1, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`)}}}}
	er := &eraser{failures: 1 << 30}
	r, _ := erasure.New(erasure.Config{Source: src, Eraser: er, Tenants: tenants{}, MaxAttempts: 1 << 30,
		Retry: backoff.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(src.committed) != 0 || er.calls < 2 {
		t.Errorf("committed %v after %d failing calls, want nothing committed and retries", src.committed, er.calls)
	}
}

// A request that fails every attempt is recorded failed and committed, and
// the request behind it runs: one bad request does not hold up the others
// until the topic's retention deletes them.
func TestRunnerMovesOnAfterTheLastAttempt(t *testing.T) {
	src := &source{batches: []stream.Batch{
		{ID: 1, Messages: []stream.Message{msg(1, `{"tenant_id": "acme", "identifiers": {"email": "a@example.org"}}`)}},
		{ID: 2, Messages: []stream.Message{msg(2, `{"tenant_id": "acme", "identifiers": {"email": "b@example.org"}}`)}},
	}}
	er := &eraser{failures: 3}
	r, _ := erasure.New(erasure.Config{Source: src, Eraser: er, Tenants: tenants{}, MaxAttempts: 3,
		Retry: backoff.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		src.mu.Lock()
		n := len(src.committed)
		src.mu.Unlock()
		if n == 2 {
			break
		}
	}
	cancel()
	<-done
	er.mu.Lock()
	defer er.mu.Unlock()
	if len(src.committed) != 2 || er.calls != 4 || len(er.done) != 1 || er.done[0].Identifiers.Email != "b@example.org" {
		t.Errorf("committed %v, %d calls, done %+v; want both committed, 3 failed attempts then the next request erased", src.committed, er.calls, er.done)
	}
}
