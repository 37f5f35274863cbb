package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/order"
)

// Offboarded tenants (P10): `orderflow offboard` records a tenant in
// {database}.offboarded_tenants before anything else, so that workers refuse
// the tenant's orders (Blocklist) and every purge pass deletes whatever of the
// tenant arrived all the same (sweepOffboarded). Without both, a batch in
// flight during the offboarding, or a replay of the input topics, would write
// the tenant's buyers' data again, under new keys.

// recordOffboarded adds the tenant to offboarded_tenants.
func (p *Purger) recordOffboarded(ctx context.Context, r *run) error {
	batch, err := p.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+p.cfg.Database+"."+schema.TableOffboardedTenants+" (tenant_id, offboarded_at, run_id)")
	if err != nil {
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	if err := batch.Append(r.tenant, p.cfg.Now().UTC().Truncate(time.Second), r.id); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	return nil
}

// offboardedTenants reads offboarded_tenants; only ids of the tenant-id form
// are returned, since they go into SQL.
func offboardedTenants(ctx context.Context, conn driver.Conn, database string) ([]string, error) {
	var out []string
	if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		if order.ValidTenantID(t) {
			out = append(out, t)
		}
		return nil
	}, "SELECT DISTINCT tenant_id FROM "+database+"."+schema.TableOffboardedTenants); err != nil {
		return nil, fmt.Errorf("reading offboarded tenants: %w", err)
	}
	return out, nil
}

// sweepOffboarded deletes any row of an offboarded tenant from every data
// table: one offboard_delete action per table that has some.
func (p *Purger) sweepOffboarded(ctx context.Context, r *run) ([]Action, error) {
	first := len(r.pending)
	tenants, err := offboardedTenants(ctx, p.cfg.Conn, p.cfg.Database)
	if err != nil || len(tenants) == 0 {
		return nil, err
	}
	quoted := make([]string, len(tenants))
	for i, t := range tenants {
		quoted[i] = "'" + t + "'"
	}
	predicate := "tenant_id IN (" + strings.Join(quoted, ", ") + ")"
	var errs []error
	for _, t := range p.tables {
		n, err := p.count(ctx, t, predicate)
		if err == nil && n == 0 {
			continue
		}
		a, t0 := p.begin(r, ActionOffboardDelete, t.name, reasonOffboarding)
		a.Predicate, a.Rows = predicate, n
		if err == nil && !r.dryRun {
			err = p.mutateDelete(ctx, t, predicate)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
			continue
		}
		if !r.dryRun {
			p.m.rows.WithLabelValues(t.name, reasonOffboarding).Add(float64(n))
		}
	}
	actions := append([]Action(nil), r.pending[first:]...)
	if len(errs) > 0 {
		return actions, fmt.Errorf("deleting offboarded tenants' rows: %w", errors.Join(errs...))
	}
	return actions, nil
}

