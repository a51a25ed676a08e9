package gogit

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitopskit/kit/git"
)

// maxSubmoduleDepth bounds submodule recursion (a cycle would never end).
const maxSubmoduleDepth = 8

// submodules clones the submodules recorded in commit into dir, recursively.
// It does not use go-git's Submodule.Update, whose options carry no CA
// bundle, client certificate or proxy: each submodule is cloned by a Client
// with the parent's settings instead.
func (c *Client) submodules(ctx context.Context, dir string, commit *object.Commit, opts CloneOptions, depth int) error {
	if depth >= maxSubmoduleDepth {
		return fmt.Errorf("%w: submodules nested deeper than %d", git.ErrInvalidOptions, maxSubmoduleDepth)
	}
	f, err := commit.File(".gitmodules")
	if err != nil {
		return nil // no submodules
	}
	content, err := f.Contents()
	if err != nil {
		return err
	}
	mods := config.NewModules()
	if err := mods.Unmarshal([]byte(content)); err != nil {
		return fmt.Errorf("parse .gitmodules: %w", err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	for _, m := range mods.Submodules {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("submodule %q: %w", m.Name, err)
		}
		p := path.Clean(m.Path)
		if !sparseIncludes(opts.SparseDirectories, p) {
			continue
		}
		entry, err := tree.FindEntry(p)
		if err != nil || entry.Mode != filemode.Submodule {
			continue // declared but not recorded in the tree
		}
		subURL, err := resolveSubmoduleURL(c.url, m.URL)
		if err != nil {
			return err
		}
		auth := c.auth
		if !sameHost(c.url, subURL) {
			auth = git.AuthOptions{ProxyURL: c.auth.ProxyURL, CA: c.auth.CA, KnownHosts: c.auth.KnownHosts}
		}
		sub, err := New(subURL, WithAuth(auth))
		if err != nil {
			return fmt.Errorf("submodule %s: %w", p, err)
		}
		subDir := filepath.Join(dir, filepath.FromSlash(p))
		if err := withinDir(dir, subDir); err != nil {
			return err
		}
		subOpts := CloneOptions{
			Reference:         git.Reference{Commit: entry.Hash.String()},
			Full:              opts.Full,
			RecurseSubmodules: true,
		}
		if _, err := sub.cloneAt(ctx, subDir, subOpts, depth+1); err != nil {
			return fmt.Errorf("submodule %s: %w", p, err)
		}
	}
	return nil
}

// cloneAt clones with a submodule depth counter.
func (c *Client) cloneAt(ctx context.Context, dir string, opts CloneOptions, depth int) (*Result, error) {
	ctx = withSubmoduleDepth(ctx, depth)
	return c.Clone(ctx, dir, opts)
}

type submoduleDepthKey struct{}

func withSubmoduleDepth(ctx context.Context, d int) context.Context {
	return context.WithValue(ctx, submoduleDepthKey{}, d)
}

func submoduleDepth(ctx context.Context) int {
	d, _ := ctx.Value(submoduleDepthKey{}).(int)
	return d
}

// sparseIncludes reports whether p is inside one of dirs (all when empty).
func sparseIncludes(dirs []string, p string) bool {
	if len(dirs) == 0 {
		return true
	}
	for _, d := range dirs {
		d = strings.Trim(path.Clean("/"+d), "/")
		if d == "" || p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// resolveSubmoduleURL resolves a relative submodule URL ("../lib.git")
// against the parent's URL.
func resolveSubmoduleURL(parent, sub string) (string, error) {
	if !strings.HasPrefix(sub, "./") && !strings.HasPrefix(sub, "../") {
		return sub, nil
	}
	u, err := url.Parse(parent)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%w: relative submodule URL %q needs a URL-shaped parent", git.ErrInvalidOptions, sub)
	}
	u.Path = path.Join(strings.TrimSuffix(u.Path, "/"), sub)
	return u.String(), nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

func withinDir(root, p string) error {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%w: path %q escapes the checkout", git.ErrInvalidOptions, p)
	}
	return nil
}
