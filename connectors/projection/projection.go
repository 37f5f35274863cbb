// Package projection makes what a connector may send of a courier job: the
// fields its allow-list (schemas/policy/connectors.yaml) allows under the
// job's conditions, and nothing else, from the decrypted delivery label, the
// job and the connector's settings. A connector builds its request from a
// Projection alone, so the allow-list is what leaves the platform (P5).
package projection

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Input is what a job's projection is made from.
type Input struct {
	// Label is the job's decrypted Recipient (a protected.Document of the
	// shipping address's fields).
	Label protected.Document
	Job   *outbox.Job
	// Notifications is the tenant's switch at the connector
	// (worker/config Connector.NotificationsOn).
	Notifications bool
	// Parcel is the connector's settings for the job (worker/config
	// Connector.Parcel, and Service of the job's ShipServiceLevel).
	Parcel Parcel
}

// Parcel are the settings the sources parcel.* name.
type Parcel struct {
	WeightGrams int    // parcel.weight_grams
	Format      string // parcel.format
	ServiceCode string // parcel.service_code
	TariffCode  string // parcel.lines.tariff_code, on every line
}

// jobFields are the sources a job carries in the clear, by canonical path.
var jobFields = map[string]func(*outbox.Job) any{
	"channel":                       func(j *outbox.Job) any { return string(j.Channel) },
	"marketplace":                   func(j *outbox.Job) any { return j.Marketplace },
	"channel_order_id":              func(j *outbox.Job) any { return j.ChannelOrderID },
	"seller_order_id":               func(j *outbox.Job) any { return j.SellerOrderID },
	"purchased_at":                  func(j *outbox.Job) any { return j.PurchasedAt },
	"ship_service_level":            func(j *outbox.Job) any { return j.ShipServiceLevel },
	"shipping_address.country_code": func(j *outbox.Job) any { return j.DestinationCountry },
	"shipping_address.address_type": func(j *outbox.Job) any { return j.AddressType },
	"totals.subtotal":               func(j *outbox.Job) any { return j.Subtotal },
	"totals.shipping":               func(j *outbox.Job) any { return j.Shipping },
	"totals.total":                  func(j *outbox.Job) any { return j.Total },
}

// lineFields are the sources a job's lines carry.
var lineFields = map[string]func(outbox.Line) any{
	"lines.line_id":    func(l outbox.Line) any { return l.LineID },
	"lines.sku":        func(l outbox.Line) any { return l.SKU },
	"lines.title":      func(l outbox.Line) any { return l.Title },
	"lines.quantity":   func(l outbox.Line) any { return l.Quantity },
	"lines.unit_price": func(l outbox.Line) any { return l.UnitPrice },
	"lines.line_total": func(l outbox.Line) any { return l.LineTotal },
}

// labelPrefix starts the sources the delivery label holds.
const labelPrefix = "shipping_address."

// Project returns the fields list allows for in. A source without a value
// (an empty address line, a zero amount) is left out, never sent empty. Its
// errors name sources, never values.
func Project(list policy.AllowList, in Input) (Projection, error) {
	if in.Job == nil {
		return Projection{}, fmt.Errorf("projection: no job")
	}
	j := in.Job
	sw := policy.Switches{
		Notifications: in.Notifications,
		Customs:       policy.NeedsCustomsDeclaration(j.DestinationCountry, in.Label.Get("shipping_address.postal_code")),
	}
	v := &values{fields: map[string]any{}, customs: sw.Customs}
	var lineSources []string
	for _, src := range list.Sources(sw) {
		if policy.IsLineSource(src) {
			lineSources = append(lineSources, src)
			continue
		}
		var val any
		switch {
		case jobFields[src] != nil:
			val = jobFields[src](j)
		case strings.HasPrefix(src, labelPrefix):
			val = in.Label.Get(src)
		case src == "parcel.weight_grams":
			val = in.Parcel.WeightGrams
		case src == "parcel.format":
			val = in.Parcel.Format
		case src == "parcel.service_code":
			val = in.Parcel.ServiceCode
		default:
			return Projection{}, fmt.Errorf("projection: the allow-list names %s, which a courier job does not carry", src)
		}
		if !isZero(val) {
			v.fields[src] = val
		}
	}
	if len(lineSources) > 0 {
		for _, line := range j.Lines {
			lv := map[string]any{}
			for _, src := range lineSources {
				var val any
				switch {
				case lineFields[src] != nil:
					val = lineFields[src](line)
				case src == "parcel.lines.tariff_code":
					val = in.Parcel.TariffCode
				default:
					return Projection{}, fmt.Errorf("projection: the allow-list names %s, which a courier job's lines do not carry", src)
				}
				if !isZero(val) {
					lv[src] = val
				}
			}
			line := &values{fields: lv}
			v.lines = append(v.lines, Line{func() *values { return line }})
		}
	}
	return Projection{func() *values { return v }}, nil
}

