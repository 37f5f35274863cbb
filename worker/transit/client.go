// Package transit is orderflow's client of HashiCorp Vault's transit engine: it
// turns buyers' personal data into per-tenant HMAC tokens and ciphertexts, and
// destroys a tenant's keys when the tenant leaves (crypto-shredding).
//
// Each tenant has two keys, "<prefix><tenant>-hmac" and "<prefix><tenant>-enc",
// created on first use with deletion allowed; one platform key protects
// dead-letter payloads. Calls are batched (batch_input), split into bounded
// requests, retried with backoff when Vault is unavailable, and never carry a
// value into an error, a log line or a metric label.
package transit

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"golang.org/x/sync/singleflight"

	"github.com/orderflow/orderflow/worker/backoff"
)

// Client talks to Vault's transit engine. It is safe for concurrent use. Close
// it to stop its token renewal.
type Client struct {
	cfg     Config
	vc      *api.Client // requests with the current token
	anon    *api.Client // logins, sent without a token
	log     *slog.Logger
	m       *metrics
	backoff backoff.Backoff

	cache    *tokenCache            // nil when disabled
	known    *lru[string, struct{}] // key names created (or found) in Vault
	creating singleflight.Group     // one creation per key name at a time
	// destroyed holds the tenants whose keys this client destroyed: it never
	// uses or creates their keys again (string -> struct{}).
	destroyed sync.Map

	auth      authState
	stop      context.CancelFunc
	done      chan struct{} // closed when maintainToken returns
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg (filling its defaults), logs in to Vault and returns a ready
// client. ctx bounds the login and also the client's background token renewal,
// which stops when ctx ends or at Close: pass the process's root context, not a
// request's.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	vc, anon, err := newVaultClients(cfg)
	if err != nil {
		return nil, fmt.Errorf("transit: vault client: %w", err)
	}
	c := &Client{
		cfg:     cfg,
		vc:      vc,
		anon:    anon,
		log:     cfg.Logger.With("component", "transit"),
		m:       m,
		backoff: backoff.Backoff{Initial: cfg.RetryInitial, Max: cfg.RetryMax},
		known:   newLRU[string, struct{}](cfg.KnownKeys),
		done:    make(chan struct{}),
	}
	if cfg.TokenCacheSize > 0 {
		c.cache = newTokenCache(cfg.TokenCacheSize)
	}
	if err := c.login(ctx); err != nil {
		return nil, fmt.Errorf("transit: %w", err)
	}
	life, stop := context.WithCancel(ctx)
	c.stop = stop
	go c.maintainToken(life)
	return c, nil
}

// newVaultClients builds two vault/api clients over one connection pool: one
// for requests with the token, one for logins. The library's own retries are
// off (MaxRetries 0), so that the retry policy is this package's alone, and so
// is its client timeout, which would cancel the context before the answer is
// read; RequestTimeout bounds each attempt instead. Only cfg configures them:
// VAULT_TOKEN and VAULT_NAMESPACE in the environment are cleared.
func newVaultClients(cfg Config) (*api.Client, *api.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 64 // callers fan out; keep their connections alive
	httpClient := &http.Client{
		Transport: transport,
		// vault/api follows one redirect itself (to the active node).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	newConfig := func() *api.Config {
		return &api.Config{Address: cfg.Address, HttpClient: httpClient, MaxRetries: 0, Timeout: 0}
	}
	if cfg.CACertFile != "" {
		if err := newConfig().ConfigureTLS(&api.TLSConfig{CACert: cfg.CACertFile}); err != nil {
			return nil, nil, fmt.Errorf("CA certificate %s: %w", cfg.CACertFile, err)
		}
	}
	var clients [2]*api.Client
	for i := range clients {
		vc, err := api.NewClient(newConfig())
		if err != nil {
			return nil, nil, err
		}
		vc.ClearToken()
		vc.ClearNamespace()
		clients[i] = vc
	}
	return clients[0], clients[1], nil
}

// Close stops the token renewal and revokes a token that the client's own login
// obtained. Calls after Close fail once the token is revoked. It is safe to call
// more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.stop()
		<-c.done
		ctx, cancel := context.WithTimeout(context.Background(), min(c.cfg.RequestTimeout, closeTimeout))
		defer cancel()
		if err := c.revokeOwnToken(ctx); err != nil {
			c.closeErr = fmt.Errorf("transit: close: %w", err)
		}
	})
	return c.closeErr
}

// closeTimeout bounds Close, well inside a pod's termination grace period.
const closeTimeout = 3 * time.Second

