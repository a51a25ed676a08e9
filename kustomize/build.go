package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
	"github.com/gitopskit/kit/kustomize/internal/sopsfile"
)

// openAPIMu guards the one piece of process-wide state kustomize has that a
// build can change: kyaml's OpenAPI schema (kyaml/openapi keeps it in package
// variables; krusty sets it from each top-level kustomization's `openapi:`
// field and never restores it). Builds using the default schema share it
// and run concurrently under the read lock; a build whose kustomizations set
// `openapi:` takes the write lock and restores the default afterwards.
var openAPIMu sync.RWMutex

// runFunc runs kustomize; tests replace it to exercise panic recovery and
// cancellation.
type runFunc func(fsys filesys.FileSystem, target string, o *krusty.Options) (resmap.ResMap, error)

func runKrusty(fsys filesys.FileSystem, target string, o *krusty.Options) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(o).Run(fsys, target)
}

// Build builds the folder dir of the source tree at root and returns the
// resulting objects, ready for server-side apply.
//
// dir is relative to root ("" or "." for root itself). When it holds a
// kustomization (kustomization.yaml, kustomization.yml or Kustomization)
// that is built; otherwise a kustomization is generated in memory from the
// Kubernetes manifests found in dir and below. Options.Overlay is applied on
// top in memory: nothing is ever written to the source.
//
// Nothing outside root can be read (*PathEscapeError), remote bases are
// refused unless allowed (*RemoteBaseError), exec and container plugins and
// functions are disabled, and a kustomize panic is returned as an error
// wrapping ErrPanic.
//
// Objects come in kustomize's legacy order (namespaces and CRDs first, the
// kustomization's sortOptions if it has them), input order otherwise.
// Objects with the same group, kind, namespace and name are rejected
// (*DuplicateError).
//
// Kustomize cannot be interrupted: when ctx ends first, Build returns
// ctx.Err() at once and the abandoned build finishes in the background,
// bounded by the read limits.
func Build(ctx context.Context, root, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	return build(ctx, root, dir, opts, runKrusty)
}

