package ropa_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/ropa"
)

func build(t *testing.T, r config.Retention) (ropa.Record, *policy.Policy, *policy.AllowLists) {
	t.Helper()
	fields, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ropa.Build(fields, lists, r)
	if err != nil {
		t.Fatal(err)
	}
	return rec, fields, lists
}

// The record covers every field of the policy with its treatment, purpose
// and retention, every connector kind with every field it may send, every
// retention class and every jurisdiction with a statutory minimum; in JSON
// and in Markdown alike. A field or connector added without the record
// following fails here.
func TestTheRecordCoversEveryFieldConnectorAndClass(t *testing.T) {
	r := config.Defaults().Retention
	r.FinancialByJurisdiction = map[string]config.Period{"DE": {Years: 11}}
	rec, fields, lists := build(t, r)
	var md bytes.Buffer
	if err := rec.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	got := map[string]ropa.Field{}
	for _, c := range rec.Categories {
		for _, f := range c.Fields {
			got[f.Path] = f
		}
	}
	all := maps.Clone(fields.Fields)
	maps.Copy(all, fields.Derived)
	for path, rule := range all {
		f, ok := got[path]
		switch {
		case !ok:
			t.Errorf("field %s is not in the record", path)
		case f.Treatment != string(rule.Treatment) || f.Purpose != rule.Purpose || f.Retention != string(rule.Retention):
			t.Errorf("field %s: %+v, want the policy's %+v", path, f, rule)
		case (rule.Treatment == policy.Drop) != (f.Stored == ""):
			t.Errorf("field %s (%s) stored %q", path, rule.Treatment, f.Stored)
		case !strings.Contains(md.String(), "| `"+path+"` |"):
			t.Errorf("field %s is not in the Markdown", path)
		}
	}
	if len(got) != len(all) {
		t.Errorf("the record has %d fields, the policy %d", len(got), len(all))
	}
	for _, c := range rec.Categories {
		for _, f := range c.Fields {
			if f.Treatment != string(policy.Keep) && !c.Personal {
				t.Errorf("category %q holds %s (%s) but is not marked personal", c.Name, f.Path, f.Treatment)
			}
		}
	}
	for kind, l := range lists.Connectors {
		i := slices.IndexFunc(rec.Recipients, func(r ropa.Recipient) bool { return r.Kind == kind })
		if i < 0 {
			t.Errorf("connector %s is not a recipient of the record", kind)
			continue
		}
		r := rec.Recipients[i]
		if r.Purpose != string(l.Purpose) || r.Who == "" || len(r.Sends) != len(l.Fields) {
			t.Errorf("recipient %s: %+v; want purpose %s and its %d fields", kind, r, l.Purpose, len(l.Fields))
		}
		for _, s := range r.Sends {
			if !strings.Contains(md.String(), "| `"+s.Source+"` | "+s.When) {
				t.Errorf("recipient %s: %s is not in the Markdown", kind, s.Source)
			}
		}
	}
	classes := map[string]ropa.Retention{}
	for _, rt := range rec.Retention {
		classes[rt.Class] = rt
	}
	for _, c := range config.RetentionClasses() {
		rt, ok := classes[string(c.Name)]
		if !ok || rt.Period != c.PeriodIn(r, "").String() || len(rt.Tables) != len(c.Tables) {
			t.Errorf("class %s: %+v", c.Name, rt)
		}
	}
	fin := classes[string(config.ClassFinancial)]
	for _, m := range config.StatutoryMinimums() {
		i := slices.IndexFunc(fin.Jurisdictions, func(j ropa.JurisdictionPeriod) bool { return j.Jurisdiction == m.Jurisdiction })
		// The minimum that binds: the jurisdiction's own, raised to HMRC's
		// where that is longer (every seller is a UK business).
		binding := config.MinimumFor(m.Jurisdiction)
		if i < 0 || fin.Jurisdictions[i].Minimum != binding.Period.String() || !strings.Contains(fin.Jurisdictions[i].Statute, m.Cite) {
			t.Errorf("jurisdiction %s is not in the financial retention with its binding minimum %s (%s)", m.Jurisdiction, binding.Period, m.Cite)
		}
	}
	if i := slices.IndexFunc(fin.Jurisdictions, func(j ropa.JurisdictionPeriod) bool { return j.Jurisdiction == "DE" }); i < 0 || fin.Jurisdictions[i].Period != "11y" {
		t.Errorf("DE's configured 11 years are not the record's: %+v", fin.Jurisdictions)
	}
	if _, err := json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"## Security measures", "## Transfers and data residency", "## Recipients", "## Access"} {
		if !strings.Contains(md.String(), section) {
			t.Errorf("the Markdown has no %q", section)
		}
	}
}

// A connector kind the record cannot name is an error, not a silent gap.
func TestAnUnnamedRecipientIsRefused(t *testing.T) {
	fields, _ := policy.Load()
	lists, _ := policy.LoadConnectors()
	lists.Connectors["carrier-pigeon"] = policy.AllowList{Purpose: "delivery"}
	if _, err := ropa.Build(fields, lists, config.Defaults().Retention); err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Errorf("Build = %v, want the unnamed kind refused", err)
	}
}
