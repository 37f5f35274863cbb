package facts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestDescribeQuotesNoValue: what the server and the driver say can hold
// values (a constraint violation lists the row's values; a conversion error
// quotes the value); describe keeps only the kind of failure.
func TestDescribeQuotesNoValue(t *testing.T) {
	const secret = "ann.smith@example.co.uk"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&clickhouse.Exception{Code: 469, Message: "Constraint `c` for table t is violated at row 1. Column values: buyer = '" + secret + "'"}, "exception code 469"},
		{fmt.Errorf("send: %w", &clickhouse.Exception{Code: 60, Message: "Table " + secret + " doesn't exist"}), "exception code 60"},
		{&clickhouse.OpError{Op: "AppendRow", ColumnName: "status", Err: &chcolumn.Error{ColumnType: "Enum8", Err: fmt.Errorf("unknown element %q", secret)}}, "AppendRow of column status"},
		{fmt.Errorf("x: %w", errors.New(secret)), "error of type *errors.errorString"},
		{fmt.Errorf("%s: %w", secret, context.Canceled), "canceled"},
		{fmt.Errorf("%s: %w", secret, clickhouse.ErrAcquireConnTimeout), clickhouse.ErrAcquireConnTimeout.Error()},
		{&clickhouse.Exception{Code: 75, Message: "Cannot write to file /data/" + secret + "/d.bin, errno: 28, strerror: No space left on device"},
			"exception code 75 (the server's disk is full)"},
	} {
		got := describe(tc.err)
		if strings.Contains(got, secret) || !strings.Contains(got, tc.want) {
			t.Errorf("describe(%v) = %q, want %q and no value", tc.err, got, tc.want)
		}
		ie := &InsertError{Database: "db", Table: "order_facts", Err: tc.err}
		if s := fmt.Sprintf("%v %+v %s", ie, ie, ie.Error()); strings.Contains(s, secret) {
			t.Errorf("InsertError shows the value: %s", s)
		}
	}
}

// TestClassify: what the server says about the writer itself stops the worker;
// what may pass later is transient.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want failure.Class
	}{
		{"unknown table", &clickhouse.Exception{Code: 60}, failure.Worker},
		{"unknown database", fmt.Errorf("prepare: %w", &clickhouse.Exception{Code: 81}), failure.Worker},
		{"no such column", &clickhouse.Exception{Code: 16}, failure.Worker},
		{"wrong password (18.16)", &clickhouse.Exception{Code: 193}, failure.Worker},
		{"authentication failed", &clickhouse.Exception{Code: 516}, failure.Worker},
		{"database access denied", &clickhouse.Exception{Code: 291}, failure.Worker},
		{"a column the driver cannot encode", &clickhouse.OpError{Op: "AppendRow", ColumnName: "status", Err: errors.New("x")}, failure.Worker},
		{"too many parts", &clickhouse.Exception{Code: 252}, failure.Transient},
		{"disk full (18.16)", diskFull1816, failure.Transient},
		{"not enough space (current)", &clickhouse.Exception{Code: 243}, failure.Transient},
		{"timeout", &clickhouse.Exception{Code: 159}, failure.Transient},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, failure.Transient},
		{"pool exhausted", clickhouse.ErrAcquireConnTimeout, failure.Transient},
		{"protocol hiccup", &clickhouse.OpError{Op: "process", Err: errors.New("unexpected packet 9")}, failure.Transient},
	} {
		err := fmt.Errorf("facts: batch not written: %w", &InsertError{Database: "db", Table: "t", Err: tc.err})
		if got := failure.Of(err); got != tc.want {
			t.Errorf("%s: class %v, want %v", tc.name, got, tc.want)
		}
	}
}

// diskFull1816 is what ClickHouse 18.16 answers an insert on a full disk (seen
// on the small-disk server, deploy/local/clickhouse-smalldisk.sh).
var diskFull1816 = &clickhouse.Exception{Code: 75, Name: "DB::ErrnoException",
	Message: "Cannot write to file /var/lib/clickhouse/data/orderflow/order_facts/tmp_insert_202612_1_1_0/version.bin, errno: 28, strerror: No space left on device"}

// TestReason: each failure's reason label; a full disk is told apart from the
// server's other exceptions by its code or errno, whichever release answers.
func TestReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"disk full (18.16)", diskFull1816, ReasonDiskFull},
		{"disk full creating a part's directory", &clickhouse.Exception{Code: 1001, Message: "Cannot create directory: No space left on device"}, ReasonDiskFull},
		{"not enough space (current)", &clickhouse.Exception{Code: 243, Message: "Cannot reserve 1.00 MiB, not enough space"}, ReasonDiskFull},
		{"another write error", &clickhouse.Exception{Code: 75, Message: "Cannot write to file d.bin, errno: 5, strerror: Input/output error"}, ReasonOther},
		{"too many parts", &clickhouse.Exception{Code: 252}, ReasonTooManyParts},
		{"unknown table", &clickhouse.Exception{Code: 60}, ReasonRefused},
		{"a column the driver cannot encode", &clickhouse.OpError{Op: "AppendRow", ColumnName: "status", Err: errors.New("x")}, ReasonRefused},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, ReasonUnreachable},
		{"pool exhausted", clickhouse.ErrAcquireConnTimeout, ReasonUnreachable},
		{"connection closed mid-insert", fmt.Errorf("send: %w", io.ErrUnexpectedEOF), ReasonUnreachable},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), ReasonUnreachable},
		{"timeout exception", &clickhouse.Exception{Code: 159}, ReasonOther},
		{"protocol hiccup", &clickhouse.OpError{Op: "process", Err: errors.New("unexpected packet 9")}, ReasonOther},
	} {
		ie := &InsertError{Database: "db", Table: "t", Err: tc.err}
		if got := ie.Reason(); got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDiskFullGauge: orderflow_clickhouse_disk_full counts, per table, the
// shards whose last insert attempt failed for a full disk; any other outcome
// there clears that shard.
func TestDiskFullGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(tb table) float64 {
		return telemetrytest.Sum(t, reg, "orderflow_clickhouse_disk_full", "table="+tb.String())
	}
	for _, step := range []struct {
		shard int
		full  bool
		want  float64
	}{{1, true, 1}, {2, true, 2}, {1, true, 2}, {1, false, 1}, {2, false, 0}} {
		m.attempted(step.shard, orderFacts, step.full)
		if g := gauge(orderFacts); g != step.want {
			t.Errorf("after shard %d full=%v: %v, want %v", step.shard, step.full, g, step.want)
		}
	}
	m.attempted(0, deliveryLabels, true)
	if g, other := gauge(deliveryLabels), gauge(orderFacts); g != 1 || other != 0 {
		t.Errorf("delivery_labels %v, order_facts %v: want 1 and 0, each table apart", g, other)
	}
}
