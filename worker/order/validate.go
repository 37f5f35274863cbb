package order

import (
	"errors"

	"github.com/orderflow/orderflow/worker/cardnumber"
)

// The rules that several packages apply to tenant ids and country codes,
// each written here once (worker/onerule keeps it so).

// MaxTenantIDLen bounds tenant ids, which become ClickHouse keys, Vault key
// names and Kafka keys.
const MaxTenantIDLen = 64

// TenantIDRule says in words what ValidTenantID accepts, for error messages
// (which never quote the id: one that breaks the rule may hold anything).
const TenantIDRule = "1-64 characters of a-z, 0-9, '-' and '_', with no run of digits that could be a card number"

// The ways a tenant id can break the rule (CheckTenantID).
var (
	// ErrTenantIDForm: empty, longer than MaxTenantIDLen, or a byte other
	// than a-z, 0-9, '-' and '_'.
	ErrTenantIDForm = errors.New("tenant id is not 1-64 characters of a-z, 0-9, '-' and '_'")
	// ErrTenantIDCardLike: a run of digits that could be a card number.
	ErrTenantIDCardLike = errors.New("tenant id holds a run of digits that could be a card number")
)

// ValidTenantID reports whether s is a tenant id: TenantIDRule. It is the one
// rule for tenant ids, applied wherever one arrives (the envelope, the
// configuration, an offboarding) and wherever one is used (Vault key names,
// SQL literals, the protect stage).
func ValidTenantID(s string) bool { return CheckTenantID(s) == nil }

// CheckTenantID returns nil for a valid tenant id, else ErrTenantIDForm or
// ErrTenantIDCardLike. The characters keep an id from reaching another
// tenant's Vault key, another path or out of a SQL literal. Tenant ids are
// assigned by the platform, never typed by a buyer, yet they are stored in the
// clear everywhere (ClickHouse keys, Vault key names, DLQ headers, purge_log),
// so an id that holds a card number (P3) is refused rather than scanned.
func CheckTenantID(s string) error {
	if len(s) == 0 || len(s) > MaxTenantIDLen {
		return ErrTenantIDForm
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ErrTenantIDForm
		}
	}
	if cardnumber.Find(s) != nil { // Find asks MayContain first: cheap without 12 digits
		return ErrTenantIDCardLike
	}
	return nil
}

// CountryCodeRule says in words what ValidCountryCode accepts, for errors.
const CountryCodeRule = "an ISO 3166-1 alpha-2 country code such as GB"

// ValidCountryCode reports whether s has the form of an ISO 3166-1 alpha-2
// country code: two capital letters (GB, not UK's "uk" or "GBR"). It is the
// one rule for country codes: an address's CountryCode and a financial
// record's jurisdiction (the retention configuration's keys, the
// jurisdiction column, its metric labels). It checks the form, not that the
// country exists: every jurisdiction is bound by at least the platform's
// minimum retention, and only codes of this form go into SQL and metric
// labels as they are.
func ValidCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
