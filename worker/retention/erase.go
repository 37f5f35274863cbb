package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/buyer"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/order"
)

// Buyers' erasure (UK GDPR Art. 17, eBay's marketplace account deletion).
// orderflow holds a buyer only as tokens (per-tenant HMACs) in order_facts
// and as ciphertext in the restricted tables, so a request's identifiers are
// tokenised the way the protect stage tokenised them (protect.TokenInput)
// and matched exactly. Erase then, for every order of the buyer:
//
//  1. erase_register: records the order in erased_orders, with the
//     request's marker and whether its invoice party must be kept;
//  2. await_acks: waits until every live worker has acknowledged the request
//     (Blocklist): each erases any later snapshot of the orders as it writes
//     it, and no write it began before is still in flight. Orders of the
//     buyer that landed meanwhile are found again and registered (a few
//     rounds at most);
//  3. erase_tokens: order_facts loses the buyer's tokens, each replaced by
//     the marker ("erased:" and a random id of the request), so that counts
//     of orders and of distinct buyers stay right;
//  4. erase_delete: delivery_labels loses the orders' label rows;
//  5. erase_invoice_party: financial_records keeps amounts, VAT, lines and
//     dates, which HMRC requires for the financial class's period, and loses
//     the invoice party's ciphertext, unless a VAT invoice was issued to a
//     business buyer: that must be kept until the record's retention ends,
//     and the answer says so, with the date;
//  6. verify: no row of order_facts holds any of the request's tokens, none
//     of the orders holds another buyer token than the marker, a label, or
//     an invoice party not kept.
//
// order_line_facts and accounting_postings hold nothing of the buyer.
// Every action goes to purge_log (reason "erasure", the tenant, predicates
// over order ids: never an identifier or a token), and the answer to
// erasure_requests. Erase is idempotent: a request run again finds the
// orders already erased (the tokens are gone) and verifies again.

// ErrNoTokenizer is returned by Erase on a Purger built without a Tokenizer.
var ErrNoTokenizer = errors.New("retention: erasure refused: no tokenizer configured (Config.Tokenizer)")

// Tokenizer tokenises values under a tenant's HMAC key, as the protect stage
// does (*transit.Client).
type Tokenizer = buyer.Tokenizer

// Identifiers name the buyer to erase (buyer.Identifiers).
type Identifiers = buyer.Identifiers

