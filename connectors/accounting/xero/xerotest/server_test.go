package xerotest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
)

// TestContractViolations: the stand-in flags requests that break the
// documented contract, so that a connector test passing against it means
// something.
func TestContractViolations(t *testing.T) {
	srv, err := xerotest.Start(xerotest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"refresh-0"}}
	req, _ := http.NewRequest(http.MethodPost, srv.TokenURL, strings.NewReader(form.Encode()))
	req.SetBasicAuth("test-client", "test-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %v %v", err, resp)
	}
	resp.Body.Close()
	put := func(key, body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/Invoices", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer access-1")
		req.Header.Set("xero-tenant-id", srv.XeroTenantID())
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := `{"Invoices":[{"Type":"ACCREC","Contact":{"Name":"A"},"LineAmountTypes":"Exclusive","LineItems":[{"Description":"d","Quantity":1,"UnitAmount":1.00,"LineAmount":1.00,"AccountCode":"200","TaxType":"OUTPUT2","TaxAmount":0.20}]}]}`
	cases := []struct {
		name, key, body, violation string
	}{
		{"no idempotency key", "", good, "no Idempotency-Key"},
		{"undocumented field", "k2", strings.Replace(good, `"Type":"ACCREC"`, `"Type":"ACCREC","Email":"x"`, 1), "Email"},
		{"three places", "k3", strings.Replace(good, `"TaxAmount":0.20`, `"TaxAmount":0.201`, 1), "TaxAmount"},
		{"bad enum", "k4", strings.Replace(good, `"ACCREC"`, `"SALES"`, 1), "Type"},
	}
	for _, c := range cases {
		before := len(srv.Violations())
		put(c.key, c.body)
		v := srv.Violations()
		if len(v) == before || !strings.Contains(strings.Join(v[before:], " "), c.violation) {
			t.Errorf("%s: violations %q, want one naming %q", c.name, v[before:], c.violation)
		}
	}
	before := len(srv.Documents())
	if put("same", good) != 200 || put("same", good) != 200 {
		t.Fatal("a good create was refused")
	}
	if n := len(srv.Documents()) - before; n != 1 {
		t.Errorf("a repeated Idempotency-Key made %d documents, want 1", n)
	}
}
