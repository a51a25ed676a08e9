package notification

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// TestAlertFilters checks each filter of an Alert through the hub to a
// real HTTP sink: severity, event sources by kind, name ("*" and a glob),
// namespace and labels, the inclusion and exclusion lists; and that
// eventMetadata and summary reach the notification's metadata.
func TestAlertFilters(t *testing.T) {
	t.Parallel()
	ks := func(name string) notificationv1.CrossNamespaceObjectReference {
		return notificationv1.CrossNamespaceObjectReference{Kind: kustomizev1.KustomizationKind, Name: name}
	}
	for name, tc := range map[string]struct {
		spec   notificationv1.AlertSpec
		events func(ns string) []*events.Event
		want   []string
	}{
		"severity error drops info": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}, EventSeverity: "error"},
			events: func(ns string) []*events.Event {
				return []*events.Event{event(ns, "app", "info", "applied revision one"), event(ns, "app", "error", "health check failed")}
			},
			want: []string{"health check failed"},
		},
		"severity info takes both": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}, EventSeverity: "info"},
			events: func(ns string) []*events.Event {
				return []*events.Event{event(ns, "app", "info", "applied revision one"), event(ns, "app", "error", "health check failed")}
			},
			want: []string{"applied revision one", "health check failed"},
		},
		"name star takes every name of the kind": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}},
			events: func(ns string) []*events.Event {
				other := event(ns, "app", "info", "a GitRepository")
				other.InvolvedObject.Kind, other.InvolvedObject.APIVersion = "GitRepository", "source.gitopskit.dev/v1"
				return []*events.Event{event(ns, "app", "info", "from app"), event(ns, "web", "info", "from web"), other}
			},
			want: []string{"from app", "from web"},
		},
		"name glob and exact name": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("app-*"), ks("db")}},
			events: func(ns string) []*events.Event {
				return []*events.Event{
					event(ns, "app-front", "info", "from app-front"), event(ns, "web", "info", "from web"),
					event(ns, "db", "info", "from db"), event(ns, "db2", "info", "from db2"),
				}
			},
			want: []string{"from app-front", "from db"},
		},
		"own namespace only by default": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}},
			events: func(ns string) []*events.Event {
				return []*events.Event{event(ns, "app", "info", "here"), event("elsewhere", "app", "info", "elsewhere")}
			},
			want: []string{"here"},
		},
		"inclusion list": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}, InclusionList: []string{"^applied", "pruned$"}},
			events: func(ns string) []*events.Event {
				return []*events.Event{
					event(ns, "a", "info", "applied revision two"), event(ns, "b", "info", "health check passed"),
					event(ns, "c", "info", "2 objects pruned"),
				}
			},
			want: []string{"applied revision two", "2 objects pruned"},
		},
		"exclusion list": {
			spec: notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{ks("*")}, ExclusionList: []string{"(?i)dns"}},
			events: func(ns string) []*events.Event {
				return []*events.Event{event(ns, "a", "error", "lookup failed: DNS timeout"), event(ns, "b", "error", "apply failed")}
			},
			want: []string{"apply failed"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.ready(f.provider("p"))
			f.ready(f.alert("a", "p", tc.spec))
			got := messages(f.submit("p", tc.events(f.ns)...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAlertMatchLabels checks that a source with matchLabels takes only
// the objects so labelled, read from the cache.
func TestAlertMatchLabels(t *testing.T) {
	f := newFixture(t)
	for name, l := range map[string]map[string]string{"labelled": {"team": "a"}, "other-team": {"team": "b"}, "unlabelled": nil} {
		f.create(&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
			Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "none"},
				Interval:  metav1.Duration{Duration: 3600e9}, Suspend: true,
			},
		})
	}
	f.ready(f.provider("p"))
	f.ready(f.alert("a", "p", notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{
		{Kind: kustomizev1.KustomizationKind, Name: "*", MatchLabels: map[string]string{"team": "a"}},
	}}))
	// The cache may not hold the objects at once: the labelled one is
	// submitted until it arrives (its message differs each time, so no
	// repeat is suppressed), then each of the others once.
	for i := 0; ; i++ {
		got := f.submit("p", event(f.ns, "labelled", "info", "from labelled "+strings.Repeat("x", i)))
		if len(got) == 1 {
			break
		}
		if i == 100 {
			t.Fatal("the labelled Kustomization never matched")
		}
	}
	if got := f.submit("p", event(f.ns, "other-team", "info", "from b"), event(f.ns, "unlabelled", "info", "from none"), event(f.ns, "missing", "info", "from missing")); len(got) != 0 {
		t.Errorf("notifications for objects without the label: %v", messages(got))
	}
}

