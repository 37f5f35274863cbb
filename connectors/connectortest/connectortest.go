// Package connectortest is the one contract suite every connector passes
// (watermill's universal pubsub tests are the model): Run drives a
// connector against its stand-in through the dispatcher's one call,
// Deliver, and checks what the dispatcher and P5 rely on. A connector's
// package provides a Harness in its contract_test.go; what is particular to
// a provider (its faults, its ledger, reading its requests back to
// allow-list sources) stays in the Harness, never here.
package connectortest

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/protected"
)

// Deliverer is what the suite drives: the call the dispatcher makes.
type Deliverer interface {
	Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error)
}

// Harness is one connector kind's part of the suite.
type Harness struct {
	// Kind is the connector kind: its allow-list in
	// schemas/policy/connectors.yaml projects the fixtures.
	Kind string
	// Parcel is the connector's settings the fixtures are projected with.
	Parcel projection.Parcel
	// Alternates are sources a connector sends only in another's place,
	// when that one has no value: alternate -> primary (Click & Drop's
	// county takes a state). The stand-in reports such a value as the
	// primary's.
	Alternates map[string]string
	// New starts a fresh stand-in and a connector against it, built with
	// env (its logger, registry and per-call timeout).
	New func(t *testing.T, env Env) (Deliverer, StandIn)
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
}

// StandIn is the suite's hold on a connector's stand-in provider.
type StandIn interface {
	// Fail queues faults: each of the next calls (as the Fault says) is
	// answered with the next one.
	Fail(faults ...Fault)
	// Calls is how many calls reached the stand-in.
	Calls() int
	// Ledger is what the provider holds of an order reference.
	Ledger(orderReference string) Entry
	// Creates are the creates the provider received and applied, in order.
	Creates() []Create
}

// Fault is how the stand-in answers a call instead of normally.
type Fault struct {
	// Status is answered (500, 429, 400, 401).
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

// Entry is an order reference's state at the provider.
type Entry struct {
	// Created counts the orders (shipments) made for the reference.
	Created int
	// Cancelled: the provider no longer has the order.
	Cancelled bool
}

// Create is one create as the provider received it.
type Create struct {
	OrderReference string
	// Sources are the allow-list sources its fields carry (the provider's
	// fields read back through the "as" column); a field no source fills is
	// given as "?" and its path.
	Sources []string
	// Values are the texts of all its fields.
	Values []string
}

//go:embed testdata
var testdata embed.FS

// destination is a fixture: a delivery label and the job's country.
type destination struct {
	name, label, country string
	customs              bool
}

// destinations are what the suite sends: domestic GB, Northern Ireland (in
// the UK customs territory), and international to the EU and the US (no
// postcode).
var destinations = []destination{
	{"domestic-gb", "label-gb.json", "GB", false},
	{"northern-ireland", "label-northern-ireland.json", "GB", false},
	{"international-de", "label-de.json", "DE", true},
	{"international-us", "label-us-no-postcode.json", "US", true},
}

// Run runs the suite against h's connector.
func Run(t *testing.T, h Harness) {
	t.Helper()
	f := NewFixtures(t, h.Kind, h.Parcel)
	s := &suite{h: h, Fixtures: f, list: f.List}
	t.Run("ExactAllowListedFields", s.exactFields)
	t.Run("ServerErrorIsRetry", s.serverError)
	t.Run("RateLimitIsRetryAfter", s.rateLimit)
	t.Run("SlowAnswerIsRetry", s.slowAnswer)
	t.Run("BadRequestFailsAndIsNotRetried", s.badRequest)
	t.Run("RefusedCredentialsStop", s.refusedCredentials)
	t.Run("RedeliveryAfterDoneCreatesOnce", s.redeliveryAfterDone)
	t.Run("RedeliveryAfterLostAnswerCreatesOnce", s.redeliveryAfterLostAnswer)
	t.Run("CancelAfterCreate", s.cancelAfterCreate)
	t.Run("CancelOfUnknownOrderIsDone", s.cancelUnknown)
	t.Run("EndedContextSendsNothing", s.endedContext)
}

type suite struct {
	h Harness
	*Fixtures
	list policy.AllowList
}

// instance is one fresh connector and stand-in, checked at the test's end
// for personal data in its logs and metric labels.
type instance struct {
	Deliverer
	StandIn
	s    *suite
	logs *privacytest.LogBuffer
	reg  *prometheus.Registry
}

const timeout = 300 * time.Millisecond

func (s *suite) start(t *testing.T) *instance {
	t.Helper()
	in := &instance{s: s, logs: &privacytest.LogBuffer{}, reg: prometheus.NewRegistry()}
	in.Deliverer, in.StandIn = s.h.New(t, Env{Logger: in.logs.Logger(), Registerer: in.reg, Timeout: timeout})
	t.Cleanup(func() {
		assertClean(t, "the log", in.logs.String())
		families, err := in.reg.Gather()
		if err != nil {
			t.Errorf("gather: %v", err)
			return
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					assertClean(t, fmt.Sprintf("metric %s label %s", f.GetName(), l.GetName()), l.GetValue())
				}
			}
		}
	})
	return in
}

