package clickhouse_test

import (
	"context"
	"regexp"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
)

// replacing are the ReplacingMergeTree tables: a read of one without FINAL
// would count every re-delivered snapshot not yet merged away.
var replacing = map[string]bool{"order_facts": true, "order_line_facts": true, "delivery_labels": true, "financial_records": true}

var tableRead = regexp.MustCompile(`(?i)FROM\s+\{(?:restricted_)?database\}\.(\w+)(\s+FINAL\b)?`)

func TestShippedQueriesReadWithFinal(t *testing.T) {
	qs := schema.Queries()
	if len(qs) < 5 {
		t.Fatalf("%d queries shipped", len(qs))
	}
	for _, q := range qs {
		reads := tableRead.FindAllStringSubmatch(q.SQL, -1)
		if len(reads) == 0 {
			t.Errorf("%s reads no orderflow table", q.Name)
		}
		for _, r := range reads {
			if replacing[r[1]] && r[2] == "" {
				t.Errorf("%s reads %s without FINAL", q.Name, r[1])
			}
		}
	}
}

func TestShippedQueriesRun(t *testing.T) {
	cfg, conn := clickhousetest.Migrated(t)
	for _, q := range schema.Queries() {
		rows, err := conn.Query(context.Background(), q.Render(cfg.Database, cfg.RestrictedDatabase))
		if err != nil {
			t.Errorf("%s: %v", q.Name, err)
			continue
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", q.Name, err)
		}
		rows.Close()
	}
}
