package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/order"
)

// refBlockRows is the rows of one block insert in reference (b).
const refBlockRows = 10_000

// refTable is reference (b)'s scratch copy of order_facts, in the run's
// analytics database (dropped with it).
const refTable = "bench_" + schema.TableOrderFacts

// insertReference is reference (b): bare clickhouse-go block inserts of rows
// rows into a copy of order_facts (same columns, same engine and
// partitioning), refBlockRows at a time, with values shaped like the
// worker's: a few tenants, unique order ids, purchase dates over the month
// before now, Vault-token-sized buyer tokens. It is the ceiling for writing
// on this machine. The blocks are made before the clock starts, a few
// distinct ones cycled with fresh order ids, so that the time is ClickHouse's
// and the driver's.
func insertReference(ctx context.Context, conn driver.Conn, database string, rows int64, seed uint64, now time.Time, interval time.Duration) (Throughput, error) {
	table := database + "." + refTable
	if err := conn.Exec(ctx, "CREATE TABLE "+table+" AS "+database+"."+schema.TableOrderFacts); err != nil {
		return Throughput{}, fmt.Errorf("reference (b): create %s: %w", table, err)
	}
	if err := checkRefColumns(ctx, conn, database); err != nil {
		return Throughput{}, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	const distinct = 4
	blocks := make([]*refFacts, distinct)
	for i := range blocks {
		blocks[i] = newRefFacts(rng, refBlockRows, now)
	}
	insert := "INSERT INTO " + table + " (" + strings.Join(refFactColumns, ", ") + ")"

	start := time.Now()
	var done atomic.Int64
	s := newSampler(start, interval, func() float64 { return float64(done.Load()) })
	first := 0.0
	err := func() error {
		for n := 0; done.Load() < rows; n++ {
			b := blocks[n%distinct]
			size := int(min(int64(refBlockRows), rows-done.Load()))
			b.renumber(uint64(n) * refBlockRows)
			if err := sendRefBlock(ctx, conn, insert, b, size); err != nil {
				return fmt.Errorf("block %d: %w", n, err)
			}
			if n == 0 {
				first = time.Since(start).Seconds()
			}
			done.Add(int64(size))
		}
		return nil
	}()
	end := time.Since(start).Seconds()
	samples := s.stop(end, float64(done.Load()))
	if err != nil {
		return Throughput{}, fmt.Errorf("reference (b): after %d of %d rows: %w", done.Load(), rows, err)
	}
	return newThroughput(rows, first, end, samples, samples), nil
}

func sendRefBlock(ctx context.Context, conn driver.Conn, insert string, b *refFacts, n int) error {
	batch, err := conn.PrepareBatch(ctx, insert)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() { _ = batch.Close() }() // a no-op once sent
	for i, col := range b.columns(n) {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", refFactColumns[i], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// checkRefColumns fails when order_facts has columns the reference does not
// fill (or lacks ones it does): the schema moved on, and so must this file.
func checkRefColumns(ctx context.Context, conn driver.Conn, database string) error {
	var have []string
	if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		have = append(have, name)
		return nil
	}, "SELECT name FROM system.columns WHERE database = ? AND table = ?", database, refTable); err != nil {
		return fmt.Errorf("reference (b): columns of %s: %w", refTable, err)
	}
	want := slices.Clone(refFactColumns)
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return fmt.Errorf("reference (b): order_facts has columns %v but the bench fills %v: update worker/bench/insertref.go", have, want)
	}
	return nil
}

// refFactColumns are order_facts' columns in the order refFacts.columns
// returns them.
var refFactColumns = []string{
	"tenant_id", "channel", "channel_order_id", "version", "schema_version", "source_format",
	"marketplace", "seller_order_id", "status", "payment_status", "source_status", "cancel_requested",
	"fulfilment", "is_prime", "is_business", "ship_service_level", "purchased_at", "source_updated_at",
	"received_at", "latest_ship_at", "latest_delivery_at", "buyer_name_token", "buyer_email_token",
	"buyer_phone_token", "buyer_username_token", "buyer_user_id_token", "ship_country",
	"ship_address_type", "ship_postcode_area", "billing_country", "billing_postcode_area", "currency",
	"subtotal", "tax", "shipping", "discount", "total", "marketplace_tax", "refunded", "line_count",
	"units", "written_at",
}

