package transit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// TestMain gives the example transit keys of its own on the stack's Vault.
func TestMain(m *testing.M) {
	os.Exit(stacktest.RunExamples(m, stacktest.EnvVaultAddr, stacktest.EnvVaultToken))
}

// The worker builds its client from the vault section of its configuration,
// then tokenises and encrypts a batch of buyers' data per tenant. Tokens are
// deterministic per tenant, so a repeat buyer can be counted without knowing
// who it is, and differ between tenants, so a buyer cannot be followed from
// one seller to another. When a seller leaves, its keys are destroyed and
// nothing encrypted for it can be read again.
func Example() {
	ctx := context.Background() // the process's root context: it also bounds token renewal
	// No file: every key from the environment (ORDERFLOW_VAULT_ADDRESS, ...).
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		fmt.Println(err)
		return
	}
	tc := transit.ConfigFrom(cfg.Vault)
	tc.Registerer = prometheus.NewRegistry()
	tc.Logger = slog.New(slog.DiscardHandler)
	client, err := transit.New(ctx, tc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	tokens, err := client.HMAC(ctx, "acme", []string{"ann@example.co.uk", "bob@example.co.uk", "ann@example.co.uk"})
	if err != nil {
		fmt.Println(err) // never contains the values
		return
	}
	elsewhere, err := client.HMAC(ctx, "brightside", []string{"ann@example.co.uk"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("same buyer, same token:", tokens[0] == tokens[2])
	fmt.Println("other buyer, other token:", tokens[0] != tokens[1])
	fmt.Println("other seller, other token:", tokens[0] != elsewhere[0])

	ciphertexts, err := client.Encrypt(ctx, "acme", [][]byte{[]byte("Ann Smith, 221B Baker Street")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ciphertext:", strings.HasPrefix(ciphertexts[0], "vault:v1:"))
	plaintexts, err := client.Decrypt(ctx, "acme", ciphertexts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("decrypted:", string(plaintexts[0]))

	// Offboarding shreds the tenant's keys (after blocking it everywhere:
	// retention.Offboard); its ciphertexts are unreadable from then on.
	for _, tenant := range []string{"acme", "brightside"} {
		if err := client.DestroyTenantKeys(ctx, tenant); err != nil {
			fmt.Println(err)
			return
		}
	}
	_, err = client.Decrypt(ctx, "acme", ciphertexts)
	fmt.Println("decrypted after offboarding:", err == nil)
	// Output:
	// same buyer, same token: true
	// other buyer, other token: true
	// other seller, other token: true
	// ciphertext: true
	// decrypted: Ann Smith, 221B Baker Street
	// decrypted after offboarding: false
}
