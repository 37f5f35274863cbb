package webhook_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/worker/config"
)

var parcel = projection.Parcel{WeightGrams: 850, Format: "smallParcel", ServiceCode: "Standard", TariffCode: "691200"}

func fixtures(t *testing.T) *connectortest.Fixtures {
	return connectortest.NewFixtures(t, webhook.Kind, parcel)
}

// secret is one signing key: its text (what the configuration resolves)
// and the receiver's HMAC key.
type secret struct {
	id   string
	text string
	key  []byte
}

func newSecret(t *testing.T, id string) secret {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return secret{id: id, text: webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key), key: key}
}

func keyring(secrets ...secret) map[string][]byte {
	m := map[string][]byte{}
	for _, s := range secrets {
		m[s.id] = s.key
	}
	return m
}

// receiver starts a stand-in on the webhook allow-list, accepting keys.
func receiver(t *testing.T, cfg webhooktest.Config, secrets ...secret) *webhooktest.Server {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = keyring(secrets...)
	}
	s := webhooktest.New(cfg)
	t.Cleanup(s.Close)
	return s
}

// config is a Courier's configuration posting to url, signing with s.
func cfgFor(url string, reg prometheus.Registerer, s secret) webhook.Config {
	return webhook.Config{Name: "acme_couriers", URL: url, KeyID: s.id, Secret: config.Secret(s.text), Registerer: reg}
}

func courierFor(t *testing.T, cfg webhook.Config) *webhook.Courier {
	t.Helper()
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deliverOne(t *testing.T, c *webhook.Courier, d courier.Delivery) courier.Result {
	t.Helper()
	res, err := c.Deliver(t.Context(), []courier.Delivery{d})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return res[0]
}

// capture records the raw requests a courier makes, over real HTTP.
type capture struct {
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Header.Clone(), b})
	c.mu.Unlock()
}

func (c *capture) last(t *testing.T) captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("no request captured")
	}
	return c.reqs[len(c.reqs)-1]
}

// post sends a captured delivery, maybe altered, to url.
func post(t *testing.T, url string, d captured) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = d.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
