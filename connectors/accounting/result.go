package accounting

import (
	"errors"

	"github.com/orderflow/orderflow/connectors/courier"
)

// ErrMapping is what a connector's CheckMapping error matches when the
// provider's organisation lacks what the seller's mapping names (an
// account, a tax type or rate, an item): a configuration to fix, as
// against a provider that could not be asked.
var ErrMapping = errors.New("the mapping does not match the provider's organisation")

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
