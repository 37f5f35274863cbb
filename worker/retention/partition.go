package retention

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/order"
)

// partition is one partition of a table, from its active parts.
type partition struct {
	text string // system.parts.partition: "20261128", "('GB',202611)"
	id   string // system.parts.partition_id: the name DROP PARTITION ID takes
	rows uint64 // physical rows of its active parts
	// key is the partition's value of the time part of the partition key
	// (toYYYYMMDD or toYYYYMM of purchased_at); jurisdiction is the other
	// part, for financial_records.
	key          uint32
	jurisdiction string
}

// partitionID is what a partition_id looks like (a number, "all", or a hash of
// a tuple); anything else is never put into SQL.
var partitionID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// partitions lists t's partitions that hold rows. After a mutation, parts
// with 0 rows may linger as active: such partitions are left out.
func (p *Purger) partitions(ctx context.Context, t table) ([]partition, error) {
	var out []partition
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var pt partition
		if err := rows.Scan(&pt.text, &pt.id, &pt.rows); err != nil {
			return err
		}
		out = append(out, pt)
		return nil
	}, "SELECT partition, partition_id, sum(rows) AS n FROM system.parts"+
		" WHERE database = ? AND table = ? AND active"+
		" GROUP BY partition, partition_id HAVING n > 0 ORDER BY partition",
		t.database, t.name); err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	return out, nil
}

// parse fills the partition's key (and jurisdiction) from its text.
func (pt *partition) parse(byJurisdiction bool) error {
	if !partitionID.MatchString(pt.id) {
		return fmt.Errorf("partition %s has an unexpected id %q", pt.text, pt.id)
	}
	var err error
	if byJurisdiction {
		pt.jurisdiction, pt.key, err = parseJurisdictionMonth(pt.text)
	} else {
		pt.key, err = parseKey(pt.text)
	}
	if err != nil {
		return fmt.Errorf("partition %s: %w", pt.text, err)
	}
	return nil
}

func parseKey(s string) (uint32, error) {
	k, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("not a YYYYMM or YYYYMMDD partition value")
	}
	return uint32(k), nil
}

// parseJurisdictionMonth reads a (jurisdiction, toYYYYMM) partition as
// system.parts writes it, such as ('GB',202611), the jurisdiction quoted and
// backslash-escaped (and empty when the record has none).
func parseJurisdictionMonth(s string) (string, uint32, error) {
	bad := fmt.Errorf("not a (jurisdiction, YYYYMM) partition value")
	rest, ok := strings.CutPrefix(s, "('")
	if !ok {
		return "", 0, bad
	}
	var j strings.Builder
	for {
		if rest == "" {
			return "", 0, bad
		}
		c := rest[0]
		rest = rest[1:]
		if c == '\'' {
			break
		}
		if c == '\\' {
			if rest == "" {
				return "", 0, bad
			}
			c, rest = unescape(rest[0]), rest[1:]
		}
		j.WriteByte(c)
	}
	rest, ok = strings.CutPrefix(rest, ",")
	if !ok {
		return "", 0, bad
	}
	num, ok := strings.CutSuffix(strings.TrimSpace(rest), ")")
	if !ok {
		return "", 0, bad
	}
	k, err := parseKey(num)
	if err != nil {
		return "", 0, bad
	}
	return j.String(), k, nil
}

// unescape is the byte a backslash escape in a ClickHouse string literal
// stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	}
	return c
}

// keyAt returns fn(t) as ClickHouse computes it for a DateTime, in the
// server's time zone as the table's partitioning does: the partition that
// holds instant t.
func (p *Purger) keyAt(ctx context.Context, fn string, t time.Time) (uint32, error) {
	if t.Unix() < 0 || t.Unix() > math.MaxUint32 {
		return 0, fmt.Errorf("%s is outside ClickHouse's DateTime range", t.Format(time.RFC3339))
	}
	var k uint32
	if err := p.cfg.Conn.QueryRow(ctx, fmt.Sprintf("SELECT %s(toDateTime(%d))", fn, t.Unix())).Scan(&k); err != nil {
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
	if s == "" || order.ValidCountryCode(s) {
		return "'" + s + "'"
	}
	return "unhex('" + hex.EncodeToString([]byte(s)) + "')"
}
