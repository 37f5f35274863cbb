package quickbooks_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/courier"
)

func salesReceipts(c *quickbooks.Config) {
	c.Mapping.Document = quickbooks.DocumentSalesReceipt
	c.Mapping.Items = map[accounting.LineKind]string{
		accounting.LineSales: "21", accounting.LineShipping: "22", accounting.LineDiscount: "23",
		accounting.LineRefund: "24", accounting.LineMarketplaceVAT: "25", accounting.LineOther: "21",
	}
}

// TestSalesReceipts: with document sales_receipt, a summary is the golden
// sales receipt (every line on its kind's item, marketplace VAT with the
// no-VAT code, deposited to the clearing account) and a negative
// adjustment the golden refund receipt (its lines' signs turned); each
// carries the posting's totals to the penny.
func TestSalesReceipts(t *testing.T) {
	e := newEnv(t, salesReceipts)
	summary := posting(t, accounting.KindSummary, 0, "20", 5, 5,
		"sales", "1250.00", "250.00", "shipping", "41.60", "8.32", "discount", "-25.00", "-5.00",
		"refund", "-99.99", "-20.00", "marketplace_vat", "12.40", "0")
	adj := posting(t, accounting.KindAdjustment, 1, "20", 5, 5, "refund", "-41.66", "-8.33", "shipping", "-4.16", "-0.83")
	for i, r := range e.post(t, summary, adj) {
		if r.Outcome != courier.Done || r.ProviderID == "" {
			t.Fatalf("posting %d: %+v, want done", i, r)
		}
	}
	got := e.srv.Receipts()
	if len(got) != 2 || got[0].Entity != "salesreceipt" || got[1].Entity != "refundreceipt" {
		t.Fatalf("receipts %+v, want a sales receipt and a refund receipt", got)
	}
	golden(t, "summary_20.salesreceipt.golden.json", got[0].Body)
	golden(t, "adjustment_negative.refundreceipt.golden.json", got[1].Body)
	// Net 1179.01 (with marketplace VAT), VAT 233.32; the refund 45.82 and 9.16.
	want := [][2]int64{{117901, 23332}, {4582, 916}}
	for i, w := range want {
		if g := [2]int64{got[i].Net, got[i].TotalTax}; g != w {
			t.Errorf("receipt %d: net and VAT %v pennies, want %v", i, g, w)
		}
		if got[i].DepositTo != "91" {
			t.Errorf("receipt %d deposited to %s, want the clearing account 91", i, got[i].DepositTo)
		}
	}
}
