// Package connectortest is the one contract suite every connector passes,
// courier and accounting alike (watermill's universal pubsub tests are the
// model). Run drives a connector against its stand-in through the one call
// the dispatcher makes with a batch of jobs, and checks what the dispatcher
// and P5/P6 rely on, once for every kind: 5xx, a slow answer and 429 are
// Retry (429 with its Retry-After), 400 is Failed and never sent again by the
// connector, a redelivery (after Done, and after a fault that applied the
// work but lost the answer) is one document in the provider's ledger,
// refused credentials stop the batch with courier.ErrCredentialsRefused, an
// ended context makes no call, and no personal value of the fixtures shows in
// an error, a log line or a metric label.
//
// What is particular to a kind of connector is its Harness: its jobs and
// fixtures, how a batch is sent, how the stand-in's ledger is keyed, and the
// kind's own checks (a courier's exact allow-listed fields and cancels:
// courier.go; an accounting invoice's party fields and summaries free of
// personal data: accounting.go). What is particular to a provider (its
// faults, its ledger, reading its requests back) stays in the provider's
// contract_test.go, never here.
package connectortest

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// Connector is what the suite drives: the dispatcher's one call with a batch
// of a kind's jobs J, answered with one courier.Result per job, at the same
// index. The error is not nil only when no result can be trusted (ctx ended,
// the credentials refused).
type Connector[J any] interface {
	Send(ctx context.Context, jobs []J) ([]courier.Result, error)
}

// StandIn is the suite's hold on a connector's stand-in provider.
type StandIn interface {
	// Fail queues faults: each of the next calls (as the Fault says) is
	// answered with the next one.
	Fail(faults ...Fault)
	// Calls is how many calls reached the stand-in's API (a token
	// endpoint's are not counted).
	Calls() int
	// Ledger is what the provider holds of the work filed under ref
	// (Harness.Ref of a job).
	Ledger(ref string) Entry
}

// Harness is one kind of connector's part of the suite: J is its job, S its
// stand-in (StandIn and what the kind's own checks read of it).
type Harness[J any, S StandIn] struct {
	// Shapes name the kind's jobs that make a document at the provider (a
	// courier's create; an accounting summary and invoice). Each universal
	// property is checked on each, in a subtest of its name.
	Shapes []string
	// Job is the n-th job of a shape: another n is other work (another
	// order, another period).
	Job func(t testing.TB, shape string, n int) J
	// Others, if set, are jobs that make no document of their own (a
	// courier's cancel of order n), sent beside the shapes' where no answer
	// is awaited (an ended context).
	Others func(t testing.TB, n int) []J
	// Ref is what the provider files a job under: the key of Ledger.
	Ref func(J) string
	// New starts a fresh stand-in and a connector against it, built with
	// env. Calls made in New (a mapping checked at start) are not counted.
	New func(t *testing.T, env Env) (Connector[J], S)
	// Checks are the kind's own properties, run after the universal ones.
	Checks []Check[J, S]
}

// Check is a property of one kind of connector.
type Check[J any, S StandIn] struct {
	Name string
	Run  func(t *testing.T, s *Suite[J, S])
}

// Env is what the suite gives a connector.
type Env struct {
	// Logger writes to a buffer the suite searches for personal data.
	Logger *slog.Logger
	// Registerer is a fresh registry whose labels the suite searches.
	Registerer prometheus.Registerer
	// Timeout is the connector's per-call timeout: a slow answer (Fault
	// Delay) outlasts it.
	Timeout time.Duration
	// Clock is the time a connector that keeps time (rate limits, token
	// expiry, a pause after 429) reads and waits on: it never sleeps, and
	// the suite moves it on by a Retry's RetryAfter before the redelivery,
	// as the dispatcher waits. A connector without a clock ignores it.
	Clock *Clock
}

// Clock is a clock that never sleeps: Sleep moves it on by the wait (and
// counts it), for the suite and a connector's own tests.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

// NewClock is a clock at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock on by d at once; it returns ctx.Err().
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return ctx.Err()
}