// ErasureRequest asks to erase one buyer of one tenant.
type ErasureRequest struct {
	// ID names the request in erased_orders, erasure_requests and the acks;
	// zero: Erase makes one.
	ID          uuid.UUID   `json:"request_id"`
	Tenant      string      `json:"tenant_id"`
	Identifiers Identifiers `json:"identifiers"`
	// Source says where the request came from: "cli", "kafka",
	// "ebay_account_deletion".
	Source string `json:"source,omitempty"`
	// ReceivedAt is when it was received; zero: now.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// Check refuses a request that Erase cannot run: an invalid tenant id or no
// identifier. The error names the field, never a value.
func (r ErasureRequest) Check() error {
	if err := order.CheckTenantID(r.Tenant); err != nil {
		return fmt.Errorf("erasure request: tenant_id: %w", err)
	}
	if err := r.Identifiers.Check(); err != nil {
		return fmt.Errorf("erasure request: %w", err)
	}
	return nil
}

// ErasureOutcome is erasure_requests' outcome.
type ErasureOutcome string

// The outcomes.
const (
	ErasureErased      ErasureOutcome = "erased"
	ErasureNothingHeld ErasureOutcome = "nothing_held"
	ErasureFailed      ErasureOutcome = "failed"
)

// ErasureAnswer is what an erasure did, for the buyer (through the seller)
// and for the record: it holds no identifier of the buyer.
type ErasureAnswer struct {
	RequestID       uuid.UUID      `json:"request_id"`
	RunID           uuid.UUID      `json:"run_id"` // purge_log's run_id of its actions
	Tenant          string         `json:"tenant_id"`
	Source          string         `json:"source"`
	IdentifierKinds []string       `json:"identifier_kinds"`
	RequestedAt     time.Time      `json:"requested_at"`
	FinishedAt      time.Time      `json:"finished_at"`
	Outcome         ErasureOutcome `json:"outcome"`
	// Orders are the buyer's orders found ("amazon/206-...").
	Orders []string `json:"orders"`
	// Marker replaced the buyer's tokens.
	Marker string `json:"marker,omitempty"`
	// Erased and Kept say, per table, what was done and why.
	Erased []ErasedData `json:"erased"`
	Kept   []KeptData   `json:"kept"`
	// Remaining is what the verification still found of the buyer: zero
	// when the erasure is complete.
	Remaining uint64 `json:"remaining"`
	// Note explains an answer with nothing held that needs it.
	Note    string   `json:"note,omitempty"`
	Error   string   `json:"error,omitempty"`
	Actions []Action `json:"-"`
}

// ErasedData is one table's erasure.
type ErasedData struct {
	Table string `json:"table"`
	Rows  uint64 `json:"rows"`
	What  string `json:"what"`
}

// KeptData is what a table keeps of the buyer's orders, and why.
type KeptData struct {
	Table  string   `json:"table"`
	Orders []string `json:"orders,omitempty"`
	What   string   `json:"what"`
	Why    string   `json:"why"`
	// Until is when the law stops requiring it; zero when it is not kept
	// for a legal requirement (it holds nothing of the buyer).
	Until time.Time `json:"until,omitzero"`
}

// sourceEbayAccountDeletion is the source of the requests eBay's account
// deletions make (worker/erasure).
const sourceEbayAccountDeletion = "ebay_account_deletion"

// reasonErasure is the reason of erasure actions in purge_log.
const reasonErasure = "erasure"

// ackKeyPrefix begins the key under which workers acknowledge an erasure in
// offboard_acks (tenant_id column): no tenant id has a ':'.
const ackKeyPrefix = "erasure:"

// ackKey is the offboard_acks key of a registration of a request's orders.
func ackKey(registration uuid.UUID) string { return ackKeyPrefix + registration.String() }

// channelTerm restricts a condition to a channel's rows, unless channel is "".
func channelTerm(channel string) string {
	if channel == "" {
		return ""
	}
	return " AND channel = '" + channel + "'"
}

// maxFindRounds bounds the rounds of find, register and acknowledge: a
// round finds only the orders that landed during the last wait.
const maxFindRounds = 4

// Erase erases one buyer of a tenant (see the top of this file) and returns
// the answer, also recorded in erasure_requests. It refuses an invalid
// request before anything is done.
func (p *Purger) Erase(ctx context.Context, req ErasureRequest) (ErasureAnswer, error) {
	if p.cfg.Tokenizer == nil {
		return ErasureAnswer{}, ErrNoTokenizer
	}
	if err := req.Check(); err != nil {
		return ErasureAnswer{}, err
	}
	if req.ID == uuid.Nil {
		req.ID = uuid.New()
	}
	if req.ReceivedAt.IsZero() {
		req.ReceivedAt = p.cfg.Now()
	}
	if req.Source == "" {
		req.Source = "cli"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	r := newRun(p.cfg.Now().UTC(), false, req.Tenant)
	ans := ErasureAnswer{RequestID: req.ID, RunID: r.id, Tenant: req.Tenant, Source: req.Source,
		IdentifierKinds: req.Identifiers.Kinds(), RequestedAt: req.ReceivedAt.UTC(), Erased: []ErasedData{}, Kept: []KeptData{}, Orders: []string{}}

	err := p.erase(ctx, r, req, &ans)
	ans.FinishedAt = p.cfg.Now().UTC()
	switch {
	case err != nil:
		ans.Outcome, ans.Error = ErasureFailed, errorText(err)
	case len(ans.Orders) == 0:
		ans.Outcome = ErasureNothingHeld
	default:
		ans.Outcome = ErasureErased
	}
	// An eBay account deletion asks every tenant with eBay orders: the
	// tenants that never had the user give no answer worth a row.
	if ans.Outcome != ErasureNothingHeld || req.Source != sourceEbayAccountDeletion {
		if rerr := p.recordAnswer(ctx, req, ans); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	outcome := runOK
	if err != nil {
		outcome = runFailed
		err = fmt.Errorf("retention: erasure %s for tenant %s: %w", req.ID, req.Tenant, err)
		p.log.Error("erasure failed", "run_id", r.id, "request_id", req.ID, "tenant", req.Tenant, "orders", len(ans.Orders),
			"remaining", ans.Remaining, "duration", time.Since(start), "err", err)
	} else {
		p.log.Info("erased a buyer", "run_id", r.id, "request_id", req.ID, "tenant", req.Tenant, "outcome", ans.Outcome,
			"orders", len(ans.Orders), "duration", time.Since(start))
	}
	p.m.erasures.WithLabelValues(outcome).Inc()
	return ans, err
}

func (p *Purger) erase(ctx context.Context, r *run, req ErasureRequest, ans *ErasureAnswer) error {
	// phase records the actions so far in the answer and in purge_log.
	phase := func(err error) error {
		actions := append([]Action(nil), r.pending...)
		err = p.joinFlush(ctx, r, err)
		ans.Actions = append(ans.Actions, actions...)
		return err
	}
	facts, labels, financial, err := p.erasureTables()
	if err != nil {
		return err
	}
	tokens, err := req.Identifiers.Tokens(ctx, p.cfg.Tokenizer, req.Tenant)
	if note := nothingTokenised(err); note != "" {
		ans.Note = note
		return nil
	}
	if err != nil {
		return err
	}
	registered, err := p.erasedOrders(ctx, req.Tenant, req.ID)
	if err != nil {
		return err
	}
	marker := registered.marker
	if marker == "" {
		marker = "erased:" + uuid.NewString()
	}
	ans.Marker = marker
	orders := registered.orders
	channel := ""
	if req.Source == sourceEbayAccountDeletion {
		channel = string(order.ChannelEbay) // an eBay user has eBay orders only
	}

	// 1-2. Register, acknowledge; find again what landed meanwhile. Each
	// registration is acknowledged under its own key, so that a worker
	// acknowledges only once it has loaded that registration's orders and
	// its writes from before have returned; a run again waits for the
	// registrations of the run before too (one may have timed out).
	awaiting := registered.registrations
	for round := 0; ; round++ {
		for _, reg := range awaiting {
			a, t0 := p.begin(r, ActionAwaitAcks, "", reasonErasure)
			acked, err := p.awaitAcks(ctx, ackKey(reg))
			a.Rows = uint64(acked)
			p.finish(r, &a, t0, err)
			if err := phase(err); err != nil {
				return err
			}
		}
		awaiting = nil
		found, err := buyer.FindOrders(ctx, p.cfg.Conn, facts.qualified(), req.Tenant, channel, tokens)
		if err != nil {
			return err
		}
		known := make(map[buyer.Order]bool, len(orders))
		for _, k := range orders {
			known[k] = true
		}
		var fresh []buyer.Order
		for k := range found {
			if !known[k] {
				fresh = append(fresh, k)
			}
		}
		slices.SortFunc(fresh, buyer.Compare)
		if len(fresh) == 0 {
			break
		}
		if round == maxFindRounds {
			return fmt.Errorf("new orders of the buyer kept landing after %d rounds of registering them; run the erasure again", round)
		}
		keep, err := p.invoicesToKeep(ctx, financial, req.Tenant, fresh)
		if err != nil {
			return err
		}
		reg := uuid.New()
		a, t0 := p.begin(r, ActionEraseRegister, schema.TableErasedOrders, reasonErasure)
		a.Rows = uint64(len(fresh))
		p.finish(r, &a, t0, p.registerErased(ctx, req, reg, marker, fresh, found, keep))
		if err := phase(a.Err); err != nil {
			return err
		}
		orders = append(orders, fresh...)
		awaiting = []uuid.UUID{reg}
	}
	slices.SortFunc(orders, buyer.Compare)
	for _, k := range orders {
		ans.Orders = append(ans.Orders, k.String())
	}
	if len(orders) == 0 {
		return nil
	}
	keep, err := p.invoicesToKeep(ctx, financial, req.Tenant, orders)
	if err != nil {
		return err
	}

	// 3-5. The rewrites, a chunk of orders at a time (each statement names
	// its orders: a buyer with thousands must not make one too long for the
	// server), each chunk's issued together and then awaited.
	var set []string
	var holding []string
	for _, c := range buyer.TokenColumns() {
		set = append(set, c+" = if("+c+" = '', '', "+quote(marker)+")")
		holding = append(holding, "("+c+" NOT IN ('', "+quote(marker)+"))")
	}
	erased := map[string]*ErasedData{}
	var checks []erasureCheck
	var errs []error
	for start := 0; start < len(orders); start += p.cfg.EraseChunk {
		part := orders[start:min(start+p.cfg.EraseChunk, len(orders))]
		inOrders := "tenant_id = '" + req.Tenant + "' AND " + orderKeysIn(part)
		notKept := inOrders
		var kept []buyer.Order
		for _, k := range part {
			if _, ok := keep[k]; ok {
				kept = append(kept, k)
			}
		}
		if len(kept) > 0 {
			notKept += " AND NOT " + orderKeysIn(kept)
		}
		steps := []erasureStep{
			{kind: ActionEraseTokens, t: facts, predicate: inOrders + " AND (" + strings.Join(holding, " OR ") + ")",
				statement: " UPDATE " + strings.Join(set, ", ") + " WHERE ", what: "the buyer's tokens (name, email, phone, username, user id) replaced by the marker; the orders' amounts, dates and statuses kept, so that order and buyer counts stay right"},
			{kind: ActionEraseDelete, t: labels, predicate: inOrders, statement: " DELETE WHERE ",
				what: "delivery label rows deleted (the recipient's name, address and contact)"},
			{kind: ActionEraseInvoiceParty, t: financial, predicate: notKept + " AND invoice_party_ciphertext != ''",
				statement: " UPDATE invoice_party_ciphertext = '' WHERE ", what: "the invoice party (billing address, company, tax id, PO number) cleared; amounts, VAT, lines and dates kept"},
		}
		for i := range steps {
			s := &steps[i]
			s.a, s.t0 = p.begin(r, s.kind, s.t.name, reasonErasure)
			s.a.Predicate = s.predicate
			s.a.Rows, s.err = p.count(ctx, s.t, s.predicate)
			if s.err == nil && s.a.Rows > 0 {
				if s.err = p.fence(ctx); s.err == nil {
					c := p.copiesOf(s.t)
					s.marks, s.err = p.replicaMarks(ctx, c)
					if s.err == nil {
						s.err = p.cfg.Conn.Exec(ctx, c.alter+s.statement+s.predicate)
					}
					s.issued = s.err == nil
				}
			}
		}
		for i := range steps {
			s := &steps[i]
			if s.issued {
				s.err = p.waitMutations(ctx, p.copiesOf(s.t), s.marks)
			}
			p.finish(r, &s.a, s.t0, s.err)
			checks = append(checks, erasureCheck{t: s.t, predicate: s.predicate})
			if s.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.t.name, s.err))
				continue
			}
			if erased[s.t.name] == nil {
				erased[s.t.name] = &ErasedData{Table: s.t.name, What: s.what}
			}
			erased[s.t.name].Rows += s.a.Rows
		}
		if err := phase(errors.Join(errs...)); err != nil {
			return err
		}
	}
	for _, t := range []table{facts, labels, financial} {
		if e := erased[t.name]; e != nil {
			ans.Erased = append(ans.Erased, *e)
		}
	}

	// 6. Verification: nothing of the buyer left, anywhere the buyer was.
	checks = append([]erasureCheck{{t: facts, predicate: "tenant_id = '" + req.Tenant + "' AND (" + buyer.Holding(tokens) + ")" + channelTerm(channel), secret: true}}, checks...)
	for _, c := range checks {
		a, t0 := p.begin(r, ActionVerify, c.t.name, reasonErasure)
		if !c.secret {
			a.Predicate = c.predicate
		} else {
			a.Predicate = "tenant_id = '" + req.Tenant + "' AND a buyer token column holds one of the request's tokens"
		}
		n, err := p.remaining(ctx, c.t, c.predicate)
		if err != nil && c.secret {
			err = buyer.Redact(err, tokens.Values())
		}
		a.Rows = n
		ans.Remaining += n
		if err == nil && n > 0 {
			err = fmt.Errorf("%d rows of the buyer remain in %s", n, c.t.name)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, err)
		}
	}
	ans.Kept = p.keptData(orders, keep)
	return phase(errors.Join(errs...))
}

