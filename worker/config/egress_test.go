package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/order"
)

// withEgress is the defaults with the allow-list eg.
func withEgress(eg Egress) Config {
	cfg := Defaults()
	cfg.Egress = eg
	return cfg
}

// courierAt is a valid Click & Drop connector at endpoint for tenants.
func courierAt(endpoint string, tenants ...string) Connector {
	return Connector{Kind: "clickanddrop", Purpose: PurposeDelivery, Endpoint: endpoint,
		Credentials: SecretRef{Env: "X", Value: "rm-api-key"}, Tenants: tenants, KeyID: "1",
		Parcel: Parcel{WeightGrams: 750, Format: "parcel"}}
}

// endpointErrors validates a config whose one connector is c and returns
// the errors about its endpoint and token URL.
func endpointErrors(t *testing.T, cfg Config, c Connector) []string {
	t.Helper()
	cfg.Kafka.Brokers = []string{"127.0.0.1:19092"}
	cfg.Connectors = Connectors{"rm": c}
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if strings.HasPrefix(line, "connectors.rm.endpoint") || strings.HasPrefix(line, "connectors.rm.accounting.token_url") || strings.HasPrefix(line, "egress") {
			out = append(out, line)
		} else {
			t.Fatalf("an error about another key: %s", line)
		}
	}
	return out
}

// Plaintext goes to a loopback host only, and what looks like one is not
// one: a host that starts like a loopback name, or credentials before '@'
// (the host is what follows). An https endpoint is judged by its host, not
// by what precedes '@'.
func TestPlaintextOnlyToLoopbackNoLookAlikes(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"http://127.0.0.1:8080/api/v1": true,
		"http://localhost:8080":        true,
		"http://[::1]:8080":            true,
		"http://127.0.0.1.evil.io/":    false, // a host that begins like a loopback address
		"http://localhost.evil.io/":    false,
		"http://localhost@evil.io/":    false, // userinfo: the host is evil.io
		"http://127.0.0.1:80@evil.io/": false,
		"http://[::1]@evil.io/":        false,
		"https://127.0.0.1@evil.io/":   false,
		"HTTP://evil.io/":              false,
		"http:evil.io":                 false,
		"//127.0.0.1:8080":             false,
	} {
		errs := endpointErrors(t, Defaults(), courierAt(endpoint, "acme"))
		if ok != (len(errs) == 0) {
			t.Errorf("%s: errors %q, want accepted %v", endpoint, errs, ok)
		}
	}
}

// An endpoint's path, query and userinfo can hold a secret (a webhook URL
// with its token in the path, a password before '@'): no error repeats
// them.
func TestEndpointErrorsNeverQuoteTheURL(t *testing.T) {
	for _, endpoint := range []string{
		"http://hooks.example.com/services/T0/B0/hunter2",
		"https://user:hunter2@api.parcel.royalmail.com/api/v1",
		"https://api.parcel.royalmail.com/api/v1?token=hunter2",
		"hunter2",
		"https://hunter2 .example.com/",
	} {
		errs := endpointErrors(t, Defaults(), courierAt(endpoint, "acme"))
		if len(errs) == 0 {
			t.Errorf("%s: accepted", endpoint)
		}
		for _, e := range errs {
			if strings.Contains(e, "hunter2") {
				t.Errorf("the error quotes the URL's secret: %s", e)
			}
		}
	}
}

// allowList is the egress section of the allow-list tests: providers for
// every tenant, a loopback stand-in, two addresses, and one seller's own
// receiver (acme) and an internationalised name in its ASCII form (globex).
func allowList() Egress {
	return Egress{
		AllowedHosts: []string{"api.xero.com", "API.Parcel.RoyalMail.com", "127.0.0.1", "192.0.2.10", "2001:db8::1"},
		Tenants:      map[string][]string{"acme": {"hooks.acme.co.uk"}, "globex": {"xn--bcher-kva.example"}},
	}
}

