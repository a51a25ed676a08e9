package ssa

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// How the live objects of a set are read.
const (
	// listMinClusterScoped is the number of a set's objects of one
	// cluster-scoped kind from which they are listed instead of read one
	// by one: a lone Namespace costs one request either way, and its GET
	// reads one object where a list reads every namespace of the cluster.
	// The objects of a namespaced kind are always listed.
	listMinClusterScoped = 2
	// listPage is the page size of those lists; a page holds at most this
	// many objects, so one response stays bounded.
	listPage = 500
)

// groupKey is one GroupVersionKind in one namespace ("" for
// cluster-scoped kinds).
type groupKey struct {
	gvk       schema.GroupVersionKind
	namespace string
}

// liveObjects reads the live objects of one Apply or Diff: with one
// consistent list per GroupVersionKind and namespace (so an absent object
// needs no GET: the list says it is not there), and a GET for a lone
// object of a cluster-scoped kind and for CustomResourceDefinitions. A group is listed the
// first time one of its objects is needed, so the objects of a Namespace
// or CRD the set creates are listed only after it exists. A list the
// identity may not send, or that fails, falls back to a GET per object.
type liveObjects struct {
	m      *Manager
	wanted map[groupKey]map[string]bool

	mu     sync.Mutex
	groups map[groupKey]*liveGroup
}

type liveGroup struct {
	once sync.Once
	// objs holds the listed objects the set names; complete is false when
	// the list stopped early (then an object not in objs is read with a
	// GET) and listed false when it failed altogether.
	objs     map[string]*unstructured.Unstructured
	listed   bool
	complete bool
}

// neverListed are kinds read one by one whatever their number:
// CustomResourceDefinitions are large and a cluster holds many.
var neverListed = map[schema.GroupKind]bool{gkCRD: true}

func newLiveObjects(m *Manager, items []*item) *liveObjects {
	l := &liveObjects{m: m, wanted: map[groupKey]map[string]bool{}, groups: map[groupKey]*liveGroup{}}
	for _, it := range items {
		k := groupKey{it.obj.GroupVersionKind(), it.id.Namespace}
		if l.wanted[k] == nil {
			l.wanted[k] = map[string]bool{}
		}
		l.wanted[k][it.id.Name] = true
	}
	return l
}

// get returns the live object of it, nil when it does not exist. The
// object returned is shared: callers must not modify it.
func (l *liveObjects) get(ctx context.Context, it *item) (*unstructured.Unstructured, error) {
	gvk := it.obj.GroupVersionKind()
	k := groupKey{gvk, it.id.Namespace}
	if (k.namespace == "" && len(l.wanted[k]) < listMinClusterScoped) || neverListed[gvk.GroupKind()] {
		return l.m.get(ctx, gvk, it.id)
	}
	l.mu.Lock()
	g := l.groups[k]
	if g == nil {
		g = &liveGroup{}
		l.groups[k] = g
	}
	l.mu.Unlock()
	g.once.Do(func() { l.list(ctx, k, g) })
	if g.listed {
		if o, ok := g.objs[it.id.Name]; ok {
			return o, nil
		}
		if g.complete {
			return nil, nil
		}
	}
	return l.m.get(ctx, gvk, it.id)
}

// list reads one group. With ownership labels (Owner.Group) it first lists
// the objects carrying them — in the steady state exactly the set's
// objects, whatever else their namespace holds, so that re-checking many
// sets in one crowded namespace costs each what it owns, not what the
// namespace holds. When one of the set's objects is not among them (the
// set adds it, takes it over, or it was deleted behind the owner's back)
// it lists the group whole, as without labels, so that an object to
// create needs no GET.
func (l *liveObjects) list(ctx context.Context, k groupKey, g *liveGroup) {
	if sel := l.m.owner.labels(); sel != nil && l.listOwned(ctx, k, g, sel) {
		return
	}
	l.listAll(ctx, k, g)
}

// listOwned lists the objects of group k carrying the labels sel and
// reports whether that found every object of the set there.
func (l *liveObjects) listOwned(ctx context.Context, k groupKey, g *liveGroup, sel map[string]string) bool {
	wanted := l.wanted[k]
	found := make(map[string]*unstructured.Unstructured, len(wanted))
	opts := []client.ListOption{client.Limit(listPage), client.MatchingLabels(sel)}
	if k.namespace != "" {
		opts = append(opts, client.InNamespace(k.namespace))
	}
	cont := ""
	for {
		page := &unstructured.UnstructuredList{}
		page.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := l.m.client.List(ctx, page, append(opts, client.Continue(cont))...); err != nil {
			logr.FromContextOrDiscard(ctx).V(1).Info("listing owned objects failed", "kind", k.gvk.String(), "namespace", k.namespace, "error", err.Error())
			return false
		}
		for i := range page.Items {
			o := &page.Items[i]
			if wanted[o.GetName()] {
				o.SetGroupVersionKind(k.gvk)
				found[o.GetName()] = o
			}
		}
		if cont = page.GetContinue(); cont == "" {
			break
		}
	}
	if len(found) < len(wanted) {
		return false
	}
	g.objs, g.listed, g.complete = found, true, true
	return true
}

// listAll reads one group in pages of listPage, keeping the objects the set
// names. It stops once it has read four times as many objects as the set
// has in the group (at least a page): a namespace crowded with other
// objects costs the set a bounded list and a GET per object not seen.
func (l *liveObjects) listAll(ctx context.Context, k groupKey, g *liveGroup) {
	wanted := l.wanted[k]
	g.objs = make(map[string]*unstructured.Unstructured, len(wanted))
	budget := max(listPage, 4*len(wanted))
	opts := []client.ListOption{client.Limit(listPage)}
	if k.namespace != "" {
		opts = append(opts, client.InNamespace(k.namespace))
	}
	read := 0
	cont := ""
	for {
		page := &unstructured.UnstructuredList{}
		page.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		err := l.m.client.List(ctx, page, append(opts, client.Continue(cont))...)
		if err != nil {
			logr.FromContextOrDiscard(ctx).V(1).Info("listing failed, reading objects one by one", "kind", k.gvk.String(), "namespace", k.namespace, "error", err.Error())
			g.objs, g.listed = nil, false
			return
		}
		for i := range page.Items {
			o := &page.Items[i]
			if wanted[o.GetName()] {
				o.SetGroupVersionKind(k.gvk)
				g.objs[o.GetName()] = o
			}
		}
		read += len(page.Items)
		cont = page.GetContinue()
		if cont == "" {
			g.listed, g.complete = true, true
			return
		}
		if read >= budget || len(g.objs) == len(wanted) {
			g.listed = true // complete only if every wanted object was seen
			g.complete = len(g.objs) == len(wanted)
			return
		}
	}
}
