package retention

import (
	"testing"
	"time"
)

// The inequality an offboarding relies on to skip a silent worker: a worker
// is waited for as long as it may still be sending a request for a tenant's
// data. Its requests are sent only before (start of its last good reload) +
// StaleAfter, and the start is at most seenAt + 1s (now() is read after the
// start, then truncated to the second); a request lasts at most
// RequestTimeout. So it is quiet after seenAt + 1s + StaleAfter +
// RequestTimeout, and live() must hold at every instant up to then.
func TestWorkerIsLiveUntilCertainlyQuiet(t *testing.T) {
	for _, c := range []struct{ stale, request time.Duration }{
		{time.Minute, 10 * time.Second},
		{time.Minute, 10*time.Second + 300*time.Millisecond},
		{1500 * time.Millisecond, 250 * time.Millisecond},
		{time.Hour, time.Minute},
	} {
		cfg := BlocklistConfig{StaleAfter: c.stale, RequestTimeout: c.request}
		quiet := cfg.quietAfter()
		seenAt := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC) // truncated, as ClickHouse stores it
		// The last instant a request may still be in flight, in real time.
		lastBusy := seenAt.Add(time.Second + c.stale + c.request)
		w := workerState{id: "w", seenAt: seenAt, quietAfter: time.Duration(uint32(quiet/time.Second)) * time.Second}
		// The offboarding's now() is truncated too: at real time x it reads
		// x.Truncate(1s). Every real instant up to lastBusy must see the
		// worker live, even with a LiveWithin shorter than its own bound.
		for at := seenAt; !at.After(lastBusy); at = at.Add(100 * time.Millisecond) {
			if !w.live(at.Truncate(time.Second), time.Second) {
				t.Errorf("stale %s, request %s: a worker possibly busy until %s is not live at %s",
					c.stale, c.request, lastBusy.Format(time.TimeOnly+".000"), at.Format(time.TimeOnly+".000"))
				break
			}
		}
		// And it is given up on, with LiveWithin at its bound, within two
		// seconds of certainly being quiet (the bound is not much larger).
		if w.live(lastBusy.Add(3*time.Second).Truncate(time.Second), quiet) {
			t.Errorf("stale %s, request %s: still live 3s after it is certainly quiet (quiet_after %s)", c.stale, c.request, quiet)
		}
	}
	if (workerState{seenAt: time.Now(), quietAfter: time.Hour, stopped: true}).live(time.Now(), time.Hour) {
		t.Error("a worker that signed off is live")
	}
}

// Pruning must never reach a worker an offboarding may still wait for: those
// are read within heartbeatHorizon, and live for far less.
func TestPruningWaitsLongerThanAnyOffboardingLooks(t *testing.T) {
	if pruneAfter <= 2*heartbeatHorizon {
		t.Errorf("bookkeeping is pruned %s after a worker's last heartbeat, offboardings read heartbeats of the last %s: want a wide margin", pruneAfter, heartbeatHorizon)
	}
}
