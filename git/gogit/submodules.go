package gogit

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitopskit/kit/git"
)

const (
	// maxSubmoduleDepth bounds submodule recursion (a cycle would never end).
	maxSubmoduleDepth = 8
	// maxSubmodules bounds the submodules of one checkout, all levels
	// together.
	maxSubmodules = 1000
	// maxGitmodules bounds the size of a .gitmodules file.
	maxGitmodules = 1 << 20
)

// submodule is a submodule of a commit that a checkout recurses into.
type submodule struct {
	path   string        // slash-separated, relative to the parent's root
	commit plumbing.Hash // what the parent's tree records
	client *Client       // for the submodule's URL, with the parent's rules
}

// submodules lists the submodules recorded in commit (a .gitmodules entry
// and a gitlink in the tree) inside the sparse directories, each with a
// Client for its URL that follows the parent's rules: http(s) or ssh only
// (never file:// or a local path), the parent's credentials only on the
// same scheme and host, its CA bundle, known_hosts and proxy always.
func (c *Client) submodules(st storer.EncodedObjectStorer, commit *object.Commit, sparse []string, count *atomic.Int64, depth int) ([]submodule, error) {
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	entry, err := tree.FindEntry(".gitmodules")
	if err != nil || !isFile(entry.Mode) || entry.Mode == filemode.Symlink {
		return nil, nil // no submodules
	}
	blob, err := object.GetBlob(st, entry.Hash)
	if err != nil {
		return nil, err
	}
	if blob.Size > maxGitmodules {
		return nil, &git.LimitError{Limit: "MaxGitmodules", Max: maxGitmodules, What: ".gitmodules is larger than the limit"}
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	content, err := io.ReadAll(io.LimitReader(r, maxGitmodules))
	r.Close()
	if err != nil {
		return nil, err
	}
	mods := config.NewModules()
	if err := mods.Unmarshal(content); err != nil {
		return nil, fmt.Errorf("%w: parse .gitmodules: %v", git.ErrUnsafePath, err)
	}
	var out []submodule
	for _, m := range mods.Submodules {
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("%w: submodule %q: %v", git.ErrUnsafePath, m.Name, err)
		}
		p := path.Clean(strings.Trim(m.Path, "/"))
		if p == "." || p == ".." || strings.HasPrefix(p, "../") || !sparseAbove(sparse, p) {
			continue
		}
		gitlink, err := tree.FindEntry(p)
		if err != nil || gitlink.Mode != filemode.Submodule {
			continue // declared but not recorded in the tree
		}
		if depth+1 >= maxSubmoduleDepth {
			return nil, fmt.Errorf("%w: submodules nested deeper than %d", git.ErrUnsafePath, maxSubmoduleDepth)
		}
		if count.Add(1) > maxSubmodules {
			return nil, &git.LimitError{Limit: "MaxSubmodules", Max: maxSubmodules, What: "the checkout has more submodules than the limit"}
		}
		sub, err := c.submoduleClient(m.URL)
		if err != nil {
			return nil, fmt.Errorf("submodule %s: %w", p, err)
		}
		out = append(out, submodule{path: p, commit: gitlink.Hash, client: sub})
	}
	return out, nil
}

// submoduleClient returns a client for a submodule URL (relative URLs
// resolve against the parent's).
func (c *Client) submoduleClient(raw string) (*Client, error) {
	subURL, err := resolveSubmoduleURL(c.url, raw)
	if err != nil {
		return nil, err
	}
	if _, err := git.Scheme(subURL); err != nil {
		// file://, a local path, or another scheme: a repository must not
		// make us read the local disk.
		return nil, fmt.Errorf("%w: submodule URL %q is not http(s) or ssh", git.ErrUnsafePath, git.RedactURL(subURL))
	}
	auth := c.auth
	if !sameHost(c.url, subURL) {
		auth = git.AuthOptions{ProxyURL: c.auth.ProxyURL, CA: c.auth.CA, KnownHosts: c.auth.KnownHosts, AllowInsecureHTTP: c.auth.AllowInsecureHTTP}
	}
	return New(subURL, WithAuth(auth), WithCache(c.cache))
}

