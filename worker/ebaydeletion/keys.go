package ebaydeletion

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/singleflight"
)

// ErrUnknownKey is matched by the error of a key id eBay does not know: the
// notification was not signed by eBay.
var ErrUnknownKey = errors.New("eBay knows no public key of that id")

// apiScope is the scope of the application token that reads public keys.
const apiScope = "https://api.ebay.com/oauth/api_scope"

// KeyClientConfig configures a KeyClient.
type KeyClientConfig struct {
	// APIURL is eBay's API host: https://api.ebay.com. Required.
	APIURL string
	// ClientID and ClientSecret are the application's keyset. Required.
	ClientID, ClientSecret string
	// TTL is how long a key is kept once read (eBay: about an hour).
	// Default 1h. An unknown key id is remembered for a minute, so that
	// forged notifications cannot make a call to eBay each.
	TTL time.Duration
	// HTTP is the client. Default: one with a 10s timeout.
	HTTP *http.Client
	// Now: default time.Now.
	Now func() time.Time
}

// KeyClient reads eBay's notification public keys (Notification API
// getPublicKey) with an application token (client credentials grant), and
// caches both.
type KeyClient struct {
	cfg    KeyClientConfig
	flight singleflight.Group

	mu       sync.Mutex
	token    string
	tokenEnd time.Time
	keys     map[string]cachedKey
	// fetches is the bucket of fetches of keys not in the cache: fetchBurst
	// at most, refilled one per fetchInterval since fetched.
	fetches float64
	fetched time.Time
}

type cachedKey struct {
	key     PublicKey
	unknown bool
	until   time.Time
}

// NewKeyClient checks cfg and returns a KeyClient.
func NewKeyClient(cfg KeyClientConfig) (*KeyClient, error) {
	if cfg.APIURL == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("ebaydeletion: eBay's API URL, client id and client secret are required")
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.TTL == 0 {
		cfg.TTL = time.Hour
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &KeyClient{cfg: cfg, keys: map[string]cachedKey{}}, nil
}

// unknownTTL is how long an unknown key id is remembered.
const unknownTTL = time.Minute

// Bounds on what unsigned requests can make the client do: key ids not in
// the cache are fetched in bursts of at most fetchBurst, then one per
// fetchInterval (a forged notification names a new id each time; eBay's own
// ids change rarely), and the cache holds at most maxCached ids.
const (
	fetchInterval = time.Second
	fetchBurst    = 5
	maxCached     = 1024
	fetchTimeout  = 10 * time.Second
)

// errFetchLimited is the error of a key id not fetched because another was
// fetched less than fetchInterval ago: the notification is answered 500 and
// eBay sends it again.
var errFetchLimited = errors.New("too many of eBay's keys were read in the last seconds: not reading another yet")

// PublicKey returns the key of id kid, from the cache while it is fresh.
func (c *KeyClient) PublicKey(ctx context.Context, kid string) (PublicKey, error) {
	if !validKid(kid) {
		return PublicKey{}, ErrUnknownKey
	}
	c.mu.Lock()
	k, ok := c.keys[kid]
	c.mu.Unlock()
	if ok && c.cfg.Now().Before(k.until) {
		if k.unknown {
			return PublicKey{}, ErrUnknownKey
		}
		return k.key, nil
	}
	v, err, _ := c.flight.Do(kid, func() (any, error) {
		c.mu.Lock()
		now := c.cfg.Now()
		if c.fetched.IsZero() {
			c.fetches = fetchBurst
		} else {
			c.fetches = min(fetchBurst, c.fetches+float64(now.Sub(c.fetched))/float64(fetchInterval))
		}
		c.fetched = now
		if c.fetches < 1 {
			c.mu.Unlock()
			return PublicKey{}, errFetchLimited
		}
		c.fetches--
		c.mu.Unlock()
		// On a context of its own: the callers that share this fetch
		// must not all fail because the first one went away.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		key, err := c.fetchKey(fctx, kid)
		switch {
		case errors.Is(err, ErrUnknownKey):
			c.store(kid, cachedKey{unknown: true, until: c.cfg.Now().Add(unknownTTL)})
		case err == nil:
			c.store(kid, cachedKey{key: key, until: c.cfg.Now().Add(c.cfg.TTL)})
		}
		return key, err
	})
	if err != nil {
		return PublicKey{}, err
	}
	return v.(PublicKey), nil
}

func (c *KeyClient) store(kid string, k cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) >= maxCached {
		now := c.cfg.Now()
		for id, old := range c.keys {
			if old.unknown || !now.Before(old.until) {
				delete(c.keys, id)
			}
		}
		if len(c.keys) >= maxCached {
			clear(c.keys)
		}
	}
	c.keys[kid] = k
}

