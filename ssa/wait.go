package ssa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Status is an object's kstatus status.
type Status string

// Statuses, with the meaning kstatus gives them.
const (
	StatusCurrent     Status = Status(status.CurrentStatus)
	StatusInProgress  Status = Status(status.InProgressStatus)
	StatusFailed      Status = Status(status.FailedStatus)
	StatusTerminating Status = Status(status.TerminatingStatus)
	StatusNotFound    Status = Status(status.NotFoundStatus)
	StatusUnknown     Status = Status(status.UnknownStatus)
)

// ObjectStatus is the status of one object as Wait last saw it.
type ObjectStatus struct {
	ID      ObjectID
	Status  Status
	Message string
}

func (s ObjectStatus) String() string {
	if s.Message == "" {
		return fmt.Sprintf("%s: %s", s.ID, s.Status)
	}
	return fmt.Sprintf("%s: %s: %s", s.ID, s.Status, s.Message)
}

// WaitOptions are the per-call knobs of Wait. The zero value waits up to
// five minutes for every object to be Current, with the kstatus rules.
type WaitOptions struct {
	// Timeout bounds the wait. Default five minutes.
	Timeout time.Duration
	// FailFast returns as soon as any object is Failed instead of waiting
	// for it to recover or for the timeout.
	FailFast bool
	// HealthRules replace the kstatus rules for the kinds they name.
	HealthRules []HealthRule
	// DefaultNamespace is given to namespaced objects that have none.
	DefaultNamespace string
	// Owned says the objects are this Manager's: applied by it, so they
	// carry its ownership labels (Owner.Group). They are then listed and
	// watched by those labels instead of every object of their kind and
	// namespace, so waiting for a set in a namespace crowded with other
	// objects reads the set, not the namespace. A kind and namespace whose
	// list by labels lacks one of the objects (deleted, or its labels
	// removed) is listed and watched whole, as without Owned. Ignored
	// without ownership labels.
	Owned bool
}

// WaitError is returned by Wait when the set did not become Current. It
// matches ErrTimeout or ErrFailed with errors.Is, and lists every object that
// is not Current with its status and message.
type WaitError struct {
	Cause    error // ErrTimeout, ErrFailed, or the context's error
	Unready  []ObjectStatus
	Duration time.Duration
}

func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v after %s; %d not ready:", e.Cause, e.Duration.Round(time.Millisecond), len(e.Unready))
	for _, s := range e.Unready {
		b.WriteString("\n  ")
		b.WriteString(s.String())
	}
	return b.String()
}

func (e *WaitError) Unwrap() error { return e.Cause }

