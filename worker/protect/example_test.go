package protect_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/transit"
)

// The worker builds the stage on its transit client and the embedded policy,
// then protects each normalised batch before writing it. Writers take a
// token's or ciphertext's value with Value; everything else that prints them
// sees "<redacted>".
func Example() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	client, err := transit.New(ctx, transit.Config{
		Address:    "http://127.0.0.1:18200",
		Auth:       transit.Auth{Method: transit.AuthToken, TokenFile: "/var/run/secrets/vault-token"},
		Registerer: reg,
	})
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
	stage, err := protect.New(protect.Config{Tokenizer: client, Encrypter: client, Policy: p, Registerer: reg, Logger: slog.Default()})
	if err != nil {
		fmt.Println(err) // names every field of the policy the stage cannot follow
		return
	}

	var batch []order.Order // from normalize.Normalize
	protected, err := stage.Protect(ctx, batch)
	if err != nil {
		fmt.Println(err) // never contains personal data; retry the whole batch
		return
	}
	for _, o := range protected {
		fmt.Println(o.Buyer.Email)  // <redacted>
		_ = o.Buyer.Email.Value()   // "vault:v1:...", for the analytics table
		_ = o.DeliveryLabel.Value() // for the restricted label table
		_ = o.ShipPostcodeArea      // "SW"
	}
}
