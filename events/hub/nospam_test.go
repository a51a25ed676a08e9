package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
)

// sent is what a test compares of a delivered notification.
type sent struct {
	Kind    events.Kind
	Object  string
	Message string
	Count   int
}

func summarize(ns []events.Notification) []sent {
	out := make([]sent, 0, len(ns))
	for _, n := range ns {
		out = append(out, sent{n.Kind, n.Event.InvolvedObject.Name, n.Event.Message, n.Count})
	}
	return out
}

// sentinelAlert matches only the sentinel object, for drain.
func sentinelAlert(p events.Provider) *hub.Alert {
	return &hub.Alert{ID: "zz-sentinel", Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "sentinel"}}, Provider: p}
}

// drain submits a sentinel event for another object and waits for it: with
// one worker, everything queued before it has been delivered when it is.
// The hub must hold sentinelAlert(p).
func drain(t *testing.T, h *hub.Hub, p *eventstest.Provider, clk *clock) []events.Notification {
	t.Helper()
	clk.Advance(time.Second)
	msg := fmt.Sprint(clk.Now().UnixNano())
	before := len(p.Notifications())
	if err := h.Submit(t.Context(), event("sentinel", events.SeverityInfo, "Sentinel", msg)); err != nil {
		t.Fatal(err)
	}
	for n := before + 1; ; n++ {
		got, err := p.Wait(waitCtx(t), n)
		if err != nil {
			t.Fatal(err)
		}
		if testing.Verbose() {
			for _, g := range got {
				t.Logf("got %s %s %s %q", g.Alert, g.Kind, g.Event.InvolvedObject.Name, g.Event.Message)
			}
		}
		if last := got[len(got)-1]; last.Alert == "zz-sentinel" && last.Event.Message == msg {
			var out []events.Notification
			for _, n := range got {
				if n.Event.InvolvedObject.Name != "sentinel" {
					out = append(out, n)
				}
			}
			return out
		}
	}
}

// TestNoSpamScript is the script: a failure, the same failure 20
// more times every 5 minutes, a different failure, recovery — with a
// one-hour reminder. Exactly four notifications go out.
func TestNoSpamScript(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	reg := prometheus.NewRegistry()
	h := hub.New(hub.StaticAlerts{{
		ID: "apps/on-call", Namespace: "apps", ProviderName: "apps/slack",
		Sources:  []hub.Source{{Kind: "Kustomization", Name: "*"}},
		Reminder: time.Hour,
		Provider: p,
	}, sentinelAlert(p)}, hub.WithClock(clk.Now), hub.WithWorkers(1))
	if err := h.Register(reg); err != nil {
		t.Fatal(err)
	}
	startHub(t, h)

	submit := func(e *events.Event) {
		t.Helper()
		if err := h.Submit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	submit(failed("podinfo", "health check failed after 5m0.3s: deployment/podinfo not ready"))
	for i := range 20 {
		clk.Advance(5 * time.Minute)
		// The duration in the message changes every time; it is the same failure.
		submit(failed("podinfo", fmt.Sprintf("health check failed after 5m%d.%ds: deployment/podinfo not ready", i%60, i)))
	}
	clk.Advance(5 * time.Minute) // 1h45m
	submit(event("podinfo", events.SeverityError, "BuildFailed", "kustomize build failed: accumulating resources"))
	clk.Advance(5 * time.Minute) // 1h50m
	submit(succeeded("podinfo"))
	clk.Advance(5 * time.Minute)
	submit(succeeded("podinfo")) // the same info again: nothing

	got := summarize(drain(t, h, p, clk))
	want := []sent{
		{events.KindFailure, "podinfo", "health check failed after 5m0.3s: deployment/podinfo not ready", 1},
		{events.KindReminder, "podinfo", "still failing, 13 times in 1h: health check failed after 5m11.11s: deployment/podinfo not ready", 13},
		{events.KindFailure, "podinfo", "kustomize build failed: accumulating resources", 22},
		{events.KindResolved, "podinfo", "resolved after 22 failures in 1h50m: applied revision " + rev1, 22},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("notifications (-want +got):\n%s", d)
	}

	labels := map[string]string{"provider": "apps/slack"}
	if v := metric(t, reg, "gitopskit_events_hub_matched_total", labels); v != 25 {
		t.Errorf("matched = %v, want 25 (24 events + the sentinel)", v)
	}
	if v := metric(t, reg, "gitopskit_events_hub_delivered_total", labels); v != 5 {
		t.Errorf("delivered = %v, want 5 (4 + the sentinel)", v)
	}
	if v := metric(t, reg, "gitopskit_events_hub_suppressed_total", map[string]string{"provider": "apps/slack", "reason": "repeat"}); v != 20 {
		t.Errorf("suppressed = %v, want 20 (19 repeats + the repeated info)", v)
	}
}

// TestNoReminderWithoutInterval: Reminder zero never reminds.
func TestNoReminderWithoutInterval(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{ID: "a", Namespace: "apps", Sources: []hub.Source{{Kind: "*", Name: "*"}}, Provider: p}, sentinelAlert(p)},
		hub.WithClock(clk.Now), hub.WithWorkers(1))
	startHub(t, h)
	for range 50 {
		_ = h.Submit(t.Context(), failed("podinfo", "boom"))
		clk.Advance(time.Hour)
	}
	if got := summarize(drain(t, h, p, clk)); len(got) != 1 || got[0].Kind != events.KindFailure {
		t.Errorf("got %+v", got)
	}
}

