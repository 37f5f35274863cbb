package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The fault suite of the connectors (issue 18, part 5): the courier and
// accounting stand-ins failing half their calls, holding calls past the
// connectors' timeout, answering a storm of 429s, and the dispatcher
// SIGKILLed between a call its provider carried out and its commit. Each
// case ends with every job once in its provider's ledger, nothing lost or
// parked, and no personal value in the dispatchers' logs. The faults come
// from a connectortest.FaultProxy in front of each stand-in, the same for
// every provider.

// envFaultsLong makes the fault suite run its long sizes.
const envFaultsLong = "ORDERFLOW_FAULTS_LONG"

// faultSizes are a run's sizes: generated orders (courier side), days of
// orders and orders (accounting side: a posting a day at QuickBooks, a week
// and a VAT invoice per business order at Xero), 429s in a row in a storm,
// and SIGKILLs.
type faultSizes struct {
	orders, days, bookOrders, storm, kills int
}

func sizes() faultSizes {
	if os.Getenv(envFaultsLong) == "1" {
		return faultSizes{orders: 1500, days: 60, bookOrders: 1200, storm: 25, kills: 8}
	}
	return faultSizes{orders: 160, days: 14, bookOrders: 170, storm: 10, kills: 3}
}

// connectorTimeout is the connectors' per-call timeout in these tests: a
// held call outlasts it (holdPast).
const (
	connectorTimeout = time.Second
	holdPast         = 3 * connectorTimeout
)

// halfFail fails about half the calls, from a seeded draw per call (a
// pattern by call number could fail one job's every attempt): 503, 429
// with Retry-After, 502 after the stand-in carried the call out, 429.
func halfFail(seed uint64) func(n int, write bool) (connectortest.Fault, bool) {
	return func(n int, _ bool) (connectortest.Fault, bool) {
		switch rand.New(rand.NewPCG(seed, uint64(n))).IntN(8) {
		case 4:
			return connectortest.Fault{Status: http.StatusServiceUnavailable}, true
		case 5, 7:
			return connectortest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}, true
		case 6:
			return connectortest.Fault{Status: http.StatusBadGateway, AfterApply: true}, true
		}
		return connectortest.Fault{}, false
	}
}

// slowCalls holds about a quarter of the calls past the connector's
// timeout, half of them after the stand-in carried the call out.
func slowCalls(seed uint64) func(n int, write bool) (connectortest.Fault, bool) {
	return func(n int, _ bool) (connectortest.Fault, bool) {
		switch rand.New(rand.NewPCG(seed, uint64(n))).IntN(8) {
		case 3:
			return connectortest.Fault{Delay: holdPast}, true
		case 5:
			return connectortest.Fault{Delay: holdPast, AfterApply: true}, true
		}
		return connectortest.Fault{}, false
	}
}

// storm429 answers calls from the 4th on, length of them in a row, 429
// with Retry-After 1.
func storm429(length int) func(n int, write bool) (connectortest.Fault, bool) {
	return func(n int, _ bool) (connectortest.Fault, bool) {
		if n >= 3 && n < 3+length {
			return connectortest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}, true
		}
		return connectortest.Fault{}, false
	}
}

// faultCase is one scenario: the proxies' faults, the connectors' timeout,
// the dispatcher's settings.
type faultCase struct {
	name    string
	fault   func(n int, write bool) (connectortest.Fault, bool)
	timeout time.Duration
	// paced checks that no call came inside a Retry-After (a storm).
	paced bool
	env   []string
}

func faultCases(sz faultSizes) []faultCase {
	// Half the calls failing, a job's chance of eight failures in a row
	// without a Retry-After is a percent or so: the dispatcher is given
	// more attempts there. The storm runs on the product's default (8),
	// which its 429s must not use up.
	const batch = "ORDERFLOW_DISPATCH_BATCH_MAX_MESSAGES=25"
	return []faultCase{
		{name: "HalfFail", fault: halfFail(18), env: []string{batch, "ORDERFLOW_DISPATCH_MAX_ATTEMPTS=30"}},
		{name: "TimeOut", fault: slowCalls(18), timeout: connectorTimeout, env: []string{batch, "ORDERFLOW_DISPATCH_MAX_ATTEMPTS=30"}},
		{name: "Storm429", fault: storm429(sz.storm), paced: true, env: []string{batch, "ORDERFLOW_DISPATCH_MAX_ATTEMPTS=8"}},
	}
}

