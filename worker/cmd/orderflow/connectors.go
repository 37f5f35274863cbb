package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/booking"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/accounting/tokenstore"
	"github.com/orderflow/orderflow/connectors/accounting/xero"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/tlsconfig"
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
		httpClient, err := connectorHTTPClient(name, c)
		if err != nil {
			return nil, err
		}
		var conn dispatch.Connector
		switch c.Kind {
		case clickanddrop.Kind:
			conn, err = clickanddrop.New(clickanddrop.Config{
				Name: name, BaseURL: c.Endpoint, APIKey: c.Credentials.Value, HTTPClient: httpClient, Timeout: c.Timeout,
				// The account's bucket; the dispatcher keeps one per tenant too.
				RatePerSecond: perSecond, Burst: burst,
				Registerer: reg, Logger: log,
			})
		case webhook.Kind:
			var transport http.RoundTripper
			if httpClient != nil {
				transport = httpClient.Transport
			}
			conn, err = webhook.New(webhook.Config{
				Name: name, URL: c.Endpoint, KeyID: c.KeyID, Secret: c.Credentials.Value, Transport: transport, Timeout: c.Timeout,
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

// buildPosters builds a connector for every accounting connector of the
// configuration, by name; as buildConnectors, a kind without a case is
// refused.
func buildPosters(ctx context.Context, cfg config.Config, tokens *tokenstore.Store, reg prometheus.Registerer, log *slog.Logger) (map[string]booking.Poster, error) {
	out := map[string]booking.Poster{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		c := cfg.Connectors[name]
		if c.Purpose != config.PurposeAccounting {
			continue
		}
		a := c.Accounting
		accounts, items := map[accounting.LineKind]string{}, map[accounting.LineKind]string{}
		for kind, code := range a.Accounts {
			accounts[accounting.LineKind(kind)] = code
		}
		for kind, id := range a.Items {
			items[accounting.LineKind(kind)] = id
		}
		// The provider rotates the refresh token at every refresh, and the
		// old one soon stops working: the latest is kept in Vault and used in
		// place of the configured one from then on, until the configuration
		// names another (the seller authorised the connection again).
		refresh := a.RefreshToken.Value
		if stored, ok, err := tokens.Load(ctx, name, a.RefreshToken.Value); err != nil {
			return nil, fmt.Errorf("connectors.%s: %w", name, err)
		} else if ok {
			refresh = stored
		}
		rotated := func(tok config.Secret) {
			saveCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := tokens.Save(saveCtx, name, tok, a.RefreshToken.Value); err != nil {
				log.With("component", "dispatcher").Error("accounting: the rotated refresh token could not be kept in Vault; the connector will need a new one at its next start",
					"connector", name, "err", err)
			}
		}
		httpClient, err := connectorHTTPClient(name, c)
		if err != nil {
			return nil, err
		}
		var p booking.Poster
		// The provider's own limits pace the client unless the connector
		// sets a rate of its own (rate_per_second, burst).
		var perSecond float64
		var burst int
		if c.RatePerSecond > 0 {
			perSecond, burst = c.Rate()
		}
		switch c.Kind {
		case xero.Kind:
			p, err = xero.New(xero.Config{
				Name: name, TenantID: c.Tenants[0], XeroTenantID: a.Organisation, BaseURL: c.Endpoint, TokenURL: a.TokenURL,
				ClientID: a.ClientID, ClientSecret: c.Credentials.Value, RefreshToken: refresh, OnRefreshToken: rotated,
				Mapping: xero.Mapping{
					Accounts: accounts, TaxTypes: a.TaxTypes, NoTaxType: a.NoVATTaxType, Status: strings.ToUpper(a.Status),
					Refunds: a.Refunds, MarketplaceVAT: a.MarketplaceVAT, Negative: a.Negative, DueDays: a.DueDays,
				},
				PerMinute:  int(perSecond * 60),
				HTTPClient: httpClient, Timeout: c.Timeout, Registerer: reg, Logger: log,
			})
		case quickbooks.Kind:
			p, err = quickbooks.New(quickbooks.Config{
				Name: name, TenantID: c.Tenants[0], RealmID: a.Organisation, BaseURL: c.Endpoint, TokenURL: a.TokenURL,
				ClientID: a.ClientID, ClientSecret: c.Credentials.Value, RefreshToken: refresh, OnRefreshToken: rotated,
				Mapping: quickbooks.Mapping{
					Accounts: accounts, ClearingAccount: a.ClearingAccount, TaxCodes: a.TaxTypes, NoVATTaxCode: a.NoVATTaxType,
					MarketplaceVAT: a.MarketplaceVAT, Items: items, Document: a.Document,
				},
				RatePerSecond: perSecond, Burst: burst,
				HTTPClient: httpClient, Timeout: c.Timeout, Registerer: reg, Logger: log,
			})
		default:
			err = fmt.Errorf("kind %q has no accounting connector in this binary", c.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("connectors.%s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// connectorHTTPClient is the HTTP client of a connector with a CA file of its
// own (connectors.<name>.ca_file), or nil for the connector's default, which
// trusts the system's roots. Its errors name the key.
func connectorHTTPClient(name string, c config.Connector) (*http.Client, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	tlsCfg, err := tlsconfig.Client("connectors."+name, config.TLS{Enabled: true, CAFile: c.CAFile})
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	return &http.Client{Transport: transport}, nil
}
