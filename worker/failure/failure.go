// Package failure is the worker's one vocabulary for what a failed step calls
// for. Each edge (the ClickHouse writer, the Vault client, the Kafka consumer
// and publisher, the protect stage) classifies the errors it knows, by type
// and code, never by message; the pipeline reads the class with Of and is the
// one place that acts on it: it retries, dead-letters or stops.
//
// The classes:
//
//   - Transient: the same step may succeed later (a server down, overloaded
//     or unreachable, a timeout). Retried with backoff, by the pipeline only.
//     An error that declares no class is transient: an edge that knows an
//     error is permanent says so.
//   - Order: one order can never pass the step, whatever is retried, and the
//     others can. The error names the order by its place in the step's input
//     (Orders); the pipeline dead-letters that order's message and goes on.
//   - Worker: no order can pass until an operator acts: bad credentials,
//     permission denied, a schema older than the binary, an unknown table or
//     column. The worker stops with the error, rather than spin.
package failure

import "strconv"

// Class is what a failed step calls for. The zero value is Transient.
type Class uint8

const (
	// Transient: retry the step with backoff.
	Transient Class = iota
	// Order: dead-letter the orders the error names, then go on.
	Order
	// Worker: stop the worker.
	Worker
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Order:
		return "permanent for one order"
	case Worker:
		return "permanent for the worker"
	}
	return "class " + strconv.Itoa(int(c))
}

// Classifier is implemented by errors that know their class (an edge's own
// error types); Of finds it in a chain. Others are wrapped with Stop, Retry
// or InOrder.
type Classifier interface {
	FailureClass() Class
}

// OrderFailure is implemented by errors of class Order: FailedOrder is the
// place of the order in the input of the call that failed (0 for the first).
type OrderFailure interface {
	FailedOrder() int
}

// Of returns err's class: that of the outermost error of its chain that
// declares one, so that a caller can reclassify what it wraps. Where the
// chain branches (errors.Join, or an error whose Unwrap returns several), the
// gravest branch decides: Worker over Order over Transient. Of(nil) is
// Transient; ask only about errors.
func Of(err error) Class {
	if err == nil {
		return Transient
	}
	if c, ok := err.(Classifier); ok {
		return c.FailureClass()
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return Of(u.Unwrap())
	case interface{ Unwrap() []error }:
		worst := Transient
		for _, e := range u.Unwrap() {
			worst = max(worst, Of(e))
		}
		return worst
	}
	return Transient
}

// Orders returns the branches of err that say an order can never pass (of
// class Order, naming one), by the order's place in the failed call's input;
// the outermost branch for a place that several name. It does not look inside
// branches that declare another class. Empty when there is none.
func Orders(err error) map[int]error {
	out := map[int]error{}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if c, ok := err.(Classifier); ok {
			if c.FailureClass() != Order {
				return
			}
			if o, ok := err.(OrderFailure); ok {
				if _, seen := out[o.FailedOrder()]; !seen {
					out[o.FailedOrder()] = err
				}
				return
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// Error is an error with a class given by the code that wrapped it. It says
// nothing of its own: Error() and every errors.Is/As see the wrapped error.
type Error struct {
	Class Class
	// Index is the place of the failed order in the call's input (Class
	// Order only).
	Index int
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// FailureClass is e.Class.
func (e *Error) FailureClass() Class { return e.Class }

// FailedOrder is e.Index.
func (e *Error) FailedOrder() int { return e.Index }

// Stop marks err as permanent for the worker. Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: Worker, Err: err}
}

// Retry marks err as transient, overriding what it wraps. Retry(nil) is nil.
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: Transient, Err: err}
}

// InOrder marks err as permanent for the order at index of the call's input.
// InOrder(i, nil) is nil.
func InOrder(index int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: Order, Index: index, Err: err}
}
