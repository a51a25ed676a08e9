package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
	"github.com/gitopskit/kit/kustomize/internal/sopsfile"
)

// runFunc runs kustomize; tests replace it to exercise panic recovery and
// cancellation.
type runFunc func(fsys filesys.FileSystem, target string, o *krusty.Options) (resmap.ResMap, error)

func runKrusty(fsys filesys.FileSystem, target string, o *krusty.Options) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(o).Run(fsys, target)
}

// Build builds the folder dir of the source tree at root and returns the
// resulting objects, ready for server-side apply.
//
// dir is relative to root ("" or "." for root itself), or an absolute path
// inside root (through root as given or its real path). When it holds a
// kustomization (kustomization.yaml, kustomization.yml or Kustomization)
// that is built; otherwise a kustomization is generated in memory from the
// Kubernetes manifests found in dir and below. Options.Overlay is merged in
// memory: nothing is ever written to the source.
//
// Nothing outside root can be read (*PathEscapeError), nothing remote is
// loaded unless allowed (*RemoteBaseError), exec and container plugins and
// functions are disabled, YAML alias expansion is bounded (*AliasError), and
// a kustomize panic is returned as an error wrapping ErrPanic.
//
// Objects come in kustomize's legacy order (namespaces and CRDs first, the
// kustomization's sortOptions if it has them), input order otherwise.
// Objects with the same group, kind, namespace and name are rejected
// (*DuplicateError).
//
// When ctx ends, the build stops at its next file access (every one then
// fails) and Build returns ctx's error once kustomize has returned: nothing
// of the build runs on afterwards. (With Options.AllowRemoteBases, Build
// returns at once instead, since kustomize may be waiting on the network.)
func Build(ctx context.Context, root, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	return build(ctx, root, dir, opts, runKrusty)
}

func build(ctx context.Context, root, dir string, opts Options, run runFunc) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel, err := relDir(root, dir)
	if err != nil {
		return nil, err
	}
	var keys *sopsfile.Keys
	if opts.Decrypt != nil {
		if keys, err = sopsfile.ParseKeys(opts.Decrypt.AgeIdentities, opts.Decrypt.PGPKeys); err != nil {
			return nil, err
		}
	}
	// A build first runs alongside others; one that turns out to set an
	// OpenAPI schema runs again on its own (see openapi.go).
	for _, exclusive := range []bool{false, true} {
		m, empty, err := buildOnce(ctx, root, rel, opts, keys, exclusive, run)
		if errors.Is(err, errExclusive) && !exclusive {
			continue
		}
		if err != nil {
			return nil, err
		}
		if empty {
			return []*unstructured.Unstructured{}, nil
		}
		return finish(ctx, m, opts.Substitute, opts.Overlay, opts.maxBytes())
	}
	return nil, errExclusive // not reached: the exclusive attempt cannot ask again
}

func buildOnce(ctx context.Context, root, rel string, opts Options, keys *sopsfile.Keys, exclusive bool, run runFunc) (resmap.ResMap, bool, error) {
	log := logr.FromContextOrDiscard(ctx)
	g := newGuard(opts.AllowRemoteBases, exclusive)
	fsOpts := securefs.Options{
		Context:    ctx,
		MaxFiles:   opts.maxFiles(),
		MaxBytes:   opts.maxBytes(),
		AliasFloor: opts.aliasFloor(),
		Inspect:    g.inspect,
	}
	if keys != nil {
		fsOpts.Transform = func(name string, data []byte) ([]byte, error) {
			out, err := decryptFile(keys, name, data)
			if err != nil {
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
		return nil, false, fmt.Errorf("opening source root: %w", err)
	}
	g.fsys = fsys
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
				return nil, false, cerr
			}
		}
		return nil, false, fmt.Errorf("build path %q is not a directory in the source", rel)
	}

	kfile, err := findKustomization(fsys, rel)
	if err != nil {
		return nil, false, refused(fsys, err)
	}
	var resources []string
	if kfile == "" {
		found, err := discover(ctx, fsys, rel, opts.Ignore)
		if err != nil {
			return nil, false, refused(fsys, err)
		}
		log.V(1).Info("generated kustomization", "path", rel, "resources", len(found))
		if len(found) == 0 && len(opts.Overlay.Components) == 0 {
			return nil, true, nil
		}
		resources = found
	}
	if kfile == "" || opts.Overlay.changesKustomization() {
		k, err := fluxKustomization(fsys, rel, kfile, resources, opts.Overlay)
		if err != nil {
			return nil, false, refused(fsys, err)
		}
		name := kfile
		if name == "" {
			name = path.Join(rel, konfig.DefaultKustomizationFileName())
		}
		fsys.Override(name, k)
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
	m, err := runKustomize(ctx, fsys, path.Join(securefs.SourceMount, rel), ko, run, exclusive, keys != nil, opts.AllowRemoteBases, &handedOff)
	if err != nil {
		if errors.Is(err, errExclusive) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("kustomize build %s: %w", rel, err)
	}
	files, n := fsys.Stats()
	log.V(1).Info("kustomize build done", "path", rel, "objects", m.Size(), "filesRead", files, "bytesRead", n)
	return m, false, nil
}

