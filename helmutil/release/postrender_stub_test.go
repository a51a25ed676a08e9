package release_test

import (
	"errors"
	"testing"

	"github.com/gitopskit/kit/helmutil/release"
)

func TestPostRenderNotYet(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	ch := newChart("later", "0.1.0", nil, map[string]string{"templates/cm.yaml": configMapTemplate})
	req := release.Request{Release: release.Ref{Name: "later", Namespace: ns}, Chart: ch,
		Spec: release.Spec{PostRender: release.PostRender{Labels: map[string]string{"team": "web"}}}}
	_, err := r.Step(ctx, req, &release.Status{})
	if !errors.Is(err, release.ErrPostRender) {
		t.Fatalf("error %v, want ErrPostRender", err)
	}
	if h, _ := store(t, ns).History("later"); len(h) != 0 {
		t.Fatalf("%d records written", len(h))
	}
}