// Wait watches the objects until every one is Current, or one is Failed and
// opts.FailFast is set, or the timeout passes. Statuses come from kstatus,
// with these refinements: a Stalled=True condition is Failed, a Job is
// Current only once Complete, and opts.HealthRules override the rules for
// their kinds. Objects are watched (one watch per kind and namespace, or per
// object when it is alone), so a change is seen as soon as the API server
// sends it.
func (m *Manager) Wait(ctx context.Context, objs []*unstructured.Unstructured, opts WaitOptions) error {
	rules, err := compileRules(opts.HealthRules)
	if err != nil {
		return err
	}
	items, err := m.prepare(ctx, objs, opts.DefaultNamespace)
	if err != nil {
		return err
	}
	targets := make([]*unstructured.Unstructured, len(items))
	for i, it := range items {
		targets[i] = it.obj
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	eval := func(id ObjectID, obj *unstructured.Unstructured) ObjectStatus {
		return computeStatus(id, obj, rules)
	}
	done := func(s ObjectStatus) bool { return s.Status == StatusCurrent }
	failed := func(s ObjectStatus) bool { return opts.FailFast && s.Status == StatusFailed }
	var owned map[string]string
	if opts.Owned {
		owned = m.owner.labels()
	}
	return m.watchUntil(ctx, targets, timeout, owned, eval, done, failed)
}

// waitOne waits for one object to be Current with the kstatus rules.
func (m *Manager) waitOne(ctx context.Context, obj *unstructured.Unstructured, timeout time.Duration) error {
	eval := func(id ObjectID, o *unstructured.Unstructured) ObjectStatus { return computeStatus(id, o, nil) }
	return m.watchUntil(ctx, []*unstructured.Unstructured{obj}, timeout, nil, eval,
		func(s ObjectStatus) bool { return s.Status == StatusCurrent },
		func(s ObjectStatus) bool { return false })
}

// waitGone waits until every object is deleted.
func (m *Manager) waitGone(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration) error {
	eval := func(id ObjectID, o *unstructured.Unstructured) ObjectStatus {
		if o == nil {
			return ObjectStatus{ID: id, Status: StatusNotFound}
		}
		return ObjectStatus{ID: id, Status: StatusTerminating, Message: "still exists"}
	}
	return m.watchUntil(ctx, objs, timeout, nil, eval,
		func(s ObjectStatus) bool { return s.Status == StatusNotFound },
		func(s ObjectStatus) bool { return false })
}

type watchKey struct {
	gvk       schema.GroupVersionKind
	namespace string
}

type observation struct {
	id  ObjectID
	obj *unstructured.Unstructured // nil: absent
}

// watchUntil lists and watches the objects (by the labels owned, when not
// nil), evaluating each observation, until done holds for all, failed
// holds for one, or the timeout.
func (m *Manager) watchUntil(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration, owned map[string]string,
	eval func(ObjectID, *unstructured.Unstructured) ObjectStatus, done, failed func(ObjectStatus) bool) error {
	if len(objs) == 0 {
		return nil
	}
	wc := m.watcher
	if wc == nil {
		return errors.New("the Manager's client cannot watch: build it with client.NewWithWatch or pass WithWatchClient")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	groups := map[watchKey][]string{}
	statuses := map[ObjectID]ObjectStatus{}
	var order []ObjectID
	for _, o := range objs {
		k := watchKey{o.GroupVersionKind(), o.GetNamespace()}
		groups[k] = append(groups[k], o.GetName())
		id := IDOf(o)
		if _, dup := statuses[id]; !dup {
			order = append(order, id)
		}
		statuses[id] = ObjectStatus{ID: id, Status: StatusUnknown, Message: "not observed yet"}
	}
	// A listed snapshot arrives as one batch, so a fail-fast decision
	// reports every object of that list, not only the first by name.
	obs := make(chan []observation, 64)
	errc := make(chan error, len(groups))
	for k, names := range groups {
		go func() {
			if err := watchGroup(ctx, wc, k, names, owned, obs); err != nil && ctx.Err() == nil {
				errc <- err
			}
		}()
	}
	pending := len(statuses)
	isDone := map[ObjectID]bool{}
	for {
		select {
		case batch := <-obs:
			anyFailed := false
			for _, o := range batch {
				if _, ok := statuses[o.id]; !ok {
					continue
				}
				s := eval(o.id, o.obj)
				statuses[o.id] = s
				if d := done(s); d != isDone[o.id] {
					isDone[o.id] = d
					if d {
						pending--
					} else {
						pending++
					}
				}
				anyFailed = anyFailed || failed(s)
			}
			if pending == 0 {
				return nil
			}
			if anyFailed {
				return waitError(ErrFailed, order, statuses, isDone, start)
			}
		case err := <-errc:
			return fmt.Errorf("watching objects: %w", err)
		case <-ctx.Done():
			cause := ErrTimeout
			if parent := context.Cause(ctx); !errors.Is(parent, context.DeadlineExceeded) {
				cause = parent
			}
			return waitError(cause, order, statuses, isDone, start)
		}
	}
}

func waitError(cause error, order []ObjectID, statuses map[ObjectID]ObjectStatus, done map[ObjectID]bool, start time.Time) error {
	e := &WaitError{Cause: cause, Duration: time.Since(start)}
	for _, id := range order {
		if !done[id] {
			e.Unready = append(e.Unready, statuses[id])
		}
	}
	return e
}

// watchGroup lists then watches one kind in one namespace (by name when a
// single object is wanted; by the labels owned, when not nil, until a list
// by them lacks a wanted object) and sends an observation per event for
// the wanted names. It re-lists when the watch expires and re-watches when
// the server closes it.
func watchGroup(ctx context.Context, wc client.WithWatch, k watchKey, names []string, owned map[string]string, out chan<- []observation) error {
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	listOpts := []client.ListOption{}
	if k.namespace != "" {
		listOpts = append(listOpts, client.InNamespace(k.namespace))
	}
	if len(names) == 1 {
		listOpts = append(listOpts, client.MatchingFields{"metadata.name": names[0]})
	}
	whole := listOpts
	if len(owned) > 0 {
		listOpts = append(slices.Clone(listOpts), client.MatchingLabels(owned))
	}
	listGVK := k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List")
	obsOf := func(name string, obj *unstructured.Unstructured) observation {
		return observation{id: ObjectID{Group: k.gvk.Group, Kind: k.gvk.Kind, Namespace: k.namespace, Name: name}, obj: obj}
	}
	sendBatch := func(batch []observation) bool {
		select {
		case out <- batch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	send := func(name string, obj *unstructured.Unstructured) bool {
		return sendBatch([]observation{obsOf(name, obj)})
	}
	log := logr.FromContextOrDiscard(ctx)
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(listGVK)
			if err := wc.List(ctx, list, listOpts...); err != nil {
				return fmt.Errorf("listing %s: %w", listGVK, err)
			}
			seen := map[string]bool{}
			batch := make([]observation, 0, len(wanted))
			for i := range list.Items {
				o := &list.Items[i]
				if wanted[o.GetName()] {
					seen[o.GetName()] = true
					batch = append(batch, obsOf(o.GetName(), o))
				}
			}
			if len(seen) < len(wanted) && len(listOpts) > len(whole) {
				// One is absent or lost its labels: only the whole kind
				// tells which, and shows it when it comes back.
				listOpts = whole
				continue
			}
			for n := range wanted {
				if !seen[n] {
					batch = append(batch, obsOf(n, nil))
				}
			}
			if !sendBatch(batch) {
				return nil
			}
			rv = list.GetResourceVersion()
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(listGVK)
		w, err := wc.Watch(ctx, list, append(slices.Clone(listOpts),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})...)
		if err != nil {
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				rv = ""
				continue
			}
			return fmt.Errorf("watching %s: %w", listGVK, err)
		}
		rv = consume(ctx, w, wanted, send, rv)
		w.Stop()
		log.V(2).Info("watch closed, resuming", "kind", listGVK.String(), "resourceVersion", rv)
	}
	return nil
}

// consume reads watch events until the watch ends and returns the
// resourceVersion to resume from ("" to re-list).
func consume(ctx context.Context, w watch.Interface, wanted map[string]bool, send func(string, *unstructured.Unstructured) bool, rv string) string {
	for {
		select {
		case <-ctx.Done():
			return rv
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv
			}
			switch ev.Type {
			case watch.Error:
				return ""
			case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark:
				o, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				rv = o.GetResourceVersion()
				if ev.Type == watch.Bookmark || !wanted[o.GetName()] {
					continue
				}
				if ev.Type == watch.Deleted {
					o = nil
				}
				if !send(nameOf(ev.Object), o) {
					return rv
				}
			}
		}
	}
}

func nameOf(o any) string {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return u.GetName()
	}
	return ""
}
