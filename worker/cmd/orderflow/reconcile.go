package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
)

// reconcileCommand prints, period by period, what ClickHouse's financial
// records sum to beside what the tenant's accounting connector posted, and
// every difference: for a finance team closing a month.
func reconcileCommand(args []string, stdout, stderr io.Writer) int {
	fs, configPath := commandFlags("reconcile", stderr)
	tenant := fs.String("tenant", "", "the seller whose books to reconcile (required)")
	fromFlag := fs.String("from", "", "first day, YYYY-MM-DD (default: the first of last month)")
	toFlag := fs.String("to", "", "last day, YYYY-MM-DD (default: yesterday)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from, to := time.Date(today.Year(), today.Month()-1, 1, 0, 0, 0, 0, time.UTC), today.AddDate(0, 0, -1)
	for _, f := range []struct {
		flag string
		to   *time.Time
	}{{*fromFlag, &from}, {*toFlag, &to}} {
		if f.flag == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, f.flag)
		if err != nil {
			fmt.Fprintf(stderr, "orderflow reconcile: %q is not a date such as 2026-11-30\n", f.flag)
			return 2
		}
		*f.to = d
	}
	if *tenant == "" || to.Before(from) {
		fmt.Fprintln(stderr, "orderflow reconcile: --tenant is required, and --from must not be after --to")
		return 2
	}
	ctx, cancel, cfg, _, err := startCommand("reconcile", *configPath, stderr, needClickHouse)
	if err != nil {
		return 2
	}
	defer cancel()
	provider, ok := cfg.Connectors.RouteFor(config.PurposeAccounting, *tenant)
	if !ok {
		fmt.Fprintf(stderr, "orderflow reconcile: no accounting connector lists tenant %s (connectors.<name>.tenants)\n", *tenant)
		return 2
	}
	conn, err := openCurrentSchema(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "orderflow reconcile: %v\n", err)
		return 1
	}
	defer conn.Close()
	l, err := ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase})
	if err != nil {
		fmt.Fprintf(stderr, "orderflow reconcile: %v\n", err)
		return 1
	}
	// Whole periods: a week or month cut by --from or --to would compare
	// part of its records with all of its postings.
	pc := postingsConfig(cfg.Connectors[provider].Accounting)
	if p, err := postings.PeriodOf(from, pc.Periodicity); err == nil {
		from = p.From
	}
	if p, err := postings.PeriodOf(to, pc.Periodicity); err == nil {
		to = p.To
	}
	end := to.AddDate(0, 0, 1)
	records, err := l.Records(ctx, *tenant, from, end)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow reconcile: %v\n", err)
		return 1
	}
	posted, err := l.Posted(ctx, provider, *tenant, from, end)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow reconcile: %v\n", err)
		return 1
	}
	pc.Now = now
	diffs, err := postings.Reconcile(records, posted, pc)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow reconcile: %v\n", err)
		return 1
	}
	printReconcile(stdout, *tenant, provider, from, to, diffs)
	return 0
}

func printReconcile(w io.Writer, tenant, provider string, from, to time.Time, diffs []postings.Difference) {
	fmt.Fprintf(w, "Books of %s at %s, %s to %s: financial records (ClickHouse) beside what was posted\n",
		tenant, provider, from.Format(time.DateOnly), to.Format(time.DateOnly))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "period\tmarketplace\tcurrency\tVAT %\trecords gross\tposted gross\trecords VAT\tposted VAT\tpostings\tdifference\t")
	off := map[string]order.Amount{} // by currency, each period's difference by its size
	open := 0
	for _, d := range diffs {
		state := "ok"
		switch {
		case !d.Closed:
			state, open = "open", open+1
		case d.Unreconciled() != 0 || d.RecordsTax != d.PostedTax:
			// The VAT too: the same gross split otherwise between net and
			// VAT is not the same books.
			state = "DIFFERENCE"
			off[d.Key.Currency] += max(d.Unreconciled(), -d.Unreconciled(), d.RecordsTax-d.PostedTax, d.PostedTax-d.RecordsTax)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s %s\t\n", d.Period, d.Key.Marketplace, d.Key.Currency, d.Key.VATRate,
			d.RecordsGross, d.PostedGross, d.RecordsTax, d.PostedTax, d.Postings, d.Unreconciled(), state)
	}
	_ = tw.Flush()
	if len(off) == 0 {
		fmt.Fprintf(w, "Every closed period reconciles to the penny; %d still open (within the grace for late updates).\n", open)
		return
	}
	for _, cur := range slices.Sorted(maps.Keys(off)) {
		a := off[cur]
		fmt.Fprintf(w, "Not yet reconciled: %s %s (the next accounting pass posts what is due; a posting the provider refused is parked with its reason, and posted again from the current records when orderflow dispatch starts)\n", cur, a)
	}
}