// TestAlertMetadata checks that eventMetadata and summary are added to
// the notification's metadata, and that the event's own keys win.
func TestAlertMetadata(t *testing.T) {
	f := newFixture(t)
	f.ready(f.provider("p"))
	f.ready(f.alert("a", "p", notificationv1.AlertSpec{
		EventSources:  []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}},
		EventMetadata: map[string]string{"env": "prod", "revision": "from the alert"},
		Summary:       "cluster eu-1",
	}))
	e := event(f.ns, "app", "info", "applied")
	e.Metadata = map[string]string{kustomizev1.GroupVersion.Group + "/revision": "main@sha1:abc"}
	got := f.submit("p", e)
	if len(got) != 1 {
		t.Fatalf("got %d notifications, want 1", len(got))
	}
	want := map[string]string{"env": "prod", "summary": "cluster eu-1", "revision": "main@sha1:abc"}
	if diff := cmp.Diff(want, got[0].Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

// TestAlertCrossNamespace checks the cross-namespace policy (here: only
// namespaces labelled trustedLabel=true may reach others): an Alert of a
// trusted namespace hears the namespace it names, or every namespace with
// "*"; an Alert of another namespace naming the same hears nothing from
// outside its own, and one naming another namespace is Ready=False
// AccessDenied.
//
// Not parallel: the trusted Alert with namespace "*" hears every
// namespace, the other tests' events included.
func TestAlertCrossNamespace(t *testing.T) {
	trusted := anotherFixture(t)
	untrusted := anotherFixture(t)
	other := env.Namespace(t)
	ns := &corev1.Namespace{}
	if err := trusted.c.Get(context.Background(), client.ObjectKey{Name: trusted.ns}, ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{trustedLabel: "true"}
	if err := trusted.c.Update(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	spec := func(namespace string) notificationv1.AlertSpec {
		return notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*", Namespace: namespace}}}
	}
	for _, f := range []*fixture{trusted, untrusted} {
		f.ready(f.provider("named"))
		f.ready(f.provider("star"))
		f.ready(f.alert("star", "star", spec("*")))
	}
	trusted.ready(trusted.alert("named", "named", spec(other)))
	// The untrusted Alert naming another namespace says why it hears
	// nothing from there.
	denied := untrusted.alert("named", "named", spec(other))
	untrusted.waitFor(denied, func() bool { return reason(denied) == SourceAccessDeniedReason })
	if c := conditions.Get(denied, conditions.Ready); !strings.Contains(c.Message, "spec.eventSources[0]") || !strings.Contains(c.Message, other) {
		t.Errorf("AccessDenied message: %s", c.Message)
	}
	if got := messages(trusted.submit("named", event(other, "app", "info", "from other to named"))); !cmp.Equal(got, []string{"from other to named"}) {
		t.Errorf("trusted Alert naming the namespace: got %q", got)
	}
	// The Alert with * heard that event too: wait for its delivery, which
	// would otherwise be taken for an answer to the next event.
	trusted.waitDelivered("star", 1)
	if got := messages(trusted.submit("star", event(other, "app", "info", "from other to star"))); !cmp.Equal(got, []string{"from other to star"}) {
		t.Errorf("trusted Alert with namespace *: got %q", got)
	}
	if got := untrusted.submit("named", event(other, "app", "info", "other to untrusted named")); len(got) != 0 {
		t.Errorf("untrusted Alert heard another namespace: %q", messages(got))
	}
	if got := untrusted.submit("star", event(other, "app", "info", "other to untrusted star"), event(trusted.ns, "app", "info", "trusted to untrusted star")); len(got) != 0 {
		t.Errorf("untrusted Alert with namespace * heard another namespace: %q", messages(got))
	}
	if got := messages(untrusted.submit("star", event(untrusted.ns, "app", "info", "own namespace"))); !cmp.Equal(got, []string{"own namespace"}) {
		t.Errorf("untrusted Alert with namespace *, its own namespace: got %q", got)
	}
}

// TestAlertSuspend checks that a suspended Alert, or an Alert whose
// Provider is suspended, notifies nothing, and notifies again once
// resumed.
func TestAlertSuspend(t *testing.T) {
	f := newFixture(t)
	p := f.provider("p")
	f.ready(p)
	a := f.alert("a", "p", notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}}})
	f.ready(a)
	ctx := context.Background()
	a.Spec.Suspend = true
	if err := f.c.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	waitCached(t, a, func(o *notificationv1.Alert) bool { return o.Spec.Suspend })
	if got := f.submit("p", event(f.ns, "app", "error", "while the alert is suspended")); len(got) != 0 {
		t.Errorf("a suspended Alert notified: %q", messages(got))
	}
	a.Spec.Suspend = false
	if err := f.c.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	waitCached(t, a, func(o *notificationv1.Alert) bool { return !o.Spec.Suspend })
	p.Spec.Suspend = true
	if err := f.c.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitCached(t, p, func(o *notificationv1.Provider) bool { return o.Spec.Suspend })
	if got := f.submit("p", event(f.ns, "app", "error", "while the provider is suspended")); len(got) != 0 {
		t.Errorf("an Alert of a suspended Provider notified: %q", messages(got))
	}
	p.Spec.Suspend = false
	if err := f.c.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitCached(t, p, func(o *notificationv1.Provider) bool { return !o.Spec.Suspend })
	if got := messages(f.submit("p", event(f.ns, "app", "error", "resumed"))); !cmp.Equal(got, []string{"resumed"}) {
		t.Errorf("after resuming: got %q", got)
	}
}

// TestAlertStatus checks the Alert's conditions: an invalid regular
// expression is Stalled naming the field, a missing Provider is
// Ready=False until it is created.
func TestAlertStatus(t *testing.T) {
	f := newFixture(t)
	sources := []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}}
	bad := f.alert("bad-regex", "p", notificationv1.AlertSpec{EventSources: sources, ExclusionList: []string{"ok", "(unclosed"}})
	f.waitFor(bad, func() bool { return conditions.IsTrue(bad, conditions.Stalled) })
	c := conditions.Get(bad, conditions.Ready)
	if c.Reason != InvalidExpressionReason || !strings.Contains(c.Message, "spec.exclusionList[1]") {
		t.Errorf("Ready = %s: %s, want %s naming spec.exclusionList[1]", c.Reason, c.Message, InvalidExpressionReason)
	}
	orphan := f.alert("orphan", "later", notificationv1.AlertSpec{EventSources: sources})
	f.waitFor(orphan, func() bool {
		c := conditions.Get(orphan, conditions.Ready)
		return c != nil && c.Reason == ProviderNotFoundReason
	})
	f.provider("later")
	f.ready(orphan)
}
