package retention

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/protected"
)

// A worker's side of a buyer's erasure (erase.go): each Reload of a worker's
// Blocklist also reads the orders erasures registered in erased_orders, and
// the pipeline has every snapshot of them erased as it writes it
// (EraseOrders, under Hold). A reload that finds a new registration of
// orders seals the cohort of writes held so far and, once they have returned,
// acknowledges it in offboard_acks as "erasure:<registration>", exactly as it
// acknowledges an offboarded tenant: Erase rewrites the tables only once
// every live worker has, so no snapshot written without the erasure lands
// after the rewrite.

// erasedKey is an order of a tenant.
type erasedKey struct {
	tenant, channel, id string
}

// erasedOrder is how a snapshot of an erased order is written.
type erasedOrder struct {
	marker      string
	keepInvoice bool
}

// erasedLookback re-reads rows registered this long before the newest seen,
// so that a registration whose erased_at (ClickHouse's clock at the time) is
// older than one already read is not missed.
const erasedLookback = 10 * time.Minute

// loadErased reads the registrations and orders registered since the last
// load (all of them the first time) and returns the orders whose erasure is
// new or changed and the registrations this process has not acknowledged;
// runs under b.reload. Nothing is remembered as seen unless the read
// succeeds.
func (b *Blocklist) loadErased(ctx context.Context) (map[erasedKey]erasedOrder, []uuid.UUID, error) {
	table := b.cfg.Database + "." + schema.TableErasedOrders
	where := ""
	var args []any
	if !b.erasedSince.IsZero() {
		where = " WHERE erased_at >= ?"
		args = append(args, b.erasedSince.Add(-erasedLookback))
	}
	var registrations []uuid.UUID
	fresh := map[uuid.UUID]bool{}
	added := map[erasedKey]erasedOrder{}
	newest := b.erasedSince
	current := *b.erased.Load()
	// One read: each order with its latest registration's marker (an order
	// registered twice, by two requests, is erased as the latest registered
	// it) and every registration that named it, which the reload
	// acknowledges. A registration's orders are inserted in one block, so a
	// registration read here comes with all of them.
	err := clickhousedb.EachRow(ctx, b.cfg.Conn, func(rows driver.Rows) error {
		var k erasedKey
		var e erasedOrder
		var keep uint8
		var at time.Time
		var regs []uuid.UUID
		if err := rows.Scan(&k.tenant, &k.channel, &k.id, &e.marker, &keep, &at, &regs); err != nil {
			return err
		}
		e.keepInvoice = keep == 1
		if at.After(newest) {
			newest = at
		}
		if old, ok := current[k]; !ok || old != e {
			added[k] = e
		}
		for _, id := range regs {
			if !b.seenRegistrations[id] && !fresh[id] {
				fresh[id] = true
				registrations = append(registrations, id)
			}
		}
		return nil
	}, "SELECT tenant_id, toString(channel), channel_order_id, argMax(marker, erased_at), argMax(keep_invoice, erased_at), max(erased_at), "+
		"groupUniqArray(registration) FROM "+table+where+" GROUP BY tenant_id, channel, channel_order_id", args...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the erased orders: %w", err)
	}
	b.erasedSince = newest
	for _, id := range registrations {
		b.seenRegistrations[id] = true
	}
	return added, registrations, nil
}

// storeErased adds orders to the erased set; runs under b.mu.
func (b *Blocklist) storeErased(added map[erasedKey]erasedOrder) {
	next := maps.Clone(*b.erased.Load())
	maps.Copy(next, added)
	b.erased.Store(&next)
}

// Erased reports whether a buyer's erasure has registered the order, as of
// the last reload (the dispatcher asks it before it sends a courier label).
func (b *Blocklist) Erased(tenant, channel, channelOrderID string) bool {
	_, ok := (*b.erased.Load())[erasedKey{tenant, channel, channelOrderID}]
	return ok
}

// EraseOrders erases, in place, the snapshots among orders of orders a
// buyer's erasure registered (protected.Order.Erase), as of the last reload,
// and returns how many. The pipeline calls it under Hold, before it writes.
func (b *Blocklist) EraseOrders(orders []protected.Order) int {
	set := *b.erased.Load()
	if len(set) == 0 {
		return 0
	}
	n := 0
	for i := range orders {
		o := &orders[i]
		if e, ok := set[erasedKey{o.TenantID, string(o.Channel), o.ChannelOrderID}]; ok {
			o.Erase(e.marker, e.keepInvoice)
			n++
		}
	}
	return n
}
