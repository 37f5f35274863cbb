// Package pipelinetest has test doubles for the pipeline's own edges. MemorySink
// stands in for the ClickHouse writers until they exist and for fault injection
// after. Fixtures and Orders load the normaliser's fixture messages, normalised,
// for the tests of every stage after the normaliser (it lives here, not in
// normalizetest, because normalising needs the channel registry, which imports
// normalize). It is for tests only.
package pipelinetest

import (
	"context"
	"sync"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Key identifies an order across snapshots, as the ClickHouse tables key it.
type Key struct {
	TenantID       string
	Channel        order.Channel
	ChannelOrderID string
}

// KeyOf returns o's key.
func KeyOf(o order.Order) Key {
	return Key{TenantID: o.TenantID, Channel: o.Channel, ChannelOrderID: o.ChannelOrderID}
}

// ProtectedKeyOf returns o's key.
func ProtectedKeyOf(o protected.Order) Key {
	return Key{TenantID: o.TenantID, Channel: o.Channel, ChannelOrderID: o.ChannelOrderID}
}

// MemorySink keeps the latest snapshot of each order, as a ReplacingMergeTree
// keyed by (tenant, channel, order id) with the source update time as version
// would, and counts every order it is given, so tests see both the effective
// result and the re-deliveries. Safe for concurrent use.
type MemorySink struct {
	mu      sync.Mutex
	orders  map[Key]protected.Order
	written int
	// BeforeWrite, if set, runs at the start of every Write with the number of
	// successful writes so far; a non-nil error fails that Write (fault injection).
	BeforeWrite func(ctx context.Context, writes int) error
	writes      int
}

// NewMemorySink returns an empty sink.
func NewMemorySink() *MemorySink {
	return &MemorySink{orders: make(map[Key]protected.Order)}
}

// Write stores the batch, keeping for each key the snapshot with the highest
// SourceUpdatedAt (the later one on a tie, as ReplacingMergeTree keeps the last
// inserted). The batch's ID is not used.
func (s *MemorySink) Write(ctx context.Context, _ uint64, orders []protected.Order) error {
	s.mu.Lock()
	hook, writes := s.BeforeWrite, s.writes
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, writes); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range orders {
		k := ProtectedKeyOf(o)
		if prev, ok := s.orders[k]; !ok || !o.SourceUpdatedAt.Before(prev.SourceUpdatedAt) {
			s.orders[k] = o
		}
	}
	s.written += len(orders)
	s.writes++
	return nil
}

// Orders returns a copy of the latest snapshot of every order.
func (s *MemorySink) Orders() map[Key]protected.Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Key]protected.Order, len(s.orders))
	for k, o := range s.orders {
		out[k] = o
	}
	return out
}

// Received returns how many orders Write accepted in all, re-deliveries included.
func (s *MemorySink) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}