func build(ctx context.Context, root, dir string, opts Options, run runFunc) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := logr.FromContextOrDiscard(ctx)
	rel, err := cleanRel(dir)
	if err != nil {
		return nil, err
	}

	var keys *sopsfile.Keys
	if opts.Decrypt != nil {
		if keys, err = sopsfile.ParseKeys(opts.Decrypt.AgeIdentities, opts.Decrypt.PGPKeys); err != nil {
			return nil, err
		}
	}
	var (
		firstDecryptErr *DecryptError
		decMu           sync.Mutex
	)
	fsOpts := securefs.Options{MaxFiles: opts.maxFiles(), MaxBytes: opts.maxBytes()}
	if keys != nil {
		fsOpts.Transform = func(name string, data []byte) ([]byte, error) {
			out, err := decryptFile(keys, name, data)
			if err != nil {
				decMu.Lock()
				if firstDecryptErr == nil {
					firstDecryptErr = err
				}
				decMu.Unlock()
				return nil, err
			}
			return out, nil
		}
	}
	if opts.AllowRemoteBases {
		fsOpts.AllowExtra = cloneDirs()
	}
	fsys, err := securefs.New(root, fsOpts)
	if err != nil {
		return nil, fmt.Errorf("opening source root: %w", err)
	}
	handedOff := false
	defer func() {
		if !handedOff {
			fsys.Close()
		}
	}()

	if st, err := fsys.Root().Stat(rel); err != nil || !st.IsDir() {
		if _, _, cerr := fsys.CleanedAbs(path.Join(securefs.SourceMount, rel)); cerr != nil {
			var pe *PathEscapeError
			if errors.As(cerr, &pe) {
				return nil, cerr
			}
		}
		return nil, fmt.Errorf("build path %q is not a directory in the source", rel)
	}

	kfile, err := findKustomization(fsys, rel)
	if err != nil {
		return nil, err
	}
	entries := []string{}
	var resources []string
	if kfile != "" {
		entries = append(entries, rel)
	} else {
		found, err := discover(ctx, fsys, rel, opts.Ignore)
		if err != nil {
			return nil, err
		}
		log.V(1).Info("generated kustomization", "path", rel, "resources", len(found))
		resources = found
		if len(found) == 0 && len(opts.Overlay.Components) == 0 {
			return []*unstructured.Unstructured{}, nil
		}
		for _, f := range found {
			if st, err := fsys.Root().Stat(f); err == nil && st.IsDir() {
				entries = append(entries, f)
			}
		}
	}
	for _, c := range opts.Overlay.Components {
		entries = append(entries, path.Join(rel, c))
	}
	sc, err := scan(fsys, entries)
	if err != nil {
		return nil, err
	}
	if sc.remote != nil && !opts.AllowRemoteBases {
		return nil, sc.remote
	}

	target := path.Join(securefs.SourceMount, rel)
	if kfile == "" || !opts.Overlay.IsZero() {
		k, err := overlayKustomization(fsys, rel, kfile, resources, opts.Overlay)
		if err != nil {
			return nil, err
		}
		if err := fsys.AddOverlayFile("kustomization.yaml", k); err != nil {
			return nil, err
		}
		target = securefs.OverlayMount
	}

	ko := &krusty.Options{
		// Unspecified means kustomize's legacy order unless the
		// kustomization has sortOptions (and no warning is printed).
		Reorder: krusty.ReorderOptionUnspecified,
		// The filesystem is the boundary: kustomize may load files from
		// anywhere inside the source root, as with Flux.
		LoadRestrictions: types.LoadRestrictionsNone,
		// Builtin plugins only: exec, Go and KRM function (exec and
		// container) plugins are refused; Helm is disabled.
		PluginConfig: types.DisabledPluginConfig(),
	}

	type result struct {
		m   resmap.ResMap
		err error
	}
	done := make(chan result, 1)
	handedOff = true
	go func() {
		defer fsys.Close()
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: panicError(r, keys != nil)}
			}
		}()
		if sc.usesOpenAPI {
			openAPIMu.Lock()
			defer openAPIMu.Unlock()
			defer openapi.ResetOpenAPI()
		} else {
			openAPIMu.RLock()
			defer openAPIMu.RUnlock()
		}
		m, err := run(fsys, target, ko)
		done <- result{m, err}
	}()

	var res result
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("kustomize build %s: %w", rel, ctx.Err())
	case res = <-done:
	}
	if res.err != nil {
		err := res.err
		var pe *PathEscapeError
		var de *DecryptError
		decMu.Lock()
		firstDec := firstDecryptErr
		decMu.Unlock()
		switch esc := fsys.Escapes(); {
		case errors.As(err, &pe), errors.As(err, &de), errors.Is(err, ErrLimit):
		case len(esc) > 0:
			err = fmt.Errorf("%w: %w", esc[0], err)
		case fsys.LimitErr() != nil:
			err = fmt.Errorf("%w: %w", fsys.LimitErr(), err)
		case firstDec != nil:
			err = fmt.Errorf("%w: %w", firstDec, err)
		case types.IsErrOnlyBuiltinPluginsAllowed(err) || strings.Contains(err.Error(), "external plugins disabled"):
			err = fmt.Errorf("%w: %w", ErrPluginDisabled, err)
		}
		return nil, fmt.Errorf("kustomize build %s: %w", rel, err)
	}
	files, n := fsys.Stats()
	log.V(1).Info("kustomize build done", "path", rel, "objects", res.m.Size(), "filesRead", files, "bytesRead", n)
	return finish(res.m, opts)
}

func cleanRel(dir string) (string, error) {
	d := filepath.ToSlash(dir)
	if d == "" {
		return ".", nil
	}
	if path.IsAbs(d) || filepath.IsAbs(dir) {
		return "", &PathEscapeError{Path: dir, Reason: "the build path must be relative to the source root"}
	}
	c := path.Clean(d)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &PathEscapeError{Path: dir, Reason: "the build path leaves the source root"}
	}
	return c, nil
}

