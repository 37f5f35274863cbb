// Package breach supports the 72-hour report to the ICO (UK GDPR Art. 33)
// when a seller's account or one of orderflow's roles may have been
// compromised: from Vault's audit log (every decrypt, by role, key and time)
// and from the tables (what is held of the seller's buyers), it says which
// categories of personal data could have been touched and how many buyers
// they concern, and which roles decrypted how much of the seller's data in
// the window. It reads counts only: no value, token or ciphertext leaves it.
package breach

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/buyer"
	"github.com/orderflow/orderflow/worker/order"
)

// Config configures a report.
type Config struct {
	Conn                         driver.Conn // required
	Database, RestrictedDatabase string      // required
	// KeyPrefix starts the tenants' Vault key names (vault.key_prefix):
	// "<prefix><tenant>-enc" is the key a decrypt of the tenant's data uses.
	KeyPrefix string
	// Mount is the transit engine's mount path (vault.transit_mount).
	// Default "transit".
	Mount string
	// Audit is Vault's file audit log (JSON lines); nil: the report says the
	// decrypts were not read.
	Audit io.Reader
}

// Report is what a compromised tenant or role could have touched.
type Report struct {
	Tenant string    `json:"tenant_id,omitempty"`
	Role   string    `json:"role,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Tenants are the tenants looked at: the one given, or those whose data
	// the role decrypted in the window.
	Tenants []TenantExposure `json:"tenants"`
	// Decrypts are the window's decrypts of the tenants' data, by role.
	Decrypts []RoleDecrypts `json:"decrypts"`
	Notes    []string       `json:"notes"`
}

// TenantExposure is what is held of one tenant's buyers.
type TenantExposure struct {
	Tenant string `json:"tenant_id"`
	// OrdersInWindow and BuyersInWindow: orders written in the window, and
	// their distinct buyers (by token).
	OrdersInWindow uint64 `json:"orders_in_window"`
	BuyersInWindow uint64 `json:"buyers_in_window"`
	// Held now: every label and invoice party a role that may decrypt could
	// have read, and the distinct buyers of the orders held.
	BuyersHeld   uint64     `json:"buyers_held"`
	LabelsHeld   uint64     `json:"delivery_labels_held"`
	InvoicesHeld uint64     `json:"invoice_parties_held"`
	Categories   []Category `json:"categories"`
}

// Category is a category of personal data held, and in what form.
type Category struct {
	Name    string `json:"name"`
	Form    string `json:"form"`
	Records uint64 `json:"records"`
}

// RoleDecrypts counts one role's decrypts of one tenant's data.
type RoleDecrypts struct {
	Role     string `json:"role"`
	Tenant   string `json:"tenant_id"`
	Requests int    `json:"requests"`
	Items    int    `json:"items"`
	Refused  int    `json:"refused"`
}

// Build reports on tenant (or every tenant the role decrypted) in [from, to).
func Build(ctx context.Context, cfg Config, tenant, role string, from, to time.Time) (Report, error) {
	if tenant == "" && role == "" {
		return Report{}, errors.New("breach: name a tenant, a role, or both")
	}
	if tenant != "" {
		if err := order.CheckTenantID(tenant); err != nil {
			return Report{}, fmt.Errorf("breach: tenant_id: %w", err)
		}
	}
	if !from.Before(to) {
		return Report{}, errors.New("breach: --from must be before --to")
	}
	// ClickHouse keeps whole seconds: the window is widened to them, so that
	// a row written in the second "to" falls in is counted.
	from = from.UTC().Truncate(time.Second)
	if t := to.UTC().Truncate(time.Second); t.Before(to) {
		to = t.Add(time.Second)
	}
	r := Report{Tenant: tenant, Role: role, From: from, To: to.UTC(), Tenants: []TenantExposure{}, Decrypts: []RoleDecrypts{}}
	tenants := map[string]bool{}
	if tenant != "" {
		tenants[tenant] = true
	}
	if cfg.Audit == nil {
		r.Notes = append(r.Notes, "Vault's audit log was not given (--audit-log): the roles' decrypts are not counted")
	} else {
		mount := cfg.Mount
		if mount == "" {
			mount = "transit"
		}
		decrypts, err := readDecrypts(cfg.Audit, mount, cfg.KeyPrefix, tenant, role, from, to)
		if err != nil {
			return Report{}, err
		}
		r.Decrypts = decrypts
		for _, d := range decrypts {
			tenants[d.Tenant] = true
		}
	}
	for _, t := range slices.Sorted(maps.Keys(tenants)) {
		e, err := exposure(ctx, cfg, t, from, to)
		if err != nil {
			return Report{}, err
		}
		r.Tenants = append(r.Tenants, e)
	}
	r.Notes = append(r.Notes,
		"buyer identifiers are held only as per-seller HMAC tokens: they name no one without the seller's key, which only Vault holds",
		"delivery labels and invoice parties are held encrypted under the seller's key: only a role that may decrypt (the dispatcher's, the DLQ replay's) could read them, and every decrypt is in Vault's audit log",
		"raw order messages on Kafka (retention at most 21 days) hold the same data in the clear for a principal that may read the order topics")
	return r, nil
}

// auditLine is what the report reads of a Vault audit entry.
type auditLine struct {
	Time string `json:"time"`
	Type string `json:"type"`
	Auth struct {
		DisplayName string            `json:"display_name"`
		Metadata    map[string]string `json:"metadata"`
	} `json:"auth"`
	Request struct {
		Path string `json:"path"`
		Data struct {
			// BatchInput is a batch's items, counted, never read.
			BatchInput []json.RawMessage `json:"batch_input"`
		} `json:"data"`
	} `json:"request"`
	Error string `json:"error"`
}

// auditBuffer is the audit log's read buffer: a line longer than it is
// gathered in a buffer of its own, kept for the next long line.
const auditBuffer = 1 << 20

// readDecrypts counts the window's decrypts of tenants' keys, by role and
// tenant, from the audit log's responses. A busy Vault's log is mostly other
// calls (encrypt, HMAC, logins) and grows by gigabytes, so a line that does
// not name a decrypt under the key prefix is skipped unparsed; so are lines
// that are not JSON (a line cut short where the log was rotated).
func readDecrypts(audit io.Reader, mount, prefix, tenant, role string, from, to time.Time) ([]RoleDecrypts, error) {
	byKey := map[[2]string]*RoleDecrypts{}
	decryptPath := mount + "/decrypt/"
	needle := []byte(`"path":"` + decryptPath + prefix)
	r := bufio.NewReaderSize(audit, auditBuffer)
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer (a big batch) is gathered whole:
			// its path may come after its data.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("breach: reading the audit log: %w", err)
		}
		if len(line) > 0 && bytes.Contains(line, needle) {
			count(byKey, line, decryptPath, prefix, tenant, role, from, to)
		}
		if err != nil {
			break
		}
	}
	out := make([]RoleDecrypts, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b RoleDecrypts) int { return strings.Compare(a.Role+"/"+a.Tenant, b.Role+"/"+b.Tenant) })
	return out, nil
}

