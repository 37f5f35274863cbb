package transit

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/orderflow/orderflow/worker/order"
)

// Key purposes: a tenant has one key for tokens and one for ciphertexts, so that
// a role can be granted one without the other.
const (
	purposeHMAC    = "hmac"
	purposeEncrypt = "enc"
)

// checkTenant refuses an id that is not a tenant id (order.CheckTenantID):
// tenant ids become key names and must not be able to reach another tenant's
// key or another path.
func checkTenant(tenant string) error {
	if err := order.CheckTenantID(tenant); err != nil {
		// The id is not quoted: it failed validation, so it may be anything.
		return fmt.Errorf("transit: %w (%d bytes)", err, len(tenant))
	}
	return nil
}

func (c *Client) tenantKey(tenant, purpose string) string {
	return c.cfg.KeyPrefix + tenant + "-" + purpose
}

// ensureKey creates key unless it is known to exist. Creating is idempotent in
// Vault, so a key another worker created meanwhile is fine; concurrent first
// uses in this process share one creation. tenant is the key's tenant ("" for
// the platform key): a tenant's key is created deletable, and its creation is
// checked by the gate like every other request for the tenant's data.
func (c *Client) ensureKey(ctx context.Context, key, tenant string) error {
	if c.cfg.SkipKeyCreation {
		return nil
	}
	if _, ok := c.known.get(key); ok {
		return nil
	}
	for {
		_, err, _ := c.creating.Do(key, func() (any, error) {
			if _, ok := c.known.get(key); ok {
				return nil, nil
			}
			if err := c.createKey(ctx, key, tenant); err != nil {
				return nil, err
			}
			c.known.put(key, struct{}{})
			return nil, nil
		})
		// The shared creation ran on the first caller's context: if that ended,
		// try again on this one's rather than fail a caller that has time left.
		if err != nil && classify(err) == canceled && ctx.Err() == nil {
			continue
		}
		return err
	}
}

// createKey creates an aes256-gcm96 key (it encrypts and HMACs) and, for tenant
// keys, allows its deletion so that offboarding can destroy it. A key created
// without that flag (by an older worker, say) gets it here too.
func (c *Client) createKey(ctx context.Context, key, tenant string) error {
	path := c.cfg.Mount + "/keys/" + key
	err := c.call(ctx, request{op: opCreateKey, key: key, tenant: tenant, method: http.MethodPut, path: path,
		body: []byte(`{"type":"aes256-gcm96"}`)}, nil)
	if err != nil {
		return err
	}
	if tenant == "" {
		return nil
	}
	return c.call(ctx, request{op: opConfigKey, key: key, tenant: tenant, method: http.MethodPut, path: path + "/config",
		body: []byte(`{"deletion_allowed":true}`)}, nil)
}

// keyMissing returns err marked KeyMissing when it is a 400 about a key that
// does not exist, and forgets the key, so that the next HMAC or Encrypt creates
// it again. Transit answers "encryption key not found" with a 400, like any bad
// request; only reading the key tells them apart without reading the message.
// That is for a key removed by hand: an offboarded tenant's key is never
// created again, since the gate refuses the tenant before any request.
func (c *Client) keyMissing(ctx context.Context, key string, err error) error {
	var te *Error
	if StatusCode(err) != http.StatusBadRequest || !errors.As(err, &te) {
		return err
	}
	rerr := c.call(ctx, request{op: opReadKey, key: key, method: http.MethodGet, path: c.cfg.Mount + "/keys/" + key}, nil)
	if StatusCode(rerr) != http.StatusNotFound {
		return err
	}
	c.known.remove(key)
	missing := *te
	missing.KeyMissing = true
	// Forgotten as known: unless this client may not create keys, the next
	// HMAC or Encrypt creates it again (Decrypt never does).
	missing.recreatable = !c.cfg.SkipKeyCreation && te.Op != opDecrypt
	return &missing
}

// DestroyTenantKeys deletes the tenant's HMAC and encryption keys in Vault
// (crypto-shredding, for offboarding): every ciphertext of the tenant becomes
// undecryptable and its tokens can no longer be reproduced. A key that is
// already gone counts as destroyed, so a repeated or interrupted offboarding can
// simply run again. Block the tenant first (retention.Offboard waits until every
// worker's Gate refuses it): an ungated client's HMAC or Encrypt for the tenant
// would create new, empty keys. This client refuses the tenant from the start
// of this call on, for as long as it lives, whatever the outcome.
func (c *Client) DestroyTenantKeys(ctx context.Context, tenant string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	// Refuse and forget first, so that nothing this process does after this
	// call begins can use or re-create the keys.
	c.destroyed.Store(tenant, struct{}{})
	c.ForgetTenant(tenant)
	var errs []error
	for _, purpose := range []string{purposeHMAC, purposeEncrypt} {
		if err := c.destroyKey(ctx, c.tenantKey(tenant, purpose)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transit: destroying the keys of tenant %s: %w", tenant, err)
	}
	c.log.Info("destroyed a tenant's vault keys", "tenant", tenant)
	return nil
}

func (c *Client) destroyKey(ctx context.Context, key string) error {
	path := c.cfg.Mount + "/keys/" + key
	gone := func() (bool, error) {
		err := c.call(ctx, request{op: opReadKey, key: key, method: http.MethodGet, path: path}, nil)
		if StatusCode(err) == http.StatusNotFound {
			return true, nil
		}
		return false, err
	}
	if ok, err := gone(); ok || err != nil {
		return err
	}
	err := c.call(ctx, request{op: opConfigKey, key: key, method: http.MethodPut, path: path + "/config",
		body: []byte(`{"deletion_allowed":true}`)}, nil)
	if err == nil {
		err = c.call(ctx, request{op: opDeleteKey, key: key, method: http.MethodDelete, path: path}, nil)
	}
	if err != nil && StatusCode(err) == http.StatusBadRequest {
		// Transit answers 400, not 404, for a key deleted since we read it (by a
		// concurrent offboarding): look again before calling it a failure.
		if ok, gerr := gone(); ok {
			return nil
		} else if gerr != nil {
			return errors.Join(err, gerr)
		}
	}
	return err
}

// TenantKeysPresent reads the tenant's two keys and returns the names of those
// that still exist (none after DestroyTenantKeys): an offboarding's proof that
// the keys are gone is Vault's own 404, not the absence of an error.
func (c *Client) TenantKeysPresent(ctx context.Context, tenant string) ([]string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	var present []string
	for _, purpose := range []string{purposeHMAC, purposeEncrypt} {
		key := c.tenantKey(tenant, purpose)
		err := c.call(ctx, request{op: opReadKey, key: key, method: http.MethodGet, path: c.cfg.Mount + "/keys/" + key}, nil)
		switch {
		case StatusCode(err) == http.StatusNotFound:
		case err != nil:
			return nil, fmt.Errorf("transit: reading the keys of tenant %s: %w", tenant, err)
		default:
			present = append(present, key)
		}
	}
	return present, nil
}
