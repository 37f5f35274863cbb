package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/orderflow/orderflow/worker/config"
)

//go:embed connectors.yaml
var connectorsYAML []byte

// Condition says when an allow-listed field is sent.
type Condition string

const (
	// Always: with every request.
	Always Condition = "always"
	// WithNotifications: only when the tenant has delivery notifications on
	// at the connector (P5: phone and email).
	WithNotifications Condition = "notifications"
	// WithCustoms: only when the destination needs a customs declaration
	// (NeedsCustomsDeclaration): item descriptions, values, tariff codes.
	WithCustoms Condition = "customs"
)

// Allowed is one allow-listed field's entry.
type Allowed struct {
	When Condition `yaml:"when"`
	// As names the provider's field it fills, for the reader; the
	// connector's code does the mapping.
	As string `yaml:"as"`
}

// AllowList is what one kind of connector may send: each source (a
// canonical order path, or a connector setting, Settings) and when.
type AllowList struct {
	Purpose config.Purpose     `yaml:"purpose"`
	Fields  map[string]Allowed `yaml:"fields"`
}

// AllowLists are the allow-lists of connectors.yaml, by connector kind (the
// kinds of worker/config/connectors.go).
type AllowLists struct {
	Version    int                  `yaml:"version"`
	Connectors map[string]AllowList `yaml:"connectors"`
}

// Switches are what a request's conditions depend on.
type Switches struct {
	// Notifications: the tenant has delivery notifications on at the connector.
	Notifications bool
	// Customs: the destination needs a customs declaration.
	Customs bool
}

// Sources returns the sources the list allows under s, sorted.
func (l AllowList) Sources(s Switches) []string {
	var out []string
	for _, src := range slices.Sorted(maps.Keys(l.Fields)) {
		switch l.Fields[src].When {
		case Always:
		case WithNotifications:
			if !s.Notifications {
				continue
			}
		case WithCustoms:
			if !s.Customs {
				continue
			}
		default:
			continue // the loader refuses any other
		}
		out = append(out, src)
	}
	return out
}

// For returns the allow-list of a connector kind, or an error naming it.
func (a *AllowLists) For(kind string) (AllowList, error) {
	l, ok := a.Connectors[kind]
	if !ok {
		return AllowList{}, fmt.Errorf("policy: connector kind %q has no allow-list in connectors.yaml", kind)
	}
	return l, nil
}

// Settings are the sources a connector's configuration supplies rather than
// the order (worker/config Connector.Parcel and Services): not personal
// data. Those under parcel.lines. are sent once per order line.
var Settings = []string{"parcel.format", "parcel.lines.tariff_code", "parcel.service_code", "parcel.weight_grams"}

// IsLineSource reports whether a source has a value per order line.
func IsLineSource(src string) bool {
	return strings.HasPrefix(src, "lines.") || strings.HasPrefix(src, "parcel.lines.")
}

// notificationFields are the recipient's contact details, which a courier
// gets only for delivery notifications the tenant has turned on (P5).
var notificationFields = []string{"shipping_address.email", "shipping_address.phone"}

// LoadConnectors parses and checks the embedded allow-lists against the
// embedded field policy and the declared connector kinds.
func LoadConnectors() (*AllowLists, error) {
	fields, err := Load()
	if err != nil {
		return nil, err
	}
	return parseConnectors(connectorsYAML, fields)
}

func parseConnectors(data []byte, fields *Policy) (*AllowLists, error) {
	var a AllowLists
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key must not pass as a missing one
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("policy: connectors.yaml: %w", err)
	}
	if a.Version != 1 {
		return nil, fmt.Errorf("policy: connectors.yaml: version %d, want 1", a.Version)
	}
	var errs []error
	declared := map[string]bool{}
	for _, k := range config.ConnectorKinds() {
		declared[k.Name] = true
		if _, ok := a.Connectors[k.Name]; !ok {
			errs = append(errs, fmt.Errorf("policy: connectors.yaml: connector kind %s (worker/config/connectors.go) has no allow-list", k.Name))
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(a.Connectors)) {
		if !declared[kind] {
			errs = append(errs, fmt.Errorf("policy: connectors.yaml: %s is not a connector kind of worker/config/connectors.go", kind))
			continue
		}
		errs = append(errs, a.Connectors[kind].check(kind, fields)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &a, nil
}

// check applies the rules connectors.yaml's header states.
func (l AllowList) check(kind string, fields *Policy) []error {
	var errs []error
	fail := func(src, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy: connectors.yaml: %s: %s: %s", kind, src, fmt.Sprintf(format, args...)))
	}
	k, err := config.LookupConnectorKind(kind)
	if err != nil {
		return []error{fmt.Errorf("policy: connectors.yaml: %w", err)}
	}
	if l.Purpose != k.Purpose {
		errs = append(errs, fmt.Errorf("policy: connectors.yaml: %s: purpose %q, but worker/config/connectors.go declares %s for it (P7: delivery or accounting, never marketing)",
			kind, l.Purpose, k.Purpose))
	}
	if len(l.Fields) == 0 {
		errs = append(errs, fmt.Errorf("policy: connectors.yaml: %s: no fields", kind))
	}
	for _, src := range slices.Sorted(maps.Keys(l.Fields)) {
		when := l.Fields[src].When
		if when != Always && when != WithNotifications && when != WithCustoms {
			fail(src, "when %q is not always, notifications or customs", when)
			continue
		}
		rule, isField := fields.Fields[src]
		switch {
		case strings.HasPrefix(src, "free_text"):
			fail(src, "free text (notes, gift messages, customisation) is never forwarded (P4)")
			continue
		case slices.Contains(Settings, src):
		case !isField:
			fail(src, "neither a field of order-fields.yaml nor a connector setting (%s)", strings.Join(Settings, ", "))
			continue
		case rule.Treatment == Token || rule.Treatment == Drop:
			fail(src, "the field policy's treatment is %s: it never leaves the platform (buyer ids, usernames and contact tokens; dropped fields)", rule.Treatment)
			continue
		case rule.Treatment == Encrypt && l.Purpose == config.PurposeDelivery && rule.Retention != Label:
			fail(src, "encrypted with retention %s: a courier gets only the delivery label's fields (retention label)", rule.Retention)
			continue
		case rule.Treatment == Encrypt && l.Purpose == config.PurposeAccounting && rule.Retention != Financial:
			fail(src, "encrypted with retention %s: an accounting package gets only the invoice party's fields (retention financial, P6)", rule.Retention)
			continue
		}
		if l.Purpose != config.PurposeDelivery {
			continue
		}
		isValue := isField && rule.Retention == Financial
		switch {
		case slices.Contains(notificationFields, src) && when != WithNotifications:
			fail(src, "the recipient's phone and email go to a courier only when the tenant's delivery notifications are on: when must be notifications (P5)")
		case (IsLineSource(src) || isValue) && when != WithCustoms:
			fail(src, "item descriptions, values and tariff codes go to a courier only for a customs declaration: when must be customs (P5)")
		}
	}
	return errs
}
