package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/transit"
)

// Connector is what the couriers' work needs of a courier connector
// (connectors/courier/clickanddrop, connectors/courier/webhook): one Result
// per Delivery, at the same index. Its error means no Result can be trusted;
// one matching courier.ErrCredentialsRefused stops the dispatcher.
type Connector interface {
	Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error)
}

// Decrypter decrypts a tenant's ciphertexts in one call (transit.Client).
type Decrypter interface {
	Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error)
}

// ErasedOrders says whether a buyer's erasure has registered an order
// (retention.Blocklist, as of its last reload).
type ErasedOrders interface {
	Erased(tenant, channel, channelOrderID string) bool
}

// CouriersConfig configures the couriers' work.
type CouriersConfig struct {
	Decrypter Decrypter
	// Erased are the orders whose buyers asked for erasure: their labels
	// are neither decrypted nor sent (a cancel, which carries no label, still
	// is). Default: none.
	Erased ErasedOrders
	// Connectors are the configured connectors (config's connectors
	// section): routing by tenant, and each one's settings.
	Connectors config.Connectors
	// Deliverers are the connectors built from Connectors, by name: one for
	// every delivery connector.
	Deliverers map[string]Connector
	// AllowLists are schemas/policy/connectors.yaml's. Default: loaded.
	AllowLists *policy.AllowLists
	Logger     *slog.Logger
}

// couriers is the courier outbox's work: outbox.Jobs, their delivery labels
// decrypted in one call per tenant and projected through the connector's
// allow-list, delivered by the tenant's courier connector.
type couriers struct {
	cfg    CouriersConfig
	routes map[string]route
}

// route is one delivery connector as the couriers' work uses it.
type route struct {
	connector Connector
	allow     policy.AllowList
	settings  config.Connector
}

// Couriers returns the couriers' work; it refuses a delivery connector
// without a Deliverer or an allow-list.
func Couriers(cfg CouriersConfig) (Work, error) {
	if cfg.Decrypter == nil {
		return nil, errors.New("dispatch config Decrypter: required")
	}
	if cfg.AllowLists == nil {
		lists, err := policy.LoadConnectors()
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		cfg.AllowLists = lists
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "dispatch")
	routes := map[string]route{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		c := cfg.Connectors[name]
		if c.Purpose != config.PurposeDelivery {
			continue
		}
		d := cfg.Deliverers[name]
		if d == nil {
			return nil, fmt.Errorf("dispatch: connectors.%s has no connector built", name)
		}
		allow, err := cfg.AllowLists.For(c.Kind)
		if err != nil {
			return nil, fmt.Errorf("dispatch: connectors.%s: %w", name, err)
		}
		routes[name] = route{connector: d, allow: allow, settings: c}
	}
	return &couriers{cfg: cfg, routes: routes}, nil
}

func (c *couriers) Read(m stream.Message) (*Job, error) {
	var j outbox.Job
	if err := json.Unmarshal(m.Value, &j); err != nil || j.Version < 1 || j.Version > outbox.JobVersion ||
		(j.Kind != outbox.KindCreate && j.Kind != outbox.KindCancel) || j.TenantID == "" {
		return nil, errors.New("not a courier job of a version this dispatcher reads")
	}
	name, _ := c.cfg.Connectors.Route(j.TenantID)
	return &Job{Tenant: j.TenantID, Connector: name, Kind: string(j.Kind), IdempotencyKey: j.IdempotencyKey, Value: &j}, nil
}

func (c *couriers) Rate(connector string) (float64, int, bool) {
	r, ok := c.routes[connector]
	if !ok {
		return 0, 0, false
	}
	perSecond, burst := r.settings.Rate()
	return perSecond, burst, true
}

// Withdrawn reports whether the job's buyer has asked for erasure since it
// was read: then its label must not reach the courier.
func (c *couriers) Withdrawn(it *Job) bool {
	j := it.Value.(*outbox.Job)
	return c.cfg.Erased != nil && j.Kind == outbox.KindCreate && c.cfg.Erased.Erased(j.TenantID, string(j.Channel), j.ChannelOrderID)
}

