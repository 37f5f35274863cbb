// Package vault holds orderflow's Vault policies (policies/*.hcl), one per
// role; its test proves each on the real Vault.
package vault

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// call is one request a role may or may not make.
type call struct {
	method, path string
	body         map[string]any
}

// On the local Vault, each role's token (made with its policy alone) can do
// what its command needs and is refused the rest; in particular the worker
// cannot re-create a tenant key that offboarding destroyed by encrypting to
// it, and only offboarding can delete a key.
func TestEachRoleCanDoExactlyWhatItNeeds(t *testing.T) {
	addr, rootToken := stacktest.Vault(t)
	root := client(t, addr, rootToken)
	ctx := context.Background()
	prefix := strings.ReplaceAll(stacktest.UniqueName("pol"), "_", "-")

	// The policies and AppRole roles as deploy/vault/apply.sh applies them;
	// each role logs in through AppRole, as the commands do locally.
	apply := exec.CommandContext(ctx, "bash", "apply.sh", "--approle")
	apply.Env = append(os.Environ(), "VAULT_ADDR="+addr, "VAULT_TOKEN="+rootToken)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply.sh: %v\n%s", err, out)
	}
	policies, err := filepath.Glob("policies/*.hcl")
	if err != nil || len(policies) != 7 {
		t.Fatalf("policies %v (%v), want the seven roles'", policies, err)
	}
	tokens := map[string]string{}
	for _, file := range policies {
		role := strings.TrimSuffix(filepath.Base(file), ".hcl")
		if role == "analyst" {
			// No AppRole: an analyst's token, issued by mistake, has only
			// the analyst policy.
			secret, err := root.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"orderflow-analyst"}, TTL: "10m"})
			if err != nil {
				t.Fatal(err)
			}
			tokens[role] = secret.Auth.ClientToken
			continue
		}
		name := "auth/approle/role/orderflow-" + role
		roleID, err := root.Logical().ReadWithContext(ctx, name+"/role-id")
		if err != nil {
			t.Fatal(err)
		}
		secretID := mustWrite(t, root, name+"/secret-id", nil)
		login := mustWrite(t, root, "auth/approle/login", map[string]any{"role_id": roleID.Data["role_id"], "secret_id": secretID.Data["secret_id"]})
		if login.Auth == nil || !slices.Equal(login.Auth.TokenPolicies, []string{"default", "orderflow-" + role}) {
			t.Fatalf("%s logged in with %+v, want its policy alone", role, login.Auth)
		}
		tokens[role] = login.Auth.ClientToken
	}

	// A tenant's keys as the worker makes them, and a ciphertext of each.
	tenantEnc, tenantHMAC, shredded := prefix+"-acme-enc", prefix+"-acme-hmac", prefix+"-gone-enc"
	for _, key := range []string{tenantEnc, tenantHMAC, shredded} {
		mustWrite(t, root, "transit/keys/"+key, map[string]any{"type": "aes256-gcm96"})
		mustWrite(t, root, "transit/keys/"+key+"/config", map[string]any{"deletion_allowed": true})
		t.Cleanup(func() { _, _ = root.Logical().Delete("transit/keys/" + key) })
	}
	ct := mustWrite(t, root, "transit/encrypt/"+tenantEnc, map[string]any{"plaintext": "QW5uIEV4YW1wbGU="}).Data["ciphertext"]
	if _, err := root.Logical().Delete("transit/keys/" + shredded); err != nil {
		t.Fatal(err)
	}

	var (
		hmac       = call{http.MethodPut, "transit/hmac/" + tenantHMAC + "/sha2-256", map[string]any{"input": "QW5u"}}
		encrypt    = call{http.MethodPut, "transit/encrypt/" + tenantEnc, map[string]any{"plaintext": "QW5u"}}
		recreate   = call{http.MethodPut, "transit/encrypt/" + shredded, map[string]any{"plaintext": "QW5u"}}
		decrypt    = call{http.MethodPut, "transit/decrypt/" + tenantEnc, map[string]any{"ciphertext": ct}}
		newKey     = call{http.MethodPut, "transit/keys/" + prefix + "-newco-enc", map[string]any{"type": "aes256-gcm96"}}
		keyConfig  = call{http.MethodPut, "transit/keys/" + tenantEnc + "/config", map[string]any{"deletion_allowed": true}}
		rotate     = call{http.MethodPut, "transit/keys/" + tenantEnc + "/rotate", nil}
		readKey    = call{http.MethodGet, "transit/keys/" + tenantEnc, nil}
		deleteKey  = call{http.MethodDelete, "transit/keys/" + tenantHMAC, nil}
		lease      = call{http.MethodPut, "secret/data/orderflow/leases/" + prefix, map[string]any{"data": map[string]any{"holder": "test"}}}
		token      = call{http.MethodPut, "secret/data/orderflow/connectors/" + prefix + "/xero", map[string]any{"data": map[string]any{"refresh_token": "test"}}}
		otherKV    = call{http.MethodGet, "secret/data/other/" + prefix, nil}
		policyList = call{http.MethodGet, "sys/policies/acl", nil}
	)
	t.Cleanup(func() {
		_, _ = root.Logical().Delete("transit/keys/" + prefix + "-newco-enc")
		_, _ = root.Logical().Delete("secret/metadata/orderflow/leases/" + prefix)
		_, _ = root.Logical().Delete("secret/metadata/orderflow/connectors/" + prefix + "/xero")
	})
	all := []call{hmac, encrypt, recreate, decrypt, newKey, keyConfig, rotate, readKey, deleteKey, lease, token, otherKV, policyList}
	allowed := map[string][]call{
		"worker":      {hmac, encrypt, newKey, keyConfig, lease},
		"dispatcher":  {decrypt, token},
		"purger":      {lease},
		"offboarding": {readKey, keyConfig, deleteKey, lease},
		"dlq-replay":  {decrypt},
		"eraser":      {hmac, readKey},
		"analyst":     {},
	}
	for role, may := range allowed {
		c := client(t, addr, tokens[role])
		for _, op := range all {
			want := false
			for _, m := range may {
				want = want || m.path == op.path && m.method == op.method
			}
			err := do(ctx, c, op)
			if denied := isDenied(err); denied == want {
				t.Errorf("%s %s %s: permitted %v, want %v (%v)", role, op.method, op.path, !denied, want, err)
			}
		}
	}
	// The shredded key is still gone: no role's refused encrypt made it again.
	if s, err := root.Logical().Read("transit/keys/" + shredded); err != nil || s != nil {
		t.Errorf("the destroyed key exists again: %v %v", s, err)
	}
}

func client(t *testing.T, addr, token string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func mustWrite(t *testing.T, c *vaultapi.Client, path string, body map[string]any) *vaultapi.Secret {
	t.Helper()
	s, err := c.Logical().Write(path, body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if s == nil {
		s = &vaultapi.Secret{}
	}
	return s
}

func do(ctx context.Context, c *vaultapi.Client, op call) error {
	var err error
	switch op.method {
	case http.MethodGet:
		_, err = c.Logical().ReadWithContext(ctx, op.path)
	case http.MethodDelete:
		_, err = c.Logical().DeleteWithContext(ctx, op.path)
	default:
		_, err = c.Logical().WriteWithContext(ctx, op.path, op.body)
	}
	return err
}

// isDenied: Vault answered 403, permission denied. Any other answer, success
// or a refusal of the request itself, means the policy let it through.
func isDenied(err error) bool {
	var re *vaultapi.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}