// A connector's host must be allowed for every tenant it carries, and
// matches an entry exactly: the ways a host can look allowed and not be
// (suffixes, userinfo, look-alike characters, another spelling of an
// address, a trailing dot, another tenant's host) are each refused.
func TestEndpointHostMustBeAllowedForEachOfItsTenants(t *testing.T) {
	acme, globex, all := []string{"acme"}, []string{"globex"}, []string{AllTenants}
	for _, tc := range []struct {
		endpoint string
		tenants  []string
		ok       bool
	}{
		{"https://api.xero.com/api.xro/2.0", acme, true},
		{"https://API.Xero.COM/api.xro/2.0", acme, true}, // host names ignore case
		{"https://api.parcel.royalmail.com/api/v1", all, true},
		{"https://api.xero.com:8443/", acme, true}, // every port of an allowed host
		{"https://hooks.acme.co.uk/orders", acme, true},
		{"https://xn--bcher-kva.example/", globex, true},
		{"http://127.0.0.1:8080/", acme, true},
		{"https://192.0.2.10/", acme, true},
		{"https://[2001:db8::1]:8443/", acme, true},
		{"https://[2001:0db8:0:0:0:0:0:1]/", acme, true}, // the same address

		{"https://api.xero.com.evil.io/", acme, false}, // an allowed name as a prefix
		{"https://evilapi.xero.com/", acme, false},
		{"https://eu.api.xero.com/", acme, false}, // no subdomains
		{"https://xero.com/", acme, false},        // nor parents
		{"https://evil.io/api.xero.com", acme, false},
		{"https://api.xero.com@evil.io/", acme, false}, // userinfo: the host is evil.io
		{"https://evil.io#@api.xero.com", acme, false},
		{"https://user:pass@api.xero.com/", acme, false}, // credentials belong in the credentials key
		{`https://evil.io\@api.xero.com`, acme, false},
		{"https://api.xero.com%2eevil.io/", acme, false},
		{"https://api.xero.com./", acme, false},            // a trailing dot
		{"https://\u0430pi.xero.com/", acme, false},        // Cyrillic a
		{"https://xn--pi-7ld.xero.com/", acme, false},      // the same in ASCII: not listed
		{"https://b\u00fccher.example/", globex, false},    // allowed only in its xn-- form
		{"https://hooks.acme.co.uk/orders", globex, false}, // another tenant's receiver
		{"https://hooks.acme.co.uk/orders", all, false},    // "*" may call only the shared hosts
		{"https://hooks.acme.co.uk/orders", []string{"acme", "globex"}, false},
		{"https://192.0.2.11/", acme, false},
		{"https://3221225994/", acme, false},        // 192.0.2.10 as one number
		{"https://0xc000020a/", acme, false},        // and in hex
		{"https://192.000.002.010/", acme, false},   // with leading zeros
		{"https://192.0.2.10.nip.io/", acme, false}, // a name that resolves to it
		{"https://[::ffff:192.0.2.10]/", acme, false},
		{"https://[fe80::1%25eth0]/", acme, false},
		{"http://127.0.0.2:8080/", acme, false}, // loopback, but not listed
		{"http://localhost:8080/", acme, false},
		{"http://api.xero.com/", acme, false}, // plain http outside loopback
		{"ftp://api.xero.com/", acme, false},
		{"https://api.xero.com:0/", acme, false},
		{"https://api.xero.com:99999/", acme, false},
		{"", acme, false},
	} {
		errs := endpointErrors(t, withEgress(allowList()), courierAt(tc.endpoint, tc.tenants...))
		if tc.ok != (len(errs) == 0) {
			t.Errorf("%s for %v: errors %q, want accepted %v", tc.endpoint, tc.tenants, errs, tc.ok)
		}
	}
}

// The error says which key, host and tenants, and where to allow it.
func TestARefusedHostIsNamedWithItsTenantAndWhereToAllowIt(t *testing.T) {
	for _, tc := range []struct {
		tenants []string
		want    string
	}{
		{[]string{"globex"}, `connectors.rm.endpoint: host "hooks.acme.co.uk" is not allowed for tenant globex: list it in egress.allowed_hosts (every tenant's connectors) or egress.tenants.globex`},
		{[]string{"acme", "globex", "initech"}, `connectors.rm.endpoint: host "hooks.acme.co.uk" is not allowed for tenants globex, initech: list it in egress.allowed_hosts (every tenant's connectors) or under each one's egress.tenants.<tenant>`},
		{[]string{"*"}, `connectors.rm.endpoint: host "hooks.acme.co.uk" is not in egress.allowed_hosts, the hosts every tenant's connectors may call (this connector carries every tenant no other lists, "*")`},
	} {
		errs := endpointErrors(t, withEgress(allowList()), courierAt("https://hooks.acme.co.uk/orders/hunter2", tc.tenants...))
		if len(errs) != 1 || errs[0] != tc.want {
			t.Errorf("%v: errors %q, want %q", tc.tenants, errs, tc.want)
		}
	}
}