// Prepare decrypts the tenant's labels in one call and projects each job
// through its connector's allow-list. The labels of erased buyers' orders
// are discarded unread.
func (c *couriers) Prepare(ctx context.Context, tenant string, jobs []*Job) error {
	erased := 0
	for _, it := range jobs {
		if it.status == pending && c.Withdrawn(it) {
			it.Discard()
			erased++
		}
	}
	if erased > 0 {
		c.cfg.Logger.Info("dispatch: courier jobs of orders whose buyer asked for erasure are discarded", "tenant", tenant, "jobs", erased)
	}
	labels, err := c.decrypt(ctx, tenant, jobs)
	if err != nil {
		return err
	}
	for i, it := range jobs {
		if it.status != pending {
			continue
		}
		j := it.Value.(*outbox.Job)
		r := c.routes[it.Connector]
		p, err := projection.Project(r.allow, projection.Input{
			Label:         labels[i],
			Job:           j,
			Notifications: r.settings.NotificationsOn(tenant),
			Parcel: projection.Parcel{
				WeightGrams: r.settings.Parcel.WeightGrams,
				Format:      r.settings.Parcel.Format,
				ServiceCode: r.settings.Service(j.ShipServiceLevel),
				TariffCode:  r.settings.Parcel.TariffCode,
			},
		})
		if err != nil {
			it.Refuse(ReasonProjection, err)
			continue
		}
		it.Ready = courier.Delivery{Kind: j.Kind, IdempotencyKey: j.IdempotencyKey, OrderReference: j.ChannelOrderID, Fields: p}
	}
	return nil
}

// decrypt returns the label of each of a tenant's jobs, at the same index
// (an empty Document for a cancel, which carries none). Jobs Vault refuses
// alone are parked; a tenant whose keys are gone (offboarded) has its jobs
// discarded, since nothing of the tenant may leave the platform any more.
func (c *couriers) decrypt(ctx context.Context, tenant string, jobs []*Job) ([]protected.Document, error) {
	labels := make([]protected.Document, len(jobs))
	for {
		var at []int
		var cts []string
		for i, it := range jobs {
			if r := it.Value.(*outbox.Job).Recipient; it.status == pending && r != "" {
				at = append(at, i)
				cts = append(cts, r)
			}
		}
		if len(cts) == 0 {
			return labels, nil
		}
		plain, err := c.cfg.Decrypter.Decrypt(ctx, tenant, cts)
		var be *transit.BatchError
		switch {
		case errors.Is(err, transit.ErrTenantOffboarded) || errors.Is(err, transit.ErrKeyNotFound):
			for _, it := range jobs {
				if it.status == pending {
					it.Discard()
				}
			}
			c.cfg.Logger.Info("dispatch: the tenant's keys are gone; its courier jobs are discarded", "tenant", tenant, "jobs", len(jobs))
			return labels, nil
		case errors.As(err, &be) && len(be.Items) > 0:
			for _, ie := range be.Items {
				if ie.Index >= 0 && ie.Index < len(at) {
					jobs[at[ie.Index]].Refuse(ReasonUndecryptable, fmt.Errorf("transit decrypt: %s", ie.Reason))
				}
			}
			continue // the rest again, without the refused ones
		case err != nil:
			return nil, fmt.Errorf("decrypt %d labels of tenant %s: %w", len(cts), tenant, err)
		}
		for n, i := range at {
			doc, err := protected.ParseDocument(plain[n])
			if err != nil {
				jobs[i].Refuse(ReasonUndecryptable, fmt.Errorf("the decrypted label: %w", err))
				continue
			}
			labels[i] = doc
		}
		return labels, nil
	}
}

func (c *couriers) Send(ctx context.Context, connector string, jobs []*Job) ([]courier.Result, error) {
	ds := make([]courier.Delivery, len(jobs))
	for i, it := range jobs {
		ds[i] = it.Ready.(courier.Delivery)
	}
	return c.routes[connector].connector.Deliver(ctx, ds)
}
