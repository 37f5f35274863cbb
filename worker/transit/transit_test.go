package transit_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

func TestHMACIsDeterministicPerTenantAndDiffersAcrossTenants(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.TokenCacheSize = -1 // every token from Vault
	c := newClient(t, cfg)
	ctx := ctxFor(t)
	a, b := transittest.NewTenant(t, c), transittest.NewTenant(t, c)
	in := []string{"ann@example.co.uk", "Zoë Brontë", "+44 7700 900123"}

	first := mustHMAC(t, ctx, c, a, in)
	again := mustHMAC(t, ctx, c, a, in)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the same tenant's tokens changed between calls (-first +again):\n%s", diff)
	}
	other := mustHMAC(t, ctx, c, b, in)
	for i := range in {
		if first[i] == other[i] {
			t.Errorf("value %d has the same token for two tenants", i)
		}
		if !strings.HasPrefix(first[i], "vault:v1:") {
			t.Errorf("token %d = %q, want a vault:v1: HMAC", i, first[i])
		}
	}
	if first[0] == first[1] || first[1] == first[2] {
		t.Errorf("different values share a token: %q", first)
	}
}

func TestBatchKeepsInputOrder(t *testing.T) {
	cfg, reg := testConfig(t)
	cfg.TokenCacheSize = -1
	c := newClient(t, cfg)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	// Repeats within the batch are sent once and answered for every position.
	in := []string{"a@example.com", "b@example.com", "a@example.com", "", "c@example.com", "b@example.com"}

	batch := mustHMAC(t, ctx, c, id, in)
	if got := telemetrytest.Sum(t, reg, "orderflow_vault_batch_items_total", "operation=hmac"); got != 4 {
		t.Errorf("%v items sent for 4 distinct values", got)
	}
	for i, v := range in {
		single, err := c.HMAC(ctx, id, []string{v})
		if err != nil {
			t.Fatalf("HMAC of value %d alone: %v", i, err)
		}
		if single[0] != batch[i] {
			t.Errorf("value %d: token %q in the batch, %q alone", i, batch[i], single[0])
		}
	}
}

func TestLargeInputsAreSplitIntoBatches(t *testing.T) {
	cfg, reg := testConfig(t)
	cfg.TokenCacheSize = -1
	cfg.BatchSize = 64
	c := newClient(t, cfg)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	in := values(1000, "buyer-%04d@example.com")

	split := mustHMAC(t, ctx, c, id, in)
	requests := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac", "outcome=ok")
	if requests != 16 { // ceil(1000/64)
		t.Errorf("%v HMAC requests for 1000 values in batches of 64, want 16", requests)
	}
	if items := telemetrytest.Sum(t, reg, "orderflow_vault_batch_items_total", "operation=hmac"); items != 1000 {
		t.Errorf("%v items sent, want 1000", items)
	}

	// The same values in one request give the same tokens in the same places.
	whole := cfg
	whole.BatchSize = 1000
	whole.Registerer = nil
	one, err := newClient(t, whole).HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC in one batch: %v", err)
	}
	if diff := cmp.Diff(one, split); diff != "" {
		t.Errorf("split batches differ from one batch (-one +split):\n%s", diff)
	}

	// Encryption and decryption split the same way and keep order.
	plain := make([][]byte, len(in))
	for i, v := range in {
		plain[i] = []byte(v)
	}
	ciphertexts := mustEncrypt(t, ctx, c, id, plain)
	back := mustDecrypt(t, ctx, c, id, ciphertexts)
	if diff := cmp.Diff(plain, back); diff != "" {
		t.Errorf("round trip of 1000 values in batches (-in +out):\n%s", diff)
	}
}

