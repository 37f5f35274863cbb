package webhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
)

// BodyVersion is the version of the body's format, its "v" member.
const BodyVersion = 1

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	segmentPattern = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// ItemsMarker joins a line source's path: "customs.items[].sku" is the sku
// member of each element of the array customs.items, one per order line.
const ItemsMarker = "[]."

// paths are the shipment paths of an allow-list's sources: its "as" column.
type paths struct {
	of    map[string]string // source -> path; a line source's below items
	items string            // the array of the line sources, "" when none
}

// Paths returns the shipment path of each source of list (its "as"
// column), checked: dotted [a-z0-9_]+ segments, no path another's parent,
// line sources all in one array ("customs.items[].sku"), others in none.
// The receiver's stand-in reads the body back through the same map.
func Paths(list policy.AllowList) (map[string]string, error) {
	p, err := newPaths(list)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for src, path := range p.of {
		if policy.IsLineSource(src) {
			path = p.items + ItemsMarker + path
		}
		out[src] = path
	}
	return out, nil
}

func newPaths(list policy.AllowList) (paths, error) {
	p := paths{of: map[string]string{}}
	var leaves []string
	for _, src := range slices.Sorted(maps.Keys(list.Fields)) {
		as := list.Fields[src].As
		array, member, isLine := strings.Cut(as, ItemsMarker)
		if isLine != policy.IsLineSource(src) {
			return paths{}, fmt.Errorf("%s: as %q: a line source, and only one, goes under an array (%s)", src, as, ItemsMarker)
		}
		if isLine {
			if p.items != "" && p.items != array {
				return paths{}, fmt.Errorf("%s: as %q: every line source goes under one array, %s", src, as, p.items)
			}
			p.items, as = array, member
			leaves = append(leaves, array+".[]."+member)
		} else {
			leaves = append(leaves, as)
		}
		for _, seg := range strings.Split(as, ".") {
			if !segmentPattern.MatchString(seg) {
				return paths{}, fmt.Errorf("%s: as %q: segments are [a-z0-9_]+", src, as)
			}
		}
		p.of[src] = as
	}
	slices.Sort(leaves)
	for i := 1; i < len(leaves); i++ {
		if leaves[i] == leaves[i-1] || strings.HasPrefix(leaves[i], leaves[i-1]+".") {
			return paths{}, fmt.Errorf("as %q: also %q", leaves[i-1], leaves[i])
		}
	}
	return p, nil
}

// body is the JSON a delivery posts:
//
//	{"v":1,"kind":"create","idempotency_key":"…","order_reference":"…",
//	 "shipment":{"recipient":{"name":"…",…},"parcel":{…},
//	             "customs":{"total":{"amount":"…","currency":"…"},"items":[…]}}}
//
// The shipment holds exactly the projection's sources, each at its "as"
// path; a cancel carries none. Members come out sorted (encoding/json sorts
// map keys), so a redelivery's body is byte for byte the first one's.
func (c *Courier) body(d *courier.Delivery) ([]byte, error) {
	switch d.Kind {
	case outbox.KindCreate, outbox.KindCancel:
	default:
		return nil, fmt.Errorf("kind: not create or cancel (%d characters)", len(d.Kind))
	}
	if !idPattern.MatchString(d.IdempotencyKey) {
		// Standard Webhooks: the id must not hold a '.', which delimits the
		// signed content.
		return nil, fmt.Errorf("idempotency key: want 1 to 128 of [A-Za-z0-9_-], got %d characters", len(d.IdempotencyKey))
	}
	if d.OrderReference == "" {
		return nil, fmt.Errorf("order reference: empty")
	}
	doc := map[string]any{
		"v":               BodyVersion,
		"kind":            d.Kind,
		"idempotency_key": d.IdempotencyKey,
		"order_reference": d.OrderReference,
	}
	if d.Kind == outbox.KindCreate {
		shipment, err := c.paths.shipment(d.Fields)
		if err != nil {
			return nil, err
		}
		doc["shipment"] = shipment
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err) // values are strings, ints and amounts
	}
	return b, nil
}

// shipment nests the projection's values at their paths. Its errors name
// sources, never values.
func (p paths) shipment(f projection.Projection) (map[string]any, error) {
	root := map[string]any{}
	for _, src := range f.Sources() {
		path, ok := p.of[src]
		switch {
		case !ok:
			return nil, fmt.Errorf("field %s: not in the allow-list", src)
		case policy.IsLineSource(src):
			continue
		}
		put(root, path, value(f, src))
	}
	var items []any
	for _, l := range f.Lines() {
		item := map[string]any{}
		for _, src := range slices.Sorted(maps.Keys(p.of)) {
			if policy.IsLineSource(src) && l.Has(src) {
				put(item, p.of[src], value(l, src))
			}
		}
		items = append(items, item)
	}
	if len(items) > 0 {
		put(root, p.items, items)
	}
	return root, nil
}

// put sets path's leaf under root, making the objects on the way; Paths
// has made sure no leaf is another's parent.
func put(root map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	node := root
	for _, seg := range segs[:len(segs)-1] {
		child, ok := node[seg].(map[string]any)
		if !ok {
			child = map[string]any{}
			node[seg] = child
		}
		node = child
	}
	node[segs[len(segs)-1]] = v
}

// valuer is what a Projection and a Line both give.
type valuer interface {
	Text(src string) string
	Int(src string) int
	Money(src string) order.Money
}

// value is a source's JSON value: a number for a count (a weight, a
// quantity), an amount as {"amount":"12.50","currency":"GBP"}, anything else
// as its text.
func value(v valuer, src string) any {
	if n := v.Int(src); n != 0 {
		return n
	}
	if m := v.Money(src); !m.IsZero() {
		return m
	}
	return v.Text(src)
}
