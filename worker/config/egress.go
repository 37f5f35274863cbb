package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/orderflow/orderflow/worker/order"
)

// Egress is where the connectors may send a tenant's data: the hosts that
// each tenant's courier and accounting connectors may call. A connector's
// endpoint or token URL whose host is not allowed for every tenant it
// carries is refused at start, so that changing an endpoint (in the file or
// through its environment variable) cannot send a tenant's labels or books
// to a host that the allow-list, reviewed for residency and for the
// processors each seller agreed to, does not name. The list is also what the
// deployment's egress rules (NetworkPolicies) should allow.
//
// A host matches an entry exactly, ignoring case: no wildcards and no
// suffixes (api.xero.com allows neither api.xero.com.evil.io nor
// eu.api.xero.com), and every port of an allowed host is allowed. Names
// are written in ASCII (an internationalised name in its xn-- form) without
// a trailing dot; IP addresses as such (127.0.0.1, ::1), never as a name
// that ends in a number. The providers' built-in OAuth2 token endpoints
// (used when accounting.token_url is empty) are not configuration and so
// not checked; they carry the app's credentials, never order data.
type Egress struct {
	// AllowedHosts are the hosts every tenant's connectors may call.
	// Default: the loopback hosts 127.0.0.1, ::1 and localhost, where the
	// tests' and the demo's stand-ins listen: data sent there does not leave
	// the machine (or the pod). A file or variable that sets the key replaces
	// the default: a production list names its providers' hosts and, unless
	// it lists them too, no loopback host.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Tenants adds hosts that one tenant's connectors may call and no other
	// tenant's, such as a seller's own webhook receiver:
	// {acme: [hooks.acme.co.uk]}. A connector routing "*" (every tenant no
	// other connector lists) may call only AllowedHosts. In the environment:
	// "acme=hooks.acme.co.uk hooks2.acme.co.uk,globex=hooks.globex.example".
	// Default: none.
	Tenants map[string][]string `yaml:"tenants"`
}

func defaultEgress() Egress {
	return Egress{AllowedHosts: []string{"127.0.0.1", "::1", "localhost"}}
}

// validate checks the allow-list's own entries; checkURL checks a
// connector's URLs against it.
func (e Egress) validate() []error {
	var errs []error
	for i, entry := range e.AllowedHosts {
		if problem := allowListEntry(entry); problem != "" {
			errs = append(errs, keyErr("egress.allowed_hosts", "entry %d %s", i, problem))
		}
	}
	for _, tenant := range slices.Sorted(maps.Keys(e.Tenants)) {
		switch {
		case tenant == AllTenants:
			errs = append(errs, keyErr("egress.tenants", `"*" is not a tenant: the hosts of every tenant's connectors are egress.allowed_hosts`))
			continue
		case !order.ValidTenantID(tenant):
			errs = append(errs, keyErr("egress.tenants", "a key of %d bytes is not a tenant id (%s)", len(tenant), order.TenantIDRule))
			continue
		}
		for i, entry := range e.Tenants[tenant] {
			if problem := allowListEntry(entry); problem != "" {
				errs = append(errs, keyErr("egress.tenants."+tenant, "entry %d %s", i, problem))
			}
		}
	}
	return errs
}

// allowListEntry says what is wrong with an entry of the allow-list, or "".
func allowListEntry(entry string) string {
	switch {
	case strings.Contains(entry, "/"):
		return "is a URL or a path: list the host alone, such as api.xero.com"
	case strings.Contains(entry, "*"):
		return "is a wildcard: list each host (a host matches an entry exactly)"
	}
	if _, port, err := net.SplitHostPort(entry); err == nil {
		return fmt.Sprintf("has a port (%s): list the host alone; every port of an allowed host is allowed", port)
	}
	_, problem := normalHost(strings.TrimSuffix(strings.TrimPrefix(entry, "["), "]"))
	return problem
}

// allows reports whether host (normalHost's form) is allowed for tenant;
// for AllTenants, only AllowedHosts allow it.
func (e Egress) allows(tenant, host string) bool {
	match := func(entry string) bool {
		h, problem := normalHost(strings.TrimSuffix(strings.TrimPrefix(entry, "["), "]"))
		return problem == "" && h == host
	}
	if slices.ContainsFunc(e.AllowedHosts, match) {
		return true
	}
	return tenant != AllTenants && slices.ContainsFunc(e.Tenants[tenant], match)
}