// deliver calls Deliver and checks the answer's shape and errors.
func (in *instance) deliver(t *testing.T, ds ...courier.Delivery) []courier.Result {
	t.Helper()
	res, err := in.Deliver(t.Context(), ds)
	if err != nil {
		assertClean(t, "Deliver's error", err.Error())
		t.Fatalf("Deliver: %v", err)
	}
	if len(res) != len(ds) {
		t.Fatalf("Deliver: %d results for %d deliveries", len(res), len(ds))
	}
	for i, r := range res {
		if r.Err != nil {
			assertClean(t, fmt.Sprintf("result %d's error", i), r.Err.Error())
		}
		if (r.Err == nil) != (r.Outcome == courier.Done) {
			t.Errorf("result %d: outcome %v with error %v: an error says why a delivery is not done, and only then", i, r.Outcome, r.Err)
		}
	}
	return res
}

func (in *instance) one(t *testing.T, d courier.Delivery) courier.Result {
	t.Helper()
	return in.deliver(t, d)[0]
}

// Fixtures makes the suite's deliveries, for a connector package's own
// tests too: a create per destination ("domestic-gb", "northern-ireland",
// "international-de", "international-us"), a cancel.
type Fixtures struct {
	// List is the connector kind's allow-list; Parcel its settings.
	List   policy.AllowList
	Parcel projection.Parcel
}

// NewFixtures are the fixtures of a connector kind.
func NewFixtures(t testing.TB, kind string, parcel projection.Parcel) *Fixtures {
	t.Helper()
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	list, err := lists.For(kind)
	if err != nil {
		t.Fatal(err)
	}
	return &Fixtures{List: list, Parcel: parcel}
}

// Create is the create of order ref to a destination, with the tenant's
// notifications on or off: the job of testdata/job.json with the label of
// the destination, projected through the allow-list.
func (f *Fixtures) Create(t testing.TB, dest string, notify bool, ref string) courier.Delivery {
	t.Helper()
	return f.create(t, lookup(t, dest), notify, ref)
}

// Label is a destination's delivery label: a JSON object of its fields.
func (f *Fixtures) Label(t testing.TB, dest string) []byte {
	t.Helper()
	return readFile(t, lookup(t, dest).label)
}

// CreateWith is Create with label (a JSON object of fields, such as Label's
// with values planted) in place of the destination's.
func (f *Fixtures) CreateWith(t testing.TB, dest string, label []byte, notify bool, ref string) courier.Delivery {
	t.Helper()
	doc, err := protected.ParseDocument(label)
	if err != nil {
		t.Fatal(err)
	}
	return f.project(t, lookup(t, dest), doc, notify, ref)
}

func lookup(t testing.TB, dest string) destination {
	t.Helper()
	i := slices.IndexFunc(destinations, func(d destination) bool { return d.name == dest })
	if i < 0 {
		t.Fatalf("connectortest: no destination %q", dest)
	}
	return destinations[i]
}

func (f *Fixtures) create(t testing.TB, dst destination, notify bool, ref string) courier.Delivery {
	t.Helper()
	return f.project(t, dst, readLabel(t, dst.label), notify, ref)
}

