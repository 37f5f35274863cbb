package generate

import "github.com/orderflow/orderflow/worker/order"

// Malformed messages: a well-formed order spoiled in one way that the worker must
// refuse with a known reason. The reasons are normalize.Reason values (not
// imported: this package does not depend on the normaliser it feeds) and the
// pipeline's wrong_topic.

// fault is how a message is spoiled; the zero fault spoils nothing.
type fault struct {
	noTenant       bool   // the envelope has no tenant_id
	missingComma   bool   // the envelope lacks a comma: invalid JSON
	channel        string // the envelope names this channel instead
	missingField   bool   // the payload lacks a required field
	commaAmount    bool   // an amount is written "46,49"
	unknownStatus  bool   // the order's status is not one of the channel's
	quantityString bool   // a quantity is a JSON string
}

// malformedKinds are the ways to spoil a message, with their weights and the
// reason the worker gives each.
var malformedKinds = []struct {
	weight int
	reason string
	fault  fault
	// truncate cuts the message short; wrongTopic sends it to the other channel's topic.
	truncate, wrongTopic bool
}{
	{3, "malformed_json", fault{}, true, false},
	{2, "malformed_json", fault{missingComma: true}, false, false},
	{1, "bad_envelope", fault{noTenant: true}, false, false},
	{1, "unknown_channel", fault{channel: "shopify"}, false, false},
	{2, "missing_field", fault{missingField: true}, false, false},
	{3, "bad_amount", fault{commaAmount: true}, false, false},
	{1, "invalid_value", fault{unknownStatus: true}, false, false},
	{1, "schema_mismatch", fault{quantityString: true}, false, false},
	{2, ReasonWrongTopic, fault{}, false, true},
}

// MalformedReasons lists every reason a malformed message can have.
func MalformedReasons() []string {
	var rs []string
	seen := map[string]bool{}
	for _, k := range malformedKinds {
		if !seen[k.reason] {
			seen[k.reason] = true
			rs = append(rs, k.reason)
		}
	}
	return rs
}

func (g *Generator) malformed() Message {
	total := 0
	for _, k := range malformedKinds {
		total += k.weight
	}
	r := g.rng.IntN(total)
	i := 0
	for ; r >= malformedKinds[i].weight; i++ {
		r -= malformedKinds[i].weight
	}
	kind := &malformedKinds[i]
	p := g.newOrder(true)
	m := g.emit(p, kind.fault)
	g.releasePlan(p)
	if kind.truncate {
		n := len(m.Value)
		m.Value = m.Value[:n*3/10+g.rng.IntN(n*6/10)]
	}
	if kind.wrongTopic {
		if m.Topic == order.ChannelAmazon {
			m.Topic = order.ChannelEbay
		} else {
			m.Topic = order.ChannelAmazon
		}
	}
	m.Kind = KindMalformed
	m.Reason = kind.reason
	m.Snapshot, m.Snapshots, m.Cards = 0, 1, [NumCardFields]uint8{}
	m.Total, m.Refunded = 0, 0
	return m
}
