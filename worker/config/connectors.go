package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Purpose is why a connector receives data: the only reasons the platform's
// data-protection policy lets order data leave it (P5, P6). There is no
// marketing purpose, and no way to declare one (P7).
type Purpose string

const (
	// PurposeDelivery: a courier, which gets the delivery label's fields
	// only to process the order and print labels (P5).
	PurposeDelivery Purpose = "delivery"
	// PurposeAccounting: an accounting package, which gets period summaries
	// and business buyers' invoice parties only (P6).
	PurposeAccounting Purpose = "accounting"
)

// Purposes are the declared purposes, in a stable order.
func Purposes() []Purpose { return []Purpose{PurposeDelivery, PurposeAccounting} }

// ConnectorKind declares one kind of connector (one implementation, such as
// Click & Drop) and its purpose. The table of them (connectorKinds) is the
// one place a kind is declared: a configured connector of another kind is
// refused, and the allow-lists (schemas/policy/connectors.yaml) must give
// each kind exactly this purpose and list exactly these kinds.
type ConnectorKind struct {
	Name    string
	Purpose Purpose
	// RatePerSecond and Burst are the provider's documented limit: each
	// tenant's default token bucket.
	RatePerSecond float64
	Burst         int
}

// connectorKinds is the table.
var connectorKinds = []ConnectorKind{
	// Royal Mail Click & Drop (connectors/courier/clickanddrop): 5 calls a
	// second per account (api-contracts.md §3.2).
	{Name: "clickanddrop", Purpose: PurposeDelivery, RatePerSecond: 5, Burst: 1},
	// A signed JSON webhook (connectors/courier/webhook): the receiver's
	// limit is unknown; 429 with Retry-After slows it further.
	{Name: "webhook", Purpose: PurposeDelivery, RatePerSecond: 10, Burst: 10},
	// Xero (connectors/accounting/xero): 60 calls a minute, 5 at once,
	// 5,000 a day per organisation (api-contracts.md §4.3).
	{Name: "xero", Purpose: PurposeAccounting, RatePerSecond: 1, Burst: 5},
	// QuickBooks Online (connectors/accounting/quickbooks): 10 requests a
	// second per company and app (api-contracts.md §4.4).
	{Name: "quickbooks", Purpose: PurposeAccounting, RatePerSecond: 10, Burst: 10},
}

// ConnectorKinds returns the declared kinds.
func ConnectorKinds() []ConnectorKind { return slices.Clone(connectorKinds) }

// LookupConnectorKind returns the declaration of the kind named name, or an
// error that names the declared kinds.
func LookupConnectorKind(name string) (ConnectorKind, error) {
	i := slices.IndexFunc(connectorKinds, func(k ConnectorKind) bool { return k.Name == name })
	if i < 0 {
		names := make([]string, len(connectorKinds))
		for j, k := range connectorKinds {
			names[j] = k.Name
		}
		return ConnectorKind{}, fmt.Errorf("%q is not a connector kind: the kinds are %s (declared in worker/config/connectors.go)",
			name, strings.Join(names, ", "))
	}
	return connectorKinds[i], nil
}

// Connectors are the configured connectors by name (connectors.<name>): a
// name is the connector's label in metrics and logs, and what a tenant's
// routing refers to. A name is 1-32 of a-z, 0-9 and '_', starting with a
// letter, so that its keys have environment variables
// (ORDERFLOW_CONNECTORS_ROYALMAIL_ENDPOINT overrides a connector the file
// declares; the environment cannot add one). Default: none.
type Connectors map[string]Connector

