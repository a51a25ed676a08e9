package release_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/runtime/testenv"
)

func TestUninstallKeepingAndDroppingHistory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	ch := newChart("gone", "0.1.0", map[string]any{"greeting": "hi"}, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{Release: release.Ref{Name: "gone", Namespace: ns}, Chart: ch}
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	keep := release.Spec{Uninstall: release.Uninstall{KeepHistory: true}}
	if err := r.Uninstall(ctx, req.Release, keep, &st); err != nil {
		t.Fatal(err)
	}
	h, err := store(t, ns).History("gone")
	if err != nil || len(h) != 1 {
		t.Fatalf("%d records kept (%v), want 1", len(h), err)
	}
	if st.Latest() == nil || st.Latest().Status != "uninstalled" || st.Latest().Deleted == nil {
		t.Fatalf("status after uninstall: %+v", st.Latest())
	}
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "gone-config"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the ConfigMap after uninstall: %v", err)
	}

	// an uninstalled release kept in history is installed again in place
	actions, out := stepUntilDone(t, ctx, r, req, &st, 3)
	if diff := cmp.Diff([]release.Action{release.ActionInstall}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.Version != 2 || out.Current.Status != "deployed" {
		t.Fatalf("reinstall: %+v", out.Current)
	}

	if err := r.Uninstall(ctx, req.Release, release.Spec{}, &st); err != nil {
		t.Fatal(err)
	}
	if h, _ := store(t, ns).History("gone"); len(h) != 0 {
		t.Fatalf("%d records left after an uninstall dropping history", len(h))
	}
	if len(st.History) != 0 {
		t.Fatalf("status history %+v after the records were purged", st.History)
	}
	// uninstalling what is not there is not an error
	if err := r.Uninstall(ctx, req.Release, release.Spec{}, &st); err != nil {
		t.Fatal(err)
	}
}