// cloneDirs allows kustomize's own temporary clone directories of remote
// git bases: <tmp>/kustomize-*.
func cloneDirs() func(string) bool {
	tmp := filepath.ToSlash(filepath.Clean(os.TempDir()))
	if real, err := filepath.EvalSymlinks(tmp); err == nil {
		tmp = filepath.ToSlash(real)
	}
	prefix := strings.TrimSuffix(tmp, "/") + "/kustomize-"
	return func(p string) bool {
		rest, ok := strings.CutPrefix(p, prefix)
		return ok && rest != "" && !strings.Contains(rest, "..")
	}
}

func panicError(r any, sensitive bool) error {
	if sensitive {
		// Decrypted data may be in the panic value: do not repeat it.
		return fmt.Errorf("%w (details withheld: the build handled decrypted data)", ErrPanic)
	}
	msg := fmt.Sprint(r)
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return fmt.Errorf("%w: %s", ErrPanic, msg)
}

func decryptFile(keys *sopsfile.Keys, name string, data []byte) ([]byte, *DecryptError) {
	f := sopsfile.FormatOf(name)
	if f == sopsfile.FormatUnknown || !sopsfile.LooksEncrypted(data) {
		return data, nil
	}
	var info sopsfile.ObjectInfo
	if f == sopsfile.FormatYAML || f == sopsfile.FormatJSON {
		info = sopsfile.Inspect(data)
		if info.Annotations[DecryptAnnotation] == Disabled {
			return data, nil
		}
	}
	out, _, err := sopsfile.Decrypt(keys, f, data)
	if err != nil {
		return nil, &DecryptError{Path: name, Object: info.String(), Err: err}
	}
	return out, nil
}

// overlayKustomization writes the in-memory kustomization that sits at
// /overlay: it includes the user's folder (or the discovered manifests) and
// adds the caller's settings.
func overlayKustomization(fsys *securefs.FS, rel, kfile string, resources []string, o Overlay) ([]byte, error) {
	src := func(p string) string { return path.Join("..", strings.TrimPrefix(securefs.SourceMount, "/"), p) }
	k := types.Kustomization{
		TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
	}
	if kfile != "" {
		k.Resources = []string{src(rel)}
		// The top-level kustomization's openapi field is the one kustomize
		// uses: carry the user's over.
		data, err := fsys.ReadRaw(kfile)
		if err != nil {
			return nil, err
		}
		var uk types.Kustomization
		if yaml.Unmarshal(data, &uk) == nil && len(uk.OpenAPI) > 0 {
			k.OpenAPI = map[string]string{}
			for key, v := range uk.OpenAPI {
				if key == "path" && !path.IsAbs(v) && !isRemoteRef(v) {
					v = src(path.Join(rel, v))
				}
				k.OpenAPI[key] = v
			}
		}
	} else {
		for _, r := range resources {
			k.Resources = append(k.Resources, src(r))
		}
	}
	k.Namespace = o.Namespace
	k.NamePrefix = o.NamePrefix
	k.NameSuffix = o.NameSuffix
	if len(o.Labels) > 0 {
		k.Labels = []types.Label{{Pairs: o.Labels}}
	}
	k.CommonAnnotations = o.Annotations
	for _, p := range o.Patches {
		tp := types.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			tp.Target = &types.Selector{
				ResId: resid.ResId{
					Gvk:       resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind},
					Name:      t.Name,
					Namespace: t.Namespace,
				},
				LabelSelector:      t.LabelSelector,
				AnnotationSelector: t.AnnotationSelector,
			}
		}
		k.Patches = append(k.Patches, tp)
	}
	for _, im := range o.Images {
		k.Images = append(k.Images, types.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
	}
	for _, c := range o.Components {
		if path.IsAbs(c) || isRemoteRef(c) {
			return nil, &PathEscapeError{Path: c, Reason: "components must be relative paths inside the source"}
		}
		k.Components = append(k.Components, src(path.Join(rel, c)))
	}
	return yaml.Marshal(k)
}

// objectID names a resource as kind/namespace/name for errors.
func objectID(r *resource.Resource) string {
	if ns := r.GetNamespace(); ns != "" {
		return r.GetKind() + "/" + ns + "/" + r.GetName()
	}
	return r.GetKind() + "/" + r.GetName()
}
