package ssa_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/ssa"
)

// TestDisablePreflight: every object that may change costs its write alone —
// cold, changed, normalised by the server, recreated — and the answers
// are the ones the pre-flight would give; what it gives up is that a
// rejected object no longer stops the others.
func TestDisablePreflight(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	opts := ssa.ApplyOptions{DefaultNamespace: ns, DisablePreflight: true}
	dryRuns := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, q := range rec.reqs {
			if q.DryRun {
				n++
			}
		}
		return n
	}
	deploy := func(app, cpu string) []*unstructured.Unstructured {
		return objects(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: %q}}}]}
`, app, cpu))
	}
	set := func(value, app, cpu string) []*unstructured.Unstructured {
		return append(validAndInvalid(t, 5, value)[:5], deploy(app, cpu)...)
	}

	// Cold, in an existing namespace: one write per object, no dry-run.
	cs, err := m.Apply(ctx, set("one", "a", "0.5"), opts)
	if err != nil || cs.Count(ssa.ActionCreated) != 6 {
		t.Fatalf("cold: %v\n%s", err, cs)
	}
	if d, w := dryRuns(), len(rec.writes()); d != 0 || w != 6 {
		t.Errorf("cold: %d dry-runs and %d writes, want 0 and 6", d, w)
	}

	// Changed: one write each. The CPU request is written 0.5 and stored
	// 500m: the local decision cannot tell it is the same, the write's
	// answer does.
	rec.reset()
	cs, err = m.Apply(ctx, set("two", "a", "0.5"), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ssa.Action{"Deployment.apps/" + ns + "/web": ssa.ActionUnchanged}
	for i := range 5 {
		want[fmt.Sprintf("ConfigMap/%s/cm-%d", ns, i)] = ssa.ActionConfigured
	}
	if got := actions(cs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changed: actions %v, want %v", got, want)
	}
	if d, w := dryRuns(), len(rec.writes()); d != 0 || w != 6 {
		t.Errorf("changed: %d dry-runs and %d writes, want 0 and 6 (5 changes, the normalised quantity)", d, w)
	}
	live := &corev1.ConfigMap{}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "cm-0"}, live); err != nil || live.Data["v"] != "two" {
		t.Fatalf("cm-0 = %v, %v", live.Data, err)
	}

	// Written as stored, the quantity is decided locally: no request.
	rec.reset()
	cs, err = m.Apply(ctx, set("two", "a", "500m"), opts)
	if err != nil || cs.Count(ssa.ActionUnchanged) != 6 || len(rec.writes()) != 0 {
		t.Fatalf("unchanged: %v, %d writes\n%s", err, len(rec.writes()), cs)
	}

	// An immutable change: refused without Recreate, recreated with it.
	if _, err := m.Apply(ctx, set("two", "b", "500m"), opts); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("immutable change without Recreate: %v", err)
	}
	recreate := opts
	recreate.Recreate = true
	cs, err = m.Apply(ctx, set("two", "b", "500m"), recreate)
	if err != nil || actions(cs)["Deployment.apps/"+ns+"/web"] != ssa.ActionRecreated {
		t.Fatalf("immutable change with Recreate: %v\n%s", err, cs)
	}

	// The price: objects the API server rejects fail the Apply, and the
	// valid ones beside them are written all the same.
	cs, err = m.Apply(ctx, validAndInvalid(t, 5, "three"), opts)
	if err == nil || !strings.Contains(err.Error(), "negative") || !strings.Contains(err.Error(), "portless") {
		t.Fatalf("rejected objects: err = %v", err)
	}
	if n := cs.Count(ssa.ActionConfigured); n != 5 {
		t.Errorf("%d written beside the rejected objects, want 5:\n%s", n, cs)
	}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "cm-0"}, live); err != nil || live.Data["v"] != "three" {
		t.Errorf("cm-0 = %v, %v; want written", live.Data, err)
	}
}
