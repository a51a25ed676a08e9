package ssa_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

func replicasDeployment(replicas int) string {
	return strings.Replace(fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\"}")),
		"spec:\n  selector", fmt.Sprintf("spec:\n  replicas: %d\n  selector", replicas), 1)
}

func getDeployment(t *testing.T, ctx context.Context, ns string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// scale sets a Deployment's replicas through the scale subresource, as a
// HorizontalPodAutoscaler does.
func scale(t *testing.T, ctx context.Context, ns string, replicas int32) {
	t.Helper()
	d := getDeployment(t, ctx, ns)
	s := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
	if err := env.Client().SubResource("scale").Update(ctx, d, client.WithSubResourceBody(s), client.FieldOwner("hpa")); err != nil {
		t.Fatal(err)
	}
}

// ownsReplicas reports whether the test owner's Apply entry holds
// spec.replicas.
func ownsReplicas(d *appsv1.Deployment) bool {
	for _, e := range d.ManagedFields {
		if e.Manager == "gitopskit-test" && e.Operation == "Apply" && strings.Contains(string(e.FieldsV1.Raw), `"f:replicas"`) {
			return true
		}
	}
	return false
}

func TestApplyIgnoreRules(t *testing.T) {
	t.Parallel()
	replicas := []ssa.IgnoreRule{{Paths: []string{"/spec/replicas"}, Selector: ssa.Selector{Kind: "Deployment"}}}

	t.Run("an autoscaler's replicas", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		ns := env.Namespace(t)
		m, rec := newManager(t, nil)
		if _, err := m.Apply(ctx, objects(t, replicasDeployment(2)), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
			t.Fatal(err)
		}
		scale(t, ctx, ns, 5)
		rec.reset()
		cs, err := m.Apply(ctx, objects(t, replicasDeployment(2)), ssa.ApplyOptions{DefaultNamespace: ns, IgnoreRules: replicas})
		if err != nil || cs.Count(ssa.ActionUnchanged) != 1 {
			t.Fatalf("apply with the rule: %v\n%s", err, cs)
		}
		if r := *getDeployment(t, ctx, ns).Spec.Replicas; r != 5 {
			t.Errorf("replicas = %d, want the autoscaler's 5", r)
		}
		if w := rec.writes(); len(w) != 0 {
			t.Errorf("writes: %+v", w)
		}
		if q := rec.objectRequests(objects(t, replicasDeployment(2))); len(q) != 0 {
			t.Errorf("not decided locally: %+v", q)
		}
		// Without the rule, the manifest wins again.
		cs, err = m.Apply(ctx, objects(t, replicasDeployment(2)), ssa.ApplyOptions{DefaultNamespace: ns})
		if err != nil || cs.Count(ssa.ActionConfigured) != 1 {
			t.Fatalf("apply without the rule: %v\n%s", err, cs)
		}
		if r := *getDeployment(t, ctx, ns).Spec.Replicas; r != 2 {
			t.Errorf("replicas = %d, want 2", r)
		}
	})

	t.Run("a field only the owner holds keeps its value", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		ns := env.Namespace(t)
		m, _ := newManager(t, nil)
		opts := ssa.ApplyOptions{DefaultNamespace: ns, IgnoreRules: replicas}
		// A new object is created as the manifest says.
		cs, err := m.Apply(ctx, objects(t, replicasDeployment(3)), opts)
		if err != nil || cs.Count(ssa.ActionCreated) != 1 {
			t.Fatalf("create: %v %s", err, cs)
		}
		if r := *getDeployment(t, ctx, ns).Spec.Replicas; r != 3 {
			t.Errorf("created with %d replicas, want 3", r)
		}
		// The manifest changes the ignored field: not applied, and not
		// removed either (which would default it to 1).
		for _, docs := range []string{replicasDeployment(7), fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\"}"))} {
			cs, err = m.Apply(ctx, objects(t, docs), opts)
			if err != nil || cs.Count(ssa.ActionUnchanged) != 1 {
				t.Fatalf("apply: %v %s", err, cs)
			}
			if r := *getDeployment(t, ctx, ns).Spec.Replicas; r != 3 {
				t.Errorf("replicas = %d, want 3 kept", r)
			}
		}
		// Once someone else writes it, the owner lets go.
		scale(t, ctx, ns, 4)
		if _, err := m.Apply(ctx, objects(t, replicasDeployment(7)), opts); err != nil {
			t.Fatal(err)
		}
		d := getDeployment(t, ctx, ns)
		if *d.Spec.Replicas != 4 || ownsReplicas(d) {
			t.Errorf("replicas = %d, owner holds them: %v; want 4 and let go", *d.Spec.Replicas, ownsReplicas(d))
		}
	})

	t.Run("a map both hold, member by member", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		ns := env.Namespace(t)
		m, _ := newManager(t, nil)
		cm := func(ann string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, annotations: {" + ann + "}}\ndata: {k: v}\n"
		}
		if _, err := m.Apply(ctx, objects(t, cm("ours: \"1\"")), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
			t.Fatal(err)
		}
		otherApply(t, ctx, ns, "annotator", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, annotations: {theirs: \"2\"}}\n")
		rules := []ssa.IgnoreRule{{Paths: []string{"/metadata/annotations"}}}
		cs, err := m.Apply(ctx, objects(t, cm("ours: changed, added: \"3\"")), ssa.ApplyOptions{DefaultNamespace: ns, IgnoreRules: rules})
		if err != nil {
			t.Fatal(err)
		}
		live := &corev1.ConfigMap{}
		if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm"}, live); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"ours": "1", "theirs": "2"}
		if diff := cmp.Diff(want, live.Annotations); diff != "" {
			t.Errorf("annotations (-want +got):\n%s\n%s", diff, cs)
		}
		// The selector decides which objects a rule is for.
		rules[0].Selector = ssa.Selector{Kind: "Secret"}
		if _, err := m.Apply(ctx, objects(t, cm("ours: changed")), ssa.ApplyOptions{DefaultNamespace: ns, IgnoreRules: rules}); err != nil {
			t.Fatal(err)
		}
		if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm"}, live); err != nil {
			t.Fatal(err)
		}
		if live.Annotations["ours"] != "changed" {
			t.Errorf("a rule for Secrets kept a ConfigMap's annotation: %v", live.Annotations)
		}
	})

	t.Run("a bad rule writes nothing", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		m, rec := newManager(t, nil)
		for _, r := range []ssa.IgnoreRule{{Paths: []string{"spec/replicas"}}, {Paths: []string{"/a/~2"}}, {Paths: []string{"/x"}, Selector: ssa.Selector{LabelSelector: "a in (("}}} {
			cs, err := m.Apply(ctx, objects(t, replicasDeployment(1)), ssa.ApplyOptions{DefaultNamespace: "default", IgnoreRules: []ssa.IgnoreRule{r}})
			if err == nil || cs == nil || len(cs.Changes) != 0 {
				t.Errorf("rule %+v: %v %v", r, cs, err)
			}
			if r.Selector.LabelSelector == "" && !errors.Is(err, ssa.ErrInvalidID) {
				t.Errorf("rule %+v: %v, want ErrInvalidID", r, err)
			}
		}
		if n := rec.count(); n != 0 {
			t.Errorf("bad rules sent %d requests", n)
		}
	})
}

