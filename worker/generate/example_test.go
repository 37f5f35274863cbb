package generate_test

import (
	"fmt"
	"time"

	"github.com/orderflow/orderflow/worker/generate"
)

// A generator makes messages one at a time; its tally says what a worker that
// reads them all should write. The command `orderflow generate` produces them to
// Kafka: m.Key and m.Value to the input topic of m.Topic.
func Example() {
	g, err := generate.New(generate.Config{Seed: 1, Tenants: 2, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	m := g.Next()
	fmt.Printf("%s %s %s\n", m.Topic, m.Kind, m.Key)
	for range 9999 {
		g.Next()
	}
	s := g.Stats()
	fmt.Printf("%d messages: %d snapshots of %d orders, %d malformed\n", s.Messages, s.Snapshots, s.Orders, s.Malformed)
	fmt.Printf("GBP: %d orders totalling %s\n", s.Currencies["GBP"].Orders, s.Currencies["GBP"].Total)
	// Output:
	// amazon order brightside-books/205-5790679-8035639
	// 10000 messages: 9965 snapshots of 6963 orders, 35 malformed
	// GBP: 6139 orders totalling 405476.41
}
