package bench

import (
	"maps"
	"testing"
)

func TestPartsBetweenMarks(t *testing.T) {
	// The migrations wrote schema_migrations parts before the worker; a drain
	// of 20 batches wrote 40 order_facts parts (two months), 620 label parts
	// (31 days) and 60 financial parts, in one insert a table a batch, and
	// two heartbeats.
	baseline := partsMark{Parts: map[string]int64{"schema_migrations": 12}}
	drained := partsMark{
		Parts: map[string]int64{"schema_migrations": 12, "order_facts": 40, "order_line_facts": 40, "delivery_labels": 620,
			"financial_records": 60, "offboard_heartbeats": 2},
		Inserts: map[string]int64{"order_facts": 20, "order_line_facts": 20, "delivery_labels": 20, "financial_records": 20},
		Batches: 20,
	}
	p := newParts("drain", baseline, drained)
	if p.Phase != "drain" || p.Batches != 20 || p.Total != 760 || p.PerBatch != 38 {
		t.Errorf("drain: %d parts in %d batches = %v a batch, want 760 in 20 = 38", p.Total, p.Batches, p.PerBatch)
	}
	want := map[string]TableParts{
		"order_facts":       {Parts: 40, Inserts: 20, PerBatch: 2, PerInsert: 2},
		"order_line_facts":  {Parts: 40, Inserts: 20, PerBatch: 2, PerInsert: 2},
		"delivery_labels":   {Parts: 620, Inserts: 20, PerBatch: 31, PerInsert: 31},
		"financial_records": {Parts: 60, Inserts: 20, PerBatch: 3, PerInsert: 3},
	}
	if !maps.Equal(p.Tables, want) {
		t.Errorf("tables %+v, want %+v", p.Tables, want)
	}
	// The migrations' parts are not the worker's; the heartbeats are not a
	// batch's.
	if !maps.Equal(p.Other, map[string]int64{"offboard_heartbeats": 2}) {
		t.Errorf("other %v, want the two heartbeats only", p.Other)
	}

	// The next phase counts from the drain's end: a live stream of 100
	// small batches whose labels are grouped into two inserts each.
	live := partsMark{
		Parts: map[string]int64{"schema_migrations": 12, "order_facts": 140, "order_line_facts": 140, "delivery_labels": 1020,
			"financial_records": 160, "offboard_heartbeats": 2},
		Inserts: map[string]int64{"order_facts": 120, "order_line_facts": 120, "delivery_labels": 220, "financial_records": 120},
		Batches: 120,
	}
	q := newParts("live 2000/s", drained, live)
	if q.Batches != 100 || q.Total != 700 || q.PerBatch != 7 {
		t.Errorf("live: %d parts in %d batches = %v a batch, want 700 in 100 = 7", q.Total, q.Batches, q.PerBatch)
	}
	if l := q.Tables["delivery_labels"]; l.Parts != 400 || l.Inserts != 200 || l.PerBatch != 4 || l.PerInsert != 2 {
		t.Errorf("live labels %+v, want 400 parts in 200 inserts: 4 a batch, 2 an insert", l)
	}
	if q.Other != nil {
		t.Errorf("live other %v, want none (no heartbeat in the phase)", q.Other)
	}
}

func TestPartsWithoutBatches(t *testing.T) {
	// A phase without a batch (the worker committed nothing) has no mean,
	// not a division by zero.
	m := partsMark{Parts: map[string]int64{"order_facts": 3}, Inserts: map[string]int64{"order_facts": 1}, Batches: 1}
	p := newParts("live 1/s", m, m)
	if p.Batches != 0 || p.Total != 0 || p.PerBatch != 0 || p.Tables["order_facts"].PerBatch != 0 || p.Tables["order_facts"].PerInsert != 0 {
		t.Errorf("empty phase %+v", p)
	}
}
