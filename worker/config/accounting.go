package config

import (
	"maps"
	"regexp"
	"slices"
	"time"
)

// Accounting is an accounting connector's settings (kinds xero and
// quickbooks: connectors.<name>.accounting). One connector posts one
// seller's books: its tenants list names that one tenant.
type Accounting struct {
	// Organisation is the provider's organisation: Xero's tenant id (the
	// xero-tenant-id header), QuickBooks' realm (company) id. Required.
	Organisation string `yaml:"organisation"`
	// ClientID is the app's OAuth2 client id; connectors.<name>.credentials
	// is its client secret. Required.
	ClientID string `yaml:"client_id"`
	// RefreshToken says where the connection's OAuth2 refresh token is
	// ({env: NAME} or {file: PATH}) when the connector starts. Required.
	RefreshToken SecretRef `yaml:"refresh_token"`
	// TokenURL is the OAuth2 token endpoint, held to the same rules as the
	// endpoint (egress.go). Default: the provider's.
	TokenURL string `yaml:"token_url"`
	// Accounts maps each line kind (sales, shipping, discount, other,
	// refund, marketplace_vat) to the account code it posts to. Every kind
	// is required (marketplace_vat not when marketplace_vat is omit).
	Accounts map[string]string `yaml:"accounts"`
	// ClearingAccount is QuickBooks' balancing account of a journal entry:
	// what the marketplace owes the seller for the period (cleared by the
	// payout). Required for quickbooks.
	ClearingAccount string `yaml:"clearing_account"`
	// NoVATTaxType is the tax type (Xero, default NONE) or tax code
	// (QuickBooks, required there) of the lines that carry no VAT of the
	// seller's: marketplace-collected VAT.
	NoVATTaxType string `yaml:"no_vat_tax_type"`
	// TaxTypes maps a VAT rate as postings write it ("20", "5", "0") to the
	// organisation's tax type or tax code (Xero: OUTPUT2; QuickBooks: a
	// TaxCode id). Required: at least one.
	TaxTypes map[string]string `yaml:"tax_types"`
	// Status is the documents' status: draft (default) or authorised.
	Status string `yaml:"status"`
	// Refunds are posted as lines of the period's summary (lines, default)
	// or as a credit note of their own (credit_note; Xero).
	Refunds string `yaml:"refunds"`
	// MarketplaceVAT is VAT the marketplace collected and remits: its own
	// line on its own account (line, default) or not posted (omit). Never
	// the seller's output VAT either way.
	MarketplaceVAT string `yaml:"marketplace_vat"`
	// Period is how long a posting's period is: daily (default), weekly or
	// monthly; never across a month end.
	Period string `yaml:"period"`
	// Grace is how long after its last day a period waits for late
	// updates before it is posted. Default 48h.
	Grace time.Duration `yaml:"grace"`
	// Invoices turns on per-order VAT invoices for business buyers who ask
	// for one (Amazon IsBusinessOrder, an eBay buyer with a VAT number).
	// Default false.
	Invoices bool `yaml:"invoices"`
	// Items maps line kinds to QuickBooks items (products/services: an
	// Item id), which an invoice's and a sales receipt's lines name:
	// required for sales when invoices are on or the document is a sales
	// receipt (quickbooks only).
	Items map[string]string `yaml:"items"`
	// Document is what a QuickBooks posting becomes: journal_entry
	// (default) or sales_receipt (quickbooks only).
	Document string `yaml:"document"`
	// Negative is what a Xero posting that sums below zero becomes: a
	// credit note (credit_note, default) or a bill (bill; xero only).
	Negative string `yaml:"negative"`
	// DueDays puts a Xero invoice's due date this many days after its
	// date (the period's last day). Default 0 (xero only).
	DueDays int `yaml:"due_days"`
}

var (
	lineKinds = []string{"sales", "shipping", "discount", "other", "refund", "marketplace_vat"}
	// A VAT rate as postings write it: no trailing ".0" ("20", never "20.0"),
	// or no posting would find its tax type.
	vatRateFormat = regexp.MustCompile(`^(0|[1-9][0-9]?)(\.[1-9])?$`)
)

