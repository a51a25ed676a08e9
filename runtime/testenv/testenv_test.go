package testenv_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestCreateGet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := env.Namespace(t)
	c := env.Client()

	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns},
		Data:       map[string]string{"colour": "blue"},
	}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	got := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cm.Data, got.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
}

func TestNamespacesAreFreshPerTest(t *testing.T) {
	t.Parallel()
	a, b := env.Namespace(t), env.Namespace(t)
	if a == b {
		t.Fatalf("two calls returned the same namespace %q", a)
	}
	for _, ns := range []string{a, b} {
		if !strings.HasPrefix(ns, "testnamespacesarefreshpertest-") {
			t.Errorf("namespace %q is not named after the test", ns)
		}
	}
}

func TestServerSideApply(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := env.Namespace(t)
	c := env.Client()

	apply := func(manager string, data map[string]any) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "applied", "namespace": ns},
			"data":     data,
		}}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager)); err != nil {
			t.Fatalf("apply as %s: %v", manager, err)
		}
	}
	apply("alpha", map[string]any{"a": "1"})
	apply("beta", map[string]any{"b": "2"})

	got := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "applied"}, got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, got.Data); diff != "" {
		t.Errorf("two managers' fields merged (-want +got):\n%s", diff)
	}
	var managers []string
	for _, mf := range got.ManagedFields {
		managers = append(managers, mf.Manager)
	}
	if diff := cmp.Diff([]string{"alpha", "beta"}, managers); diff != "" {
		t.Errorf("field managers (-want +got):\n%s", diff)
	}
}

func TestVersionIsStamped(t *testing.T) {
	t.Parallel()
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != testenv.KubernetesVersion {
		t.Errorf("server reports %s, want %s: the binary was built without version ldflags", v.GitVersion, testenv.KubernetesVersion)
	}
}

func TestCRDThenCustomResource(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := env.Namespace(t)

	if err := env.InstallCRDFiles(ctx, filepath.Join("testdata", "crds")); err != nil {
		t.Fatal(err)
	}
	// Installing again, as a parallel test would, is a no-op.
	if err := env.InstallCRDFiles(ctx, filepath.Join("testdata", "crds", "widgets.yaml")); err != nil {
		t.Fatal(err)
	}

	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(schema.GroupVersionKind{Group: "test.gitopskit.dev", Version: "v1", Kind: "Widget"})
	w.SetNamespace(ns)
	w.SetName("first")
	if err := unstructured.SetNestedField(w.Object, int64(3), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client().Create(ctx, w); err != nil {
		t.Fatalf("creating custom resource right after InstallCRDs: %v", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client().Get(ctx, client.ObjectKey{Name: "widgets.test.gitopskit.dev"}, crd); err != nil {
		t.Fatal(err)
	}
}

func TestReadCRDsRejectsOtherKinds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "cm.yaml")
	if err := os.WriteFile(p, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := testenv.ReadCRDs(p)
	if err == nil || !strings.Contains(err.Error(), "ConfigMap") {
		t.Fatalf("ReadCRDs(ConfigMap) error = %v, want one naming the ConfigMap", err)
	}
	if _, err := testenv.ReadCRDs(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("ReadCRDs(missing path) succeeded")
	}
}

func TestImpersonationFollowsRBAC(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := env.Namespace(t)

	env.Create(t,
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"},
			}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
			Subjects: []rbacv1.Subject{
				{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"},
				{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "reader"},
			},
		},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "visible", Namespace: ns}},
	)

	alice, err := env.ImpersonatedClient("alice")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := env.ServiceAccountClient(ns, "reader")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := env.ImpersonatedClient("bob")
	if err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]client.Client{"alice": alice, "service account": sa} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "visible"}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("%s: get allowed by the Role failed: %v", name, err)
		}
		err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "denied-", Namespace: ns}})
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: create not allowed by the Role: error = %v, want Forbidden", name, err)
		}
		err = c.List(ctx, &corev1.SecretList{}, client.InNamespace(ns))
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: list secrets: error = %v, want Forbidden", name, err)
		}
	}
	err = bob.Get(ctx, client.ObjectKey{Namespace: ns, Name: "visible"}, &corev1.ConfigMap{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("bob (no binding): error = %v, want Forbidden", err)
	}
	if !strings.Contains(testenv.ServiceAccountUser(ns, "reader"), ":"+ns+":reader") {
		t.Errorf("ServiceAccountUser = %q", testenv.ServiceAccountUser(ns, "reader"))
	}
}

func TestMissingBinariesSayHowToBuildThem(t *testing.T) {
	t.Parallel()
	_, err := testenv.Start(testenv.WithBinaryDir(t.TempDir()))
	if !errors.Is(err, testenv.ErrBinariesNotFound) {
		t.Fatalf("Start(empty dir) error = %v, want ErrBinariesNotFound", err)
	}
	if !strings.Contains(err.Error(), "make controlplane") {
		t.Errorf("error %q does not say how to build the binaries", err)
	}
}

// The version Start looks for must be the one `make controlplane` builds.
func TestVersionMatchesControlPlaneModule(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "tools", "controlplane", "go.mod"))
	if err != nil {
		t.Skipf("not inside the gitopskit repository: %v", err)
	}
	want := "k8s.io/kubernetes " + testenv.KubernetesVersion
	if !strings.Contains(string(data), want) {
		t.Errorf("tools/controlplane/go.mod does not pin %q; update testenv.KubernetesVersion", want)
	}
}

func TestDefaultBinaryDirHonoursXDG(t *testing.T) {
	// Not parallel: it sets an environment variable.
	t.Setenv("XDG_CACHE_HOME", "/somewhere")
	dir, err := testenv.DefaultBinaryDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/somewhere/gitopskit/controlplane/" + testenv.KubernetesVersion; dir != want {
		t.Errorf("DefaultBinaryDir() = %q, want %q", dir, want)
	}
}

func TestClientWatches(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := env.Namespace(t)
	w, err := env.Client().Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched", Namespace: ns}}
	if err := env.Client().Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	ev, ok := <-w.ResultChan()
	if !ok {
		t.Fatal("watch closed before the creation was seen")
	}
	if got, ok := ev.Object.(*corev1.ConfigMap); !ok || got.Name != "watched" {
		t.Errorf("first event = %s %T, want the created ConfigMap", ev.Type, ev.Object)
	}
}
