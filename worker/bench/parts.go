package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// Parts is how many data parts the worker's inserts created in one phase,
// read from ClickHouse's system.part_log: every part is a file set that
// ClickHouse must later merge, so parts per batch is what an insert costs the
// server beyond its rows ("too many parts" is what breaks first).
//
// part_log has no query id on 18.16 and times to the second, so parts cannot
// be told to a batch: the figures are means over the phase's batches.
type Parts struct {
	Phase string `json:"phase"` // "drain" or "live 2000/s"
	// Batches are the pipeline batches the worker committed in the phase.
	Batches int64 `json:"batches"`
	// Tables are the parts by table the worker's batches write to (those its
	// insert metrics name).
	Tables map[string]TableParts `json:"tables"`
	// Total is the parts of Tables, and PerBatch Total ÷ Batches.
	Total    int64   `json:"total"`
	PerBatch float64 `json:"per_batch"`
	// Other is the parts by table in the run's databases that no batch
	// insert made (the blocklist's heartbeats), counted apart.
	Other map[string]int64 `json:"other,omitempty"`
}

// TableParts is one table's parts in a phase.
type TableParts struct {
	Parts int64 `json:"parts"`
	// Inserts are the block inserts the worker sent to the table.
	Inserts   int64   `json:"inserts"`
	PerBatch  float64 `json:"per_batch"`
	PerInsert float64 `json:"per_insert"`
}

// partsMark is the cumulative state at a phase boundary: parts created so far
// in the run's databases (system.part_log), and the worker's batches and
// block inserts by table so far (its /metrics).
type partsMark struct {
	Parts   map[string]int64
	Inserts map[string]int64
	Batches int64
}

// newParts is the phase between two marks. The tables of the batch inserts are
// those in the later mark's insert counts; every other table's parts go to
// Other.
func newParts(phase string, from, to partsMark) Parts {
	p := Parts{Phase: phase, Batches: to.Batches - from.Batches, Tables: map[string]TableParts{}}
	per := func(n, d int64) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / float64(d)
	}
	for table, n := range to.Inserts {
		inserts := n - from.Inserts[table]
		parts := to.Parts[table] - from.Parts[table]
		p.Tables[table] = TableParts{Parts: parts, Inserts: inserts, PerBatch: per(parts, p.Batches), PerInsert: per(parts, inserts)}
		p.Total += parts
	}
	p.PerBatch = per(p.Total, p.Batches)
	for _, table := range slices.Sorted(maps.Keys(to.Parts)) {
		if _, batch := to.Inserts[table]; batch {
			continue
		}
		if n := to.Parts[table] - from.Parts[table]; n != 0 {
			if p.Other == nil {
				p.Other = map[string]int64{}
			}
			p.Other[table] = n
		}
	}
	return p
}

// partCounts counts the parts inserts have written since the given time in
// the run's two databases, by table (clickhousedb.NewParts: a migration's
// rebuilt tables under their own names), leaving out reference (b)'s scratch
// table. The counts are cumulative: a phase is the difference of two.
func partCounts(ctx context.Context, conn driver.Conn, n names, since time.Time) (map[string]int64, error) {
	byTable, err := clickhousedb.NewParts(ctx, conn, since, n.Database, n.Restricted)
	if err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	counts := map[string]int64{}
	for qualified, c := range byTable {
		_, table, _ := strings.Cut(qualified, ".")
		if table != refTable {
			counts[table] += int64(c)
		}
	}
	return counts, nil
}

// PartitionParts is the partition with the most active parts.
type PartitionParts struct {
	Table     string // database.table
	Partition string
	Parts     uint64
}

// maxActiveParts finds the partition with the most active parts in the run's
// two databases (system.parts): what ClickHouse's parts_to_throw_insert
// limits, and what grows when merges fall behind the inserts. No parts at
// all is zero parts.
func maxActiveParts(ctx context.Context, conn driver.Conn, n names) (PartitionParts, error) {
	var p PartitionParts
	err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var db, table string
		if err := rows.Scan(&db, &table, &p.Partition, &p.Parts); err != nil {
			return err
		}
		p.Table = db + "." + table
		return nil
	}, "SELECT database, table, partition, count() AS n FROM system.parts"+
		" WHERE active AND database IN (?, ?) GROUP BY database, table, partition ORDER BY n DESC LIMIT 1", n.Database, n.Restricted)
	if err != nil {
		return PartitionParts{}, fmt.Errorf("active parts per partition: %w", err)
	}
	return p, nil
}
