package ssa_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// recordedManager returns a Manager whose client and Schemas both send
// through one recorder, so every request of an Apply is counted. schemas
// is shared when given, else a new one is made on the recorded config.
func recordedManager(t *testing.T, schemas *ssa.Schemas, opts ...ssa.Option) (*ssa.Manager, *ssa.Schemas, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg := env.Config()
	cfg.Wrap(rec.wrap)
	if schemas == nil {
		var err error
		if schemas, err = ssa.NewSchemas(cfg); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ssa.NewManager(c, ssa.Owner{Field: "gitopskit-test", Group: "test.gitopskit.dev", Name: "app", Namespace: "flux"},
		append([]ssa.Option{ssa.WithSchemas(schemas)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m, schemas, rec
}

// objectRequests returns the recorded requests that address one of the
// objects by name, rather than a list of their kind.
func (r *recorder) objectRequests(objs []*unstructured.Unstructured) []request {
	names := map[string]bool{}
	for _, o := range objs {
		names[o.GetName()] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if names[q.Path[strings.LastIndex(q.Path, "/")+1:]] {
			out = append(out, q)
		}
	}
	return out
}

// paths returns the recorded request paths.
func (r *recorder) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.Method+" "+q.Path)
	}
	return out
}

// manySet returns the workloads and n ConfigMaps.
func manySet(t *testing.T, n int) []*unstructured.Unstructured {
	t.Helper()
	set := objects(t, workloads)
	for i := range n {
		set = append(set, objects(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many-%d, labels: {i: %q}}\ndata: {i: %q}\n", i, fmt.Sprint(i), fmt.Sprint(i)))...)
	}
	return set
}

func TestReapplyUnchangedSendsNoPerObjectRequest(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, schemas, rec := recordedManager(t, nil)
	opts := ssa.ApplyOptions{DefaultNamespace: ns}

	// Cold, in an existing namespace: each object is dry-run (the
	// pre-flight's validation) and applied; none is read first, the lists
	// say they are absent.
	set := manySet(t, 20)
	cs, err := m.Apply(ctx, set, opts)
	if err != nil || cs.Count(ssa.ActionCreated) != len(set) {
		t.Fatalf("cold apply: %v\n%s", err, cs)
	}
	for _, q := range rec.objectRequests(set) {
		if q.Method == http.MethodGet {
			t.Errorf("cold apply read an object: %s %s", q.Method, q.Path)
		}
	}

	// Unchanged, by a new Manager sharing the Schemas (a Manager per
	// reconcile): no request names an object, nothing is written, and the
	// schemas are not fetched again.
	counts := map[int]int{}
	for _, n := range []int{20, 60} {
		set := manySet(t, n)
		if _, err := m.Apply(ctx, set, opts); err != nil {
			t.Fatal(err)
		}
		m2, _, rec2 := recordedManager(t, schemas)
		cs, err := m2.Apply(ctx, set, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := cs.Count(ssa.ActionUnchanged); got != len(set) {
			t.Errorf("%d objects: %d unchanged:\n%s", len(set), got, cs)
		}
		if q := rec2.objectRequests(set); len(q) != 0 {
			t.Errorf("unchanged re-apply sent per-object requests: %+v", q)
		}
		if w := rec2.writes(); len(w) != 0 {
			t.Errorf("unchanged re-apply wrote: %+v", w)
		}
		for _, p := range rec2.paths() {
			if strings.HasPrefix(p, "GET /openapi/v3/") {
				t.Errorf("schemas fetched again by a Manager sharing them: %s", p)
			}
		}
		counts[len(set)] = rec2.count()
	}
	// The cost does not grow with the set: a list per kind, the OpenAPI
	// index and the admission configuration.
	if counts[25] != counts[65] || counts[25] > 10 {
		t.Errorf("requests of an unchanged re-apply: %v by set size, want the same small number", counts)
	}
}

// TestDriftBehindOurBackIsCorrected changes, deletes and edits objects with
// other field managers after an apply: the next apply finds and corrects
// each, in the same call.
func TestDriftBehindOurBackIsCorrected(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := manySet(t, 4)
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	if _, err := m.Apply(ctx, set, opts); err != nil {
		t.Fatal(err)
	}
	cm := func(name string) *corev1.ConfigMap {
		c := &corev1.ConfigMap{}
		if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// kubectl edit: an Update by kubectl-edit (a takeover manager).
	edited := cm("many-0")
	edited.Data["i"] = "edited"
	if err := env.Client().Update(ctx, edited, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	// Another controller's Update, which takes the field from us.
	other := cm("many-1")
	other.Data["i"] = "other"
	if err := env.Client().Update(ctx, other, client.FieldOwner("intruder")); err != nil {
		t.Fatal(err)
	}
	// An apply by someone else with force.
	forced := &unstructured.Unstructured{}
	forced.SetAPIVersion("v1")
	forced.SetKind("ConfigMap")
	forced.SetNamespace(ns)
	forced.SetName("many-2")
	_ = unstructured.SetNestedField(forced.Object, "forced", "data", "i")
	if err := env.Client().Apply(ctx, client.ApplyConfigurationFromUnstructured(forced), client.FieldOwner("rival"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	// A label added by someone else is theirs: not drift.
	labelled := cm("many-3")
	labelled.Labels["team"] = "blue"
	if err := env.Client().Update(ctx, labelled, client.FieldOwner("labeller")); err != nil {
		t.Fatal(err)
	}
	// A deleted object.
	if err := env.Client().Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "config"}}); err != nil {
		t.Fatal(err)
	}
	cs, err := m.Apply(ctx, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(cs)
	for name, want := range map[string]ssa.Action{
		"many-0": ssa.ActionConfigured, "many-1": ssa.ActionConfigured, "many-2": ssa.ActionConfigured,
		"many-3": ssa.ActionUnchanged, "config": ssa.ActionCreated,
	} {
		if a := got["ConfigMap/"+ns+"/"+name]; a != want {
			t.Errorf("%s: %s, want %s", name, a, want)
		}
	}
	for i := range 3 {
		if v := cm(fmt.Sprintf("many-%d", i)).Data["i"]; v != fmt.Sprint(i) {
			t.Errorf("many-%d not corrected: %q", i, v)
		}
	}
	if l := cm("many-3").Labels["team"]; l != "blue" {
		t.Errorf("another manager's label removed: %q", l)
	}
	if got := cm("config").Data["key"]; got != "value" {
		t.Errorf("deleted object not recreated: %q", got)
	}
	if n := cs.Count(ssa.ActionUnchanged); n != len(set)-4 {
		t.Errorf("%d unchanged, want %d:\n%s", n, len(set)-4, cs)
	}
}

// TestApplyWithoutListPermission: an identity that may get but not list
// reads its objects one by one, and still decides locally.
func TestApplyWithoutListPermission(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	user := "nolist-" + ns
	env.Create(t,
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmaps", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "patch", "update"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "configmaps", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "configmaps"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
		},
	)
	m, rec := newManager(t, env.ImpersonatedConfig(user))
	set := manySet(t, 3)[5:]
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	if cs, err := m.Apply(ctx, set, opts); err != nil || cs.Count(ssa.ActionCreated) != 3 {
		t.Fatalf("apply: %v %s", err, cs)
	}
	rec.reset()
	cs, err := m.Apply(ctx, set, opts)
	if err != nil || cs.Count(ssa.ActionUnchanged) != 3 {
		t.Fatalf("re-apply: %v %s", err, cs)
	}
	for _, q := range rec.objectRequests(set) {
		if q.Method != http.MethodGet {
			t.Errorf("not decided locally: %+v", q)
		}
	}
	if n := len(rec.objectRequests(set)); n != 3 {
		t.Errorf("%d object requests, want a GET each", n)
	}
}