func (f *Fixtures) project(t testing.TB, dst destination, label protected.Document, notify bool, ref string) courier.Delivery {
	t.Helper()
	job := readJob(t)
	job.ChannelOrderID, job.DestinationCountry = ref, dst.country
	job.IdempotencyKey = outbox.IdempotencyKey(job.TenantID, job.Channel, ref, outbox.KindCreate, job.SourceVersion)
	p, err := projection.Project(f.List, projection.Input{Label: label, Job: job, Notifications: notify, Parcel: f.Parcel})
	if err != nil {
		t.Fatal(err)
	}
	if p.Customs() != dst.customs {
		t.Fatalf("%s: customs %v, want %v", dst.name, p.Customs(), dst.customs)
	}
	return courier.Delivery{Kind: outbox.KindCreate, IdempotencyKey: job.IdempotencyKey, OrderReference: ref, Fields: p}
}

// Cancel is the cancel of order ref: the job's clear fields only.
func (f *Fixtures) Cancel(t testing.TB, ref string) courier.Delivery {
	t.Helper()
	job := readJob(t)
	job.Kind, job.ChannelOrderID, job.Recipient, job.Lines = outbox.KindCancel, ref, "", nil
	job.IdempotencyKey = outbox.IdempotencyKey(job.TenantID, job.Channel, ref, outbox.KindCancel, job.SourceVersion+1)
	p, err := projection.Project(f.List, projection.Input{Job: job, Parcel: f.Parcel})
	if err != nil {
		t.Fatal(err)
	}
	return courier.Delivery{Kind: outbox.KindCancel, IdempotencyKey: job.IdempotencyKey, OrderReference: ref, Fields: p}
}

func (s *suite) gb(t *testing.T, ref string) courier.Delivery {
	return s.create(t, destinations[0], false, ref)
}

// exactFields: every destination, notifications off and on, in one batch:
// each create carries exactly its projection's sources (the allow-list's,
// under its conditions), phone and email only with notifications, item
// data and values only under customs, and no value of the label outside
// the allow-list (buyer ids, usernames, notes, gift messages).
func (s *suite) exactFields(t *testing.T) {
	in := s.start(t)
	var ds []courier.Delivery
	type want struct {
		name            string
		notify, customs bool
		label           protected.Document
	}
	wants := map[string]want{}
	for i, dst := range destinations {
		for j, notify := range []bool{false, true} {
			ref := fmt.Sprintf("203-1234567-76543%d%d", i, j)
			ds = append(ds, s.create(t, dst, notify, ref))
			wants[ref] = want{fmt.Sprintf("%s/notifications-%v", dst.name, notify), notify, dst.customs, readLabel(t, dst.label)}
		}
	}
	for i, r := range in.deliver(t, ds...) {
		if r.Outcome != courier.Done {
			t.Fatalf("%s: %v (%v), want done", wants[ds[i].OrderReference].name, r.Outcome, r.Err)
		}
	}
	got := map[string]Create{}
	for _, c := range in.Creates() {
		got[c.OrderReference] = c
	}
	for _, d := range ds {
		w := wants[d.OrderReference]
		c, ok := got[d.OrderReference]
		if !ok {
			t.Errorf("%s: the provider received no create", w.name)
			continue
		}
		if diff := diffSets(s.expected(d.Fields), c.Sources); diff != "" {
			t.Errorf("%s: sources sent %s", w.name, diff)
		}
		allowed := s.list.Sources(policy.Switches{Notifications: w.notify, Customs: w.customs})
		for _, src := range c.Sources {
			contact := src == "shipping_address.phone" || src == "shipping_address.email"
			item := policy.IsLineSource(src) || strings.HasPrefix(src, "totals.")
			switch {
			case !slices.Contains(allowed, src):
				t.Errorf("%s: %s is sent, and not allowed", w.name, src)
			case contact && !w.notify:
				t.Errorf("%s: %s is sent with notifications off", w.name, src)
			case item && !w.customs:
				t.Errorf("%s: %s is sent without a customs declaration", w.name, src)
			}
		}
		if w.notify && w.label.Get("shipping_address.phone") != "" && !slices.Contains(c.Sources, "shipping_address.phone") {
			t.Errorf("%s: notifications are on, the phone is not sent", w.name)
		}
		if w.customs && !slices.ContainsFunc(c.Sources, policy.IsLineSource) {
			t.Errorf("%s: a customs declaration without its items", w.name)
		}
		for _, path := range w.label.Paths() {
			if s.list.Fields[path].When != "" {
				continue
			}
			for _, v := range c.Values {
				if strings.Contains(strings.ToLower(v), strings.ToLower(w.label.Get(path))) {
					t.Errorf("%s: the value of %s, outside the allow-list, was sent", w.name, path)
				}
			}
		}
	}
}

