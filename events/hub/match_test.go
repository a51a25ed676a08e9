package hub_test

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
)

func mustRegexps(t *testing.T, exprs ...string) []*regexp.Regexp {
	t.Helper()
	var out []*regexp.Regexp
	for _, e := range exprs {
		out = append(out, regexp.MustCompile(e))
	}
	return out
}

// TestMatching sends one event per case to an alert and checks whether it
// was notified.
func TestMatching(t *testing.T) {
	labels := func(_ context.Context, ref corev1.ObjectReference) (map[string]string, error) {
		switch ref.Name {
		case "podinfo":
			return map[string]string{"team": "web", "tier": "frontend"}, nil
		case "broken":
			return nil, errors.New("not found")
		}
		return map[string]string{}, nil
	}
	cases := []struct {
		name  string
		alert hub.Alert
		event *events.Event
		want  bool
	}{
		{"kind and name", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization", Name: "podinfo"}}}, failed("podinfo", "x"), true},
		{"other name", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization", Name: "podinfo"}}}, failed("other", "x"), false},
		{"other kind", hub.Alert{Sources: []hub.Source{{Kind: "GitRepository", Name: "*"}}}, failed("podinfo", "x"), false},
		{"any kind", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "x"), true},
		{"name prefix", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization", Name: "pod*"}}}, failed("podinfo", "x"), true},
		{"name infix", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization", Name: "p*i*o"}}}, failed("podinfo", "x"), true},
		{"name suffix miss", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization", Name: "*web"}}}, failed("podinfo", "x"), false},
		{"empty name matches nothing", hub.Alert{Sources: []hub.Source{{Kind: "Kustomization"}}}, failed("podinfo", "x"), false},
		{"alert's namespace by default", hub.Alert{Namespace: "other", Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "x"), false},
		{"explicit namespace", hub.Alert{Namespace: "other", Sources: []hub.Source{{Kind: "*", Name: "*", Namespace: "apps"}}}, failed("podinfo", "x"), true},
		{"any namespace", hub.Alert{Namespace: "other", Sources: []hub.Source{{Kind: "*", Name: "*", Namespace: "*"}}}, failed("podinfo", "x"), true},
		{"second source", hub.Alert{Sources: []hub.Source{{Kind: "GitRepository", Name: "*"}, {Kind: "Kustomization", Name: "*"}}}, failed("podinfo", "x"), true},
		{"labels match", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*", MatchLabels: map[string]string{"team": "web"}}}}, failed("podinfo", "x"), true},
		{"labels differ", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*", MatchLabels: map[string]string{"team": "db"}}}}, failed("podinfo", "x"), false},
		{"labels missing", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*", MatchLabels: map[string]string{"team": "web"}}}}, failed("other", "x"), false},
		{"labels unreadable", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*", MatchLabels: map[string]string{"team": "web"}}}}, failed("broken", "x"), false},
		{"info under info alert", hub.Alert{Sources: []hub.Source{{Kind: "*", Name: "*"}}}, succeeded("podinfo"), true},
		{"info under error alert", hub.Alert{Severity: events.SeverityError, Sources: []hub.Source{{Kind: "*", Name: "*"}}}, succeeded("podinfo"), false},
		{"error under error alert", hub.Alert{Severity: events.SeverityError, Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "x"), true},
		{"included", hub.Alert{Inclusion: mustRegexps(t, "^health"), Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "health check failed"), true},
		{"not included", hub.Alert{Inclusion: mustRegexps(t, "^health", "timeout"), Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "build failed"), false},
		{"excluded", hub.Alert{Exclusion: mustRegexps(t, "(?i)DNS"), Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "dns lookup failed"), false},
		{"exclusion wins", hub.Alert{Inclusion: mustRegexps(t, "failed"), Exclusion: mustRegexps(t, "dns"), Sources: []hub.Source{{Kind: "*", Name: "*"}}}, failed("podinfo", "dns failed"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p := eventstest.NewProvider()
			a := tc.alert
			a.ID, a.Provider = "a", p
			if a.Namespace == "" {
				a.Namespace = "apps"
			}
			h := hub.New(hub.StaticAlerts{&a, sentinelAlert(p)}, hub.WithClock(clk.Now), hub.WithWorkers(1), hub.WithLabels(labels))
			startHub(t, h)
			if err := h.Submit(t.Context(), tc.event); err != nil {
				t.Fatal(err)
			}
			got := len(drain(t, h, p, clk))
			if (got == 1) != tc.want {
				t.Errorf("notified %d times, want %v", got, tc.want)
			}
		})
	}
}

// TestMetadataMerge: what a provider sees of the metadata, in Flux's
// precedence order.
func TestMetadataMerge(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{
		ID: "a", Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "podinfo"}}, Provider: p,
		Metadata: map[string]string{"env": "prod", "team": "from-alert", "revision": "from-alert"},
		Summary:  "cluster eu-1",
	}}, hub.WithClock(clk.Now), hub.WithWorkers(1))
	startHub(t, h)
	e := failed("podinfo", "x")
	e.Metadata["event.toolkit.fluxcd.io/flux"] = "annotation"
	_ = h.Submit(t.Context(), e)
	ns, err := p.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"team":     "from-alert",   // the alert's metadata wins over annotations
		"flux":     "annotation",   // Flux's event group is read too
		"env":      "prod",         // the alert's own key
		"summary":  "cluster eu-1", // the summary
		"revision": rev1,           // the controller's metadata wins over the alert's
		// token, digest and foreign prefixes are dropped
	}
	if d := cmp.Diff(want, ns[0].Event.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	if e.Metadata["kustomize.gitopskit.dev/token"] != "t1" {
		t.Error("the hub modified the submitted event")
	}
	if ns[0].Alert != "a" || ns[0].Since.IsZero() {
		t.Errorf("notification %+v", ns[0])
	}
}

func TestInvalidAlertsAreSkipped(t *testing.T) {
	p := eventstest.NewProvider()
	clk := newClock()
	good := &hub.Alert{ID: "good", Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "*"}}, Provider: p}
	bad := []*hub.Alert{
		nil,
		{Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "*"}}, Provider: p},
		{ID: "no-provider", Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "*"}}},
		{ID: "no-sources", Namespace: "apps", Provider: p},
		{ID: "bad-severity", Namespace: "apps", Severity: "warning", Sources: []hub.Source{{Kind: "*", Name: "*"}}, Provider: p},
		{ID: "no-kind", Namespace: "apps", Sources: []hub.Source{{Name: "*"}}, Provider: p},
	}
	for _, a := range bad[1:] {
		if err := a.Validate(); !errors.Is(err, hub.ErrInvalidAlert) {
			t.Errorf("%s: %v", a.ID, err)
		}
	}
	h := hub.New(append(hub.StaticAlerts{good, sentinelAlert(p)}, bad...), hub.WithClock(clk.Now), hub.WithWorkers(1))
	startHub(t, h)
	_ = h.Submit(t.Context(), failed("podinfo", "x"))
	if got := drain(t, h, p, clk); len(got) != 1 {
		t.Errorf("got %d notifications, want 1 (the good alert's)", len(got))
	}
}