// erasureCheck is one verification of an erasure: a count that must be 0.
type erasureCheck struct {
	t         table
	predicate string
	secret    bool // the predicate holds tokens: not recorded
}

// erasureStep is one rewrite of an erasure.
type erasureStep struct {
	kind                 ActionKind
	t                    table
	predicate, statement string
	what                 string
	a                    Action
	t0                   time.Time
	marks                []string
	issued               bool
	err                  error
}

// erasureTables returns the tables an erasure rewrites.
func (p *Purger) erasureTables() (facts, labels, financial table, err error) {
	found := 0
	for _, t := range p.tables {
		switch t.name {
		case schema.TableOrderFacts:
			facts, found = t, found+1
		case schema.TableDeliveryLabels:
			labels, found = t, found+1
		case schema.TableFinancialRecords:
			financial, found = t, found+1
		}
	}
	if found != 3 {
		return facts, labels, financial, errors.New("the retention classes do not declare order_facts, delivery_labels and financial_records")
	}
	return facts, labels, financial, nil
}

// nothingTokenised explains a tokenisation that failed because nothing of
// the tenant's buyers can be held: its key does not exist (no order was ever
// protected under it) or it has been offboarded (keys and rows are gone);
// "" for any other error.
func nothingTokenised(err error) string {
	var missing interface{ KeyNotFound() bool }
	var gone interface{ OffboardedTenant() string }
	switch {
	case err == nil:
		return ""
	case errors.As(err, &gone):
		return "the seller has been offboarded: its keys are destroyed and every row of it deleted"
	case errors.As(err, &missing) && missing.KeyNotFound():
		return "the seller has no tokenisation key: no order of it was ever stored"
	}
	return ""
}

