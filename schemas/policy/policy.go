// Package policy is the personal-data field policy of the canonical order: for each
// field, its treatment (keep, token, encrypt, coarsen, drop), purpose and retention
// class, read from order-fields.yaml beside this file. The protect stage applies it;
// tests keep it complete.
package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sort"

	"go.yaml.in/yaml/v3"
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

// Retention is the retention class a stored value belongs to.
type Retention string

const (
	Analytics Retention = "analytics"
	Label     Retention = "label"
	Financial Retention = "financial"
	None      Retention = "none"
)

// Rule is one field's entry.
type Rule struct {
	Treatment Treatment `yaml:"treatment"`
	Retention Retention `yaml:"retention"`
	Purpose   string    `yaml:"purpose"`
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
	for _, path := range sortedKeys(p.Fields) {
		errs = append(errs, p.Fields[path].check(path, false))
	}
	for _, name := range sortedKeys(p.Derived) {
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
	if !slices.Contains([]Retention{Analytics, Label, Financial, None}, r.Retention) {
		return fmt.Errorf("policy: %s: retention %q is not analytics, label, financial or none", path, r.Retention)
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
	return nil
}

// Paths returns the paths that have treatment t, sorted.
func (p *Policy) Paths(t Treatment) []string {
	var out []string
	for _, path := range sortedKeys(p.Fields) {
		if p.Fields[path].Treatment == t {
			out = append(out, path)
		}
	}
	return out
}

func sortedKeys(m map[string]Rule) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
