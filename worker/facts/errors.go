package facts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/orderflow/orderflow/worker/failure"
)

// invalidOrderError is an order of the batch that no retry can write
// (ErrInvalidOrder), permanent for that order alone. The order is named by its
// place in the batch, not its id (an id field can hold anything), and the rule
// by a constant and field names: it holds no value of the order, so it is a
// deadletter.SafeError and may go into a dead letter's error header.
type invalidOrderError struct {
	index int
	rule  error // validate's: field names and constant words
}

func (e *invalidOrderError) Error() string {
	return "facts: invalid order: order " + strconv.Itoa(e.index) + " of the batch: " + e.rule.Error()
}

func (e *invalidOrderError) Is(target error) bool { return target == ErrInvalidOrder }

// SafeMessage is Error(): it holds no value of the order.
func (e *invalidOrderError) SafeMessage() string { return e.Error() }

// FailureClass is failure.Order: the batch's other orders can be written.
func (e *invalidOrderError) FailureClass() failure.Class { return failure.Order }

// FailedOrder is the order's place in the batch.
func (e *invalidOrderError) FailedOrder() int { return e.index }

// ClickHouse exception codes (ClickHouse's src/Common/ErrorCodes.cpp) that no
// retry can change: the server refuses the writer's user, or lacks what the
// writer inserts into. An operator must fix the user or run orderflow migrate.
var workerCodes = map[int32]string{
	8:   "no such column",
	10:  "column not found in block",
	16:  "no such column in table",
	47:  "unknown identifier",
	60:  "unknown table: run orderflow migrate",
	81:  "unknown database: run orderflow migrate",
	164: "the user is read-only",
	192: "unknown user",
	193: "wrong password",
	194: "a password is required",
	195: "the user may not connect from this address",
	291: "database access denied",
	497: "access denied",
	516: "authentication failed",
}

// Reasons of a failed insert: the reason label of
// orderflow_clickhouse_insert_errors_total, so that an alert and the on-call
// engineer tell a full disk from a server that is down without the logs.
const (
	// ReasonDiskFull: the server cannot write the part, its disk being full
	// (18.16: code 75 CANNOT_WRITE_TO_FILE_DESCRIPTOR with errno 28, ENOSPC;
	// current releases also 243 NOT_ENOUGH_SPACE). Transient: the batch is
	// retried and nothing committed until space is made.
	ReasonDiskFull = "disk_full"
	// ReasonTooManyParts: the server refuses inserts until merges catch up
	// (252 TOO_MANY_PARTS). Transient.
	ReasonTooManyParts = "too_many_parts"
	// ReasonRefused: the server refuses the writer's user or lacks a database,
	// table or column, or the driver cannot encode a column: permanent for
	// the worker (classify).
	ReasonRefused = "refused"
	// ReasonUnreachable: no answer from the server: a network error, a closed
	// connection, a timeout, an exhausted pool. Transient.
	ReasonUnreachable = "unreachable"
	// ReasonOther: any other server exception or error. Transient.
	ReasonOther = "other"
)

// insertReasons are the reason label's values, each table's series of every
// one kept from the start (newMetrics).
var insertReasons = []string{ReasonDiskFull, ReasonTooManyParts, ReasonRefused, ReasonUnreachable, ReasonOther}

// ClickHouse exception codes with a reason of their own.
const (
	codeTooManyParts = 252
	// codeNotEnoughSpace: current releases refuse a part they cannot reserve
	// space for; 18.16 fails the write itself (diskFull).
	codeNotEnoughSpace = 243
)

// diskFull reports whether the server says its disk is full. ClickHouse's
// ErrnoException message ends "errno: 28, strerror: No space left on device"
// whatever the code (writing, creating a directory, renaming a part); only
// the test reads the message, never a log or an error.
func diskFull(ex *clickhouse.Exception) bool {
	return ex.Code == codeNotEnoughSpace || strings.Contains(ex.Message, "errno: 28,") ||
		strings.Contains(ex.Message, "No space left on device")
}

// reason is the reason label of an insert's failure (the Reason* constants).
func reason(err error) string {
	var ex *clickhouse.Exception
	switch {
	case classify(err) == failure.Worker:
		return ReasonRefused
	case errors.As(err, &ex) && diskFull(ex):
		return ReasonDiskFull
	case errors.As(err, &ex) && ex.Code == codeTooManyParts:
		return ReasonTooManyParts
	case errors.As(err, &ex):
		return ReasonOther
	case unreachable(err):
		return ReasonUnreachable
	}
	return ReasonOther
}

// unreachable reports whether err says the server did not answer: a network
// error or timeout, a closed connection, no connection from the pool, the
// context's deadline.
func unreachable(err error) bool {
	var netErr net.Error
	for _, sentinel := range unreachableSentinels {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr)
}

// unreachableSentinels are the driver's and the standard library's errors of
// a server that did not answer (fixed messages, no value).
var unreachableSentinels = []error{
	clickhouse.ErrAcquireConnTimeout, clickhouse.ErrConnectionClosed, clickhouse.ErrAcquireConnNoAddress,
	io.ErrUnexpectedEOF, io.EOF, net.ErrClosed,
}

// classify is the class of an insert's failure (worker/failure): permanent
// for the worker when the server refuses the user or lacks a database, table
// or column (workerCodes), or when the driver cannot encode a column (a
// schema that changed under the writer; CheckSchema at start catches the
// rest, and build refuses the values the columns cannot hold); transient
// otherwise (the server down or overloaded, a timeout, a
// closed connection).
func classify(err error) failure.Class {
	var (
		ex   *clickhouse.Exception
		chOp *clickhouse.OpError
	)
	switch {
	case errors.As(err, &ex):
		if _, ok := workerCodes[ex.Code]; ok {
			return failure.Worker
		}
	case errors.As(err, &chOp) && (chOp.ColumnName != "" || chOp.Op == "batch.Column"):
		// A column the driver cannot encode, or fewer columns than the
		// writer sends: not a protocol hiccup, which has neither.
		return failure.Worker
	}
	return failure.Transient
}

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
		if name, ok := workerCodes[ex.Code]; ok {
			return fmt.Sprintf("ClickHouse exception code %d (%s)", ex.Code, name)
		}
		if diskFull(ex) {
			return fmt.Sprintf("ClickHouse exception code %d (the server's disk is full)", ex.Code)
		}
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
	for _, sentinel := range append([]error{
		clickhouse.ErrBatchInvalid, clickhouse.ErrBatchAlreadySent, clickhouse.ErrUnsupportedServerRevision,
		clickhouse.ErrServerUnexpectedData,
	}, unreachableSentinels...) {
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
