package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
)

// Books is one seller's accounting in the demo: what was posted to its
// provider beside what its financial records sum to.
type Books struct {
	Tenant, Connector, Kind string
	// Period is the seller's: daily, weekly or monthly.
	Period string
	// Postings are the ledger's, by kind; Documents what the stand-in holds.
	Summaries, Adjustments, Invoices, Documents int
	// Records and Posted are the gross per currency of the closed periods.
	Records, Posted map[string]order.Amount
	// Open counts the periods still within the grace; Parked the postings
	// the provider refused (a VAT rate the mapping lacks), ParkedGross their
	// gross per currency: the records are the posted plus the parked.
	Open, Parked int
	ParkedGross  map[string]order.Amount
}

// standInRate is the demo connectors' pace against the stand-ins.
const standInRate = 20

// runAccounting posts the first seller's books to Xero and the second's to
// QuickBooks Online (both standing in), through the dispatcher's accounting
// pass and dispatcher, and reconciles each with ClickHouse.
func runAccounting(ctx context.Context, cfg Config, app config.Config, admin *kafka.Client, conn driver.Conn, tenants []string, say func(string, ...any)) ([]Books, error) {
	if len(tenants) < 2 {
		return nil, nil
	}
	// The sellers sell across Europe under the One Stop Shop: their
	// organisations have tax rates for DE's 19% and IE's 23% too.
	xs, err := xerotest.Start(xerotest.Config{TaxRates: xerotest.OSSTaxRates})
	if err != nil {
		return nil, err
	}
	defer xs.Close()
	accounts, codes, rates := quickbookstest.OSSCompany()
	qs, err := quickbookstest.Start(quickbookstest.Config{Accounts: accounts, TaxCodes: codes, TaxRates: rates})
	if err != nil {
		return nil, err
	}
	defer qs.Close()
	settings := func(org, client, refresh string) config.Accounting {
		a := config.Accounting{Organisation: org, ClientID: client, RefreshToken: config.SecretRef{Value: config.Secret(refresh)},
			Status: "authorised", Refunds: "lines", MarketplaceVAT: "line", Period: "daily", Grace: 48 * time.Hour,
			Document: "journal_entry", Negative: "credit_note"}
		return a
	}
	xa := settings(xs.XeroTenantID(), "test-client", "refresh-0")
	xa.TokenURL = xs.TokenURL
	xa.Period = "weekly" // one seller's setting: weeks, cut at month ends
	xa.Invoices = true   // and its business buyers' VAT invoices
	xa.Accounts = map[string]string{"sales": "200", "shipping": "205", "discount": "210", "other": "200", "refund": "215", "marketplace_vat": "825"}
	xa.TaxTypes = map[string]string{"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT", "19": "OSSDE19", "23": "OSSIE23"}
	qa := settings("9341453172581902", "test-client-id", "test-refresh-token-0")
	qa.TokenURL = qs.TokenURL
	qa.Accounts = map[string]string{"sales": "41", "shipping": "42", "discount": "43", "other": "41", "refund": "44", "marketplace_vat": "81"}
	qa.TaxTypes = map[string]string{"20": "2", "5": "3", "0": "4", "19": "31", "23": "32"}
	qa.ClearingAccount, qa.NoVATTaxType = "91", "6"
	// Names of this run: the providers' refresh tokens rotate and are kept
	// in Vault by connector, and each run's stand-ins start afresh.
	run := strconv.FormatInt(time.Now().Unix(), 36)
	xeroName, qboName := "books_xero_"+run, "books_quickbooks_"+run
	// The stand-ins take 20 calls a second: at Xero's own 60 a minute this
	// step alone would take minutes (the connectors' tests prove the
	// providers' limits are kept).
	app.Connectors = config.Connectors{
		xeroName: {Kind: "xero", Purpose: config.PurposeAccounting, Endpoint: xs.URL, Credentials: config.SecretRef{Value: "test-secret"},
			Tenants: []string{tenants[0]}, Accounting: xa, RatePerSecond: standInRate, Burst: 5},
		qboName: {Kind: "quickbooks", Purpose: config.PurposeAccounting, Endpoint: qs.URL, Credentials: config.SecretRef{Value: "test-client-secret"},
			Tenants: []string{tenants[1]}, Accounting: qa, RatePerSecond: standInRate, Burst: 5},
	}
	app.Dispatch.AccountingGroupID = app.Kafka.GroupID + "-accounting"
	app.Dispatch.GroupID = app.Kafka.GroupID + "-dispatch-books"
	if err := app.Validate(); err != nil {
		return nil, fmt.Errorf("accounting: %w", err)
	}
	say("posting the books: %s to Xero (weekly summaries and business buyers' VAT invoices), %s to QuickBooks Online (daily), both standing in and taking %d calls a second, of closed periods ...", tenants[0], tenants[1], standInRate)
	reg := prometheus.NewRegistry()
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- cfg.Dispatcher(dctx, app, reg) }()
	// The pass runs at start; then the dispatcher posts what it wrote.
	deadline := time.Now().Add(cfg.Timeout)
	for {
		select {
		case err := <-done:
			return nil, fmt.Errorf("the dispatcher stopped early: %w", err)
		case <-time.After(time.Second):
		}
		f := gather(reg)
		if f.sum("orderflow_accounting_last_pass_timestamp_seconds") > 0 {
			written, err := endOffsets(ctx, admin, app.Kafka.Topics.Accounting)
			if err != nil {
				return nil, err
			}
			finished := f.sum("orderflow_connector_jobs_total")
			say("  %6.0f of %d postings finished", finished, written)
			if finished >= float64(written) {
				break
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the books were not posted in %s", cfg.Timeout)
		}
	}
	parked := gather(reg).sumBy("orderflow_connector_parked_total", "connector")
	if err := cfg.observer.settle(ctx); err != nil {
		return nil, err
	}
	stop()
	if err := <-done; err != nil {
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	parkedMsgs, err := readTopic(ctx, app, admin, app.Kafka.Topics.Parked)
	if err != nil {
		return nil, err
	}
	parkedGross := map[string]map[string]order.Amount{} // tenant, currency
	for _, m := range parkedMsgs {
		var p accounting.Posting
		if json.Unmarshal(m.Value, &p) != nil || p.Check() != nil {
			continue // a courier job
		}
		if parkedGross[p.TenantID] == nil {
			parkedGross[p.TenantID] = map[string]order.Amount{}
		}
		_, _, g := p.Totals()
		parkedGross[p.TenantID][p.Currency] += g
	}

	l, err := ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: app.ClickHouse.RestrictedDatabase})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	from, to := now.AddDate(-2, 0, 0), now
	var out []Books
	for _, b := range []Books{
		{Tenant: tenants[0], Connector: xeroName, Kind: "xero", Period: xa.Period, Documents: len(xs.Documents())},
		{Tenant: tenants[1], Connector: qboName, Kind: "quickbooks", Period: qa.Period, Documents: len(qs.Entries())},
	} {
		records, err := l.Records(ctx, b.Tenant, from, to)
		if err != nil {
			return nil, err
		}
		posted, err := l.Posted(ctx, b.Connector, b.Tenant, from, to)
		if err != nil {
			return nil, err
		}
		for _, p := range posted {
			switch p.Kind {
			case "summary":
				b.Summaries++
			case "adjustment":
				b.Adjustments++
			default:
				b.Invoices++
			}
		}
		a := app.Connectors[b.Connector].Accounting
		diffs, err := postings.Reconcile(records, posted, postings.Config{Periodicity: postings.Periodicity(a.Period), Grace: a.Grace, Invoices: a.Invoices, Now: now})
		if err != nil {
			return nil, err
		}
		b.Records, b.Posted = map[string]order.Amount{}, map[string]order.Amount{}
		for _, d := range diffs {
			if !d.Closed {
				b.Open++
				continue
			}
			b.Records[d.Key.Currency] += d.RecordsGross
			b.Posted[d.Key.Currency] += d.PostedGross
		}
		b.Parked, b.ParkedGross = int(parked[b.Connector]), parkedGross[b.Tenant]
		out = append(out, b)
	}
	return out, nil
}
