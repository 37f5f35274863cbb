package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stream"
)

// The demo's two connectors, each against its stand-in: the first seller's
// orders go to Royal Mail Click & Drop (delivery notifications on), every
// other seller's to the signed webhook.
const (
	demoClickAndDrop = "royalmail"
	demoWebhook      = "courierhook"
)

// FaultEvery is how often the stand-ins fail a call (503 and 429 with
// Retry-After in turn), so that the demo shows the retries.
const FaultEvery = 10

// Courier is one connector's part of the demo: what the outbox asked of it
// beside what its stand-in holds.
type Courier struct {
	Name, Kind string
	Tenants    []string
	// ReadyOrders are the distinct orders with a create job on the outbox
	// for this connector's tenants; CancelledAfterReady those of them with a
	// cancel job too.
	ReadyOrders, CancelledAfterReady int
	// Created are the distinct orders the stand-in holds; CreatedTwice those
	// it was asked to create a second time under the same reference (Click &
	// Drop: a duplicate; the webhook: the same job delivered again, which the
	// receiver de-duplicates by its webhook-id, counted apart); Updates are
	// later snapshots of an order the webhook receiver filed again (a new
	// job: the address or the service changed while it waited).
	Created, CreatedTwice, Updates int
	// Cancelled are the stand-in's orders cancelled.
	Cancelled int
	// Calls are the requests the stand-in received, Faults those it failed on
	// purpose.
	Calls, Faults int
}

// CourierSummary is the dispatch step's outcome.
type CourierSummary struct {
	Couriers []Courier
	// Parked, Retries and Delivered are the dispatcher's metrics.
	Parked, Retries, Delivered float64
	Elapsed                    time.Duration
}

// runCouriers starts the stand-ins, configures a connector for each, runs
// the dispatcher until it has finished every job on the outbox, and reads
// the ledgers.
func runCouriers(ctx context.Context, cfg Config, app config.Config, admin *kafka.Client, tenants []string, say func(string, ...any)) (CourierSummary, error) {
	var sum CourierSummary
	if len(tenants) == 0 {
		return sum, errors.New("couriers: no seller to route")
	}
	rm, err := clickanddroptest.Start(clickanddroptest.Config{APIKey: "demo-click-and-drop-key"})
	if err != nil {
		return sum, err
	}
	defer rm.Close()
	var rmFaults []clickanddroptest.Fault
	for i := range 10_000 {
		switch {
		case i%FaultEvery != FaultEvery-1:
			rmFaults = append(rmFaults, clickanddroptest.Fault{})
		case i%(2*FaultEvery) == FaultEvery-1:
			rmFaults = append(rmFaults, clickanddroptest.Fault{Status: http.StatusServiceUnavailable})
		default:
			rmFaults = append(rmFaults, clickanddroptest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		}
	}
	rm.Fail(rmFaults...)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		return sum, err
	}
	var hookFaults atomic.Int64 // the receiver asks from its handlers' goroutines
	hook := webhooktest.New(webhooktest.Config{
		Keys: map[string][]byte{"demo-1": key},
		Fault: func(n int) (webhooktest.Fault, bool) {
			switch {
			case n%FaultEvery != FaultEvery-1:
				return webhooktest.Fault{}, false
			case n%(2*FaultEvery) == FaultEvery-1:
				hookFaults.Add(1)
				return webhooktest.Fault{Status: http.StatusBadGateway}, true
			}
			hookFaults.Add(1)
			return webhooktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, true
		},
	})
	defer hook.Close()

	first := tenants[0]
	app.Connectors = config.Connectors{
		demoClickAndDrop: {
			Kind: "clickanddrop", Purpose: config.PurposeDelivery, Endpoint: rm.URL,
			Credentials: config.SecretRef{Value: "demo-click-and-drop-key"},
			Tenants:     []string{first}, Notifications: []string{first},
			RatePerSecond: 50, Burst: 10,
			Parcel:   config.Parcel{WeightGrams: 750, Format: "smallParcel", TariffCode: "420292"},
			Services: map[string]string{"Standard": "CRL1", "NextDay": "TPN24"},
		},
		demoWebhook: {
			Kind: "webhook", Purpose: config.PurposeDelivery, Endpoint: hook.URL,
			Credentials: config.SecretRef{Value: config.Secret(secret)}, KeyID: "demo-1",
			Tenants:       []string{config.AllTenants},
			RatePerSecond: 200, Burst: 50,
			Parcel: config.Parcel{WeightGrams: 500, Format: "parcel"},
		},
	}
	app.Dispatch.GroupID = app.Kafka.GroupID + "-dispatch"
	app.Dispatch.RetryInitial, app.Dispatch.RetryMax = 50*time.Millisecond, time.Second
	if err := app.Validate(); err != nil {
		return sum, fmt.Errorf("couriers: %w", err)
	}

	jobs, err := readOutbox(ctx, app, admin)
	if err != nil {
		return sum, err
	}
	say("dispatching %d courier jobs to Click & Drop (seller %s) and the signed webhook (the others); the stand-ins fail every %dth call ...",
		len(jobs), first, FaultEvery)
	reg := prometheus.NewRegistry()
	start := time.Now()
	if err := runDispatcherUntilDone(ctx, cfg, app, reg, len(jobs), say); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(start)
	f := gather(reg)
	sum.Parked = f.sum("orderflow_connector_parked_total")
	sum.Retries = f.sum("orderflow_connector_retries_total")
	sum.Delivered = f.sumBy("orderflow_connector_jobs_total", "outcome")["delivered"]

	rmCourier := Courier{Name: demoClickAndDrop, Kind: "clickanddrop", Tenants: []string{first}, Calls: len(rm.Calls())}
	hookCourier := Courier{Name: demoWebhook, Kind: "webhook", Tenants: []string{config.AllTenants}, Calls: hook.Requests(), Faults: int(hookFaults.Load())}
	expect(&rmCourier, jobs, func(t string) bool { return t == first })
	expect(&hookCourier, jobs, func(t string) bool { return t != first })
	refs := map[string]int{}
	for _, o := range rm.Orders() {
		refs[o.Reference]++
		if o.Cancelled {
			rmCourier.Cancelled++
		}
	}
	rmCourier.Created, rmCourier.CreatedTwice = len(refs), len(rm.Duplicates())
	for _, c := range rm.Calls() {
		if c.Status == http.StatusServiceUnavailable || c.Status == http.StatusTooManyRequests {
			rmCourier.Faults++
		}
	}
	hookRefs := map[string]bool{}
	for _, d := range hook.Deliveries() {
		if d.Kind != string(outbox.KindCreate) {
			continue
		}
		if hookRefs[d.OrderReference] {
			hookCourier.Updates++
		}
		hookRefs[d.OrderReference] = true
		hookCourier.CreatedTwice += d.Duplicates
	}
	hookCourier.Created = len(hookRefs)
	for ref := range hookRefs {
		if o, _ := hook.Order(ref); o.Cancelled {
			hookCourier.Cancelled++
		}
	}
	sum.Couriers = []Courier{rmCourier, hookCourier}
	if v := rm.Violations(); len(v) > 0 {
		return sum, fmt.Errorf("couriers: %d requests broke Click & Drop's contract, the first: %s", len(v), v[0])
	}
	if r := hook.Refusals(); len(r) > 0 {
		return sum, fmt.Errorf("couriers: the webhook receiver refused %d requests, the first: %d %s", len(r), r[0].Status, r[0].Reason)
	}
	return sum, nil
}

