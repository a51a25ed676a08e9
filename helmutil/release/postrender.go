package release

import (
	"bytes"
	"context"
	"fmt"

	"helm.sh/helm/v4/pkg/postrenderer"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/helmutil/internal/mask"
	"github.com/gitopskit/kit/kustomize"
)

// postRenderer returns the post-renderer of p, nil when p changes nothing.
// It runs on the manifests, not the hooks (Helm's "nohooks" strategy, as
// Helm 3 and Flux do), so patches target what the chart deploys.
func (r *Runner) postRenderer(ctx context.Context, p PostRender, m *mask.Masker) (postrenderer.PostRenderer, error) {
	if p.IsZero() {
		return nil, nil
	}
	o := kustomize.Overlay{Labels: p.Labels, Annotations: p.Annotations}
	for _, pt := range p.Patches {
		kp := kustomize.Patch{Patch: pt.Patch}
		if t := pt.Target; t != nil {
			kp.Target = &kustomize.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace,
				LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		o.Patches = append(o.Patches, kp)
	}
	for _, im := range p.Images {
		o.Images = append(o.Images, kustomize.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
	}
	return &kustomizeRenderer{ctx: ctx, overlay: o, mask: m}, nil
}

// kustomizeRenderer post-renders in memory with the kustomize module: the
// manifests never touch a disk, no plugin or remote base can run.
type kustomizeRenderer struct {
	ctx     context.Context
	overlay kustomize.Overlay
	mask    *mask.Masker
}

// Run applies the overlay to the rendered manifests; the annotation Helm
// puts on each document to find its file again is kept by kustomize.
func (k *kustomizeRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := kustomize.BuildManifests(k.ctx, in.Bytes(), kustomize.ManifestOptions{Overlay: k.overlay})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPostRender, k.mask.Err(err))
	}
	out := &bytes.Buffer{}
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrPostRender, o.GetName(), err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out, nil
}
