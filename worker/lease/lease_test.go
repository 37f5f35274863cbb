package lease_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/lease"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// newKey returns a fresh lease key, deleted (all versions) at cleanup.
func newKey(t *testing.T, c *api.Client) string {
	key := "orderflow-test/leases/" + stacktest.UniqueName("lease")
	t.Cleanup(func() { _, _ = c.Logical().Delete("secret/metadata/" + key) })
	return key
}

func newLease(t *testing.T, c *api.Client, key, holder string, ttl time.Duration) *lease.Lease {
	t.Helper()
	l, err := lease.New(lease.Config{Client: c, Key: key, TTL: ttl, Holder: holder})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// contenders returns a fresh key (on the stack's Vault) and two would-be
// holders of it with the given TTL, named as given.
func contenders(t *testing.T, ttl time.Duration, first, second string) (c *api.Client, key string, a, b *lease.Lease) {
	t.Helper()
	c = stacktest.VaultClient(t)
	key = newKey(t, c)
	return c, key, newLease(t, c, key, first, ttl), newLease(t, c, key, second, ttl)
}

// mustAcquire fails the test unless l gets the lease at once.
func mustAcquire(t *testing.T, ctx context.Context, l *lease.Lease) {
	t.Helper()
	if ok, err := l.Acquire(ctx); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
}

// TestOneHolderAtATime: rounds of eight would-be holders (each its own Lease,
// as eight processes would be) asking at the same instant; each round
// exactly one gets the lease, and after its release the next round starts
// without waiting for the TTL.
func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	c := stacktest.VaultClient(t)
	key := newKey(t, c)
	ctx := context.Background()
	const n = 8
	leases := make([]*lease.Lease, n)
	for i := range leases {
		leases[i] = newLease(t, c, key, "holder-"+string(rune('a'+i)), time.Minute)
	}
	for round := range 10 {
		start := make(chan struct{})
		got := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, l := range leases {
			wg.Go(func() {
				<-start
				got[i], errs[i] = l.Acquire(ctx)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		var winner *lease.Lease
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("round %d: holder %d: %v", round, i, errs[i])
			}
			if got[i] {
				winners++
				winner = leases[i]
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d holders got the lease at once, want exactly 1", round, winners)
		}
		if err := winner.Fence(ctx); err != nil {
			t.Errorf("round %d: the holder's fence: %v", round, err)
		}
		for _, l := range leases {
			if l != winner {
				if err := l.Fence(ctx); !errors.Is(err, lease.ErrLost) {
					t.Errorf("round %d: a non-holder's fence = %v, want ErrLost", round, err)
				}
			}
		}
		if err := winner.Release(ctx); err != nil {
			t.Fatalf("round %d: release: %v", round, err)
		}
	}
}

// TestAKilledHolderBlocksForItsTTLThenLosesItsFence: a holder that stops
// renewing without releasing (a killed pod) keeps others out until its TTL
// has passed on Vault's clock, then the lease is taken over; the old holder,
// if it comes back, fails its fence and its release leaves the new holder's
// lease alone.
func TestAKilledHolderBlocksForItsTTLThenLosesItsFence(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	c, key, killed, next := contenders(t, ttl, "killed", "next")

	life, kill := context.WithCancel(context.Background())
	mustAcquire(t, life, killed)
	took := time.Now()
	kill() // stops renewing; never releases
	ctx := context.Background()
	if ok, err := next.Acquire(ctx); ok || err != nil {
		t.Fatalf("Acquire while the killed holder's TTL runs = %v, %v; want false, nil", ok, err)
	}
	var waited time.Duration
	for {
		ok, err := next.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			waited = time.Since(took)
			break
		}
		if time.Since(took) > ttl+10*time.Second {
			t.Fatal("the stale lease was never taken over")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Vault's Date has whole seconds, so the takeover comes at the TTL or up
	// to a second or two later, never before.
	if waited < ttl-time.Second {
		t.Errorf("taken over %s after the last renewal, before the %s TTL", waited, ttl)
	}
	if err := killed.Fence(ctx); !errors.Is(err, lease.ErrLost) {
		t.Errorf("the killed holder's fence after the takeover = %v, want ErrLost", err)
	}
	if err := killed.Release(ctx); err != nil {
		t.Errorf("the killed holder's release: %v", err)
	}
	if err := next.Fence(ctx); err != nil {
		t.Errorf("the new holder's fence after the old one's release: %v", err)
	}
	if ok, err := newLease(t, c, key, "third", ttl).Acquire(ctx); ok || err != nil {
		t.Errorf("a third holder got the lease (%v, %v): the old holder's release freed the new holder's lease", ok, err)
	}
	_ = next.Release(ctx)
}

// TestRenewalKeepsTheLease: a holder that lives past several TTLs keeps the
// lease, because it renews it, and its fence passes throughout.
func TestRenewalKeepsTheLease(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	_, _, holder, other := contenders(t, ttl, "holder", "other")
	mustAcquire(t, context.Background(), holder)
	checkHeldThenReleased(t, holder, other, ttl)
}

// checkHeldThenReleased checks that holder's fence passes, and other cannot
// take the lease, for three TTLs (so across renewals); and that after
// holder's release other takes it at once.
func checkHeldThenReleased(t *testing.T, holder, other *lease.Lease, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(3 * ttl); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err := holder.Fence(ctx); err != nil {
			t.Fatalf("the holder's fence while renewing: %v", err)
		}
		if ok, err := other.Acquire(ctx); ok || err != nil {
			t.Fatalf("another got a renewed lease: %v, %v", ok, err)
		}
	}
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Acquire(ctx); !ok || err != nil {
		t.Errorf("Acquire after the release = %v, %v; want true at once", ok, err)
	}
	_ = other.Release(ctx)
}

func TestNewRefusesBadConfig(t *testing.T) {
	c, _ := api.NewClient(api.DefaultConfig())
	for name, cfg := range map[string]lease.Config{
		"no client":    {Key: "a/b"},
		"no key":       {Client: c},
		"absolute key": {Client: c, Key: "/a"},
		"dot-dot key":  {Client: c, Key: "a/../b"},
		"short TTL":    {Client: c, Key: "a", TTL: time.Second},
	} {
		if _, err := lease.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// overwrite writes the lease's entry from outside, with check-and-set on its
// current version, as a write of some holder would.
func overwrite(t *testing.T, c *api.Client, key string, data map[string]any) {
	t.Helper()
	ctx := context.Background()
	s, err := c.Logical().ReadWithContext(ctx, "secret/data/"+key)
	if err != nil || s == nil {
		t.Fatalf("reading the entry: %v", err)
	}
	version, err := s.Data["metadata"].(map[string]any)["version"].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "secret/data/"+key, map[string]any{
		"options": map[string]any{"cas": version}, "data": data,
	}); err != nil {
		t.Fatalf("overwriting the entry: %v", err)
	}
}

// A renewal that Vault applied but never answered (a timeout) leaves the
// holder a version behind its own entry. Here a write with the holder's own
// data stands for it: the holder's next check-and-set fails, and it must
// find the entry still its own and keep the lease, not give it up to the
// next comer; its release then frees it.
func TestAnAppliedButUnansweredRenewalKeepsTheLease(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	c, key, holder, other := contenders(t, ttl, "holder", "other")
	mustAcquire(t, context.Background(), holder)
	overwrite(t, c, key, map[string]any{"holder": holder.Holder(), "ttl_seconds": int64(ttl / time.Second), "released": false,
		"written_at": time.Now().UTC().Format(time.RFC3339)})
	checkHeldThenReleased(t, holder, other, ttl)
}

// A lease lost to another holder is given up (the entry is not ours), and
// acquiring it again later cancels the first holding's renewal context:
// every context the lease derived from the job's is cancelled once it is
// released.
func TestReacquiringAfterALostLeaseLeavesNoContextBehind(t *testing.T) {
	t.Parallel()
	c := stacktest.VaultClient(t)
	key := newKey(t, c)
	const ttl = 3 * time.Second
	l := newLease(t, c, key, "holder", ttl)
	job := newTrackingContext()
	mustAcquire(t, job, l)
	overwrite(t, c, key, map[string]any{"holder": "intruder", "ttl_seconds": 60, "released": false})
	for deadline := time.Now().Add(5 * ttl); ; time.Sleep(100 * time.Millisecond) {
		if err := l.Fence(context.Background()); errors.Is(err, lease.ErrLost) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the holder never noticed that another holder wrote the entry")
		}
	}
	overwrite(t, c, key, map[string]any{"holder": "intruder", "ttl_seconds": 60, "released": true})
	if ok, err := l.Acquire(job); !ok || err != nil {
		t.Fatalf("Acquire after the intruder's release = %v, %v", ok, err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := job.children(); n != 0 {
		t.Errorf("%d contexts derived from the job's are left uncancelled after the release", n)
	}
}

// trackingContext is a job's context that counts the contexts derived from
// it and not yet cancelled: context.WithCancel registers a child through
// AfterFunc when the parent has that method (and is not one of the
// package's own), and stops it when the child is cancelled.
type trackingContext struct {
	done chan struct{}
	mu   sync.Mutex
	live int
}

func newTrackingContext() *trackingContext { return &trackingContext{done: make(chan struct{})} }

func (c *trackingContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *trackingContext) Done() <-chan struct{}       { return c.done }
func (c *trackingContext) Err() error                  { return nil }
func (c *trackingContext) Value(any) any               { return nil }

func (c *trackingContext) AfterFunc(func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live++
	var once sync.Once
	return func() bool {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.live--
		})
		return true
	}
}

func (c *trackingContext) children() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}
