package gogit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/git"
)

// Export writes the files of the revision into dir — without a .git folder —
// fetching through the client's Cache: only objects the cache lacks cross
// the network (the cache's commits are offered to the server as haves, so
// even a shallow cache receives just the new objects). A cache repository
// that is corrupted (does not open, misses objects) is rebuilt from
// scratch.
//
// dir must be missing, empty, or a folder an earlier Export of this cache
// wrote. In the last case Export owns dir: when dir is exactly as that
// Export left it, only the files that differ between the two revisions are
// written or removed; when anything in dir was changed (or the earlier
// revision is no longer cached), dir is written again whole. Either way
// dir ends up holding exactly the new revision's files.
//
// Export is atomic: a whole export is written into a folder beside dir and
// swapped in; an in-place update writes its new files beside dir, and
// touches dir only once everything was fetched, checked and written. A
// failed Export (a limit crossed, an unsafe path, ctx ended) leaves dir as
// it was; in the rare case that renaming the staged files into dir fails,
// dir is emptied instead, never left half-updated.
//
// With RecurseSubmodules, each submodule is fetched through the cache too
// (a cache repository per submodule URL) and written at its path; an update
// that changes a submodule's commit writes dir whole.
//
// The cache keeps the state that makes updates in place possible beside
// its repository, never inside dir: in full for the 16 most recently
// written destinations of each remote (older ones are rewritten whole), and
// as an empty owner file for up to 1,024 (older ones count as foreign and
// are refused). Exports into the same dir must use the same Cache and
// remote, one at a time.
func (c *Client) Export(ctx context.Context, dir string, opts CloneOptions) (*Result, error) {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	if c.cache == nil {
		return nil, fmt.Errorf("%w: Export needs a client built WithCache", git.ErrInvalidOptions)
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
		return res, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cdir := c.cache.dir(c.url)
	unlock, err := c.cache.lock(ctx, cdir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e := &exporter{
		ctx: ctx, c: c, opts: opts, dir: abs, sparse: normalizeSparse(opts.SparseDirectories),
		submodules: opts.RecurseSubmodules, statesDir: strings.TrimSuffix(cdir, ".git") + ".exports",
		ws: newWalkState(opts.limits()), held: map[string]*filesystem.Storage{},
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	st, commit, pack, err := c.fetchCached(ctx, r, cdir, t, opts)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	defer pack.Close()
	e.st, e.pack = st, pack
	e.held[cdir] = st
	inPlace, err := e.export(commit)
	if err != nil {
		return nil, err
	}
	out, err := buildCommit(st, t, commit)
	if err != nil {
		return nil, err
	}
	if err := consolidatePacks(cdir); err != nil {
		log.Info("could not consolidate the cache's pack files", "error", err.Error())
	}
	log.V(1).Info("exported", "revision", out.Revision(), "inPlace", inPlace)
	return &Result{Commit: out, Revision: out.Revision()}, nil
}

// fetchCached fetches the target into the cache repository cdir (locked
// by the caller), rebuilding the repository once when it does not open or
// misses objects.
func (c *Client) fetchCached(ctx context.Context, r *remote, cdir string, t *target, opts CloneOptions) (*filesystem.Storage, *object.Commit, *packBlobs, error) {
	log := logr.FromContextOrDiscard(ctx)
	for attempt := 0; ; attempt++ {
		st, err := openCache(cdir, attempt > 0)
		var commit *object.Commit
		var pack *packBlobs
		if err == nil {
			if pack, err = c.fetch(ctx, r, st, cdir, t, opts); err == nil {
				commit, err = object.GetCommit(st, t.commit)
				if err == nil {
					_, err = object.GetTree(st, commit.TreeHash)
				}
			}
		}
		if err == nil {
			return st, commit, pack, nil
		}
		pack.Close()
		if st != nil {
			st.Close()
		}
		removeTempPacks(cdir)
		if attempt > 0 || ctx.Err() != nil || errors.Is(err, git.ErrAuthentication) ||
			errors.Is(err, git.ErrHostKey) || errors.Is(err, git.ErrReferenceNotFound) ||
			errors.Is(err, git.ErrSizeLimit) || errors.Is(err, git.ErrUnsafePath) {
			return nil, nil, nil, err
		}
		log.Info("rebuilding git cache repository", "reason", err.Error())
		// The session's advertisement is still good; the fetch runs again
		// into an empty repository.
	}
}

// exporter writes one export.
type exporter struct {
	ctx        context.Context
	c          *Client
	opts       CloneOptions
	st         *filesystem.Storage // the cache repository
	pack       *packBlobs          // what the fetch brought, if anything
	dir        string              // absolute destination
	sparse     []string
	submodules bool
	statesDir  string
	ws         *walkState
	// held are the cache repositories this export has locked, by folder,
	// so a submodule of the same URL reuses its parent's.
	held map[string]*filesystem.Storage
}

// check is called before any network work: the destination must be missing,
// empty, or a folder this cache exported to (whose state file exists).
func (e *exporter) check() error {
	empty, err := isEmptyDir(e.dir)
	if err != nil || empty {
		return err
	}
	if !fileExists(e.statePath()) && !fileExists(e.ownerPath()) {
		return fmt.Errorf("%w: destination %s is not empty and was not exported from this cache", git.ErrInvalidOptions, e.dir)
	}
	return nil
}

// export writes commit's tree into the destination, in place when the
// destination still holds an earlier export of this cache. It reports
// whether the update was in place.
func (e *exporter) export(commit *object.Commit) (inPlace bool, err error) {
	log := logr.FromContextOrDiscard(e.ctx)
	if err := os.MkdirAll(filepath.Dir(e.dir), 0o755); err != nil {
		return false, err
	}
	if err := os.MkdirAll(e.statesDir, 0o755); err != nil {
		return false, err
	}
	removeStaleStaging(e.dir)
	empty, err := isEmptyDir(e.dir)
	if err != nil {
		return false, err
	}
	if !empty {
		prev, state, reason := e.previous()
		switch {
		case prev != nil && prev.Hash == commit.Hash:
			return true, nil // already there, untouched
		case prev != nil:
			err := e.update(prev, commit, state)
			if !errors.Is(err, errRewrite) {
				return err == nil, err
			}
			reason = "a submodule changed"
		}
		log.Info("rewriting the whole export", "dir", e.dir, "reason", reason)
	}
	return false, e.rewrite(commit)
}

// rewrite writes the whole export into a folder beside the destination,
// then swaps it in.
func (e *exporter) rewrite(commit *object.Commit) error {
	stage, err := newStaging(e.dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	root, err := os.OpenRoot(stage)
	if err != nil {
		return err
	}
	err = e.writeAll(root, e.st, e.pack, commit, e.sparse, e.ws)
	root.Close()
	if err != nil {
		return err
	}
	// From here until the final state is written the folder matches no
	// state: mark it as ours so an interrupted export is redone, not refused.
	if err := e.writeState(&exportState{Version: exportStateVersion, Dir: e.dir}); err != nil {
		return err
	}
	if err := swapIn(stage, e.dir); err != nil {
		_ = clearDir(e.dir)
		return err
	}
	return e.record(commit.Hash)
}

// writeAll writes commit's tree (read from st) under root, then its
// submodules when the export recurses into them.
func (e *exporter) writeAll(root *os.Root, st *filesystem.Storage, pack *packBlobs, commit *object.Commit, sparse []string, ws *walkState) error {
	// Submodule folders are made by writeSubmodule, for the submodules it
	// writes something of.
	w := &treeWriter{ctx: e.ctx, st: st, pack: pack, root: root, sparse: sparse, use: ws.use}
	w.start()
	err := w.writeTree(commit.TreeHash, "")
	if werr := w.stop(); err == nil {
		err = werr
	}
	if err != nil || !e.submodules {
		return err
	}
	return e.writeSubmodules(root, st, commit, sparse, ws)
}

// writeSubmodules fetches each submodule of commit through the cache and
// writes it at its path under root.
func (e *exporter) writeSubmodules(root *os.Root, st *filesystem.Storage, commit *object.Commit, sparse []string, ws *walkState) error {
	subs, err := e.c.submodules(st, commit, sparse, ws.subs, ws.depth)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := e.writeSubmodule(root, s, sparse, ws.nested()); err != nil {
			return fmt.Errorf("submodule %s: %w", s.path, err)
		}
	}
	return nil
}

func (e *exporter) writeSubmodule(root *os.Root, s submodule, sparse []string, ws *walkState) error {
	cdir := e.c.cache.dir(s.client.url)
	st, ok := e.held[cdir]
	if !ok {
		unlock, err := e.c.cache.lock(e.ctx, cdir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	r, err := s.client.open(e.ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	t := &target{commit: s.commit, object: s.commit, exact: true}
	subOpts := subOptions(s, e.opts)
	var pack *packBlobs
	if ok {
		pack, err = s.client.fetch(e.ctx, r, st, cdir, t, subOpts)
	} else {
		st, _, pack, err = s.client.fetchCached(e.ctx, r, cdir, t, subOpts)
		if err == nil {
			e.held[cdir] = st
			defer func() {
				delete(e.held, cdir)
				st.Close()
			}()
		}
	}
	if err != nil {
		return err
	}
	defer pack.Close()
	commit, err := object.GetCommit(st, s.commit)
	if err != nil {
		return fmt.Errorf("%w: commit %s", git.ErrReferenceNotFound, s.commit)
	}
	if err := root.MkdirAll(s.path, 0o755); err != nil {
		return err
	}
	subRoot, err := root.OpenRoot(s.path)
	if err != nil {
		return err
	}
	defer subRoot.Close()
	sub := &exporter{ctx: e.ctx, c: s.client, opts: subOpts, st: st, submodules: true, held: e.held}
	if err := sub.writeAll(subRoot, st, pack, commit, subOpts.SparseDirectories, ws); err != nil {
		return err
	}
	// A submodule the sparse directories leave empty leaves no folder.
	removeEmptied(root, []string{s.path})
	return nil
}

// newStaging creates the folder an export of dir is written into: beside
// dir, so it can be renamed into place.
func newStaging(dir string) (string, error) {
	stage, err := os.MkdirTemp(filepath.Dir(dir), stagingPrefix(dir))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		os.RemoveAll(stage)
		return "", err
	}
	return stage, nil
}

func stagingPrefix(dir string) string { return "." + filepath.Base(dir) + ".gitopskit-" }

// removeStaleStaging removes what an interrupted export of dir left beside
// it.
func removeStaleStaging(dir string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), stagingPrefix(dir)+"*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
}

// swapIn replaces dest by the folder stage: by renaming dest aside and
// stage into its place when it can, else (dest is a mount point, say) by
// emptying dest and moving stage's entries into it.
func swapIn(stage, dest string) error {
	if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
		return os.Rename(stage, dest)
	}
	old := stage + ".old"
	if err := os.Rename(dest, old); err == nil {
		if err := os.Rename(stage, dest); err != nil {
			_ = os.Rename(old, dest)
			return err
		}
		return os.RemoveAll(old)
	}
	if err := clearDir(dest); err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, d := range entries {
		if err := os.Rename(filepath.Join(stage, d.Name()), filepath.Join(dest, d.Name())); err != nil {
			return err
		}
	}
	return nil
}

// isEmptyDir reports whether dir is empty or missing; it fails when dir is
// not a folder.
func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
