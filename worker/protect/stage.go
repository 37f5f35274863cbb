// Package protect is the pipeline stage between normalise and write: it turns
// canonical orders into protected orders (worker/protected) that hold buyers'
// personal data only as Vault transit tokens and ciphertexts, as the field
// policy (schemas/policy) says, after removing card numbers from every string
// (P3) and dropping free text (P4). It is the one package that makes tokens
// and ciphertexts (protected.SealTokens, protected.SealCiphertexts).
//
// A batch costs at most one HMAC call and one Encrypt call per tenant in it,
// whatever its size (the transit client splits large calls), so the number of
// Vault requests grows with tenants, not orders. The stage follows the policy
// it is given and refuses to start on one it cannot follow.
package protect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Tokenizer returns the tenant's deterministic token of each value, in input
// order (*transit.Client). The stage keeps the slice it returns.
type Tokenizer interface {
	HMAC(ctx context.Context, tenant string, values []string) ([]string, error)
}

// Encrypter encrypts each plaintext under the tenant's key and returns the
// ciphertexts in input order (*transit.Client). The stage keeps the slice it
// returns; the plaintexts are the stage's, not to be kept.
type Encrypter interface {
	Encrypt(ctx context.Context, tenant string, plaintexts [][]byte) ([]string, error)
}

// Config configures a Stage. New fills defaults, then checks it.
type Config struct {
	// Tokenizer makes the buyer tokens. Required.
	Tokenizer Tokenizer
	// Encrypter makes the delivery label and invoice party ciphertexts. Required.
	Encrypter Encrypter
	// Policy says what to do with each field (policy.Load()). Required; New
	// refuses a policy that names a field, treatment or derived value the stage
	// does not implement, or that leaves a field without a rule.
	Policy *policy.Policy
	// Channels are the channels the stage's metrics count by; an order of any
	// other is counted as "other". Default channel.Default().
	Channels *channel.Registry
	// Concurrency caps the Vault calls of one batch in flight at once (each
	// tenant has up to two). Default 4; 1 to 64.
	Concurrency int
	// Registerer receives the stage's metrics. Default nil: metrics are kept but
	// not registered anywhere.
	Registerer prometheus.Registerer
	// Logger receives batch summaries (debug) and card number findings (warn):
	// counts, tenants and field names, never a value. Default: discard.
	Logger *slog.Logger
}

// Stage protects batches of orders. It is safe for concurrent use.
type Stage struct {
	cfg  Config
	plan *plan
	m    *metrics
	log  *slog.Logger
}

// ErrInvalidOrder is matched (errors.Is) by the error of a batch that holds an
// order the stage cannot protect whatever Vault does (a tenant id that cannot
// name a key): retrying such a batch cannot succeed.
var ErrInvalidOrder = errors.New("protect: invalid order")

// invalidOrderError is an ErrInvalidOrder that says which order of the batch and
// which rule, never a value of the order: it goes into the dead-letter header.
type invalidOrderError struct {
	index int
	rule  string // a constant
}

func (e *invalidOrderError) Error() string {
	return "protect: invalid order: order " + strconv.Itoa(e.index) + " of the batch: " + e.rule
}

func (e *invalidOrderError) Is(target error) bool { return target == ErrInvalidOrder }

// SafeMessage is Error(): it holds no value of the order.
func (e *invalidOrderError) SafeMessage() string { return e.Error() }

// FailureClass is failure.Order: the other orders of the batch can pass.
func (e *invalidOrderError) FailureClass() failure.Class { return failure.Order }

// FailedOrder is the order's place in the batch.
func (e *invalidOrderError) FailedOrder() int { return e.index }

// New checks cfg and its policy and returns a Stage.
func New(cfg Config) (*Stage, error) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.Channels == nil {
		cfg.Channels = channel.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if cfg.Tokenizer == nil {
		errs = append(errs, errors.New("protect config Tokenizer: required (a *transit.Client)"))
	}
	if cfg.Encrypter == nil {
		errs = append(errs, errors.New("protect config Encrypter: required (a *transit.Client)"))
	}
	if cfg.Concurrency < 1 || cfg.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("protect config Concurrency: must be between 1 and 64, got %d", cfg.Concurrency))
	}
	pl, err := newPlan(cfg.Policy)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, &pl.cards, cfg.Channels.Names())
	if err != nil {
		return nil, err
	}
	return &Stage{cfg: cfg, plan: pl, m: m, log: cfg.Logger.With("component", "protect")}, nil
}

// Protect returns the protected form of each order, in input order, or an
// error and no orders. orders are not modified.
//
// Any failure fails the whole batch: the pipeline retries the batch and
// commits nothing until it succeeds, so there is no partial result to keep.
// Errors say which tenant and operation failed, never a value; a Vault error
// is wrapped (errors.As finds the *transit.Error and whether it is temporary).
// A batch with an order that can never be protected fails with ErrInvalidOrder,
// of class failure.Order, naming the first such order by its place.
func (s *Stage) Protect(ctx context.Context, orders []order.Order) ([]protected.Order, error) {
	start := time.Now()
	b := newBatch(orders)
	var t tally
	// One scrubbed order, reused: add reads it through function values, so a
	// fresh one per order would escape to the heap, a 600-byte allocation each.
	// Nothing keeps a pointer to it.
	sc := new(scrubbed)
	for i := range orders {
		*sc = scrub(orders[i], channelLabel(s.cfg.Channels, orders[i].Channel), &t, &s.plan.cards)
		if !order.ValidTenantID(sc.o.TenantID) { // tenant ids become Vault key names
			return nil, &invalidOrderError{index: i, rule: "the tenant id is not " + order.TenantIDRule}
		}
		b.add(i, sc, s.plan)
	}
	if err := b.call(ctx, s.cfg.Tokenizer, s.cfg.Encrypter, s.cfg.Concurrency); err != nil {
		return nil, err
	}
	if err := b.deliver(); err != nil {
		return nil, err
	}

	s.m.add(&t)
	for ch, n := range b.perChannel {
		s.m.orders.WithLabelValues(ch).Add(float64(n))
	}
	elapsed := time.Since(start)
	s.m.duration.Observe(elapsed.Seconds())
	// Card numbers removed are expected (buyers type them): the metric
	// counts them by channel and field; a line per batch says how many.
	cards := 0
	for _, n := range t.cards {
		cards += n
	}
	s.log.Debug("batch protected", "orders", len(orders), "tenants", len(b.tenants),
		"hmac_values", b.hmacValues(), "documents", b.documents(), "card_numbers", cards, "duration", elapsed)
	return b.out, nil
}
