package protected

// Erase applies a buyer's erasure (worker/retention, erase.go) to a snapshot
// of an order the buyer asked to erase, as it is written: every buyer token
// becomes marker (the request's, the same for every token, so that counts of
// orders and distinct buyers stay right), the delivery label goes (no label
// row, no courier job), and so does the invoice party unless keepInvoice (a
// VAT invoice issued to a business buyer, which the law requires kept).
// Amounts, dates, lines and statuses stay.
func (o *Order) Erase(marker string, keepInvoice bool) {
	m := marker // one copy, shared by the tokens it replaces
	for _, t := range []*Token{&o.Buyer.Name, &o.Buyer.Email, &o.Buyer.Phone, &o.Buyer.Username, &o.Buyer.UserID} {
		if !t.IsZero() {
			*t = Token{p: &m}
		}
	}
	o.DeliveryLabel = Ciphertext{}
	if !keepInvoice {
		o.InvoiceParty = Ciphertext{}
	}
}
