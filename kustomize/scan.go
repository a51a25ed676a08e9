package kustomize

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
)

// findKustomization returns the kustomization file in dir (relative to the
// source root), or "" when there is none.
func findKustomization(fsys *securefs.FS, dir string) (string, error) {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(dir, n)
		st, err := fsys.Root().Stat(p)
		if err == nil && !st.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// A kustomization that is a symlink out of the root.
			if _, err := fsys.ReadFile(path.Join(securefs.SourceMount, p)); err != nil {
				return "", err
			}
		}
	}
	return "", nil
}

// scanResult is what the pre-scan learnt about the kustomizations a build
// will reach.
type scanResult struct {
	usesOpenAPI bool
	remote      *RemoteBaseError // first remote reference seen
}

// scan follows the kustomizations reachable from the entry points, the way
// kustomize will, and records remote references and custom OpenAPI schemas.
// It runs before kustomize so that a refused remote base never causes any
// network access. Paths leaving the root are skipped here: the build itself
// reports them as *PathEscapeError.
func scan(fsys *securefs.FS, entries []string) (scanResult, error) {
	var res scanResult
	seen := map[string]bool{}
	var visit func(dir string, depth int) error
	visit = func(dir string, depth int) error {
		if seen[dir] || depth > 64 || len(seen) > 10_000 {
			return nil
		}
		seen[dir] = true
		kf, err := findKustomization(fsys, dir)
		if err != nil || kf == "" {
			return err
		}
		data, err := fsys.ReadFile(path.Join(securefs.SourceMount, kf))
		if err != nil {
			return err
		}
		var k types.Kustomization
		if err := k.Unmarshal(data); err != nil {
			// Let kustomize report the error, but still look for
			// remote references in what can be read leniently.
			k = types.Kustomization{}
			_ = yaml.Unmarshal(data, &k)
		}
		k.FixKustomization()
		if len(k.OpenAPI) > 0 {
			res.usesOpenAPI = true
		}
		check := func(ref string) {
			if res.remote == nil && isRemoteRef(ref) {
				res.remote = &RemoteBaseError{Kustomization: kf, Ref: ref}
			}
		}
		for _, r := range pathRefs(&k) {
			check(r)
		}
		var dirs []string
		dirs = append(dirs, k.Resources...)
		dirs = append(dirs, k.Components...)
		dirs = append(dirs, k.Generators...)
		dirs = append(dirs, k.Transformers...)
		dirs = append(dirs, k.Validators...)
		for _, d := range dirs {
			check(d)
			if isRemoteRef(d) || path.IsAbs(d) {
				continue
			}
			next := path.Join(dir, d)
			if next == ".." || strings.HasPrefix(next, "../") {
				continue
			}
			if st, err := fsys.Root().Stat(next); err == nil && st.IsDir() {
				if err := visit(next, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, e := range entries {
		if err := visit(e, 0); err != nil {
			return res, err
		}
	}
	return res, nil
}

// pathRefs lists the file references of a kustomization other than the
// resource-like lists (which scan follows itself).
func pathRefs(k *types.Kustomization) []string {
	var out []string
	add := func(s ...string) { out = append(out, s...) }
	for _, p := range k.PatchesStrategicMerge {
		if !strings.Contains(string(p), "\n") {
			add(string(p))
		}
	}
	for _, p := range k.Patches {
		add(p.Path)
	}
	for _, p := range k.PatchesJson6902 {
		add(p.Path)
	}
	for _, r := range k.Replacements {
		add(r.Path)
	}
	add(k.Crds...)
	add(k.Configurations...)
	add(k.OpenAPI["path"])
	gens := func(src types.KvPairSources) {
		for _, f := range src.FileSources {
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			add(f)
		}
		add(src.EnvSources...)
		add(src.EnvSource)
	}
	for _, g := range k.ConfigMapGenerator {
		gens(g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		gens(g.KvPairSources)
	}
	for _, h := range k.HelmCharts {
		add(h.Repo)
	}
	return out
}

var gitUserPrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemoteRef reports whether kustomize would fetch ref over the network
// (or from a git repository outside the source): any URL scheme, an
// scp-like user@host:path, kustomize's "git::" prefix, or a bare github.com
// path. It errs on the side of refusing.
func isRemoteRef(ref string) bool {
	r := strings.TrimSpace(ref)
	if r == "" {
		return false
	}
	lower := strings.ToLower(r)
	if strings.HasPrefix(lower, "git::") || strings.Contains(lower, "://") {
		return true
	}
	if gitUserPrefix.MatchString(r) {
		return true
	}
	return strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:")
}
