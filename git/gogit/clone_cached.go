package gogit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/git"
)

// CloneCached is Clone through the client's Cache, for a caller that needs
// a worktree to commit and push from (Clone's result) at the cost of a
// fetch of the new objects only (Export's). The revision is fetched into
// the cache's repository of the remote, as Export fetches it: the cache's
// commits are offered as haves, so only what the cache lacks crosses the
// network, and a cache repository that does not open or misses objects
// (left half-written by a killed process, say) is rebuilt. dir is then
// made a repository of its own: the cache's pack files are hard-linked
// into dir/.git (copied when dir is on another file system, where a link
// is impossible), the cache's shallow boundary recorded, and the revision
// checked out as Clone checks it out, with the same limits and path rules.
//
// Commit, SwitchBranch and Push work on dir exactly as after Clone. dir
// does not depend on the cache afterwards: pack files never change once
// written, and a link survives the cache removing or merging its packs.
// The cache repository is locked while it is fetched into and linked from,
// not while dir is checked out or used. Only the checked-out branch (or a
// detached HEAD for a tag, a name or a commit) is a reference of dir.
//
// dir must be empty or missing; a failed CloneCached removes what it wrote
// (dir itself when it created it). RecurseSubmodules is not supported
// (git.ErrInvalidOptions).
func (c *Client) CloneCached(ctx context.Context, dir string, opts CloneOptions) (*Result, error) {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	if c.cache == nil {
		return nil, fmt.Errorf("%w: CloneCached needs a client built WithCache", git.ErrInvalidOptions)
	}
	if opts.RecurseSubmodules {
		return nil, fmt.Errorf("%w: CloneCached does not check out submodules", git.ErrInvalidOptions)
	}
	if err := opts.Reference.Validate(); err != nil {
		return nil, err
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("url", git.RedactURL(c.url), "ref", opts.Reference.String())
	r, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	t, err := resolve(r, opts.Reference)
	if err != nil {
		return nil, err
	}
	if res := unchanged(t, opts.LastRevision); res != nil {
		log.V(1).Info("remote unchanged, skipping clone", "revision", res.Revision)
		return res, nil
	}
	created, err := emptyDir(dir)
	if err != nil {
		return nil, err
	}
	res, err := c.cloneCached(ctx, r, dir, t, opts)
	if err != nil {
		if created {
			_ = os.RemoveAll(dir)
		} else {
			_ = clearDir(dir)
		}
		return nil, err
	}
	log.V(1).Info("cloned through the cache", "revision", res.Revision)
	return res, nil
}

func (c *Client) cloneCached(ctx context.Context, r *remote, dir string, t *target, opts CloneOptions) (*Result, error) {
	repo, err := gogit.PlainInit(dir, false)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.url}}); err != nil {
		return nil, err
	}
	gitDir := filepath.Join(dir, ".git")
	pack, shallows, err := c.fillFromCache(ctx, r, gitDir, t, opts)
	if err != nil {
		return nil, err
	}
	defer pack.Close()
	// Blobs up to smallBlob are read whole by the walker rather than
	// streamed from a pack opened for each: the checkout reads most of
	// them from the linked packs, not from the pack just fetched.
	st := filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{KeepDescriptors: true, LargeObjectThreshold: smallBlob})
	defer st.Close()
	if len(shallows) > 0 {
		if err := st.SetShallow(shallows); err != nil {
			return nil, err
		}
	}
	commit, err := object.GetCommit(st, t.commit)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s not in the cache", git.ErrReferenceNotFound, t.commit)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	ws := newWalkState(opts.limits())
	sparse := normalizeSparse(opts.SparseDirectories)
	w := &treeWriter{ctx: ctx, st: st, pack: pack, root: root, sparse: sparse, use: ws.use, escapingLinks: opts.AllowEscapingSymlinks, gitlinks: true}
	w.start()
	err = w.writeTree(commit.TreeHash, "")
	if werr := w.stop(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	if err := writeIndex(ctx, st, root, commit.TreeHash, sparse, ws.use.lim.files); err != nil {
		return nil, err
	}
	if t.ref.IsBranch() {
		if err := st.SetReference(plumbing.NewHashReference(t.ref, t.commit)); err != nil {
			return nil, err
		}
		err = st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, t.ref))
	} else {
		err = st.SetReference(plumbing.NewHashReference(plumbing.HEAD, t.commit))
	}
	if err != nil {
		return nil, err
	}
	out, err := buildCommit(st, t, commit)
	if err != nil {
		return nil, err
	}
	return &Result{Commit: out, Revision: out.Revision()}, nil
}

// smallBlob is the size up to which CloneCached reads a blob whole.
const smallBlob = 256 << 10

// fillFromCache fetches the target into the cache repository of the
// remote and links (or copies) the cache's objects and shallow boundary
// into gitDir, under the cache's lock. It returns the pack the fetch
// received, if any, to read whole blobs from directly (the caller closes
// it), and the shallow boundary to record.
func (c *Client) fillFromCache(ctx context.Context, r *remote, gitDir string, t *target, opts CloneOptions) (*packBlobs, []plumbing.Hash, error) {
	log := logr.FromContextOrDiscard(ctx)
	cdir := c.cache.dir(c.url)
	unlock, err := c.cache.lock(ctx, cdir)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	cst, _, pack, err := c.fetchCached(ctx, r, cdir, t, opts)
	if err != nil {
		return nil, nil, err
	}
	defer cst.Close()
	shallows, err := cst.Shallow()
	if err == nil {
		err = linkObjects(cdir, gitDir)
	}
	if err != nil {
		pack.Close()
		return nil, nil, err
	}
	if err := consolidatePacks(cdir); err != nil {
		log.Info("could not consolidate the cache's pack files", "error", err.Error())
	}
	return pack, shallows, nil
}

// linkObjects makes every object of the repository in cdir available in
// the repository in gitDir: its pack files with their indexes, and its
// loose objects, hard-linked, or copied where a link is not possible. A
// pack without its index (an interrupted write) is left out: it is not
// part of the cache repository either.
func linkObjects(cdir, gitDir string) error {
	packs, err := filepath.Glob(filepath.Join(cdir, "objects", "pack", "pack-*.pack"))
	if err != nil {
		return err
	}
	dstPacks := filepath.Join(gitDir, "objects", "pack")
	if err := os.MkdirAll(dstPacks, 0o755); err != nil {
		return err
	}
	for _, p := range packs {
		idx := strings.TrimSuffix(p, ".pack") + ".idx"
		if _, err := os.Stat(idx); err != nil {
			continue
		}
		// The index goes last: a pack is used only once its index exists.
		for _, f := range []string{p, idx} {
			if err := linkOrCopy(f, filepath.Join(dstPacks, filepath.Base(f))); err != nil {
				return err
			}
		}
	}
	fans, err := os.ReadDir(filepath.Join(cdir, "objects"))
	if err != nil {
		return err
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 || !isHex(fan.Name()) {
			continue
		}
		src := filepath.Join(cdir, "objects", fan.Name())
		objs, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(gitDir, "objects", fan.Name())
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		for _, o := range objs {
			if o.Type().IsRegular() && len(o.Name()) == 38 && isHex(o.Name()) {
				if err := linkOrCopy(filepath.Join(src, o.Name()), filepath.Join(dst, o.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// linkOrCopy hard-links src at dst, or copies it when the link fails
// (another file system, a file system without links).
func linkOrCopy(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil || errors.Is(err, os.ErrExist) {
		return err
	}
	return copyFile(src, dst)
}

// copyFile copies src to dst, which must not exist.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
