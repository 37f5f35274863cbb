package clickanddrop_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/worker/config"
)

func TestContract(t *testing.T) {
	connectortest.RunCourier(t, connectortest.CourierHarness{
		Kind:   clickanddrop.Kind,
		Parcel: projection.Parcel{WeightGrams: 750, Format: "smallParcel", ServiceCode: "CRL1", TariffCode: "691200"},
		// Click & Drop has no state: a state fills county when the label
		// has none.
		Alternates: map[string]string{"shipping_address.state_or_region": "shipping_address.county"},
		New: func(t *testing.T, env connectortest.Env) (connectortest.Deliverer, connectortest.CourierStandIn) {
			srv := clickanddroptest.New(t, clickanddroptest.Config{APIKey: "contract-key"})
			cl, err := clickanddrop.New(clickanddrop.Config{
				Name: "royalmail", BaseURL: srv.URL, APIKey: config.Secret("contract-key"),
				Timeout: env.Timeout, Registerer: env.Registerer, Logger: env.Logger,
				RatePerSecond: 1000, Burst: 1000, // the suite tests outcomes, not pacing
			})
			if err != nil {
				t.Fatal(err)
			}
			return cl, standIn{srv}
		},
	})
}

// standIn is the suite's hold on the Click & Drop stand-in.
type standIn struct{ *clickanddroptest.Server }

func (s standIn) Fail(faults ...connectortest.Fault) {
	for _, f := range faults {
		s.Server.Fail(clickanddroptest.Fault{Status: f.Status, RetryAfter: f.RetryAfterHeader(), Delay: f.Delay, AfterApply: f.AfterApply})
	}
}

func (s standIn) Calls() int { return s.Requests() }

func (s standIn) Ledger(ref string) connectortest.Entry {
	var e connectortest.Entry
	for _, o := range s.Orders() {
		if o.Reference == ref {
			e.Created++
			e.Cancelled = e.Cancelled || o.Cancelled
		}
	}
	return e
}

func (s standIn) Creates() []connectortest.Create {
	var out []connectortest.Create
	for _, o := range s.Orders() {
		out = append(out, connectortest.Create{OrderReference: o.Reference, Sources: o.Sources(), Values: o.Values()})
	}
	return out
}