// TestResolutionBypassesFilters: an error-only alert, whose inclusion list
// only lets health-check messages through, still resolves what it reported.
func TestResolutionBypassesFilters(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{
		ID: "a", Namespace: "apps", Severity: events.SeverityError,
		Sources:   []hub.Source{{Kind: "Kustomization", Name: "podinfo"}},
		Inclusion: mustRegexps(t, "health check"),
		Provider:  p,
	}, sentinelAlert(p)}, hub.WithClock(clk.Now), hub.WithWorkers(1))
	startHub(t, h)
	_ = h.Submit(t.Context(), succeeded("podinfo"))                                      // info: below the threshold
	_ = h.Submit(t.Context(), failed("podinfo", "build failed"))                         // not included
	_ = h.Submit(t.Context(), event("podinfo", events.SeverityInfo, "Progressing", "x")) // not a recovery
	_ = h.Submit(t.Context(), failed("podinfo", "health check failed"))
	_ = h.Submit(t.Context(), event("podinfo", events.SeverityInfo, "Progressing", "reconciling"))
	_ = h.Submit(t.Context(), succeeded("podinfo"))
	got := summarize(drain(t, h, p, clk))
	want := []sent{
		{events.KindFailure, "podinfo", "health check failed", 1},
		{events.KindResolved, "podinfo", "resolved after 1 failure in 0s: applied revision " + rev1, 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestInfoChanges: info events notify when they say something new.
func TestInfoChanges(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{ID: "a", Namespace: "apps", Sources: []hub.Source{{Kind: "Kustomization", Name: "*"}}, Provider: p}, sentinelAlert(p)},
		hub.WithClock(clk.Now), hub.WithWorkers(1))
	startHub(t, h)
	e1 := succeeded("podinfo")
	e2 := succeeded("podinfo")
	e2.Metadata["kustomize.gitopskit.dev/revision"] = "main@sha1:2222222222222222222222222222222222222222"
	for _, e := range []*events.Event{e1, e1, e2, e2, e1, succeeded("other")} {
		_ = h.Submit(t.Context(), e)
	}
	if got := summarize(drain(t, h, p, clk)); len(got) != 4 {
		t.Errorf("got %d notifications, want 4 (rev1, rev2, rev1 again, other): %+v", len(got), got)
	}
}

