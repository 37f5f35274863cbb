package deadletter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

// TestPublishEncryptsAndReplayRestores: letters are stored as Vault ciphertext with
// their reason headers; a dry run counts without writing; an executed replay puts
// exactly the selected originals back on their source topics, keys and headers
// intact.
func TestPublishEncryptsAndReplayRestores(t *testing.T) {
	ctx, brokers, vault := onStack(t)
	dlq, amazon, ebay := newTopic(t, brokers, "test.dlq", 3), newTopic(t, brokers, "test.amazon", 2), newTopic(t, brokers, "test.ebay", 2)

	type src struct {
		topic, reason, value string
	}
	sources := []src{
		{amazon, "bad_amount", `{"tenant_id":"acme-uk","channel":"amazon","payload":{"order":{"BuyerInfo":{"BuyerEmail":"zoe.bronte@example.co.uk"}}}}`},
		{amazon, "malformed_json", `{"tenant_id":"acme-uk","channel":"amazon","payload":{"order":{"ShippingAddress":{"Name":"Zoë Brontë`},
		{ebay, "bad_amount", `{"tenant_id":"bramble-home","channel":"ebay","payload":{"orderId":"12-34567-89015","buyer":{"username":"gwen_ap_rhys"}}}`},
		{ebay, "missing_field", `{"tenant_id":"bramble-home","channel":"ebay","payload":{}}`},
	}
	letters := make([]deadletter.Letter, len(sources))
	for i, s := range sources {
		letters[i] = deadletter.Letter{
			Source: stream.Message{Topic: s.topic, Partition: i % 2, Offset: int64(100 + i), Time: time.Now(),
				Key: fmt.Appendf(nil, "tenant/%d", i), Value: []byte(s.value),
				Headers: []stream.Header{{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032d-%016d-01", i, i)}}},
			Reason: s.reason, Stage: "normalize", Err: errors.New(s.reason + ": payload.x: rule"),
		}
	}
	stored := publishAndRead(ctx, t, brokers, dlq, vault, letters)
	if len(stored) != len(sources) {
		t.Fatalf("%d letters in the DLQ, want %d", len(stored), len(sources))
	}
	for _, m := range stored {
		for _, s := range sources {
			if bytes.Contains(m.Value, []byte("example.co.uk")) || bytes.Contains(m.Value, []byte(s.value[:20])) {
				t.Errorf("a DLQ payload is stored in clear")
			}
		}
		if !bytes.HasPrefix(m.Value, []byte("vault:v1:")) {
			t.Errorf("DLQ payload does not look like transit ciphertext: %.12q", m.Value)
		}
		// The original key ("<tenant>/<order id>") and headers can hold
		// anything a producer put there: they are sealed with the value, and the
		// letter's own key is its tenant (none here: platform letters).
		if len(m.Key) != 0 {
			t.Errorf("a platform letter has the key %q, want none", m.Key)
		}
		sealed := map[string]string{}
		for _, h := range m.Headers {
			if h.Key == "traceparent" || bytes.HasPrefix(h.Value, []byte("00-")) {
				t.Errorf("an original header is in the clear: %s", h.Key)
			}
			sealed[h.Key] = string(h.Value)
		}
		for _, name := range []string{deadletter.HeaderSourceKey, deadletter.HeaderSourceHeaders} {
			if !strings.HasPrefix(sealed[name], "vault:v1:") {
				t.Errorf("DLQ header %s = %.12q, want transit ciphertext", name, sealed[name])
			}
		}
	}

	base := deadletter.ReplayConfig{Brokers: brokers, Topic: dlq, Decrypter: vault, Blocklist: offboarded{}}
	dry := base
	dry.Reasons = []string{"bad_amount"}
	sum, err := deadletter.Replay(ctx, dry)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if sum.Scanned != 4 || sum.Matched != 2 || sum.Republished != 0 || sum.ByTopic[amazon] != 1 || sum.ByTopic[ebay] != 1 {
		t.Errorf("dry run summary %+v, want 4 scanned, 2 matched, 0 republished, one per topic", sum)
	}
	if ends := stacktest.EndOffsets(t, brokers, amazon, 2); ends[0]+ends[1] != 0 {
		t.Errorf("a dry run wrote to %s", amazon)
	}

	exec := base
	exec.SourceTopics = []string{ebay}
	exec.Since = time.Now().Add(-time.Hour)
	exec.Execute = true
	sum, err = deadletter.Replay(ctx, exec)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if sum.Matched != 2 || sum.Republished != 2 {
		t.Errorf("replay summary %+v, want the 2 eBay letters republished", sum)
	}
	back := stacktest.ReadAll(t, brokers, ebay, 2)
	var got []string
	for _, m := range back {
		got = append(got, string(m.Value))
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if !strings.HasPrefix(h[deadletter.HeaderReplayedFrom], dlq+"/") || h["traceparent"] == "" || h[deadletter.HeaderReason] != "" {
			t.Errorf("replayed headers %v: want replayed_from and the original traceparent, and none of the DLQ's", h)
		}
		if !strings.HasPrefix(string(m.Key), "tenant/") {
			t.Errorf("replayed key %q is not the original", m.Key)
		}
	}
	sort.Strings(got)
	want := []string{sources[2].value, sources[3].value}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replayed values %q, want %q", got, want)
	}
	if ends := stacktest.EndOffsets(t, brokers, amazon, 2); ends[0]+ends[1] != 0 {
		t.Errorf("a replay selected by topic wrote to %s", amazon)
	}

	// A window after every letter selects nothing.
	late := base
	late.Since = time.Now().Add(time.Hour)
	if sum, err := deadletter.Replay(ctx, late); err != nil || sum.Matched != 0 {
		t.Errorf("replay since a future time: %+v, %v", sum, err)
	}
}

func TestPublisherRefusesToStoreInClear(t *testing.T) {
	if _, err := deadletter.New(deadletter.Config{Brokers: []string{"127.0.0.1:1"}, Topic: "orders.dlq"}); err == nil {
		t.Error("a publisher without an encrypter was accepted")
	}
}

// offboarded is the set of offboarded tenants a replay is given.
type offboarded map[string]bool

func (o offboarded) Offboarded(tenant string) bool { return o[tenant] }
func (offboarded) Reload(context.Context) error    { return nil }

// A letter whose tenant is known is encrypted under that tenant's key, and
// says so in its headers; one whose tenant is not, under the platform key.
// Offboarding the tenant (its keys destroyed) shreds its letters and only
// them. A replay skips the letters of offboarded tenants, reports those whose
// key is gone without failing, and puts the others back.
func TestLettersAreEncryptedUnderTheirTenantsKeyAndReplaySkipsOffboardedTenants(t *testing.T) {
	ctx, brokers, vault := onStack(t)
	dlq, source := newTopic(t, brokers, "test.dlq", 3), newTopic(t, brokers, "test.amazon", 1)
	tenants := newTenants(t, vault, "left", "shredded", "kept")
	left, shredded, kept := tenants[0], tenants[1], tenants[2]

	payload := func(tenant string) string {
		return `{"tenant_id":"` + tenant + `","channel":"amazon","payload":{"order":{"BuyerInfo":{"BuyerEmail":"zoe.bronte@example.co.uk"}}}}`
	}
	var letters []deadletter.Letter
	for i, tenant := range []string{left, shredded, kept, ""} {
		value := payload(tenant)
		if tenant == "" {
			value = `{"tenant_id":"Not Valid","payload":{"BuyerEmail":"zoe.bronte@example.co.uk"}}`
		}
		letters = append(letters, deadletter.Letter{
			Source: stream.Message{Topic: source, Offset: int64(i), Time: time.Now(), Key: fmt.Appendf(nil, "k/%d", i), Value: []byte(value)},
			Reason: "bad_amount", Stage: "normalize", TenantID: tenant, Err: errors.New("bad_amount: payload.x: rule"),
		})
	}
	stored := publishAndRead(ctx, t, brokers, dlq, vault, letters)
	if len(stored) != len(letters) {
		t.Fatalf("%d letters stored, want %d", len(stored), len(letters))
	}
	byTenant := map[string]kafka.Message{}
	for _, m := range stored {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		switch h[deadletter.HeaderPayloadKey] {
		case deadletter.PayloadKeyTenant:
			byTenant[h[deadletter.HeaderTenantID]] = m
			plain, err := vault.Decrypt(ctx, h[deadletter.HeaderTenantID], []string{string(m.Value)})
			if err != nil || string(plain[0]) != payload(h[deadletter.HeaderTenantID]) {
				t.Errorf("the letter of %s does not decrypt under its tenant's key: %v", h[deadletter.HeaderTenantID], err)
			}
			if _, err := vault.DecryptPlatform(ctx, []string{string(m.Value)}); err == nil {
				t.Errorf("the letter of %s decrypts under the platform key", h[deadletter.HeaderTenantID])
			}
		case deadletter.PayloadKeyPlatform:
			if h[deadletter.HeaderTenantID] != "" {
				t.Errorf("a platform letter names tenant %q", h[deadletter.HeaderTenantID])
			}
			byTenant[""] = m
			if _, err := vault.DecryptPlatform(ctx, []string{string(m.Value)}); err != nil {
				t.Errorf("the letter without a tenant does not decrypt under the platform key: %v", err)
			}
		default:
			t.Errorf("letter with payload_key %q", h[deadletter.HeaderPayloadKey])
		}
	}
	if len(byTenant) != 4 {
		t.Fatalf("letters by key: %d, want 4", len(byTenant))
	}

	// left is offboarded (listed, keys destroyed); shredded's keys are gone
	// without it being listed (by hand, or the list was not reloaded yet).
	for _, tenant := range []string{left, shredded} {
		if err := vault.DestroyTenantKeys(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vault.Decrypt(ctx, left, []string{string(byTenant[left].Value)}); err == nil {
		t.Error("an offboarded tenant's letter still decrypts")
	}
	cfg := deadletter.ReplayConfig{Brokers: brokers, Topic: dlq, Decrypter: vault, Blocklist: offboarded{left: true}}
	sum, err := deadletter.Replay(ctx, cfg)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if sum.Matched != 4 || sum.Offboarded[left] != 1 || sum.Republished != 0 {
		t.Errorf("dry run %+v: want 4 matched, 1 of them offboarded, none republished", sum)
	}
	cfg.Execute = true
	sum, err = deadletter.Replay(ctx, cfg)
	if err != nil {
		t.Fatalf("replay with a key gone: %v, want it reported, not fatal", err)
	}
	if sum.Matched != 4 || sum.Offboarded[left] != 1 || sum.KeyGone[shredded] != 1 || sum.Republished != 2 {
		t.Errorf("replay %+v: want 4 matched, %s offboarded, %s's key gone, 2 republished", sum, left, shredded)
	}
	var back []string
	for _, m := range stacktest.ReadAll(t, brokers, source, 1) {
		back = append(back, string(m.Value))
	}
	sort.Strings(back)
	want := []string{payload(kept), string(letters[3].Source.Value)}
	sort.Strings(want)
	if fmt.Sprint(back) != fmt.Sprint(want) {
		t.Errorf("republished %q, want the kept tenant's and the platform letter", back)
	}
}

// publishAndRead publishes letters to dlq (three partitions) with a Publisher of
// its own and reads back everything the topic holds.
func publishAndRead(ctx context.Context, t *testing.T, brokers []string, dlq string, vault deadletter.Encrypter, letters []deadletter.Letter) []kafka.Message {
	t.Helper()
	publish(ctx, t, brokers, dlq, vault, letters)
	return stacktest.ReadAll(t, brokers, dlq, 3)
}
