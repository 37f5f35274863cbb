package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Offboarded tenants (P10): `orderflow offboard` records a tenant in
// {database}.offboarded_tenants before anything else, so that workers refuse
// the tenant's orders (Blocklist) and every purge pass deletes whatever of the
// tenant arrived all the same (sweepOffboarded). Without both, a batch in
// flight during the offboarding, or a replay of the input topics, would write
// the tenant's buyers' data again, under new keys.

// recordOffboarded adds the tenant to offboarded_tenants.
func (p *Purger) recordOffboarded(ctx context.Context, r *run) error {
	batch, err := p.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+p.cfg.Database+".offboarded_tenants (tenant_id, offboarded_at, run_id)")
	if err != nil {
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	if err := batch.Append(r.tenant, p.cfg.Now().UTC().Truncate(time.Second), r.id); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("recording the tenant as offboarded: %w", err)
	}
	return nil
}

// offboardedTenants reads offboarded_tenants; only ids of the tenant-id form
// are returned, since they go into SQL.
func offboardedTenants(ctx context.Context, conn driver.Conn, database string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT tenant_id FROM "+database+".offboarded_tenants")
	if err != nil {
		return nil, fmt.Errorf("reading offboarded tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("reading offboarded tenants: %w", err)
		}
		if tenantID.MatchString(t) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// sweepOffboarded deletes any row of an offboarded tenant from every data
// table: one offboard_delete action per table that has some.
func (p *Purger) sweepOffboarded(ctx context.Context, r *run) ([]Action, error) {
	first := len(r.pending)
	tenants, err := offboardedTenants(ctx, p.cfg.Conn, p.cfg.Database)
	if err != nil || len(tenants) == 0 {
		return nil, err
	}
	quoted := make([]string, len(tenants))
	for i, t := range tenants {
		quoted[i] = "'" + t + "'"
	}
	predicate := "tenant_id IN (" + strings.Join(quoted, ", ") + ")"
	var errs []error
	for _, t := range p.tables {
		n, err := p.count(ctx, t, predicate)
		if err == nil && n == 0 {
			continue
		}
		a, t0 := p.begin(r, ActionOffboardDelete, t.name, reasonOffboarding)
		a.Predicate, a.Rows = predicate, n
		if err == nil && !r.dryRun {
			err = p.mutateDelete(ctx, t, predicate)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
			continue
		}
		if !r.dryRun {
			p.m.rows.WithLabelValues(t.name, reasonOffboarding).Add(float64(n))
		}
	}
	actions := append([]Action(nil), r.pending[first:]...)
	if len(errs) > 0 {
		return actions, fmt.Errorf("deleting offboarded tenants' rows: %w", errors.Join(errs...))
	}
	return actions, nil
}

// Blocklist is the set of offboarded tenants as a worker sees it: loaded at
// start and reloaded every interval by Run, so that a tenant offboarded
// elsewhere is refused within an interval. The pipeline asks it about every
// order (Offboarded), so the lookup is a map read behind an atomic pointer.
type Blocklist struct {
	conn     driver.Conn
	database string
	log      *slog.Logger
	set      atomic.Pointer[map[string]bool]
}

// NewBlocklist loads the offboarded tenants of database.
func NewBlocklist(ctx context.Context, conn driver.Conn, database string, log *slog.Logger) (*Blocklist, error) {
	if log == nil {
		log = slog.Default()
	}
	b := &Blocklist{conn: conn, database: database, log: log.With("component", "blocklist")}
	if err := b.reload(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Offboarded reports whether the tenant has been offboarded.
func (b *Blocklist) Offboarded(tenant string) bool { return (*b.set.Load())[tenant] }

// Run reloads the list every interval until ctx ends; it returns nil then. A
// failed reload keeps the last list and is logged.
func (b *Blocklist) Run(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := b.reload(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("offboarded tenants not reloaded; keeping the last list", "error", err)
			}
		}
	}
}

func (b *Blocklist) reload(ctx context.Context) error {
	tenants, err := offboardedTenants(ctx, b.conn, b.database)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		set[t] = true
	}
	b.set.Store(&set)
	return nil
}