// faultTally is what a case reports.
type faultTally struct {
	sent, delivered, duplicated, lost, parked int
	// redelivered counts deliveries the provider's de-duplication answered
	// (an idempotency key seen again, a Click & Drop lookup that found the
	// order).
	redelivered     int
	kills           int
	recoveries      []time.Duration
	calls, injected int
}

func (f faultTally) String() string {
	rec := make([]string, len(f.recoveries))
	for i, d := range f.recoveries {
		rec[i] = d.Round(10 * time.Millisecond).String()
	}
	return fmt.Sprintf("sent %d, delivered %d, duplicated %d, lost %d, parked %d; %d redeliveries de-duplicated; kills %d, recovery after each [%s]; %d calls, %d failed on purpose",
		f.sent, f.delivered, f.duplicated, f.lost, f.parked, f.redelivered, f.kills, strings.Join(rec, " "), f.calls, f.injected)
}

// countKills adds the kills, the recovery after each and the proxies'
// calls to the tally, and checks that each kill's work was delivered again
// and de-duplicated.
func (f *faultTally) countKills(t *testing.T, want int, restarts []time.Time, proxies ...*connectortest.FaultProxy) {
	t.Helper()
	f.kills, f.recoveries = len(restarts), recoveryTimes(restarts, proxies...)
	for _, p := range proxies {
		f.calls += len(p.Calls())
	}
	if f.kills != want || f.redelivered < f.kills {
		t.Errorf("%d kills, %d redeliveries de-duplicated; want %d kills, each followed by a redelivery", f.kills, f.redelivered, want)
	}
}

// countCalls adds the proxies' calls to the tally, and checks the pacing:
// no call arrives at a stand-in inside a Retry-After it answered.
func (f *faultTally) countCalls(t *testing.T, paced bool, proxies ...*connectortest.FaultProxy) {
	t.Helper()
	for _, p := range proxies {
		calls := p.Calls()
		f.calls += len(calls)
		hammered := 0
		for _, c := range calls {
			if !c.Injected {
				continue
			}
			f.injected++
			if !paced || c.RetryAfter == 0 {
				continue
			}
			// A tenth of the wait for jitter; calls already on their way when
			// the 429 was answered do not count.
			until := c.Answered.Add(c.RetryAfter * 9 / 10)
			for _, d := range calls {
				if d.At.After(c.Answered) && d.At.Before(until) {
					hammered++
				}
			}
		}
		if hammered > 0 {
			t.Errorf("%d calls reached a stand-in inside a Retry-After it had answered: the dispatcher must wait", hammered)
		}
	}
	if f.injected == 0 {
		t.Errorf("no call failed on purpose: the case proved nothing")
	}
}

// recoveryTimes are, for each restart, the time to the next write a stand-in
// carried out and answered (not a fault's).
func recoveryTimes(restarts []time.Time, proxies ...*connectortest.FaultProxy) []time.Duration {
	var calls []connectortest.ProxyCall
	for _, p := range proxies {
		calls = append(calls, p.Calls()...)
	}
	out := make([]time.Duration, len(restarts))
	for i, r := range restarts {
		out[i] = -1
		for _, c := range calls {
			if c.Write && !c.Injected && c.Status >= 200 && c.Status < 300 && c.At.After(r) {
				if d := c.Answered.Sub(r); out[i] < 0 || d < out[i] {
					out[i] = d
				}
			}
		}
	}
	return out
}

// killer SIGKILLs the dispatcher between a write its provider carried out
// and the batch's commit: a FaultProxy's Applied hook holds the answer of
// every every-th write (one a dispatcher sent after its start) while the
// test kills the dispatcher and starts another; the answer then goes to a
// closed connection.
type killer struct {
	every int

	mu      sync.Mutex
	left    int
	applied int
	since   time.Time // writes that arrived before are the dead dispatcher's
	hit     chan struct{}
	release chan struct{}
}

func newKiller(kills, every int) *killer {
	return &killer{every: every, left: kills, hit: make(chan struct{}), release: make(chan struct{})}
}

// Applied is the proxies' hook.
func (k *killer) Applied(arrived time.Time) {
	k.mu.Lock()
	if k.left == 0 || k.since.IsZero() || arrived.Before(k.since) {
		k.mu.Unlock()
		return
	}
	k.applied++
	if k.applied%k.every != 0 {
		k.mu.Unlock()
		return
	}
	k.left--
	k.since = time.Time{} // disarmed until the next dispatcher starts
	k.mu.Unlock()
	k.hit <- struct{}{}
	<-k.release
}

