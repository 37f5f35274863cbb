package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry"
)

// purgeCommand runs one retention pass, the same code `orderflow run` runs on
// its schedule: for a CronJob, for an SRE after an incident, or with --now
// and --dry-run to see what a future date would remove.
func purgeCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (every key can also be set by ORDERFLOW_* variables)")
	nowFlag := fs.String("now", "", "evaluate retention as of this instant: RFC 3339, a date, or a period from now such as +22d or +6y (default now)")
	dryRun := fs.Bool("dry-run", false, "report what would be removed, and log it as dry_run, without removing anything")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	asOf, err := parseAsOf(*nowFlag, time.Now().UTC())
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: --now: %v\n", err)
		return 2
	}
	cfg, err := loadFor("purge", *configPath, stderr, needClickHouse)
	if err != nil {
		return 2
	}
	log := newLogger(cfg.Log, stderr)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 1
	}
	defer conn.Close()
	purger, err := newPurger(cfg, conn, nil, telemetry.NewRegistry(), log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 1
	}
	report, err := purger.Purge(ctx, asOf, *dryRun)
	printPurge(stdout, report)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow purge: %v\n", err)
		return 1
	}
	return 0
}

func printPurge(w io.Writer, r retention.Report) {
	mode := "purged"
	if r.DryRun {
		mode = "dry run: would purge"
	}
	fmt.Fprintf(w, "retention as of %s (run %s)\n", r.AsOf.Format(time.RFC3339), r.RunID)
	printActions(w, r.Actions)
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
	fs := flag.NewFlagSet("offboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (every key can also be set by ORDERFLOW_* variables)")
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
	cfg, err := loadFor("offboard", *configPath, stderr, needClickHouse, needVault)
	if err != nil {
		return 2
	}
	if *ackTimeout > 0 {
		cfg.Offboarding.AckTimeout = *ackTimeout
	}
	log := newLogger(cfg.Log, stderr)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	defer conn.Close()
	// This process's Vault client only destroys keys: an observer's gate
	// admits no call for any tenant's data, so it can create no key.
	gate, err := newBlocklist(ctx, cfg, conn, "", log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	reg := telemetry.NewRegistry()
	vault, err := newTransit(ctx, cfg, reg, log, gate)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	defer vault.Close()
	purger, err := newPurger(cfg, conn, vault, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	report, err := purger.Offboard(ctx, *tenant, time.Now().UTC())
	fmt.Fprintf(stdout, "offboarding tenant %s (run %s)\n", report.Tenant, report.RunID)
	printActions(stdout, report.Actions)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow offboard: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "tenant %s offboarded: %d live workers acknowledged, keys destroyed (%d left in Vault), %d rows deleted, %d remain, in %s\n",
		report.Tenant, report.Acknowledged(), report.KeysRemaining(), report.Deleted(), report.Remaining(), report.Duration.Round(time.Millisecond))
	return 0
}
