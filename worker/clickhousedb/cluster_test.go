package clickhousedb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
)

// The writer places an order on the shard a Distributed table would: its
// hash must be the server's cityHash64(tenant_id, channel_order_id) to the
// bit, for every length CityHash treats apart (0-16, 17-32, 33-64, longer)
// and any bytes, or snapshots of one order would land on two shards and
// FINAL would count both.
func TestShardingHashIsTheServersCityHash64(t *testing.T) {
	conn := clickhousetest.Open(t, clickhousetest.Config(t))
	rng := rand.New(rand.NewPCG(17, 2026))
	var tenants, orders []string
	add := func(tenant, order string) { tenants, orders = append(tenants, tenant), append(orders, order) }
	add("", "")
	add("tenant-a", "206-1234567-1234567")
	add("tenant-a", "12-34567-89012")
	add("seller_ü", "ÄÖÜ-ß-日本")
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		add(fmt.Sprintf("t%d", rng.IntN(5000)), string(b))
		add(strings.Repeat("x", n), "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT cityHash64(t, o) FROM (SELECT arrayJoin(arrayMap(i -> (?[i], ?[i]), arrayMap(j -> j + 1, range(?)))) AS p, p.1 AS t, p.2 AS o)",
		tenants, orders, len(tenants))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var want uint64
		if err := rows.Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := clickhousedb.ShardingHash(tenants[i], orders[i]); got != want {
			t.Errorf("pair %d (lengths %d, %d): ShardingHash = %d, server's cityHash64 = %d", i, len(tenants[i]), len(orders[i]), got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(tenants) {
		t.Fatalf("the server hashed %d pairs, want %d", i, len(tenants))
	}
}
