package kubernetes_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestVaultBindsEveryPodToItsRole applies deploy/vault/apply.sh --kubernetes to
// the local Vault (on a mount of its own) for the overlays' namespaces, and
// checks that every pod that logs in to Vault would be let in as the role it
// names, holding that role's policy alone: the role binds the pod's
// ServiceAccount in the pod's namespace and the projected token's audience.
// (Logging in needs a Kubernetes API server to review the token, which the
// local stack has not; the bindings are what this checks.)
func TestVaultBindsEveryPodToItsRole(t *testing.T) {
	addr, rootToken := stacktest.Vault(t)
	ctx := context.Background()
	var rendered []*manifests
	var namespaces []string
	for _, m := range renderAll(t) {
		if len(m.namespaces) == 1 {
			rendered = append(rendered, m)
			namespaces = append(namespaces, m.namespaces[0].Name)
		}
	}
	if len(rendered) != 2 {
		t.Fatalf("%d overlays with a namespace, want staging and production", len(rendered))
	}

	// The local Vault runs outside any cluster, as a Vault beside it would:
	// apply.sh then needs the API server's CA (a throwaway one here).
	mount := strings.ReplaceAll(stacktest.UniqueName("k8s"), "_", "-")
	apply := exec.CommandContext(ctx, "bash", "../vault/apply.sh", "--kubernetes")
	apply.Env = append(os.Environ(), "VAULT_ADDR="+addr, "VAULT_TOKEN="+rootToken,
		"K8S_AUTH_MOUNT="+mount, "K8S_NAMESPACES="+strings.Join(namespaces, ","),
		"KUBERNETES_HOST=https://kubernetes.invalid:6443", "KUBERNETES_CA_CERT="+throwawayCA(t))
	root, err := vaultapi.NewClient(&vaultapi.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(rootToken)
	t.Cleanup(func() {
		if err := root.Sys().DisableAuthWithContext(context.Background(), mount); err != nil {
			t.Errorf("disable auth mount %s: %v", mount, err)
		}
	})
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply.sh --kubernetes: %v\n%s", err, out)
	}

	for _, m := range rendered {
		ns := m.namespaces[0].Name
		for _, p := range m.pods() {
			role := envValue(p.spec.Containers[0], "ORDERFLOW_VAULT_AUTH_KUBERNETES_ROLE")
			if role == "" {
				continue
			}
			where := m.target + ": " + p.kind + " " + p.name
			secret, err := root.Logical().ReadWithContext(ctx, "auth/"+mount+"/role/"+role)
			if err != nil || secret == nil {
				t.Errorf("%s: Vault has no Kubernetes role %s (%v)", where, role, err)
				continue
			}
			if names := stringList(secret.Data["bound_service_account_names"]); !slices.Equal(names, []string{p.spec.ServiceAccountName}) {
				t.Errorf("%s: role %s binds service accounts %v, want its own %s alone", where, role, names, p.spec.ServiceAccountName)
			}
			if nss := stringList(secret.Data["bound_service_account_namespaces"]); !slices.Contains(nss, ns) {
				t.Errorf("%s: role %s binds namespaces %v, not %s", where, role, nss, ns)
			}
			if aud, _ := secret.Data["audience"].(string); aud != "vault" {
				t.Errorf("%s: role %s takes tokens for audience %q, want vault (the pods' projected token)", where, role, aud)
			}
			if pols := stringList(secret.Data["token_policies"]); !slices.Equal(pols, []string{role}) {
				t.Errorf("%s: role %s grants policies %v, want %s alone", where, role, pols, role)
			}
			if policy, err := root.Sys().GetPolicyWithContext(ctx, role); err != nil || policy == "" {
				t.Errorf("%s: the policy %s is not in Vault (%v)", where, role, err)
			}
		}
	}
}

// throwawayCA writes a self-signed CA certificate (PEM) and returns its path.
func throwawayCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