// run starts a dispatcher and, at each hit, kills it and starts another,
// until the kills are spent; it returns the last dispatcher and the
// restarts' times.
func (k *killer) run(t *testing.T, start func() *exec.Cmd) (*exec.Cmd, []time.Time) {
	t.Helper()
	k.mu.Lock()
	kills := k.left
	k.mu.Unlock()
	cmd := start()
	k.arm()
	var restarts []time.Time
	for range kills {
		select {
		case <-k.hit:
		case <-time.After(2 * time.Minute):
			t.Fatalf("after %d kills, no write to kill the dispatcher after", len(restarts))
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		k.release <- struct{}{}
		restarts = append(restarts, time.Now())
		cmd = start()
		k.arm()
	}
	return cmd, restarts
}

func (k *killer) arm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.since = time.Now()
}

// countParked counts the jobs on a parked topic, and logs each one's
// reason and error (which name no personal value).
func countParked(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	parked := stacktest.ReadAll(t, brokers, topic, 3)
	for _, m := range parked {
		var reason, why string
		for _, h := range m.Headers {
			switch h.Key {
			case dispatch.HeaderReason:
				reason = string(h.Value)
			case dispatch.HeaderError:
				why = string(h.Value)
			}
		}
		t.Logf("parked: %s: %s", reason, why)
	}
	return len(parked)
}

// dumpIfFailed logs the last lines of the dispatchers' output when t
// failed.
func (l *lineLog) dumpIfFailed(t *testing.T) {
	if !t.Failed() {
		return
	}
	lines := l.Lines()
	t.Logf("the dispatchers' last %d lines:\n%s", min(len(lines), 60), strings.Join(lines[max(len(lines)-60, 0):], "\n"))
}

// logTime is a JSON log record's time member.
var logTime = regexp.MustCompile(`"time":"[^"]*",?`)

// checkLogClean fails t for each line of the dispatchers' output that holds
// a personal value of the orders (or an order reference) or a value of the
// privacy corpus.
func checkLogClean(t *testing.T, log *lineLog, personal []string) {
	t.Helper()
	lines := log.Lines()
	if len(lines) == 0 {
		t.Fatal("the dispatchers logged nothing: the leak scan would prove nothing")
	}
	lowered := make([]string, len(personal))
	for i, v := range personal {
		lowered[i] = strings.ToLower(v)
	}
	for i, line := range lines {
		// A record's time is no value of an order, and its digits (with
		// the nanoseconds) would match the corpus' card numbers by chance.
		line = logTime.ReplaceAllString(line, "")
		lower := strings.ToLower(line)
		for _, v := range lowered {
			if strings.Contains(lower, v) {
				t.Errorf("log line %d holds a personal value or order reference (%d bytes): %s", i, len(v), line)
			}
		}
		if leaks := privacytest.Leaks(line); len(leaks) > 0 {
			t.Errorf("log line %d holds %v: %s", i, leaks, line)
		}
	}
}

// courierOutbox is the courier side of a fault test: generated orders of
// two sellers, through `orderflow run`, on the courier outbox.
type courierOutbox struct {
	e        *stackEnv
	rmTenant string // its orders go to Click & Drop; the other's to the webhook
	hook     string
	// refs are the distinct order references with a create job, by
	// tenant; keys the distinct idempotency keys of every job.
	refs, keys map[string][]string
	// personal are the orders' personal values and references.
	personal []string
}

func newCourierOutbox(t *testing.T, orders int) *courierOutbox {
	t.Helper()
	e := newStackEnv(t)
	e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("of-faults")
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	stream := newGeneratedStreamOf(t, e, generate.Config{Seed: 1805, Tenants: 2, MalformedRate: -1, UpdateRate: -1})
	secrets, _ := streamSecrets(t, stream, orders)
	runWorkerThrough(t, e)
	o := &courierOutbox{e: e, refs: map[string][]string{}, keys: map[string][]string{}, personal: secrets}
	for _, j := range readJobs(t, e) {
		if !slices.Contains(o.keys[j.TenantID], j.IdempotencyKey) {
			o.keys[j.TenantID] = append(o.keys[j.TenantID], j.IdempotencyKey)
		}
		if j.Kind == outbox.KindCreate && !slices.Contains(o.refs[j.TenantID], j.ChannelOrderID) {
			o.refs[j.TenantID] = append(o.refs[j.TenantID], j.ChannelOrderID)
			o.personal = append(o.personal, j.ChannelOrderID)
		}
	}
	var tenants []string
	for tenant := range o.refs {
		tenants = append(tenants, tenant)
	}
	slices.Sort(tenants)
	t.Cleanup(func() {
		for _, tenant := range tenants {
			_ = vault.DestroyTenantKeys(t.Context(), tenant)
		}
	})
	if len(tenants) != 2 || len(o.refs[tenants[0]]) < 10 || len(o.refs[tenants[1]]) < 10 {
		t.Fatalf("the outbox holds ready orders of %d sellers (%v): too few to prove anything", len(tenants), o.refs)
	}
	o.rmTenant, o.hook = tenants[0], tenants[1]
	return o
}