// expected is what a create must carry: its projection's sources, each
// alternate in its primary's place when that has none, dropped when it has.
func (s *suite) expected(p projection.Projection) []string {
	set := map[string]bool{}
	for _, src := range p.Sources() {
		set[src] = true
	}
	for alt, primary := range s.h.Alternates {
		if set[alt] {
			delete(set, alt)
			set[primary] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// retried checks a fault's Retry, and that the connector did not retry
// inside: one call, nothing made; then a redelivery is done, made once.
func (s *suite) retried(t *testing.T, f Fault) courier.Result {
	t.Helper()
	in := s.start(t)
	d := s.gb(t, "203-0000000-0000001")
	in.Fail(f)
	r := in.one(t, d)
	if r.Outcome != courier.Retry {
		t.Fatalf("%+v: %v (%v), want retry", f, r.Outcome, r.Err)
	}
	if n := in.Calls(); n != 1 {
		t.Errorf("%+v: %d calls, want 1: the dispatcher retries, not the connector", f, n)
	}
	if e := in.Ledger(d.OrderReference); e.Created != 0 {
		t.Errorf("%+v: %d orders made", f, e.Created)
	}
	if r := in.one(t, d); r.Outcome != courier.Done {
		t.Errorf("redelivery after %+v: %v (%v), want done", f, r.Outcome, r.Err)
	}
	if e := in.Ledger(d.OrderReference); e.Created != 1 {
		t.Errorf("after the redelivery: %d orders made, want 1", e.Created)
	}
	return r
}

func (s *suite) serverError(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		r := s.retried(t, Fault{Status: status})
		if r.RetryAfter != 0 {
			t.Errorf("%d without Retry-After: retry after %v", status, r.RetryAfter)
		}
	}
}

func (s *suite) rateLimit(t *testing.T) {
	r := s.retried(t, Fault{Status: 429, RetryAfter: 7 * time.Second})
	if r.RetryAfter != 7*time.Second {
		t.Errorf("429 with Retry-After 7: retry after %v", r.RetryAfter)
	}
}

func (s *suite) slowAnswer(t *testing.T) {
	s.retried(t, Fault{Delay: 10 * timeout})
}

func (s *suite) badRequest(t *testing.T) {
	in := s.start(t)
	d := s.gb(t, "203-0000000-0000002")
	in.Fail(Fault{Status: 400})
	r := in.one(t, d)
	if r.Outcome != courier.Failed || r.RetryAfter != 0 {
		t.Fatalf("400: %v after %v (%v), want failed", r.Outcome, r.RetryAfter, r.Err)
	}
	if n := in.Calls(); n != 1 {
		t.Errorf("400: %d calls, want 1: a refusal is never sent again", n)
	}
	if e := in.Ledger(d.OrderReference); e.Created != 0 {
		t.Errorf("400: %d orders made", e.Created)
	}
}

func (s *suite) refusedCredentials(t *testing.T) {
	for _, status := range []int{401, 403} {
		in := s.start(t)
		in.Fail(Fault{Status: status})
		_, err := in.Deliver(t.Context(), []courier.Delivery{s.gb(t, "203-0000000-0000003")})
		if !errors.Is(err, courier.ErrCredentialsRefused) {
			t.Errorf("%d: error %v, want one matching courier.ErrCredentialsRefused", status, err)
		}
		if err != nil {
			assertClean(t, "Deliver's error", err.Error())
		}
	}
}

func (s *suite) redeliveryAfterDone(t *testing.T) {
	in := s.start(t)
	d := s.gb(t, "203-0000000-0000004")
	for i, r := range append(in.deliver(t, d, d), in.one(t, d)) {
		if r.Outcome != courier.Done {
			t.Errorf("delivery %d: %v (%v), want done", i, r.Outcome, r.Err)
		}
	}
	if e := in.Ledger(d.OrderReference); e.Created != 1 {
		t.Errorf("delivered three times: %d orders made, want 1", e.Created)
	}
}

func (s *suite) redeliveryAfterLostAnswer(t *testing.T) {
	in := s.start(t)
	d := s.gb(t, "203-0000000-0000005")
	in.Fail(Fault{Status: 502, AfterApply: true})
	if r := in.one(t, d); r.Outcome != courier.Retry {
		t.Fatalf("the answer lost: %v (%v), want retry", r.Outcome, r.Err)
	}
	if e := in.Ledger(d.OrderReference); e.Created != 1 {
		t.Fatalf("the fault did not apply the work: %d orders", e.Created)
	}
	if r := in.one(t, d); r.Outcome != courier.Done {
		t.Errorf("redelivery: %v (%v), want done", r.Outcome, r.Err)
	}
	if e := in.Ledger(d.OrderReference); e.Created != 1 {
		t.Errorf("after the redelivery: %d orders made, want 1", e.Created)
	}
}

func (s *suite) cancelAfterCreate(t *testing.T) {
	in := s.start(t)
	const ref = "203-0000000-0000006"
	if r := in.one(t, s.create(t, destinations[2], true, ref)); r.Outcome != courier.Done {
		t.Fatalf("create: %v (%v)", r.Outcome, r.Err)
	}
	c := s.Cancel(t, ref)
	for i := range 2 { // and its redelivery
		if r := in.one(t, c); r.Outcome != courier.Done {
			t.Errorf("cancel %d: %v (%v), want done", i, r.Outcome, r.Err)
		}
	}
	if e := in.Ledger(ref); e != (Entry{Created: 1, Cancelled: true}) {
		t.Errorf("ledger %+v, want the one order cancelled", e)
	}
}

func (s *suite) cancelUnknown(t *testing.T) {
	in := s.start(t)
	const ref = "203-9999999-0000007"
	if r := in.one(t, s.Cancel(t, ref)); r.Outcome != courier.Done {
		t.Errorf("cancel of an order never made: %v (%v), want done", r.Outcome, r.Err)
	}
	if e := in.Ledger(ref); e.Created != 0 {
		t.Errorf("a cancel made %d orders", e.Created)
	}
}

func (s *suite) endedContext(t *testing.T) {
	in := s.start(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := in.Deliver(ctx, []courier.Delivery{s.gb(t, "203-0000000-0000008"), s.Cancel(t, "203-0000000-0000009")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n := in.Calls(); n != 0 {
		t.Errorf("%d calls after the context ended", n)
	}
}

// personal are the fixtures' personal values and order references: none
// may appear in an error, a log line or a metric label.
var personal = sync.OnceValue(func() []string {
	var out []string
	for _, dst := range destinations {
		data, err := testdata.ReadFile("testdata/" + dst.label)
		if err != nil {
			panic(err)
		}
		var fields map[string]string
		if err := json.Unmarshal(data, &fields); err != nil {
			panic(err)
		}
		for _, v := range fields {
			if len([]rune(v)) >= 3 {
				out = append(out, strings.ToLower(v))
			}
		}
	}
	return append(out, "203-", "76543")
})

func assertClean(t *testing.T, what, text string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, v := range personal() {
		if strings.Contains(lower, v) {
			t.Errorf("%s holds a fixture's personal value or order reference (%d characters): %s", what, len([]rune(v)), text)
		}
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readLabel(t testing.TB, name string) protected.Document {
	t.Helper()
	d, err := protected.ParseDocument(readFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readJob(t testing.TB) *outbox.Job {
	t.Helper()
	var j outbox.Job
	if err := json.Unmarshal(readFile(t, "job.json"), &j); err != nil {
		t.Fatal(err)
	}
	return &j
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
