package transit

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"sync"
)

// lru is a map bounded to max entries that evicts the least recently used one.
// It is safe for concurrent use.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*list.Element
	order *list.List // of *lruEntry[K, V]; front is the most recently used
}

type lruEntry[K comparable, V any] struct {
	key   K
	value V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, items: make(map[K]*list.Element), order: list.New()}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).value, true
}

func (c *lru[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry[K, V]).value = v
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruEntry[K, V]).key)
	}
	c.items[k] = c.order.PushFront(&lruEntry[K, V]{key: k, value: v})
}

func (c *lru[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.Remove(e)
		delete(c.items, k)
	}
}

// removeIf drops every entry whose key matches; it scans the whole map, which
// is fine for what uses it (offboarding a tenant).
func (c *lru[K, V]) removeIf(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if match(k) {
			c.order.Remove(e)
			delete(c.items, k)
		}
	}
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// tokenCache keeps HMAC tokens, since the same buyers recur across orders.
//
// An entry is keyed by tenant and a salted SHA-256 of the value, never by the
// value: the cache lives as long as the process, and keyed by plaintext it would
// hold every recent buyer's email and phone in memory, in heap and core dumps.
// A plain hash would not be enough, since emails and phone numbers are guessable
// and an unsalted digest can be matched against a dictionary; the salt is random
// per process and never leaves it. A SHA-256 collision, the only way to be handed
// another value's token, is not a practical concern. The token itself is already
// a pseudonym, the value analytics stores anyway.
type tokenCache struct {
	salt [32]byte
	bufs sync.Pool // of *[]byte: hashing without an allocation per value
	lru  *lru[cacheKey, string]
}

type cacheKey struct {
	tenant string
	sum    [sha256.Size]byte
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{lru: newLRU[cacheKey, string](size)}
	_, _ = rand.Read(c.salt[:]) // crypto/rand.Read never fails (it crashes the program instead)
	c.bufs.New = func() any { return new([]byte) }
	return c
}

func (c *tokenCache) key(tenant, value string) cacheKey {
	buf := c.bufs.Get().(*[]byte)
	b := append(append((*buf)[:0], c.salt[:]...), value...)
	k := cacheKey{tenant: tenant, sum: sha256.Sum256(b)}
	clear(b) // the buffer held the value
	*buf = b
	c.bufs.Put(buf)
	return k
}

func (c *tokenCache) forgetTenant(tenant string) {
	c.lru.removeIf(func(k cacheKey) bool { return k.tenant == tenant })
}