// refFacts is a block of order_facts rows as columns.
type refFacts struct {
	tenantID, channel, channelOrderID                                               []string
	version                                                                         []uint64
	schemaVersion                                                                   []uint8
	sourceFormat, marketplace, sellerOrderID, status, paymentStatus, sourceStatus   []string
	cancelRequested                                                                 []uint8
	fulfilment                                                                      []string
	isPrime, isBusiness                                                             []uint8
	shipServiceLevel                                                                []string
	purchasedAt, sourceUpdatedAt, receivedAt                                        []int64
	latestShipAt, latestDeliveryAt                                                  []*time.Time
	buyerName, buyerEmail, buyerPhone, buyerUsername, buyerUserID                   []string
	shipCountry, shipAddressType, shipPostcodeArea, billingCountry, billingPostcode []string
	currency                                                                        []string
	subtotal, tax, shipping, discount, total, marketplaceTax, refunded              []decimal.Decimal
	lineCount                                                                       []uint16
	units                                                                           []uint32
	writtenAt                                                                       []int64
}

// columns returns the first n rows of each column, in refFactColumns order.
func (f *refFacts) columns(n int) []any {
	return []any{
		f.tenantID[:n], f.channel[:n], f.channelOrderID[:n], f.version[:n], f.schemaVersion[:n], f.sourceFormat[:n],
		f.marketplace[:n], f.sellerOrderID[:n], f.status[:n], f.paymentStatus[:n], f.sourceStatus[:n], f.cancelRequested[:n],
		f.fulfilment[:n], f.isPrime[:n], f.isBusiness[:n], f.shipServiceLevel[:n], f.purchasedAt[:n], f.sourceUpdatedAt[:n],
		f.receivedAt[:n], f.latestShipAt[:n], f.latestDeliveryAt[:n], f.buyerName[:n], f.buyerEmail[:n],
		f.buyerPhone[:n], f.buyerUsername[:n], f.buyerUserID[:n], f.shipCountry[:n],
		f.shipAddressType[:n], f.shipPostcodeArea[:n], f.billingCountry[:n], f.billingPostcode[:n], f.currency[:n],
		f.subtotal[:n], f.tax[:n], f.shipping[:n], f.discount[:n], f.total[:n], f.marketplaceTax[:n], f.refunded[:n], f.lineCount[:n],
		f.units[:n], f.writtenAt[:n],
	}
}

// renumber gives the block's rows fresh order ids from base on.
func (f *refFacts) renumber(base uint64) {
	for i := range f.channelOrderID {
		seq := base + uint64(i)
		if f.channel[i] == string(order.ChannelAmazon) {
			f.channelOrderID[i] = fmt.Sprintf("%03d-%07d-%07d", 202+seq%8, seq%10_000_000, (seq*7919)%10_000_000)
		} else {
			f.channelOrderID[i] = fmt.Sprintf("%02d-%05d-%05d", 10+seq%90, seq/100_000%100_000, seq%100_000)
		}
	}
}

var (
	refTenants      = []string{"acme-home", "brightside-books", "cobble-and-twine"}
	refStatuses     = []string{"unshipped", "unshipped", "unshipped", "shipped", "shipped", "pending", "cancelled", "partially_shipped"}
	refSourceStatus = map[string]string{"unshipped": "Unshipped", "shipped": "Shipped", "pending": "Pending", "cancelled": "Canceled", "partially_shipped": "PartiallyShipped"}
	refPostcodes    = []string{"SW", "M", "B", "LS", "G", "EH", "BS", "NG", "CF", "EX", "SY", "OX", "CB", "BT", "NE", "L"}
	refLevels       = []string{"Standard", "Standard", "Expedited", "NextDay", "SecondDay"}
)

