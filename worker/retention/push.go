package retention

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Pusher sends the gauges of g whose names keep accepts to the job's group
// in a Prometheus Pushgateway: with replace the group then holds these and
// nothing else; without, only these names are replaced (telemetry.Pusher).
type Pusher interface {
	Push(ctx context.Context, g prometheus.Gatherer, keep func(name string) bool, replace bool) error
}

// The last-run gauges that a failed run must not overwrite, and the one a
// skipped pass pushes.
const (
	purgeLastSuccess    = "orderflow_purge_last_success_timestamp_seconds"
	purgeLastSkip       = "orderflow_purge_last_skip_timestamp_seconds"
	offboardLastSuccess = "orderflow_offboard_last_success_timestamp_seconds"
)

// PushPass pushes the gauges of the purge pass r, which ended with err, as a
// one-shot `orderflow purge` does at its end; p nil pushes nothing. A pass
// that deleted replaces the group when it succeeded, and when it failed
// replaces all but the last-success timestamps, which keep telling when the
// last success was. A pass skipped for the lease adds only its skip
// timestamp: the pass that held the lease pushes the rest. A dry run, and a
// pass refused for a future instant, push nothing. The push goes ahead when
// ctx is cancelled: what happened is reported even on SIGTERM.
func PushPass(ctx context.Context, p Pusher, g prometheus.Gatherer, r Report, err error) error {
	purge := func(name string) bool {
		return strings.HasPrefix(name, "orderflow_purge_") || strings.HasPrefix(name, "orderflow_retention_")
	}
	ctx = context.WithoutCancel(ctx)
	switch {
	case p == nil || r.DryRun || errors.Is(err, ErrFutureAsOf):
		return nil
	case r.Skipped:
		return p.Push(ctx, g, func(name string) bool { return name == purgeLastSkip }, false)
	case err == nil:
		return p.Push(ctx, g, purge, true)
	default:
		return p.Push(ctx, g, func(name string) bool { return purge(name) && name != purgeLastSuccess }, false)
	}
}

// PushOffboarding pushes the gauges of an offboarding that ended with err;
// p nil pushes nothing. It replaces the group when the offboarding
// succeeded, and all but the last-success timestamp when it failed.
func PushOffboarding(ctx context.Context, p Pusher, g prometheus.Gatherer, err error) error {
	if p == nil {
		return nil
	}
	offboard := func(name string) bool { return strings.HasPrefix(name, "orderflow_offboard_") }
	ctx = context.WithoutCancel(ctx)
	if err == nil {
		return p.Push(ctx, g, offboard, true)
	}
	return p.Push(ctx, g, func(name string) bool { return offboard(name) && name != offboardLastSuccess }, false)
}
