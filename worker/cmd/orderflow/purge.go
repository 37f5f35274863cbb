package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/lease"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/transit"
)

// The Pushgateway jobs of the one-shot commands. `orderflow run`, which
// Prometheus scrapes, pushes nothing, so its scheduled passes and the
// CronJob's never share a series.
const (
	purgeJob    = "orderflow-purge"
	offboardJob = "orderflow-offboard"
)

// purgeCommand runs one retention pass, the same code `orderflow run` runs on
// its schedule: for a CronJob, for an SRE after an incident, or with --now
// and --dry-run to see what a future date would remove. It serves /metrics
// while it runs and pushes its last-run gauges to metrics.pushgateway when
// it ends.
func purgeCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("purge", stderr)
	nowFlag := fs.String("now", "", "evaluate retention as of this instant: RFC 3339, a date, or a period from now such as +22d or +6y (default now; a future one only with --dry-run)")
	dryRun := fs.Bool("dry-run", false, "report what would be removed, and log it as dry_run, without removing anything")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	now := time.Now().UTC()
	asOf, err := parseAsOf(*nowFlag, now)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: --now: %v\n", err)
		return 2
	}
	if asOf.After(now) && !*dryRun {
		fmt.Fprintf(stderr, "orderflow purge: refusing to delete as of %s, which is in the future: that would delete data "+
			"before its retention ends; add --dry-run to see what it would remove\n", asOf.Format(time.RFC3339))
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("purge", *configPath, stderr, needClickHouse)
	if err != nil {
		return 2
	}
	defer cancel()
	useLease := cfg.Retention.Lease.Enabled && !*dryRun
	if err := cfg.Vault.Require(); useLease && err != nil {
		fmt.Fprintf(stderr, "orderflow purge: config: %v (the purge lease, retention.lease, is kept in Vault)\n", err)
		return 2
	}
	reg := newRegistry()
	defer serveWhileRunning(ctx, cfg, reg, log)()
	pusher, err := newPusher(cfg, purgeJob)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 2
	}

	var purgeLease retention.Lease
	if useLease {
		// Vault holds the lease only: this process makes no call for a
		// tenant's data, so its gate admits none (and can create no key).
		vault, err := newTransit(ctx, cfg, reg, log, closedGate{})
		if err != nil {
			fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
			return 1
		}
		defer vault.Close()
		if purgeLease, err = newPurgeLease(cfg, vault, log); err != nil {
			fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
			return 1
		}
	}
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 1
	}
	defer conn.Close()
	purger, err := newPurger(cfg, conn, nil, purgeLease, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 1
	}
	report, err := purger.Purge(ctx, asOf, *dryRun)
	printPurge(stdout, report)
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		code = 1
	}
	if perr := retention.PushPass(ctx, pusher, reg, report, err); perr != nil {
		fmt.Fprintf(stderr, "orderflow purge: the pass is done, but its metrics were not pushed: %v\n", perr)
		code = 1
	}
	return code
}

// closedGate is the transit gate of a process that has no business with any
// tenant's data: it refuses every call for one.
type closedGate struct{}

var errNoTenantCalls = errors.New("this process makes no Vault call for a tenant's data")

func (closedGate) Enter(string) (func(), bool, error) { return nil, false, errNoTenantCalls }
func (closedGate) Check(string) (bool, error)         { return false, errNoTenantCalls }

// newPusher is the command's Pushgateway client, nil when
// metrics.pushgateway is not set. The grouping key names the data set the job
// acts on (clickhouse.database): never a pod, which would leave a group
// behind in the Pushgateway for every run.
func newPusher(cfg config.Config, job string) (retention.Pusher, error) {
	if cfg.Metrics.Pushgateway == "" {
		return nil, nil
	}
	p, err := telemetry.NewPusher(telemetry.PushConfig{
		URL: cfg.Metrics.Pushgateway, Job: job, Grouping: map[string]string{"database": cfg.ClickHouse.Database},
	})
	if err != nil {
		return nil, err // not a typed nil: PushPass reads a nil Pusher as none
	}
	return p, nil
}

