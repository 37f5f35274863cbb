package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// ActionKind is what an action did; purge_log's action column.
type ActionKind string

// The action kinds.
const (
	ActionDropPartition  ActionKind = "drop_partition"  // a whole expired partition dropped
	ActionDelete         ActionKind = "delete"          // expired rows of a straddling partition deleted
	ActionOffboardDelete ActionKind = "offboard_delete" // a tenant's rows of one table deleted
	ActionShredKeys      ActionKind = "shred_keys"      // a tenant's Vault keys destroyed
	ActionVerify         ActionKind = "verify"          // a tenant's remaining rows of one table counted
	ActionBlockIngest    ActionKind = "block_ingest"    // a tenant recorded as offboarded: workers refuse its orders
	ActionAwaitAcks      ActionKind = "await_acks"      // waited until every live worker acknowledged the tenant; rows: the workers
	ActionAcquireLease   ActionKind = "acquire_lease"   // the purge lease taken (recorded when it was not: skipped or failed)
	ActionCheckClock     ActionKind = "check_clock"     // the as-of instant checked against ClickHouse's clock (recorded when it failed)
	// ActionPrune: offboarding bookkeeping that no offboarding can need any
	// more deleted (heartbeats and acknowledgements of workers gone for a
	// week); not counted in the pass's rows, which are the data tables'.
	ActionPrune ActionKind = "prune"
	// The actions of a buyer's erasure (erase.go).
	ActionEraseRegister     ActionKind = "erase_register"      // the buyer's orders recorded in erased_orders; rows: the orders
	ActionEraseTokens       ActionKind = "erase_tokens"        // the buyer's tokens replaced by the request's marker
	ActionEraseDelete       ActionKind = "erase_delete"        // the orders' label rows deleted
	ActionEraseInvoiceParty ActionKind = "erase_invoice_party" // invoice parties not required by law cleared
)

// Outcome is how an action ended; purge_log's outcome column.
type Outcome string

// The outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeFailed Outcome = "failed"
	OutcomeDryRun Outcome = "dry_run" // computed, not done
	// OutcomeSkipped: not done because another purge pass held the lease.
	OutcomeSkipped Outcome = "skipped"
)

// Action is one step of a purge pass or an offboarding, as purge_log records
// it. Nothing in it is personal data.
type Action struct {
	Kind ActionKind
	// Table is the table's name without its database ("delivery_labels");
	// empty for shred_keys.
	Table string
	// Partition is the partition as system.parts writes it ("20261128",
	// "('GB',202611)"), for drops and straddle deletes.
	Partition string
	// Predicate is the WHERE clause of a delete, an offboarding delete or a
	// verification's count; for acquire_lease, the lease's name.
	Predicate string
	// Rows is what the action removed (or, dry, would remove): a dropped
	// partition's rows, or the rows a delete's predicate matched just before
	// it; for verify, the rows that remain.
	Rows uint64
	// Reason is the retention class (label, financial, analytics) or
	// "offboarding".
	Reason string
	// Tenant is the offboarded tenant; empty in purge passes.
	Tenant  string
	Outcome Outcome
	// Err is why the action failed; nil unless Outcome is failed.
	Err      error
	Started  time.Time
	Duration time.Duration
}

// Report is what a purge pass did (or, dry, would do).
type Report struct {
	RunID  uuid.UUID // purge_log.run_id of the pass's actions
	AsOf   time.Time // the instant retention was evaluated at, UTC
	DryRun bool
	// Skipped: another pass held the lease, and this one did nothing (its
	// one action, acquire_lease, has outcome skipped).
	Skipped  bool
	Actions  []Action
	Duration time.Duration
}

// Rows is the number of rows of the data tables the pass removed (dry: would
// remove); pruned bookkeeping is not counted.
func (r Report) Rows() uint64 {
	var n uint64
	for _, a := range r.Actions {
		if a.Kind != ActionPrune && (a.Outcome == OutcomeOK || a.Outcome == OutcomeDryRun) {
			n += a.Rows
		}
	}
	return n
}

// PartitionsDropped is the number of partitions the pass dropped (dry: would
// drop).
func (r Report) PartitionsDropped() int {
	n := 0
	for _, a := range r.Actions {
		if a.Kind == ActionDropPartition && (a.Outcome == OutcomeOK || a.Outcome == OutcomeDryRun) {
			n++
		}
	}
	return n
}

// OffboardReport is what an offboarding did: block_ingest, await_acks,
// shred_keys, then one offboard_delete and one verify action per table, and a
// verify of the keys in Vault.
type OffboardReport struct {
	RunID    uuid.UUID
	Tenant   string
	AsOf     time.Time
	Actions  []Action
	Duration time.Duration
}

// Deleted is the number of the tenant's rows the offboarding deleted.
func (r OffboardReport) Deleted() uint64 { return r.sum(ActionOffboardDelete) }

// Remaining is the number of the tenant's rows the verification still found:
// 0 after a successful offboarding.
func (r OffboardReport) Remaining() uint64 { return r.sum(ActionVerify) }

