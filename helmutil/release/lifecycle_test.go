package release_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/helmutil/release"
)

const configMapTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
  revision: {{ .Release.Revision | quote }}
`

// TestInstallUpgradeNoop installs a chart, upgrades it with new values,
// then reconciles without change: no new revision, no write.
func TestInstallUpgradeNoop(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	ch := newChart("hello", "0.1.0", map[string]any{"greeting": "hi"}, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{
		Release: release.Ref{Name: "hello", Namespace: ns},
		Chart:   ch,
		Values:  map[string]any{"greeting": "hello"},
	}
	var st release.Status

	actions, out := stepUntilDone(t, ctx, r, req, &st, 5)
	if diff := cmp.Diff([]release.Action{release.ActionInstall}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Decision.State != release.StateInSync || out.Current.Version != 1 || out.Current.Status != "deployed" {
		t.Fatalf("after install: %+v, current %+v", out.Decision, out.Current)
	}
	if got := getConfigMap(t, ctx, ns, "hello-config").Data["greeting"]; got != "hello" {
		t.Fatalf("greeting %q", got)
	}
	if len(st.History) != 1 || st.LastAttemptedAction != release.ActionInstall || st.History[0].ChartName != "hello" || st.History[0].ValuesChecksum == "" {
		t.Fatalf("status after install: %+v", st)
	}
	if out.Inventory == nil || len(out.Inventory.Entries) != 1 {
		t.Fatalf("inventory %+v", out.Inventory)
	}

	req.Values = map[string]any{"greeting": "bonjour"}
	actions, out = stepUntilDone(t, ctx, r, req, &st, 5)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Version != 2 || getConfigMap(t, ctx, ns, "hello-config").Data["greeting"] != "bonjour" {
		t.Fatalf("after upgrade: %+v", out.Current)
	}
	rv := getConfigMap(t, ctx, ns, "hello-config").ResourceVersion

	// No change: the state machine decides there is nothing to do.
	for range 3 {
		out, err := r.Step(ctx, req, &st)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Done() || out.Decision.State != release.StateInSync {
			t.Fatalf("no-op reconcile decided %+v", out.Decision)
		}
	}
	h, err := store(t, ns).History("hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Fatalf("%d revisions after no-op reconciles, want 2", len(h))
	}
	if got := getConfigMap(t, ctx, ns, "hello-config").ResourceVersion; got != rv {
		t.Fatalf("a no-op reconcile wrote the ConfigMap (resourceVersion %s → %s)", rv, got)
	}
	if len(st.History) != 2 || st.History[0].Version != 2 || st.History[1].Status != "superseded" {
		t.Fatalf("history %+v", st.History)
	}
}

func TestRenderFailureWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	ch := newChart("broken", "0.1.0", nil, map[string]string{
		"templates/cm.yaml": configMapTemplate,
		"templates/x.yaml":  `{{ required "a value named .Values.needed is required" .Values.needed }}`,
	})
	req := release.Request{Release: release.Ref{Name: "broken", Namespace: ns}, Chart: ch, Values: map[string]any{"greeting": "x"}}
	var st release.Status
	out, err := r.Step(ctx, req, &st)
	if !errors.Is(err, release.ErrRender) {
		t.Fatalf("error %v, want ErrRender", err)
	}
	var ae *release.ActionError
	if !errors.As(err, &ae) || ae.Action != release.ActionInstall {
		t.Fatalf("error %T %v, want an install *ActionError", err, err)
	}
	if out.Current != nil || st.InstallFailures != 1 {
		t.Fatalf("outcome %+v, status %+v", out, st)
	}
	if h, _ := store(t, ns).History("broken"); len(h) != 0 {
		t.Fatalf("%d release records left behind", len(h))
	}
	// retries 0: the next step stalls instead of rendering again
	out, err = r.Step(ctx, req, &st)
	if err != nil || !out.Decision.Stalled || !out.Done() {
		t.Fatalf("second step: %+v, %v", out.Decision, err)
	}
}

func TestReleaseNameRule(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	ch := newChart("x", "0.1.0", nil, nil)
	long := strings.Repeat("a", 54)
	for _, name := range []string{"", "Upper", "a_b", "-a", long} {
		_, err := r.Step(t.Context(), release.Request{Release: release.Ref{Name: name, Namespace: "default"}, Chart: ch}, &release.Status{})
		if !errors.Is(err, release.ErrInvalidName) {
			t.Errorf("name %q: error %v, want ErrInvalidName", name, err)
		}
	}
	_, err := r.Step(t.Context(), release.Request{Release: release.Ref{Name: long[:53], Namespace: "default"}, Chart: ch,
		Spec: release.Spec{Drift: release.Drift{Mode: "sometimes"}}}, &release.Status{})
	if !errors.Is(err, release.ErrInvalidSpec) {
		t.Errorf("53 characters and a bad drift mode: %v, want ErrInvalidSpec (the name is fine)", err)
	}
}
