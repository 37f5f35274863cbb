package breach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testdata/audit.log is lines of the local stack's Vault audit device (HMAC'd
// values), their batches trimmed, times and paths set per case: a login;
// the dispatcher's decrypt of 2 of acme's labels (request, then response);
// the replay's decrypt of one (not batched); a decrypt of 3 Vault refused; 4
// of bramble's; 5 of acme's before the window; acme's encrypt and HMAC;
// 7 under another installation's key prefix; a root token's decrypt of 1;
// and a line cut short.
func readFixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	windowFrom = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	windowTo   = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
)

// Only responses to decrypts of the tenants' keys in the window count, by
// role (the AppRole's name, else the token's display name), with their items
// and refusals; everything else in the log, and a line cut short, is skipped.
func TestReadDecryptsCountsTheWindowsDecryptsByRole(t *testing.T) {
	log := readFixture(t)
	cases := []struct {
		name         string
		tenant, role string
		want         []RoleDecrypts
	}{
		{name: "a tenant", tenant: "acme", want: []RoleDecrypts{
			{Role: "dispatcher", Tenant: "acme", Requests: 2, Items: 5, Refused: 1},
			{Role: "replay", Tenant: "acme", Requests: 1, Items: 1},
			{Role: "token", Tenant: "acme", Requests: 1, Items: 1},
		}},
		{name: "a role", role: "dispatcher", want: []RoleDecrypts{
			{Role: "dispatcher", Tenant: "acme", Requests: 2, Items: 5, Refused: 1},
			{Role: "dispatcher", Tenant: "bramble", Requests: 1, Items: 4},
		}},
		{name: "both", tenant: "bramble", role: "replay", want: []RoleDecrypts{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readDecrypts(bytes.NewReader(log), "transit", "orderflow-", c.tenant, c.role, windowFrom, windowTo)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("decrypts (-want +got):\n%s", diff)
			}
		})
	}
	// Another mount: none of the fixture's calls went to it.
	if got, err := readDecrypts(bytes.NewReader(log), "transit-eu", "orderflow-", "acme", "", windowFrom, windowTo); err != nil || len(got) != 0 {
		t.Errorf("decrypts under another mount = %v, %v; want none", got, err)
	}
}

// Lines longer than the read buffer are read whole when they are decrypts
// (a batch of 20,000 items is counted as such) and skipped otherwise, and
// neither stops the reading.
func TestReadDecryptsReadsLinesLongerThanItsBuffer(t *testing.T) {
	log := readFixture(t)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	var decrypt, encrypt map[string]any
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["type"] != "response" {
			continue
		}
		switch path := m["request"].(map[string]any)["path"]; {
		case path == "transit/encrypt/orderflow-acme-enc":
			encrypt = m
		case path == "transit/decrypt/orderflow-acme-enc" && m["time"] == "2026-12-01T09:00:01.020000000Z":
			decrypt = m
		}
	}
	if decrypt == nil || encrypt == nil {
		t.Fatal("the fixture lacks the dispatcher's decrypt or the encrypt")
	}
	grow := func(m map[string]any, items int, at string) string {
		data := m["request"].(map[string]any)["data"].(map[string]any)
		in := data["batch_input"].([]any)
		batch := make([]any, items)
		for i := range batch {
			batch[i] = in[i%len(in)]
		}
		data["batch_input"] = batch
		m["time"] = at
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	big := []string{grow(encrypt, 20000, "2026-12-01T14:00:00Z"), grow(decrypt, 20000, "2026-12-01T14:00:01Z")}
	for _, l := range big {
		if len(l) <= auditBuffer {
			t.Fatalf("a line of %d bytes: not longer than the buffer", len(l))
		}
	}
	// The long lines first, then the fixture, the last line without its
	// newline: every way a line can end.
	in := big[0] + "\n" + big[1] + "\n" + strings.TrimSuffix(string(log), "\n")
	got, err := readDecrypts(strings.NewReader(in), "transit", "orderflow-", "acme", "dispatcher", windowFrom, windowTo)
	if err != nil {
		t.Fatal(err)
	}
	want := []RoleDecrypts{{Role: "dispatcher", Tenant: "acme", Requests: 3, Items: 20005, Refused: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decrypts (-want +got):\n%s", diff)
	}
}

// BenchmarkReadDecrypts reads a log shaped like the local stack's after a
// test run (50 decrypts in 20,528 lines): the fixture's encrypt and HMAC
// lines 200 times each to every copy of the whole fixture.
func BenchmarkReadDecrypts(b *testing.B) {
	log := readFixture(b)
	var others []byte
	for _, l := range bytes.SplitAfter(log, []byte("\n")) {
		if bytes.Contains(l, []byte(`"path":"transit/encrypt/`)) || bytes.Contains(l, []byte(`"path":"transit/hmac/`)) {
			others = append(others, l...)
		}
	}
	var buf bytes.Buffer
	for buf.Len() < 256<<20 {
		buf.Write(log)
		for range 200 {
			buf.Write(others)
		}
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		got, err := readDecrypts(bytes.NewReader(buf.Bytes()), "transit", "orderflow-", "acme", "", windowFrom, windowTo)
		if err != nil || len(got) == 0 {
			b.Fatal(fmt.Sprint(got, err))
		}
	}
}
