// Package ropa renders orderflow's record of processing activities (UK GDPR
// Art. 30) from the sources that make the processing what it is, so that the
// record cannot drift from it: the field policy (schemas/policy
// order-fields.yaml: every field's treatment, purpose and retention class),
// the connectors' allow-lists (connectors.yaml: every recipient and what it
// gets), the table of retention classes and statutory minimums
// (worker/config) with the configured periods, and the ClickHouse roles
// (deploy/clickhouse). `orderflow ropa` prints it as Markdown or JSON.
package ropa

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	chroles "github.com/orderflow/orderflow/deploy/clickhouse"
	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
)

// Record is the record of processing.
type Record struct {
	Name         string       `json:"name"`
	Roles        string       `json:"roles"`
	DataSubjects []string     `json:"data_subjects"`
	Sources      []string     `json:"sources"`
	Categories   []Category   `json:"categories"`
	Recipients   []Recipient  `json:"recipients"`
	Retention    []Retention  `json:"retention"`
	Security     []string     `json:"security_measures"`
	Transfers    []string     `json:"transfers"`
	Rights       []string     `json:"rights"`
	Access       []AccessRole `json:"access"`
}

// Category is a category of personal data (or of order data that is not
// personal) and its fields.
type Category struct {
	Name     string  `json:"name"`
	Personal bool    `json:"personal"`
	Fields   []Field `json:"fields"`
}

// Field is one field of the canonical order as the policy treats it.
type Field struct {
	Path      string `json:"path"`
	Treatment string `json:"treatment"`
	// Stored says in what form and where it is kept ("" when never stored).
	Stored    string `json:"stored"`
	Purpose   string `json:"purpose"`
	Retention string `json:"retention"`
	Derived   string `json:"derived_from,omitempty"`
}

// Recipient is a kind of connector: who receives data, why, and what.
type Recipient struct {
	Kind    string          `json:"kind"`
	Who     string          `json:"who"`
	Purpose string          `json:"purpose"`
	Sends   []RecipientItem `json:"sends"`
}

// RecipientItem is one field a recipient gets, and when.
type RecipientItem struct {
	Source string `json:"source"`
	When   string `json:"when"`
	As     string `json:"as,omitempty"`
}

// Retention is a retention class: how long, from when, where.
type Retention struct {
	Class       string   `json:"class"`
	Period      string   `json:"period"`
	CountedFrom string   `json:"counted_from"`
	Tables      []string `json:"tables"`
	KafkaTopics bool     `json:"bounds_kafka_topics"`
	// Jurisdictions are the periods per jurisdiction where the law sets
	// one (financial records).
	Jurisdictions []JurisdictionPeriod `json:"jurisdictions,omitempty"`
}

// JurisdictionPeriod is a jurisdiction's period for a class.
type JurisdictionPeriod struct {
	Jurisdiction string `json:"jurisdiction"`
	Period       string `json:"period"`
	Minimum      string `json:"statutory_minimum"`
	CountedFrom  string `json:"counted_from"`
	Statute      string `json:"statute"`
}

// AccessRole is a ClickHouse user and what it may reach.
type AccessRole struct {
	User   string   `json:"user"`
	UsedBy string   `json:"used_by"`
	Grants []string `json:"grants"`
}

// recipients names each connector kind's recipient; a test holds it to the
// kinds of connectors.yaml.
var recipients = map[string]string{
	"clickanddrop": "Royal Mail (Click & Drop API), the seller's courier",
	"webhook":      "the seller's own delivery system or courier, by signed webhook",
	"xero":         "Xero, the seller's accounting package",
	"quickbooks":   "Intuit QuickBooks Online, the seller's accounting package",
}