// TestStateIsBounded: with room for two states, a third failing object
// pushes out the least recently used; that one's next failure notifies
// again, as new.
func TestStateIsBounded(t *testing.T) {
	clk := newClock()
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{ID: "a", Namespace: "apps", Sources: []hub.Source{{Kind: "Kustomization", Name: "app-*"}}, Provider: p}, sentinelAlert(p)},
		hub.WithClock(clk.Now), hub.WithWorkers(1), hub.WithStateSize(2))
	startHub(t, h)
	for _, name := range []string{"app-a", "app-b", "app-a", "app-c", "app-a", "app-b"} {
		_ = h.Submit(t.Context(), failed(name, "boom"))
	}
	var names []string
	for _, s := range summarize(drain(t, h, p, clk)) {
		names = append(names, s.Object)
	}
	// app-a repeats (remembered), app-c evicts app-b, app-b is new again.
	if d := cmp.Diff([]string{"app-a", "app-b", "app-c", "app-b"}, names); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestCommitStatusOncePerRevisionAndState.
func TestCommitStatusOncePerRevisionAndState(t *testing.T) {
	clk := newClock()
	cs := eventstest.NewCommitStatusProvider()
	chat := eventstest.NewProvider()
	reg := prometheus.NewRegistry()
	sources := []hub.Source{{Kind: "Kustomization", Name: "podinfo"}}
	h := hub.New(hub.StaticAlerts{
		{ID: "a/github", Namespace: "apps", Sources: sources, Provider: cs, ProviderName: "github", ProviderID: "7d0cdc51-ddcf"},
		{ID: "a/chat", Namespace: "apps", Sources: sources, Provider: chat, ProviderName: "chat"},
		sentinelAlert(chat),
	}, hub.WithClock(clk.Now), hub.WithWorkers(1))
	_ = h.Register(reg)
	startHub(t, h)
	rev2 := "main@sha1:2222222222222222222222222222222222222222"
	progressing := event("podinfo", events.SeverityInfo, "Progressing", "reconciling")
	ok2 := succeeded("podinfo")
	ok2.Metadata["kustomize.gitopskit.dev/revision"] = rev2
	bad2 := failed("podinfo", "boom")
	bad2.Metadata["kustomize.gitopskit.dev/revision"] = rev2
	norev := failed("podinfo", "no revision")
	norev.Metadata = nil
	csOnly := succeeded("podinfo")
	csOnly.Metadata["event.gitopskit.dev/commit_status"] = "update"
	for _, e := range []*events.Event{progressing, progressing, succeeded("podinfo"), succeeded("podinfo"), csOnly, bad2, bad2, ok2, norev} {
		_ = h.Submit(t.Context(), e)
		clk.Advance(time.Minute)
	}
	_ = drain(t, h, chat, clk)
	type status struct {
		State   events.CommitState
		Commit  string
		Context string
	}
	var got []status
	for _, n := range cs.Notifications() {
		if n.Kind != events.KindCommitStatus || n.CommitStatus == nil {
			t.Fatalf("notification %+v", n)
		}
		if n.Event.InvolvedObject.Name == "podinfo" {
			got = append(got, status{n.CommitStatus.State, n.CommitStatus.Commit[:4], n.CommitStatus.Context})
		}
	}
	want := []status{
		{events.CommitPending, "1111", "kustomization/podinfo/7d0cdc51"},
		{events.CommitSuccess, "1111", "kustomization/podinfo/7d0cdc51"},
		{events.CommitFailure, "2222", "kustomization/podinfo/7d0cdc51"},
		{events.CommitSuccess, "2222", "kustomization/podinfo/7d0cdc51"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("commit statuses (-want +got):\n%s", d)
	}
	for reason, n := range map[string]float64{"commit_status_unchanged": 4, "no_revision": 1} {
		if v := metric(t, reg, "gitopskit_events_hub_suppressed_total", map[string]string{"provider": "github", "reason": reason}); v != n {
			t.Errorf("suppressed %s = %v, want %v", reason, v, n)
		}
	}
	if v := metric(t, reg, "gitopskit_events_hub_suppressed_total", map[string]string{"provider": "chat", "reason": "commit_status_only"}); v != 1 {
		t.Errorf("commit_status_only for chat = %v", v)
	}
}
