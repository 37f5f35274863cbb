package transit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/transit"
)

// The worker builds its client from the vault section of its configuration,
// then tokenises and encrypts a batch of buyers' data per tenant.
func Example() {
	ctx := context.Background() // the process's root context: it also bounds token renewal
	cfg, err := config.Load("orderflow.yaml", os.Environ())
	if err != nil {
		fmt.Println(err)
		return
	}
	tc := transit.ConfigFrom(cfg.Vault)
	tc.Registerer = prometheus.NewRegistry()
	tc.Logger = slog.Default()
	client, err := transit.New(ctx, tc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	tokens, err := client.HMAC(ctx, "acme", []string{"ann@example.co.uk", "bob@example.co.uk"})
	if err != nil {
		fmt.Println(err) // never contains the values
		return
	}
	ciphertexts, err := client.Encrypt(ctx, "acme", [][]byte{[]byte("Ann Smith, 221B Baker Street")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tokens), len(ciphertexts))
}
