package facts_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// partsPerBatch is the most parts one batch may create across the four
// tables (issue 16): every part is one more for ClickHouse to merge, and a
// live stream writes a batch a second.
const partsPerBatch = 8

// streamBatch is one batch of a live stream as the bench's generator makes
// it: n messages, first snapshots of orders bought over the 30 days before
// now and later snapshots of them, from the generator's UK, German, French
// and Irish marketplaces on both channels, normalised and protected by the
// real stages.
func streamBatch(t testing.TB, s *stack, now time.Time, n int) []protected.Order {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: 16, Now: now, Days: 30, MalformedRate: -1, CardInTextRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	norm, err := channel.Default().Normalizer(normalize.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	orders := make([]order.Order, 0, n)
	for range n {
		o, err := norm.Normalize(g.Next().Value)
		if err != nil {
			t.Fatalf("a generated message does not normalise: %v", err)
		}
		orders = append(orders, o)
	}
	return s.protect(t, s.own(t, orders))
}

// A batch of a live stream whose orders span 30 purchase days creates at
// most partsPerBatch parts, counted by the server (system.part_log), with
// labels kept their default 21 days. As of 20 December the stream crosses a
// month's end; as of 20 April, a month's end and the end of the UK financial
// year (31 March) too.
func TestABatchOfAMonthsStreamWritesFewParts(t *testing.T) {
	t.Parallel()
	for _, now := range []time.Time{testNow, time.Date(2027, 4, 20, 12, 0, 0, 0, time.UTC)} {
		t.Run(now.Format(time.DateOnly), func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			batch := streamBatch(t, s, now, 3000)
			// The batch is the stream the budget is about.
			days, jurisdictions := map[string]bool{}, map[string]bool{}
			for i := range batch {
				days[batch[i].PurchasedAt.Format(time.DateOnly)] = true
				jurisdictions[channel.Default().Jurisdiction(batch[i].Channel, batch[i].Marketplace)] = true
			}
			if len(days) < 29 || len(jurisdictions) < 4 {
				t.Fatalf("the batch spans %d purchase days and jurisdictions %v: want a month's stream of the four marketplaces",
					len(days), slices.Sorted(maps.Keys(jurisdictions)))
			}
			since := time.Now().Add(-time.Second)
			w, _ := s.writer(t, func(c *facts.Config) {
				c.LabelRetention = config.Period{Days: 21}
				c.Now = func() time.Time { return now }
			})
			write(t, w, batch)

			parts, err := clickhousedb.NewParts(context.Background(), s.conn, since, s.ch.Database, s.ch.RestrictedDatabase)
			if err != nil {
				t.Fatal(err)
			}
			total := uint64(0)
			for _, name := range tables {
				n := parts[s.table(name)]
				if n == 0 {
					t.Errorf("%s: no part written", name)
				}
				total += n
				t.Logf("%s: %d parts", name, n)
			}
			if total > partsPerBatch {
				t.Errorf("one batch of %d orders over %d purchase days created %d parts, want at most %d", len(batch), len(days), total, partsPerBatch)
			}
		})
	}
}
