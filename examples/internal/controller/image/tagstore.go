package image

import (
	"container/list"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// DefaultTagStoreSize is the number of ImageRepositories whose tags a
// TagStore of size 0 keeps.
const DefaultTagStoreSize = 1000

// TagStore keeps the tags of the last scan of each ImageRepository, keyed
// by the object's UID, in memory. It holds at most its size of
// repositories; putting one more evicts the one used least recently (an
// evicted or never scanned repository's policies wait for its next scan).
// The tags of one repository are bounded by the scan's own limit. It is
// safe for concurrent use; the zero value is not ready, use NewTagStore.
type TagStore struct {
	mu      sync.Mutex
	size    int
	order   *list.List // of types.UID, most recently used first
	entries map[types.UID]*tagEntry
}

type tagEntry struct {
	revision string
	tags     []string
	elem     *list.Element
}

// NewTagStore returns a store of at most size repositories
// (DefaultTagStoreSize when size <= 0).
func NewTagStore(size int) *TagStore {
	if size <= 0 {
		size = DefaultTagStoreSize
	}
	return &TagStore{size: size, order: list.New(), entries: map[types.UID]*tagEntry{}}
}

// Put records the tags of a scan of the repository uid, with the scan's
// revision. The store keeps its own copy.
func (s *TagStore) Put(uid types.UID, revision string, tags []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[uid]; ok {
		e.revision, e.tags = revision, slices.Clone(tags)
		s.order.MoveToFront(e.elem)
		return
	}
	for len(s.entries) >= s.size {
		last := s.order.Back()
		delete(s.entries, last.Value.(types.UID))
		s.order.Remove(last)
	}
	s.entries[uid] = &tagEntry{revision: revision, tags: slices.Clone(tags), elem: s.order.PushFront(uid)}
}

// Get returns the tags and revision of the last scan of uid, and whether
// the store has them. The slice must not be modified.
func (s *TagStore) Get(uid types.UID) (tags []string, revision string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[uid]
	if !ok {
		return nil, "", false
	}
	s.order.MoveToFront(e.elem)
	return e.tags, e.revision, true
}

// Delete forgets uid (its ImageRepository is gone).
func (s *TagStore) Delete(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[uid]; ok {
		s.order.Remove(e.elem)
		delete(s.entries, uid)
	}
}

// Len returns the number of repositories held.
func (s *TagStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}