// HMAC returns the tenant's HMAC-SHA-256 token of each value, in input order:
// the same value gives the same token for one tenant and a different one for
// another. Tokens come from the cache when it has them; each distinct value is
// sent to Vault once per call.
//
// A tenant the Gate refuses is refused before the cache is read: the call
// fails with an *OffboardedError (ErrTenantOffboarded) or, while the gate's
// list is stale, a temporary *Error.
func (c *Client) HMAC(ctx context.Context, tenant string, values []string) ([]string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	out := make([]string, len(values))
	if len(values) == 0 {
		return out, nil
	}
	leave, err := c.admit(opHMAC, tenant)
	if err != nil {
		return nil, err
	}
	defer leave()
	// todo holds the first index of each distinct value the cache lacks; dups
	// pairs a repeated value's index with its position in todo.
	type dup struct{ at, todo int }
	var (
		todo      []int
		dups      []dup
		cacheKeys []cacheKey
		first     = make(map[string]int)
	)
	for i, v := range values {
		var k cacheKey
		if c.cache != nil {
			k = c.cache.key(tenant, v)
			if token, ok := c.cache.lru.get(k); ok {
				out[i] = token
				c.m.cacheHit.Inc()
				continue
			}
			c.m.cacheMiss.Inc()
		}
		if j, ok := first[v]; ok {
			dups = append(dups, dup{at: i, todo: j})
			continue
		}
		first[v] = len(todo)
		todo = append(todo, i)
		cacheKeys = append(cacheKeys, k)
	}
	if len(todo) == 0 {
		return out, nil
	}
	key := c.tenantKey(tenant, purposeHMAC)
	if err := c.ensureKey(ctx, key, tenant); err != nil {
		return nil, err
	}
	inputs := make([]string, len(todo))
	for j, i := range todo {
		inputs[j] = base64.StdEncoding.EncodeToString([]byte(values[i]))
	}
	op := batchOp{op: opHMAC, key: key, tenant: tenant, path: c.cfg.Mount + "/hmac/" + key + "/sha2-256", field: "input"}
	tokens, err := c.run(ctx, op, inputs, func(j int) string { return values[todo[j]] })
	if err != nil {
		return nil, remapIndices(c.keyMissing(ctx, key, err), todo, len(values))
	}
	for j, i := range todo {
		out[i] = tokens[j]
		if c.cache != nil {
			c.cache.lru.put(cacheKeys[j], tokens[j])
		}
	}
	for _, d := range dups {
		out[d.at] = tokens[d.todo]
	}
	return out, nil
}

// remapIndices turns a BatchError's indices, which count the values sent to
// Vault, into indices of the caller's input of total values (the first
// occurrence of a repeated value).
func remapIndices(err error, todo []int, total int) error {
	var be *BatchError
	if !errors.As(err, &be) {
		return err
	}
	remapped := *be
	remapped.Items = make([]ItemError, len(be.Items))
	for i, it := range be.Items {
		remapped.Items[i] = ItemError{Index: todo[it.Index], Reason: it.Reason}
	}
	remapped.Total = total
	return &remapped
}

// Encrypt encrypts each plaintext with the tenant's key and returns the
// ciphertexts ("vault:v1:...") in input order. It is gated as HMAC is.
func (c *Client) Encrypt(ctx context.Context, tenant string, plaintexts [][]byte) ([]string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if len(plaintexts) == 0 {
		return []string{}, nil
	}
	leave, err := c.admit(opEncrypt, tenant)
	if err != nil {
		return nil, err
	}
	defer leave()
	return c.encrypt(ctx, c.tenantKey(tenant, purposeEncrypt), tenant, plaintexts)
}

// Decrypt decrypts each ciphertext with the tenant's key and returns the
// plaintexts in input order. After DestroyTenantKeys it fails: the key is gone.
func (c *Client) Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	return c.decrypt(ctx, c.tenantKey(tenant, purposeEncrypt), ciphertexts)
}

// EncryptPlatform encrypts with the platform key (dead-letter payloads, which
// may belong to no known tenant). The platform key is never deletable.
func (c *Client) EncryptPlatform(ctx context.Context, plaintexts [][]byte) ([]string, error) {
	return c.encrypt(ctx, c.cfg.PlatformKey, "", plaintexts)
}

// DecryptPlatform decrypts what EncryptPlatform encrypted.
func (c *Client) DecryptPlatform(ctx context.Context, ciphertexts []string) ([][]byte, error) {
	return c.decrypt(ctx, c.cfg.PlatformKey, ciphertexts)
}

// encrypt encrypts under key: a tenant's (tenant set: its key is deletable, and
// every request is checked by the gate) or the platform's.
func (c *Client) encrypt(ctx context.Context, key, tenant string, plaintexts [][]byte) ([]string, error) {
	if len(plaintexts) == 0 {
		return []string{}, nil
	}
	if err := c.ensureKey(ctx, key, tenant); err != nil {
		return nil, err
	}
	inputs := make([]string, len(plaintexts))
	for i, p := range plaintexts {
		inputs[i] = base64.StdEncoding.EncodeToString(p)
	}
	op := batchOp{op: opEncrypt, key: key, tenant: tenant, path: c.cfg.Mount + "/encrypt/" + key, field: "plaintext"}
	out, err := c.run(ctx, op, inputs, func(i int) string { return string(plaintexts[i]) })
	if err != nil {
		return nil, c.keyMissing(ctx, key, err)
	}
	return out, nil
}

// decrypt never creates the key: a missing key has nothing to decrypt, and a new
// one would hide that the old one is gone.
func (c *Client) decrypt(ctx context.Context, key string, ciphertexts []string) ([][]byte, error) {
	out := make([][]byte, len(ciphertexts))
	if len(ciphertexts) == 0 {
		return out, nil
	}
	op := batchOp{op: opDecrypt, key: key, path: c.cfg.Mount + "/decrypt/" + key, field: "ciphertext"}
	plain, err := c.run(ctx, op, ciphertexts, nil)
	if err != nil {
		return nil, c.keyMissing(ctx, key, err)
	}
	for i, p := range plain {
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			return nil, fmt.Errorf("vault decrypt %s: item %d: the plaintext is not base64", key, i)
		}
		out[i] = b
	}
	return out, nil
}
