package connectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/protected"
)

// Deliverer is a courier connector: the call the dispatcher makes.
type Deliverer interface {
	Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error)
}

// CourierStandIn is the suite's hold on a courier's stand-in: Ledger is by
// order reference.
type CourierStandIn interface {
	StandIn
	// Creates are the creates the provider received and applied, in order.
	Creates() []Create
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

// CourierHarness is a courier connector's part of the suite.
type CourierHarness struct {
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
	New func(t *testing.T, env Env) (Deliverer, CourierStandIn)
}

// RunCourier runs the suite against a courier connector: the universal
// properties on a domestic create, then the courier's own: exact
// allow-listed fields for every destination, notifications on and off; a
// cancel after a create; a cancel of an order never made.
func RunCourier(t *testing.T, h CourierHarness) {
	t.Helper()
	f := NewFixtures(t, h.Kind, h.Parcel)
	c := &courierChecks{h: h, f: f}
	Run(t, Harness[courier.Delivery, CourierStandIn]{
		Shapes: []string{"create"},
		Job: func(t testing.TB, _ string, n int) courier.Delivery {
			return f.create(t, destinations[0], false, orderRef(n))
		},
		Others: func(t testing.TB, n int) []courier.Delivery { return []courier.Delivery{f.Cancel(t, orderRef(n))} },
		Ref:    func(d courier.Delivery) string { return d.OrderReference },
		New: func(t *testing.T, env Env) (Connector[courier.Delivery], CourierStandIn) {
			d, s := h.New(t, env)
			return deliverer{d}, s
		},
		Checks: []Check[courier.Delivery, CourierStandIn]{
			{"ExactAllowListedFields", c.exactFields},
			{"CancelAfterCreate", c.cancelAfterCreate},
			{"CancelOfUnknownOrderIsDone", c.cancelUnknown},
		},
	})
}

// orderRef is the suite's n-th order reference.
func orderRef(n int) string { return fmt.Sprintf("203-0000000-%07d", n) }

// deliverer sends a courier's batch with Deliver.
type deliverer struct{ Deliverer }

func (d deliverer) Send(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error) {
	return d.Deliver(ctx, ds)
}

type courierSuite = Suite[courier.Delivery, CourierStandIn]

type courierChecks struct {
	h CourierHarness
	f *Fixtures
}

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
	return &Fixtures{List: allowList(t, kind), Parcel: parcel}
}

// allowList is a connector kind's allow-list.
func allowList(t testing.TB, kind string) policy.AllowList {
	t.Helper()
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	list, err := lists.For(kind)
	if err != nil {
		t.Fatal(err)
	}
	return list
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
	return f.project(t, dst, readDocument(t, dst.label), notify, ref)
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

// exactFields: every destination, notifications off and on, in one batch:
// each create carries exactly its projection's sources (the allow-list's,
// under its conditions), phone and email only with notifications, item
// data and values only under customs, and no value of the label outside
// the allow-list (buyer ids, usernames, notes, gift messages).
func (c *courierChecks) exactFields(t *testing.T, s *courierSuite) {
	in := s.Start(t)
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
			ds = append(ds, c.f.create(t, dst, notify, ref))
			wants[ref] = want{fmt.Sprintf("%s/notifications-%v", dst.name, notify), notify, dst.customs, readDocument(t, dst.label)}
		}
	}
	for i, r := range in.Send(t, ds...) {
		if r.Outcome != courier.Done {
			t.Fatalf("%s: %v (%v), want done", wants[ds[i].OrderReference].name, r.Outcome, r.Err)
		}
	}
	got := map[string]Create{}
	for _, cr := range in.StandIn.Creates() {
		got[cr.OrderReference] = cr
	}
	for _, d := range ds {
		w := wants[d.OrderReference]
		cr, ok := got[d.OrderReference]
		if !ok {
			t.Errorf("%s: the provider received no create", w.name)
			continue
		}
		if diff := diffSets(c.expected(d.Fields), cr.Sources); diff != "" {
			t.Errorf("%s: sources sent %s", w.name, diff)
		}
		allowed := c.f.List.Sources(policy.Switches{Notifications: w.notify, Customs: w.customs})
		for _, src := range cr.Sources {
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
		if w.notify && w.label.Get("shipping_address.phone") != "" && !slices.Contains(cr.Sources, "shipping_address.phone") {
			t.Errorf("%s: notifications are on, the phone is not sent", w.name)
		}
		if w.customs && !slices.ContainsFunc(cr.Sources, policy.IsLineSource) {
			t.Errorf("%s: a customs declaration without its items", w.name)
		}
		for _, path := range w.label.Paths() {
			if c.f.List.Fields[path].When != "" {
				continue
			}
			for _, v := range cr.Values {
				if strings.Contains(strings.ToLower(v), strings.ToLower(w.label.Get(path))) {
					t.Errorf("%s: the value of %s, outside the allow-list, was sent", w.name, path)
				}
			}
		}
	}
}

// expected is what a create must carry: its projection's sources, each
// alternate in its primary's place when that has none, dropped when it has.
func (c *courierChecks) expected(p projection.Projection) []string {
	set := map[string]bool{}
	for _, src := range p.Sources() {
		set[src] = true
	}
	for alt, primary := range c.h.Alternates {
		if set[alt] {
			delete(set, alt)
			set[primary] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (c *courierChecks) cancelAfterCreate(t *testing.T, s *courierSuite) {
	in := s.Start(t)
	create := c.f.create(t, destinations[2], true, orderRef(6))
	if r := in.One(t, create); r.Outcome != courier.Done {
		t.Fatalf("create: %v (%v)", r.Outcome, r.Err)
	}
	cancel := c.f.Cancel(t, create.OrderReference)
	for i := range 2 { // and its redelivery
		if r := in.One(t, cancel); r.Outcome != courier.Done {
			t.Errorf("cancel %d: %v (%v), want done", i, r.Outcome, r.Err)
		}
	}
	if e := in.Ledger(create); e != (Entry{Created: 1, Cancelled: true}) {
		t.Errorf("ledger %+v, want the one order cancelled", e)
	}
}

func (c *courierChecks) cancelUnknown(t *testing.T, s *courierSuite) {
	in := s.Start(t)
	cancel := c.f.Cancel(t, "203-9999999-0000007")
	if r := in.One(t, cancel); r.Outcome != courier.Done {
		t.Errorf("cancel of an order never made: %v (%v), want done", r.Outcome, r.Err)
	}
	if e := in.Ledger(cancel); e.Created != 0 {
		t.Errorf("a cancel made %d orders", e.Created)
	}
}

func readDocument(t testing.TB, name string) protected.Document {
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
