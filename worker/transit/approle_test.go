package transit_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
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

// hmacKeyed returns the root client and a new tenant whose HMAC key a
// root-token client has created, with that client's HMAC of in: what a
// least-privileged login, which may use the key but not create it, is
// checked against.
func hmacKeyed(t *testing.T, ctx context.Context, in []string) (root *vault.Client, id string, want []string) {
	t.Helper()
	root = stacktest.VaultClient(t)
	provisioner, _ := rootClient(t)
	id = transittest.NewTenant(t, provisioner)
	want, err := provisioner.HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC as root: %v", err)
	}
	return root, id, want
}

// appRoleConfig is a client configuration that logs in with AppRole, on a
// mount of its own, as a role that may only HMAC with tenant id's key and
// gets tokens of ttl that live at most maxTTL; it returns the mount too.
func appRoleConfig(t *testing.T, root *vault.Client, id string, ttl, maxTTL time.Duration) (transit.Config, *prometheus.Registry, string) {
	t.Helper()
	mount := enableAuth(t, root, "approle")
	roleID, secretID := appRole(t, root, mount, hmacOnlyPolicy(t, root, "orderflow-"+id+"-hmac"), ttl, maxTTL)
	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthAppRole, AppRoleMount: mount, RoleID: config.Secret(roleID), SecretID: config.Secret(secretID)}
	cfg.SkipKeyCreation = true // the role may use its key, not create keys
	cfg.TokenCacheSize = -1
	return cfg, reg, mount
}

// TestAppRoleLoginWithLeastPrivilege logs in with AppRole as a role that may
// only HMAC with one tenant's key: HMAC works, Encrypt is refused once and not
// retried, and a token revoked behind the client's back is replaced by a new
// login.
func TestAppRoleLoginWithLeastPrivilege(t *testing.T) {
	ctx := ctxFor(t)
	in := []string{"ann@example.co.uk", "bob@example.co.uk"}
	root, id, want := hmacKeyed(t, ctx, in)
	cfg, reg, mount := appRoleConfig(t, root, id, time.Hour, 2*time.Hour)
	c := newClient(t, cfg)

	got, err := c.HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC with the AppRole token: %v", err)
	}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("AppRole HMAC differs from root HMAC")
	}

	_, err = c.Encrypt(ctx, id, [][]byte{[]byte("x")})
	// Permission denied stops the worker.
	checkError(t, "Encrypt", err, wantError{attempts: 1, status: http.StatusForbidden, class: failure.Worker})
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
	root, id, _ := hmacKeyed(t, ctx, []string{"x"})
	cfg, reg, _ := appRoleConfig(t, root, id, 3*time.Second, 5*time.Second)
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
	tokens := newTokenFile(t, ctx, "\n")
	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthToken, TokenFile: tokens.file}
	c := newClient(t, cfg)
	id := transittest.NewTenant(t, c)
	mustHMAC(t, ctx, c, id, []string{"a"})

	tokens.revoke(ctx)
	tokens.replace(ctx)
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
	tokens := newTokenFile(t, ctx, "")
	p := newProxied(t, "503", 0, "/v1/auth/token/lookup-self", func(cfg *transit.Config) {
		cfg.Auth = transit.Auth{Method: transit.AuthToken, TokenFile: tokens.file}
		cfg.MaxAttempts, cfg.LoginAttempts = 1, 2
	})
	if _, err := p.c.HMAC(ctx, p.id, []string{"a"}); err != nil {
		t.Fatalf("HMAC: %v", err)
	}

	tokens.revoke(ctx)
	p.proxy.set("503", 100)
	_, err := p.c.HMAC(ctx, p.id, []string{"b"})
	checkError(t, "HMAC with a revoked token while the lookup answers 503", err, wantError{temporary: true, status: http.StatusForbidden, class: failure.Transient})

	p.proxy.set("503", 0)
	tokens.replace(ctx)
	if _, err := p.c.HMAC(ctx, p.id, []string{"c"}); err != nil {
		t.Errorf("HMAC once Vault answers again: %v", err)
	}
}

// tokenFile is a token file as a Vault Agent sink keeps it: a root-created
// token, each written with the given line ending, that the test revokes
// behind the client's back and replaces.
type tokenFile struct {
	t       *testing.T
	logical *vault.Logical
	file    string
	ending  string
	current string
}

func newTokenFile(t *testing.T, ctx context.Context, ending string) *tokenFile {
	t.Helper()
	f := &tokenFile{t: t, logical: stacktest.VaultClient(t).Logical(), file: filepath.Join(t.TempDir(), "vault-token"), ending: ending}
	f.replace(ctx)
	return f
}

// replace writes a new token to the file.
func (f *tokenFile) replace(ctx context.Context) {
	f.t.Helper()
	s, err := f.logical.WriteWithContext(ctx, "auth/token/create", map[string]any{"ttl": "1h"})
	if err != nil || s == nil || s.Auth == nil {
		f.t.Fatalf("create token: %v", err)
	}
	f.current = s.Auth.ClientToken
	if err := os.WriteFile(f.file, []byte(f.current+f.ending), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// revoke revokes the token in the file, leaving the file as it is.
func (f *tokenFile) revoke(ctx context.Context) {
	f.t.Helper()
	if _, err := f.logical.WriteWithContext(ctx, "auth/token/revoke", map[string]any{"token": f.current}); err != nil {
		f.t.Fatalf("revoke token: %v", err)
	}
}