func isZero(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case int:
		return v == 0
	case order.Money:
		return v.IsZero()
	case time.Time:
		return v.IsZero()
	}
	return v == nil
}

// Projection is what a connector may send of one job. It is personal data
// in plaintext, so it prints, formats, logs and marshals as "<redacted>".
//
// Its values sit behind a function, as protected.Document's do: fmt prints
// a function's address where it cannot call Format (a Projection in an
// unexported field), where a pointer's target would be printed.
type Projection struct{ v func() *values }

// Line is one order line's allowed fields (customs declarations only).
type Line struct{ v func() *values }

func (p Projection) vals() *values { return call(p.v) }
func (l Line) vals() *values       { return call(l.v) }

func call(f func() *values) *values {
	if f == nil {
		return nil
	}
	return f()
}

type values struct {
	fields  map[string]any
	lines   []Line
	customs bool
}

// Sources returns the sources that have a value, line sources included once
// when any line has them, sorted: what the request may carry.
func (p Projection) Sources() []string {
	v := p.vals()
	if v == nil {
		return nil
	}
	set := maps.Clone(v.fields)
	for _, l := range v.lines {
		maps.Copy(set, l.vals().fields)
	}
	return slices.Sorted(maps.Keys(set))
}

// Customs reports whether the destination needs a customs declaration.
func (p Projection) Customs() bool { return p.vals() != nil && p.vals().customs }

// Lines returns the lines, when the allow-list lets line fields go.
func (p Projection) Lines() []Line {
	if p.vals() == nil {
		return nil
	}
	return p.vals().lines
}

// Text returns a text source's value ("" when absent). Numbers, amounts and
// times are given in text too: 1200, "12.50", RFC 3339.
func (p Projection) Text(src string) string { return p.vals().text(src) }

// Int returns a number source's value (parcel.weight_grams), 0 when absent.
func (p Projection) Int(src string) int { return p.vals().int(src) }

// Money returns an amount source's value (totals.total), zero when absent.
func (p Projection) Money(src string) order.Money { return p.vals().money(src) }

// Time returns a time source's value (purchased_at), zero when absent.
func (p Projection) Time(src string) time.Time {
	t, _ := p.vals().get(src).(time.Time)
	return t
}

// Has reports whether the source has a value.
func (p Projection) Has(src string) bool { return p.vals().get(src) != nil }

func (l Line) Text(src string) string       { return l.vals().text(src) }
func (l Line) Int(src string) int           { return l.vals().int(src) }
func (l Line) Money(src string) order.Money { return l.vals().money(src) }
func (l Line) Has(src string) bool          { return l.vals().get(src) != nil }

func (v *values) get(src string) any {
	if v == nil {
		return nil
	}
	return v.fields[src]
}

func (v *values) text(src string) string {
	switch x := v.get(src).(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case order.Money:
		return x.Amount.String()
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return ""
}

func (v *values) int(src string) int {
	n, _ := v.get(src).(int)
	return n
}

func (v *values) money(src string) order.Money {
	m, _ := v.get(src).(order.Money)
	return m
}

const redacted = "<redacted>"

func (p Projection) String() string                { return redacted }
func (p Projection) GoString() string              { return "projection.Projection(" + redacted + ")" }
func (p Projection) Format(f fmt.State, verb rune) { writeRedacted(f, verb, "projection.Projection") }
func (p Projection) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (p Projection) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (p Projection) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (l Line) String() string                      { return redacted }
func (l Line) GoString() string                    { return "projection.Line(" + redacted + ")" }
func (l Line) Format(f fmt.State, verb rune)       { writeRedacted(f, verb, "projection.Line") }
func (l Line) MarshalText() ([]byte, error)        { return []byte(redacted), nil }
func (l Line) MarshalJSON() ([]byte, error)        { return []byte(`"` + redacted + `"`), nil }
func (l Line) LogValue() slog.Value                { return slog.StringValue(redacted) }

// writeRedacted prints "<redacted>" for every verb, %#v and %q in their
// forms.
func writeRedacted(f fmt.State, verb rune, typeName string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, typeName+"("+redacted+")")
	case verb == 'q':
		_, _ = io.WriteString(f, `"`+redacted+`"`)
	default:
		_, _ = io.WriteString(f, redacted)
	}
}