// orderKeysIn is the condition that a row is of one of the orders.
func orderKeysIn(orders []buyer.Order) string {
	keys := make([]string, len(orders))
	for i, k := range orders {
		keys[i] = "(" + safeLiteral(k.Channel) + ", " + safeLiteral(k.ID) + ")"
	}
	return "(channel, channel_order_id) IN (" + strings.Join(keys, ", ") + ")"
}

// safeLiteral quotes an order id or channel for SQL that purge_log records:
// marketplace ids as they are, anything else hex-encoded, so that no value
// can break out of the literal.
func safeLiteral(s string) string { return clickhousedb.Literal(s, plainID.MatchString(s)) }

// plainID is what a literal may hold as it is: marketplace order ids
// (206-1234567-1234567, 12-12345-12345) and channel names.
var plainID = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// registered is what erased_orders already holds of a request (a run again).
type registered struct {
	marker        string
	orders        []buyer.Order
	registrations []uuid.UUID
}

// erasedOrders reads the orders a request registered before.
func (p *Purger) erasedOrders(ctx context.Context, tenant string, id uuid.UUID) (registered, error) {
	var out registered
	err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var k buyer.Order
		var marker string
		var reg uuid.UUID
		if err := rows.Scan(&k.Channel, &k.ID, &marker, &reg); err != nil {
			return err
		}
		out.marker = marker
		out.orders = append(out.orders, k)
		if !slices.Contains(out.registrations, reg) {
			out.registrations = append(out.registrations, reg)
		}
		return nil
	}, "SELECT toString(channel), channel_order_id, marker, registration FROM "+p.cfg.Database+"."+schema.TableErasedOrders+
		" FINAL WHERE tenant_id = ? AND request_id = ?", tenant, id)
	if err != nil {
		return out, fmt.Errorf("reading the request's registered orders: %w", err)
	}
	return out, nil
}