// Blocklist is the set of offboarded tenants as one process sees it, and the
// gate in front of every Vault call for a tenant's data in that process
// (transit.Gate): what makes an offboarding two-phase.
//
// Each reload (at start, then every Interval) first writes a heartbeat, then
// reads offboarded_tenants and stores the set; a tenant, once in the set,
// never leaves it while the process runs. When the set gained tenants, the
// reload then waits until every call admitted under the previous set has
// returned (calls admitted later see the new set), tells the subscribers
// (transit.Client.ForgetTenant) and records an acknowledgement per new tenant
// in offboard_acks. Offboard destroys a tenant's keys only once every live
// worker has acknowledged it.
//
// Fail closed: the gate admits calls only while the list is fresh, that is
// while the monotonic clock is less than StaleAfter past the start of the last
// reload whose heartbeat was written. So a worker that cannot reload stops
// talking to Vault, and a worker whose heartbeat an offboarding no longer sees
// (older than StaleAfter plus one request, quiet_after_s) cannot be talking to
// Vault for any tenant.
//
// A Blocklist without a WorkerID is an observer (replay-dlq, the offboard
// command): it writes nothing, so offboardings never wait for it, and its gate
// therefore admits no call at all.
type Blocklist struct {
	cfg BlocklistConfig
	log *slog.Logger
	set atomic.Pointer[map[string]bool] // read without a lock by Offboarded
	// erased are the orders of buyers' erasures (erased.go), read without a
	// lock by EraseOrders; loaded by workers only.
	erased atomic.Pointer[map[erasedKey]erasedOrder]

	// mu orders admissions against stores of the set: a call joins the
	// current cohort and reads the set under it, and a store that adds
	// tenants seals the current cohort under it.
	mu      sync.Mutex
	current *cohort
	sealed  []*cohort // sealed cohorts that may still have calls inside
	// freshUntil is when the list goes stale: zero until a reload's heartbeat
	// is written. It carries a monotonic reading, and fresh compares both it
	// and the wall clock, since each can fail alone: the monotonic clock stops
	// while the host is suspended, the wall clock can be stepped back.
	freshUntil time.Time
	closed     bool // Run has ended: nothing more is admitted

	reload  sync.Mutex // one reload at a time; guards the fields below
	unacked []string   // tenants stored but not yet acknowledged, and erasure keys (ackKey)
	// erasedSince is the newest erased_at read; seenRegistrations the
	// erasures' registrations read so far.
	erasedSince       time.Time
	seenRegistrations map[uuid.UUID]bool
	subscribers       []TenantForgetter
	warnedStale       bool
}

// TenantForgetter drops what a process keeps in memory about a tenant
// (transit.Client: cached tokens, known keys).
type TenantForgetter interface {
	ForgetTenant(tenant string)
}

// BlocklistConfig configures a Blocklist. NewBlocklist fills the defaults and
// checks the rest.
type BlocklistConfig struct {
	// Conn reads offboarded_tenants and writes heartbeats and acknowledgements.
	// Required.
	Conn driver.Conn
	// Database holds offboarded_tenants, offboard_heartbeats and offboard_acks
	// (clickhouse.database). Required.
	Database string
	// WorkerID names this process in offboard_heartbeats and offboard_acks:
	// unique per process (host, pid and a random part). Default "": an
	// observer, whose gate admits nothing.
	WorkerID string
	// Interval is the time between reloads (offboarding.reload_interval).
	// Default 10s.
	Interval time.Duration
	// StaleAfter is how long after the start of its last good reload the list
	// is trusted (offboarding.stale_after); after that the gate refuses every
	// tenant until a reload succeeds. Default 1m; more than Interval.
	StaleAfter time.Duration
	// RequestTimeout bounds one Vault request once sent (vault.request_timeout):
	// a gated request is sent only while the list is fresh, so the worker is
	// quiet StaleAfter + RequestTimeout after the start of its last good reload;
	// each heartbeat records that bound (rounded up, plus a second for
	// DateTime's resolution). Default 10s.
	RequestTimeout time.Duration
	// QuiesceTimeout bounds a reload's wait for the calls admitted before it
	// stored new tenants; a reload that gives up acknowledges nothing and the
	// next one waits again. The wait holds up the next reload, so it must end
	// in time for one more before the list goes stale. Default StaleAfter
	// minus two Intervals (at least half an Interval, at most StaleAfter minus
	// an Interval, which is also the most it may be).
	QuiesceTimeout time.Duration
	// Logger receives failed reloads and acknowledgements. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock that decides staleness: a monotonic reading (time.Now)
	// of this process, never compared with another machine's. Default time.Now.
	Now func() time.Time
}

