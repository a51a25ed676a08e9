package config_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/examples/config"
	"github.com/gitopskit/kit/kustomize"
)

// TestRenderEmbedded checks that the embedded copy renders exactly what
// the folder renders, and that an overlay reaches the objects.
func TestRenderEmbedded(t *testing.T) {
	t.Parallel()
	got, err := config.Render(context.Background(), kustomize.Overlay{})
	if err != nil {
		t.Fatal(err)
	}
	want := render(t)
	objects := func(objs []*unstructured.Unstructured) []map[string]any {
		out := make([]map[string]any, 0, len(objs))
		for _, o := range objs {
			out = append(out, o.Object)
		}
		return out
	}
	if diff := cmp.Diff(objects(want), objects(got)); diff != "" {
		t.Errorf("embedded render differs from the folder's (-folder +embedded):\n%s", diff)
	}

	img, err := config.Render(context.Background(), kustomize.Overlay{
		Images: []kustomize.Image{{Name: "ghcr.io/gitopskit/gitopsd", NewTag: "v9.9.9"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := find(t, img, "Deployment", "gitopsd")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if image := containers[0].(map[string]any)["image"]; image != "ghcr.io/gitopskit/gitopsd:v9.9.9" {
		t.Errorf("image = %v, want the overlay's", image)
	}
}