// fetchKey calls getPublicKey, with a token refreshed once if eBay refuses it.
func (c *KeyClient) fetchKey(ctx context.Context, kid string) (PublicKey, error) {
	for attempt := 0; ; attempt++ {
		token, err := c.appToken(ctx)
		if err != nil {
			return PublicKey{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.APIURL+"/commerce/notification/v1/public_key/"+url.PathEscape(kid), nil)
		if err != nil {
			return PublicKey{}, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := c.cfg.HTTP.Do(req)
		if err != nil {
			return PublicKey{}, fmt.Errorf("getPublicKey: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case err != nil:
			return PublicKey{}, fmt.Errorf("getPublicKey: %w", err)
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			continue
		case resp.StatusCode == http.StatusNotFound:
			return PublicKey{}, ErrUnknownKey
		case resp.StatusCode != http.StatusOK:
			return PublicKey{}, fmt.Errorf("getPublicKey: eBay answered %s", resp.Status)
		}
		return parsePublicKey(body)
	}
}

// parsePublicKey reads getPublicKey's answer: {"key": PEM on one line,
// "algorithm": "ECDSA", "digest": "SHA1"}.
func parsePublicKey(body []byte) (PublicKey, error) {
	var r struct {
		Key       string `json:"key"`
		Algorithm string `json:"algorithm"`
		Digest    string `json:"digest"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return PublicKey{}, fmt.Errorf("getPublicKey: the answer is not JSON: %w", err)
	}
	if !strings.EqualFold(r.Algorithm, "ECDSA") {
		return PublicKey{}, fmt.Errorf("getPublicKey: algorithm %q, not ECDSA", r.Algorithm)
	}
	const begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
	b64, ok := strings.CutPrefix(strings.TrimSpace(r.Key), begin)
	if ok {
		b64, ok = strings.CutSuffix(b64, end)
	}
	if !ok {
		return PublicKey{}, errors.New("getPublicKey: the key is not a PEM public key")
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return PublicKey{}, errors.New("getPublicKey: the key's base64 does not decode")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return PublicKey{}, fmt.Errorf("getPublicKey: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return PublicKey{}, errors.New("getPublicKey: the key is not an ECDSA P-256 key")
	}
	digest := strings.ToUpper(r.Digest)
	if digest != "SHA1" && digest != "SHA256" {
		return PublicKey{}, fmt.Errorf("getPublicKey: digest %q is neither SHA1 nor SHA256", r.Digest)
	}
	return PublicKey{Key: ec, Digest: digest}, nil
}

// appToken returns the application token, asking eBay for one (client
// credentials grant) when there is none or it ends within a minute.
func (c *KeyClient) appToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.token != "" && c.cfg.Now().Add(time.Minute).Before(c.tokenEnd) {
		defer c.mu.Unlock()
		return c.token, nil
	}
	c.mu.Unlock()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/identity/v1/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("eBay application token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("eBay application token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// The body may echo the request; only the status is reported.
		return "", fmt.Errorf("eBay application token: eBay answered %s", resp.Status)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", errors.New("eBay application token: the answer has no access_token")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token, c.tokenEnd = t.AccessToken, c.cfg.Now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return c.token, nil
}

// KafkaPublisher publishes to one topic through a synchronous writer
// (kafkaclient.SyncWriter): Publish returns once every in-sync replica has
// the message.
type KafkaPublisher struct{ Writer *kafka.Writer }

// Publish writes one message.
func (p KafkaPublisher) Publish(ctx context.Context, key, value []byte) error {
	if err := p.Writer.WriteMessages(ctx, kafka.Message{Key: key, Value: value}); err != nil {
		return fmt.Errorf("writing to %s: %w", p.Writer.Topic, err)
	}
	return nil
}
