package main

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/clickanddrop"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/worker/config"
)

// buildConnectors builds a connector for every delivery connector of the
// configuration, by name. The kinds are worker/config's table; a kind
// without a case here is refused, so a kind added there cannot be silently
// left out.
func buildConnectors(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (map[string]dispatch.Connector, error) {
	out := map[string]dispatch.Connector{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		c := cfg.Connectors[name]
		if c.Purpose != config.PurposeDelivery {
			continue
		}
		perSecond, burst := c.Rate()
		var conn dispatch.Connector
		var err error
		switch c.Kind {
		case clickanddrop.Kind:
			conn, err = clickanddrop.New(clickanddrop.Config{
				Name: name, BaseURL: c.Endpoint, APIKey: c.Credentials.Value,
				// The account's bucket; the dispatcher keeps one per tenant too.
				RatePerSecond: perSecond, Burst: burst,
				Registerer: reg, Logger: log,
			})
		case webhook.Kind:
			conn, err = webhook.New(webhook.Config{
				Name: name, URL: c.Endpoint, KeyID: c.KeyID, Secret: c.Credentials.Value,
				Registerer: reg, Logger: log,
			})
		default:
			err = fmt.Errorf("kind %q has no courier connector in this binary", c.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("connectors.%s: %w", name, err)
		}
		out[name] = conn
	}
	return out, nil
}
