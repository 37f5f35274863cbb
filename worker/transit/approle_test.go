package transit_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
)

// enableAuth enables an auth method of type kind under a unique mount path,
// disabled again when the test ends.
func enableAuth(t *testing.T, root *vault.Client, kind string) string {
	t.Helper()
	ctx := ctxFor(t)
	mount := stacktest.UniqueName(kind)
	if err := root.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &vault.EnableAuthOptions{Type: kind}); err != nil {
		t.Fatalf("enable %s auth: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := root.Sys().DisableAuthWithContext(ctxFor(t), mount); err != nil {
			t.Errorf("disable %s auth: %v", mount, err)
		}
	})
	return mount
}

// hmacOnlyPolicy creates a policy that allows HMAC with one key and nothing else.
func hmacOnlyPolicy(t *testing.T, root *vault.Client, key string) string {
	t.Helper()
	name := stacktest.UniqueName("hmac-only")
	rules := fmt.Sprintf(`path "transit/hmac/%s/*" { capabilities = ["update"] }`, key)
	if err := root.Sys().PutPolicyWithContext(ctxFor(t), name, rules); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	t.Cleanup(func() { _ = root.Sys().DeletePolicyWithContext(ctxFor(t), name) })
	return name
}

// appRole creates a role with policy on mount and returns its role id and a
// new secret id.
func appRole(t *testing.T, root *vault.Client, mount, policy string, ttl, maxTTL time.Duration) (roleID, secretID string) {
	t.Helper()
	ctx := ctxFor(t)
	logical := root.Logical()
	path := "auth/" + mount + "/role/orderflow"
	if _, err := logical.WriteWithContext(ctx, path, map[string]any{
		"token_policies": []string{policy},
		"token_ttl":      int(ttl.Seconds()),
		"token_max_ttl":  int(maxTTL.Seconds()),
	}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	s, err := logical.ReadWithContext(ctx, path+"/role-id")
	if err != nil || s == nil {
		t.Fatalf("read role id: %v", err)
	}
	roleID, _ = s.Data["role_id"].(string)
	s, err = logical.WriteWithContext(ctx, path+"/secret-id", nil)
	if err != nil || s == nil {
		t.Fatalf("create secret id: %v", err)
	}
	secretID, _ = s.Data["secret_id"].(string)
	return roleID, secretID
}

// TestAppRoleLoginWithLeastPrivilege logs in with AppRole as a role that may
// only HMAC with one tenant's key: HMAC works, Encrypt is refused once and not
// retried, and a token revoked behind the client's back is replaced by a new
// login.
func TestAppRoleLoginWithLeastPrivilege(t *testing.T) {
	ctx := ctxFor(t)
	root := admin(t)
	rootCfg, _ := testConfig(t)
	provisioner := newClient(t, rootCfg)
	id := tenant(t, provisioner)
	in := []string{"ann@example.co.uk", "bob@example.co.uk"}
	want, err := provisioner.HMAC(ctx, id, in) // creates the key the role may use
	if err != nil {
		t.Fatalf("HMAC as root: %v", err)
	}

	mount := enableAuth(t, root, "approle")
	roleID, secretID := appRole(t, root, mount, hmacOnlyPolicy(t, root, "orderflow-"+id+"-hmac"), time.Hour, 2*time.Hour)
	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthAppRole, AppRoleMount: mount, RoleID: config.Secret(roleID), SecretID: config.Secret(secretID)}
	cfg.SkipKeyCreation = true // the role may use its key, not create keys
	cfg.TokenCacheSize = -1
	c := newClient(t, cfg)

	got, err := c.HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC with the AppRole token: %v", err)
	}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("AppRole HMAC differs from root HMAC")
	}

	_, err = c.Encrypt(ctx, id, [][]byte{[]byte("x")})
	var te *transit.Error
	if !errors.As(err, &te) || te.Temporary || te.Attempts != 1 || transit.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("Encrypt: %v, want a permanent 403 after one attempt", err)
	}
	if c := failure.Of(err); c != failure.Worker {
		t.Errorf("class %v: permission denied stops the worker", c)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=encrypt"); n != 1 {
		t.Errorf("%v encrypt requests, want 1: permission denied is not retried", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_retries_total"); n != 0 {
		t.Errorf("retries_total = %v, want 0", n)
	}
	// The 403 was checked against the token, which Vault still accepted.
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=lookup_self", "outcome=ok"); n != 1 {
		t.Errorf("%v successful token lookups after the 403, want 1", n)
	}

	// Revoke every token the mount issued: the next call meets 403, finds its
	// token invalid, logs in again and succeeds.
	if _, err := root.Logical().WriteWithContext(ctx, "sys/leases/revoke-prefix/auth/"+mount+"/", nil); err != nil {
		t.Fatalf("revoke the role's tokens: %v", err)
	}
	again, err := c.HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC after the token was revoked: %v", err)
	}
	if again[0] != want[0] {
		t.Errorf("HMAC after a new login differs")
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=login", "outcome=ok"); n != 2 {
		t.Errorf("%v logins, want 2 (New, then after the revocation)", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac", "outcome=denied"); n != 1 {
		t.Errorf("%v HMAC requests denied, want 1 (with the revoked token)", n)
	}
}