// invoiceKept is a financial record whose invoice party must be kept.
type invoiceKept struct {
	until time.Time // when its retention ends
}

// invoicesToKeep returns the orders whose financial record holds the invoice
// party of a VAT invoice issued to a business buyer, with when the record's
// retention ends: the law requires the invoice kept until then.
func (p *Purger) invoicesToKeep(ctx context.Context, financial table, tenant string, orders []buyer.Order) (map[buyer.Order]invoiceKept, error) {
	keep := map[buyer.Order]invoiceKept{}
	end := p.cfg.Retention.FinancialYearEnd
	if e, ok := p.cfg.Retention.FinancialYearEndByTenant[tenant]; ok {
		end = e
	}
	scan := func(rows driver.Rows) error {
		var k buyer.Order
		var j string
		var last time.Time
		if err := rows.Scan(&k.Channel, &k.ID, &j, &last); err != nil {
			return err
		}
		until := financialExpiry(last, end, p.period(financial, j), financial.class.FromCalendarYearEnd(j))
		if prev, ok := keep[k]; !ok || until.After(prev.until) {
			keep[k] = invoiceKept{until: until}
		}
		return nil
	}
	for start := 0; start < len(orders); start += p.cfg.EraseChunk {
		part := orders[start:min(start+p.cfg.EraseChunk, len(orders))]
		err := clickhousedb.EachRow(ctx, p.cfg.Conn, scan,
			"SELECT toString(channel), channel_order_id, jurisdiction, max("+financial.class.TimeColumn+") FROM "+financial.qualified()+
				" WHERE tenant_id = '"+tenant+"' AND "+orderKeysIn(part)+" AND is_business = 1 AND invoice_party_ciphertext != ''"+
				" GROUP BY channel, channel_order_id, jurisdiction")
		if err != nil {
			return nil, fmt.Errorf("reading the business invoices among the buyer's orders: %w", err)
		}
	}
	return keep, nil
}

