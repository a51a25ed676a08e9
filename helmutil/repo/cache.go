package repo

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gitopskit/kit/artifact"
)

// Cache holds parsed indexes shared by concurrent reconciles, keyed by the
// repository URL and the digest of the index file (an index artifact's
// revision), so a changed index is a new key and an entry is never stale.
// It is bounded by the sum of the indexes' Size, evicting the least
// recently used first, and drops an entry not used for its TTL. Concurrent
// loads of one key parse once. The zero value is not usable; use NewCache.
type Cache struct {
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time

	mu       sync.Mutex
	size     int64
	lru      *list.List // of *cacheEntry, most recent first
	entries  map[cacheKey]*list.Element
	inflight map[cacheKey]*load
}

type cacheKey struct {
	url    string
	digest artifact.Digest
}

type cacheEntry struct {
	key  cacheKey
	idx  *Index
	used time.Time
}

type load struct {
	done chan struct{}
	idx  *Index
	err  error
}

// NewCache returns a cache of at most maxBytes (by Index.Size) whose
// entries expire ttl after their last use (0: never).
func NewCache(maxBytes int64, ttl time.Duration) *Cache {
	return &Cache{
		maxBytes: maxBytes,
		ttl:      ttl,
		now:      time.Now,
		lru:      list.New(),
		entries:  map[cacheKey]*list.Element{},
		inflight: map[cacheKey]*load{},
	}
}

// Get returns the index cached for url and digest.
func (c *Cache) Get(url string, digest artifact.Digest) (*Index, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(cacheKey{url, digest})
}

func (c *Cache) get(k cacheKey) (*Index, bool) {
	el, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	now := c.now()
	if c.ttl > 0 && now.Sub(e.used) > c.ttl {
		c.remove(el)
		return nil, false
	}
	e.used = now
	c.lru.MoveToFront(el)
	return e.idx, true
}

// Add caches idx for url and digest. An index larger than the whole cache
// is not kept.
func (c *Cache) Add(url string, digest artifact.Digest, idx *Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(cacheKey{url, digest}, idx)
}

func (c *Cache) add(k cacheKey, idx *Index) {
	if el, ok := c.entries[k]; ok {
		c.remove(el)
	}
	if idx.Size() > c.maxBytes {
		return
	}
	c.expire()
	for c.size+idx.Size() > c.maxBytes && c.lru.Len() > 0 {
		c.remove(c.lru.Back())
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, idx: idx, used: c.now()})
	c.size += idx.Size()
}

func (c *Cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.size -= e.idx.Size()
}

// expire drops the entries past their TTL.
func (c *Cache) expire() {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	for el := c.lru.Back(); el != nil; {
		prev := el.Prev()
		if now.Sub(el.Value.(*cacheEntry).used) > c.ttl {
			c.remove(el)
		}
		el = prev
	}
}

// GetOrLoad returns the index cached for url and digest, or calls load
// (once, however many callers ask for the same key at the same time) and
// caches its result. A caller whose context ends stops waiting; a load
// that fails is not cached: callers waiting for it get its error, or load
// again when it failed only because the loader's context ended.
func (c *Cache) GetOrLoad(ctx context.Context, url string, digest artifact.Digest, loadFn func(context.Context) (*Index, error)) (*Index, error) {
	k := cacheKey{url, digest}
	for {
		c.mu.Lock()
		if idx, ok := c.get(k); ok {
			c.mu.Unlock()
			return idx, nil
		}
		if l, ok := c.inflight[k]; ok {
			c.mu.Unlock()
			select {
			case <-l.done:
				if l.err == nil {
					return l.idx, nil
				}
				if ctx.Err() == nil && (errors.Is(l.err, context.Canceled) || errors.Is(l.err, context.DeadlineExceeded)) {
					continue // the loader's context ended, not ours: load ourselves
				}
				return nil, l.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		l := &load{done: make(chan struct{})}
		c.inflight[k] = l
		c.mu.Unlock()

		l.idx, l.err = loadFn(ctx)
		c.mu.Lock()
		delete(c.inflight, k)
		if l.err == nil {
			c.add(k, l.idx)
		}
		c.mu.Unlock()
		close(l.done)
		return l.idx, l.err
	}
}

// Len returns the number of indexes cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Size returns the sum of the cached indexes' Size.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