// An accounting connector's token URL, which receives the app's secret
// and the refresh token, is held to the endpoint's rules.
func TestTokenURLMustBeAllowedToo(t *testing.T) {
	c := Connector{Kind: "xero", Purpose: PurposeAccounting, Endpoint: "https://api.xero.com/api.xro/2.0",
		Credentials: SecretRef{Env: "X", Value: "xero-secret"}, Tenants: []string{"acme"}, KeyID: "1", Parcel: Parcel{Format: "parcel"},
		Accounting: Accounting{Organisation: "org", ClientID: "app", RefreshToken: SecretRef{Env: "Y", Value: "refresh"},
			TokenURL: "https://identity.xero.com.evil.io/connect/token",
			Accounts: map[string]string{"sales": "200", "shipping": "205", "discount": "210", "other": "200", "refund": "215", "marketplace_vat": "825"},
			TaxTypes: map[string]string{"20": "OUTPUT2"}}}
	c.Accounting.setDefaults()
	errs := endpointErrors(t, withEgress(allowList()), c)
	want := `connectors.rm.accounting.token_url: host "identity.xero.com.evil.io" is not allowed for tenant acme: list it in egress.allowed_hosts (every tenant's connectors) or egress.tenants.acme`
	if len(errs) != 1 || errs[0] != want {
		t.Errorf("errors %q, want %q", errs, want)
	}
	c.Accounting.TokenURL = "https://identity.xero.com/connect/token"
	eg := allowList()
	eg.Tenants["acme"] = append(eg.Tenants["acme"], "identity.xero.com")
	if errs := endpointErrors(t, withEgress(eg), c); len(errs) != 0 {
		t.Errorf("an allowed token URL: %q", errs)
	}
}

// An entry of the allow-list is one exact host: a URL, a wildcard, a port,
// a trailing dot, a non-ASCII name or a number would each look like it
// allows something it does not (or more than it says), and is refused.
func TestAllowListEntriesAreExactHosts(t *testing.T) {
	eg := Egress{
		AllowedHosts: []string{"api.xero.com", "API.XERO.COM", "::1", "[::1]", "127.0.0.1",
			"https://api.xero.com", "*.xero.com", "api.xero.com:443", "api.xero.com.", "b\u00fccher.example", "3221225994", ""},
		Tenants: map[string][]string{"acme": {"hooks.acme.co.uk", "hooks.acme.co.uk/orders"}, "*": {"x.example"}, "Acme Ltd": {"x.example"}},
	}
	err := eg.validate()
	want := []string{
		"egress.allowed_hosts: entry 5 is a URL or a path: list the host alone, such as api.xero.com",
		"egress.allowed_hosts: entry 6 is a wildcard: list each host (a host matches an entry exactly)",
		"egress.allowed_hosts: entry 7 has a port (443): list the host alone; every port of an allowed host is allowed",
		`egress.allowed_hosts: entry 8 "api.xero.com." ends in a dot: write it without one`,
		"egress.allowed_hosts: entry 9 is not ASCII: write an internationalised name in its ASCII (xn--) form",
		`egress.allowed_hosts: entry 10 "3221225994" ends in a number, which resolvers may read as an IPv4 address: write the address itself`,
		"egress.allowed_hosts: entry 11 is empty",
		`egress.tenants: "*" is not a tenant: the hosts of every tenant's connectors are egress.allowed_hosts`,
		"egress.tenants: a key of 8 bytes is not a tenant id (" + order.TenantIDRule + ")",
		"egress.tenants.acme: entry 1 is a URL or a path: list the host alone, such as api.xero.com",
	}
	var got []string
	for _, e := range err {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