// courierRun is one dispatcher run over the outbox, against fresh
// stand-ins behind fault proxies.
type courierRun struct {
	rm      *clickanddroptest.Server
	hook    *webhooktest.Server
	proxies []*connectortest.FaultProxy
	env     []string
	cfgPath string
	group   string
	log     lineLog
}

// start makes the stand-ins, their proxies and the configuration; the
// dispatcher reads the outbox from its start in a group of its own and
// parks on a topic of its own.
func (o *courierOutbox) start(t *testing.T, pc connectortest.ProxyConfig, timeout time.Duration, env ...string) *courierRun {
	t.Helper()
	const rmKey = "rm-faults-api-key"
	r := &courierRun{rm: clickanddroptest.New(t, clickanddroptest.Config{APIKey: rmKey})}
	secretText, secret := newWebhookSecret(t)
	r.hook = webhooktest.New(webhooktest.Config{Keys: map[string][]byte{"k1": secret}})
	t.Cleanup(r.hook.Close)
	rmURL, hookURL := r.rm.URL, r.hook.URL
	for _, u := range []*string{&rmURL, &hookURL} {
		c := pc
		c.Target = origin(t, *u)
		p := connectortest.NewFaultProxy(t, c)
		r.proxies = append(r.proxies, p)
		*u = p.Rebase(*u)
	}
	r.cfgPath = writeConnectorsConfig(t, rmURL, hookURL, o.rmTenant, []string{o.hook}, timeout)
	parked := stacktest.UniqueName("cmd.parked")
	stacktest.CreateTopic(t, o.e.brokers, parked, 3)
	r.env = withEnv(couriersEnv(o.e, rmKey, secretText),
		"ORDERFLOW_KAFKA_TOPICS_PARKED="+parked,
		// The product's default, unless the case says.
		"ORDERFLOW_DISPATCH_MAX_ATTEMPTS=8",
		// Debug: every request's line, for the leak scan.
		"ORDERFLOW_LOG_LEVEL=debug")
	r.env = withEnv(r.env, env...)
	r.group = envValue(r.env, "ORDERFLOW_DISPATCH_GROUP_ID")
	t.Cleanup(func() { r.log.dumpIfFailed(t) })
	return r
}

func (r *courierRun) startDispatcher(t *testing.T) *exec.Cmd {
	t.Helper()
	return startDispatcherLogging(t, r.env, r.cfgPath, &r.log)
}

// finish waits for the dispatcher to commit the whole outbox, stops it,
// and checks and tallies the ledgers.
func (r *courierRun) finish(t *testing.T, o *courierOutbox, cmd *exec.Cmd) faultTally {
	t.Helper()
	waitCommitted(t, o.e, r.group, []string{o.e.courier}, 3)
	stopDispatcher(t, cmd)
	var f faultTally
	// Click & Drop files by order reference: each ready order once.
	rmCount := map[string]int{}
	for _, ord := range r.rm.Orders() {
		rmCount[ord.Reference]++
	}
	for _, ref := range o.refs[o.rmTenant] {
		f.sent++
		switch n := rmCount[ref]; {
		case n == 0:
			f.lost++
		default:
			f.delivered++
			f.duplicated += n - 1
		}
	}
	if extra := len(rmCount) - f.delivered; extra != 0 {
		t.Errorf("Click & Drop holds %d orders the outbox never asked for", extra)
	}
	// The webhook receiver files by idempotency key: each job once, and
	// each order created once.
	hookKeys := map[string]bool{}
	for _, d := range r.hook.Deliveries() {
		hookKeys[d.IdempotencyKey] = true
		f.redelivered += d.Duplicates
	}
	for _, c := range r.proxies[0].Calls() { // Click & Drop's: a lookup that found an order
		if !c.Write && !c.Injected && c.Status == http.StatusOK {
			f.redelivered++
		}
	}
	for _, key := range o.keys[o.hook] {
		f.sent++
		if hookKeys[key] {
			f.delivered++
		} else {
			f.lost++
		}
	}
	for _, ref := range o.refs[o.hook] {
		if ord, _ := r.hook.Order(ref); ord.Created > 1 {
			f.duplicated += ord.Created - 1
		}
	}
	for key := range hookKeys {
		if !slices.Contains(o.keys[o.hook], key) {
			t.Errorf("the webhook receiver holds a job the outbox never asked for")
		}
	}
	f.parked = countParked(t, o.e.brokers, envValue(r.env, "ORDERFLOW_KAFKA_TOPICS_PARKED"))
	if f.lost != 0 || f.duplicated != 0 || f.parked != 0 || len(r.rm.Duplicates()) != 0 {
		t.Errorf("%d jobs lost, %d duplicated, %d parked (Click & Drop's duplicates: %d), want none",
			f.lost, f.duplicated, f.parked, len(r.rm.Duplicates()))
	}
	if v := r.rm.Violations(); len(v) > 0 {
		t.Errorf("requests broke Click & Drop's contract: %v", v)
	}
	if rf := r.hook.Refusals(); len(rf) > 0 {
		t.Errorf("the webhook receiver refused requests: %v", rf)
	}
	checkLogClean(t, &r.log, o.personal)
	return f
}

