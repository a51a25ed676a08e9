package kustomize

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
	"github.com/gitopskit/kit/kustomize/internal/yamlalias"
)

// ManifestOptions are the knobs of BuildManifests. The zero value returns
// the manifests as objects, unchanged.
type ManifestOptions struct {
	// Overlay is applied by kustomize, in memory, with the same semantics
	// as for Build (Labels and Annotations after substitution).
	// Components need a source folder and are refused here.
	Overlay Overlay
	// Substitute, when not nil, expands ${var} references, as for Build.
	Substitute *Substitution
	// MaxBytes caps the size of manifests and the text substitution may
	// produce (DefaultMaxBytes when zero, unlimited when negative).
	MaxBytes int64
	// MaxAliasNodes bounds YAML alias expansion as Options.MaxAliasNodes
	// does.
	MaxAliasNodes int64
}

// manifestsFile is the name the manifests have inside the in-memory build,
// as errors show it.
const manifestsFile = "manifests.yaml"

// BuildManifests builds a YAML stream of Kubernetes objects held in memory
// (a Helm chart's rendered manifests, say) the way Build builds a folder:
// the overlay's patches (strategic merge and JSON 6902, with targets),
// images, namespace, name prefix and suffix by kustomize on an in-memory
// filesystem, then substitution, then Labels and Annotations. With only
// Substitute set it is the in-memory counterpart of Flux's envsubst: no
// kustomization runs, the stream is parsed by kustomize's own reader.
//
// The limits are Build's: the stream's size (ErrLimit), YAML alias
// expansion (*AliasError), the substituted text; nothing outside memory is
// read (an inline patch cannot name a file), nothing remote is loaded,
// plugins are disabled, ctx is honoured, and errors name objects and
// variables, never values. Objects keep their input order. Objects with the
// same group, kind, namespace and name are rejected (*DuplicateError).
func BuildManifests(ctx context.Context, manifests []byte, opts ManifestOptions) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := Options{MaxBytes: opts.MaxBytes, MaxAliasNodes: opts.MaxAliasNodes, Substitute: opts.Substitute, Overlay: opts.Overlay}
	if len(opts.Overlay.Components) > 0 {
		return nil, errors.New("components need a source folder: use Build")
	}
	if max := o.maxBytes(); max > 0 && int64(len(manifests)) > max {
		return nil, fmt.Errorf("%w: the manifests are more than %d bytes", ErrLimit, max)
	}
	if err := yamlalias.Check(manifests, o.aliasFloor()); err != nil {
		ae := &AliasError{Path: manifestsFile, Reason: err.Error()}
		var ye *yamlalias.Error
		if errors.As(err, &ye) {
			ae.Line = ye.Line
		}
		return nil, ae
	}
	var (
		m   resmap.ResMap
		err error
	)
	if opts.Overlay.changesKustomization() {
		m, err = overlayManifests(ctx, manifests, o, runKrusty)
	} else {
		m, err = parseManifests(manifests)
	}
	if err != nil {
		return nil, err
	}
	return finish(ctx, m, opts.Substitute, opts.Overlay, o.maxBytes())
}

// parseManifests reads the stream with kustomize's resource reader, as a
// kustomization listing it would (Lists unwrapped, aliases resolved).
func parseManifests(manifests []byte) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, panicError(r, true)
		}
	}()
	f := resmap.NewFactory(provider.NewDepProvider().GetResourceFactory())
	m, err = f.NewResMapFromBytes(manifests)
	if err != nil {
		return nil, fmt.Errorf("reading the manifests: %w", err)
	}
	return m, nil
}

// overlayManifests runs kustomize on an in-memory filesystem holding the
// manifests and a kustomization that lists them and carries the overlay.
func overlayManifests(ctx context.Context, manifests []byte, o Options, run runFunc) (resmap.ResMap, error) {
	k := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: []string{manifestsFile},
	}
	if err := mergeOverlay(&k, o.Overlay, nil); err != nil {
		return nil, err
	}
	kdata, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	limit := o.maxBytes()
	if limit > 0 {
		limit += int64(len(kdata))
	}
	g := newGuard(false, false)
	fsys := securefs.NewMemory(securefs.Options{
		Context:    ctx,
		MaxFiles:   2,
		MaxBytes:   limit,
		AliasFloor: o.aliasFloor(),
		Inspect:    g.inspect,
	})
	g.fsys = fsys
	if err := fsys.AddOverlayFile(manifestsFile, manifests); err != nil {
		return nil, err
	}
	if err := fsys.AddOverlayFile("kustomization.yaml", kdata); err != nil {
		return nil, err
	}
	ko := &krusty.Options{
		// A post-renderer keeps the order it was given.
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	}
	handedOff := false
	m, err := runKustomize(ctx, fsys, securefs.OverlayMount, ko, run, false, true, false, &handedOff)
	if err != nil {
		return nil, fmt.Errorf("kustomize build of the manifests: %w", err)
	}
	return m, nil
}