// newPurgeLease is the lease purge passes take (retention.lease), in Vault's
// KV engine through the transit client's login; nil when it is turned off.
// One lease per data set: clickhouse.database names it.
func newPurgeLease(cfg config.Config, vault *transit.Client, log *slog.Logger) (retention.Lease, error) {
	l := cfg.Retention.Lease
	if !l.Enabled {
		return nil, nil
	}
	pl, err := lease.New(lease.Config{
		Client: vault.VaultAPI(), Mount: l.KVMount, Key: l.Path + "/purge-" + cfg.ClickHouse.Database, TTL: l.TTL, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("retention.lease: %w", err)
	}
	return pl, nil
}

// serveWhileRunning serves /metrics, /healthz and /readyz on metrics.listen
// until the returned stop is called, so that a one-shot command can be
// watched while it runs. An address already taken (`orderflow run` on the
// same host) is logged, not fatal: the push at the end still reports.
func serveWhileRunning(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *slog.Logger) (stop func()) {
	log = log.With("component", "metrics")
	stop, err := telemetry.ServeWhileRunning(ctx, cfg.Metrics.Listen, reg, log, cfg.Pipeline.ShutdownTimeout)
	if err != nil {
		log.Warn("not serving metrics while running", "err", err)
		return func() {}
	}
	return stop
}

func printPurge(w io.Writer, r retention.Report) {
	mode := "purged"
	if r.DryRun {
		mode = "dry run: would purge"
	}
	fmt.Fprintf(w, "retention as of %s (run %s)\n", r.AsOf.Format(time.RFC3339), r.RunID)
	printActions(w, r.Actions)
	if r.Skipped {
		fmt.Fprintln(w, "skipped: another purge pass holds the lease; nothing was deleted")
		return
	}
	fmt.Fprintf(w, "%s %d rows, %d whole partitions, in %s\n", mode, r.Rows(), r.PartitionsDropped(), r.Duration.Round(time.Millisecond))
}

func printActions(w io.Writer, actions []retention.Action) {
	if len(actions) == 0 {
		fmt.Fprintln(w, "nothing has expired")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\taction\tpartition / predicate\trows\treason\toutcome")
	for _, a := range actions {
		where := a.Partition
		if where == "" {
			where = a.Predicate
		}
		outcome := string(a.Outcome)
		if a.Err != nil {
			outcome += ": " + a.Err.Error()
		}
		table := a.Table
		if table == "" {
			table = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", table, a.Kind, where, a.Rows, a.Reason, outcome)
	}
	_ = tw.Flush()
}

// offboardCommand removes everything of a seller who leaves (P10): it blocks
// the tenant, waits until every live worker has acknowledged the block, then
// destroys the tenant's Vault keys, deletes every row and proves that neither
// keys nor rows remain.
func offboardCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("offboard", stderr)
	tenant := fs.String("tenant", "", "the tenant (seller) to remove")
	confirm := fs.String("confirm", "", "the tenant id again: offboarding destroys the tenant's keys and every record, financial ones included, and cannot be undone")
	ackTimeout := fs.Duration("ack-timeout", 0, "how long to wait for every live worker to acknowledge the tenant before destroying its keys (default offboarding.ack_timeout)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *tenant == "" {
		fmt.Fprintln(stderr, "orderflow offboard: --tenant is required")
		return 2
	}
	if *confirm != *tenant {
		fmt.Fprintf(stderr, "orderflow offboard: refusing: this destroys every key and record of tenant %q, irreversibly; "+
			"run again with --confirm %s to go ahead\n", *tenant, *tenant)
		return 2
	}
	if *ackTimeout < 0 {
		fmt.Fprintln(stderr, "orderflow offboard: --ack-timeout must be positive")
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("offboard", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	defer cancel()
	if *ackTimeout > 0 {
		cfg.Offboarding.AckTimeout = *ackTimeout
	}
	reg := newRegistry()
	defer serveWhileRunning(ctx, cfg, reg, log)()
	pusher, err := newPusher(cfg, offboardJob)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 2
	}
	// This process's Vault client only destroys keys.
	o, err := openObserver(ctx, cfg, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	defer o.Close()
	purger, err := newPurger(cfg, o.conn, o.vault, nil, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	report, err := purger.Offboard(ctx, *tenant, time.Now().UTC())
	fmt.Fprintf(stdout, "offboarding tenant %s (run %s)\n", report.Tenant, report.RunID)
	printActions(stdout, report.Actions)
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		code = 1
	} else {
		fmt.Fprintf(stdout, "tenant %s offboarded: %d live workers acknowledged, keys destroyed (%d left in Vault), %d rows deleted, %d remain, in %s\n",
			report.Tenant, report.Acknowledged(), report.KeysRemaining(), report.Deleted(), report.Remaining(), report.Duration.Round(time.Millisecond))
	}
	if perr := retention.PushOffboarding(ctx, pusher, reg, err); perr != nil {
		fmt.Fprintf(stderr, "orderflow offboard: its metrics were not pushed: %v\n", perr)
		code = 1
	}
	return code
}