func (c *BlocklistConfig) setDefaults() {
	if c.Interval == 0 {
		c.Interval = 10 * time.Second
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = time.Minute
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.QuiesceTimeout == 0 {
		c.QuiesceTimeout = min(max(c.StaleAfter-2*c.Interval, c.Interval/2), c.StaleAfter-c.Interval)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *BlocklistConfig) validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("retention: blocklist: a ClickHouse connection is required"))
	}
	if !schema.ValidDatabaseName(c.Database) {
		errs = append(errs, fmt.Errorf("retention: blocklist: clickhouse.database %q is not %s", c.Database, schema.DatabaseNameRule))
	}
	if c.StaleAfter <= c.Interval || c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("retention: blocklist: offboarding.stale_after (%s) must be longer than offboarding.reload_interval (%s), which must be positive", c.StaleAfter, c.Interval))
	}
	if c.RequestTimeout < 0 || c.QuiesceTimeout < 0 {
		errs = append(errs, errors.New("retention: blocklist: request and quiesce timeouts must be positive"))
	}
	if c.QuiesceTimeout > c.StaleAfter-c.Interval {
		errs = append(errs, fmt.Errorf("retention: blocklist: the quiesce timeout (%s) must leave an interval (%s) before the list goes stale (%s): a reload waits for it",
			c.QuiesceTimeout, c.Interval, c.StaleAfter))
	}
	if len(c.WorkerID) > 200 {
		errs = append(errs, fmt.Errorf("retention: blocklist: worker id of %d bytes is longer than 200", len(c.WorkerID)))
	}
	return errors.Join(errs...)
}

// quietAfter is how long after a heartbeat's seen_at the worker may still be
// sending a request for a tenant's data, unless it heartbeats again: requests
// are sent only before the start of the reload (at or before seen_at) plus
// StaleAfter, and last at most RequestTimeout; one second more because seen_at
// is truncated to the second.
func (c *BlocklistConfig) quietAfter() time.Duration {
	return (c.StaleAfter + c.RequestTimeout + time.Second - 1).Truncate(time.Second) + time.Second
}

// ErrListStale is the reason the gate refuses every tenant for now: the list
// of offboarded tenants has not been reloaded within StaleAfter. Calls are
// admitted again after the next good reload.
var ErrListStale = errors.New("the list of offboarded tenants is stale: it could not be reloaded")

// errObserver refuses the calls of an observer's gate.
var errObserver = errors.New("this process does not acknowledge offboardings (no worker id), so it may not send tenants' data to Vault")

// errClosed refuses the calls after Run has ended.
var errClosed = errors.New("the offboarded-tenant list is closed: the worker is stopping")