// Connector is one configured connector.
type Connector struct {
	// Kind is the implementation: one of the declared kinds (clickanddrop,
	// webhook). Required.
	Kind string `yaml:"kind"`
	// Purpose must be stated, and must be the kind's: delivery for a courier,
	// accounting for an accounting package. Any other purpose (marketing
	// included) is refused at start (P7). Required.
	Purpose Purpose `yaml:"purpose"`
	// Endpoint is the API's base URL, such as
	// https://api.parcel.royalmail.com/api/v1, or the webhook's URL. https
	// only, except for a loopback host (the tests' stand-ins); no
	// credentials in it; its host must be allowed for each of the
	// connector's tenants (egress.go). Required.
	Endpoint string `yaml:"endpoint"`
	// CAFile is a PEM file of the CAs that sign the API's certificate (a
	// provider behind a private CA, a stand-in on a staging network).
	// Default "" (the system's roots).
	CAFile string `yaml:"ca_file"`
	// Credentials says where the API key (Click & Drop's bearer token) or
	// the webhook's signing secret is: {env: NAME} or {file: PATH}, never a
	// value. Required.
	Credentials SecretRef `yaml:"credentials"`
	// Tenants are the tenants whose courier jobs this connector carries;
	// "*" takes every tenant no other connector lists. A tenant listed by two
	// delivery connectors is refused (its labels would go to both).
	// Required for a delivery connector.
	Tenants []string `yaml:"tenants"`
	// KeyID is the id of the signing key a webhook connector sends as
	// webhook-key-id, so that a receiver holding several secrets knows which
	// one to verify with (rotation: give the receiver the new secret and id
	// first, then change both here). Webhook only: 1-64 of A-Z, a-z, 0-9, '_'
	// and '-'. Default "1".
	KeyID string `yaml:"key_id"`
	// RatePerSecond and Burst are the token bucket of each tenant's calls at
	// this connector. Default: the kind's documented limit (Click & Drop: 5
	// calls a second, burst 1), or 10 a second, burst 10, for a webhook.
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
	// Timeout bounds each API call, answer included: a call that runs out
	// is retried by the dispatcher (the provider may have done the work; the
	// idempotency key or the lookup by order reference makes the retry
	// create nothing twice). Default 0: the connector's own, 30s; else
	// 100ms to 5m.
	Timeout time.Duration `yaml:"timeout"`
	// Notifications lists the tenants whose delivery notifications are on:
	// for their orders, and only theirs, the connector sends the recipient's
	// phone and email (P5; schemas/policy/connectors.yaml, condition
	// notifications). Default: none.
	Notifications []string `yaml:"notifications"`
	// Parcel is what the connector declares of a parcel when the order says
	// nothing of it.
	Parcel Parcel `yaml:"parcel"`
	// Services maps the channel's shipping service level (outbox.Job's
	// ShipServiceLevel: "Standard", "Expedited", "NextDay") to the courier's
	// service code (Click & Drop's postageDetails.serviceCode, such as
	// "CRL1"); a level it does not list is sent with no service code, and the
	// courier applies the account's default. In the environment:
	// "Standard=CRL1,NextDay=TPN24". Default: none.
	Services map[string]string `yaml:"services"`
	// Accounting is an accounting connector's settings (accounting.go).
	Accounting Accounting `yaml:"accounting"`
}

// Parcel is a connector's default parcel.
type Parcel struct {
	// WeightGrams is the parcel's weight in grams. Default 0: required; 1 to
	// 30000 (Click & Drop's parcels go to 30 kg; heavier ones are freight).
	WeightGrams int `yaml:"weight_grams"`
	// Format is the courier's package format (Click & Drop's
	// packageFormatIdentifier: letter, largeLetter, smallParcel,
	// mediumParcel, largeParcel, parcel, documents). Default "parcel".
	Format string `yaml:"format"`
	// TariffCode is the HS tariff code declared for every item of a parcel
	// that needs a customs declaration (the orders carry none): 6 to 10
	// digits. Default "" (declared without one; couriers to the EU then
	// refuse commercial items).
	TariffCode string `yaml:"tariff_code"`
}

// NotificationsOn reports whether the tenant's delivery notifications are
// on at this connector.
func (c Connector) NotificationsOn(tenant string) bool {
	return slices.Contains(c.Notifications, tenant)
}

