package facts_test

import (
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// TestNoPlaintextPersonalData writes every fixture and searches every String
// and Array(String) column of every row of the four tables, found through
// system.columns so that a column added later is searched too, for every
// personal value of the canonical orders: the buyer's identifiers, every
// address field but the country and address type, and the free text.
func TestNoPlaintextPersonalData(t *testing.T) { testNoPlaintextPersonalData(t, newStack(t)) }

// The same on the cluster, read through the Distributed tables.
func TestClusterNoPlaintextPersonalData(t *testing.T) {
	testNoPlaintextPersonalData(t, newClusterStack(t))
}

func testNoPlaintextPersonalData(t *testing.T, s *stack) {
	cs, ps := s.ownAll(t)
	w, _ := s.writer(t, nil)
	write(t, w, ps)
	s.sync(t)

	secrets := personalData(cs)
	if len(secrets) < 200 {
		t.Fatalf("only %d personal values in the fixtures: the collection is broken", len(secrets))
	}
	columns, cells := 0, 0
	for _, name := range tables {
		db, tbl, _ := strings.Cut(s.table(name), ".")
		for _, c := range queryRows(t, s.conn, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, tbl) {
			if !strings.Contains(c["type"], "String") {
				continue
			}
			columns++
			for _, r := range queryRows(t, s.conn, "SELECT "+c["name"]+" FROM "+s.table(name)+" FINAL") {
				cell := r[c["name"]]
				cells++
				for _, secret := range secrets {
					// A 4-letter value can turn up in base64 by chance; a
					// leak of plaintext into a ciphertext column is what
					// the longer values would catch anyway.
					if strings.HasPrefix(cell, "vault:") && len(secret) < 8 {
						continue
					}
					if strings.Contains(cell, secret) {
						t.Errorf("%s.%s holds the personal value %q", name, c["name"], secret)
					}
				}
			}
		}
	}
	if columns < 40 || cells < 1000 {
		t.Errorf("searched only %d columns, %d cells", columns, cells)
	}
}

// personalData is every personal value of the orders of at least 4 bytes,
// places included: the tables hold none of them in plaintext.
func personalData(orders []order.Order) []string {
	return privacytest.OrderValues{MinLen: 4, Places: true}.Of(orders)
}