func TestEncryptionRoundTrips(t *testing.T) {
	c, _ := rootClient(t)
	ctx := ctxFor(t)
	a, b := transittest.NewTenant(t, c), transittest.NewTenant(t, c)
	plain := [][]byte{
		[]byte("Zoë Brontë, 12 Rue de l'Église"),
		[]byte(""),
		[]byte("李小龍 🚚 Łódź"),
		{0x00, 0xff, 0x10, '"', '\\'},
		bytes.Repeat([]byte("x"), 64<<10),
		[]byte("Zoë Brontë, 12 Rue de l'Église"),
	}
	ciphertexts := mustEncrypt(t, ctx, c, a, plain)
	if ciphertexts[0] == ciphertexts[5] {
		t.Errorf("encryption is not randomised: the same plaintext gave the same ciphertext")
	}
	back := mustDecrypt(t, ctx, c, a, ciphertexts)
	if diff := cmp.Diff(plain, back); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	if _, err := c.Decrypt(ctx, b, ciphertexts[:1]); err == nil {
		t.Errorf("another tenant's key decrypted tenant a's ciphertext")
	}

	platform, err := c.EncryptPlatform(ctx, plain)
	if err != nil {
		t.Fatalf("EncryptPlatform: %v", err)
	}
	back, err = c.DecryptPlatform(ctx, platform)
	if err != nil {
		t.Fatalf("DecryptPlatform: %v", err)
	}
	if diff := cmp.Diff(plain, back); diff != "" {
		t.Errorf("platform round trip (-in +out):\n%s", diff)
	}
	if _, err := c.Decrypt(ctx, a, platform[:1]); err == nil {
		t.Errorf("a tenant key decrypted a platform ciphertext")
	}
}

func TestKeysAreCreatedOnFirstUseOnceAndDeletable(t *testing.T) {
	c, reg := rootClient(t)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)

	// Concurrent first uses share one creation.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := c.HMAC(ctx, id, []string{"x"}); err != nil {
				t.Errorf("HMAC: %v", err)
			}
			if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("x")}); err != nil {
				t.Errorf("Encrypt: %v", err)
			}
		})
	}
	wg.Wait()
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=create_key"); n != 2 {
		t.Errorf("%v key creations for one tenant's two keys", n)
	}
	logical := stacktest.VaultClient(t).Logical()
	for _, suffix := range []string{"-hmac", "-enc"} {
		s, err := logical.ReadWithContext(ctx, "transit/keys/orderflow-"+id+suffix)
		if err != nil || s == nil {
			t.Fatalf("read key %s: %v", suffix, err)
		}
		if s.Data["type"] != "aes256-gcm96" || s.Data["deletion_allowed"] != true {
			t.Errorf("key %s: type %v, deletion_allowed %v", suffix, s.Data["type"], s.Data["deletion_allowed"])
		}
	}
}

func TestDestroyTenantKeysShredsOnlyThatTenant(t *testing.T) {
	c, _ := rootClient(t)
	ctx := ctxFor(t)
	gone, kept := transittest.NewTenant(t, c), transittest.NewTenant(t, c)
	plain := [][]byte{[]byte("ann@example.co.uk")}

	goneCT := mustEncrypt(t, ctx, c, gone, plain)
	mustHMAC(t, ctx, c, gone, []string{"ann@example.co.uk"})
	keptCT := mustEncrypt(t, ctx, c, kept, plain)

	if err := c.DestroyTenantKeys(ctx, gone); err != nil {
		t.Fatalf("DestroyTenantKeys: %v", err)
	}
	_, err := c.Decrypt(ctx, gone, goneCT)
	var te *transit.Error
	if !errors.As(err, &te) || te.Temporary || transit.StatusCode(err) != http.StatusBadRequest {
		t.Errorf("Decrypt after destroy: %v, want a permanent 400 error", err)
	}
	if back, err := c.Decrypt(ctx, kept, keptCT); err != nil || string(back[0]) != string(plain[0]) {
		t.Errorf("the other tenant's ciphertext no longer decrypts: %v", err)
	}
	logical := stacktest.VaultClient(t).Logical()
	for _, suffix := range []string{"-hmac", "-enc"} {
		if s, err := logical.ReadWithContext(ctx, "transit/keys/orderflow-"+gone+suffix); err != nil || s != nil {
			t.Errorf("key %s still readable after destroy (%v)", suffix, err)
		}
	}
	// Idempotent: destroying again, or a tenant that never had keys, succeeds.
	if err := c.DestroyTenantKeys(ctx, gone); err != nil {
		t.Errorf("second DestroyTenantKeys: %v", err)
	}
	if err := c.DestroyTenantKeys(ctx, "never-seen-tenant-x"); err != nil {
		t.Errorf("DestroyTenantKeys of a tenant without keys: %v", err)
	}
	// This client never serves the old tokens nor creates new keys for the
	// tenant: it refuses it.
	if again, err := c.HMAC(ctx, gone, []string{"ann@example.co.uk"}); !errors.Is(err, transit.ErrTenantOffboarded) {
		t.Errorf("HMAC after destroy = %v, %v; want ErrTenantOffboarded", again, err)
	}
}

