package kustomize

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Key-name suffixes of the decryption Secret's values.
const (
	ageKeySuffix = ".agekey"
	pgpKeySuffix = ".asc"
)

// build builds spec.path of the source tree at root with the spec's
// overlay, decryption and substitution.
func (r *KustomizationReconciler) build(ctx context.Context, obj *kustomizev1.Kustomization, root string, rep *controllers.Reporter) ([]*unstructured.Unstructured, error) {
	opts, err := r.buildOptions(ctx, obj, rep)
	if err != nil {
		return nil, err
	}
	return buildWith(ctx, obj, root, opts)
}

// buildOptions gathers the build's settings: the spec's overlay, and the
// decryption keys and substitution variables it reads from the cluster.
func (r *KustomizationReconciler) buildOptions(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (kustomize.Options, error) {
	opts := kustomize.Options{Overlay: overlay(obj), AllowRemoteBases: r.AllowRemoteBases}
	var err error
	if obj.Spec.Decryption != nil {
		if opts.Decrypt, err = r.decryption(ctx, obj, rep); err != nil {
			return opts, err
		}
	}
	if obj.Spec.PostBuild != nil {
		if opts.Substitute, err = r.substitution(ctx, obj, rep); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// buildWith builds spec.path of the source tree at root with opts.
func buildWith(ctx context.Context, obj *kustomizev1.Kustomization, root string, opts kustomize.Options) ([]*unstructured.Unstructured, error) {
	dir, err := buildPath(root, obj.Spec.Path)
	if err != nil {
		return nil, err
	}
	objs, err := kustomize.Build(ctx, root, dir, opts)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("path %q holds no Kubernetes objects", obj.Spec.Path)
	}
	return objs, nil
}

// buildPath cleans spec.path into a folder relative to root and checks that
// it exists there, so a wrong path gets a message naming it. Paths leading
// outside the source are refused by kustomize.Build itself as well.
func buildPath(root, p string) (string, error) {
	clean := path.Clean("/" + filepath.ToSlash(p))[1:]
	if clean == "" {
		clean = "."
	}
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(clean)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("path %q not found in the artifact", p)
	case err != nil:
		return "", fmt.Errorf("path %q: %w", p, err)
	case !fi.IsDir():
		return "", fmt.Errorf("path %q is not a folder", p)
	}
	return clean, nil
}

// overlay translates the spec's build settings into a kustomize.Overlay.
func overlay(obj *kustomizev1.Kustomization) kustomize.Overlay {
	s := obj.Spec
	o := kustomize.Overlay{
		Namespace:  s.TargetNamespace,
		NamePrefix: s.NamePrefix,
		NameSuffix: s.NameSuffix,
		Components: s.Components,

		IgnoreMissingComponents: s.IgnoreMissingComponents,
	}
	if m := s.CommonMetadata; m != nil {
		o.Labels, o.Annotations = m.Labels, m.Annotations
	}
	for _, p := range s.Patches {
		kp := kustomize.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			kp.Target = &kustomize.Selector{
				Group: t.Group, Version: t.Version, Kind: t.Kind,
				Name: t.Name, Namespace: t.Namespace,
				LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector,
			}
		}
		o.Patches = append(o.Patches, kp)
	}
	for _, img := range s.Images {
		o.Images = append(o.Images, kustomize.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	return o
}

// decryption reads the SOPS keys of spec.decryption.secretRef: values whose
// key ends in .agekey are age identities, in .asc armored OpenPGP private
// keys. Without a secretRef, encrypted files fail to decrypt with a clear
// error instead of being applied encrypted.
func (r *KustomizationReconciler) decryption(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (*kustomize.Decryption, error) {
	d := obj.Spec.Decryption
	if d.Provider != "" && d.Provider != "sops" {
		return nil, fmt.Errorf("decryption provider %q is not supported", d.Provider)
	}
	out := &kustomize.Decryption{}
	if d.SecretRef == nil {
		return out, nil
	}
	sec := &corev1.Secret{}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: d.SecretRef.Name}
	if err := r.Client.Get(ctx, key, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("decryption Secret '%s' not found", key)
		}
		return nil, fmt.Errorf("reading decryption Secret '%s': %w", key, err)
	}
	names := make([]string, 0, len(sec.Data))
	for k := range sec.Data {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rep.Mask(string(sec.Data[k]))
		switch {
		case strings.HasSuffix(k, ageKeySuffix):
			out.AgeIdentities = append(out.AgeIdentities, string(sec.Data[k]))
		case strings.HasSuffix(k, pgpKeySuffix):
			out.PGPKeys = append(out.PGPKeys, sec.Data[k])
		}
	}
	if len(out.AgeIdentities) == 0 && len(out.PGPKeys) == 0 {
		return nil, fmt.Errorf("decryption Secret '%s' holds no key ending in %s or %s", key, ageKeySuffix, pgpKeySuffix)
	}
	return out, nil
}

// substitution gathers the postBuild variables: the substituteFrom
// ConfigMaps and Secrets in order, then spec.postBuild.substitute, later
// ones winning. Values never appear in errors; the values of Secrets are
// masked in every message of the reconcile, whatever error quotes them (an
// API server rejection quotes the invalid value).
func (r *KustomizationReconciler) substitution(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (*kustomize.Substitution, error) {
	vars := map[string]string{}
	for _, ref := range obj.Spec.PostBuild.SubstituteFrom {
		key := types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}
		var (
			err  error
			data map[string]string
		)
		switch ref.Kind {
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			if err = r.Client.Get(ctx, key, cm); err == nil {
				data = cm.Data
			}
		case "Secret":
			sec := &corev1.Secret{}
			if err = r.Client.Get(ctx, key, sec); err == nil {
				data = make(map[string]string, len(sec.Data))
				for k, v := range sec.Data {
					data[k] = string(v)
					rep.Mask(string(v))
				}
			}
		default:
			return nil, fmt.Errorf("substituteFrom kind %q is not supported", ref.Kind)
		}
		if apierrors.IsNotFound(err) {
			if ref.Optional {
				continue
			}
			return nil, fmt.Errorf("substituteFrom %s '%s' not found", ref.Kind, key)
		}
		if err != nil {
			return nil, fmt.Errorf("reading substituteFrom %s '%s': %w", ref.Kind, key, err)
		}
		for k, v := range data {
			vars[k] = v
		}
	}
	for k, v := range obj.Spec.PostBuild.Substitute {
		vars[k] = v
	}
	return &kustomize.Substitution{Vars: vars}, nil
}

// IgnoreRules translates obj's spec.driftIgnoreRules into ssa's, for
// Apply and for a Diff that shows what a reconcile would change.
func IgnoreRules(obj *kustomizev1.Kustomization) []ssa.IgnoreRule {
	out := make([]ssa.IgnoreRule, 0, len(obj.Spec.DriftIgnoreRules))
	for _, r := range obj.Spec.DriftIgnoreRules {
		rule := ssa.IgnoreRule{Paths: r.Paths}
		if t := r.Target; t != nil {
			rule.Selector = ssa.Selector{
				Group: t.Group, Version: t.Version, Kind: t.Kind,
				Namespace: t.Namespace, Name: t.Name, LabelSelector: t.LabelSelector,
			}
		}
		out = append(out, rule)
	}
	return out
}
