package protect_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// TestMain gives the example transit keys of its own on the stack's Vault.
func TestMain(m *testing.M) {
	os.Exit(stacktest.RunExamples(m, stacktest.EnvVaultAddr, stacktest.EnvVaultToken))
}

// The worker builds the stage on its transit client and the embedded policy,
// then protects each normalised batch before writing it. Writers take a
// token's or ciphertext's value with Value; everything else that prints them
// sees "<redacted>". Card numbers are cut out of what is kept, and free text
// (the gift message) is dropped: the protected order has no field for it.
func Example() {
	ctx := context.Background()
	cfg, err := config.Load("", os.Environ()) // no file: every key from the environment
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	tc := transit.ConfigFrom(cfg.Vault)
	tc.Registerer = reg
	client, err := transit.New(ctx, tc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	p, err := policy.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	stage, err := protect.New(protect.Config{Tokenizer: client, Encrypter: client, Policy: p, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err) // names every field of the policy the stage cannot follow
		return
	}

	// One order, as normalize.Normalize makes it.
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	batch := []order.Order{{
		SchemaVersion: order.SchemaVersion, TenantID: "acme", Channel: order.ChannelAmazon,
		SourceFormat: order.SourceAmazonOrdersV0, Marketplace: "A1F83G8C2ARO7P", ChannelOrderID: "202-1234567-7654321",
		Status: order.StatusUnshipped, PaymentStatus: order.PaymentPaid, Fulfilment: order.FulfilmentMerchant,
		PurchasedAt: at, SourceUpdatedAt: at, ReceivedAt: at,
		Buyer:           order.Buyer{Name: "Ann Smith", Email: "ann@example.co.uk"},
		ShippingAddress: &order.Address{Name: "Ann Smith", Line1: "221B Baker Street", City: "London", PostalCode: "NW1 6XE", CountryCode: "GB"},
		Lines:           []order.Line{{LineID: "12345678901234", SKU: "MUG-1", Title: "Mug, engraved 4111 1111 1111 1111", Quantity: 1}},
		FreeText:        []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday, Ann!"}},
	}}
	protected, err := stage.Protect(ctx, batch)
	if err != nil {
		fmt.Println(err) // never contains personal data; retry the whole batch
		return
	}
	o := protected[0]
	fmt.Println("email:", o.Buyer.Email)
	fmt.Println("email token:", strings.HasPrefix(o.Buyer.Email.Value(), "vault:v1:"))        // for the analytics table
	fmt.Println("label ciphertext:", strings.HasPrefix(o.DeliveryLabel.Value(), "vault:v1:")) // for the restricted label table
	fmt.Println("postcode area:", o.ShipPostcodeArea)
	fmt.Println("title:", o.Lines[0].Title)
	// Output:
	// email: <redacted>
	// email token: true
	// label ciphertext: true
	// postcode area: NW
	// title: Mug, engraved [card number removed]
}
