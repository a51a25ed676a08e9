package config_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const namespace = "gitopskit-system"

// render builds examples/config as `kustomize build examples/config` does.
func render(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kustomize.Build(context.Background(), ".", ".", kustomize.Options{})
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	return objs
}

func id(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the rendered config", kind, name)
	return nil
}

func convert[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
		t.Fatalf("%s: %v", id(o), err)
	}
	return out
}

func TestRenderedObjects(t *testing.T) {
	t.Parallel()
	var got []string
	for _, o := range render(t) {
		got = append(got, id(o))
		if o.GetLabels()["app.kubernetes.io/part-of"] != "gitopskit" {
			t.Errorf("%s lacks the app.kubernetes.io/part-of label", id(o))
		}
	}
	slices.Sort(got)
	want := []string{
		"ClusterRole /gitopsd",
		"ClusterRoleBinding /gitopsd",
		"ClusterRoleBinding /gitopsd-cluster-admin",
		"CustomResourceDefinition /alerts.notification.gitopskit.dev",
		"CustomResourceDefinition /buckets.source.gitopskit.dev",
		"CustomResourceDefinition /gitrepositories.source.gitopskit.dev",
		"CustomResourceDefinition /helmcharts.source.gitopskit.dev",
		"CustomResourceDefinition /helmreleases.helm.gitopskit.dev",
		"CustomResourceDefinition /helmrepositories.source.gitopskit.dev",
		"CustomResourceDefinition /imagepolicies.image.gitopskit.dev",
		"CustomResourceDefinition /imagerepositories.image.gitopskit.dev",
		"CustomResourceDefinition /imageupdateautomations.image.gitopskit.dev",
		"CustomResourceDefinition /kustomizations.kustomize.gitopskit.dev",
		"CustomResourceDefinition /ocirepositories.source.gitopskit.dev",
		"CustomResourceDefinition /providers.notification.gitopskit.dev",
		"CustomResourceDefinition /receivers.notification.gitopskit.dev",
		"Deployment " + namespace + "/gitopsd",
		"Namespace /" + namespace,
		"Service " + namespace + "/gitopsd",
		"Service " + namespace + "/webhook-receiver",
		"ServiceAccount " + namespace + "/gitopsd",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered objects (-want +got):\n%s", diff)
	}
}

// TestRenderedCRDsAreGenerated checks that the CRDs deployed are exactly
// the ones make generate wrote: kustomize may add labels, nothing else.
func TestRenderedCRDsAreGenerated(t *testing.T) {
	t.Parallel()
	objs := render(t)
	files, err := filepath.Glob("crd/bases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated CRDs in crd/bases: %v", err)
	}
	for _, f := range files {
		generated := readYAML(t, f)
		rendered := find(t, objs, "CustomResourceDefinition", generated.GetName())
		if diff := cmp.Diff(generated.Object["spec"], rendered.Object["spec"], numbersAsFloats); diff != "" {
			t.Errorf("%s: rendered spec differs from the generated one (-generated +rendered):\n%s", f, diff)
		}
	}
	if got := countKind(objs, "CustomResourceDefinition"); got != len(files) {
		t.Errorf("rendered %d CRDs, crd/bases holds %d", got, len(files))
	}

	role := readYAML(t, "rbac/role.yaml")
	if diff := cmp.Diff(role.Object["rules"], find(t, objs, "ClusterRole", "gitopsd").Object["rules"], numbersAsFloats); diff != "" {
		t.Errorf("rendered ClusterRole differs from rbac/role.yaml (-generated +rendered):\n%s", diff)
	}
}

// numbersAsFloats compares numbers by value: YAML decoding gives float64,
// kustomize int64.
var numbersAsFloats = cmp.FilterValues(func(a, b any) bool {
	_, aok := asFloat(a)
	_, bok := asFloat(b)
	return aok && bok
}, cmp.Comparer(func(a, b any) bool {
	x, _ := asFloat(a)
	y, _ := asFloat(b)
	return x == y
}))

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func countKind(objs []*unstructured.Unstructured, kind string) int {
	n := 0
	for _, o := range objs {
		if o.GetKind() == kind {
			n++
		}
	}
	return n
}

