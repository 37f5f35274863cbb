package faults

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
)

// recorder keeps the errors a check reports instead of failing the test, so
// that a test can break what a check guards and see the check say so.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

// TestChecksCatchWhatTheyGuard runs a clean case, then breaks each thing the
// checks guard (a row at a version never sent, an order twice under FINAL, an
// order never written, a dead letter of a good message, a commit ahead of the
// writes, a buyer's name in a log) and expects each check to say so; on the
// clean run they say nothing.
func TestChecksCatchWhatTheyGuard(t *testing.T) {
	h := run(t, TestSuite, Case{Name: "checks", Seed: 7, Messages: 800})
	clean := &recorder{TB: t}
	h.t = clean
	h.check()
	if len(clean.errs) > 0 {
		t.Fatalf("a clean run failed its checks: %v", clean.errs)
	}

	ctx := context.Background()
	db := h.ch.Database
	// Two orders of one tenant and channel, to break differently.
	var tenant, ch, id, id2 string
	if err := h.conn.QueryRow(ctx, "SELECT tenant_id, toString(channel), min(channel_order_id), max(channel_order_id) FROM "+db+"."+schema.TableOrderFacts+" GROUP BY tenant_id, channel ORDER BY tenant_id, channel LIMIT 1").Scan(&tenant, &ch, &id, &id2); err != nil {
		t.Fatal(err)
	}
	var cols []string
	rows, err := h.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, schema.TableOrderFacts)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	copyRow := func(of string, set map[string]string) {
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = c
			if e, ok := set[c]; ok {
				exprs[i] = e
			}
		}
		q := "INSERT INTO " + db + "." + schema.TableOrderFacts + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
			" FROM " + db + "." + schema.TableOrderFacts + " WHERE tenant_id = '" + tenant + "' AND channel_order_id = '" + of + "' ORDER BY version DESC LIMIT 1"
		if err := h.conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// A snapshot never sent, newer than the latest: the order is not at its
	// latest version any more.
	copyRow(id, map[string]string{"version": "version + 1"})
	// The same order under the other channel: twice under FINAL, and the totals
	// and counts are off.
	other := map[string]string{"amazon": "ebay", "ebay": "amazon"}[ch]
	copyRow(id2, map[string]string{"channel": "'" + other + "'"})
	// An order the case made but nobody wrote.
	lost := h.messages[0]
	lost.Key = []byte(tenant + "/never-written-1")
	lost.Kind = generate.KindOrder
	h.messages = append(h.messages, lost)
	// A dead letter of a good message.
	good := h.readInputs()[0]
	w := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: h.dlq}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x"), Headers: []kafka.Header{
		{Key: deadletter.HeaderSourceTopic, Value: []byte(good.topic)},
		{Key: deadletter.HeaderSourcePartition, Value: []byte(strconv.Itoa(good.id))},
		{Key: deadletter.HeaderSourceOffset, Value: []byte(strconv.FormatInt(good.offset, 10))},
		{Key: deadletter.HeaderReason, Value: []byte("invalid_json")},
	}}); err != nil {
		t.Fatal(err)
	}
	// A commit that ran ahead of every write.
	ends := h.endOffsets()
	h.checkpoints = append(h.checkpoints, checkpoint{at: time.Now(), committed: ends, versions: map[string]uint64{}, letters: map[position]bool{}})
	// A buyer's name in a worker's log.
	var name string
	for i := range h.messages {
		if h.messages[i].Kind != generate.KindMalformed && h.messages[i].Topic == order.ChannelEbay {
			if o, err := normalized(h.messages[i].Value); err == nil && len(o.Buyer.Name) >= 6 {
				name = o.Buyer.Name
				break
			}
		}
	}
	h.logs.WriteString("w0| level=ERROR msg=\"write failed\" buyer=" + name + "\n")

	broken := &recorder{TB: t}
	h.t = broken
	h.check()
	all := strings.Join(broken.errs, "\n")
	for _, want := range []string{
		"is no snapshot that was sent",
		"under FINAL, its latest snapshot is",
		"appears 2 times under FINAL",
		"was never written",
		"under FINAL: ", // the currency totals against the tally
		"is of no malformed message",
		"committed messages were not written",
		"hold a buyer's personal value",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no check said %q; they said:\n%s", want, all)
		}
	}
	if strings.Contains(all, name) {
		t.Error("a check's message repeats the personal value it found")
	}
}
