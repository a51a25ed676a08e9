package patch_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/internal/testapi"
	"github.com/gitopskit/kit/runtime/patch"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	s := runtime.NewScheme()
	if err := testapi.AddToScheme(s); err != nil {
		panic(err)
	}
	testenv.Main(m, &env, testenv.WithScheme(s), testenv.WithCRDs(testapi.CRD()))
}

func newGadget(t *testing.T) *testapi.Gadget {
	t.Helper()
	g := &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: env.Namespace(t)}, Spec: testapi.GadgetSpec{Size: 1}}
	if err := env.Client().Create(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

func get(t *testing.T, c client.Client, g *testapi.Gadget) *testapi.Gadget {
	t.Helper()
	out := &testapi.Gadget{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(g), out); err != nil {
		t.Fatal(err)
	}
	return out
}

func condTypes(g *testapi.Gadget) []string {
	var out []string
	for _, c := range g.Status.Conditions {
		out = append(out, c.Type+"="+string(c.Status))
	}
	slices.Sort(out)
	return out
}

// countingClient counts the write requests a client sends.
func countingClient(t *testing.T) (client.Client, *atomic.Int64) {
	t.Helper()
	var writes atomic.Int64
	cfg := env.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, &writes
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSpecMetadataAndStatusInTwoRequests(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, writes := countingClient(t)
	g := get(t, c, newGadget(t))

	h, err := patch.NewHelper(g, c)
	if err != nil {
		t.Fatal(err)
	}
	g.Spec.Size = 5
	g.Labels = map[string]string{"team": "platform"}
	g.Status.Revision = "main@sha1:abc"
	conditions.MarkTrue(g, conditions.Ready, conditions.SucceededReason, "done")
	if err := h.Patch(ctx, g, patch.Options{ObservedGeneration: true}); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 2 {
		t.Errorf("sent %d write requests, want 2 (one for metadata+spec, one for status)", n)
	}
	got := get(t, c, g)
	if got.Spec.Size != 5 || got.Labels["team"] != "platform" || got.Status.Revision != "main@sha1:abc" {
		t.Errorf("changes not persisted: %+v %+v %v", got.Spec, got.Status, got.Labels)
	}
	// observedGeneration is the generation the reconcile started from (1),
	// not the one the spec change produced (2).
	if got.Status.ObservedGeneration != 1 || got.Generation != 2 {
		t.Errorf("observedGeneration %d at generation %d, want 1 at 2", got.Status.ObservedGeneration, got.Generation)
	}

	// Nothing changed: nothing sent.
	writes.Store(0)
	h, _ = patch.NewHelper(got, c)
	if err := h.Patch(ctx, got, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("unchanged object: %d write requests, want 0", n)
	}
}

func TestConcurrentWritersKeepEachOthersConditions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := newGadget(t)

	// Eight controllers read the same version, then each writes its own
	// condition, several times, all at once.
	const writers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				obj := get(t, env.Client(), g)
				h, err := patch.NewHelper(obj, env.Client())
				if err != nil {
					errs <- err
					return
				}
				typ := fmt.Sprintf("Writer%d", w)
				conditions.MarkTrue(obj, typ, "Round", "round %d", r)
				if err := h.Patch(ctx, obj, patch.Options{OwnedConditions: []string{typ}}); err != nil {
					errs <- fmt.Errorf("writer %d round %d: %w", w, r, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := get(t, env.Client(), g)
	var want []string
	for w := range writers {
		want = append(want, fmt.Sprintf("Writer%d=True", w))
	}
	if diff := cmp.Diff(want, condTypes(got)); diff != "" {
		t.Errorf("conditions after concurrent writers (-want +got):\n%s", diff)
	}
	for _, c := range got.Status.Conditions {
		if c.Message != fmt.Sprintf("round %d", rounds-1) {
			t.Errorf("%s: message %q, want the last round's", c.Type, c.Message)
		}
	}
}

func TestStaleSnapshotDoesNotDropOthersCondition(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := newGadget(t)

	mine := get(t, env.Client(), g)
	h, _ := patch.NewHelper(mine, env.Client())

	// Someone else writes a condition after our read.
	theirs := get(t, env.Client(), g)
	ht, _ := patch.NewHelper(theirs, env.Client())
	conditions.MarkFalse(theirs, "HealthChecked", "Unhealthy", "pod crashlooping")
	if err := ht.Patch(ctx, theirs, patch.Options{OwnedConditions: []string{"HealthChecked"}}); err != nil {
		t.Fatal(err)
	}

	// We own Ready and remove our old Fetched condition.
	conditions.MarkTrue(mine, conditions.Ready, conditions.SucceededReason, "ok")
	if err := h.Patch(ctx, mine, patch.Options{OwnedConditions: []string{conditions.Ready, "Fetched"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"HealthChecked=False", "Ready=True"}, condTypes(get(t, env.Client(), g))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// An owned condition absent from the object is removed on the server.
	mine = get(t, env.Client(), g)
	h, _ = patch.NewHelper(mine, env.Client())
	conditions.Delete(mine, conditions.Ready)
	if err := h.Patch(ctx, mine, patch.Options{OwnedConditions: []string{conditions.Ready}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"HealthChecked=False"}, condTypes(get(t, env.Client(), g))); diff != "" {
		t.Errorf("after removing Ready (-want +got):\n%s", diff)
	}
}

func TestChangedConditionsAreOwnedByDefault(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := newGadget(t)
	mine := get(t, env.Client(), g)
	h, _ := patch.NewHelper(mine, env.Client())

	theirs := get(t, env.Client(), g)
	ht, _ := patch.NewHelper(theirs, env.Client())
	conditions.MarkTrue(theirs, "Theirs", "Set", "")
	if err := ht.Patch(ctx, theirs, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	conditions.MarkTrue(mine, "Mine", "Set", "")
	if err := h.Patch(ctx, mine, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Mine=True", "Theirs=True"}, condTypes(get(t, env.Client(), g))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFinalizersFromStaleSnapshots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := newGadget(t)

	a := get(t, env.Client(), g)
	b := get(t, env.Client(), g)
	ha, _ := patch.NewHelper(a, env.Client())
	hb, _ := patch.NewHelper(b, env.Client())
	controllerutil.AddFinalizer(a, "a.gitopskit.dev/finalizer")
	controllerutil.AddFinalizer(b, "b.gitopskit.dev/finalizer")
	if err := ha.Patch(ctx, a, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := hb.Patch(ctx, b, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	got := get(t, env.Client(), g)
	if diff := cmp.Diff([]string{"a.gitopskit.dev/finalizer", "b.gitopskit.dev/finalizer"}, got.Finalizers); diff != "" {
		t.Fatalf("finalizers (-want +got):\n%s", diff)
	}

	// Deleting: each controller removes its own finalizer; the last removal
	// makes the object disappear, which is not an error.
	if err := env.Client().Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	a = get(t, env.Client(), g)
	b = get(t, env.Client(), g)
	ha, _ = patch.NewHelper(a, env.Client())
	hb, _ = patch.NewHelper(b, env.Client())
	controllerutil.RemoveFinalizer(a, "a.gitopskit.dev/finalizer")
	conditions.MarkFalse(a, conditions.Ready, "Deleting", "")
	if err := ha.Patch(ctx, a, patch.Options{}); err != nil {
		t.Fatal(err)
	}
	controllerutil.RemoveFinalizer(b, "b.gitopskit.dev/finalizer")
	conditions.MarkFalse(b, conditions.Ready, "Deleting", "")
	if err := hb.Patch(ctx, b, patch.Options{}); err != nil {
		t.Fatalf("removing the last finalizer: %v", err)
	}
	err := env.Client().Get(ctx, client.ObjectKeyFromObject(g), &testapi.Gadget{})
	if client.IgnoreNotFound(err) != nil || err == nil {
		t.Errorf("object still there after its last finalizer was removed: %v", err)
	}
}

func TestUnstructuredObjects(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := newGadget(t)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(testapi.GroupVersion.WithKind("Gadget"))
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(g), u); err != nil {
		t.Fatal(err)
	}
	h, err := patch.NewHelper(u, env.Client())
	if err != nil {
		t.Fatal(err)
	}
	conditions.MarkTrue(conditions.Unstructured(u), conditions.Ready, conditions.SucceededReason, "from unstructured")
	if err := unstructured.SetNestedField(u.Object, "v1@sha256:0123", "status", "revision"); err != nil {
		t.Fatal(err)
	}
	if err := h.Patch(ctx, u, patch.Options{ObservedGeneration: true}); err != nil {
		t.Fatal(err)
	}
	got := get(t, env.Client(), g)
	if got.Status.Revision != "v1@sha256:0123" || !conditions.IsReady(got) || got.Status.ObservedGeneration != 1 {
		t.Errorf("status = %+v", got.Status)
	}
	if problems := conditions.Check(got); len(problems) > 0 {
		t.Errorf("kstatus conventions broken after patch: %v", problems)
	}
}
