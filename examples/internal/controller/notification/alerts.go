package notification

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/runtime/acl"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// Alerts answers the hub (hub.Alerts) from the manager's cache of Alert and
// Provider objects: for each event, the Alerts that are not suspended,
// whose Provider is not suspended and resolves (Providers), and whose
// namespace may refer to the event's object under the cross-namespace
// policy. The hub.Alert built from an Alert is kept while the Alert's
// generation and its provider stay the same, so the hub's no-spam state
// (keyed by the Alert's UID) and compiled expressions outlive events.
type Alerts struct {
	// Client reads Alerts and Providers from the cache, and the Namespace
	// of a selector policy uncached.
	Client client.Client
	// Providers builds the Providers' clients.
	Providers *Providers
	// ACL is gitopsd's cross-namespace policy; the zero Policy lets an
	// Alert hear only its own namespace.
	ACL acl.Policy

	mu    sync.Mutex
	built map[types.UID]*builtAlert
}

// builtAlert is a hub.Alert and what it was built from.
type builtAlert struct {
	generation int64
	provider   events.Provider
	alert      *hub.Alert
}

var _ hub.Alerts = (*Alerts)(nil)

// Alerts returns the alerts e may match. Only a failure to list Alerts is
// an error (the recorder posts again); an Alert that cannot be used now (a
// Provider missing or failing to resolve, an invalid expression) is left
// out and reported on its own status by its reconciler.
func (as *Alerts) Alerts(ctx context.Context, e *events.Event) ([]*hub.Alert, error) {
	var list notificationv1.AlertList
	if err := as.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Alerts: %w", err)
	}
	log := logr.FromContextOrDiscard(ctx)
	seen := make(map[types.UID]bool, len(list.Items))
	var out []*hub.Alert
	for i := range list.Items {
		a := &list.Items[i]
		seen[a.UID] = true
		if a.Spec.Suspend || !a.DeletionTimestamp.IsZero() || !mayMatch(a, e) || !as.mayHear(ctx, a, e) {
			continue
		}
		ha, err := as.build(ctx, a)
		if err != nil {
			log.V(1).Info("alert skipped", "alert", a.Namespace+"/"+a.Name, "reason", err.Error())
			continue
		}
		if ha != nil {
			out = append(out, ha)
		}
	}
	as.sweep(seen)
	return out, nil
}

// mayMatch reports whether one of a's sources names the event's kind and
// namespace: the others are not worth a policy check (a Namespace read
// under a selector policy) or a provider.
func mayMatch(a *notificationv1.Alert, e *events.Event) bool {
	o := e.InvolvedObject
	for _, s := range a.Spec.EventSources {
		ns := s.Namespace
		if ns == "" {
			ns = a.Namespace
		}
		if (s.Kind == o.Kind || s.Kind == "*") && (ns == o.Namespace || ns == "*") {
			return true
		}
	}
	return false
}

// mayHear reports whether a's namespace may refer to the event's object:
// its own namespace always, another only as the policy allows.
func (as *Alerts) mayHear(ctx context.Context, a *notificationv1.Alert, e *events.Event) bool {
	ns := e.InvolvedObject.Namespace
	if ns == a.Namespace {
		return true
	}
	return as.ACL.Check(ctx, as.Client, a.Namespace, ns) == nil
}

// build returns the hub.Alert for a, from the cache when a and its
// provider did not change; nil when its Provider is suspended.
func (as *Alerts) build(ctx context.Context, a *notificationv1.Alert) (*hub.Alert, error) {
	p := &notificationv1.Provider{}
	if err := as.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.ProviderRef.Name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("provider %q not found", a.Spec.ProviderRef.Name)
		}
		return nil, err
	}
	if p.Spec.Suspend {
		return nil, nil
	}
	prov, _, err := as.Providers.Resolve(ctx, p, false)
	if err != nil {
		return nil, err
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if b := as.built[a.UID]; b != nil && b.generation == a.Generation && b.provider == prov {
		return b.alert, nil
	}
	ha, err := hubAlert(a, p, prov)
	if err != nil {
		return nil, err
	}
	if as.built == nil {
		as.built = map[types.UID]*builtAlert{}
	}
	as.built[a.UID] = &builtAlert{generation: a.Generation, provider: prov, alert: ha}
	return ha, nil
}

// sweep forgets the alerts that are gone.
func (as *Alerts) sweep(seen map[types.UID]bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if len(as.built) <= len(seen) {
		return
	}
	for uid := range as.built {
		if !seen[uid] {
			delete(as.built, uid)
		}
	}
}

// Labels reads the labels of an event's object from the cache, for event
// sources with matchLabels (hub.WithLabels). Objects of kinds the client's
// scheme does not know have none.
func (as *Alerts) Labels(ctx context.Context, ref corev1.ObjectReference) (map[string]string, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	obj, err := as.Client.Scheme().New(gvk)
	if err != nil {
		return nil, fmt.Errorf("no labels for kind %s: %w", gvk.Kind, err)
	}
	co, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("no labels for kind %s", gvk.Kind)
	}
	if err := as.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, co); err != nil {
		return nil, err
	}
	return co.GetLabels(), nil
}

// hubAlert makes the hub's alert from an Alert and its Provider.
func hubAlert(a *notificationv1.Alert, p *notificationv1.Provider, prov events.Provider) (*hub.Alert, error) {
	inc, err := compileAll("inclusionList", a.Spec.InclusionList)
	if err != nil {
		return nil, err
	}
	exc, err := compileAll("exclusionList", a.Spec.ExclusionList)
	if err != nil {
		return nil, err
	}
	ha := &hub.Alert{
		ID:           a.Namespace + "/" + a.Name + "/" + string(a.UID),
		Namespace:    a.Namespace,
		Severity:     a.Spec.EventSeverity,
		Inclusion:    inc,
		Exclusion:    exc,
		Metadata:     a.Spec.EventMetadata,
		Summary:      a.Spec.Summary,
		Reminder:     a.GetReminderInterval(),
		Provider:     prov,
		ProviderName: p.Namespace + "/" + p.Name,
		ProviderID:   string(p.UID),
		Timeout:      p.GetTimeout(),
	}
	for _, s := range a.Spec.EventSources {
		ha.Sources = append(ha.Sources, hub.Source{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace, MatchLabels: s.MatchLabels})
	}
	return ha, ha.Validate()
}

// compileAll compiles an Alert's list of regular expressions, naming the
// field and the index of the first invalid one.
func compileAll(field string, exprs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(exprs))
	for i, x := range exprs {
		re, err := regexp.Compile(x)
		if err != nil {
			return nil, fmt.Errorf("spec.%s[%d] is not a valid regular expression: %w", field, i, err)
		}
		out = append(out, re)
	}
	return out, nil
}
