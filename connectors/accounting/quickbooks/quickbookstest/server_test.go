package quickbookstest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
)

// token takes an access token with the stand-in's default credentials.
func token(t *testing.T, s *quickbookstest.Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"test-refresh-token-0"}}
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("test-client-id:test-client-secret")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

const balanced = `{"DocNumber":"of-1","TxnDate":"2026-10-05","CurrencyRef":{"value":"GBP"},"Line":[
 {"Amount":100.00,"DetailType":"JournalEntryLineDetail","JournalEntryLineDetail":{"PostingType":"Credit","AccountRef":{"value":"41"},"TaxCodeRef":{"value":"2"},"TaxApplicableOn":"Sales","TaxAmount":20.00}},
 {"Amount":120.00,"DetailType":"JournalEntryLineDetail","JournalEntryLineDetail":{"PostingType":"Debit","AccountRef":{"value":"91"}}}]}`

// TestContractChecks: the stand-in takes a documented, balanced journal
// entry and refuses, as a contract violation with Intuit's fault shape,
// each way of breaking the contract a connector could fall into.
func TestContractChecks(t *testing.T) {
	for _, tc := range []struct {
		name, body, query string
		violation         string
	}{
		{"documented", balanced, "requestid=a1&minorversion=75", ""},
		{"no_requestid", balanced, "minorversion=75", "requestid is absent"},
		{"old_minorversion", balanced, "requestid=a1&minorversion=65", "minorversion is absent or below 75"},
		{"undocumented_member", strings.Replace(balanced, `"TxnDate"`, `"BuyerEmail":"x","TxnDate"`, 1), "requestid=a1&minorversion=75", "additional properties"},
		{"negative_amount", strings.Replace(balanced, `"Amount":120.00`, `"Amount":-120.00`, 1), "requestid=a1&minorversion=75", "minimum"},
		{"sub_penny", strings.Replace(balanced, `"Amount":120.00`, `"Amount":120.001`, 1), "requestid=a1&minorversion=75", "multipleOf"},
		{"unbalanced", strings.Replace(balanced, `"Amount":120.00`, `"Amount":100.00`, 1), "requestid=a1&minorversion=75", "debits (tax included) do not equal the credits"},
		{"inactive_account", strings.Replace(balanced, `"value":"91"`, `"value":"99"`, 1), "requestid=a1&minorversion=75", "names no active account"},
		{"long_doc_number", strings.Replace(balanced, `"of-1"`, `"of-0123456789012345678901"`, 1), "requestid=a1&minorversion=75", "maxLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := quickbookstest.Start(quickbookstest.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v3/company/9341453172581902/journalentry?"+tc.query, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+token(t, s))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			v := strings.Join(s.Violations(), "\n")
			if tc.violation == "" {
				if v != "" || resp.StatusCode != 200 || len(s.Entries()) != 1 {
					t.Fatalf("status %d, violations %q, %d entries; want 200, none, 1", resp.StatusCode, v, len(s.Entries()))
				}
				return
			}
			if !strings.Contains(v, tc.violation) {
				t.Errorf("violations %q, want one saying %q", v, tc.violation)
			}
		})
	}
}
