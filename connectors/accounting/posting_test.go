package accounting_test

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
)

// A summary and an invoice are dated on their period's last day; an
// adjustment on the day it was made, never back inside the period (a VAT
// return filed for it is locked); one without a creation time keeps the
// period's last day.
func TestPostingDate(t *testing.T) {
	period := accounting.Period{From: time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)}
	made := time.Date(2026, 4, 10, 14, 5, 0, 0, time.FixedZone("BST", 3600))
	for _, c := range []struct {
		kind    accounting.Kind
		created time.Time
		want    string
	}{
		{accounting.KindSummary, made, "2026-03-29"},
		{accounting.KindInvoice, made, "2026-03-29"},
		{accounting.KindAdjustment, made, "2026-04-10"},
		{accounting.KindAdjustment, time.Time{}, "2026-03-29"},
	} {
		p := accounting.Posting{Kind: c.kind, Period: period, CreatedAt: c.created}
		if got := p.Date().Format(time.DateOnly); got != c.want {
			t.Errorf("%s made %v: dated %s, want %s", c.kind, c.created, got, c.want)
		}
	}
}
