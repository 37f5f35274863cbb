package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/transit"
)

// observer is how a command that handles no new orders (offboard, replay-dlq)
// reaches tenants' keys: ClickHouse at the current schema, the list of
// offboarded tenants read as an observer (no worker id: offboardings never
// wait for it), and a Vault client that list gates, so that it can create no
// key and make no call for a tenant's data.
type observer struct {
	conn       *clickHouse
	offboarded *retention.Blocklist
	vault      *transit.Client
}

func openObserver(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*observer, error) {
	return openObserverGated(ctx, cfg, reg, log, func(b *retention.Blocklist) transit.Gate { return b })
}

// openObserverGated is openObserver with the Vault client behind the gate
// gateOf makes of the list (a buyer's request: hmacGate).
func openObserverGated(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger,
	gateOf func(*retention.Blocklist) transit.Gate) (*observer, error) {
	conn, err := openCurrentSchema(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	offboarded, err := newBlocklist(ctx, cfg, conn, "", log)
	if err == nil {
		var vault *transit.Client
		if vault, err = newTransit(ctx, cfg, reg, log, gateOf(offboarded)); err == nil {
			return &observer{conn: conn, offboarded: offboarded, vault: vault}, nil
		}
	}
	_ = conn.Close()
	return nil, err
}

// Close closes the Vault client, then the ClickHouse connection.
func (o *observer) Close() {
	o.vault.Close()
	_ = o.conn.Close()
}