// Slept is the sum of the waits Sleep was asked for.
func (c *Clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Fault is how the stand-in answers a call instead of normally.
type Fault struct {
	// Status is answered (500, 429, 400, 401, 403). A 401 or 403 refuses
	// the connector's credentials: for a connector that refreshes its
	// access token, the refresh is refused too (the kind's harness revokes
	// it), since a 401 a fresh token cures is no refusal.
	Status int
	// RetryAfter is sent with Status, in whole seconds.
	RetryAfter time.Duration
	// Delay holds the answer back, past Env.Timeout.
	Delay time.Duration
	// AfterApply carries out the next call that does work (a create, a
	// cancel), then answers Status: the provider has it, the connector does
	// not know.
	AfterApply bool
}

// RetryAfterHeader is RetryAfter as a Retry-After header's seconds, ""
// when none.
func (f Fault) RetryAfterHeader() string {
	if f.RetryAfter <= 0 {
		return ""
	}
	return strconv.Itoa(int(f.RetryAfter / time.Second))
}

// Entry is the state at the provider of the work filed under one ref.
type Entry struct {
	// Created counts the documents made for it (a courier's orders or
	// shipments; an accounting provider's invoices, credit notes, journal
	// entries, receipts: not the customer an invoice is filed under).
	Created int
	// Cancelled: the provider no longer has the order (couriers).
	Cancelled bool
}

// Run runs the suite against h's connector: the universal properties on
// every shape of job, then the kind's checks.
func Run[J any, S StandIn](t *testing.T, h Harness[J, S]) {
	t.Helper()
	s := &Suite[J, S]{h: h}
	t.Run("ServerErrorIsRetry", s.each(s.serverError))
	t.Run("RateLimitIsRetryAfter", s.each(s.rateLimit))
	t.Run("SlowAnswerIsRetry", s.each(s.slowAnswer))
	t.Run("BadRequestFailsAndIsNotRetried", s.each(s.badRequest))
	t.Run("RefusedCredentialsStop", s.each(s.refusedCredentials))
	t.Run("RedeliveryAfterDoneCreatesOnce", s.each(s.redeliveryAfterDone))
	t.Run("RedeliveryAfterLostAnswerCreatesOnce", s.each(s.redeliveryAfterLostAnswer))
	t.Run("EndedContextSendsNothing", s.endedContext)
	for _, c := range h.Checks {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, s) })
	}
}

// Suite is a run of the suite, for a kind's checks.
type Suite[J any, S StandIn] struct {
	h Harness[J, S]
}

// Instance is one fresh connector and stand-in, checked at the test's end
// for personal data in its logs and metric labels.
type Instance[J any, S StandIn] struct {
	// StandIn is the connector's stand-in.
	StandIn S
	conn    Connector[J]
	ref     func(J) string
	env     Env
	base    int
	logs    *privacytest.LogBuffer
	reg     *prometheus.Registry
}

const timeout = 300 * time.Millisecond

// Start is a fresh connector and stand-in.
func (s *Suite[J, S]) Start(t *testing.T) *Instance[J, S] {
	t.Helper()
	in := &Instance[J, S]{ref: s.h.Ref, logs: &privacytest.LogBuffer{}, reg: prometheus.NewRegistry()}
	in.env = Env{
		Logger: in.logs.Logger(), Registerer: in.reg, Timeout: timeout,
		Clock: NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)),
	}
	in.conn, in.StandIn = s.h.New(t, in.env)
	in.base = in.StandIn.Calls()
	t.Cleanup(func() {
		AssertClean(t, "the log", in.logs.String())
		families, err := in.reg.Gather()
		if err != nil {
			t.Errorf("gather: %v", err)
			return
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					AssertClean(t, fmt.Sprintf("metric %s label %s", f.GetName(), l.GetName()), l.GetValue())
				}
			}
		}
	})
	return in
}

// Job is the n-th job of a shape.
func (s *Suite[J, S]) Job(t testing.TB, shape string, n int) J {
	t.Helper()
	return s.h.Job(t, shape, n)
}

// each runs a property once per shape, each in a subtest of its name.
func (s *Suite[J, S]) each(property func(t *testing.T, shape string)) func(t *testing.T) {
	return func(t *testing.T) {
		for _, shape := range s.h.Shapes {
			t.Run(shape, func(t *testing.T) { property(t, shape) })
		}
	}
}