// expect counts what the outbox asks of a connector: the distinct orders
// of its tenants with a create job, and of those the ones cancelled later.
func expect(c *Courier, jobs []outbox.Job, mine func(tenant string) bool) {
	ready, cancelled := map[string]bool{}, map[string]bool{}
	for _, j := range jobs {
		if !mine(j.TenantID) {
			continue
		}
		switch j.Kind {
		case outbox.KindCreate:
			ready[j.Key()] = true
		case outbox.KindCancel:
			if ready[j.Key()] {
				cancelled[j.Key()] = true
			}
		}
	}
	c.ReadyOrders, c.CancelledAfterReady = len(ready), len(cancelled)
}

// readOutbox reads every job the worker wrote to the courier outbox.
func readOutbox(ctx context.Context, app config.Config, admin *kafka.Client) ([]outbox.Job, error) {
	msgs, err := readTopic(ctx, app, admin, app.Kafka.Topics.Courier)
	if err != nil {
		return nil, err
	}
	jobs := make([]outbox.Job, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Value, &jobs[i]); err != nil {
			return nil, fmt.Errorf("a job on the courier outbox that does not decode: %w", err)
		}
	}
	return jobs, nil
}

// readTopic reads a topic of the run whole, as it is now.
func readTopic(ctx context.Context, app config.Config, admin *kafka.Client, topic string) ([]stream.Message, error) {
	total, err := endOffsets(ctx, admin, topic)
	if err != nil || total == 0 {
		return nil, err
	}
	clients, err := kafkaclient.New(app.Kafka) // TLS and SASL as the run's (make demo TLS=1)
	if err != nil {
		return nil, err
	}
	c, err := consume.New(consume.Config{
		Brokers: app.Kafka.Brokers, GroupID: app.Kafka.GroupID + "-reader-" + topic, Topics: []string{topic},
		Dialer: clients.Dialer, BatchMaxMessages: 10_000, BatchMaxWait: 500 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []stream.Message
	for int64(len(out)) < total {
		batch, err := c.Fetch(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		out = append(out, batch.Messages...)
	}
	return out, nil
}

// endOffsets sums a topic's end offsets: the messages written to it (the
// demo's topics are fresh, so none has been deleted).
func endOffsets(ctx context.Context, admin *kafka.Client, topic string) (int64, error) {
	_, ends, err := kafkaclient.OffsetRange(ctx, admin, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, nil
}

// runDispatcherUntilDone runs the dispatcher until it has finished want jobs
// (delivered, parked, duplicate or discarded), then stops it.
func runDispatcherUntilDone(ctx context.Context, cfg Config, app config.Config, reg *prometheus.Registry, want int, say func(string, ...any)) error {
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- cfg.Dispatcher(dctx, app, reg) }()
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("the dispatcher stopped early: %w", cmp.Or(err, errors.New("no error")))
		case <-deadline.C:
			stop()
			<-done
			return fmt.Errorf("the dispatcher had not finished all %d jobs after %s", want, cfg.Timeout)
		case <-ctx.Done():
			stop()
			<-done
			return ctx.Err()
		case <-tick.C:
			byOutcome := gather(reg).sumBy("orderflow_connector_jobs_total", "outcome")
			finished := 0.0
			for _, n := range byOutcome {
				finished += n
			}
			say("  %6.0f of %d courier jobs finished (%v)", finished, want, fmtCounts(byOutcome))
			if finished >= float64(want) {
				if err := cfg.observer.settle(ctx); err != nil {
					stop()
					<-done
					return err
				}
				stop()
				if err := <-done; err != nil {
					return fmt.Errorf("dispatcher: %w", err)
				}
				return nil
			}
		}
	}
}

func fmtCounts(m map[string]float64) string {
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %.0f", k, m[k])
	}
	return s
}
