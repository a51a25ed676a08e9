package kustomize

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/kustomize"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// DefaultBuildCacheBytes is the build cache's bound when
// KustomizationReconciler.BuildCacheBytes is zero.
const DefaultBuildCacheBytes = 256 << 20

// buildKey identifies everything a build's result depends on: the
// Kustomization (UID and generation, which cover the whole spec), the
// artifact's digest, and the values read from the cluster for it (the
// decryption keys and the substitution variables, so a changed ConfigMap
// or Secret is a new key).
type buildKey [sha256.Size]byte

// newBuildKey returns the key of building obj from the artifact of the
// given digest with opts.
func newBuildKey(obj *kustomizev1.Kustomization, digest string, opts kustomize.Options) buildKey {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(string(obj.UID))
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], uint64(obj.Generation))
	h.Write(g[:])
	field(digest)
	if d := opts.Decrypt; d != nil {
		field("decrypt")
		for _, id := range d.AgeIdentities {
			field(id)
		}
		field("pgp")
		for _, k := range d.PGPKeys {
			field(string(k))
		}
	}
	if s := opts.Substitute; s != nil {
		field("substitute")
		if s.Strict {
			field("strict")
		}
		names := make([]string, 0, len(s.Vars))
		for k := range s.Vars {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			field(k)
			field(s.Vars[k])
		}
	}
	var k buildKey
	h.Sum(k[:0])
	return k
}

// buildCache remembers the last build of each Kustomization, so that a
// re-check of an unchanged one (same artifact, same spec, same values read
// from the cluster) neither downloads and unpacks the artifact nor runs
// kustomize: in the steady state that was most of a reconcile's CPU. It
// holds one entry per Kustomization, the least recently used dropped first
// once the entries' sizes (their objects' JSON encoding) pass max bytes.
// An entry is handed out and stored as a deep copy: Apply may modify the
// objects it is given. Safe for concurrent use.
type buildCache struct {
	max int64

	mu      sync.Mutex
	size    int64
	lru     list.List // of *buildEntry, most recently used first
	entries map[types.NamespacedName]*list.Element
}

type buildEntry struct {
	name   types.NamespacedName
	key    buildKey
	objs   []*unstructured.Unstructured
	digest string
	size   int64
}

func newBuildCache(max int64) *buildCache {
	return &buildCache{max: max, entries: map[types.NamespacedName]*list.Element{}}
}

// get returns a copy of the objects built for name under key, and their
// digest.
func (c *buildCache) get(name types.NamespacedName, key buildKey) ([]*unstructured.Unstructured, string, bool) {
	if c == nil {
		return nil, "", false
	}
	c.mu.Lock()
	el, ok := c.entries[name]
	if !ok || el.Value.(*buildEntry).key != key {
		c.mu.Unlock()
		return nil, "", false
	}
	c.lru.MoveToFront(el)
	e := el.Value.(*buildEntry)
	c.mu.Unlock()
	return deepCopy(e.objs), e.digest, true // e.objs is never modified
}

// put stores a copy of objs as name's build under key, replacing its
// previous one. A build larger than the whole bound is not kept.
func (c *buildCache) put(name types.NamespacedName, key buildKey, objs []*unstructured.Unstructured, digest string, size int64) {
	if c == nil {
		return
	}
	c.forget(name)
	if size > c.max {
		return
	}
	e := &buildEntry{name: name, key: key, objs: deepCopy(objs), digest: digest, size: size}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[name]; ok { // a concurrent put won the race
		c.remove(old)
	}
	c.entries[name] = c.lru.PushFront(e)
	c.size += size
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

// forget drops name's entry, if any.
func (c *buildCache) forget(name types.NamespacedName) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[name]; ok {
		c.remove(el)
	}
}

// stats returns the number of entries and their total size.
func (c *buildCache) stats() (entries int, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.size
}

// remove drops el; c.mu is held.
func (c *buildCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*buildEntry)
	delete(c.entries, e.name)
	c.size -= e.size
}

func deepCopy(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}
