package accounting

import (
	"github.com/orderflow/orderflow/connectors/courier"
)

// Result is the answer to the Posting at the same index: the outcome and
// retry advice every connector gives (courier.Result: Done, Retry with an
// optional Retry-After, Failed with an error free of personal data), and
// what the provider filed the posting as, for the ledger.
type Result struct {
	courier.Result
	// ProviderID is the provider's id of the document (Xero's InvoiceID or
	// CreditNoteID, QuickBooks' JournalEntry or SalesReceipt Id); set on Done.
	ProviderID string
	// ProviderStatus is its status there (Xero: DRAFT or AUTHORISED).
	ProviderStatus string
}
