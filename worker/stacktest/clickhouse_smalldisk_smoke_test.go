package stacktest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestClickHouseSmallDiskFillsAndGrows proves the small-disk server does what
// the disk-full tests rely on: with its disk filled, an insert fails with the
// server's "No space left on device" (18.16: code 75, errno 28) while reads
// still answer; grown again, the same insert succeeds, and once the test
// ends the disk has its size back. orderflow's users log in there as on the
// stack's server.
func TestClickHouseSmallDiskFillsAndGrows(t *testing.T) {
	disk := stacktest.ClickHouseSmallDisk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := openClickHouse(t, disk.Addr)
	db := stacktest.UniqueName("smalldisk")
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".t (d Date, k UInt64, s String) ENGINE = MergeTree PARTITION BY toYYYYMM(d) ORDER BY k"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	// 10,000 rows of ~40 KiB compressed: more than the few KiB left.
	insert := "INSERT INTO " + db + ".t SELECT toDate('2026-12-01'), number, toString(number) FROM system.numbers LIMIT 10000"
	size := disk.Size(t)

	disk.Fill(t, 0)
	if free := disk.Free(t); free > 4096 {
		t.Fatalf("%d bytes free after Fill(0)", free)
	}
	err := conn.Exec(ctx, insert)
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || !strings.Contains(ex.Message, "No space left on device") {
		t.Fatalf("insert on a full disk = %v, want the server's No space left on device", err)
	}
	t.Logf("a full disk's insert: code %d (%s)", ex.Code, ex.Name)
	if n := count(t, conn, "SELECT count() FROM "+db+".t"); n != 0 {
		t.Errorf("%d rows after the failed insert, want 0", n)
	}

	disk.Resize(t, int(size>>20)+8)
	if free := disk.Free(t); free < 7<<20 {
		t.Fatalf("%d bytes free after growing the disk by 8 MiB", free)
	}
	if err := conn.Exec(ctx, insert); err != nil {
		t.Fatalf("insert after growing the disk: %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM "+db+".t"); n != 10_000 {
		t.Errorf("%d rows, want 10000", n)
	}

	// The roles of deploy/clickhouse, with the stack's passwords (.stack/env).
	pw := os.Getenv("ORDERFLOW_CLICKHOUSE_WRITER_PASSWORD")
	if pw == "" {
		t.Skip("ORDERFLOW_CLICKHOUSE_WRITER_PASSWORD is not set: source .stack/env to check orderflow's users")
	}
	writer, err := clickhouse.Open(&clickhouse.Options{Addr: []string{disk.Addr},
		Auth: clickhouse.Auth{Username: "orderflow_writer", Password: pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Close() }()
	if err := writer.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("orderflow_writer cannot log in: %v", err)
	}
}

// count is the result of a count() query.
func count(t *testing.T, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
