package demo

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/retention"
)

// Tables are the data tables, in the order the summary prints them.
var Tables = []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords}

// Stored is what ClickHouse holds after a run.
type Stored struct {
	// OrdersByTenant counts orders (order_facts FINAL) by tenant, then channel.
	OrdersByTenant map[string]map[string]uint64
	// Rows counts each of Tables' rows: {stored, under FINAL}. Redelivered
	// and updated snapshots are stored until a merge; FINAL shows one row
	// per order or line.
	Rows map[string][2]uint64
	// Currencies sums the latest snapshot of every order by currency.
	Currencies map[string]Currency
}

// Currency is the orders of one currency.
type Currency struct {
	Orders          uint64
	Total, Refunded string // decimal, as ClickHouse prints it (scale 4)
}

// Query reads what the worker wrote to database and restricted, with FINAL
// wherever it counts orders or sums their amounts: without it, an updated
// order would count once per stored snapshot.
func Query(ctx context.Context, conn driver.Conn, database, restricted string) (Stored, error) {
	s := Stored{OrdersByTenant: map[string]map[string]uint64{}, Rows: map[string][2]uint64{}, Currencies: map[string]Currency{}}
	err := clickhousedb.EachRow(ctx, conn,
		func(rows driver.Rows) error {
			var tenant, channel string
			var n uint64
			if err := rows.Scan(&tenant, &channel, &n); err != nil {
				return err
			}
			if s.OrdersByTenant[tenant] == nil {
				s.OrdersByTenant[tenant] = map[string]uint64{}
			}
			s.OrdersByTenant[tenant][channel] = n
			return nil
		},
		"SELECT tenant_id, toString(channel), count() FROM "+database+"."+schema.TableOrderFacts+" FINAL GROUP BY tenant_id, channel")
	if err != nil {
		return s, fmt.Errorf("orders by tenant: %w", err)
	}

	for _, t := range Tables {
		in, _ := schema.DatabaseOf(t)
		db := in.Name(database, restricted)
		var counts [2]uint64
		for i, final := range []string{"", " FINAL"} {
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+t+final).Scan(&counts[i]); err != nil {
				return s, fmt.Errorf("counting %s: %w", t, err)
			}
		}
		s.Rows[t] = counts
	}

	err = clickhousedb.EachRow(ctx, conn,
		func(rows driver.Rows) error {
			var cur string
			var c Currency
			if err := rows.Scan(&cur, &c.Orders, &c.Total, &c.Refunded); err != nil {
				return err
			}
			s.Currencies[cur] = c
			return nil
		},
		"SELECT currency, count(), toString(sum(total)), toString(sum(refunded)) FROM "+database+"."+schema.TableOrderFacts+" FINAL GROUP BY currency")
	if err != nil {
		return s, fmt.Errorf("totals by currency: %w", err)
	}
	return s, nil
}

// PurgeRows sums a (dry-run) purge pass's rows by table.
func PurgeRows(r retention.Report) map[string]uint64 {
	rows := map[string]uint64{}
	for _, a := range r.Actions {
		rows[a.Table] += a.Rows
	}
	return rows
}
