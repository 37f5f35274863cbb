package accounting

import (
	"fmt"
	"io"
	"log/slog"
)

// InvoiceParty is a per-order VAT invoice's party, decrypted just in time by
// the dispatcher from Posting.InvoiceParty and handed to a connector's Post
// beside the posting (keyed by the posting's IdempotencyKey). It holds what
// a VAT invoice needs and nothing else (P6): no email, no phone.
//
// It formats as "<redacted>" so that no log, error or %v shows it.
type InvoiceParty struct {
	// Name is the buyer's name; Company the business's, when it has one
	// (a provider's contact or customer is named after the company then).
	Name    string
	Company string
	// AddressLines are the billing address's street lines, at most four.
	AddressLines []string
	City         string
	Region       string
	PostalCode   string
	// CountryCode is ISO 3166-1 alpha-2.
	CountryCode string
	// VATNumber is the buyer's VAT registration number, if any.
	VATNumber string
}

const redactedParty = "accounting.InvoiceParty{redacted}"

func (InvoiceParty) String() string                { return redactedParty }
func (InvoiceParty) GoString() string              { return redactedParty }
func (InvoiceParty) LogValue() slog.Value          { return slog.StringValue(redactedParty) }
func (InvoiceParty) MarshalText() ([]byte, error)  { return []byte(redactedParty), nil }
func (InvoiceParty) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, redactedParty) }
