package projection

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/protected"
)

var update = flag.Bool("update", false, "rewrite testdata/fieldsets.golden.json")

// destinations are the fixtures' delivery labels with the job's country.
var destinations = []struct {
	name, label, country string
	customs              bool
}{
	{"domestic", "label-gb.json", "GB", false},
	{"northern-ireland", "label-northern-ireland.json", "GB", false},
	{"jersey-under-gb", "label-jersey-under-gb.json", "GB", true},
	{"international", "label-de.json", "DE", true},
	{"international-no-postcode", "label-us-no-postcode.json", "US", true},
}

var parcel = Parcel{WeightGrams: 750, Format: "smallParcel", ServiceCode: "CRL1", TariffCode: "691200"}

// TestExactFieldSets: for every connector of connectors.yaml, domestic and
// international orders, notifications on and off, the projection holds
// exactly the fields in testdata/fieldsets.golden.json (reviewed by hand;
// -update rewrites it), and independently of the golden file: phone and
// email only with notifications, item data and values only with customs,
// nothing outside the allow-list, every allowed field the fixture has.
func TestExactFieldSets(t *testing.T) {
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for kind, list := range lists.Connectors {
		if list.Purpose != config.PurposeDelivery {
			continue // an accounting package's list is projected by the accounting side
		}
		for _, d := range destinations {
			label := readLabel(t, d.label)
			for _, notify := range []bool{false, true} {
				job := readJob(t)
				job.DestinationCountry = d.country
				p, err := Project(list, Input{Label: label, Job: job, Notifications: notify, Parcel: parcel})
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s/%s/notifications-%v", kind, d.name, map[bool]string{false: "off", true: "on"}[notify])
				got[name] = p.Sources()
				if p.Customs() != d.customs {
					t.Errorf("%s: customs %v, want %v", name, p.Customs(), d.customs)
				}
				allowed := list.Sources(policy.Switches{Notifications: notify, Customs: d.customs})
				for _, src := range p.Sources() {
					if !slices.Contains(allowed, src) {
						t.Errorf("%s: %s is not allowed", name, src)
					}
					contact := src == "shipping_address.phone" || src == "shipping_address.email"
					if contact && !notify {
						t.Errorf("%s: %s sent with notifications off", name, src)
					}
					item := policy.IsLineSource(src) || strings.HasPrefix(src, "totals.")
					if item && !d.customs {
						t.Errorf("%s: %s sent without a customs declaration", name, src)
					}
				}
				for _, src := range allowed {
					has := label.Get(src) != "" || !strings.HasPrefix(src, "shipping_address.") || src == "shipping_address.country_code"
					if has && !slices.Contains(p.Sources(), src) {
						t.Errorf("%s: %s is allowed and has a value, but is missing", name, src)
					}
				}
				if d.customs != (len(p.Lines()) == len(job.Lines)) {
					t.Errorf("%s: %d lines projected of %d", name, len(p.Lines()), len(job.Lines))
				}
			}
		}
	}
	const golden = "testdata/fieldsets.golden.json"
	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(golden, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field sets (-want +got):\n%s", diff)
	}
}

// The values are the label's, the job's and the settings', unchanged: a
// 36-character line is not cut here (the connector applies its provider's
// limit), a non-ASCII name keeps its letters.
func TestValues(t *testing.T) {
	lists, err := policy.LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	list, _ := lists.For("clickanddrop")
	job := readJob(t)
	job.DestinationCountry = "DE"
	p, err := Project(list, Input{Label: readLabel(t, "label-de.json"), Job: job, Parcel: parcel})
	if err != nil {
		t.Fatal(err)
	}
	if p.Text("shipping_address.name") != "Jürgen Weiß" || p.Text("channel_order_id") != "203-1234567-7654321" ||
		p.Int("parcel.weight_grams") != 750 || p.Text("parcel.service_code") != "CRL1" ||
		p.Money("totals.total").String() != "46.49 GBP" || p.Text("purchased_at") != "2026-01-01T10:00:00Z" {
		t.Errorf("values differ from the inputs")
	}
	lines := p.Lines()
	if len(lines) != 2 || lines[0].Text("lines.title") != "Hand-thrown stoneware mug, cobalt glaze, 350 ml" ||
		lines[0].Int("lines.quantity") != 2 || lines[1].Money("lines.unit_price").String() != "12.50 GBP" ||
		lines[1].Text("parcel.lines.tariff_code") != "691200" || lines[0].Has("lines.line_total") {
		t.Errorf("line values differ from the job's, or a line field outside the list is there")
	}

	gb := readJob(t)
	p, err = Project(list, Input{Label: readLabel(t, "label-gb.json"), Job: gb, Notifications: true, Parcel: parcel})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Text("shipping_address.line1"); len(got) != 36 || p.Text("shipping_address.email") == "" {
		t.Errorf("the 36-character line or the email did not come through")
	}
	if p.Has("totals.total") || p.Lines() != nil {
		t.Errorf("a domestic order's values or items were projected")
	}
}

// A list naming a source no courier job carries is an error naming the
// source, never a value.
func TestASourceTheJobLacksIsAnError(t *testing.T) {
	list := policy.AllowList{Purpose: "delivery", Fields: map[string]policy.Allowed{
		"channel_order_id": {When: policy.Always},
		"lines.asin":       {When: policy.WithCustoms},
	}}
	job := readJob(t)
	job.DestinationCountry = "DE"
	_, err := Project(list, Input{Label: readLabel(t, "label-de.json"), Job: job})
	if err == nil || !strings.Contains(err.Error(), "lines.asin") || strings.Contains(err.Error(), "Weiß") {
		t.Errorf("error %v", err)
	}
}

func TestAProjectionNeverPrintsItself(t *testing.T) {
	lists, _ := policy.LoadConnectors()
	list, _ := lists.For("webhook")
	job := readJob(t)
	job.DestinationCountry = "DE"
	p, err := Project(list, Input{Label: readLabel(t, "label-de.json"), Job: job, Notifications: true, Parcel: parcel})
	if err != nil {
		t.Fatal(err)
	}
	type wrapper struct{ p Projection }
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "p", p, "line", p.Lines()[0])
	j, _ := json.Marshal(struct {
		P Projection
		L []Line
	}{p, p.Lines()})
	outputs := []string{logs.String(), string(j)}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outputs = append(outputs, fmt.Sprintf(f, p), fmt.Sprintf(f, wrapper{p}), fmt.Sprintf(f, p.Lines()))
	}
	for _, out := range outputs {
		for _, secret := range []string{"Weiß", "Friedrich", "10117", "ebay.de", "stoneware"} {
			if strings.Contains(out, secret) {
				t.Errorf("a projection printed itself: %s", out)
			}
		}
	}
}

func readLabel(t *testing.T, name string) protected.Document {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := protected.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readJob(t *testing.T) *outbox.Job {
	t.Helper()
	data, err := os.ReadFile("testdata/job.json")
	if err != nil {
		t.Fatal(err)
	}
	var j outbox.Job
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	return &j
}
