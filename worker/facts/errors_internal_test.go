package facts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/orderflow/orderflow/worker/failure"
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
