// Package poster is the accounting side's scheduled pass: for every tenant
// with an accounting connector it reads the tenant's financial records and
// what the ledger says was posted, builds the postings due (closed periods
// not posted yet, adjustments of posted ones that changed) and writes them
// as jobs to connector.accounting, keyed by period, for the dispatcher to
// post. A pass repeated before the dispatcher has recorded its postings
// writes the same postings again, under the same idempotency keys: the
// providers create nothing twice.
package poster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/worker/kafkafailure"
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
}

// Poster makes accounting passes.
type Poster struct{ cfg Config }

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
	if cfg.Postings.Grace == 0 {
		cfg.Postings.Grace = 48 * time.Hour
	}
	return &Poster{cfg: cfg}, nil
}

// Tenant is one tenant's accounting: the connector (provider) that posts
// its books.
type Tenant struct {
	ID, Provider string
}

// Report says what a pass wrote.
type Report struct {
	Summaries, Adjustments int
}

// Pass writes the postings due now for each tenant.
func (p *Poster) Pass(ctx context.Context, tenants []Tenant) (Report, error) {
	var rep Report
	now := p.cfg.Now().UTC()
	from := now.Add(-p.cfg.Window)
	// Whole months: a period is never cut by the window.
	from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	pc := p.cfg.Postings
	pc.Now = now
	for _, t := range tenants {
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
		if len(due) == 0 {
			continue
		}
		msgs := make([]kafka.Message, len(due))
		for i := range due {
			v, err := json.Marshal(&due[i])
			if err != nil {
				return rep, fmt.Errorf("encode a posting: %w", err)
			}
			msgs[i] = kafka.Message{Key: []byte(due[i].Key()), Value: v}
			if due[i].Kind == accounting.KindSummary {
				rep.Summaries++
			} else {
				rep.Adjustments++
			}
		}
		if err := p.cfg.Writer.WriteMessages(ctx, msgs...); err != nil {
			return rep, kafkafailure.Classify(fmt.Errorf("write %d postings of tenant %s: %w", len(msgs), t.ID, err))
		}
	}
	return rep, nil
}
