package release_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/ssa"
)

// gateTemplate renders a ConfigMap that is ready only once something else
// labels it "go" (the health rule below): a release whose wait blocks
// until the test lets it through.
const gateTemplate = `{{- if .Values.gate }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-gate
data:
  gate: "closed"
{{- end }}
`

var gateRule = ssa.HealthRule{Kind: "ConfigMap",
	Current: `!has(self.data) || !has(self.data.gate) || (has(self.metadata.labels) && "go" in self.metadata.labels)`}

func gatedRequest(ns string) release.Request {
	ch := newChart("gated", "0.1.0", nil, map[string]string{"templates/cm.yaml": configMapTemplate, "templates/gate.yaml": gateTemplate})
	return release.Request{
		Release: release.Ref{Name: "gated", Namespace: ns},
		Chart:   ch,
		Values:  map[string]any{"greeting": "v1"},
		Spec:    release.Spec{HealthRules: []ssa.HealthRule{gateRule}, Timeout: 2 * time.Minute},
	}
}

func openGate(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	cm.Name, cm.Namespace, cm.Labels = name, ns, map[string]string{"go": "yes"}
	if err := env.Client().Patch(ctx, cm, client.Apply, client.FieldOwner("gatekeeper")); err != nil {
		t.Fatal(err)
	}
}

// TestKilledUpgradeRecovered leaves a release as a killed process leaves
// it — the new revision recorded pending-upgrade — and lets the state
// machine recover without help.
func TestKilledUpgradeRecovered(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := gatedRequest(ns)
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	s := store(t, ns)
	last, err := s.Last("gated")
	if err != nil {
		t.Fatal(err)
	}
	pending := *last.(*rel.Release)
	info := *pending.Info
	pending.Info, pending.Version = &info, 2
	pending.Info.Status = rcommon.StatusPendingUpgrade
	if err := s.Create(&pending); err != nil {
		t.Fatal(err)
	}

	req.Values = map[string]any{"greeting": "v2"}
	out := step(t, ctx, r, req, &st, release.ActionUnlock, false)
	if out.Decision.State != release.StateLocked || out.Current.Status != "failed" || out.Current.Version != 2 {
		t.Fatalf("unlock: %+v, %+v", out.Decision, out.Current)
	}
	actions, out := stepUntilDone(t, ctx, r, req, &st, 3)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Version != 3 || out.Current.Status != "deployed" || st.Failures != 0 {
		t.Fatalf("after recovery: %+v, %+v", out.Current, st)
	}
	if got := getConfigMap(t, ctx, ns, "gated-config").Data["greeting"]; got != "v2" {
		t.Fatalf("greeting %q", got)
	}
}

// TestCancelledUpgradeRecovered cancels an upgrade while it waits: Step
// returns promptly, the revision is recorded failed, the interruption is
// not counted, and the next Step upgrades again.
func TestCancelledUpgradeRecovered(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := gatedRequest(ns)
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	req.Values = map[string]any{"greeting": "v2", "gate": true}
	actx, cancel := context.WithCancel(ctx)
	type result struct {
		out release.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := r.Step(actx, req, &st)
		done <- result{out, err}
	}()
	// wait until the upgrade is under way: the gate exists, revision 2 pending
	for {
		err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "gated-gate"}, &corev1.ConfigMap{})
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Step did not return after its context was cancelled")
	}
	if !errors.Is(res.err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", res.err)
	}
	if res.out.Current == nil || res.out.Current.Version != 2 || res.out.Current.Status != "failed" {
		t.Fatalf("after the cancel, current %+v", res.out.Current)
	}
	if st.UpgradeFailures != 0 || st.Failures != 0 {
		t.Fatalf("the interruption was counted: %+v", st)
	}

	openGate(t, ctx, ns, "gated-gate")
	actions, out := stepUntilDone(t, ctx, r, req, &st, 3)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Version != 3 || out.Current.Status != "deployed" {
		t.Fatalf("after recovery: %+v", out.Current)
	}
	h, err := store(t, ns).History("gated")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h {
		if v := r.(*rel.Release); v.Info.Status.IsPending() {
			t.Errorf("revision %d left %s", v.Version, v.Info.Status)
		}
	}
}

// TestCancelledInstallRecovered cancels an install while it waits.
func TestCancelledInstallRecovered(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := gatedRequest(ns)
	req.Values = map[string]any{"greeting": "v1", "gate": true}
	var st release.Status
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := r.Step(actx, req, &st)
		done <- err
	}()
	for {
		err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "gated-gate"}, &corev1.ConfigMap{})
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Step did not return after its context was cancelled")
	}
	if st.InstallFailures != 0 || st.LastAttemptedAction != release.ActionInstall {
		t.Fatalf("status %+v", st)
	}
	openGate(t, ctx, ns, "gated-gate")
	actions, out := stepUntilDone(t, ctx, r, req, &st, 3)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Status != "deployed" {
		t.Fatalf("after recovery %+v", out.Current)
	}
}