// Send sends jobs and checks the answer's shape and errors: one result per
// job, an error on each result that is not Done and only on those, no
// personal value in any error.
func (in *Instance[J, S]) Send(t *testing.T, jobs ...J) []courier.Result {
	t.Helper()
	res, err := in.conn.Send(t.Context(), jobs)
	if err != nil {
		AssertClean(t, "Send's error", err.Error())
		t.Fatalf("Send: %v", err)
	}
	if len(res) != len(jobs) {
		t.Fatalf("Send: %d results for %d jobs", len(res), len(jobs))
	}
	for i, r := range res {
		if r.Err != nil {
			AssertClean(t, fmt.Sprintf("result %d's error", i), r.Err.Error())
		}
		if (r.Err == nil) != (r.Outcome == courier.Done) {
			t.Errorf("result %d: outcome %v with error %v: an error says why a job is not done, and only then", i, r.Outcome, r.Err)
		}
	}
	return res
}

// One sends one job.
func (in *Instance[J, S]) One(t *testing.T, j J) courier.Result {
	t.Helper()
	return in.Send(t, j)[0]
}

// Calls is how many calls reached the stand-in since Start.
func (in *Instance[J, S]) Calls() int { return in.StandIn.Calls() - in.base }

// Ledger is what the provider holds of j's work.
func (in *Instance[J, S]) Ledger(j J) Entry { return in.StandIn.Ledger(in.ref(j)) }

// wait is the dispatcher's wait before a redelivery: Retry-After on the
// connector's clock.
func (in *Instance[J, S]) wait(r courier.Result) { in.env.Clock.Advance(r.RetryAfter) }

// retried checks a fault's Retry, and that the connector did not retry
// inside: one call, nothing made; then a redelivery (after the Retry-After)
// is done, made once.
func (s *Suite[J, S]) retried(t *testing.T, shape string, f Fault) courier.Result {
	t.Helper()
	in := s.Start(t)
	j := s.Job(t, shape, 1)
	in.StandIn.Fail(f)
	r := in.One(t, j)
	if r.Outcome != courier.Retry {
		t.Fatalf("%+v: %v (%v), want retry", f, r.Outcome, r.Err)
	}
	if n := in.Calls(); n != 1 {
		t.Errorf("%+v: %d calls, want 1: the dispatcher retries, not the connector", f, n)
	}
	if e := in.Ledger(j); e.Created != 0 {
		t.Errorf("%+v: %d documents made", f, e.Created)
	}
	in.wait(r)
	if r := in.One(t, j); r.Outcome != courier.Done {
		t.Errorf("redelivery after %+v: %v (%v), want done", f, r.Outcome, r.Err)
	}
	if e := in.Ledger(j); e.Created != 1 {
		t.Errorf("after the redelivery: %d documents made, want 1", e.Created)
	}
	return r
}

func (s *Suite[J, S]) serverError(t *testing.T, shape string) {
	for _, status := range []int{500, 502, 503} {
		r := s.retried(t, shape, Fault{Status: status})
		if r.RetryAfter != 0 {
			t.Errorf("%d without Retry-After: retry after %v", status, r.RetryAfter)
		}
	}
}

func (s *Suite[J, S]) rateLimit(t *testing.T, shape string) {
	r := s.retried(t, shape, Fault{Status: 429, RetryAfter: 7 * time.Second})
	if r.RetryAfter != 7*time.Second {
		t.Errorf("429 with Retry-After 7: retry after %v", r.RetryAfter)
	}
}

func (s *Suite[J, S]) slowAnswer(t *testing.T, shape string) {
	s.retried(t, shape, Fault{Delay: 10 * timeout})
}

func (s *Suite[J, S]) badRequest(t *testing.T, shape string) {
	in := s.Start(t)
	j := s.Job(t, shape, 2)
	in.StandIn.Fail(Fault{Status: 400})
	r := in.One(t, j)
	if r.Outcome != courier.Failed || r.RetryAfter != 0 {
		t.Fatalf("400: %v after %v (%v), want failed", r.Outcome, r.RetryAfter, r.Err)
	}
	if n := in.Calls(); n != 1 {
		t.Errorf("400: %d calls, want 1: a refusal is never sent again", n)
	}
	if e := in.Ledger(j); e.Created != 0 {
		t.Errorf("400: %d documents made", e.Created)
	}
}

func (s *Suite[J, S]) refusedCredentials(t *testing.T, shape string) {
	for _, status := range []int{401, 403} {
		in := s.Start(t)
		in.StandIn.Fail(Fault{Status: status})
		_, err := in.conn.Send(t.Context(), []J{s.Job(t, shape, 3)})
		if !errors.Is(err, courier.ErrCredentialsRefused) {
			t.Errorf("%d: error %v, want one matching courier.ErrCredentialsRefused", status, err)
		}
		if err != nil {
			AssertClean(t, "Send's error", err.Error())
		}
	}
}

