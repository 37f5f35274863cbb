// Package poster is the accounting side's scheduled pass: for every tenant
// with an accounting connector it reads the tenant's financial records and
// what the ledger says was posted, builds the postings due (closed periods
// not posted yet, adjustments of posted ones that changed) and writes them
// as jobs to connector.accounting, keyed by period, for the dispatcher to
// post. A posting stays due until the ledger has it; a pass does not write
// again what this process wrote within Config.Resend (the dispatcher is
// posting it, or parked it: a rate the seller's mapping lacks), and after
// that, or after a restart, writes the same posting under the same
// idempotency key: the providers create nothing twice.
package poster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// Ledger is what a pass reads (connectors/accounting/ledger.Ledger).
type Ledger interface {
	Records(ctx context.Context, tenant string, from, to time.Time) ([]postings.Record, error)
	Posted(ctx context.Context, provider, tenant string, from, to time.Time) ([]accounting.Posting, error)
}

// Writer writes jobs (kafkaclient.SyncWriter's *kafka.Writer).
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config configures a Poster.
type Config struct {
	Ledger Ledger
	Writer Writer
	// Postings cut the periods (periodicity, grace); its Now is set by each
	// pass.
	Postings postings.Config
	// Window is how far back a pass looks for periods to post or adjust,
	// from its instant. Default 400 days: a refund up to a year after the
	// sale still adjusts its period.
	Window time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Resend is how long a posting this process wrote is not written again
	// while it stays due. Default 24h: a posting the provider refused is
	// parked once a day, not at every pass, and one whose dispatch failed
	// is tried again the next day (or at the next start, as after a fix of
	// the mapping).
	Resend time.Duration
	// Registerer receives orderflow_accounting_unreconciled_amount and
	// orderflow_accounting_unposted_periods. Nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// Poster makes accounting passes.
type Poster struct {
	cfg Config
	// written is when this process last wrote each posting still due, by
	// idempotency key. Passes run one at a time.
	mu       sync.Mutex
	written  map[string]time.Time
	amount   *prometheus.GaugeVec
	periods  *prometheus.GaugeVec
	lastPass prometheus.Gauge
}

// New checks cfg.
func New(cfg Config) (*Poster, error) {
	if cfg.Ledger == nil || cfg.Writer == nil {
		return nil, errors.New("poster config: Ledger and Writer are required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 400 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Resend <= 0 {
		cfg.Resend = 24 * time.Hour
	}
	if cfg.Postings.Grace == 0 {
		cfg.Postings.Grace = 48 * time.Hour
	}
	m := metricsreg.NewSet(cfg.Registerer)
	p := &Poster{
		cfg:     cfg,
		written: map[string]time.Time{},
		// Tenant ids are the platform's sellers, not personal data, and
		// bounded by them.
		amount: m.GaugeVec("orderflow_accounting_unreconciled_amount",
			"How far the closed periods' financial records are from what the accounting provider confirmed, at the last pass: the gross of each posting due (a summary not posted, an adjustment), summed as absolute amounts so that a refund never hides a sale, by tenant and currency.",
			"tenant", "currency"),
		periods: m.GaugeVec("orderflow_accounting_unposted_periods",
			"Postings due (closed periods not posted, and adjustments) at the last pass, by tenant.", "tenant"),
		lastPass: m.Gauge("orderflow_accounting_last_pass_timestamp_seconds", "When the last accounting pass finished."),
	}
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("poster metrics: %w", err)
	}
	return p, nil
}

// Tenant is one tenant's accounting: the connector (provider) that posts
// its books, and its own periods, grace and invoices setting when
// Postings.Periodicity is set (else Config.Postings').
type Tenant struct {
	ID, Provider string
	Postings     postings.Config
}

// Report says what a pass wrote, and how many postings still due it did
// not write again (written within Config.Resend).
type Report struct {
	Summaries, Adjustments, Resent int
}

// Pass writes the postings due now for each tenant.
func (p *Poster) Pass(ctx context.Context, tenants []Tenant) (Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rep Report
	now := p.cfg.Now().UTC()
	for key, at := range p.written {
		if now.Sub(at) >= p.cfg.Resend {
			delete(p.written, key)
		}
	}
	from := now.Add(-p.cfg.Window)
	// Whole months: a period is never cut by the window.
	from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, t := range tenants {
		pc := p.cfg.Postings
		if t.Postings.Periodicity != "" {
			pc = t.Postings
		}
		pc.Now = now
		records, err := p.cfg.Ledger.Records(ctx, t.ID, from, now)
		if err != nil {
			return rep, fmt.Errorf("accounting pass of tenant %s: %w", t.ID, err)
		}
		posted, err := p.cfg.Ledger.Posted(ctx, t.Provider, t.ID, from, now)
		if err != nil {
			return rep, fmt.Errorf("accounting pass of tenant %s: %w", t.ID, err)
		}
		due, err := postings.Build(records, posted, pc)
		if err != nil {
			return rep, fmt.Errorf("accounting pass of tenant %s: %w", t.ID, err)
		}
		p.periods.WithLabelValues(t.ID).Set(float64(len(due)))
		unposted := map[string]order.Amount{}
		for _, ps := range posted {
			unposted[ps.Currency] += 0 // a currency seen before reads 0 once it is even
		}
		for i := range due {
			_, _, gross := due[i].Totals()
			unposted[due[i].Currency] += max(gross, -gross)
		}
		for cur, a := range unposted {
			f, _ := strconv.ParseFloat(a.String(), 64) // a gauge is a float; the ledger holds the exact amount
			p.amount.WithLabelValues(t.ID, cur).Set(f)
		}
		var msgs []kafka.Message
		var keys []string
		for i := range due {
			if _, ok := p.written[due[i].IdempotencyKey]; ok {
				rep.Resent++
				continue
			}
			v, err := json.Marshal(&due[i])
			if err != nil {
				return rep, fmt.Errorf("encode a posting: %w", err)
			}
			msgs = append(msgs, kafka.Message{Key: []byte(due[i].Key()), Value: v})
			keys = append(keys, due[i].IdempotencyKey)
			if due[i].Kind == accounting.KindSummary {
				rep.Summaries++
			} else {
				rep.Adjustments++
			}
		}
		if len(msgs) == 0 {
			continue
		}
		if err := p.cfg.Writer.WriteMessages(ctx, msgs...); err != nil {
			return rep, kafkafailure.Classify(fmt.Errorf("write %d postings of tenant %s: %w", len(msgs), t.ID, err))
		}
		for _, key := range keys {
			p.written[key] = now
		}
	}
	p.lastPass.SetToCurrentTime()
	return rep, nil
}