// TestTokenIsRenewedAndReplacedBeforeExpiry gives the role 3s tokens that live
// at most 5s: the client renews the token, then logs in again near its max
// TTL, so requests never meet an expired token.
func TestTokenIsRenewedAndReplacedBeforeExpiry(t *testing.T) {
	ctx := ctxFor(t)
	root := admin(t)
	rootCfg, _ := testConfig(t)
	provisioner := newClient(t, rootCfg)
	id := tenant(t, provisioner)
	if _, err := provisioner.HMAC(ctx, id, []string{"x"}); err != nil {
		t.Fatalf("HMAC as root: %v", err)
	}
	mount := enableAuth(t, root, "approle")
	roleID, secretID := appRole(t, root, mount, hmacOnlyPolicy(t, root, "orderflow-"+id+"-hmac"), 3*time.Second, 5*time.Second)
	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthAppRole, AppRoleMount: mount, RoleID: config.Secret(roleID), SecretID: config.Secret(secretID)}
	cfg.SkipKeyCreation = true
	cfg.TokenCacheSize = -1
	c := newClient(t, cfg)

	deadline := time.Now().Add(6500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		if _, err := c.HMAC(ctx, id, []string{fmt.Sprint("value-", i)}); err != nil {
			t.Fatalf("HMAC at %d: %v", i, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=renew_self", "outcome=ok"); n < 1 {
		t.Errorf("the token was never renewed")
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=login", "outcome=ok"); n < 2 {
		t.Errorf("%v logins: the token was not replaced before its max TTL", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "outcome=denied"); n != 0 {
		t.Errorf("%v requests met an expired token", n)
	}
}

// TestTokenFileIsReadAgainWhenVaultRefusesTheToken follows a token file that
// something else (a Vault Agent sink) rewrites: when Vault no longer accepts
// the token, the client reads the file again and carries on.
func TestTokenFileIsReadAgainWhenVaultRefusesTheToken(t *testing.T) {
	ctx := ctxFor(t)
	logical := admin(t).Logical()
	newToken := func() string {
		s, err := logical.WriteWithContext(ctx, "auth/token/create", map[string]any{"ttl": "1h"})
		if err != nil || s == nil || s.Auth == nil {
			t.Fatalf("create token: %v", err)
		}
		return s.Auth.ClientToken
	}
	file := filepath.Join(t.TempDir(), "vault-token")
	first := newToken()
	if err := os.WriteFile(file, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthToken, TokenFile: file}
	c := newClient(t, cfg)
	id := tenant(t, c)
	if _, err := c.HMAC(ctx, id, []string{"a"}); err != nil {
		t.Fatalf("HMAC: %v", err)
	}

	if _, err := logical.WriteWithContext(ctx, "auth/token/revoke", map[string]any{"token": first}); err != nil {
		t.Fatalf("revoke token: %v", err)
	}
	if err := os.WriteFile(file, []byte(newToken()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HMAC(ctx, id, []string{"b"}); err != nil {
		t.Fatalf("HMAC after the token was replaced in its file: %v", err)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac", "outcome=denied"); n != 1 {
		t.Errorf("%v HMAC requests denied, want 1 (with the revoked token)", n)
	}
}

// A 403 that the client cannot tell from an expired token while Vault is
// unavailable (the token lookup answers 503) is temporary: the pipeline
// retries rather than stop the worker; once Vault answers again, the client
// reads its token file again and carries on.
func TestRefusalMetWhileVaultIsUnavailableIsTemporary(t *testing.T) {
	ctx := ctxFor(t)
	logical := admin(t).Logical()
	newToken := func() string {
		s, err := logical.WriteWithContext(ctx, "auth/token/create", map[string]any{"ttl": "1h"})
		if err != nil || s == nil || s.Auth == nil {
			t.Fatalf("create token: %v", err)
		}
		return s.Auth.ClientToken
	}
	file := filepath.Join(t.TempDir(), "vault-token")
	first := newToken()
	if err := os.WriteFile(file, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, "503", 0, "/v1/auth/token/lookup-self")
	cfg, _ := testConfig(t)
	cfg.Address = proxy.URL
	cfg.Auth = transit.Auth{Method: transit.AuthToken, TokenFile: file}
	cfg.MaxAttempts, cfg.LoginAttempts = 1, 2
	c := newClient(t, cfg)
	id := tenant(t, c)
	if _, err := c.HMAC(ctx, id, []string{"a"}); err != nil {
		t.Fatalf("HMAC: %v", err)
	}

	if _, err := logical.WriteWithContext(ctx, "auth/token/revoke", map[string]any{"token": first}); err != nil {
		t.Fatalf("revoke token: %v", err)
	}
	proxy.set("503", 100)
	_, err := c.HMAC(ctx, id, []string{"b"})
	var te *transit.Error
	if !errors.As(err, &te) || !te.Temporary || failure.Of(err) != failure.Transient {
		t.Fatalf("HMAC with a revoked token while the lookup answers 503: %v, want a temporary error", err)
	}

	proxy.set("503", 0)
	if err := os.WriteFile(file, []byte(newToken()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HMAC(ctx, id, []string{"c"}); err != nil {
		t.Errorf("HMAC once Vault answers again: %v", err)
	}
}
