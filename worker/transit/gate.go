package transit

import (
	"errors"
	"fmt"
)

// Gate admits the Vault calls that carry a tenant's data (HMAC, Encrypt and
// the key creation they may do), so that an offboarded tenant's keys are never
// used or re-created once its offboarding has begun. retention.Blocklist
// implements it: it refuses offboarded tenants, refuses every tenant while its
// own list is stale (fail closed), and, before it acknowledges a newly
// offboarded tenant, waits until every call it admitted earlier has left.
//
// Decrypt and DestroyTenantKeys are not gated: neither can create a key.
type Gate interface {
	// Enter admits one call for the tenant. When it is admitted, leave is
	// called once the call has returned. offboarded refuses the call for good;
	// err refuses it for now (the gate cannot tell, and says why).
	Enter(tenant string) (leave func(), offboarded bool, err error)
	// Check says the same about one request of an admitted call, without
	// admitting anything: a call admitted before the tenant was offboarded, or
	// before the gate's list went stale, sends no further request.
	Check(tenant string) (offboarded bool, err error)
}

// ErrTenantOffboarded is matched (errors.Is) by the error of a call refused
// because its tenant has been offboarded: retrying cannot help, and the
// tenant's data must be dropped, not dead-lettered (P10). The error is an
// *OffboardedError, which names the tenant.
var ErrTenantOffboarded = errors.New("transit: the tenant has been offboarded")

// OffboardedError is a call refused because its tenant has been offboarded
// (by the Gate, or by this client's own DestroyTenantKeys).
type OffboardedError struct {
	Op     string // "hmac", "encrypt", "create_key"...
	Tenant string
}

func (e *OffboardedError) Error() string {
	return fmt.Sprintf("vault %s refused: tenant %s has been offboarded", e.Op, e.Tenant)
}

// Is makes errors.Is(err, ErrTenantOffboarded) true.
func (e *OffboardedError) Is(target error) bool { return target == ErrTenantOffboarded }

// OffboardedTenant names the refused tenant, for callers that declare
// interface{ OffboardedTenant() string } rather than import this package.
func (e *OffboardedError) OffboardedTenant() string { return e.Tenant }

// admit lets one call for the tenant's data begin, or refuses it. leave is
// never nil when err is nil.
func (c *Client) admit(op, tenant string) (leave func(), err error) {
	if _, gone := c.destroyed.Load(tenant); gone {
		c.m.refused.WithLabelValues(refusedOffboarded).Inc()
		return nil, &OffboardedError{Op: op, Tenant: tenant}
	}
	if c.cfg.Gate == nil {
		return func() {}, nil
	}
	leave, offboarded, err := c.cfg.Gate.Enter(tenant)
	return leave, c.refusal(op, tenant, offboarded, err)
}

// checkRequest is the gate's check before each request of an admitted call
// (r.tenant set: a request that uses or creates a tenant's key).
func (c *Client) checkRequest(r request) error {
	if r.tenant == "" {
		return nil
	}
	if _, gone := c.destroyed.Load(r.tenant); gone {
		c.m.refused.WithLabelValues(refusedOffboarded).Inc()
		return &OffboardedError{Op: r.op, Tenant: r.tenant}
	}
	if c.cfg.Gate == nil {
		return nil
	}
	offboarded, err := c.cfg.Gate.Check(r.tenant)
	return c.refusal(r.op, r.tenant, offboarded, err)
}

func (c *Client) refusal(op, tenant string, offboarded bool, err error) error {
	switch {
	case offboarded:
		c.m.refused.WithLabelValues(refusedOffboarded).Inc()
		return &OffboardedError{Op: op, Tenant: tenant}
	case err != nil:
		// Temporary: the gate answers again once its list is fresh.
		c.m.refused.WithLabelValues(refusedUnsure).Inc()
		return &Error{Op: op, Temporary: true, Err: fmt.Errorf("not admitted for tenant %s: %w", tenant, err)}
	}
	return nil
}

// ForgetTenant drops what the client remembers of a tenant: its cached HMAC
// tokens and that its keys exist. The Gate's owner calls it once a tenant is
// offboarded and no admitted call of the tenant is left, so that nothing of
// the tenant is kept or served from memory.
func (c *Client) ForgetTenant(tenant string) {
	c.known.remove(c.tenantKey(tenant, purposeHMAC))
	c.known.remove(c.tenantKey(tenant, purposeEncrypt))
	if c.cache != nil {
		c.cache.forgetTenant(tenant)
	}
}
