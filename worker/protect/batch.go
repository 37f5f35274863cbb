package protect

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// batch is one Protect call in progress: the output being built, and per tenant
// the distinct values to tokenise and the documents to encrypt, with where each
// result goes.
type batch struct {
	out        []protected.Order
	arena      arena
	tenants    map[string]*tenantJob
	jobs       []*tenantJob       // in order of first appearance: calls go out in a stable order
	seen       map[valueKey]int32 // (tenant, value) -> index in its job's values
	perChannel map[string]int     // orders by channel label
}

type valueKey struct{ tenant, value string }

// tenantJob is one tenant's share of a batch: at most one HMAC call and one
// Encrypt call.
type tenantJob struct {
	tenant    string
	values    []string // distinct token inputs
	tokenRefs []tokenRef
	docs      docBuffer
	docRefs   []docRef

	tokens      []string // answers, aligned with values
	ciphertexts []string // answers, aligned with docs
}

// tokenRef says which order's which slot gets the token of values[value].
type tokenRef struct {
	order, value int32
	slot         func(*protected.BuyerTokens) *protected.Token
}

// docRef says which order gets the ciphertext of document doc, and as what.
type docRef struct {
	order, doc int32
	invoice    bool // the invoice party; otherwise the delivery label
}

func newBatch(orders []order.Order) *batch {
	return &batch{
		out:        make([]protected.Order, len(orders)),
		arena:      newArena(orders),
		tenants:    make(map[string]*tenantJob),
		seen:       make(map[valueKey]int32, len(orders)*2),
		perChannel: make(map[string]int, 2),
	}
}

// add builds order i's output from its scrubbed form and queues its tokens and
// documents with its tenant's job.
func (b *batch) add(i int, s *scrubbed, pl *plan) {
	o := &s.o
	b.perChannel[s.channel]++
	j := b.tenants[o.TenantID]
	if j == nil {
		j = &tenantJob{tenant: o.TenantID}
		b.tenants[o.TenantID] = j
		b.jobs = append(b.jobs, j)
	}
	dst := &b.out[i]
	keep(dst, s, &b.arena)
	if pl.shipArea && o.ShippingAddress != nil {
		dst.ShipPostcodeArea = PostcodeArea(o.ShippingAddress.CountryCode, o.ShippingAddress.PostalCode)
	}
	if pl.billArea && o.BillingAddress != nil {
		dst.BillingPostcodeArea = PostcodeArea(o.BillingAddress.CountryCode, o.BillingAddress.PostalCode)
	}
	for _, f := range pl.tokens {
		v := TokenInput(f.path, f.get(s))
		if v == "" {
			continue
		}
		k := valueKey{o.TenantID, v}
		at, ok := b.seen[k]
		if !ok {
			at = int32(len(j.values))
			j.values = append(j.values, v)
			b.seen[k] = at
		}
		j.tokenRefs = append(j.tokenRefs, tokenRef{order: int32(i), value: at, slot: f.slot})
	}
	// The label exists for an order that has somewhere to deliver to; the
	// invoice party, for one that has some invoice party data.
	if o.ShippingAddress != nil && len(pl.label) > 0 {
		j.docRefs = append(j.docRefs, docRef{order: int32(i), doc: int32(j.docs.add(pl.label, s))})
	}
	if anyValue(pl.invoice, s) {
		j.docRefs = append(j.docRefs, docRef{order: int32(i), doc: int32(j.docs.add(pl.invoice, s)), invoice: true})
	}
}

func anyValue(fields []stringField, s *scrubbed) bool {
	for _, f := range fields {
		if f.get(s) != "" {
			return true
		}
	}
	return false
}

// TokenInput is the exact text tokenised for a field's value: the value
// without surrounding white space, and an email address in lower case, so that
// "Ann@Example.com " and "ann@example.com" count as one buyer. Whatever looks a
// buyer up by token (an erasure request by email, say) must tokenise
// TokenInput(path, value), not the value as typed. "" means no token.
func TokenInput(path, value string) string {
	v := strings.TrimSpace(value)
	if strings.HasSuffix(path, "email") && hasUpper(v) {
		v = strings.ToLower(v)
	}
	return v
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true // non-ASCII: let ToLower decide
		}
	}
	return false
}

// call makes each tenant's HMAC and Encrypt calls, up to concurrency at once.
// The first failure cancels the others and is returned.
func (b *batch) call(ctx context.Context, tz Tokenizer, enc Encrypter, concurrency int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, j := range b.jobs {
		if len(j.values) > 0 {
			g.Go(func() error {
				tokens, err := tz.HMAC(ctx, j.tenant, j.values)
				if err != nil {
					return fmt.Errorf("protect: tenant %s: tokenising %d values: %w", j.tenant, len(j.values), err)
				}
				if len(tokens) != len(j.values) {
					return fmt.Errorf("protect: tenant %s: the tokenizer answered %d tokens for %d values", j.tenant, len(tokens), len(j.values))
				}
				j.tokens = tokens
				return nil
			})
		}
		if n := len(j.docs.ends); n > 0 {
			g.Go(func() error {
				ciphertexts, err := enc.Encrypt(ctx, j.tenant, j.docs.documents())
				if err != nil {
					return fmt.Errorf("protect: tenant %s: encrypting %d documents: %w", j.tenant, n, err)
				}
				if len(ciphertexts) != n {
					return fmt.Errorf("protect: tenant %s: the encrypter answered %d ciphertexts for %d documents", j.tenant, len(ciphertexts), n)
				}
				j.ciphertexts = ciphertexts
				return nil
			})
		}
	}
	return g.Wait()
}

// deliver puts each token and ciphertext into its order. Orders that share a
// value share its token.
func (b *batch) deliver() error {
	for _, j := range b.jobs {
		for _, t := range j.tokens {
			if t == "" {
				return fmt.Errorf("protect: tenant %s: the tokenizer answered an empty token", j.tenant)
			}
		}
		for _, c := range j.ciphertexts {
			if c == "" {
				return fmt.Errorf("protect: tenant %s: the encrypter answered an empty ciphertext", j.tenant)
			}
		}
		// The answers' own slices hold the values the Tokens and Ciphertexts
		// point into: no copy, and an allocation per tenant, not per value.
		tokens, ciphertexts := protected.SealTokens(j.tokens), protected.SealCiphertexts(j.ciphertexts)
		for _, r := range j.tokenRefs {
			*r.slot(&b.out[r.order].Buyer) = tokens[r.value]
		}
		for _, r := range j.docRefs {
			c := ciphertexts[r.doc]
			if r.invoice {
				b.out[r.order].InvoiceParty = c
			} else {
				b.out[r.order].DeliveryLabel = c
			}
		}
	}
	return nil
}

func (b *batch) hmacValues() int {
	n := 0
	for _, j := range b.jobs {
		n += len(j.values)
	}
	return n
}

func (b *batch) documents() int {
	n := 0
	for _, j := range b.jobs {
		n += len(j.docs.ends)
	}
	return n
}