func (a *Accounting) setDefaults() {
	a.Status, a.Refunds, a.MarketplaceVAT, a.Period, a.Grace = "draft", "lines", "line", "daily", 48*time.Hour
	a.Document, a.Negative = "journal_entry", "credit_note"
}

// validate checks an accounting connector's settings and tenants.
func (c Connector) validateAccounting(key string, egress Egress) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	a, key := c.Accounting, key+".accounting"
	if len(c.Tenants) != 1 || c.Tenants[0] == AllTenants {
		add(keyErr(key[:len(key)-len(".accounting")]+".tenants", "an accounting connector posts one seller's books: name exactly one tenant"))
	}
	add(nonEmpty(key+".organisation", a.Organisation))
	add(nonEmpty(key+".client_id", a.ClientID))
	if a.RefreshToken.Value == "" {
		add(keyErr(key+".refresh_token", "required: set env or file"))
	}
	if a.TokenURL != "" {
		// It receives the app's client secret and the refresh token.
		errs = append(errs, egress.checkURL(key+".token_url", a.TokenURL, c.Tenants)...)
	}
	// Every kind of line a posting can carry needs its account: a kind
	// left unmapped would refuse (and park) every posting that has one.
	for _, kind := range lineKinds {
		if a.Accounts[kind] == "" && (kind != "marketplace_vat" || a.MarketplaceVAT != "omit") {
			add(keyErr(key+".accounts."+kind, "required: the account of the %s lines", kind))
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(a.Accounts)) {
		if !slices.Contains(lineKinds, kind) {
			add(keyErr(key+".accounts."+kind, "not a line kind: the kinds are sales, shipping, discount, other, refund, marketplace_vat"))
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(a.Items)) {
		if !slices.Contains(lineKinds, kind) {
			add(keyErr(key+".items."+kind, "not a line kind: the kinds are sales, shipping, discount, other, refund, marketplace_vat"))
		}
	}
	if c.Kind == "quickbooks" {
		add(nonEmpty(key+".clearing_account", a.ClearingAccount))
		add(nonEmpty(key+".no_vat_tax_type", a.NoVATTaxType))
		if (a.Invoices || a.Document == "sales_receipt") && a.Items["sales"] == "" {
			add(keyErr(key+".items.sales", "required with invoices or sales receipts: the QuickBooks item of the sales lines"))
		}
	} else {
		if len(a.Items) > 0 {
			add(keyErr(key+".items", "only a quickbooks connector names items"))
		}
		if a.Document != "journal_entry" {
			add(keyErr(key+".document", "only a quickbooks connector posts sales receipts"))
		}
	}
	if c.Kind != "xero" && (a.Negative != "credit_note" || a.DueDays != 0) {
		add(keyErr(key+".negative", "negative and due_days are xero's settings"))
	}
	if a.DueDays < 0 || a.DueDays > 365 {
		add(keyErr(key+".due_days", "%d is not between 0 and 365", a.DueDays))
	}
	if len(a.TaxTypes) == 0 {
		add(keyErr(key+".tax_types", "required: the organisation's tax type of each VAT rate, such as {\"20\": OUTPUT2}"))
	}
	for _, r := range slices.Sorted(maps.Keys(a.TaxTypes)) {
		if !vatRateFormat.MatchString(r) {
			add(keyErr(key+".tax_types."+r, "not a VAT rate as postings write it (\"20\", \"5\", \"0\", \"13.5\")"))
		}
	}
	oneOf := func(k, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			add(keyErr(key+"."+k, "%q is not one of %v", v, allowed))
		}
	}
	oneOf("status", a.Status, "draft", "authorised")
	oneOf("refunds", a.Refunds, "lines", "credit_note")
	oneOf("marketplace_vat", a.MarketplaceVAT, "line", "omit")
	oneOf("period", a.Period, "daily", "weekly", "monthly")
	oneOf("document", a.Document, "journal_entry", "sales_receipt")
	oneOf("negative", a.Negative, "credit_note", "bill")
	add(between(key+".grace", a.Grace, 0, 31*24*time.Hour))
	return errs
}
