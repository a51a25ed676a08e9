package kustomize

import (
	"errors"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"

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

func isKustomizationFile(name string) bool {
	base := path.Base(name)
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if base == n {
			return true
		}
	}
	return false
}

var (
	gitUserPrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)
	urlScheme     = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// hasRemotePrefix reports whether ref starts the way every reference that
// kustomize fetches or clones must start: a URL scheme, an scp-like
// user@host, kustomize's "git::" prefix or a bare github.com path (see
// kustomize's loader: url.Parse for http(s) files, its git RepoSpec parser
// for clones, neither of which trims or looks past the start). Surrounding
// space is ignored, to err on the side of refusing.
func hasRemotePrefix(ref string) bool {
	r := strings.TrimSpace(ref)
	if r == "" {
		return false
	}
	lower := strings.ToLower(r)
	switch {
	case strings.HasPrefix(lower, "git::"),
		strings.HasPrefix(lower, "github.com/"), strings.HasPrefix(lower, "github.com:"),
		gitUserPrefix.MatchString(r):
		return true
	}
	if i := strings.Index(lower, "://"); i > 0 && urlScheme.MatchString(lower[:i]) {
		return true
	}
	if u, err := url.Parse(r); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return true
	}
	return false
}

// isRemoteRef reports whether kustomize could fetch ref over the network
// (or clone a git repository): a remote prefix, or a "://" anywhere. It
// errs on the side of refusing.
func isRemoteRef(ref string) bool {
	return hasRemotePrefix(ref) || strings.Contains(ref, "://")
}
