package outbox_test

import (
	"fmt"
	"time"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Three snapshots of a batch: a ready order makes a create job, a later
// snapshot of it, cancelled, a cancel job under the same key, and an order
// Amazon fulfils none.
func ExampleJobs() {
	ready := protected.Order{
		TenantID: "acme-uk", Channel: order.ChannelEbay, ChannelOrderID: "21-13579-24680",
		Status: order.StatusUnshipped, PaymentStatus: order.PaymentPaid, Fulfilment: order.FulfilmentMerchant,
		SourceUpdatedAt: time.Date(2026, 10, 12, 9, 44, 3, 0, time.UTC),
		DeliveryLabel:   protected.SealCiphertexts([]string{"vault:v1:..."})[0],
	}
	cancelled := ready
	cancelled.Status, cancelled.PaymentStatus = order.StatusCancelled, order.PaymentRefunded
	cancelled.SourceUpdatedAt = ready.SourceUpdatedAt.Add(time.Hour)
	fba := ready
	fba.Channel, fba.ChannelOrderID, fba.Fulfilment = order.ChannelAmazon, "203-6617294-5503168", order.FulfilmentMarketplace

	for _, j := range outbox.Jobs([]protected.Order{ready, cancelled, fba}, time.Now()) {
		fmt.Println(j.Kind, j.Key(), j.SourceVersion, j.Recipient != "")
	}
	// Output:
	// create acme-uk/ebay/21-13579-24680 1791798243000 true
	// cancel acme-uk/ebay/21-13579-24680 1791801843000 false
}
