package transit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
)

// tokenReviewAPI stands in for the Kubernetes API server's TokenReview endpoint
// (authentication.k8s.io/v1), the one call Vault's Kubernetes auth method makes.
// It checks the request as the API server would and vouches for one service
// account's token.
type tokenReviewAPI struct {
	*httptest.Server
	jwt, namespace, name, uid string

	mu      sync.Mutex
	reviews int
	refuse  bool
	errs    []string
}

func newTokenReviewAPI(t *testing.T, jwt, namespace, name, uid string) *tokenReviewAPI {
	api := &tokenReviewAPI{jwt: jwt, namespace: namespace, name: name, uid: uid}
	api.Server = httptest.NewTLSServer(http.HandlerFunc(api.serve))
	t.Cleanup(api.Close)
	return api
}

func (a *tokenReviewAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reviews++
	fail := func(msg string) {
		a.errs = append(a.errs, msg)
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"`+msg+`","code":400}`, http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
		fail("unexpected " + r.Method + " " + r.URL.Path)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		fail("content type is not application/json")
		return
	}
	// Without a token_reviewer_jwt, Vault authenticates with the JWT under review.
	if r.Header.Get("Authorization") != "Bearer "+a.jwt {
		w.WriteHeader(http.StatusUnauthorized)
		a.errs = append(a.errs, "wrong bearer token")
		return
	}
	var review struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Token string `json:"token"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Spec.Token != a.jwt {
		fail("spec.token is not the service-account JWT")
		return
	}
	status := map[string]any{"authenticated": false}
	if !a.refuse {
		status = map[string]any{
			"authenticated": true,
			"user": map[string]any{
				"username": "system:serviceaccount:" + a.namespace + ":" + a.name,
				"uid":      a.uid,
				"groups":   []string{"system:serviceaccounts", "system:serviceaccounts:" + a.namespace},
			},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenReview",
		"spec":       map[string]any{"token": a.jwt},
		"status":     status,
	})
}

// serviceAccountJWT is a legacy (secret-based) service-account token, signed
// with a throwaway key: Vault takes the claims from it and asks the TokenReview
// API whether it is valid.
func serviceAccountJWT(t *testing.T, namespace, name, uid string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"sub":                                    "system:serviceaccount:" + namespace + ":" + name,
		"kubernetes.io/serviceaccount/namespace": namespace,
		"kubernetes.io/serviceaccount/service-account.name": name,
		"kubernetes.io/serviceaccount/service-account.uid":  uid,
		"kubernetes.io/serviceaccount/secret.name":          name + "-token-x7k2p",
	})
	signed := enc.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return signed + "." + enc.EncodeToString(sig)
}

// TestKubernetesLogin enables the Kubernetes auth method on the real Vault,
// points it at a TokenReview stand-in (there is no Kubernetes API server here),
// and logs in with a service-account token file.
func TestKubernetesLogin(t *testing.T) {
	ctx := ctxFor(t)
	root, id, want := hmacKeyed(t, ctx, []string{"ann@example.co.uk"})

	const namespace, name, uid = "orderflow", "orderflow-worker", "5d8e3f0a-7c1b-4f3e-9a2d-1b6c0e4f8a7d"
	jwt := serviceAccountJWT(t, namespace, name, uid)
	reviewer := newTokenReviewAPI(t, jwt, namespace, name, uid)
	mount := enableAuth(t, root, "kubernetes")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: reviewer.Certificate().Raw})
	logical := root.Logical()
	if _, err := logical.WriteWithContext(ctx, "auth/"+mount+"/config", map[string]any{
		"kubernetes_host":      reviewer.URL,
		"kubernetes_ca_cert":   string(ca),
		"disable_local_ca_jwt": true,
	}); err != nil {
		t.Fatalf("configure kubernetes auth: %v", err)
	}
	if _, err := logical.WriteWithContext(ctx, "auth/"+mount+"/role/orderflow", map[string]any{
		"bound_service_account_names":      []string{name},
		"bound_service_account_namespaces": []string{namespace},
		"token_policies":                   []string{hmacOnlyPolicy(t, root, "orderflow-"+id+"-hmac")},
		"token_ttl":                        3600,
	}); err != nil {
		t.Fatalf("create kubernetes role: %v", err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(jwt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, reg := testConfig(t)
	cfg.Auth = transit.Auth{Method: transit.AuthKubernetes, KubernetesMount: mount, KubernetesRole: "orderflow", KubernetesTokenFile: tokenFile}
	cfg.SkipKeyCreation = true
	c := newClient(t, cfg)
	got, err := c.HMAC(ctx, id, []string{"ann@example.co.uk"})
	if err != nil {
		t.Fatalf("HMAC after Kubernetes login: %v", err)
	}
	if got[0] != want[0] {
		t.Errorf("HMAC after Kubernetes login differs from root's")
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=login", "outcome=ok"); n != 1 {
		t.Errorf("%v logins, want 1", n)
	}

	// A token that the API server no longer vouches for (a deleted service
	// account) is refused for good: no retries.
	reviewer.mu.Lock()
	reviewer.refuse = true
	reviewer.mu.Unlock()
	refusedCfg, refusedReg := testConfig(t)
	refusedCfg.Auth = cfg.Auth
	_, err = transit.New(ctx, refusedCfg)
	checkError(t, "New with a refused service account", err, wantError{attempts: 1, status: http.StatusForbidden, class: failure.Worker})
	if n := telemetrytest.Sum(t, refusedReg, "orderflow_vault_requests_total", "operation=login"); n != 1 {
		t.Errorf("%v login attempts for a refused token, want 1", n)
	}

	reviewer.mu.Lock()
	defer reviewer.mu.Unlock()
	if reviewer.reviews != 2 || len(reviewer.errs) > 0 {
		t.Errorf("TokenReview API saw %d reviews (want 2), problems: %q", reviewer.reviews, reviewer.errs)
	}
}