// Service returns the courier's service code for a channel's service level,
// or "" when the connector maps none.
func (c Connector) Service(level string) string { return c.Services[level] }

var (
	connectorName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	keyID         = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tariffCode    = regexp.MustCompile(`^[0-9]{6,10}$`)
)

// setDefaults fills in what a connector's entry leaves unset, before the
// file's keys are decoded into it.
func (c *Connector) setDefaults() {
	if c.Parcel.Format == "" {
		c.Parcel.Format = "parcel"
	}
	c.KeyID = "1"
	c.Accounting.setDefaults()
}

// AllTenants in a connector's tenants takes every tenant that no other
// delivery connector lists.
const AllTenants = "*"

// Route returns the name of the delivery connector that carries tenant's
// courier jobs: the one listing it, else the one listing AllTenants; false
// when none does.
func (cs Connectors) Route(tenant string) (string, bool) { return cs.RouteFor(PurposeDelivery, tenant) }

// RouteFor returns the name of the connector of the purpose that carries
// tenant's jobs: the one listing it, else the one listing AllTenants.
func (cs Connectors) RouteFor(purpose Purpose, tenant string) (string, bool) {
	fallback := ""
	for _, name := range slices.Sorted(maps.Keys(cs)) {
		c := cs[name]
		if c.Purpose != purpose {
			continue
		}
		if slices.Contains(c.Tenants, tenant) {
			return name, true
		}
		if slices.Contains(c.Tenants, AllTenants) {
			fallback = name
		}
	}
	return fallback, fallback != ""
}

// Rate returns the connector's per-tenant token bucket: its own, else its
// kind's documented limit.
func (c Connector) Rate() (perSecond float64, burst int) {
	kind, _ := LookupConnectorKind(c.Kind)
	perSecond, burst = kind.RatePerSecond, kind.Burst
	if c.RatePerSecond > 0 {
		perSecond = c.RatePerSecond
	}
	if c.Burst > 0 {
		burst = c.Burst
	}
	return perSecond, burst
}

