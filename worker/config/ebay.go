package config

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// EbayNotifications configures `orderflow notifications`, the endpoint eBay
// sends its marketplace account-deletion notifications to (eBay requires one
// of every application that stores eBay user data; worker/ebaydeletion).
type EbayNotifications struct {
	// Listen is the address the endpoint serves on, behind the ingress
	// that terminates TLS for Endpoint. Default ":8090".
	Listen string `yaml:"listen"`
	// Endpoint is the endpoint's URL exactly as registered in eBay's
	// developer portal: https, a public host name. The challenge's answer
	// hashes it. Required.
	Endpoint string `yaml:"endpoint"`
	// VerificationToken is the token registered beside the endpoint: 32 to
	// 80 letters, digits, '_' and '-' ({env: NAME} or {file: PATH}).
	// Required.
	VerificationToken SecretRef `yaml:"verification_token"`
	// ClientID and ClientSecret are the eBay application's keyset, for the
	// application token that reads eBay's public keys (Notification API
	// getPublicKey). Required.
	ClientID     string    `yaml:"client_id"`
	ClientSecret SecretRef `yaml:"client_secret"`
	// APIURL is eBay's API host. Default https://api.ebay.com (sandbox:
	// https://api.sandbox.ebay.com).
	APIURL string `yaml:"api_url"`
	// KeyCacheTTL is how long a public key is kept once read: eBay asks
	// for about an hour, not a read per notification. Default 1h.
	KeyCacheTTL time.Duration `yaml:"key_cache_ttl"`
}

func defaultEbayNotifications() EbayNotifications {
	return EbayNotifications{Listen: ":8090", APIURL: "https://api.ebay.com", KeyCacheTTL: time.Hour}
}

// verificationToken is eBay's rule for the verification token.
var verificationToken = regexp.MustCompile(`^[A-Za-z0-9_-]{32,80}$`)

// Require checks what `orderflow notifications` cannot run without; the
// errors name the key and never quote a secret.
func (e EbayNotifications) Require() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(publicHTTPS("ebay_notifications.endpoint", e.Endpoint, true))
	if !verificationToken.MatchString(e.VerificationToken.Value.Reveal()) {
		add(keyErr("ebay_notifications.verification_token", "must be 32 to 80 letters, digits, '_' and '-' (eBay's rule), set by env or file"))
	}
	if strings.TrimSpace(e.ClientID) == "" {
		add(keyErr("ebay_notifications.client_id", "required: the eBay application's client id reads eBay's public keys"))
	}
	if e.ClientSecret.Value == "" {
		add(keyErr("ebay_notifications.client_secret", "required (env or file): the eBay application's client secret"))
	}
	add(publicHTTPS("ebay_notifications.api_url", e.APIURL, false))
	add(between("ebay_notifications.key_cache_ttl", e.KeyCacheTTL, time.Minute, 24*time.Hour))
	if _, _, err := net.SplitHostPort(e.Listen); err != nil {
		add(keyErr("ebay_notifications.listen", "must be host:port"))
	}
	return errors.Join(errs...)
}

// publicHTTPS checks an https URL; with public, eBay's rule for a
// notification endpoint too: no localhost, no IP address of a private
// network.
func publicHTTPS(key, raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return keyErr(key, "must be an https URL")
	}
	if !public {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return keyErr(key, "must not be localhost: eBay calls it from the internet")
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
		return keyErr(key, "must not be an internal IP address: eBay calls it from the internet")
	}
	return nil
}
