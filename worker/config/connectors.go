package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

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
}

// connectorKinds is the table; the accounting kinds come with issue 13.
var connectorKinds = []ConnectorKind{
	{Name: "clickanddrop", Purpose: PurposeDelivery}, // Royal Mail Click & Drop (connectors/courier/clickanddrop)
	{Name: "webhook", Purpose: PurposeDelivery},      // a signed JSON webhook (connectors/courier/webhook)
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
	// only, except for a loopback host (the tests' stand-ins). Required.
	Endpoint string `yaml:"endpoint"`
	// Credentials says where the API key (Click & Drop's bearer token) or
	// the webhook's signing secret is: {env: NAME} or {file: PATH}, never a
	// value. Required.
	Credentials SecretRef `yaml:"credentials"`
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
	tariffCode    = regexp.MustCompile(`^[0-9]{6,10}$`)
)

// setDefaults fills in what a connector's entry leaves unset, before the
// file's keys are decoded into it.
func (c *Connector) setDefaults() {
	if c.Parcel.Format == "" {
		c.Parcel.Format = "parcel"
	}
}

// validate checks every connector; names are sorted so that errors come in a
// stable order.
func (cs Connectors) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
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
		if !httpsEndpoint(c.Endpoint) {
			add(keyErr(key+".endpoint", "%q is not an https URL (http only to a loopback host)", c.Endpoint))
		}
		if c.Credentials.Value == "" {
			add(keyErr(key+".credentials", "required: set env or file"))
		}
		for i, tenant := range c.Notifications {
			if !order.ValidTenantID(tenant) {
				add(keyErr(key+".notifications", "entry %d is not a tenant id (%s)", i, order.TenantIDRule))
			}
		}
		if w := c.Parcel.WeightGrams; w < 1 || w > 30_000 {
			add(keyErr(key+".parcel.weight_grams", "must be between 1 and 30000, got %d", w))
		}
		add(nonEmpty(key+".parcel.format", c.Parcel.Format))
		if t := c.Parcel.TariffCode; t != "" && !tariffCode.MatchString(t) {
			add(keyErr(key+".parcel.tariff_code", "a value of %d characters is not an HS tariff code of 6 to 10 digits", len(t)))
		}
		for _, level := range slices.Sorted(maps.Keys(c.Services)) {
			add(nonEmpty(key+".services."+level, c.Services[level]))
		}
	}
	return errs
}

// httpsEndpoint reports whether s is an https URL, or an http one to a
// loopback host.
func httpsEndpoint(s string) bool {
	if !httpURL(s) {
		return false
	}
	if strings.HasPrefix(s, "https://") {
		return true
	}
	host := strings.TrimPrefix(s, "http://")
	return strings.HasPrefix(host, "127.0.0.1") || strings.HasPrefix(host, "localhost") || strings.HasPrefix(host, "[::1]")
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