// KeysRemaining is the number of the tenant's Vault keys the verification
// still found: 0 after a successful offboarding.
func (r OffboardReport) KeysRemaining() uint64 {
	var n uint64
	for _, a := range r.Actions {
		if a.Kind == ActionVerify && a.Table == VerifyVault {
			n += a.Rows
		}
	}
	return n
}

// Acknowledged is the number of live workers that acknowledged the tenant
// before its keys were destroyed.
func (r OffboardReport) Acknowledged() uint64 { return r.sum(ActionAwaitAcks) }

func (r OffboardReport) sum(kind ActionKind) uint64 {
	var n uint64
	for _, a := range r.Actions {
		if a.Kind == kind && a.Table != VerifyVault && (kind == ActionVerify || a.Outcome == OutcomeOK) {
			n += a.Rows
		}
	}
	return n
}

// run is one pass or offboarding: its purge_log rows share run_id and as_of.
type run struct {
	id      uuid.UUID
	asOf    time.Time
	dryRun  bool
	tenant  string
	pending []Action // recorded, not yet in purge_log
}

func newRun(asOf time.Time, dryRun bool, tenant string) *run {
	return &run{id: uuid.New(), asOf: asOf, dryRun: dryRun, tenant: tenant}
}

// auditTimeout bounds one purge_log insert. The insert runs even when the
// pass's context has ended, so that a cancelled pass still leaves its record.
const auditTimeout = 30 * time.Second

// maxErrorLen caps the error text stored in purge_log.
const maxErrorLen = 2000

// begin starts an action of the run; finish it with the monotonic start
// returned beside it.
func (p *Purger) begin(r *run, kind ActionKind, table, reason string) (Action, time.Time) {
	a := Action{Kind: kind, Table: table, Reason: reason, Tenant: r.tenant, Started: p.cfg.Now(), Outcome: OutcomeOK}
	return a, time.Now()
}

// finish completes a: its outcome from err (and the run's dry-run flag, or
// an outcome already set to skipped), its duration, one log line; and queues
// it for purge_log.
func (p *Purger) finish(r *run, a *Action, started time.Time, err error) {
	a.Duration = time.Since(started)
	switch {
	case a.Outcome == OutcomeSkipped:
		a.Err = err // why, when given
	case err != nil:
		a.Outcome, a.Err = OutcomeFailed, err
	case r.dryRun:
		a.Outcome = OutcomeDryRun
	default:
		a.Outcome = OutcomeOK
	}
	attrs := []any{"run_id", r.id, "action", a.Kind, "table", a.Table, "reason", a.Reason,
		"rows", a.Rows, "outcome", a.Outcome, "duration", a.Duration}
	if a.Partition != "" {
		attrs = append(attrs, "table_partition", a.Partition) // "partition" is a Kafka partition's
	}
	if a.Predicate != "" {
		attrs = append(attrs, "predicate", a.Predicate)
	}
	if a.Tenant != "" {
		attrs = append(attrs, "tenant", a.Tenant)
	}
	level := slog.LevelInfo
	switch {
	case a.Outcome == OutcomeSkipped:
		level = slog.LevelWarn
	case err != nil:
		level = slog.LevelError
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	p.log.Log(context.Background(), level, "retention action", attrs...)
	r.pending = append(r.pending, *a)
}

// flush appends the run's pending actions to purge_log in one block insert.
func (p *Purger) flush(ctx context.Context, r *run) error {
	if len(r.pending) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	err := p.insertLog(ctx, r)
	if err != nil {
		p.log.Error("retention: writing purge_log failed", "run_id", r.id, "actions", len(r.pending), "err", err)
		err = fmt.Errorf("recording %d actions in %s.%s: %w", len(r.pending), p.cfg.Database, schema.TablePurgeLog, err)
	}
	r.pending = r.pending[:0]
	return err
}

func (p *Purger) insertLog(ctx context.Context, r *run) (err error) {
	batch, err := p.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+p.cfg.Database+"."+schema.TablePurgeLog+" "+
		"(run_id, table, action, partition, predicate, rows, reason, tenant_id, as_of, started_at, finished_at, outcome, error)")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = batch.Abort()
		}
	}()
	asOf := r.asOf.Truncate(time.Second)
	for _, a := range r.pending {
		started := a.Started.UTC().Truncate(time.Second)
		finished := a.Started.Add(a.Duration).UTC().Truncate(time.Second)
		if err := batch.Append(r.id, a.Table, string(a.Kind), a.Partition, a.Predicate, a.Rows, a.Reason,
			a.Tenant, asOf, started, finished, string(a.Outcome), errorText(a.Err)); err != nil {
			return err
		}
	}
	return batch.Send()
}

// errorText is err as purge_log stores it: one bounded string. The errors come
// from ClickHouse about statements that hold dates, partitions and tenant ids,
// and from the key shredder, which keeps values out of its errors.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "") + "..."
	}
	return s
}

// joinFlush flushes the run and joins a failure to err.
func (p *Purger) joinFlush(ctx context.Context, r *run, err error) error {
	return errors.Join(err, p.flush(ctx, r))
}