// The courier stand-ins failing half their calls, holding calls past the
// connectors' timeout (some after carrying them out) and answering a storm
// of 429s with Retry-After: every ready order reaches its courier once,
// none is lost or parked, the dispatcher waits out every Retry-After, and
// its log holds no personal value.
func TestFaultCourierStandInsFailHalfTimeOutAndStorm(t *testing.T) {
	sz := sizes()
	o := newCourierOutbox(t, sz.orders)
	for _, c := range faultCases(sz) {
		t.Run(c.name, func(t *testing.T) {
			started := time.Now()
			r := o.start(t, connectortest.ProxyConfig{Fault: c.fault}, c.timeout, c.env...)
			f := r.finish(t, o, r.startDispatcher(t))
			f.countCalls(t, c.paced, r.proxies...)
			t.Logf("courier %s: %s; took %s", c.name, f, time.Since(started).Round(100*time.Millisecond))
		})
	}
}

// The courier dispatcher SIGKILLed, again and again, between a call its
// courier carried out and the commit of its batch: the next dispatcher
// delivers the batch again and the couriers' de-duplication (Click & Drop:
// the lookup by order reference; the webhook: the idempotency key) makes
// each order once.
func TestFaultCourierDispatcherKilledBetweenCallAndCommit(t *testing.T) {
	sz := sizes()
	o := newCourierOutbox(t, sz.orders)
	started := time.Now()
	k := newKiller(sz.kills, 4)
	r := o.start(t, connectortest.ProxyConfig{Applied: k.Applied}, 0)
	last, restarts := k.run(t, func() *exec.Cmd { return r.startDispatcher(t) })
	f := r.finish(t, o, last)
	f.countKills(t, sz.kills, restarts, r.proxies...)
	t.Logf("courier kills: %s; took %s", f, time.Since(started).Round(100*time.Millisecond))
}

// faultBooks is the accounting side of a fault case: the books of
// newBooks, a dispatcher of the product's default attempts logging at
// debug, for the leak scan.
func faultBooks(t *testing.T, sz faultSizes, pc connectortest.ProxyConfig, timeout time.Duration, env ...string) *booksRun {
	t.Helper()
	r := newBooks(t, booksConfig{Days: sz.days, Orders: sz.bookOrders, Proxy: &pc, Timeout: timeout})
	r.env = withEnv(r.env, append([]string{"ORDERFLOW_DISPATCH_MAX_ATTEMPTS=8", "ORDERFLOW_LOG_LEVEL=debug"}, env...)...)
	t.Cleanup(func() { r.log.dumpIfFailed(t) })
	return r
}

func (r *booksRun) startDispatcher(t *testing.T) *exec.Cmd {
	t.Helper()
	return startDispatcherLogging(t, r.env, r.cfgPath, &r.log)
}

