package webhook_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/outbox"
)

// secret is one signing key, as text in a file (the config's reference) and
// as the receiver's HMAC key.
type secret struct {
	id   string
	text string
	key  []byte
	path string
}

func newSecret(t *testing.T, id string) secret {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	text := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
	path := filepath.Join(t.TempDir(), id)
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret{id: id, text: text, key: key, path: path}
}

func (s secret) configKey() webhook.Key {
	return webhook.Key{ID: s.id, Secret: webhook.SecretRef{File: s.path}}
}

func keyring(secrets ...secret) map[string][]byte {
	m := map[string][]byte{}
	for _, s := range secrets {
		m[s.id] = s.key
	}
	return m
}

// contract is testdata/allowlist.json: what the stand-in accepts.
type contract struct {
	Allowed  []string       `json:"allowed"`
	Required []string       `json:"required"`
	MaxLen   map[string]int `json:"max_len"`
}

func loadContract(t *testing.T) contract {
	t.Helper()
	var c contract
	readJSON(t, filepath.Join("testdata", "allowlist.json"), &c)
	return c
}

// receiver starts a stand-in with the test contract, accepting keys.
func receiver(t *testing.T, cfg webhooktest.Config, secrets ...secret) *webhooktest.Server {
	t.Helper()
	c := loadContract(t)
	if cfg.Keys == nil {
		cfg.Keys = keyring(secrets...)
	}
	cfg.Allowed, cfg.Required, cfg.MaxLen = c.Allowed, c.Required, c.MaxLen
	s := webhooktest.New(cfg)
	t.Cleanup(s.Close)
	return s
}

// courier posts to url, signing with the last of secrets.
func courier(t *testing.T, url string, reg prometheus.Registerer, secrets ...secret) *webhook.Courier {
	t.Helper()
	cfg := webhook.Config{Name: "acme-couriers", URL: url, Registerer: reg}
	for _, s := range secrets {
		cfg.Keys = append(cfg.Keys, s.configKey())
	}
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture reads testdata/requests/<name>.json, numbers as json.Number so
// that a weight stays the integer it was.
func fixture(t *testing.T, name string) webhook.Request {
	t.Helper()
	var f struct {
		Kind           outbox.Kind    `json:"kind"`
		IdempotencyKey string         `json:"idempotency_key"`
		OrderReference string         `json:"order_reference"`
		Fields         map[string]any `json:"fields"`
	}
	readJSON(t, filepath.Join("testdata", "requests", name+".json"), &f)
	return webhook.Request{Kind: f.Kind, IdempotencyKey: f.IdempotencyKey, OrderReference: f.OrderReference, Fields: f.Fields}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sendOne(t *testing.T, c *webhook.Courier, req webhook.Request) webhook.Result {
	t.Helper()
	res, err := c.Send(t.Context(), []webhook.Request{req})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res[0]
}