// NewBlocklist checks cfg, loads the offboarded tenants (writing the first
// heartbeat and acknowledging every tenant already offboarded, unless it is
// an observer) and returns the Blocklist, fresh.
func NewBlocklist(ctx context.Context, cfg BlocklistConfig) (*Blocklist, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Blocklist{cfg: cfg, log: cfg.Logger.With("component", "blocklist", "worker_id", cfg.WorkerID), current: newCohort()}
	empty := map[string]bool{}
	b.set.Store(&empty)
	noOrders := map[erasedKey]erasedOrder{}
	b.erased.Store(&noOrders)
	b.seenRegistrations = map[uuid.UUID]bool{}
	if err := b.Reload(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Offboarded reports whether the tenant has been offboarded, as of the last
// reload (the pipeline asks it about every order: a map read).
func (b *Blocklist) Offboarded(tenant string) bool { return (*b.set.Load())[tenant] }

// Subscribe has f told (ForgetTenant) about every tenant offboarded from now
// on, once no call admitted before it entered the list is left.
func (b *Blocklist) Subscribe(f TenantForgetter) {
	b.reload.Lock()
	defer b.reload.Unlock()
	b.subscribers = append(b.subscribers, f)
}

// Hold admits one write of tenants' data (the pipeline's sink write) while the
// list is fresh, and refuses it for now (ErrListStale) when it is not or the
// gate is closed: an acknowledgement waits for it as it waits for Vault calls.
// Read Offboarded after Hold returns and drop what it refuses; call release
// once the write has returned.
func (b *Blocklist) Hold() (release func(), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, errClosed
	case b.cfg.WorkerID != "" && !b.freshLocked():
		// A worker whose list is stale is one an offboarding may no longer
		// wait for: it must not write a tenant's rows after that tenant's
		// deletes have been verified.
		return nil, ErrListStale
	}
	c := b.current
	c.n++
	return b.leaver(c), nil
}

// Enter admits one Vault call for the tenant (transit.Gate): refused for good
// when the tenant is offboarded, for now (ErrListStale and others) while the
// list is stale, the process is an observer or it is stopping.
func (b *Blocklist) Enter(tenant string) (leave func(), offboarded bool, err error) {
	b.mu.Lock()
	if offboarded, err = b.verdictLocked(tenant); offboarded || err != nil {
		b.mu.Unlock()
		return nil, offboarded, err
	}
	c := b.current
	c.n++
	b.mu.Unlock()
	return b.leaver(c), false, nil
}

// Check answers as Enter does for one request of an admitted call.
func (b *Blocklist) Check(tenant string) (offboarded bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.verdictLocked(tenant)
}

func (b *Blocklist) verdictLocked(tenant string) (bool, error) {
	switch {
	case b.Offboarded(tenant):
		return true, nil
	case b.cfg.WorkerID == "":
		return false, errObserver
	case b.closed:
		return false, errClosed
	case !b.freshLocked():
		return false, ErrListStale
	}
	return false, nil
}

// freshLocked reports whether the list may still be trusted, by the monotonic
// clock and by the wall clock both.
func (b *Blocklist) freshLocked() bool {
	now := b.cfg.Now()
	return now.Before(b.freshUntil) && now.Round(0).Before(b.freshUntil.Round(0))
}

func (b *Blocklist) leaver(c *cohort) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			c.leave()
		})
	}
}

// Run reloads the list every Interval until ctx ends. Then it closes the gate
// (nothing more is admitted), waits a moment for the calls inside, and writes
// a last heartbeat that says the worker has stopped, so that offboardings do
// not wait for it; it returns nil. A failed reload is logged, and the list
// goes stale StaleAfter after the last good one.
func (b *Blocklist) Run(ctx context.Context) error {
	tick := time.NewTicker(b.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.stop()
			return nil
		case <-tick.C:
			if err := b.Reload(ctx); err != nil && ctx.Err() == nil {
				b.logFailure(err)
			}
		}
	}
}

func (b *Blocklist) logFailure(err error) {
	b.mu.Lock()
	stale := !b.freshLocked()
	b.mu.Unlock()
	b.reload.Lock()
	defer b.reload.Unlock()
	if stale && !b.warnedStale {
		b.warnedStale = true
		b.log.Error("offboarded tenants not reloaded within the stale limit: refusing every tenant's Vault calls until a reload succeeds",
			"stale_after", b.cfg.StaleAfter, "err", err)
		return
	}
	b.log.Warn("offboarded tenants not reloaded; keeping the last list", "err", err)
}

// stopTimeout bounds the wait for admitted calls when the worker stops.
const stopTimeout = 5 * time.Second

func (b *Blocklist) stop() {
	b.mu.Lock()
	b.closed = true
	b.sealLocked()
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := b.drain(ctx); err != nil {
		// Its heartbeats stay: offboardings wait until it is certainly quiet.
		b.log.Warn("stopping with Vault calls still in flight; not signing off", "err", err)
		return
	}
	if b.cfg.WorkerID != "" {
		if _, err := b.writeHeartbeat(ctx, true); err != nil {
			b.log.Warn("could not record that the worker stopped", "err", err)
		}
	}
}

