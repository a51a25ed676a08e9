package patch_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/internal/testapi"
	"github.com/gitopskit/kit/runtime/patch"
)

// BenchmarkPatchStatus measures one reconcile's status write-back on a real
// API server: snapshot, change a condition, patch.
func BenchmarkPatchStatus(b *testing.B) {
	ctx := b.Context()
	g := &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: env.Namespace(b)}}
	if err := env.Client().Create(ctx, g); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		h, err := patch.NewHelper(g, env.Client())
		if err != nil {
			b.Fatal(err)
		}
		i++
		conditions.MarkTrue(g, conditions.Ready, conditions.SucceededReason, "round %d", i)
		if err := h.Patch(ctx, g, patch.Options{ObservedGeneration: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatchUnchanged measures the cost of a reconcile that changed
// nothing: no request is sent.
func BenchmarkPatchUnchanged(b *testing.B) {
	ctx := b.Context()
	g := &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: env.Namespace(b)}}
	if err := env.Client().Create(ctx, g); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := patch.NewHelper(g, env.Client())
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Patch(ctx, g, patch.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