func readYAML(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := &unstructured.Unstructured{}
	if err := utilyaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&u.Object); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	objs := render(t)
	d := convert[appsv1.Deployment](t, find(t, objs, "Deployment", "gitopsd"))
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "gitopsd" {
		t.Errorf("serviceAccountName = %q, want gitopsd", pod.ServiceAccountName)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod does not require a non-root user: %+v", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context is not locked down: %+v", sc)
	}
	for _, arg := range []string{"--storage-path=/data", "--storage-addr=:9090", "--enable-leader-election"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %+v, readiness %+v", c.LivenessProbe, c.ReadinessProbe)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources lack a memory request or limit: %+v", c.Resources)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, v := range pod.Volumes {
		if v.EmptyDir == nil {
			t.Errorf("volume %s is not an emptyDir", v.Name)
		}
	}
	if mounts["/data"] == "" || mounts["/tmp"] == "" {
		t.Errorf("want writable /data and /tmp, mounts are %v", mounts)
	}

	svc := convert[corev1.Service](t, find(t, objs, "Service", "gitopsd"))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("service ports = %+v, want 80 → http", svc.Spec.Ports)
	}
	var httpPort int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if httpPort != 9090 {
		t.Errorf("container port http = %d, want 9090", httpPort)
	}
	hook := convert[corev1.Service](t, find(t, objs, "Service", "webhook-receiver"))
	var hookPort int32
	for _, p := range c.Ports {
		if p.Name == "http-webhook" {
			hookPort = p.ContainerPort
		}
	}
	if len(hook.Spec.Ports) != 1 || hook.Spec.Ports[0].TargetPort.String() != "http-webhook" || hookPort != 9292 ||
		!slices.Contains(c.Args, "--receiver-addr=:9292") || !hook.Spec.PublishNotReadyAddresses {
		t.Errorf("webhook receiver: service ports %+v, container port %d, args %q, publishNotReadyAddresses %t; want 80 → http-webhook → :9292 on every pod",
			hook.Spec.Ports, hookPort, c.Args, hook.Spec.PublishNotReadyAddresses)
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, svc.Spec.Selector); diff != "" {
		t.Errorf("service selector differs from the deployment's (-deployment +service):\n%s", diff)
	}

	for _, name := range []string{"gitopsd", "gitopsd-cluster-admin"} {
		b := convert[rbacv1.ClusterRoleBinding](t, find(t, objs, "ClusterRoleBinding", name))
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "gitopsd", Namespace: namespace}}
		if diff := cmp.Diff(want, b.Subjects); diff != "" {
			t.Errorf("ClusterRoleBinding %s subjects (-want +got):\n%s", name, diff)
		}
	}
}

// TestApply applies the rendered config to a real API server, which
// validates every object against its schema (the Deployment included; no
// kubelet runs it).
func TestApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := env.Client()
	for _, o := range render(t) {
		o.SetManagedFields(nil)
		if err := c.Patch(ctx, o, client.Apply, client.FieldOwner("config-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s: %v", id(o), err)
		}
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "gitopsd"}, &appsv1.Deployment{}); err != nil {
		t.Fatalf("the applied Deployment: %v", err)
	}
}

// TestEmbeddedCRDs checks that CRDs returns every generated CRD, as
// testenv reads them from crd/bases.
func TestEmbeddedCRDs(t *testing.T) {
	t.Parallel()
	embedded, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	fromFiles, err := testenv.ReadCRDs("crd/bases")
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) != len(fromFiles) || len(embedded) == 0 {
		t.Fatalf("embedded %d CRDs, crd/bases holds %d", len(embedded), len(fromFiles))
	}
	for i := range embedded {
		if diff := cmp.Diff(fromFiles[i], embedded[i]); diff != "" {
			t.Errorf("embedded CRD %s differs from its file (-file +embedded):\n%s", fromFiles[i].Name, diff)
		}
	}
}

