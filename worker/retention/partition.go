package retention

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
)

// partition is one partition of a table, from its active parts.
type partition struct {
	text string // system.parts.partition: "202611", "2027"
	id   string // system.parts.partition_id: the name DROP PARTITION ID takes
	rows uint64 // physical rows of its active parts
	// key is the partition's value of the table's time key
	// (config.TimeKey: a YYYYMM month, a financial year's YYYY).
	key uint32
}

// partitionID is what a partition_id looks like (a number, "all", or a hash of
// a tuple); anything else is never put into SQL.
var partitionID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// partitions lists t's partitions that hold rows: in cluster mode those of
// every shard's table, whose rows are summed, since a partition may be on
// some shards only. After a mutation, parts with 0 rows may linger as active:
// such partitions are left out.
func (p *Purger) partitions(ctx context.Context, t table) ([]partition, error) {
	c := p.copiesOf(t)
	var out []partition
	at := map[string]int{} // partition_id: index in out
	for _, conn := range c.shards {
		if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
			var pt partition
			if err := rows.Scan(&pt.text, &pt.id, &pt.rows); err != nil {
				return err
			}
			if i, ok := at[pt.id]; ok {
				out[i].rows += pt.rows
				return nil
			}
			at[pt.id] = len(out)
			out = append(out, pt)
			return nil
		}, "SELECT partition, partition_id, sum(rows) AS n FROM system.parts"+
			" WHERE database = ? AND table = ? AND active"+
			" GROUP BY partition, partition_id HAVING n > 0 ORDER BY partition",
			c.database, c.name); err != nil {
			return nil, fmt.Errorf("listing partitions: %w", err)
		}
	}
	return out, nil
}

// parse fills the partition's key from its text: a whole number, as every
// time key's values are.
func (pt *partition) parse() error {
	if !partitionID.MatchString(pt.id) {
		return fmt.Errorf("partition %s has an unexpected id %q", pt.text, pt.id)
	}
	k, err := strconv.ParseUint(pt.text, 10, 32)
	if err != nil {
		return fmt.Errorf("partition %s: not a whole number, as a month (YYYYMM) or a financial year (YYYY) is", pt.text)
	}
	pt.key = uint32(k)
	return nil
}

// keyAt returns the time key of instant t as ClickHouse computes it for a
// DateTime, in the server's time zone as the table's partitioning does: the
// partition that holds t.
func (p *Purger) keyAt(ctx context.Context, key config.TimeKey, t time.Time) (uint32, error) {
	if t.Unix() < 0 || t.Unix() > math.MaxUint32 {
		return 0, fmt.Errorf("%s is outside ClickHouse's DateTime range", t.Format(time.RFC3339))
	}
	var k uint32
	if err := p.cfg.Conn.QueryRow(ctx, "SELECT toUInt32("+key.Of(fmt.Sprintf("toDateTime(%d)", t.Unix()))+")").Scan(&k); err != nil {
		return 0, fmt.Errorf("computing the partition of %s: %w", t.Format(time.RFC3339), err)
	}
	return k, nil
}

// dateTime is t as an exact DateTime literal, readable in purge_log: the
// instant is named in UTC, so the server's time zone does not shift it.
func dateTime(t time.Time) string {
	return "toDateTime('" + t.UTC().Format(time.DateTime) + "', 'UTC')"
}

// stringLiteral quotes a jurisdiction for SQL: a country code or the empty
// string as it is, anything else (which the writer should never store)
// hex-encoded, so that no value can break out of the literal.
func stringLiteral(s string) string {
	return clickhousedb.Literal(s, s == "" || order.ValidCountryCode(s))
}
