package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// checkpoint is what was committed at one instant, with what was written then:
// the end of the case checks that every message below a committed offset had
// been written (its order at that snapshot's version or later) or dead-lettered.
type checkpoint struct {
	at        time.Time
	committed map[partition]int64
	versions  map[string]uint64 // order key -> the highest version stored
	letters   map[position]bool // dead letters' source positions
}

// position is an input message's place in Kafka.
type position struct {
	partition
	offset int64
}

// Checkpoint records what the group has committed and what has been written.
// The committed offsets are read first: a write that lands after them only
// makes the check kinder, never wrongly failing. KillWorker calls it once the
// worker is dead (nothing more of its can be committed); a fault may call it
// at any other instant.
func (h *Harness) Checkpoint() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A commit request in flight when its worker died may still be applied:
	// give the broker a moment before reading.
	time.Sleep(300 * time.Millisecond)
	var cp checkpoint
	// Kafka or ClickHouse may be the server that is down: ask again for a while.
	if err := retrying(40, func() (err error) { cp.committed, err = h.committed(ctx); return err }); err != nil {
		h.t.Fatalf("%s: checkpoint: %v", h.c.Name, err)
	}
	cp.at = time.Now()
	if err := retrying(120, func() (err error) { cp.versions, err = h.storedVersions(ctx); return err }); err != nil {
		h.t.Fatalf("%s: checkpoint: %v", h.c.Name, err)
	}
	cp.letters = map[position]bool{}
	for _, l := range h.letters() {
		cp.letters[l.source] = true
	}
	h.mu.Lock()
	h.checkpoints = append(h.checkpoints, cp)
	h.mu.Unlock()
}