// TestDiffDecidesLocally: a drift check of a set where an autoscaler
// holds replicas and one object really drifted sends a dry-run only for
// that one.
func TestDiffDecidesLocally(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	set := append(objects(t, replicasDeployment(2)), manySet(t, 5)[5:]...)
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	// An autoscaler's replicas and another controller's value are theirs;
	// a kubectl edit is drift (Apply takes kubectl's fields back).
	scale(t, ctx, ns, 5)
	otherUpdate(t, ctx, ns, "kubectl-edit", "v1", "ConfigMap", "many-3", func(u *unstructured.Unstructured) {
		u.Object["data"] = map[string]any{"i": "tampered"}
	})
	otherUpdate(t, ctx, ns, "other-controller", "v1", "ConfigMap", "many-4", func(u *unstructured.Unstructured) {
		u.Object["data"] = map[string]any{"i": "theirs"}
	})
	rec.reset()
	diffs, err := m.Diff(ctx, set, ssa.DiffOptions{DefaultNamespace: ns, IgnoreOthersFields: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ssa.Action{}
	for _, d := range diffs {
		got[d.ID.Name] = d.Action
	}
	if got["web"] != ssa.ActionUnchanged || got["many-3"] != ssa.ActionConfigured || got["many-4"] != ssa.ActionUnchanged || got["many-0"] != ssa.ActionUnchanged {
		t.Errorf("diff actions: %v", got)
	}
	for _, q := range rec.objectRequests(set) {
		if !strings.HasSuffix(q.Path, "/many-3") && !strings.HasSuffix(q.Path, "/many-4") {
			t.Errorf("request for an object without drift: %+v", q)
		}
	}
	// Asked of the API server, the answers are the same.
	server, err := m.Diff(ctx, set, ssa.DiffOptions{DefaultNamespace: ns, IgnoreOthersFields: true, DisableLocalDecision: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range diffs {
		if diffs[i].Action != server[i].Action || diffs[i].Unified != server[i].Unified {
			t.Errorf("%s: local %s, server %s\n%s", diffs[i].ID, diffs[i].Action, server[i].Action, server[i].Unified)
		}
	}
}

// TestApplyIgnoreOthersFields corrects drift without taking back what
// other managers own: an autoscaler keeps its replicas while the image is
// corrected, and a kubectl edit is taken back.
func TestApplyIgnoreOthersFields(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	docs := replicasDeployment(2)
	opts := ssa.ApplyOptions{DefaultNamespace: ns, IgnoreOthersFields: true}
	if _, err := m.Apply(ctx, objects(t, docs), opts); err != nil {
		t.Fatal(err)
	}
	scale(t, ctx, ns, 5)
	otherUpdate(t, ctx, ns, "kubectl-edit", "apps/v1", "Deployment", "web", func(u *unstructured.Unstructured) {
		c := u.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		c["image"] = "nginx:edited"
	})
	cs, err := m.Apply(ctx, objects(t, docs), opts)
	if err != nil || cs.Count(ssa.ActionConfigured) != 1 {
		t.Fatalf("apply: %v %s", err, cs)
	}
	d := getDeployment(t, ctx, ns)
	if *d.Spec.Replicas != 5 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
		t.Errorf("replicas %d, image %s; want the autoscaler's 5 and the manifest's image", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	// The same set again is unchanged, decided locally.
	cs, err = m.Apply(ctx, objects(t, docs), opts)
	if err != nil || cs.Count(ssa.ActionUnchanged) != 1 {
		t.Fatalf("re-apply: %v %s", err, cs)
	}
}