// TestSamples checks that the README's sample objects are valid: the API
// server accepts them (server-side dry run) against the generated CRDs.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := env.Client()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("samples/*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("samples: %v %v", files, err)
	}
	ns := env.Namespace(t)
	for _, file := range files {
		obj := readYAML(t, file)
		obj.SetNamespace(ns)
		if err := c.Create(ctx, obj, client.DryRunAll); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// TestCRDValidation checks that the API server itself rejects what the
// controllers could not act on, naming the field, so a typo fails at
// kubectl apply instead of in a status condition.
func TestCRDValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := env.Client()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	object := func(apiVersion, kind, spec string) *unstructured.Unstructured {
		t.Helper()
		doc := "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: x, namespace: " + ns + "}\nspec:\n" + spec
		var m map[string]any
		if err := utilyaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	git := func(spec string) *unstructured.Unstructured {
		return object("source.gitopskit.dev/v1", "GitRepository", "  url: https://example.com/repo.git\n  interval: 1m\n"+spec)
	}
	oci := func(spec string) *unstructured.Unstructured {
		return object("source.gitopskit.dev/v1", "OCIRepository", "  url: oci://example.com/app\n  interval: 1m\n"+spec)
	}
	ks := func(spec string) *unstructured.Unstructured {
		return object("kustomize.gitopskit.dev/v1", "Kustomization",
			"  sourceRef: {kind: GitRepository, name: app}\n  interval: 10m\n  prune: true\n"+spec)
	}
	for _, valid := range []*unstructured.Unstructured{
		git("  ref: {branch: main, commit: 0123456789abcdef0123456789abcdef01234567}\n  timeout: 90s\n"),
		oci("  ref: {digest: sha256:" + strings.Repeat("a", 64) + "}\n  layerSelector: {operation: copy}\n"),
		ks("  deletionPolicy: Orphan\n  retryInterval: 1m30s\n  decryption: {provider: sops}\n"),
		ks("  ignoreMissingComponents: true\n  driftIgnoreRules: [{paths: [/spec/replicas], target: {kind: Deployment}}, {paths: [/metadata/annotations/a~1b]}]\n"),
	} {
		if err := c.Create(ctx, valid, client.DryRunAll); err != nil {
			t.Errorf("a valid %s was rejected: %v", valid.GetKind(), err)
		}
	}
	for name, tc := range map[string]struct {
		obj   *unstructured.Unstructured
		field string
	}{
		"git url scheme":          {object("source.gitopskit.dev/v1", "GitRepository", "  url: ftp://example.com/r\n  interval: 1m\n"), "spec.url"},
		"git interval":            {git("  timeout: 5 minutes\n"), "spec.timeout"},
		"git short commit":        {git("  ref: {commit: abc123}\n"), "spec.ref.commit"},
		"git ref name":            {git("  ref: {name: main}\n"), "spec.ref.name"},
		"git verify mode":         {git("  verify: {mode: All, secretRef: {name: keys}}\n"), "spec.verify.mode"},
		"git missing interval":    {object("source.gitopskit.dev/v1", "GitRepository", "  url: https://example.com/r\n"), "spec.interval"},
		"oci url scheme":          {object("source.gitopskit.dev/v1", "OCIRepository", "  url: https://example.com/app\n  interval: 1m\n"), "spec.url"},
		"oci digest":              {oci("  ref: {digest: sha256:xyz}\n"), "spec.ref.digest"},
		"oci layer operation":     {oci("  layerSelector: {operation: move}\n"), "spec.layerSelector.operation"},
		"oci verify provider":     {oci("  verify: {provider: notation, secretRef: {name: keys}}\n"), "spec.verify.provider"},
		"ks source kind":          {object("kustomize.gitopskit.dev/v1", "Kustomization", "  sourceRef: {kind: HelmRepository, name: b}\n  interval: 1m\n  prune: true\n"), "spec.sourceRef.kind"},
		"ks missing prune":        {object("kustomize.gitopskit.dev/v1", "Kustomization", "  sourceRef: {kind: GitRepository, name: app}\n  interval: 1m\n"), "spec.prune"},
		"ks deletion policy":      {ks("  deletionPolicy: Keep\n"), "spec.deletionPolicy"},
		"ks decryption provider":  {ks("  decryption: {provider: vault}\n"), "spec.decryption.provider"},
		"ks substituteFrom kind":  {ks("  postBuild: {substituteFrom: [{kind: Pod, name: p}]}\n"), "spec.postBuild.substituteFrom[0].kind"},
		"ks retry interval":       {ks("  retryInterval: soon\n"), "spec.retryInterval"},
		"ks drift ignore pointer": {ks("  driftIgnoreRules: [{paths: [spec/replicas]}]\n"), "spec.driftIgnoreRules[0].paths[0]"},
		"ks drift ignore no path": {ks("  driftIgnoreRules: [{paths: []}]\n"), "spec.driftIgnoreRules[0].paths"},
		"ks target namespace len": {ks("  targetNamespace: " + strings.Repeat("n", 64) + "\n"), "spec.targetNamespace"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Create(ctx, tc.obj, client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error = %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
}