// validate checks every connector, its URLs against egress; names are
// sorted so that errors come in a stable order.
func (cs Connectors) validate(egress Egress) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	routedBy := map[string]string{} // tenant (or "*") -> the delivery connector listing it
	booksBy := map[string]string{}  // tenant -> the accounting connector listing it
	for _, name := range slices.Sorted(maps.Keys(cs)) {
		c, key := cs[name], "connectors."+name
		if !connectorName.MatchString(name) {
			add(keyErr(key, "a connector's name is 1-32 of a-z, 0-9 and '_', starting with a letter"))
			continue
		}
		kind, kindErr := LookupConnectorKind(c.Kind)
		switch {
		case c.Kind == "":
			add(keyErr(key+".kind", "required: one of the declared kinds (worker/config/connectors.go)"))
		case kindErr != nil:
			add(keyErr(key+".kind", "%v", kindErr))
		}
		switch {
		case c.Purpose == "":
			add(keyErr(key+".purpose", "required: every connector declares its purpose, delivery or accounting (P7)"))
		case !slices.Contains(Purposes(), c.Purpose):
			add(keyErr(key+".purpose", "%q is not delivery or accounting: order data is shared only to deliver and to account for orders, never for marketing or any other purpose (P7)", c.Purpose))
		case kindErr == nil && c.Purpose != kind.Purpose:
			add(keyErr(key+".purpose", "%s, but a %s connector's purpose is %s (its allow-list, schemas/policy/connectors.yaml)", c.Purpose, kind.Name, kind.Purpose))
		}
		errs = append(errs, TLS{Enabled: true, CAFile: c.CAFile}.validate(key)...)
		errs = append(errs, egress.checkURL(key+".endpoint", c.Endpoint, c.Tenants)...)
		if c.Credentials.Value == "" {
			add(keyErr(key+".credentials", "required: set env or file"))
		}
		if c.Purpose == PurposeDelivery && len(c.Tenants) == 0 {
			add(keyErr(key+".tenants", "required: the tenants whose courier jobs it carries, or \"*\" for every tenant no other connector lists"))
		}
		for i, tenant := range c.Tenants {
			switch {
			case tenant != AllTenants && !order.ValidTenantID(tenant):
				add(keyErr(key+".tenants", "entry %d is neither \"*\" nor a tenant id (%s)", i, order.TenantIDRule))
			case c.Purpose != PurposeDelivery:
				// One seller's books in one place: two accounting connectors
				// of a tenant would post its periods twice.
				if booksBy[tenant] != "" {
					add(keyErr(key+".tenants", "entry %d is connectors.%s's too: a tenant's books are posted by one accounting connector", i, booksBy[tenant]))
				}
				booksBy[tenant] = name
			case routedBy[tenant] != "":
				add(keyErr(key+".tenants", "entry %d is connectors.%s's too: a tenant's courier jobs go to one connector", i, routedBy[tenant]))
			default:
				routedBy[tenant] = name
			}
		}
		if c.Kind == "webhook" && !keyID.MatchString(c.KeyID) {
			add(keyErr(key+".key_id", "must be 1-64 of A-Z, a-z, 0-9, '_' and '-' (sent as webhook-key-id)"))
		}
		if c.RatePerSecond < 0 || c.RatePerSecond > 1000 {
			add(keyErr(key+".rate_per_second", "must be between 0 (the kind's documented limit) and 1000"))
		}
		if c.Burst < 0 || c.Burst > 1000 {
			add(keyErr(key+".burst", "must be between 0 (the kind's default) and 1000, got %d", c.Burst))
		}
		if c.Timeout != 0 {
			add(between(key+".timeout", c.Timeout, 100*time.Millisecond, 5*time.Minute))
		}
		for i, tenant := range c.Notifications {
			if !order.ValidTenantID(tenant) {
				add(keyErr(key+".notifications", "entry %d is not a tenant id (%s)", i, order.TenantIDRule))
			}
		}
		switch {
		case kindErr == nil && kind.Purpose == PurposeAccounting:
			errs = append(errs, c.validateAccounting(key, egress)...)
		default: // a parcel is a courier's
			errs = append(errs, c.validateParcel(key)...)
		}
	}
	return errs
}

// validateParcel checks a courier's parcel and services.
func (c Connector) validateParcel(key string) []error {
	var errs []error
	if w := c.Parcel.WeightGrams; w < 1 || w > 30_000 {
		errs = append(errs, keyErr(key+".parcel.weight_grams", "must be between 1 and 30000, got %d", w))
	}
	if err := nonEmpty(key+".parcel.format", c.Parcel.Format); err != nil {
		errs = append(errs, err)
	}
	if t := c.Parcel.TariffCode; t != "" && !tariffCode.MatchString(t) {
		errs = append(errs, keyErr(key+".parcel.tariff_code", "a value of %d characters is not an HS tariff code of 6 to 10 digits", len(t)))
	}
	for _, level := range slices.Sorted(maps.Keys(c.Services)) {
		if err := nonEmpty(key+".services."+level, c.Services[level]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// resolveSecrets reads every connector's credentials. A map's values cannot
// be changed in place, so each is written back.
func (cs Connectors) resolveSecrets(environ []string) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cs)) {
		c := cs[name]
		if err := c.Credentials.resolve("connectors."+name+".credentials", environ); err != nil {
			errs = append(errs, err)
		}
		if kind, err := LookupConnectorKind(c.Kind); err == nil && kind.Purpose == PurposeAccounting {
			if err := c.Accounting.RefreshToken.resolve("connectors."+name+".accounting.refresh_token", environ); err != nil {
				errs = append(errs, err)
			}
		}
		cs[name] = c
	}
	return errs
}

// parseStringMap reads "Standard=CRL1,NextDay=TPN24" from the environment.
func parseStringMap(raw string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(raw, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("not a list of key=value pairs such as Standard=CRL1,NextDay=TPN24")
		}
		out[k] = v
	}
	return out, nil
}