// runKustomize runs kustomize on fsys in a goroutine, holding kyaml's
// OpenAPI schema shared or alone, recovers its panics and turns what the
// filesystem refused into the error, whatever kustomize made of it.
func runKustomize(ctx context.Context, fsys *securefs.FS, target string, ko *krusty.Options, run runFunc,
	exclusive, sensitive, mayAbandon bool, handedOff *bool) (resmap.ResMap, error) {
	type result struct {
		m   resmap.ResMap
		err error
	}
	release, err := holdSchema(ctx, exclusive)
	if err != nil {
		return nil, err
	}
	done := make(chan result, 1)
	*handedOff = true
	go func() {
		defer fsys.Close()
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: panicError(r, sensitive)}
			}
		}()
		defer release()
		m, err := run(fsys, target, ko)
		done <- result{m, err}
	}()

	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		if mayAbandon {
			// kustomize may be blocked on the network, out of our reach.
			return nil, ctx.Err()
		}
		// Every file access now fails: kustomize stops at the next one.
		res = <-done
	}
	refusals := fsys.Refusals()
	for _, r := range refusals {
		if errors.Is(r, errExclusive) {
			return nil, errExclusive
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(refusals) > 0 {
		// The filesystem refused something: that is the error, even if
		// kustomize went on without it (it ignores a kustomization file
		// it cannot read when another name exists), and kustomize's own
		// message ("unable to find one of 'kustomization.yaml'...") would
		// only mislead.
		return nil, refusals[0]
	}
	if res.err != nil {
		if types.IsErrOnlyBuiltinPluginsAllowed(res.err) || strings.Contains(res.err.Error(), "external plugins disabled") {
			return nil, fmt.Errorf("%w: %w", ErrPluginDisabled, res.err)
		}
		return nil, res.err
	}
	return res.m, nil
}

// sameKind reports whether err already carries a typed error of the kind
// of refusal, so wrapping it again would only repeat it.
func sameKind(err, refusal error) bool {
	var pe *PathEscapeError
	var de *DecryptError
	var re *RemoteBaseError
	var ae *AliasError
	switch {
	case errors.As(refusal, &pe):
		return errors.As(err, &pe)
	case errors.As(refusal, &de):
		return errors.As(err, &de)
	case errors.As(refusal, &re):
		return errors.As(err, &re)
	case errors.As(refusal, &ae):
		return errors.As(err, &ae)
	case errors.Is(refusal, ErrLimit):
		return errors.Is(err, ErrLimit)
	}
	return false
}

// refused prefers what the filesystem refused over the error our own code
// got from it (they are the same but for wrapping).
func refused(fsys *securefs.FS, err error) error {
	if r := fsys.Refusals(); len(r) > 0 && !sameKind(err, r[0]) {
		return fmt.Errorf("%w: %w", r[0], err)
	}
	return err
}

// relDir turns the build directory into a clean slash path relative to
// root. An absolute dir must lie inside root, through root as given or
// through its real path; symlinks below root are judged by the rooted
// filesystem afterwards.
func relDir(root, dir string) (string, error) {
	d := filepath.ToSlash(dir)
	if d == "" {
		return ".", nil
	}
	if filepath.IsAbs(dir) {
		return absInside(root, dir)
	}
	c := path.Clean(d)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &PathEscapeError{Path: dir, Reason: "the build path leaves the source root"}
	}
	return c, nil
}

func absInside(root, dir string) (string, error) {
	outside := &PathEscapeError{Path: dir, Reason: "the build path is outside the source root"}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return "", fmt.Errorf("opening source root: %w", err)
	}
	d := filepath.Clean(dir)
	for _, r := range []string{absRoot, realRoot} {
		if rel, err := filepath.Rel(r, d); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel), nil
		}
	}
	// Another path to the same place (a symlink to the root, say).
	realDir, err := filepath.EvalSymlinks(d)
	if err != nil {
		return "", outside
	}
	if rel, err := filepath.Rel(realRoot, realDir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(rel), nil
	}
	return "", outside
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
		// Decrypted or substituted data may be in the panic value.
		return fmt.Errorf("%w (details withheld: the build handled sensitive data)", ErrPanic)
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