// retrying calls fn until it succeeds or has failed attempts times, half a
// second apart.
func retrying(attempts int, fn func() error) error {
	var err error
	for range attempts {
		if err = fn(); err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

// storedVersions is the highest version stored of each order, merged or not.
func (h *Harness) storedVersions(ctx context.Context) (map[string]uint64, error) {
	rows, err := h.conn.Query(ctx, "SELECT concat(tenant_id, '/', channel_order_id), max(version) FROM "+h.ch.Database+"."+schema.TableOrderFacts+" GROUP BY tenant_id, channel_order_id")
	if err != nil {
		return nil, fmt.Errorf("read stored versions: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var key string
		var v uint64
		if err := rows.Scan(&key, &v); err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, rows.Err()
}

// letter is one dead letter, by its headers.
type letter struct {
	source position
	reason string
}

func (h *Harness) letters() []letter {
	h.t.Helper()
	msgs := stacktest.ReadAll(h.t, h.brokers, h.dlq, Partitions)
	out := make([]letter, 0, len(msgs))
	for _, m := range msgs {
		hd := map[string]string{}
		for _, x := range m.Headers {
			hd[x.Key] = string(x.Value)
		}
		p, err1 := strconv.Atoi(hd[deadletter.HeaderSourcePartition])
		o, err2 := strconv.ParseInt(hd[deadletter.HeaderSourceOffset], 10, 64)
		if err1 != nil || err2 != nil {
			h.t.Errorf("%s: a dead letter at %d/%d names no source position: %v", h.c.Name, m.Partition, m.Offset, hd)
			continue
		}
		out = append(out, letter{source: position{partition{hd[deadletter.HeaderSourceTopic], p}, o}, reason: hd[deadletter.HeaderReason]})
	}
	return out
}

// input is one message read back from an input topic, with what was generated.
type input struct {
	position
	meta *generate.Meta
	key  string
}

// readInputs reads both input topics back and finds each message's Meta.
func (h *Harness) readInputs() []input {
	h.t.Helper()
	var out []input
	for _, topic := range h.topics {
		for _, m := range stacktest.ReadAll(h.t, h.brokers, topic, Partitions) {
			i, ok := h.byBytes[h.hash(m.Key, m.Value)]
			if !ok {
				h.t.Fatalf("%s: %s/%d at %d holds a message the case never made", h.c.Name, topic, m.Partition, m.Offset)
			}
			out = append(out, input{position{partition{topic, m.Partition}, m.Offset}, &h.messages[i].Meta, string(m.Key)})
		}
	}
	return out
}

// check runs every check at the end of a case and returns its report.
func (h *Harness) check() Report {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := Report{Case: h.c.Name, Seed: h.c.Seed, Messages: int64(len(h.messages)), Orders: h.stats.Orders, Recoveries: h.recoveries, Checkpoints: len(h.checkpoints)}

	// What must be: each order's latest version, from the generated messages.
	want := map[string]int64{}
	snapshots := map[string]map[int64]bool{}
	for i := range h.messages {
		m := &h.messages[i]
		if m.Kind == generate.KindMalformed {
			continue
		}
		k := string(m.Key)
		want[k] = max(want[k], m.Version)
		if snapshots[k] == nil {
			snapshots[k] = map[int64]bool{}
		}
		snapshots[k][m.Version] = true
	}

	// Every stored row is a snapshot that was sent; copies of one are redelivered.
	rows, err := h.conn.Query(ctx, "SELECT concat(tenant_id, '/', channel_order_id), version, count() FROM "+h.ch.Database+"."+schema.TableOrderFacts+" GROUP BY tenant_id, channel_order_id, version")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var key string
		var v, n uint64
		if err := rows.Scan(&key, &v, &n); err != nil {
			t.Fatal(err)
		}
		if !snapshots[key][int64(v)] {
			t.Errorf("%s: a stored row of %s at version %d is no snapshot that was sent", h.c.Name, key, v)
		}
		r.Redelivered += int64(n) - 1
	}
	rows.Close()

	// Under FINAL: every order once, at its latest version.
	rows, err = h.conn.Query(ctx, "SELECT concat(tenant_id, '/', channel_order_id), max(version), count() FROM "+h.ch.Database+"."+schema.TableOrderFacts+" FINAL GROUP BY tenant_id, channel_order_id")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var key string
		var v, n uint64
		if err := rows.Scan(&key, &v, &n); err != nil {
			t.Fatal(err)
		}
		seen[key] = true
		switch {
		case n > 1:
			r.Duplicated++
			t.Errorf("%s: order %s appears %d times under FINAL", h.c.Name, key, n)
		case int64(v) != want[key]:
			r.Lost++
			t.Errorf("%s: order %s is at version %d under FINAL, its latest snapshot is %d", h.c.Name, key, v, want[key])
		default:
			r.Written++
		}
	}
	rows.Close()
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if !seen[key] {
			r.Lost++
			if r.Lost <= 10 {
				t.Errorf("%s: order %s was never written", h.c.Name, key)
			}
		}
	}
	if r.Written != h.stats.Orders {
		t.Errorf("%s: %d orders written under FINAL at their latest version, the tally says %d", h.c.Name, r.Written, h.stats.Orders)
	}

	h.checkTotals(ctx)
	h.checkSecondaryTables(ctx)
	inputs := h.readInputs()
	h.checkLetters(&r, inputs)
	h.checkCheckpoints(inputs)
	h.checkLogs()
	return r
}

// checkTotals compares the sums per currency and the orders per tenant and
// channel under FINAL with the tally, to the penny.
func (h *Harness) checkTotals(ctx context.Context) {
	t := h.t
	t.Helper()
	rows, err := h.conn.Query(ctx, "SELECT currency, count(), toString(sum(total)), toString(sum(refunded)), toString(sum(marketplace_tax)) FROM "+h.ch.Database+"."+schema.TableOrderFacts+" FINAL GROUP BY currency")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]generate.CurrencyTotals{}
	for rows.Next() {
		var cur, total, refunded, tax string
		var n uint64
		if err := rows.Scan(&cur, &n, &total, &refunded, &tax); err != nil {
			t.Fatal(err)
		}
		got[cur] = generate.CurrencyTotals{Orders: int64(n), Total: pennies(t, total), Refunded: pennies(t, refunded), MarketplaceTax: pennies(t, tax)}
	}
	rows.Close()
	for cur, w := range h.stats.Currencies {
		g := got[cur]
		if g.Orders != w.Orders || g.Total != w.Total || g.Refunded != w.Refunded || g.MarketplaceTax != w.MarketplaceTax {
			t.Errorf("%s: %s under FINAL: %d orders, total %v, refunded %v, marketplace tax %v; the tally: %d, %v, %v, %v",
				h.c.Name, cur, g.Orders, g.Total, g.Refunded, g.MarketplaceTax, w.Orders, w.Total, w.Refunded, w.MarketplaceTax)
		}
		delete(got, cur)
	}
	for cur := range got {
		t.Errorf("%s: ClickHouse holds orders in %s, which the tally has none of", h.c.Name, cur)
	}

	rows, err = h.conn.Query(ctx, "SELECT tenant_id, toString(channel), count() FROM "+h.ch.Database+"."+schema.TableOrderFacts+" FINAL GROUP BY tenant_id, channel")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for rows.Next() {
		var tenant, ch string
		var n uint64
		if err := rows.Scan(&tenant, &ch, &n); err != nil {
			t.Fatal(err)
		}
		counts[tenant+"/"+ch] = int64(n)
	}
	rows.Close()
	for tenant, byTopic := range h.stats.Tenants {
		for topic, c := range byTopic {
			if counts[tenant+"/"+topic] != c.Orders {
				t.Errorf("%s: %s on %s: %d orders under FINAL, the tally says %d", h.c.Name, tenant, topic, counts[tenant+"/"+topic], c.Orders)
			}
		}
	}
}

