package release_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	rel "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
)

// failingTemplate adds an object the API server rejects when .Values.fail
// is set (its name comes from the values, as a chart's might).
const failingTemplate = `{{- if .Values.fail }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.badName | default "Invalid_Name" }}
{{- end }}
`

func failingChart() *release.Request {
	ch := newChart("flaky", "0.1.0", map[string]any{"greeting": "hi"}, map[string]string{
		"templates/cm.yaml":  configMapTemplate,
		"templates/bad.yaml": failingTemplate,
	})
	return &release.Request{Chart: ch}
}

// step runs one Step and checks the action it decided.
func step(t *testing.T, ctx context.Context, r *release.Runner, req release.Request, st *release.Status, want release.Action, wantErr bool) release.Outcome {
	t.Helper()
	out, err := r.Step(ctx, req, st)
	if out.Decision.Action != want || (err != nil) != wantErr {
		t.Fatalf("decided %s (%s: %s), error %v; want %s, error %v", out.Decision.Action, out.Decision.State, out.Decision.Reason, err, want, wantErr)
	}
	return out
}

func TestUpgradeRemediatedByRollback(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := *failingChart()
	req.Release = release.Ref{Name: "flaky", Namespace: ns}
	req.Values = map[string]any{"greeting": "v1"}
	req.Spec.Upgrade.Remediation.Retries = 1
	var st release.Status
	step(t, ctx, r, req, &st, release.ActionInstall, false)

	req.Values = map[string]any{"greeting": "v2", "fail": true}
	out, err := r.Step(ctx, req, &st)
	var ae *release.ActionError
	if !errors.As(err, &ae) || ae.Action != release.ActionUpgrade || ae.Revision != 2 || !strings.Contains(err.Error(), "(revision 2)") {
		t.Fatalf("error %v, want an upgrade *ActionError naming revision 2", err)
	}
	if out.Current.Version != 2 || out.Current.Status != "failed" || st.UpgradeFailures != 1 {
		t.Fatalf("after the failed upgrade: %+v, %+v", out.Current, st)
	}
	out = step(t, ctx, r, req, &st, release.ActionRollback, false)
	if !out.Decision.Remediation || out.Decision.RollbackTo != 1 || out.Current.Version != 3 || out.Current.Status != "deployed" {
		t.Fatalf("rollback: %+v, %+v", out.Decision, out.Current)
	}
	if got := getConfigMap(t, ctx, ns, "flaky-config").Data["greeting"]; got != "v1" {
		t.Fatalf("after the rollback the greeting is %q", got)
	}
	step(t, ctx, r, req, &st, release.ActionUpgrade, true)   // the retry fails too
	step(t, ctx, r, req, &st, release.ActionRollback, false) // the last failure is remediated (retries > 0)
	out = step(t, ctx, r, req, &st, release.ActionNone, false)
	if !out.Decision.Stalled || out.Decision.State != release.StateOutOfSync || st.UpgradeFailures != 2 {
		t.Fatalf("after the retries: %+v, %+v", out.Decision, st)
	}
	if got := getConfigMap(t, ctx, ns, "flaky-config").Data["greeting"]; got != "v1" {
		t.Fatalf("the stalled release runs greeting %q, want v1", got)
	}

	// a reset (or a new desired state) tries again
	st.ResetFailures()
	step(t, ctx, r, req, &st, release.ActionUpgrade, true)
	req.Values = map[string]any{"greeting": "v3"}
	actions, out := stepUntilDone(t, ctx, r, req, &st, 5)
	// the failed revision is upgraded directly: its failure does not count
	// against the new desired state
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Decision.State != release.StateInSync || st.UpgradeFailures != 0 || st.Failures != 0 {
		t.Fatalf("in sync with fresh counters: %+v, %+v", out.Decision, st)
	}
}

func TestUpgradeRemediatedByUninstall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := *failingChart()
	req.Release = release.Ref{Name: "flaky", Namespace: ns}
	req.Values = map[string]any{"greeting": "v1"}
	yes := true
	req.Spec.Upgrade.Remediation = release.UpgradeRemediation{Strategy: release.RemediateUninstall, RemediateLastFailure: &yes}
	var st release.Status
	step(t, ctx, r, req, &st, release.ActionInstall, false)
	req.Values = map[string]any{"greeting": "v2", "fail": true}
	step(t, ctx, r, req, &st, release.ActionUpgrade, true)
	out := step(t, ctx, r, req, &st, release.ActionUninstall, false)
	if !out.Decision.Remediation || out.Current != nil {
		t.Fatalf("uninstall: %+v, current %+v", out.Decision, out.Current)
	}
	if h, _ := store(t, ns).History("flaky"); len(h) != 0 {
		t.Fatalf("%d records after the uninstall", len(h))
	}
	err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "flaky-config"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("the release's ConfigMap after the uninstall: %v", err)
	}
	// the release is absent now: installed again (and failing again, as an
	// install, whose remediation has no retry)
	step(t, ctx, r, req, &st, release.ActionInstall, true)
	out = step(t, ctx, r, req, &st, release.ActionNone, false)
	if !out.Decision.Stalled || st.InstallFailures != 1 || out.Current.Status != "failed" {
		t.Fatalf("after the failed install: %+v, %+v", out.Decision, st)
	}
}