// newRefFacts makes n rows.
func newRefFacts(rng *rand.Rand, n int, now time.Time) *refFacts {
	f := &refFacts{}
	nowS := now.Unix()
	token := func() string {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return "vault:v1:" + base64.StdEncoding.EncodeToString(b[:])
	}
	money := func(pence int64) decimal.Decimal { return decimal.New(pence, -2) }
	for range n {
		amazon := rng.IntN(10) < 6
		ch, format, market := string(order.ChannelEbay), order.SourceEbayFulfillmentV1, "EBAY_GB"
		if amazon {
			ch, format, market = string(order.ChannelAmazon), order.SourceAmazonOrdersV0, "A1F83G8C2ARO7P"
			if rng.IntN(4) == 0 {
				format = order.SourceAmazonOrders202601
			}
		}
		status := refStatuses[rng.IntN(len(refStatuses))]
		purchased := nowS - rng.Int64N(30*24*3600)
		updated := purchased + rng.Int64N(3*24*3600)
		lines := 1 + rng.IntN(5)
		subtotal := int64(lines) * (499 + rng.Int64N(8000))
		shipping := []int64{0, 299, 399, 499}[rng.IntN(4)]
		tax := (subtotal + shipping) / 6 // UK VAT inside a VAT-inclusive price
		discount := 0
		if rng.IntN(10) == 0 {
			discount = 100 * (1 + rng.IntN(10))
		}
		total := subtotal + shipping - int64(discount)
		refunded := int64(0)
		if status == "shipped" && rng.IntN(20) == 0 {
			refunded = total / 2
		}
		currency, country := "GBP", "GB"
		if rng.IntN(20) == 0 {
			currency, country = "EUR", []string{"IE", "DE", "FR"}[rng.IntN(3)]
		}
		area := refPostcodes[rng.IntN(len(refPostcodes))]
		seller := ""
		if amazon && rng.IntN(3) == 0 {
			seller = "AH-" + now.Format("2006") + "-" + strconv.Itoa(100000+rng.IntN(900000))
		}
		payment := "paid"
		switch status {
		case "pending":
			payment = "pending"
		case "cancelled":
			payment = "voided"
		}
		if refunded > 0 {
			payment = "partially_refunded"
		}
		var shipBy, deliverBy *time.Time
		if amazon {
			s := time.Unix(purchased+2*24*3600, 0).UTC()
			d := time.Unix(purchased+5*24*3600, 0).UTC()
			shipBy, deliverBy = &s, &d
		}
		f.tenantID = append(f.tenantID, refTenants[rng.IntN(len(refTenants))])
		f.channel = append(f.channel, ch)
		f.channelOrderID = append(f.channelOrderID, "")
		f.version = append(f.version, uint64(updated)*1000+uint64(rng.IntN(1000)))
		f.schemaVersion = append(f.schemaVersion, 1)
		f.sourceFormat = append(f.sourceFormat, format)
		f.marketplace = append(f.marketplace, market)
		f.sellerOrderID = append(f.sellerOrderID, seller)
		f.status = append(f.status, status)
		f.paymentStatus = append(f.paymentStatus, payment)
		f.sourceStatus = append(f.sourceStatus, refSourceStatus[status])
		f.cancelRequested = append(f.cancelRequested, boolByte(rng.IntN(50) == 0))
		f.fulfilment = append(f.fulfilment, []string{"merchant", "merchant", "merchant", "marketplace"}[rng.IntN(4)])
		f.isPrime = append(f.isPrime, boolByte(amazon && rng.IntN(3) == 0))
		f.isBusiness = append(f.isBusiness, boolByte(rng.IntN(25) == 0))
		f.shipServiceLevel = append(f.shipServiceLevel, refLevels[rng.IntN(len(refLevels))])
		f.purchasedAt = append(f.purchasedAt, purchased)
		f.sourceUpdatedAt = append(f.sourceUpdatedAt, updated)
		f.receivedAt = append(f.receivedAt, updated+rng.Int64N(60))
		f.latestShipAt = append(f.latestShipAt, shipBy)
		f.latestDeliveryAt = append(f.latestDeliveryAt, deliverBy)
		f.buyerName = append(f.buyerName, token())
		f.buyerEmail = append(f.buyerEmail, token())
		phone := ""
		if rng.IntN(2) == 0 {
			phone = token()
		}
		f.buyerPhone = append(f.buyerPhone, phone)
		user, userID := "", ""
		if !amazon {
			user, userID = token(), token()
		}
		f.buyerUsername = append(f.buyerUsername, user)
		f.buyerUserID = append(f.buyerUserID, userID)
		f.shipCountry = append(f.shipCountry, country)
		f.shipAddressType = append(f.shipAddressType, []string{"", "Residential", "Commercial"}[rng.IntN(3)])
		f.shipPostcodeArea = append(f.shipPostcodeArea, area)
		f.billingCountry = append(f.billingCountry, country)
		f.billingPostcode = append(f.billingPostcode, area)
		f.currency = append(f.currency, currency)
		f.subtotal = append(f.subtotal, money(subtotal))
		f.tax = append(f.tax, money(tax))
		f.shipping = append(f.shipping, money(shipping))
		f.discount = append(f.discount, money(int64(discount)))
		f.total = append(f.total, money(total))
		f.marketplaceTax = append(f.marketplaceTax, money(0))
		f.refunded = append(f.refunded, money(refunded))
		f.lineCount = append(f.lineCount, uint16(lines))
		f.units = append(f.units, uint32(lines+rng.IntN(2)))
		f.writtenAt = append(f.writtenAt, nowS)
	}
	return f
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
