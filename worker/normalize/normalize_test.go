package normalize

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

var update = flag.Bool("update", false, "rewrite the *.golden.json files from the normalisers' output")

// testDecoders are the channels this package decodes, by the names the channel
// registry gives them (worker/channel, which imports this package).
var testDecoders = map[order.Channel]Decoder{order.ChannelAmazon: Amazon, order.ChannelEbay: Ebay}

// testNormalizer reads testDecoders' channels.
var testNormalizer = func() *Normalizer {
	n, err := New(Config{Decoders: testDecoders})
	if err != nil {
		panic(err)
	}
	return n
}()

// Normalize is testNormalizer's Normalize, with the wall clock.
func Normalize(msg []byte) (order.Order, error) { return testNormalizer.Normalize(msg) }

// runGoldenDir normalises every testdata/<dir>/*.json fixture (other than goldens)
// and compares the canonical order with <name>.golden.json beside it.
func runGoldenDir(t *testing.T, dir string) {
	t.Helper()
	inputs := normalizetest.Files(t, filepath.Join("testdata", dir, "*.json"))
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".json")
		t.Run(name, func(t *testing.T) {
			o, err := Normalize(normalizetest.Read(t, input))
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			got, err := order.RevealJSON(o)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(input, ".json") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden output (run go test ./worker/normalize -update): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("canonical order differs from %s (-want +got):\n%s", golden, diff)
			}
			checkInvariants(t, o)
		})
	}
	if len(inputs) == 0 {
		t.Fatalf("no fixtures in testdata/%s", dir)
	}
}

// badCase is a message that must fail with exactly this error.
type badCase struct {
	file string // under testdata/
	want string // the whole error message
}