// Build renders the record for the configuration r (the retention section).
func Build(fields *policy.Policy, lists *policy.AllowLists, r config.Retention) (Record, error) {
	rec := Record{
		Name: "orderflow: order data of the sellers of a UK multichannel e-commerce platform",
		Roles: "Each seller (tenant) is the controller of its buyers' data; the platform, running orderflow, is its processor. " +
			"orderflow downloads orders from the marketplaces, protects the buyers' data, keeps analytics-safe facts, sends couriers " +
			"and accounting packages the minimum each needs, and deletes on the retention promises.",
		DataSubjects: []string{"buyers of the sellers on Amazon and eBay", "delivery recipients named by the buyers",
			"business buyers' invoice contacts"},
		Sources: []string{"Amazon Selling Partner API orders (Orders API v0 and v2026-01-01)", "eBay Sell Fulfillment API orders"},
		Security: []string{
			"buyer identifiers (name, email, phone, marketplace username and id) are stored only as HMAC-SHA-256 tokens under a key of each seller's own (Vault transit), useless across sellers",
			"delivery and invoice addresses are stored only as Vault transit ciphertext (AES-256-GCM96) under the seller's own key, in a database granted apart (restricted)",
			"a seller who leaves has its keys destroyed (crypto-shredding) before every row of it is deleted and the deletion verified",
			"card numbers are removed from every field a buyer or seller can type before anything is stored, logged or forwarded",
			"free text (gift messages, notes, customisation) is never stored or forwarded",
			"dead-lettered messages are stored encrypted under the seller's key",
			"least privilege: one ClickHouse user and one Vault policy per command (below); the worker cannot decrypt, the dispatcher cannot destroy a key",
			"TLS to Kafka (SASL/SCRAM and client certificates), ClickHouse (client certificates) and Vault",
			"no personal data in logs, errors or metric labels (tested by planting values and searching every output)",
		},
		Transfers: []string{
			"orderflow runs only on nodes of the UK region's two zones (deploy/kubernetes/components/uk-residency); its Kafka, ClickHouse and Vault are the platform's own",
			"recipients receive data where the seller has enabled them (below); where a recipient processes outside the UK, the seller's agreement with it governs the transfer",
		},
		Rights: []string{
			"erasure (Art. 17): orderflow erase, or an erasure request on kafka.topics.erasure; buyer tokens replaced, labels deleted, invoice parties cleared unless the law requires the invoice kept; answered and recorded",
			"eBay marketplace account deletion: orderflow notifications verifies eBay's notifications and erases the eBay user in every seller holding them",
			"sellers leaving: orderflow offboard (keys destroyed, every row deleted, verified)",
		},
	}
	rec.Categories = categories(fields)
	var err error
	if rec.Recipients, err = recipientsOf(lists); err != nil {
		return Record{}, err
	}
	rec.Retention = retentionOf(r)
	rec.Access = accessOf()
	return rec, nil
}

// categoryOf names a field's category by its path.
func categoryOf(path string) (string, bool) {
	switch {
	case strings.HasPrefix(path, "buyer."):
		return "buyer identity and contact", true
	case strings.HasPrefix(path, "shipping_address.") || path == "ship_postcode_area":
		return "delivery address and recipient contact", true
	case strings.HasPrefix(path, "billing_address.") || strings.HasPrefix(path, "business.") || path == "billing_postcode_area" ||
		strings.HasPrefix(path, "invoice"):
		return "invoice party (billing address, business buyer's company, VAT number, PO number)", true
	case strings.HasPrefix(path, "free_text.") || strings.Contains(path, "gift_message") || strings.Contains(path, "customi"):
		return "free text (never stored)", true
	case strings.HasPrefix(path, "lines.") || strings.HasPrefix(path, "totals.") || strings.HasPrefix(path, "refunds.") ||
		strings.HasPrefix(path, "marketplace_taxes."):
		return "order lines, payment amounts, taxes and refunds", false
	}
	return "order details", false
}

// storedAs says in what form a treatment keeps a field, and where: tokens
// and coarsened values in the facts, ciphertexts in the restricted table of
// their class, kept values in their class's tables.
func storedAs(rule policy.Rule, tables map[string][]string) string {
	switch rule.Treatment {
	case policy.Keep:
		return "as it is, in " + strings.Join(tables[string(rule.Retention)], ", ")
	case policy.Token:
		return "only as a per-seller HMAC token, in " + schema.TableOrderFacts
	case policy.Coarsen:
		return "only coarsened (country and postcode area), in " + schema.TableOrderFacts
	case policy.Encrypt:
		where := schema.TableFinancialRecords + " (the invoice party's ciphertext)"
		if rule.Retention == policy.Label {
			where = schema.TableDeliveryLabels + " (the label's ciphertext), and the courier jobs while they are delivered"
		}
		return "only as Vault ciphertext under the seller's key, in " + where
	}
	return ""
}

