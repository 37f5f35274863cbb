package migrate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// A table whose partition key changes is rebuilt (ClickHouse cannot alter a
// partition key): a new table is created beside it, swapped in by name, and
// the old table's rows copied into it before the old table is dropped.
// schemas/clickhouse's 0013 shows the statements:
//
//	CREATE TABLE IF NOT EXISTS db.t_new (...) ... PARTITION BY <new key> ...
//	RENAME TABLE db.t TO db.t_old, db.t_new TO db.t
//	INSERT INTO db.t SELECT * FROM db.t_old
//	DROP TABLE IF EXISTS db.t_old
//	DROP TABLE IF EXISTS db.t_new
//
// The swap comes before the copy so that writers, which insert by name, write
// into the new table from the swap on and lose nothing. The RENAME and the
// INSERT are not idempotent as SQL, so the migrator runs each only while it
// is pending, judged by the tables' state: a second migrator, or a re-run
// after a crash, skips what is done and finishes what is not.
var (
	swapStatement = regexp.MustCompile(`(?is)^\s*RENAME\s+TABLE\s+(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s*,\s*(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s*$`)
	copyStatement = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(\w+)\.(\w+)\s+SELECT\s+\*\s+FROM\s+(\w+)\.(\w+)\s*$`)
	// renameOrInsert is any other RENAME or INSERT, which the migrator
	// refuses: run twice, it would do harm.
	renameOrInsert = regexp.MustCompile(`(?is)^\s*(RENAME|INSERT)\b`)
)

// tableName is a database and a table.
type tableName struct{ db, name string }

func (t tableName) String() string { return t.db + "." + t.name }

// swapTables runs "RENAME TABLE t TO old, new TO t" unless it is done: when
// new is gone, or t already has new's engine and keys (new is then a copy
// left by a migrator that came after the swap: the statements after the copy
// drop it). A rebuild is for a new partition or sort key, which engine_full
// shows; a column's type changes with ALTER. When t itself is missing (a
// crash between the two renames of a server that does them one by one), it
// completes the swap with the second.
func (m *Migrator) swapTables(ctx context.Context, stmt string, t, old, renamed, into tableName) error {
	if into != t {
		return fmt.Errorf("RENAME TABLE %s TO %s, %s TO %s is not a swap: the second rename must be to %s", t, old, renamed, into, t)
	}
	newEngine, newExists, err := m.engine(ctx, renamed)
	if err != nil || !newExists {
		return err
	}
	engine, exists, err := m.engine(ctx, t)
	switch {
	case err != nil:
		return err
	case !exists:
		return m.cfg.Conn.Exec(ctx, "RENAME TABLE "+renamed.String()+" TO "+t.String()+m.onCluster())
	case engine == newEngine:
		return nil
	}
	err = m.cfg.Conn.Exec(ctx, stmt)
	if err != nil {
		// Another migrator swapped them at the same moment.
		if engine, _, err2 := m.engine(ctx, t); err2 == nil && engine == newEngine {
			return nil
		}
	}
	return err
}

// engine reads a table's engine with its keys (system.tables.engine_full);
// false when the table does not exist.
func (m *Migrator) engine(ctx context.Context, t tableName) (string, bool, error) {
	rows, err := m.systemRows(ctx, m.cfg.Conn, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", t.db, t.name)
	if err != nil {
		return "", false, fmt.Errorf("reading the engine of %s: %w", t, err)
	}
	if len(rows) == 0 {
		return "", false, nil
	}
	return rows[0][0], true, nil
}

// copyRows copies every row of from into t, unless from is gone (copied and
// dropped). It first waits for the inserts that may have reached from before
// the swap, then copies partition by partition, dropping each from from once
// copied: a migrator that dies half way copies only the rest again (and the
// partition it was copying, whose copies then collapse as re-delivered
// snapshots do). The columns are named, those of t that are stored.
func (m *Migrator) copyRows(ctx context.Context, conn driver.Conn, t, from tableName) error {
	keys, err := m.systemRows(ctx, conn, "SELECT partition_key FROM system.tables WHERE database = ? AND name = ?", from.db, from.name)
	if err != nil {
		return fmt.Errorf("reading the partition key of %s: %w", from, err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := m.awaitInserts(ctx, conn, t); err != nil {
		return err
	}
	columns, err := m.systemRows(ctx, conn, "SELECT name FROM system.columns WHERE database = ? AND table = ? AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')",
		t.db, t.name)
	if err != nil || len(columns) == 0 {
		return fmt.Errorf("reading the columns of %s (%d): %w", t, len(columns), err)
	}
	partitions, err := m.systemRows(ctx, conn, "SELECT DISTINCT partition, partition_id FROM system.parts WHERE database = ? AND table = ? AND active",
		from.db, from.name)
	if err != nil {
		return fmt.Errorf("listing the partitions of %s: %w", from, err)
	}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c[0]
	}
	cols := strings.Join(names, ", ")
	for _, p := range partitions {
		value, id := p[0], p[1]
		// The partition's value is the server's own literal for it
		// (system.parts), and its key the table's: the rows of exactly that
		// partition. 18.16 has no _partition_id to select by.
		if err := conn.Exec(ctx, "INSERT INTO "+t.String()+" ("+cols+") SELECT "+cols+" FROM "+from.String()+
			" WHERE "+keys[0][0]+" = "+value); err != nil {
			return fmt.Errorf("copying partition %s of %s into %s: %w", id, from, t, err)
		}
		if err := conn.Exec(ctx, "ALTER TABLE "+from.String()+" DROP PARTITION ID '"+id+"'"); err != nil {
			return fmt.Errorf("dropping partition %s of %s once copied: %w", id, from, err)
		}
	}
	m.log.Info("table rebuilt: the old table's partitions copied", "table", t.String(), "count", len(partitions))
	return nil
}

// insertWait bounds the wait for inserts that were running at the swap.
const insertWait = 5 * time.Minute

// awaitInserts waits until the inserts into t that are running now have
// ended. The RENAME waits for the inserts running on the old table, but an
// insert that looked the table up just before it writes into the old table
// just after: such an insert is running (in system.processes) by the time the
// swap has returned, so waiting for those running now covers it.
func (m *Migrator) awaitInserts(ctx context.Context, conn driver.Conn, t tableName) error {
	ctx, cancel := context.WithTimeout(ctx, insertWait)
	defer cancel()
	running := func() (map[string]bool, error) {
		out := map[string]bool{}
		err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
			var id string
			err := rows.Scan(&id)
			out[id] = true
			return err
		}, "SELECT query_id FROM system.processes WHERE match(upper(query), '^\\\\s*INSERT') AND position(query, ?) > 0", t.String())
		return out, err
	}
	waiting, err := running()
	wait := 20 * time.Millisecond
	for err == nil && len(waiting) > 0 {
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%d inserts into %s still running after %s: %w", len(waiting), t, insertWait, err)
		}
		wait = min(2*wait, time.Second)
		var now map[string]bool
		if now, err = running(); err == nil {
			for id := range waiting {
				if !now[id] {
					delete(waiting, id)
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("listing the inserts into %s: %w", t, err)
	}
	return nil
}

// systemRows reads a system table's rows of String columns. ClickHouse
// 18.16 fails such a read when a table it lists is renamed or dropped
// meanwhile, as another migrator's rebuild does: code 60 (unknown table), or
// code 107 (its metadata file gone between listing and reading: a fresh-clone
// CI run saw "Cannot open file .../accounting_postings_0013_new.sql"). It is
// read again, a few times.
func (m *Migrator) systemRows(ctx context.Context, conn driver.Conn, query string, args ...any) ([][]string, error) {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			if err := backoff.Sleep(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return nil, err
			}
		}
		var out [][]string
		err = clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
			row := make([]string, len(rows.Columns()))
			ptrs := make([]any, len(row))
			for i := range row {
				ptrs[i] = &row[i]
			}
			out = append(out, row)
			return rows.Scan(ptrs...)
		}, query, args...)
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 60 && ex.Code != 107 {
			return out, err
		}
	}
	return nil, err
}

// errNotIdempotent is the error of a RENAME or INSERT the migrator cannot
// make idempotent.
var errNotIdempotent = errors.New("a RENAME TABLE or INSERT that is not a table rebuild's swap or copy, which the migrator cannot run twice safely")