func keptKeys(keep map[buyer.Order]invoiceKept) []buyer.Order {
	out := make([]buyer.Order, 0, len(keep))
	for k := range keep {
		out = append(out, k)
	}
	slices.SortFunc(out, buyer.Compare)
	return out
}

// registerErased records the orders in erased_orders, at ClickHouse's time.
func (p *Purger) registerErased(ctx context.Context, req ErasureRequest, reg uuid.UUID, marker string, orders []buyer.Order, purchased map[buyer.Order]time.Time, keep map[buyer.Order]invoiceKept) error {
	now, err := p.cfg.ClickHouseNow(ctx)
	if err != nil {
		return fmt.Errorf("reading ClickHouse's clock: %w", err)
	}
	batch, err := p.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+p.cfg.Database+"."+schema.TableErasedOrders+
		" (tenant_id, channel, channel_order_id, purchased_at, request_id, registration, marker, keep_invoice, erased_at)")
	if err != nil {
		return fmt.Errorf("registering the erased orders: %w", err)
	}
	for _, k := range orders {
		_, kept := keep[k]
		if err := batch.Append(req.Tenant, k.Channel, k.ID, purchased[k], req.ID, reg, marker, b2u8(kept), now.UTC().Truncate(time.Second)); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("registering the erased orders: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("registering the erased orders: %w", err)
	}
	return nil
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// keptData says what stays of the buyer's orders and why.
func (p *Purger) keptData(orders []buyer.Order, keep map[buyer.Order]invoiceKept) []KeptData {
	all := make([]string, len(orders))
	for i, k := range orders {
		all[i] = k.String()
	}
	kept := []KeptData{
		{Table: schema.TableFinancialRecords, Orders: all, What: "amounts, VAT, lines, currency, dates and statuses of each order (no personal data)",
			Why: fmt.Sprintf("HMRC requires business records to be kept (%s after the end of the financial year of the order's last financial event, longer where a jurisdiction requires it); deleted then by the financial retention", p.cfg.Retention.Financial)},
		{Table: schema.TableOrderLineFacts, Orders: all, What: "the orders' lines: products, quantities and prices (no personal data)", Why: "holds nothing of the buyer; deleted by the analytics retention"},
		{Table: schema.TableAccountingPostings, What: "postings to the seller's accounting package (no personal data)", Why: "holds nothing of the buyer; deleted by the financial retention"},
		{Table: schema.TableFinancialRecords, What: "the financial records of orders older than the analytics retention (" + p.cfg.Retention.Analytics.String() + "), whose facts are gone",
			Why: "the buyer is found by the tokens of the orders' facts; once those are purged an older order cannot be matched to the buyer, and its record, with any invoice party, stays until the financial retention deletes it"},
		{Table: "kafka", What: "the raw order messages, dead letters and connector jobs that carried these orders", Why: "deleted by the topics' retention (at most the label retention after they were written); dead letters are encrypted under the tenant's key"},
	}
	for _, k := range keptKeys(keep) {
		kept = append(kept, KeptData{Table: schema.TableFinancialRecords, Orders: []string{k.String()},
			What:  "the invoice party (billing address, company, VAT number, PO number) of the VAT invoice issued to the business buyer",
			Why:   "a VAT invoice issued must be kept for the financial record's retention (HMRC VAT record keeping); it is deleted with the record",
			Until: keep[k].until})
	}
	return kept
}

// recordAnswer writes the answer to erasure_requests.
func (p *Purger) recordAnswer(ctx context.Context, req ErasureRequest, ans ErasureAnswer) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	body, err := json.Marshal(ans)
	if err != nil {
		return fmt.Errorf("recording the answer: %w", err)
	}
	batch, err := p.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+p.cfg.Database+"."+schema.TableErasureRequests+
		" (request_id, tenant_id, source, identifier_kinds, requested_at, finished_at, outcome, orders, answer)")
	if err != nil {
		return fmt.Errorf("recording the answer: %w", err)
	}
	if err := batch.Append(req.ID, req.Tenant, req.Source, ans.IdentifierKinds, ans.RequestedAt.Truncate(time.Second),
		ans.FinishedAt.Truncate(time.Second), string(ans.Outcome), uint32(len(ans.Orders)), string(body)); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("recording the answer: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("recording the answer: %w", err)
	}
	return nil
}

// TenantsWithOrders lists the tenants holding orders of channel ("amazon",
// "ebay") that have not been offboarded: those an eBay account deletion is
// asked of (worker/erasure).
func (p *Purger) TenantsWithOrders(ctx context.Context, channel string) ([]string, error) {
	if channel != string(order.ChannelAmazon) && channel != string(order.ChannelEbay) {
		return nil, fmt.Errorf("retention: no channel %q", channel)
	}
	var out []string
	err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		if order.ValidTenantID(t) {
			out = append(out, t)
		}
		return nil
	}, "SELECT DISTINCT tenant_id FROM "+p.cfg.Database+"."+schema.TableOrderFacts+" WHERE channel = '"+channel+"' AND tenant_id NOT IN (SELECT tenant_id FROM "+
		p.cfg.Database+"."+schema.TableOffboardedTenants+") ORDER BY tenant_id")
	if err != nil {
		return nil, fmt.Errorf("retention: listing the tenants with %s orders: %w", channel, err)
	}
	return out, nil
}
