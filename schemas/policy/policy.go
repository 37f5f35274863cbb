// Package policy is the personal-data field policy of the canonical order: for each
// field, its treatment (keep, token, encrypt, coarsen, drop), purpose, retention
// class (one that worker/config declares) and whether it is scanned for card
// numbers, read from order-fields.yaml beside this file. The protect stage
// applies it; tests keep it complete.
package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/orderflow/orderflow/worker/config"
)

//go:embed order-fields.yaml
var orderFieldsYAML []byte

// Treatment says what happens to a field before anything is stored.
type Treatment string

const (
	Keep    Treatment = "keep"
	Token   Treatment = "token"
	Encrypt Treatment = "encrypt"
	Coarsen Treatment = "coarsen"
	Drop    Treatment = "drop"
)

// Retention is the retention class a stored value belongs to: a class
// declared in worker/config's table of classes (classes.go), which the
// loader refuses any other than, or None.
type Retention string

const (
	Analytics = Retention(config.ClassAnalytics)
	Label     = Retention(config.ClassLabel)
	Financial = Retention(config.ClassFinancial)
	// None is the retention of a dropped field, which is never stored.
	None Retention = "none"
)

// ScanMode says whether the protect stage scans a field for card numbers (P3).
type ScanMode string

const (
	// Scan: every card number in the field is removed before anything else.
	Scan ScanMode = "scan"
	// Exempt: an identifier the marketplace assigns, not scanned (scanning would
	// cut Luhn-valid windows out of ClickHouse keys) but held by the normaliser
	// to its documented format. The format narrows what fits (fixed lengths, no
	// separators, no letters where the format has none, no email); it does not
	// rule card numbers out: a 3-7-7 order id or a 14-digit id can hold a
	// Luhn-valid window.
	Exempt ScanMode = "exempt"
	// NotText: a number, boolean or time, into which nothing can be typed.
	NotText ScanMode = "not_text"
)

// CardScan is a field's card_scan entry: `scan`, `not_text`, or
// `{exempt: "<format, source>"}`.
type CardScan struct {
	Mode ScanMode
	// Format is an exempt field's rule and its source, what the normaliser
	// enforces in place of the scan; empty otherwise.
	Format string
}

// UnmarshalYAML reads the scalar and mapping forms.
func (c *CardScan) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		c.Mode = ScanMode(n.Value)
		return nil
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		format, ok := m[string(Exempt)]
		if len(m) != 1 || !ok {
			return fmt.Errorf("line %d: card_scan: a mapping must be {exempt: <format, source>}", n.Line)
		}
		c.Mode, c.Format = Exempt, format
		return nil
	}
	return fmt.Errorf("line %d: card_scan: want scan, not_text or {exempt: <format, source>}", n.Line)
}

// Rule is one field's entry.
type Rule struct {
	Treatment Treatment `yaml:"treatment"`
	Retention Retention `yaml:"retention"`
	Purpose   string    `yaml:"purpose"`
	// CardScan says whether the field is scanned for card numbers; every field
	// says, derived values do not (they are computed from scanned fields).
	CardScan CardScan `yaml:"card_scan"`
	// From names the field a derived value is computed from.
	From string `yaml:"from"`
}

// Policy maps canonical-order field paths ("buyer.email", "lines.sku") to rules.
type Policy struct {
	Version int             `yaml:"version"`
	Fields  map[string]Rule `yaml:"fields"`
	Derived map[string]Rule `yaml:"derived"`
}

// Load parses and checks the embedded policy.
func Load() (*Policy, error) {
	return parse(orderFieldsYAML)
}

func parse(data []byte) (*Policy, error) {
	var p Policy
	if err := yaml.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if p.Version != 1 {
		return nil, fmt.Errorf("policy: version %d, want 1", p.Version)
	}
	var errs []error
	for _, path := range slices.Sorted(maps.Keys(p.Fields)) {
		errs = append(errs, p.Fields[path].check(path, false))
	}
	for _, name := range slices.Sorted(maps.Keys(p.Derived)) {
		r := p.Derived[name]
		errs = append(errs, r.check(name, true))
		if _, ok := p.Fields[r.From]; !ok {
			errs = append(errs, fmt.Errorf("policy: derived %s: from %q is not a field", name, r.From))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &p, nil
}

func (r Rule) check(path string, derived bool) error {
	treatments := []Treatment{Keep, Token, Encrypt, Coarsen, Drop}
	if !slices.Contains(treatments, r.Treatment) {
		return fmt.Errorf("policy: %s: treatment %q is not one of %v", path, r.Treatment, treatments)
	}
	if r.Retention != None {
		if _, err := config.LookupClass(string(r.Retention)); err != nil {
			return fmt.Errorf("policy: %s: retention %w; or none, for a dropped field", path, err)
		}
	}
	if r.Purpose == "" {
		return fmt.Errorf("policy: %s: no purpose", path)
	}
	if (r.Treatment == Drop) != (r.Retention == None) {
		return fmt.Errorf("policy: %s: a dropped field, and only a dropped field, has retention none", path)
	}
	if r.Treatment == Token && r.Retention != Analytics {
		return fmt.Errorf("policy: %s: tokens are analytics data", path)
	}
	if r.From != "" && !derived {
		return fmt.Errorf("policy: %s: only derived values have from", path)
	}
	switch c := r.CardScan; {
	case derived && c != CardScan{}:
		return fmt.Errorf("policy: %s: a derived value has no card_scan: it is computed from scanned fields", path)
	case derived:
	case c.Mode == "":
		return fmt.Errorf("policy: %s: no card_scan (scan, not_text or {exempt: <format, source>})", path)
	case c.Mode == Exempt && c.Format == "":
		return fmt.Errorf("policy: %s: card_scan exempt needs the format the normaliser checks instead, and its source", path)
	case c.Mode != Scan && c.Mode != Exempt && c.Mode != NotText:
		return fmt.Errorf("policy: %s: card_scan %q is not scan, not_text or {exempt: <format, source>}", path, c.Mode)
	}
	return nil
}

// Paths returns the paths that have treatment t, sorted.
func (p *Policy) Paths(t Treatment) []string {
	return p.pathsWhere(func(r Rule) bool { return r.Treatment == t })
}

// CardScanPaths returns the paths whose card_scan is mode, sorted.
func (p *Policy) CardScanPaths(mode ScanMode) []string {
	return p.pathsWhere(func(r Rule) bool { return r.CardScan.Mode == mode })
}

// pathsWhere returns the field paths whose rule satisfies keep, sorted (nil
// when none does).
func (p *Policy) pathsWhere(keep func(Rule) bool) []string {
	var out []string
	for _, path := range slices.Sorted(maps.Keys(p.Fields)) {
		if keep(p.Fields[path]) {
			out = append(out, path)
		}
	}
	return out
}