// runBadCases checks that each bad message fails with its exact error, and that no
// bad fixture on disk lacks a case.
func runBadCases(t *testing.T, dir string, cases []badCase) {
	t.Helper()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[filepath.Join("testdata", c.file)] = true
		t.Run(strings.TrimSuffix(filepath.Base(c.file), ".bad.json"), func(t *testing.T) {
			o, err := Normalize(normalizetest.Read(t, filepath.Join("testdata", c.file)))
			if err == nil {
				t.Fatalf("Normalize succeeded (order %q), want error %q", o.ChannelOrderID, c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
			var ne *Error
			if !errors.As(err, &ne) {
				t.Errorf("error is a %T, want *normalize.Error (the DLQ needs its reason)", err)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.bad.json"))
	for _, f := range files {
		if !covered[f] {
			t.Errorf("%s has no expected error in the table", f)
		}
	}
}

// checkInvariants holds for every canonical order, whatever its channel.
func checkInvariants(t *testing.T, o order.Order) {
	t.Helper()
	if o.SchemaVersion != order.SchemaVersion || o.TenantID == "" || o.ChannelOrderID == "" || o.Marketplace == "" {
		t.Errorf("identity incomplete: schema %d tenant %q order %q marketplace %q", o.SchemaVersion, o.TenantID, o.ChannelOrderID, o.Marketplace)
	}
	if !slices.Contains(order.Statuses, o.Status) {
		t.Errorf("status %q is not in the canonical enum", o.Status)
	}
	if !slices.Contains(order.PaymentStatuses, o.PaymentStatus) {
		t.Errorf("payment status %q is not in the canonical enum", o.PaymentStatus)
	}
	if o.Fulfilment != order.FulfilmentMerchant && o.Fulfilment != order.FulfilmentMarketplace {
		t.Errorf("fulfilment %q", o.Fulfilment)
	}
	if o.PurchasedAt.Location().String() != "UTC" || o.SourceUpdatedAt.Location().String() != "UTC" || o.ReceivedAt.Location().String() != "UTC" {
		t.Errorf("timestamps not in UTC: %v %v %v", o.PurchasedAt, o.SourceUpdatedAt, o.ReceivedAt)
	}
	if o.SourceUpdatedAt.IsZero() || o.PurchasedAt.IsZero() {
		t.Errorf("purchase or update time missing")
	}
	if o.Fulfilment == order.FulfilmentMarketplace && o.ShippingAddress != nil && o.ShippingAddress.Line1 != "" {
		t.Errorf("marketplace-fulfilled order carries a street address")
	}
	seen := map[string]bool{}
	for _, l := range o.Lines {
		if l.LineID == "" || seen[l.LineID] {
			t.Errorf("line id %q empty or repeated", l.LineID)
		}
		seen[l.LineID] = true
		if l.Quantity < 0 || l.QuantityShipped < 0 {
			t.Errorf("line %s: negative quantity", l.LineID)
		}
	}
	// One currency per order: every amount present is in the order total's currency.
	if cur := o.Totals.Total.Currency; cur != "" {
		for _, m := range allMoney(o) {
			if !m.IsZero() && m.Currency != cur {
				t.Errorf("amount %s is not in the order currency %s", m, cur)
			}
		}
	}
	for _, ft := range o.FreeText {
		if ft.Text == "" {
			t.Errorf("empty free text of kind %s", ft.Kind)
		}
	}
}

func allMoney(o order.Order) []order.Money {
	ms := []order.Money{o.Totals.Subtotal, o.Totals.Tax, o.Totals.Shipping, o.Totals.Discount, o.Totals.Total}
	for _, l := range o.Lines {
		ms = append(ms, l.UnitPrice, l.LineTotal, l.Tax, l.Shipping, l.ShippingTax, l.Discount, l.DiscountTax, l.GiftWrap, l.GiftWrapTax)
	}
	for _, tx := range o.MarketplaceTaxes {
		ms = append(ms, tx.Amount)
	}
	for _, r := range o.Refunds {
		ms = append(ms, r.Amount)
	}
	return ms
}

func TestEnvelopeErrors(t *testing.T) {
	runBadCases(t, "envelope", []badCase{
		{"envelope/truncated.bad.json", "malformed_json: truncated JSON"},
		{"envelope/not-json.bad.json", `malformed_json: invalid JSON (at byte 1)`},
		{"envelope/unknown-channel.bad.json", `unknown_channel: channel: is not a channel this worker reads (7 characters: letters)`},
		{"envelope/missing-tenant.bad.json", "bad_envelope: tenant_id: missing"},
		{"envelope/bad-tenant.bad.json", "bad_envelope: tenant_id: must be 1-64 characters of a-z, 0-9, '-' and '_' (8 characters: letters, spaces)"},
		{"envelope/missing-channel.bad.json", "bad_envelope: channel: missing"},
		{"envelope/missing-payload.bad.json", "bad_envelope: payload: missing"},
		{"envelope/bad-received-at.bad.json", `bad_envelope: received_at: timestamp is not RFC 3339 (16 characters: digits, spaces, punctuation)`},
		{"envelope/tenant-number.bad.json", "schema_mismatch: tenant_id: JSON number where the schema has string"},
	})
}

// TestPure keeps normalize and order free of I/O: no Kafka, ClickHouse, Vault or HTTP.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../order").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"kafka", "clickhouse", "vault", "net/http", "database/sql", "prometheus"} {
			if strings.Contains(dep, banned) {
				t.Errorf("normalize or order depends on %s", dep)
			}
		}
	}
}

func TestErrorsNeverCarryPayloadText(t *testing.T) {
	// A wrong type inside a personal-data field must not echo the value.
	msg := []byte(`{"tenant_id":"acme","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"order":{"AmazonOrderId":"202-1234567-7654321","BuyerInfo":{"BuyerEmail":["secret.buyer@example.com"]}}}}`)
	_, err := Normalize(msg)
	if err == nil {
		t.Fatal("want an error")
	}
	if bytes.Contains([]byte(err.Error()), []byte("secret.buyer")) {
		t.Errorf("error %q quotes the payload", err)
	}
}

// A failure carries the envelope's tenant id when the envelope could be read
// and the id is valid, so that the dead letter can be encrypted under the
// tenant's key (and shredded with it); never an invalid id, and never when
// the message cannot be read as an envelope at all.
func TestErrorsCarryTheEnvelopesValidTenant(t *testing.T) {
	for file, want := range map[string]string{
		"envelope/unknown-channel.bad.json":   "acme",
		"envelope/missing-payload.bad.json":   "acme",
		"envelope/bad-received-at.bad.json":   "acme",
		"amazon/bad/amount-exponent.bad.json": "bramble-home",
		"envelope/bad-tenant.bad.json":        "",
		"envelope/missing-tenant.bad.json":    "",
		"envelope/truncated.bad.json":         "",
		"envelope/tenant-number.bad.json":     "",
	} {
		_, err := Normalize(normalizetest.Read(t, filepath.Join("testdata", file)))
		if err == nil {
			t.Fatalf("%s normalised", file)
		}
		if got := TenantOf(err); got != want {
			t.Errorf("%s: TenantOf = %q, want %q", file, got, want)
		}
		if want != "" && strings.Contains(err.Error(), want) {
			t.Errorf("%s: the error text %q names the tenant: it is carried beside the message, not in it", file, err)
		}
	}
}
