package config

import "time"

// Offboarding tunes the two-phase offboarding of a tenant (P10): how each
// worker keeps its list of offboarded tenants (worker/retention, Blocklist),
// and how long `orderflow offboard` waits for the workers to acknowledge a
// tenant before it destroys the tenant's keys.
type Offboarding struct {
	// ReloadInterval is how often a worker reloads the offboarded tenants and
	// writes its heartbeat: at most about this long after an offboarding
	// begins, the worker refuses the tenant. Default 10s; 100ms to 10m.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// StaleAfter: a worker whose last good reload began longer ago than this
	// (by its own monotonic clock) refuses every tenant's Vault calls until a
	// reload succeeds, so that a worker an offboarding cannot see cannot be
	// encrypting either. Default 1m; at least twice reload_interval (one
	// failed reload does not stop the worker), at most 1h.
	StaleAfter time.Duration `yaml:"stale_after"`
	// LiveWithin: `orderflow offboard` waits for every worker whose last
	// heartbeat (by ClickHouse's clock) is at most this old. It must exceed
	// stale_after + vault.request_timeout + 2s: a worker sends a tenant's
	// request only while its list is fresh, that request ends within
	// vault.request_timeout, and heartbeat times are whole seconds; so a
	// worker silent for longer is certainly not talking to Vault.
	// Default 90s.
	LiveWithin time.Duration `yaml:"live_within"`
	// AckTimeout bounds `orderflow offboard`'s wait for the acknowledgements;
	// if some live worker has not acknowledged by then, it stops before
	// destroying anything (run it again). Default 5m; 1s to 24h.
	AckTimeout time.Duration `yaml:"ack_timeout"`
}

func defaultOffboarding() Offboarding {
	return Offboarding{
		ReloadInterval: 10 * time.Second,
		StaleAfter:     time.Minute,
		LiveWithin:     90 * time.Second,
		AckTimeout:     5 * time.Minute,
	}
}

// quietMargin covers heartbeat times truncated to the second, on both sides.
const quietMargin = 2 * time.Second

// validate checks the section; requestTimeout is vault.request_timeout.
func (o Offboarding) validate(requestTimeout time.Duration) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(between("offboarding.reload_interval", o.ReloadInterval, 100*time.Millisecond, 10*time.Minute))
	add(between("offboarding.stale_after", o.StaleAfter, 2*o.ReloadInterval, time.Hour))
	add(between("offboarding.ack_timeout", o.AckTimeout, time.Second, 24*time.Hour))
	// The inequality the offboarding's safety rests on (see LiveWithin).
	if quiet := o.StaleAfter + requestTimeout + quietMargin; o.LiveWithin <= quiet {
		add(keyErr("offboarding.live_within", "must be longer than offboarding.stale_after + vault.request_timeout + %s = %s, got %s",
			quietMargin, quiet, o.LiveWithin))
	}
	return errs
}
