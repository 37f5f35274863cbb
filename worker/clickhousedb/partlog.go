package clickhousedb

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// NewParts counts the parts that inserts created in the given databases at or
// after since (a whole second: part_log's event_time has no finer grain), per
// "database.table", from system.part_log (event NewPart: one per partition an
// insert block touched). Every part is one more for the server to merge, so
// it is what "too many parts" counts: the writer's tests and the bench read
// it to hold a batch to a budget of parts. (event_type is compared by its
// number: 18.16 names it NEW_PART, current releases NewPart.)
//
// The server must log parts (<part_log> in its config.xml; the local stack's
// does): without it system.part_log does not exist, and NewParts says so. It
// flushes the server's logs first (SYSTEM FLUSH LOGS), since part_log is
// written in the background every few seconds.
//
// A table rebuilt by a migration (schemas/clickhouse: created as
// <table>_<NNNN>_new, then renamed to <table>) is logged by ClickHouse 18.16
// under the name it was created with until the server restarts: its parts
// are counted under the table's name.
func NewParts(ctx context.Context, conn driver.Conn, since time.Time, databases ...string) (map[string]uint64, error) {
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, fmt.Errorf("clickhouse: flushing the server's logs: %w", err)
	}
	var exists uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'part_log'").Scan(&exists); err != nil {
		return nil, fmt.Errorf("clickhouse: looking system.part_log up: %w", err)
	}
	if exists == 0 {
		return nil, fmt.Errorf("clickhouse: the server keeps no system.part_log (enable <part_log> in its config.xml)")
	}
	out := map[string]uint64{}
	err := EachRow(ctx, conn, func(rows driver.Rows) error {
		var db, table string
		var n uint64
		if err := rows.Scan(&db, &table, &n); err != nil {
			return err
		}
		out[db+"."+rebuiltAs(table)] += n
		return nil
	}, "SELECT database, table, count() FROM system.part_log"+
		" WHERE toInt8(event_type) = 1 AND has(?, database) AND event_date >= toDate(toDateTime(?)) AND event_time >= toDateTime(?)"+
		" GROUP BY database, table", databases, since.Unix(), since.Unix())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: counting new parts in system.part_log: %w", err)
	}
	return out, nil
}

// rebuiltAs is the name of the table a part_log name stands for: a
// rebuild's new table is the table.
func rebuiltAs(name string) string {
	if table, isNew, ok := schema.RebuildOf(name); ok && isNew {
		return table
	}
	return name
}
