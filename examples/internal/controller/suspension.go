package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Suspension remembers which objects a reconciler last saw suspended, so
// that the Lifecycle records one Suspended event when a suspension starts
// and one Resumed event when it ends, however often the object is
// reconciled meanwhile. It lives in memory: after a restart, a suspended
// object's first reconcile says Suspended again, and an object resumed
// while gitopsd was down gets no Resumed event. The zero value is ready;
// a nil Suspension remembers nothing and reports nothing.
type Suspension struct {
	mu        sync.Mutex
	suspended map[types.NamespacedName]struct{}
}

// start records obj as suspended and reports whether it was not before.
func (s *Suspension) start(obj client.Object) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := client.ObjectKeyFromObject(obj)
	if _, ok := s.suspended[key]; ok {
		return false
	}
	if s.suspended == nil {
		s.suspended = map[types.NamespacedName]struct{}{}
	}
	s.suspended[key] = struct{}{}
	return true
}

// end records obj as not suspended and reports whether it was.
func (s *Suspension) end(obj client.Object) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := client.ObjectKeyFromObject(obj)
	_, ok := s.suspended[key]
	delete(s.suspended, key)
	return ok
}

// forget drops obj, gone for good.
func (s *Suspension) forget(obj client.Object) { s.end(obj) }