// finish waits for every posting in the ledger and the outbox committed,
// stops the dispatcher, and checks and tallies the providers' ledgers: each
// posting once, the amounts to the penny (Xero's documents' totals, and
// `orderflow reconcile` of each seller), nothing parked, no personal value
// in the log.
func (r *booksRun) finish(t *testing.T, cmd *exec.Cmd) faultTally {
	t.Helper()
	for _, b := range r.books {
		waitFor(t, "seller "+b.tenant+"'s postings in the ledger", func() bool { return len(r.postedOf(b)) >= len(b.want) })
	}
	waitCommitted(t, r.e, r.group, []string{r.e.accounting}, 3)
	stopDispatcher(t, cmd)

	var f faultTally
	xero := map[string]int{}
	perEndpoint := map[[2]string]int{}
	for _, d := range r.xs.Documents() {
		ref := cmp.Or(d.Reference, d.InvoiceNumber)
		if perEndpoint[[2]string{ref, d.Endpoint}]++; perEndpoint[[2]string{ref, d.Endpoint}] == 1 {
			xero[ref]++
		} else {
			f.duplicated++
		}
	}
	qbo := map[string]int{}
	for _, entry := range r.qs.Entries() {
		var body struct{ PrivateNote string }
		if err := json.Unmarshal(entry.Body, &body); err != nil {
			t.Fatal(err)
		}
		if qbo[body.PrivateNote]++; qbo[body.PrivateNote] > 1 {
			f.duplicated++
		}
	}
	for _, c := range r.xs.Calls() {
		if c.Replayed {
			f.redelivered++
		}
	}
	seen := map[string]bool{}
	for _, id := range r.qs.RequestIDs() {
		if seen[id] {
			f.redelivered++
		}
		seen[id] = true
	}
	for i, docs := range []map[string]int{xero, qbo} {
		for _, p := range r.books[i].want {
			f.sent++
			if docs[p.Reference()] > 0 {
				f.delivered++
			} else {
				f.lost++
			}
		}
	}
	f.parked = countParked(t, r.e.brokers, r.e.parked)
	if f.lost != 0 || f.duplicated != 0 || f.parked != 0 {
		t.Errorf("%d postings lost, %d duplicated, %d parked, want none", f.lost, f.duplicated, f.parked)
	}
	for _, b := range r.books {
		checkPostedOnce(t, b, r.postedOf(b), b.want)
	}
	checkProviders(t, r.xs, r.qs, r.books)
	checkXeroTotals(t, r.xs, r.postedOf(r.books[0]))
	for _, b := range r.books {
		if out := reconcile(t, r.env, r.cfgPath, b.tenant, r.from, r.to); strings.Contains(out, "DIFFERENCE") || !strings.Contains(out, "reconciles to the penny") {
			t.Errorf("orderflow reconcile --tenant %s:\n%s", b.tenant, out)
		}
	}
	personal := privacytest.OrderValues{MinLen: 6}.Of(r.orders)
	for _, o := range r.orders {
		personal = append(personal, o.ChannelOrderID)
	}
	checkLogClean(t, &r.log, personal)
	return f
}

// The accounting stand-ins failing half their calls, holding calls past
// the connectors' timeout (some after carrying them out) and answering a
// storm of 429s with Retry-After: every period's posting and every VAT
// invoice is made once at Xero or QuickBooks and recorded once in the
// ledger, the amounts reconcile to the penny, nothing is parked, the
// dispatcher waits out every Retry-After, and its log holds no personal
// value.
func TestFaultBooksStandInsFailHalfTimeOutAndStorm(t *testing.T) {
	sz := sizes()
	for _, c := range faultCases(sz) {
		t.Run(c.name, func(t *testing.T) {
			r := faultBooks(t, sz, connectortest.ProxyConfig{Fault: c.fault}, c.timeout, c.env...)
			started := time.Now()
			f := r.finish(t, r.startDispatcher(t))
			f.countCalls(t, c.paced, r.proxies...)
			t.Logf("books %s: %s; took %s", c.name, f, time.Since(started).Round(100*time.Millisecond))
		})
	}
}

// The books' dispatcher SIGKILLed, again and again, between a posting its
// provider carried out and the ledger's record and the batch's commit: the
// next dispatcher posts it again under the same idempotency key (Xero's
// Idempotency-Key, QuickBooks' requestid) and the provider answers with the
// document it made the first time.
func TestFaultBooksDispatcherKilledBetweenCallAndCommit(t *testing.T) {
	sz := sizes()
	k := newKiller(sz.kills, 3)
	r := faultBooks(t, sz, connectortest.ProxyConfig{Applied: k.Applied}, 0)
	started := time.Now()
	last, restarts := k.run(t, func() *exec.Cmd { return r.startDispatcher(t) })
	f := r.finish(t, last)
	f.countKills(t, sz.kills, restarts, r.proxies...)
	t.Logf("books kills: %s; took %s", f, time.Since(started).Round(100*time.Millisecond))
}