// resolveSubmoduleURL resolves a relative submodule URL ("../lib.git")
// against the parent's URL, which may be scp-like.
func resolveSubmoduleURL(parent, sub string) (string, error) {
	if strings.ContainsAny(sub, "\n\r\x00") || strings.HasPrefix(sub, "-") {
		return "", fmt.Errorf("%w: malformed submodule URL", git.ErrUnsafePath)
	}
	if !strings.HasPrefix(sub, "./") && !strings.HasPrefix(sub, "../") {
		return sub, nil
	}
	if !strings.Contains(parent, "://") {
		// scp-like host:path
		host, p, ok := strings.Cut(parent, ":")
		if !ok {
			return "", fmt.Errorf("%w: relative submodule URL %q needs a URL-shaped parent", git.ErrInvalidOptions, sub)
		}
		joined := path.Join("/"+strings.TrimSuffix(p, "/"), sub)
		return host + ":" + strings.TrimPrefix(joined, "/"), nil
	}
	u, err := url.Parse(parent)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%w: relative submodule URL %q needs a URL-shaped parent", git.ErrInvalidOptions, sub)
	}
	u.Path = path.Join("/"+strings.TrimSuffix(u.Path, "/"), sub)
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// sameHost reports whether two remotes share scheme and host (port
// included), so credentials may go to both.
func sameHost(a, b string) bool {
	ha, sa := hostOf(a)
	hb, sb := hostOf(b)
	return ha != "" && sa == sb && strings.EqualFold(ha, hb)
}

func hostOf(remote string) (host, scheme string) {
	if !strings.Contains(remote, "://") {
		h, _, _ := strings.Cut(remote, ":")
		if _, after, ok := strings.Cut(h, "@"); ok {
			h = after
		}
		return h, "ssh"
	}
	u, err := url.Parse(remote)
	if err != nil {
		return "", ""
	}
	return u.Host, strings.ToLower(u.Scheme)
}

// walkState is what a checkout shares with its submodules: the limits'
// usage, the count of submodules, and the nesting depth.
type walkState struct {
	use   *usage
	subs  *atomic.Int64
	depth int
}

func newWalkState(lim limits) *walkState {
	return &walkState{use: &usage{lim: lim}, subs: new(atomic.Int64)}
}

func (ws *walkState) nested() *walkState {
	return &walkState{use: ws.use, subs: ws.subs, depth: ws.depth + 1}
}

// subOptions are the options of a submodule's checkout: its commit, the
// parent's limits and rules, and the sparse directories inside it.
func subOptions(s submodule, opts CloneOptions) CloneOptions {
	return CloneOptions{
		Reference:             git.Reference{Commit: s.commit.String()},
		Full:                  opts.Full,
		SparseDirectories:     subSparse(normalizeSparse(opts.SparseDirectories), s.path),
		RecurseSubmodules:     true,
		AllowEscapingSymlinks: opts.AllowEscapingSymlinks,
		MaxFetchSize:          opts.MaxFetchSize,
		MaxObjectSize:         opts.MaxObjectSize,
		MaxObjects:            opts.MaxObjects,
	}
}

// subSparse returns the sparse directories inside the submodule at p,
// relative to it (none: the whole submodule).
func subSparse(dirs []string, p string) []string {
	var out []string
	for _, d := range dirs {
		if d == p || strings.HasPrefix(p, d+"/") {
			return nil
		}
		if rest, ok := strings.CutPrefix(d, p+"/"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// cloneSubmodules clones the submodules of commit (read from st) into dir,
// recursively, each as a repository of its own (dir/<path>/.git), within
// the parent's limits.
func (c *Client) cloneSubmodules(ctx context.Context, dir string, st storer.EncodedObjectStorer, commit *object.Commit, opts CloneOptions, ws *walkState) error {
	subs, err := c.submodules(st, commit, normalizeSparse(opts.SparseDirectories), ws.subs, ws.depth)
	if err != nil {
		return err
	}
	for _, s := range subs {
		subDir := filepath.Join(dir, filepath.FromSlash(s.path))
		if err := withinDir(dir, subDir); err != nil {
			return err
		}
		if _, err := s.client.clone(ctx, subDir, subOptions(s, opts), ws.nested()); err != nil {
			return fmt.Errorf("submodule %s: %w", s.path, err)
		}
	}
	return nil
}

// withinDir checks that p is inside root, lexically.
func withinDir(root, p string) error {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%w: path %q escapes the checkout", git.ErrUnsafePath, p)
	}
	return nil
}