func TestInstallRemediation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := *failingChart()
	req.Release = release.Ref{Name: "flaky", Namespace: ns}
	req.Values = map[string]any{"greeting": "v1", "fail": true}
	req.Spec.Install.Remediation.Retries = 1
	var st release.Status
	step(t, ctx, r, req, &st, release.ActionInstall, true)
	step(t, ctx, r, req, &st, release.ActionUninstall, false)
	step(t, ctx, r, req, &st, release.ActionInstall, true)
	out := step(t, ctx, r, req, &st, release.ActionNone, false)
	if !out.Decision.Stalled || st.InstallFailures != 2 || out.Current.Status != "failed" {
		t.Fatalf("after two failed installs: %+v, %+v", out.Decision, st)
	}
	// A fix of the values is a new desired state: counters start afresh and
	// the failed release is upgraded.
	req.Values = map[string]any{"greeting": "fixed"}
	actions, out := stepUntilDone(t, ctx, r, req, &st, 5)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Status != "deployed" || st.InstallFailures != 0 {
		t.Fatalf("after the fix: %+v, %+v", out.Current, st)
	}
}

// TestSecretValuesMasked makes the API server reject an object whose name
// comes from a Secret's value: the error and Helm's log lines show ***.
func TestSecretValuesMasked(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	var mu sync.Mutex
	var logs strings.Builder
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		logs.WriteString(prefix + args + "\n")
		mu.Unlock()
	}, funcr.Options{Verbosity: 10})
	ctx := logr.NewContext(testContext(t), log)
	r := newRunner(t)
	const secret = "Hunter2_Secret"
	req := *failingChart()
	req.Release = release.Ref{Name: "leaky", Namespace: ns}
	req.Values = map[string]any{"fail": true, "badName": secret}
	req.Sensitive = []string{secret}
	_, err := r.Step(ctx, req, &release.Status{})
	if err == nil {
		t.Fatal("the install succeeded")
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "***") {
		t.Fatalf("error not masked: %v", err)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Reason != "Invalid" {
		t.Fatalf("error %v does not unwrap to the API server's Invalid status", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("a log line shows the secret:\n%s", logs.String())
	}
	if logs.Len() == 0 {
		t.Fatal("Helm logged nothing through the context's logger")
	}
}

// TestRetryOnFailure leaves a failed upgrade in place and retries it after
// the interval, without rolling back.
func TestRetryOnFailure(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	r, err := release.NewRunner(env.Config(), release.WithFieldManager(fieldManager), release.WithClock(func() time.Time { return *now.Load() }))
	if err != nil {
		t.Fatal(err)
	}
	req := *failingChart()
	req.Release = release.Ref{Name: "retried", Namespace: ns}
	req.Values = map[string]any{"greeting": "v1"}
	req.Spec.Upgrade = release.Upgrade{Strategy: release.RetryOnFailure, RetryInterval: time.Minute}
	var st release.Status
	step(t, ctx, r, req, &st, release.ActionInstall, false)
	req.Values = map[string]any{"greeting": "v2", "fail": true}
	step(t, ctx, r, req, &st, release.ActionUpgrade, true)
	out := step(t, ctx, r, req, &st, release.ActionNone, false)
	if out.Decision.RequeueAfter <= 0 || out.Decision.RequeueAfter > time.Minute || out.Decision.Stalled {
		t.Fatalf("waiting: %+v", out.Decision)
	}
	later := start.Add(2 * time.Minute)
	now.Store(&later)
	out = step(t, ctx, r, req, &st, release.ActionUpgrade, true) // retried, not rolled back
	if out.Current.Version != 3 || st.UpgradeFailures != 2 {
		t.Fatalf("after the retry: %+v, %+v", out.Current, st)
	}
	h, err := store(t, ns).History("retried")
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, v := range h {
		statuses = append(statuses, string(v.(*rel.Release).Info.Status))
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []string{"deployed", "failed", "failed"}) {
		t.Fatalf("revisions %v: want the first deployed and two failed upgrades, no rollback", statuses)
	}
}
