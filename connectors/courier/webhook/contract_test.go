package webhook_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
)

func TestContract(t *testing.T) {
	connectortest.RunCourier(t, connectortest.CourierHarness{
		Kind:   webhook.Kind,
		Parcel: parcel,
		New: func(t *testing.T, env connectortest.Env) (connectortest.Deliverer, connectortest.CourierStandIn) {
			s := newSecret(t, "k1")
			rx := receiver(t, webhooktest.Config{}, s)
			cfg := cfgFor(rx.URL, env.Registerer, s)
			cfg.Logger, cfg.Timeout = env.Logger, env.Timeout
			return courierFor(t, cfg), standIn{rx}
		},
	})
}

// standIn is the suite's hold on the webhook receiver.
type standIn struct{ *webhooktest.Server }

func (s standIn) Fail(faults ...connectortest.Fault) {
	for _, f := range faults {
		s.Inject(webhooktest.Fault{Status: f.Status, RetryAfter: f.RetryAfterHeader(), Delay: f.Delay, AfterApply: f.AfterApply})
	}
}

func (s standIn) Calls() int { return s.Requests() }

func (s standIn) Ledger(ref string) connectortest.Entry {
	o, _ := s.Order(ref)
	return connectortest.Entry{Created: o.Created, Cancelled: o.Cancelled}
}

func (s standIn) Creates() []connectortest.Create {
	var out []connectortest.Create
	for _, d := range s.Deliveries() {
		if d.Kind == "create" {
			out = append(out, connectortest.Create{OrderReference: d.OrderReference, Sources: d.Sources, Values: d.Values()})
		}
	}
	return out
}
