package clickhousedb

import "testing"

// ClickHouse 18.16 logs a rebuilt table's parts under the name it was
// created with; they count as the table's. Other names stay as they are.
func TestRebuiltAs(t *testing.T) {
	for in, want := range map[string]string{
		"delivery_labels_0013_new":   "delivery_labels",
		"financial_records_0021_new": "financial_records",
		"delivery_labels":            "delivery_labels",
		"delivery_labels_0013_old":   "delivery_labels_0013_old",
		"x_13_new":                   "x_13_new",
	} {
		if got := rebuiltAs(in); got != want {
			t.Errorf("rebuiltAs(%s) = %s, want %s", in, got, want)
		}
	}
}
