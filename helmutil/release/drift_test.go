package release_test

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/ssa"
)

const driftTemplates = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - name: MODE
          value: {{ .Values.mode | quote }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-quiet
  annotations:
    helmutil.gitopskit.dev/drift-detection: disabled
data:
  note: "left alone"
`

func driftRequest(ns string) release.Request {
	ch := newChart("drifty", "0.1.0", nil, map[string]string{
		"templates/cm.yaml":    configMapTemplate,
		"templates/other.yaml": driftTemplates,
	})
	return release.Request{
		Release:   release.Ref{Name: "drifty", Namespace: ns},
		Chart:     ch,
		Values:    map[string]any{"greeting": "hello", "mode": "prod", "password": "s3cret-pass"},
		Sensitive: []string{"s3cret-pass"},
		Spec: release.Spec{
			Install: release.Install{DisableWait: true}, // no controller makes the Deployment ready here
			Drift:   release.Drift{Mode: release.DriftEnabled},
		},
	}
}

// kubectlEdit changes an object as `kubectl edit` does: an update by the
// kubectl-edit field manager.
func kubectlEdit(t *testing.T, ctx context.Context, obj client.Object, change func()) {
	t.Helper()
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	change()
	if err := env.Client().Update(ctx, obj, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
}

func driftIDs(out release.Outcome) []string {
	var ids []string
	for _, o := range out.Drift.Objects {
		ids = append(ids, o.ID.String())
	}
	slices.Sort(ids)
	return ids
}

func TestDriftDetectedAndCorrected(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := driftRequest(ns)
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	// right after the install nothing has drifted: Helm's own metadata and
	// the server's defaults are no drift
	out, err := r.Step(ctx, req, &st)
	if err != nil || !out.Done() || out.Decision.State != release.StateInSync || out.Drift == nil || len(out.Drift.Objects) != 0 {
		t.Fatalf("fresh release: %+v, drift %+v, %v", out.Decision, out.Drift, err)
	}

	// edits by hand: a ConfigMap value, a container's env, a Secret value,
	// the opted-out ConfigMap; and a deleted... nothing else
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty-config"}}
	kubectlEdit(t, ctx, cm, func() { cm.Data["greeting"] = "edited" })
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty"}}
	kubectlEdit(t, ctx, dep, func() { dep.Spec.Template.Spec.Containers[0].Env[0].Value = "debug" })
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty-creds"}}
	kubectlEdit(t, ctx, sec, func() { sec.Data["password"] = []byte("stolen") })
	quiet := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty-quiet"}}
	kubectlEdit(t, ctx, quiet, func() { quiet.Data["note"] = "edited" })

	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionCorrectDrift || out.Decision.State != release.StateDrifted {
		t.Fatalf("after the edits: %+v, %v", out.Decision, err)
	}
	want := []string{"Deployment.apps/" + ns + "/drifty", "Secret/" + ns + "/drifty-creds", "ConfigMap/" + ns + "/drifty-config"}
	slices.Sort(want)
	if got := driftIDs(out); !slices.Equal(got, want) {
		t.Fatalf("drifted %v, want %v", got, want)
	}
	for _, o := range out.Drift.Objects {
		if o.ID.Kind == "ConfigMap" && !slices.Equal(o.Paths, []string{"/data/greeting"}) {
			t.Errorf("ConfigMap paths %v", o.Paths)
		}
	}
	if got := getConfigMap(t, ctx, ns, "drifty-config").Data["greeting"]; got != "hello" {
		t.Fatalf("greeting after correction %q", got)
	}
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil || string(sec.Data["password"]) != "s3cret-pass" {
		t.Fatalf("the Secret after correction holds %q (%v): want its real value, never a mask", sec.Data["password"], err)
	}
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil || dep.Spec.Template.Spec.Containers[0].Env[0].Value != "prod" {
		t.Fatalf("env after correction: %+v (%v)", dep.Spec.Template.Spec.Containers[0].Env, err)
	}
	if got := getConfigMap(t, ctx, ns, "drifty-quiet").Data["note"]; got != "edited" {
		t.Fatalf("the opted-out ConfigMap was corrected: %q", got)
	}
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateInSync || len(out.Drift.Objects) != 0 {
		t.Fatalf("after the correction: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	if out.Current.Version != 1 {
		t.Fatalf("correcting drift made revision %d: it must not upgrade", out.Current.Version)
	}

	// an object deleted by hand is drift too, and comes back
	if err := env.Client().Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionCorrectDrift || len(out.Drift.Objects) != 1 || out.Drift.Objects[0].Action != ssa.ActionCreated {
		t.Fatalf("after the deletion: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	getConfigMap(t, ctx, ns, "drifty-config")

	// warn only: reported, left as it is
	req.Spec.Drift.Mode = release.DriftWarn
	kubectlEdit(t, ctx, cm, func() { cm.Data["greeting"] = "edited" })
	out, err = r.Step(ctx, req, &st)
	if err != nil || !out.Done() || out.Decision.State != release.StateDrifted || len(out.Drift.Objects) != 1 {
		t.Fatalf("warn mode: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	if got := getConfigMap(t, ctx, ns, "drifty-config").Data["greeting"]; got != "edited" {
		t.Fatalf("warn mode corrected the drift: %q", got)
	}

	// an ignore rule: the ignored field is neither drift nor corrected,
	// while another drifted field of the same object is
	req.Spec.Drift = release.Drift{Mode: release.DriftEnabled, Ignore: []ssa.IgnoreRule{{
		Paths: []string{"/data/greeting"}, Selector: ssa.Selector{Kind: "ConfigMap", Name: "drifty-config"}}}}
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateInSync {
		t.Fatalf("ignored field: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	kubectlEdit(t, ctx, cm, func() { cm.Data["revision"] = "99" })
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionCorrectDrift {
		t.Fatalf("drift beside an ignored field: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	got := getConfigMap(t, ctx, ns, "drifty-config").Data
	if got["revision"] != "1" || got["greeting"] != "edited" {
		t.Fatalf("after correcting beside an ignored field: %v (want revision 1 back, greeting left edited)", got)
	}
}

// TestDriftOwnershipAware scales the Deployment as an autoscaler does,
// through the scale subresource: its replicas are the autoscaler's, not
// drift — unless asked.
func TestDriftOwnershipAware(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := driftRequest(ns)
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	cs, err := kubernetes.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty"}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "drifty", scale, metav1.UpdateOptions{FieldManager: "horizontal-pod-autoscaler"}); err != nil {
		t.Fatal(err)
	}
	out, err := r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateInSync || len(out.Drift.Objects) != 0 {
		t.Fatalf("autoscaled replicas reported: %+v %+v, %v", out.Decision, out.Drift, err)
	}

	req.Spec.Drift.IncludeOthersFields = true
	req.Spec.Drift.Mode = release.DriftWarn
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateDrifted || len(out.Drift.Objects) != 1 ||
		!slices.Equal(out.Drift.Objects[0].Paths, []string{"/spec/replicas"}) {
		t.Fatalf("asked to include others' fields: %+v %+v, %v", out.Decision, out.Drift, err)
	}

	// a correction of another field leaves the autoscaler's replicas alone
	req.Spec.Drift = release.Drift{Mode: release.DriftEnabled}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drifty"}}
	kubectlEdit(t, ctx, dep, func() { dep.Spec.Template.Spec.Containers[0].Image = "nginx:evil" })
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionCorrectDrift {
		t.Fatalf("image edit: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
		t.Fatal(err)
	}
	if dep.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" || *dep.Spec.Replicas != 5 {
		t.Fatalf("after correction: image %s, replicas %d (want nginx:1.27 and the autoscaler's 5)", dep.Spec.Template.Spec.Containers[0].Image, *dep.Spec.Replicas)
	}
}