func (s *Suite[J, S]) redeliveryAfterDone(t *testing.T, shape string) {
	in := s.Start(t)
	j := s.Job(t, shape, 4)
	for i, r := range append(in.Send(t, j, j), in.One(t, j)) {
		if r.Outcome != courier.Done {
			t.Errorf("delivery %d: %v (%v), want done", i, r.Outcome, r.Err)
		}
	}
	if e := in.Ledger(j); e.Created != 1 {
		t.Errorf("delivered three times: %d documents made, want 1", e.Created)
	}
}

func (s *Suite[J, S]) redeliveryAfterLostAnswer(t *testing.T, shape string) {
	in := s.Start(t)
	j := s.Job(t, shape, 5)
	in.StandIn.Fail(Fault{Status: 502, AfterApply: true})
	r := in.One(t, j)
	if r.Outcome != courier.Retry {
		t.Fatalf("the answer lost: %v (%v), want retry", r.Outcome, r.Err)
	}
	if e := in.Ledger(j); e.Created != 1 {
		t.Fatalf("the fault did not apply the work: %d documents", e.Created)
	}
	in.wait(r)
	if r := in.One(t, j); r.Outcome != courier.Done {
		t.Errorf("redelivery: %v (%v), want done", r.Outcome, r.Err)
	}
	if e := in.Ledger(j); e.Created != 1 {
		t.Errorf("after the redelivery: %d documents made, want 1", e.Created)
	}
}

// endedContext sends one job of every shape, and the others, on an ended
// context.
func (s *Suite[J, S]) endedContext(t *testing.T) {
	in := s.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var jobs []J
	for i, shape := range s.h.Shapes {
		jobs = append(jobs, s.Job(t, shape, 8+i*2))
	}
	if s.h.Others != nil {
		jobs = append(jobs, s.h.Others(t, 9)...)
	}
	_, err := in.conn.Send(ctx, jobs)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n := in.Calls(); n != 0 {
		t.Errorf("%d calls after the context ended", n)
	}
}

//go:embed testdata
var testdata embed.FS

// personal are the fixtures' personal values (every value of three
// characters or more of a courier's delivery labels, testdata/label-*.json,
// and of an accounting invoice's party, testdata/party-*.json) and order
// references: none may appear in an error, a log line or a metric label.
var personal = sync.OnceValue(func() []string {
	var out []string
	for _, pattern := range []string{"testdata/label-*.json", "testdata/party-*.json"} {
		names, err := fs.Glob(testdata, pattern)
		if err != nil || len(names) == 0 {
			panic(fmt.Sprintf("connectortest: no fixtures %s: %v", pattern, err))
		}
		for _, name := range names {
			var fields map[string]string
			if err := json.Unmarshal(readFile(nil, path.Base(name)), &fields); err != nil {
				panic(err)
			}
			for _, v := range fields {
				if len([]rune(v)) >= 3 {
					out = append(out, strings.ToLower(v))
				}
			}
		}
	}
	slices.Sort(out)
	return append(slices.Compact(out), "203-", "76543")
})

// AssertClean fails t when text holds a personal value of the fixtures or
// an order reference; what names the text.
func AssertClean(t testing.TB, what, text string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, v := range personal() {
		if containsValue(lower, v) {
			t.Errorf("%s holds a fixture's personal value or order reference (%d characters): %s", what, len([]rune(v)), text)
		}
	}
}

// containsValue reports whether text holds v; a value of digits alone counts
// only where no digit adjoins it, since a duration or a count can hold a short
// run of digits by chance, and a leaked number stands apart.
func containsValue(text, v string) bool {
	if strings.Trim(v, "0123456789") != "" {
		return strings.Contains(text, v)
	}
	digit := func(i int) bool { return i >= 0 && i < len(text) && text[i] >= '0' && text[i] <= '9' }
	for from := 0; ; {
		i := strings.Index(text[from:], v)
		if i < 0 {
			return false
		}
		i += from
		if !digit(i-1) && !digit(i+len(v)) {
			return true
		}
		from = i + 1
	}
}

// readFile reads a fixture; t nil panics on a missing one.
func readFile(t testing.TB, name string) []byte {
	data, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return data
}

// diffSets says what got lacks of want and has beyond it, "" when equal.
func diffSets(want, got []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("lack %v and add %v", missing, extra)
}