// pennies parses a Decimal(18, 4) rendered by toString into an order.Amount,
// refusing anything finer than a penny.
func pennies(t testing.TB, s string) order.Amount {
	t.Helper()
	a, err := order.ParseAmount(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return a
}

// checkSecondaryTables checks that no order's line facts or financial record
// is duplicated under FINAL, and that each table holds only orders that exist.
func (h *Harness) checkSecondaryTables(ctx context.Context) {
	t := h.t
	t.Helper()
	for _, q := range []struct{ name, query string }{
		{schema.TableOrderLineFacts, "SELECT count() FROM (SELECT count() AS n FROM " + h.ch.Database + "." + schema.TableOrderLineFacts + " FINAL GROUP BY tenant_id, channel, channel_order_id, line_id HAVING n > 1)"},
		{schema.TableFinancialRecords, "SELECT count() FROM (SELECT count() AS n FROM " + h.ch.RestrictedDatabase + "." + schema.TableFinancialRecords + " FINAL GROUP BY tenant_id, channel, channel_order_id HAVING n > 1)"},
	} {
		var n uint64
		if err := h.conn.QueryRow(ctx, q.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		if n > 0 {
			t.Errorf("%s: %d keys of %s appear more than once under FINAL", h.c.Name, n, q.name)
		}
	}
}

// checkLetters: every malformed message has a dead letter with its reason,
// and every letter is of a malformed message.
func (h *Harness) checkLetters(r *Report, inputs []input) {
	t := h.t
	t.Helper()
	malformed := map[position]*generate.Meta{}
	for _, in := range inputs {
		if in.meta.Kind == generate.KindMalformed {
			malformed[in.position] = in.meta
		}
	}
	got := map[position]bool{}
	for _, l := range h.letters() {
		m, ok := malformed[l.source]
		switch {
		case !ok:
			t.Errorf("%s: a dead letter of %v is of no malformed message", h.c.Name, l.source)
		case m.Reason != l.reason:
			t.Errorf("%s: the dead letter of %v says %q, the message's reason is %q", h.c.Name, l.source, l.reason, m.Reason)
		case got[l.source]:
			r.RedeliveredLetters++
		default:
			got[l.source] = true
			r.Letters++
		}
	}
	for pos := range malformed {
		if !got[pos] {
			t.Errorf("%s: the malformed message at %v has no dead letter", h.c.Name, pos)
		}
	}
	if r.Letters == 0 && len(malformed) > 0 {
		t.Errorf("%s: no dead letters", h.c.Name)
	}
}

// checkCheckpoints: at every checkpoint, every message below a committed
// offset had been written or dead-lettered.
func (h *Harness) checkCheckpoints(inputs []input) {
	t := h.t
	t.Helper()
	for i, cp := range h.checkpoints {
		ahead := 0
		for _, in := range inputs {
			if in.offset >= cp.committed[in.partition] {
				continue
			}
			written := in.meta.Kind == generate.KindMalformed && cp.letters[in.position] ||
				in.meta.Kind != generate.KindMalformed && cp.versions[in.key] >= uint64(in.meta.Version)
			if !written {
				ahead++
				if ahead <= 5 {
					t.Errorf("%s: checkpoint %d: %v was committed (offset %d < %d) but not written", h.c.Name, i, in.position, in.offset, cp.committed[in.partition])
				}
			}
		}
		if ahead > 0 {
			t.Errorf("%s: checkpoint %d: %d committed messages were not written", h.c.Name, i, ahead)
		}
	}
}

// checkLogs: the workers logged no personal value of any order.
func (h *Harness) checkLogs() {
	t := h.t
	t.Helper()
	logs := h.Logs()
	var orders []order.Order
	for i := range h.messages {
		m := &h.messages[i]
		if m.Kind == generate.KindMalformed {
			continue
		}
		o, err := normalized(m.Value)
		if err != nil {
			continue // a message the worker dead-letters for a reason of its own
		}
		orders = append(orders, o)
	}
	leaks := 0
	for _, v := range (privacytest.OrderValues{MinLen: 6}).Of(orders) {
		if strings.Contains(logs, v) {
			leaks++
			if leaks <= 3 {
				// The line, the value masked, so that a false alarm can be
				// told from a leak without the check repeating the value.
				line := linesWhere(logs, 1, func(line string) bool { return strings.Contains(line, v) })
				t.Errorf("%s: the workers' logs hold a buyer's personal value (%d bytes long) in:\n%s", h.c.Name, len(v),
					strings.ReplaceAll(line, v, "[the value]"))
			}
		}
	}
	if l := privacytest.Leaks(logs); len(l) > 0 {
		// The corpus is public test data: its values may be shown.
		t.Errorf("%s: the workers' logs hold %v, first in:\n%s", h.c.Name, l,
			linesWhere(logs, 3, func(line string) bool { return len(privacytest.Leaks(line)) > 0 }))
	}
	if leaks > 0 {
		t.Errorf("%s: %d personal values in the workers' logs", h.c.Name, leaks)
	}
	if strings.Contains(logs, "panic:") {
		t.Errorf("%s: a worker panicked:\n%s", h.c.Name, logs)
	}
}

// linesWhere is the first n lines of text for which match holds, indented.
func linesWhere(text string, n int, match func(string) bool) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if n == 0 {
			break
		}
		if match(line) {
			b.WriteString("    " + line)
			n--
		}
	}
	return b.String()
}

// normalized is the canonical order of a generated message.
func normalized(msg []byte) (order.Order, error) {
	n, err := channel.Default().Normalizer(normalize.Config{MaxClockSkew: 30 * 24 * time.Hour})
	if err != nil {
		return order.Order{}, err
	}
	return n.Normalize(msg)
}