// checkURL checks a connector's URL at key, which carries tenants' data
// (tenants as the connector lists them, "*" included): an absolute https
// URL (plain http only to a loopback host) with no credentials in it, whose
// host is allowed for every one of them. Errors name the key, the host and
// the tenants, never the URL: its path, query or userinfo may hold a
// secret (a webhook's token).
func (e Egress) checkURL(key, raw string, tenants []string) []error {
	host, problem := endpointHost(raw)
	if problem != "" {
		return []error{keyErr(key, "%s", problem)}
	}
	// A connector without tenants is refused for that (connectors.go) and
	// carries no one's data: there is no one to allow its host for.
	var refused []string
	for _, tenant := range tenants {
		// An id that breaks the rule is refused (and never quoted) where
		// the tenants are checked.
		if tenant != AllTenants && !order.ValidTenantID(tenant) {
			continue
		}
		if !e.allows(tenant, host) {
			refused = append(refused, tenant)
		}
	}
	switch {
	case len(refused) == 0:
		return nil
	case slices.Contains(refused, AllTenants):
		return []error{keyErr(key, "host %q is not in egress.allowed_hosts, the hosts every tenant's connectors may call "+
			`(this connector carries every tenant no other lists, "*")`, host)}
	case len(refused) == 1:
		return []error{keyErr(key, "host %q is not allowed for tenant %s: list it in egress.allowed_hosts (every tenant's connectors) or egress.tenants.%s",
			host, refused[0], refused[0])}
	}
	return []error{keyErr(key, "host %q is not allowed for tenants %s: list it in egress.allowed_hosts (every tenant's connectors) or under each one's egress.tenants.<tenant>",
		host, strings.Join(refused, ", "))}
}

// endpointHost returns the host of an endpoint URL in normalHost's form, or
// what is wrong with the URL, in words that never quote it.
func endpointHost(raw string) (host, problem string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "", "required: the API's https URL"
	case err != nil:
		return "", fmt.Sprintf("a value of %d characters is not a URL", len(raw))
	case u.Scheme != "https" && u.Scheme != "http":
		return "", "is not an https URL"
	case u.Opaque != "" || u.Host == "":
		return "", "has no host: write it as https://host/path"
	case u.User != nil:
		// https://api.xero.com@evil.io goes to evil.io; and a password in
		// a URL ends up in logs.
		return "", "has credentials before '@' (the host is what follows '@'): give credentials by reference in the credentials key"
	}
	host, problem = normalHost(u.Hostname())
	if problem != "" {
		return "", "host " + problem
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Sprintf("host %q has a port that is not 1-65535", host)
		}
	}
	if u.Scheme == "http" && !loopback(host) {
		return "", fmt.Sprintf("is plain http to %q: https only, except to a loopback host (127.0.0.1, ::1, localhost)", host)
	}
	return host, ""
}

// loopback reports whether a host in normalHost's form is this machine's.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// dnsLabel is one label of a host name in ASCII (RFC 1123).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// numericLabel is a label that URL parsers and resolvers (WHATWG's "ends
// in a number", inet_aton) may read as part of an IPv4 address: 2130706433,
// 0x7f000001, 127.000.000.001.
var numericLabel = regexp.MustCompile(`^([0-9]+|0x[0-9a-f]*)$`)

// normalHost returns a host name in lower case or an IP address in its
// canonical form, or what is wrong with it, in words that quote it only
// when it is a well-formed name.
func normalHost(h string) (string, string) {
	if addr, err := netip.ParseAddr(h); err == nil {
		switch {
		case addr.Zone() != "":
			return "", "is an IPv6 address with a zone: write it without one"
		case addr.Is4In6():
			return "", "is an IPv4-mapped IPv6 address: write the IPv4 address"
		}
		return addr.String(), ""
	}
	for i := range len(h) {
		if h[i] >= 0x80 {
			return "", "is not ASCII: write an internationalised name in its ASCII (xn--) form"
		}
	}
	name := strings.ToLower(h)
	switch {
	case name == "":
		return "", "is empty"
	case strings.HasSuffix(name, "."):
		return "", fmt.Sprintf("%q ends in a dot: write it without one", h)
	case len(name) > 253:
		return "", fmt.Sprintf("is %d characters: a host name has at most 253", len(name))
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if !dnsLabel.MatchString(label) {
			return "", fmt.Sprintf("of %d characters is not a host name (labels of a-z, 0-9 and '-') nor an IP address", len(h))
		}
	}
	if numericLabel.MatchString(labels[len(labels)-1]) {
		return "", fmt.Sprintf("%q ends in a number, which resolvers may read as an IPv4 address: write the address itself", h)
	}
	return name, ""
}

// parseListMap reads egress.tenants from the environment:
// "acme=hooks.acme.co.uk hooks2.acme.co.uk,globex=hooks.globex.example".
func parseListMap(raw string) (map[string][]string, error) {
	pairs, err := parseStringMap(raw)
	if err != nil {
		return nil, fmt.Errorf("not a list of key=values pairs such as acme=hooks.acme.co.uk hooks2.acme.co.uk,globex=hooks.globex.example")
	}
	out := make(map[string][]string, len(pairs))
	for k, v := range pairs {
		out[k] = strings.Fields(v)
	}
	return out, nil
}
