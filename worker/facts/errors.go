package facts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// describe says what kind of failure err is without quoting the server's or
// the driver's message, either of which can hold a value: ClickHouse puts
// column values in some exceptions (a violated constraint lists the row's
// values), and the driver's conversion errors quote the value they refused.
// What it keeps: the exception code, network errors (addresses and system
// calls), the driver's fixed sentinel messages, the column of a conversion
// error, and otherwise the error's type.
func describe(err error) string {
	var (
		ex    *clickhouse.Exception
		opErr *net.OpError
		chOp  *clickhouse.OpError
	)
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &ex):
		return fmt.Sprintf("ClickHouse exception code %d", ex.Code)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.As(err, &opErr):
		return opErr.Error() // "dial tcp 127.0.0.1:9000: connect: connection refused"
	case errors.As(err, &chOp):
		return fmt.Sprintf("clickhouse-go %s of column %s failed (%T)", chOp.Op, chOp.ColumnName, innermost(chOp.Err))
	}
	for _, sentinel := range []error{
		clickhouse.ErrAcquireConnTimeout, clickhouse.ErrConnectionClosed, clickhouse.ErrBatchInvalid,
		clickhouse.ErrBatchAlreadySent, clickhouse.ErrAcquireConnNoAddress, clickhouse.ErrUnsupportedServerRevision,
		clickhouse.ErrServerUnexpectedData, io.ErrUnexpectedEOF, io.EOF, net.ErrClosed,
	} {
		if errors.Is(err, sentinel) {
			return sentinel.Error()
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "network timeout"
	}
	return fmt.Sprintf("error of type %T", innermost(err))
}

// innermost follows Unwrap to the error at the bottom of a chain.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