const crdTemplate = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[1]ss.%[2]s
spec:
  group: %[2]s
  names: {kind: %[3]s, plural: %[1]ss, singular: %[1]s, listKind: %[3]sList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
        %[4]s
`

func crdChart(group, version, extra string) *release.Request {
	crd := fmt.Sprintf(crdTemplate, "widget", group, "Widget", extra)
	ch := newChart("widgets", version, nil, map[string]string{
		"crds/widget.yaml": crd,
		"templates/w.yaml": "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n",
	})
	return &release.Request{Chart: ch}
}

func TestCRDPolicies(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	group := "w" + rand.String(6) + ".example.com"
	req := *crdChart(group, "0.1.0", "")
	req.Release = release.Ref{Name: "widgets", Namespace: ns}
	t.Cleanup(func() {
		_ = env.Client().Delete(t.Context(), &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "widgets." + group}})
	})
	var st release.Status
	// install creates the CRD (default Create), then the custom resource
	stepUntilDone(t, ctx, r, req, &st, 3)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client().Get(ctx, client.ObjectKey{Name: "widgets." + group}, crd); err != nil {
		t.Fatal(err)
	}
	if crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description != "" {
		t.Fatal("unexpected description")
	}

	// an upgrade with a changed CRD: Skip (the upgrade default) leaves it
	changed := *crdChart(group, "0.2.0", "description: changed")
	changed.Release = req.Release
	stepUntilDone(t, ctx, r, changed, &st, 3)
	if err := env.Client().Get(ctx, client.ObjectKey{Name: "widgets." + group}, crd); err != nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description != "" {
		t.Fatalf("CRD changed under Skip (%v)", err)
	}
	// Create leaves an existing CRD alone too
	changed.Chart.Metadata.Version = "0.3.0"
	changed.Spec.Upgrade.CRDs = release.CRDsCreate
	stepUntilDone(t, ctx, r, changed, &st, 3)
	if err := env.Client().Get(ctx, client.ObjectKey{Name: "widgets." + group}, crd); err != nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description != "" {
		t.Fatalf("CRD changed under Create (%v)", err)
	}
	// CreateReplace updates it
	changed.Chart.Metadata.Version = "0.4.0"
	changed.Spec.Upgrade.CRDs = release.CRDsCreateReplace
	stepUntilDone(t, ctx, r, changed, &st, 3)
	if err := env.Client().Get(ctx, client.ObjectKey{Name: "widgets." + group}, crd); err != nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description != "changed" {
		t.Fatalf("CRD not updated under CreateReplace (%v)", err)
	}
}

func TestNamespacesAndRename(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	storageNS := namespace(t)
	target := "target-" + rand.String(6)
	t.Cleanup(func() {
		_ = env.Client().Delete(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})
	})
	r := newRunner(t)
	ch := newChart("placed", "0.1.0", map[string]any{"greeting": "hi"}, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{
		Release: release.Ref{Name: "placed", Namespace: target, StorageNamespace: storageNS},
		Chart:   ch,
		Spec:    release.Spec{Install: release.Install{CreateNamespace: true}},
	}
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)
	getConfigMap(t, ctx, target, "placed-config") // created, with its namespace
	if h, _ := store(t, storageNS).History("placed"); len(h) != 1 {
		t.Fatalf("%d records in the storage namespace", len(h))
	}
	if h, _ := store(t, target).History("placed"); len(h) != 0 {
		t.Fatal("records in the target namespace")
	}
	if st.StorageNamespace != storageNS {
		t.Fatalf("status storage namespace %q", st.StorageNamespace)
	}

	// a new release name: the old release is uninstalled, the new installed
	req.Release.Name = "renamed"
	actions, _ := stepUntilDone(t, ctx, r, req, &st, 4)
	if diff := cmp.Diff([]release.Action{release.ActionUninstall, release.ActionInstall}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if h, _ := store(t, storageNS).History("placed"); len(h) != 0 {
		t.Fatal("the old release is still recorded")
	}
	getConfigMap(t, ctx, target, "renamed-config")
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: target, Name: "placed-config"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the old release's ConfigMap: %v", err)
	}
}

func TestMaxHistory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	ch := newChart("hist", "0.1.0", nil, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{Release: release.Ref{Name: "hist", Namespace: ns}, Chart: ch, Spec: release.Spec{MaxHistory: 2}}
	var st release.Status
	for i := range 4 {
		req.Values = map[string]any{"greeting": fmt.Sprintf("v%d", i)}
		stepUntilDone(t, ctx, r, req, &st, 3)
	}
	if h, _ := store(t, ns).History("hist"); len(h) != 2 {
		t.Fatalf("%d records, want 2", len(h))
	}
	if len(st.History) != 2 || st.History[0].Version != 4 || st.History[1].Version != 3 {
		t.Fatalf("status history %+v", st.History)
	}
}

// TestImpersonation runs a Runner as a service account (a HelmRelease's
// serviceAccountName): without rights the install is refused, with a
// RoleBinding it works.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	cfg := env.ImpersonatedConfig(testenv.ServiceAccountUser(ns, "deployer"))
	r, err := release.NewRunner(cfg, release.WithFieldManager(fieldManager))
	if err != nil {
		t.Fatal(err)
	}
	ch := newChart("imp", "0.1.0", nil, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{Release: release.Ref{Name: "imp", Namespace: ns}, Chart: ch}
	_, err = r.Step(ctx, req, &release.Status{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("error %v, want Forbidden", err)
	}
	env.Create(t,
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets"}, Verbs: []string{"*"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployer"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "deployer"}}},
	)
	var st release.Status
	if _, out := stepUntilDone(t, ctx, r, req, &st, 3); out.Current == nil || out.Current.Status != "deployed" {
		t.Fatalf("with rights: %+v", out.Current)
	}
}

func TestFieldManagerIsPerProcess(t *testing.T) {
	if r := newRunner(t); r.FieldManager() != fieldManager {
		t.Fatal("field manager")
	}
	_, err := release.NewRunner(env.Config(), release.WithFieldManager("someone-else"))
	if !errors.Is(err, release.ErrFieldManager) {
		t.Fatalf("error %v, want ErrFieldManager", err)
	}
}
