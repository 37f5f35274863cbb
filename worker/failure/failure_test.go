package failure_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/orderflow/orderflow/worker/failure"
)

// edgeError stands for an edge's own error type that knows its class.
type edgeError struct{ class failure.Class }

func (e edgeError) Error() string               { return "edge" }
func (e edgeError) FailureClass() failure.Class { return e.class }

func TestOfFindsTheClassThroughTheChain(t *testing.T) {
	base := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		err  error
		want failure.Class
	}{
		{"unclassified", base, failure.Transient},
		{"wrapped unclassified", fmt.Errorf("write: %w", base), failure.Transient},
		{"stop", failure.Stop(base), failure.Worker},
		{"stop wrapped", fmt.Errorf("sink: %w", failure.Stop(base)), failure.Worker},
		{"edge type", fmt.Errorf("vault: %w", edgeError{failure.Worker}), failure.Worker},
		{"outer overrides inner", failure.Retry(fmt.Errorf("x: %w", failure.Stop(base))), failure.Transient},
		{"order", failure.InOrder(3, base), failure.Order},
		{"join: the gravest", errors.Join(base, failure.InOrder(1, base), fmt.Errorf("t: %w", failure.Stop(base))), failure.Worker},
		{"join of orders", errors.Join(failure.InOrder(1, base), failure.InOrder(2, base)), failure.Order},
		{"join with a transient", errors.Join(base, failure.InOrder(2, base)), failure.Order},
	} {
		if got := failure.Of(tc.err); got != tc.want {
			t.Errorf("%s: Of = %v, want %v", tc.name, got, tc.want)
		}
	}
	if failure.Stop(nil) != nil || failure.Retry(nil) != nil || failure.InOrder(1, nil) != nil {
		t.Error("wrapping nil must give nil")
	}
}

func TestOrdersNamesEveryRefusedOrder(t *testing.T) {
	base := errors.New("status is not a canonical status")
	err := fmt.Errorf("facts: %w", errors.Join(
		failure.InOrder(7, base),
		failure.InOrder(2, base),
		fmt.Errorf("again: %w", failure.InOrder(7, base)),
		failure.Stop(failure.InOrder(5, base)), // reclassified: not an order's failure
		base,
	))
	got := failure.Orders(err)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []int{2, 7}) {
		t.Errorf("Orders names %v, want [2 7]", keys)
	}
	if !errors.Is(got[7], base) || failure.Of(got[7]) != failure.Order {
		t.Errorf("Orders()[7] = %v, want the order's own branch", got[7])
	}
	if got := failure.Orders(base); len(got) != 0 {
		t.Errorf("Orders of an unclassified error = %v", got)
	}
}

func TestWrappingKeepsTheMessageAndTheChain(t *testing.T) {
	base := errors.New("boom")
	err := failure.InOrder(4, fmt.Errorf("ctx: %w", base))
	if err.Error() != "ctx: boom" {
		t.Errorf("Error() = %q: the wrapper adds nothing of its own", err)
	}
	if !errors.Is(err, base) {
		t.Error("errors.Is does not see through the wrapper")
	}
}

func ExampleOf() {
	refused := errors.New("facts: order 2 of the batch: status is not a canonical status")
	errs := []error{
		errors.New("dial tcp 127.0.0.1:9000: connection refused"),
		failure.InOrder(2, refused),
		failure.Stop(errors.New("ClickHouse exception code 60 (unknown table)")),
	}
	for _, err := range errs {
		fmt.Printf("%s: %v\n", failure.Of(err), slices.Sorted(maps.Keys(failure.Orders(err))))
	}
	// Output:
	// transient: []
	// permanent for one order: [2]
	// permanent for the worker: []
}
