// Package anomaly watches each tenant's recent orders for the pattern of a
// hacked seller account (P12: the platform's sellers count on it to notice
// one before the marketplace does): a burst of orders, or orders suddenly
// shipping to one address or one postcode area. The pipeline shows it every
// order it reads, before the order is protected (Observe); the detector
// keeps, per tenant, the orders first seen within the window, each reduced to
// a salted hash of its delivery address (never the address, never
// exported) and its postcode area, and exports per tenant at scrape time:
//
//	orderflow_tenant_recent_orders{tenant}        orders first seen in the window
//	orderflow_tenant_top_address_share{tenant}    share of them going to the one most common address
//	orderflow_tenant_top_ship_area_share{tenant}  share going to the one most common postcode area
//
// The shares are exported once a tenant has MinOrders in the window; the
// alert rules (dashboards/alerts) compare them with the tenant's own week.
// A tenant's orders are spread over the workers by partition, so each worker
// sees a sample: the rules take the maximum share and the sum of orders.
package anomaly

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
)

// Config configures a Detector. New fills the defaults.
type Config struct {
	// Window is how far back a tenant's orders count. Default 1h.
	Window time.Duration
	// MinOrders is the fewest orders in the window for a tenant's shares to
	// be exported (a share of three orders says nothing). Default 10.
	MinOrders int
	// MaxOrders bounds one tenant's orders held: the oldest go first.
	// Default 20,000.
	MaxOrders int
	// Now: default time.Now.
	Now func() time.Time
}

// Detector keeps the tenants' windows. Safe for concurrent use.
type Detector struct {
	cfg  Config
	salt []byte

	mu      sync.Mutex
	tenants map[string]*tenantWindow
}

type tenantWindow struct {
	seen   map[orderKey]bool
	orders []entry // in the order first seen
}

type orderKey struct {
	channel order.Channel
	id      string
}

type entry struct {
	key  orderKey
	at   time.Time
	addr [16]byte // salted hash of the delivery address; zero for none
	area string
}

// New returns a Detector with a salt of its own: its address hashes mean
// nothing outside this process.
func New(cfg Config) *Detector {
	if cfg.Window <= 0 {
		cfg.Window = time.Hour
	}
	if cfg.MinOrders <= 0 {
		cfg.MinOrders = 10
	}
	if cfg.MaxOrders <= 0 {
		cfg.MaxOrders = 20_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	salt := make([]byte, 32)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	return &Detector{cfg: cfg, salt: salt, tenants: map[string]*tenantWindow{}}
}

// Observe counts an order snapshot; later snapshots of an order already in
// the window change nothing.
func (d *Detector) Observe(o *order.Order) {
	e := entry{key: orderKey{o.Channel, o.ChannelOrderID}, at: d.cfg.Now()}
	if a := o.ShippingAddress; a != nil {
		e.addr = d.addressHash(a)
		e.area = protect.PostcodeArea(a.CountryCode, a.PostalCode)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.tenants[o.TenantID]
	if w == nil {
		w = &tenantWindow{seen: map[orderKey]bool{}}
		d.tenants[o.TenantID] = w
	}
	if w.seen[e.key] {
		return
	}
	w.seen[e.key] = true
	w.orders = append(w.orders, e)
	if len(w.orders) > d.cfg.MaxOrders {
		delete(w.seen, w.orders[0].key)
		w.orders = w.orders[1:]
	}
}

// addressHash identifies a delivery address within this process: country,
// postcode and first line, case and spacing folded.
func (d *Detector) addressHash(a *order.Address) [16]byte {
	fold := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	m := hmac.New(sha256.New, d.salt)
	m.Write([]byte(fold(a.CountryCode) + "\x00" + strings.ReplaceAll(fold(a.PostalCode), " ", "") + "\x00" + fold(a.Line1)))
	var out [16]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Share is a tenant's window as the metrics report it.
type Share struct {
	Orders      int
	TopAddress  float64 // share of the orders to the most common address (orders without one count apart)
	TopArea     float64 // share to the most common postcode area
	Significant bool    // at least MinOrders: the shares are exported
}

// Shares drops what has left the window and returns each tenant's shares.
func (d *Detector) Shares() map[string]Share {
	d.mu.Lock()
	defer d.mu.Unlock()
	cutoff := d.cfg.Now().Add(-d.cfg.Window)
	out := make(map[string]Share, len(d.tenants))
	for tenant, w := range d.tenants {
		i := 0
		for i < len(w.orders) && w.orders[i].at.Before(cutoff) {
			delete(w.seen, w.orders[i].key)
			i++
		}
		w.orders = w.orders[i:]
		if len(w.orders) == 0 {
			delete(d.tenants, tenant)
			continue
		}
		addrs, areas := map[[16]byte]int{}, map[string]int{}
		topAddr, topArea := 0, 0
		for _, e := range w.orders {
			if e.addr != ([16]byte{}) {
				addrs[e.addr]++
				topAddr = max(topAddr, addrs[e.addr])
			}
			if e.area != "" {
				areas[e.area]++
				topArea = max(topArea, areas[e.area])
			}
		}
		n := len(w.orders)
		out[tenant] = Share{Orders: n, TopAddress: float64(topAddr) / float64(n), TopArea: float64(topArea) / float64(n),
			Significant: n >= d.cfg.MinOrders}
	}
	return out
}

var (
	recentDesc = prometheus.NewDesc("orderflow_tenant_recent_orders",
		"Orders of the tenant first seen by this worker within the anomaly window (1h): its sample of the tenant's orders, which the order-spike alert sums over the workers.",
		[]string{"tenant"}, nil)
	addressDesc = prometheus.NewDesc("orderflow_tenant_top_address_share",
		"Share of the tenant's orders in the window going to its one most common delivery address (compared as a salted hash, never stored): high when a hacked account redirects orders to one drop address. Reported from 10 orders in the window.",
		[]string{"tenant"}, nil)
	areaDesc = prometheus.NewDesc("orderflow_tenant_top_ship_area_share",
		"Share of the tenant's orders in the window going to its one most common postcode area. Reported from 10 orders in the window.",
		[]string{"tenant"}, nil)
)

// Describe implements prometheus.Collector.
func (d *Detector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recentDesc
	ch <- addressDesc
	ch <- areaDesc
}

// Collect implements prometheus.Collector: the tenants' windows as they are
// now.
func (d *Detector) Collect(ch chan<- prometheus.Metric) {
	for tenant, s := range d.Shares() {
		ch <- prometheus.MustNewConstMetric(recentDesc, prometheus.GaugeValue, float64(s.Orders), tenant)
		if s.Significant {
			ch <- prometheus.MustNewConstMetric(addressDesc, prometheus.GaugeValue, s.TopAddress, tenant)
			ch <- prometheus.MustNewConstMetric(areaDesc, prometheus.GaugeValue, s.TopArea, tenant)
		}
	}
}