// count adds one audit line to byKey if it is a response to a decrypt of the
// tenant's key (any tenant's when tenant is ""), by the role, in the window.
func count(byKey map[[2]string]*RoleDecrypts, line []byte, decryptPath, prefix, tenant, role string, from, to time.Time) {
	var l auditLine
	if json.Unmarshal(line, &l) != nil || l.Type != "response" || !strings.HasPrefix(l.Request.Path, decryptPath) {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, l.Time)
	if err != nil || at.Before(from) || !at.Before(to) {
		return
	}
	key := strings.TrimPrefix(l.Request.Path, decryptPath)
	t, ok := strings.CutSuffix(strings.TrimPrefix(key, prefix), "-enc")
	if !ok || !strings.HasPrefix(key, prefix) || !order.ValidTenantID(t) || (tenant != "" && t != tenant) {
		return
	}
	who := strings.TrimPrefix(l.Auth.Metadata["role_name"], "orderflow-")
	if who == "" {
		who = l.Auth.DisplayName
	}
	if role != "" && who != role {
		return
	}
	d := byKey[[2]string{who, t}]
	if d == nil {
		d = &RoleDecrypts{Role: who, Tenant: t}
		byKey[[2]string{who, t}] = d
	}
	d.Requests++
	d.Items += max(len(l.Request.Data.BatchInput), 1)
	if l.Error != "" {
		d.Refused++
	}
}

// buyerOf is one buyer's token in SQL: the email's, else the username's,
// else the name's ("" when none).
var buyerOf = func() string {
	cols := buyer.TokenColumns()
	preference := []string{"buyer_email_token", "buyer_username_token", "buyer_user_id_token", "buyer_phone_token", "buyer_name_token"}
	expr := "''"
	for i := len(preference) - 1; i >= 0; i-- {
		if c := preference[i]; slices.Contains(cols, c) {
			expr = "if(" + c + " != '' AND NOT startsWith(" + c + ", 'erased:'), " + c + ", " + expr + ")"
		}
	}
	return expr
}()

// exposure counts what is held of a tenant's buyers.
func exposure(ctx context.Context, cfg Config, tenant string, from, to time.Time) (TenantExposure, error) {
	e := TenantExposure{Tenant: tenant}
	facts := cfg.Database + "." + schema.TableOrderFacts
	queries := []struct {
		into  []*uint64
		query string
		args  []any
	}{
		{[]*uint64{&e.OrdersInWindow, &e.BuyersInWindow}, "SELECT uniqExact(channel, channel_order_id), uniqExactIf(" + buyerOf + ", " + buyerOf + " != '') FROM " +
			facts + " WHERE tenant_id = ? AND written_at >= ? AND written_at < ?", []any{tenant, from.UTC(), to.UTC()}},
		{[]*uint64{&e.BuyersHeld}, "SELECT uniqExactIf(" + buyerOf + ", " + buyerOf + " != '') FROM " + facts + " WHERE tenant_id = ?", []any{tenant}},
		{[]*uint64{&e.LabelsHeld}, "SELECT uniqExact(channel, channel_order_id) FROM " + cfg.RestrictedDatabase + "." + schema.TableDeliveryLabels + " WHERE tenant_id = ?", []any{tenant}},
		{[]*uint64{&e.InvoicesHeld}, "SELECT uniqExactIf(concat(toString(channel), '/', channel_order_id), invoice_party_ciphertext != '') FROM " + cfg.RestrictedDatabase + "." +
			schema.TableFinancialRecords + " WHERE tenant_id = ?", []any{tenant}},
	}
	for _, q := range queries {
		dest := make([]any, len(q.into))
		for i, p := range q.into {
			dest[i] = p
		}
		if err := cfg.Conn.QueryRow(ctx, q.query, q.args...).Scan(dest...); err != nil {
			return e, fmt.Errorf("breach: counting tenant %s's data: %w", tenant, err)
		}
	}
	e.Categories = []Category{
		{Name: "buyer identifiers (name, email, phone, marketplace username and id)", Form: "per-seller HMAC tokens", Records: e.BuyersHeld},
		{Name: "delivery address and recipient contact", Form: "encrypted under the seller's key", Records: e.LabelsHeld},
		{Name: "invoice party (billing address, company, VAT number, PO number)", Form: "encrypted under the seller's key", Records: e.InvoicesHeld},
	}
	return e, nil
}
