package transit_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/privacytest"

	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// personalData are the kinds of value the client handles: names, emails,
// phones, address lines, postcodes, a card number that slipped through.
var personalData = []string{
	"Ann Smith-Jones",
	"ann.smith-jones@example.co.uk",
	"+44 7700 900123",
	"221B Baker Street",
	"Flat 3, 12 Rue de l'Église",
	"NW1 6XE",
	"Zoë Brontë",
	"bob.o'neill+orders@example.com",
	"4111 1111 1111 1111",
}

// TestNoPersonalDataInLogsErrorsOrMetrics runs the client through everything
// that logs or fails, with personal data as input, and searches all it logged,
// every error it returned (in every format) and its metrics for each value, raw
// and base64-encoded as it travels to Vault.
func TestNoPersonalDataInLogsErrorsOrMetrics(t *testing.T) {
	ctx := ctxFor(t)
	var logs privacytest.LogBuffer
	proxy := newFaultProxy(t, "503", 0, "/v1/transit/")
	cfg, reg := testConfig(t)
	cfg.Address = proxy.URL
	cfg.MaxAttempts = 3
	cfg.BatchSize = 4 // several requests per call, some concurrent
	cfg.Logger = logs.Logger()
	c := newClient(t, cfg)
	id := transittest.NewTenant(t, c)
	plain := make([][]byte, len(personalData))
	for i, v := range personalData {
		plain[i] = []byte(v)
	}
	var errs []error
	expectErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded; the test meant it to fail", what)
			return
		}
		errs = append(errs, err)
	}

	// Vault fails, then recovers: retries are logged, the calls succeed.
	proxy.set("503", 2)
	mustHMAC(t, ctx, c, id, personalData)
	proxy.set("drop", 2)
	ciphertexts := mustEncrypt(t, ctx, c, id, plain)
	proxy.set("500", 1)
	mustDecrypt(t, ctx, c, id, ciphertexts)

	// Vault stays down, or a proxy answers with a body that quotes the request.
	for _, mode := range []string{"echo", "drop", "503", "400"} {
		proxy.set(mode, 1000)
		_, err := c.Encrypt(ctx, id, plain)
		expectErr("Encrypt with "+mode, err)
		_, err = c.HMAC(ctx, id, append([]string{mode}, personalData...)) // new values: not cached
		expectErr("HMAC with "+mode, err)
		_, err = c.EncryptPlatform(ctx, plain)
		expectErr("EncryptPlatform with "+mode, err)
	}
	proxy.set("", 0)

	// Items Vault refuses: personal data given where ciphertexts belong.
	wrong := append([]string{}, personalData...)
	for _, v := range personalData {
		wrong = append(wrong, "vault:v1:"+v, "vault:v1:"+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	_, err := c.Decrypt(ctx, id, wrong)
	var be *transit.BatchError
	if !errors.As(err, &be) || len(be.Items) != len(wrong) {
		t.Errorf("Decrypt of non-ciphertexts: %v, want every item failed", err)
	}
	expectErr("Decrypt of non-ciphertexts", err)
	_, err = c.DecryptPlatform(ctx, wrong)
	expectErr("DecryptPlatform of non-ciphertexts", err)
	// Personal data given where a tenant id belongs.
	_, err = c.HMAC(ctx, personalData[1], personalData)
	expectErr("HMAC with an email as tenant", err)
	err = c.DestroyTenantKeys(ctx, personalData[0])
	expectErr("DestroyTenantKeys with a name as tenant", err)

	var seen []string
	seen = append(seen, logs.String())
	for _, err := range errs {
		seen = append(seen, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			seen = append(seen, fmt.Sprintf("%#v", u), u.Error())
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		seen = append(seen, f.String())
	}
	all := strings.Join(seen, "\n")
	if !strings.Contains(all, "retrying") || !strings.Contains(all, "items failed") {
		t.Fatalf("the run did not log retries and item failures; it tests nothing:\n%s", all)
	}
	for _, v := range personalData {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.URLEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(all, form) {
				t.Errorf("%q appears in the logs, errors or metrics", form)
			}
		}
	}
	if t.Failed() {
		t.Logf("everything seen:\n%s", all)
	}
}
