// Package tokenstore keeps an accounting connector's OAuth2 refresh token in
// Vault's KV v2 engine. Xero and QuickBooks rotate the refresh token at every
// refresh and the old one soon stops working, so the token the configuration
// names is only the first: each rotated one is written here, and read back
// at the next start in its place, as long as the configuration still names
// the token the chain started from. A newly configured token (the seller
// authorised the connection again after it was revoked) starts a new chain.
package tokenstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	vault "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/config"
)

// Config configures a Store.
type Config struct {
	// Client is a logged-in Vault client (transit.Client.VaultAPI()).
	Client *vault.Client
	// Mount is the KV v2 engine's mount. Default "secret".
	Mount string
	// Path is where the tokens live under the mount: each connector's at
	// <Path>/<connector name>. Default "orderflow/connectors".
	Path string
}

// Store reads and writes refresh tokens.
type Store struct {
	kv   *vault.KVv2
	path string
}

// New returns a Store.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("tokenstore config: Client is required")
	}
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Path == "" {
		cfg.Path = "orderflow/connectors"
	}
	return &Store{kv: cfg.Client.KVv2(cfg.Mount), path: cfg.Path}, nil
}

const (
	field = "refresh_token"
	// grantField holds a SHA-256 of the configured token the stored one
	// descends from: never the token itself.
	grantField = "granted_from_sha256"
)

// fingerprint is what identifies a configured token in the store.
func fingerprint(t config.Secret) string {
	sum := sha256.Sum256([]byte(t.Reveal()))
	return hex.EncodeToString(sum[:])
}

// Load returns the connector's last rotated refresh token descending from
// configured; ok is false when none was stored, or the stored one descends
// from another configured token (configured is then the current one).
func (s *Store) Load(ctx context.Context, connector string, configured config.Secret) (token config.Secret, ok bool, err error) {
	sec, err := s.kv.Get(ctx, s.path+"/"+connector)
	if errors.Is(err, vault.ErrSecretNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("tokenstore: read connector %s's refresh token: %w", connector, err)
	}
	v, _ := sec.Data[field].(string)
	from, _ := sec.Data[grantField].(string)
	if v == "" || from != fingerprint(configured) {
		return "", false, nil
	}
	return config.Secret(v), true, nil
}

// Save stores the connector's rotated refresh token, descending from the
// configured one.
func (s *Store) Save(ctx context.Context, connector string, token, configured config.Secret) error {
	if _, err := s.kv.Put(ctx, s.path+"/"+connector, map[string]any{field: token.Reveal(), grantField: fingerprint(configured)}); err != nil {
		return fmt.Errorf("tokenstore: store connector %s's refresh token: %w", connector, err)
	}
	return nil
}