func TestTokenCacheAnswersRepeatValues(t *testing.T) {
	c, reg := rootClient(t)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	in := values(10, "repeat-%d@example.com")

	first := mustHMAC(t, ctx, c, id, in)
	requests := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac")
	second := mustHMAC(t, ctx, c, id, in)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached tokens differ (-vault +cache):\n%s", diff)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac"); n != requests {
		t.Errorf("a fully cached call made %v requests", n-requests)
	}
	hits := telemetrytest.Sum(t, reg, "orderflow_token_cache_requests_total", "result=hit")
	misses := telemetrytest.Sum(t, reg, "orderflow_token_cache_requests_total", "result=miss")
	if hits != 10 || misses != 10 {
		t.Errorf("cache hits %v, misses %v; want 10 and 10", hits, misses)
	}
	// Another tenant's tokens are never answered from this tenant's entries.
	other := transittest.NewTenant(t, c)
	theirs := mustHMAC(t, ctx, c, other, in[:1])
	if theirs[0] == first[0] {
		t.Errorf("the cache answered another tenant's value")
	}
}

func TestPartialBatchFailureNamesTheIndices(t *testing.T) {
	c, reg := rootClient(t)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	good := mustEncrypt(t, ctx, c, id, [][]byte{[]byte("one"), []byte("two")})

	_, err := c.Decrypt(ctx, id, []string{good[0], "vault:v1:bm90LWEtY2lwaGVydGV4dA==", good[1], "not a ciphertext"})
	var be *transit.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Decrypt: %v, want a BatchError", err)
	}
	var failed []int
	for _, it := range be.Items {
		failed = append(failed, it.Index)
		if it.Reason == "" {
			t.Errorf("item %d has no reason", it.Index)
		}
	}
	if diff := cmp.Diff([]int{1, 3}, failed); diff != "" {
		t.Errorf("failed indices (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "2 of 4 items failed: item 1: ") {
		t.Errorf("error %q does not say which items failed", err)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=decrypt"); n != 1 {
		t.Errorf("%v decrypt requests: item failures must not be retried", n)
	}
}

func TestBadTenantIDIsRefused(t *testing.T) {
	c, reg := rootClient(t)
	ctx := ctxFor(t)
	// The last holds the Visa test number: tenant ids are key names, stored in
	// the clear (order.ValidTenantID).
	for _, id := range []string{"", "Acme", "acme/../other", "acme hmac", strings.Repeat("a", 65), "acme\n", "shop-4111111111111111"} {
		if _, err := c.HMAC(ctx, id, []string{"x"}); err == nil {
			t.Errorf("HMAC accepted tenant id %q", id)
		}
		if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("x")}); err == nil {
			t.Errorf("Encrypt accepted tenant id %q", id)
		}
		if err := c.DestroyTenantKeys(ctx, id); err == nil {
			t.Errorf("DestroyTenantKeys accepted tenant id %q", id)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=create_key"); n != 0 {
		t.Errorf("bad tenant ids reached Vault: %v key creations", n)
	}
}

func TestEmptyInputsNeedNoRequest(t *testing.T) {
	c, reg := rootClient(t)
	ctx := ctxFor(t)
	before := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total")
	if out, err := c.HMAC(ctx, "acme", nil); err != nil || len(out) != 0 {
		t.Errorf("HMAC(nil) = %v, %v", out, err)
	}
	if out, err := c.Encrypt(ctx, "acme", nil); err != nil || len(out) != 0 {
		t.Errorf("Encrypt(nil) = %v, %v", out, err)
	}
	if out, err := c.Decrypt(ctx, "acme", nil); err != nil || len(out) != 0 {
		t.Errorf("Decrypt(nil) = %v, %v", out, err)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total"); n != before {
		t.Errorf("empty inputs made %v requests", n-before)
	}
}

