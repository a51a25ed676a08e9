package release

import (
	"context"
	"fmt"

	"helm.sh/helm/v4/pkg/postrenderer"

	"github.com/gitopskit/kit/helmutil/internal/mask"
)

// postRenderer returns the post-renderer of p, nil when p changes nothing.
func (r *Runner) postRenderer(ctx context.Context, p PostRender, m *mask.Masker) (postrenderer.PostRenderer, error) {
	if p.IsZero() {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: post-rendering needs the kustomize module's in-memory build, not available yet", ErrPostRender)
}