func categories(fields *policy.Policy) []Category {
	tables := map[string][]string{}
	for _, c := range config.RetentionClasses() {
		for _, t := range c.Tables {
			if t.Name == schema.TableErasedOrders {
				continue // bookkeeping of erasures, no field of the order
			}
			tables[string(c.Name)] = append(tables[string(c.Name)], t.Name)
		}
	}
	byName := map[string]*Category{}
	add := func(path string, rule policy.Rule) {
		name, personal := categoryOf(path)
		if rule.From != "" {
			name, personal = categoryOf(rule.From)
		}
		c := byName[name]
		if c == nil {
			c = &Category{Name: name}
			byName[name] = c
		}
		c.Personal = c.Personal || personal || rule.Treatment != policy.Keep
		c.Fields = append(c.Fields, Field{Path: path, Treatment: string(rule.Treatment), Stored: storedAs(rule, tables),
			Purpose: rule.Purpose, Retention: string(rule.Retention), Derived: rule.From})
	}
	for _, path := range slices.Sorted(maps.Keys(fields.Fields)) {
		add(path, fields.Fields[path])
	}
	for _, name := range slices.Sorted(maps.Keys(fields.Derived)) {
		add(name, fields.Derived[name])
	}
	out := make([]Category, 0, len(byName))
	for _, c := range byName {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Category) int {
		if a.Personal != b.Personal {
			if a.Personal {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

func recipientsOf(lists *policy.AllowLists) ([]Recipient, error) {
	var out []Recipient
	for _, kind := range slices.Sorted(maps.Keys(lists.Connectors)) {
		l := lists.Connectors[kind]
		who, ok := recipients[kind]
		if !ok {
			return nil, fmt.Errorf("ropa: connector kind %s has no recipient named in worker/ropa", kind)
		}
		r := Recipient{Kind: kind, Who: who, Purpose: string(l.Purpose)}
		for _, src := range slices.Sorted(maps.Keys(l.Fields)) {
			f := l.Fields[src]
			r.Sends = append(r.Sends, RecipientItem{Source: src, When: string(f.When), As: f.As})
		}
		out = append(out, r)
	}
	return out, nil
}

func retentionOf(r config.Retention) []Retention {
	var out []Retention
	for _, c := range config.RetentionClasses() {
		row := Retention{Class: string(c.Name), Period: c.PeriodIn(r, "").String(), KafkaTopics: c.KafkaTopics}
		row.CountedFrom = c.TimeColumn
		if c.FinancialYear {
			row.CountedFrom = "the end of the seller's financial year (retention.financial_year_end, " + r.FinancialYearEnd.String() +
				" by default) holding " + c.TimeColumn
		}
		for _, t := range c.Tables {
			row.Tables = append(row.Tables, t.Name)
		}
		if c.ByJurisdiction() {
			js := map[string]bool{}
			for _, m := range config.StatutoryMinimums() {
				js[m.Jurisdiction] = true
			}
			for j := range c.Jurisdictions(r) {
				js[j] = true
			}
			for _, j := range slices.Sorted(maps.Keys(js)) {
				jp := JurisdictionPeriod{Jurisdiction: j, Period: c.PeriodIn(r, j).String(), CountedFrom: "the end of the financial year"}
				if c.Statutory != nil {
					m := c.Statutory(j)
					jp.Minimum, jp.Statute = m.Period.String(), m.Cite
				}
				if c.FromCalendarYearEnd(j) {
					jp.CountedFrom = "the end of the calendar year in which the financial year ends"
				}
				row.Jurisdictions = append(row.Jurisdictions, jp)
			}
		}
		out = append(out, row)
	}
	return out
}

func accessOf() []AccessRole {
	var out []AccessRole
	for _, role := range chroles.Roles() {
		a := AccessRole{User: role.User("orderflow_"), UsedBy: role.Uses}
		for _, g := range role.Grants {
			privs := make([]string, len(g.Privileges))
			for i, p := range g.Privileges {
				privs[i] = string(p)
			}
			on := "every table of " + string(g.Database)
			if len(g.Tables) > 0 {
				on = strings.Join(g.Tables, ", ")
			}
			a.Grants = append(a.Grants, strings.Join(privs, ", ")+" on "+on)
		}
		out = append(out, a)
	}
	return out
}
