package stacktest

import (
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// VaultClient returns a vault/api client of the stack's Vault dev server with
// its root token, for what a test sets up and checks from outside the code
// under test (keys, policies, KV entries).
func VaultClient(t testing.TB) *vault.Client {
	t.Helper()
	addr, token := Vault(t)
	c, err := vaultClient(addr, token)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	return c
}

func vaultClient(addr, token string) (*vault.Client, error) {
	cfg := vault.DefaultConfig()
	cfg.Address = addr
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	return c, nil
}

// EnvVaultAuditLog names the file of the stack's Vault audit device
// (deploy/local/vault.sh enables it at every start).
const EnvVaultAuditLog = "ORDERFLOW_STACK_VAULT_AUDIT_LOG"

// VaultAuditLog returns the path of the stack's Vault audit log.
func VaultAuditLog(t testing.TB) string {
	t.Helper()
	Vault(t)
	return require(t, EnvVaultAuditLog, "Vault's audit device")
}