func TestBadConfigIsRefusedNamingTheField(t *testing.T) {
	ctx := ctxFor(t)
	cases := map[string]struct {
		cfg  transit.Config
		want string
	}{
		"no address":    {transit.Config{Auth: transit.Auth{Token: "x"}}, "Address"},
		"no token":      {transit.Config{Address: "http://127.0.0.1:1"}, "Auth.Token"},
		"bad method":    {transit.Config{Address: "http://127.0.0.1:1", Auth: transit.Auth{Method: "ldap"}}, "Auth.Method"},
		"approle":       {transit.Config{Address: "http://127.0.0.1:1", Auth: transit.Auth{Method: transit.AuthAppRole}}, "Auth.RoleID"},
		"kubernetes":    {transit.Config{Address: "http://127.0.0.1:1", Auth: transit.Auth{Method: transit.AuthKubernetes}}, "Auth.KubernetesRole"},
		"batch size":    {transit.Config{Address: "http://127.0.0.1:1", BatchSize: 20_000, Auth: transit.Auth{Token: "x"}}, "BatchSize"},
		"key prefix":    {transit.Config{Address: "http://127.0.0.1:1", KeyPrefix: "../", Auth: transit.Auth{Token: "x"}}, "KeyPrefix"},
		"retry bounds":  {transit.Config{Address: "http://127.0.0.1:1", RetryInitial: 10e9, RetryMax: 1e9, Auth: transit.Auth{Token: "x"}}, "RetryMax"},
		"secret quoted": {transit.Config{Address: "http://127.0.0.1:1", Auth: transit.Auth{Method: "nope", Token: "hunter2"}}, "Auth.Method"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := transit.New(ctx, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the token")
			}
		})
	}
}

func TestConfigFromTheWorkerConfiguration(t *testing.T) {
	// The file names its secret and certificate files relative to its own package.
	t.Chdir("../config")
	cfg, err := config.Load("testdata/full.good.yaml", []string{
		"TEST_KAFKA_PASSWORD=x", "TEST_VAULT_TOKEN=hvs.from-env", "TEST_VAULT_ROLE_ID=role-from-env", "TEST_CLICKHOUSE_PASSWORD=x", "TEST_ROYALMAIL_API_KEY=x", "TEST_XERO_CLIENT_SECRET=x",
		"TEST_EBAY_VERIFICATION_TOKEN=a-verification-token-of-32-chars-or-more",
	})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	got := transit.ConfigFrom(cfg.Vault)
	want := transit.Config{
		Address:         "https://vault.vault.svc:8200",
		CACertFile:      "/etc/orderflow/vault-ca.pem",
		Mount:           "transit-eu",
		KeyPrefix:       "orderflow-eu-",
		PlatformKey:     "orderflow-eu-platform",
		SkipKeyCreation: true,
		BatchSize:       500,
		Concurrency:     8,
		RequestTimeout:  5e9,
		MaxAttempts:     8,
		LoginAttempts:   8,
		RetryInitial:    50e6,
		RetryMax:        10e9,
		TokenCacheSize:  200_000,
		Auth: transit.Auth{
			Method:              transit.AuthAppRole,
			Token:               "hvs.from-env",
			AppRoleMount:        "approle-eu",
			RoleID:              "role-from-env",
			SecretID:            "secret-id-from-file",
			KubernetesMount:     "kubernetes-eu",
			KubernetesRole:      "orderflow-eu",
			KubernetesTokenFile: "/var/run/secrets/tokens/vault",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigFrom (-want +got):\n%s", diff)
	}
	// The file's token_cache_size 0 turns the cache off rather than meaning the default.
	off := cfg.Vault
	off.TokenCacheSize = 0
	if n := transit.ConfigFrom(off).TokenCacheSize; n >= 0 {
		t.Errorf("token_cache_size 0 maps to %d, want a negative size (off)", n)
	}
}
