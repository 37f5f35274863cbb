package facts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
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
		ie := &InsertError{Database: "db", Table: "order_facts", Attempts: 2, Err: tc.err}
		if s := fmt.Sprintf("%v %+v %s", ie, ie, ie.Error()); strings.Contains(s, secret) {
			t.Errorf("InsertError shows the value: %s", s)
		}
	}
}
