package kustomize

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
)

// fluxKustomization returns the kustomization the build runs in place of
// the folder's own (kfile, relative to the source root) or of none: the
// folder's kustomization with the overlay merged in as Flux's
// kustomize-controller merges a Kustomization spec into the file it writes,
// or, for a folder without one, a kustomization listing the discovered
// resources. It is served at the folder's path in memory, so every relative
// path in it means what it meant.
func fluxKustomization(fsys *securefs.FS, rel, kfile string, resources []string, o Overlay) ([]byte, error) {
	k := types.Kustomization{
		TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
	}
	if kfile != "" {
		data, err := fsys.ReadFile(path.Join(securefs.SourceMount, kfile))
		if err != nil {
			return nil, err
		}
		// kustomize's own parser, so the file means to us what it means
		// to kustomize.
		if err := k.Unmarshal(data); err != nil {
			return nil, fmt.Errorf("%s: %w", kfile, err)
		}
	} else {
		for _, r := range resources {
			if rel != "." {
				r = strings.TrimPrefix(r, rel+"/")
			}
			k.Resources = append(k.Resources, r)
		}
	}
	if err := mergeOverlay(&k, o, func(c string) (bool, error) { return componentExists(fsys, rel, c) }); err != nil {
		return nil, err
	}
	return yaml.Marshal(k)
}

// mergeOverlay merges o into k with Flux's semantics (see Overlay).
// exists reports whether a component is present, for
// IgnoreMissingComponents.
func mergeOverlay(k *types.Kustomization, o Overlay, exists func(string) (bool, error)) error {
	if o.Namespace != "" {
		k.Namespace = o.Namespace
	}
	if o.NamePrefix != "" {
		k.NamePrefix = o.NamePrefix
	}
	if o.NameSuffix != "" {
		k.NameSuffix = o.NameSuffix
	}
	for _, p := range o.Patches {
		k.Patches = append(k.Patches, types.Patch{Patch: p.Patch, Target: selector(p.Target)})
	}
	for _, c := range o.Components {
		if path.IsAbs(c) || isRemoteRef(c) {
			return &PathEscapeError{Path: c, Reason: "components must be relative paths inside the source"}
		}
		if o.IgnoreMissingComponents {
			ok, err := exists(c)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		k.Components = append(k.Components, c)
	}
	for _, im := range o.Images {
		mergeImage(k, im)
	}
	return nil
}

// mergeImage adds an image override, or updates the kustomization's entry
// for the same name: NewName when set, NewTag and Digest together when
// either is set (a stale digest must not survive a new tag).
func mergeImage(k *types.Kustomization, im Image) {
	for i := range k.Images {
		if k.Images[i].Name != im.Name {
			continue
		}
		if im.NewName != "" {
			k.Images[i].NewName = im.NewName
		}
		if im.NewTag != "" || im.Digest != "" {
			k.Images[i].NewTag, k.Images[i].Digest = im.NewTag, im.Digest
		}
		return
	}
	k.Images = append(k.Images, types.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
}

func selector(t *Selector) *types.Selector {
	if t == nil {
		return nil
	}
	return &types.Selector{
		ResId: resid.ResId{
			Gvk:       resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind},
			Name:      t.Name,
			Namespace: t.Namespace,
		},
		LabelSelector:      t.LabelSelector,
		AnnotationSelector: t.AnnotationSelector,
	}
}

// componentExists reports whether component c of the build folder rel is
// there. A path leaving the source is an error, never "missing".
func componentExists(fsys *securefs.FS, rel, c string) (bool, error) {
	_, err := fsys.Stat(path.Join(securefs.SourceMount, rel, c))
	var pe *PathEscapeError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &pe):
		return false, err
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return true, nil // let kustomize report it
}