// Reload writes a heartbeat (unless an observer), reads the offboarded
// tenants and stores them; if there are tenants not yet acknowledged, it
// waits for the calls admitted before they were stored, tells the
// subscribers and acknowledges them. The list counts as fresh from the
// start of the reload once the heartbeat and the read have succeeded, whatever
// the acknowledgements do.
func (b *Blocklist) Reload(ctx context.Context) error {
	b.reload.Lock()
	defer b.reload.Unlock()
	start := b.cfg.Now()
	if b.cfg.WorkerID != "" {
		// Before the read: a worker that reads the list without a tenant has
		// already made itself visible to that tenant's offboarding.
		if _, err := b.writeHeartbeat(ctx, false); err != nil {
			return err
		}
	}
	tenants, err := offboardedTenants(ctx, b.cfg.Conn, b.cfg.Database)
	if err != nil {
		return err
	}
	// Only a worker acknowledges erasures, and so only it reads them.
	var erased map[erasedKey]erasedOrder
	var requests []uuid.UUID
	if b.cfg.WorkerID != "" {
		if erased, requests, err = b.loadErased(ctx); err != nil {
			return err
		}
	}
	old := *b.set.Load()
	var added []string
	for _, t := range tenants {
		if !old[t] {
			added = append(added, t)
		}
	}
	b.mu.Lock()
	if len(added) > 0 {
		next := maps.Clone(old)
		for _, t := range added {
			next[t] = true
		}
		b.set.Store(&next)
	}
	if len(erased) > 0 {
		b.storeErased(erased)
	}
	if len(added) > 0 || len(requests) > 0 {
		b.sealLocked()
	}
	if fresh := start.Add(b.cfg.StaleAfter); fresh.After(b.freshUntil) {
		b.freshUntil = fresh
	}
	b.mu.Unlock()
	b.warnedStale = false
	b.unacked = append(b.unacked, added...)
	for _, id := range requests {
		b.unacked = append(b.unacked, ackKey(id))
	}
	if len(b.unacked) == 0 {
		return nil
	}
	return b.acknowledge(ctx)
}

// acknowledge waits for every sealed cohort, then tells the subscribers and
// records the acknowledgements of the tenants stored so far.
func (b *Blocklist) acknowledge(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, b.cfg.QuiesceTimeout)
	defer cancel()
	if err := b.drain(qctx); err != nil {
		return fmt.Errorf("waiting for the Vault calls admitted before %d newly offboarded tenants were refused: %w", len(b.unacked), err)
	}
	for _, t := range b.unacked {
		if strings.HasPrefix(t, ackKeyPrefix) {
			continue // an erasure, not a tenant
		}
		for _, f := range b.subscribers {
			f.ForgetTenant(t)
		}
	}
	if b.cfg.WorkerID != "" {
		if err := b.writeAcks(ctx, b.unacked); err != nil {
			return err
		}
		b.log.Info("acknowledged offboarded tenants", "tenants", b.unacked)
	}
	b.unacked = nil
	return nil
}

// cohort counts the calls admitted while one version of the set was stored.
type cohort struct {
	n      int
	sealed bool
	empty  chan struct{} // closed once sealed with no call inside
}

func newCohort() *cohort { return &cohort{empty: make(chan struct{})} }

// leave and seal run under Blocklist.mu.
func (c *cohort) leave() {
	c.n--
	if c.sealed && c.n == 0 {
		close(c.empty)
	}
}

func (b *Blocklist) sealLocked() {
	c := b.current
	c.sealed = true
	if c.n == 0 {
		close(c.empty)
	} else {
		b.sealed = append(b.sealed, c)
	}
	b.current = newCohort()
}

// drain waits until every cohort sealed so far is empty.
func (b *Blocklist) drain(ctx context.Context) error {
	b.mu.Lock()
	waiting := slices.Clone(b.sealed)
	b.mu.Unlock()
	for _, c := range waiting {
		select {
		case <-c.empty:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	b.sealed = slices.DeleteFunc(b.sealed, func(c *cohort) bool { return slices.Contains(waiting, c) })
	b.mu.Unlock()
	return nil
}
