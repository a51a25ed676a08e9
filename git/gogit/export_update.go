package gogit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"golang.org/x/sys/unix"

	"github.com/gitopskit/kit/git"
)

// errRewrite makes an in-place update give way to a whole rewrite.
var errRewrite = errors.New("the update must rewrite the folder")

// update turns the destination, which holds prev untouched (its state is
// state), into an export of commit, in place: only the difference between
// the two trees is written (subtrees with the same hash are skipped
// without being read). The new files are written into a staging folder
// beside the destination first, and the destination is touched only once
// all of them are.
func (e *exporter) update(prev, commit *object.Commit, state *exportState) error {
	files, bytes := state.totals()
	if err := e.ws.use.add(files, bytes); err != nil {
		return err
	}
	stage, err := newStaging(e.dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	u, err := newTreeUpdate(e.ctx, e.st, stage, e.sparse, e.ws.use)
	if err != nil {
		return err
	}
	defer u.close()
	u.w.pack = e.pack
	u.rewriteOnSubmodule = e.submodules
	if err := u.prepare(prev.TreeHash, commit.TreeHash); err != nil {
		return err
	}
	if err := e.writeState(&exportState{Version: exportStateVersion, Dir: e.dir}); err != nil {
		return err
	}
	if err := u.apply(e.dir); err != nil {
		_ = clearDir(e.dir) // never half-updated
		return err
	}
	return e.record(commit.Hash)
}

// treeUpdate changes a folder holding one tree into a folder holding
// another: prepare walks the difference and writes every new file into a
// staging folder, apply then removes what goes and renames the staged
// files into place.
type treeUpdate struct {
	ctx    context.Context
	st     storer.EncodedObjectStorer
	sparse []string
	use    *usage
	// rewriteOnSubmodule fails prepare with errRewrite when a submodule
	// changes (an export that recurses into submodules); otherwise
	// submodule entries are left alone.
	rewriteOnSubmodule bool

	stageDir string
	stage    *os.Root
	w        *treeWriter
	removes  []string
	adds     []stagedFile
}

// stagedFile is a new file or link written as name in the staging folder,
// which goes at path.
type stagedFile struct{ name, path string }

func newTreeUpdate(ctx context.Context, st storer.EncodedObjectStorer, stageDir string, sparse []string, use *usage) (*treeUpdate, error) {
	stage, err := os.OpenRoot(stageDir)
	if err != nil {
		return nil, err
	}
	u := &treeUpdate{ctx: ctx, st: st, sparse: sparse, use: use, stageDir: stageDir, stage: stage}
	u.w = &treeWriter{ctx: ctx, st: st, root: stage, sparse: sparse, use: use}
	return u, nil
}

func (u *treeUpdate) close() { u.stage.Close() }

// prepare walks the difference between the trees oldH and newH.
func (u *treeUpdate) prepare(oldH, newH plumbing.Hash) error {
	u.w.start()
	err := u.walk(oldH, newH, "")
	if werr := u.w.stop(); err == nil {
		err = werr
	}
	return err
}

func (u *treeUpdate) walk(oldH, newH plumbing.Hash, rel string) error {
	if oldH == newH {
		return nil
	}
	if err := u.ctx.Err(); err != nil {
		return err
	}
	if err := u.w.failed(); err != nil {
		return err
	}
	oldEntries, err := readTree(u.st, oldH, rel)
	if err != nil {
		return err
	}
	newEntries, err := readTree(u.st, newH, rel)
	if err != nil {
		return err
	}
	for _, name := range sortedNames(newEntries, oldEntries) {
		p := path.Join(rel, name)
		o, hasOld := oldEntries[name]
		n, hasNew := newEntries[name]
		if u.rewriteOnSubmodule && (hasOld && o.Mode == filemode.Submodule || hasNew && n.Mode == filemode.Submodule) &&
			(!hasOld || !hasNew || o != n) && sparseAbove(u.sparse, p) {
			return errRewrite
		}
		oldDir := hasOld && o.Mode == filemode.Dir && sparseAbove(u.sparse, p)
		newDir := hasNew && n.Mode == filemode.Dir && sparseAbove(u.sparse, p)
		oldFile := hasOld && isFile(o.Mode) && sparseIncludes(u.sparse, p)
		newFile := hasNew && isFile(n.Mode) && sparseIncludes(u.sparse, p)
		switch {
		case oldDir && newDir:
			if err := u.walk(o.Hash, n.Hash, p); err != nil {
				return err
			}
			continue
		case oldDir:
			if err := u.remove(p, o); err != nil {
				return err
			}
		case oldFile && (!newFile || o.Hash != n.Hash || o.Mode != n.Mode):
			if err := u.remove(p, o); err != nil {
				return err
			}
		case oldFile:
			continue // unchanged
		}
		switch {
		case newDir:
			if err := u.use.add(1, 0); err != nil {
				return err
			}
			if err := u.walk(plumbing.ZeroHash, n.Hash, p); err != nil {
				return err
			}
		case newFile:
			name := strconv.Itoa(len(u.adds))
			if err := u.w.writeEntry(u.stage, name, p, n); err != nil {
				return err
			}
			u.adds = append(u.adds, stagedFile{name: name, path: p})
		}
	}
	return nil
}

// remove plans the removal of the entry e at p, and uncounts what it held.
func (u *treeUpdate) remove(p string, e object.TreeEntry) error {
	u.removes = append(u.removes, p)
	files, bytes, err := u.count(e, p)
	if err != nil {
		return err
	}
	return u.use.add(-files, -bytes)
}

// count returns what the entry e at p holds in the checkout, as the limits
// count it.
func (u *treeUpdate) count(e object.TreeEntry, p string) (files, bytes int64, err error) {
	switch {
	case e.Mode == filemode.Symlink:
		return 1, 0, nil
	case isFile(e.Mode):
		blob, err := object.GetBlob(u.st, e.Hash)
		if err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", p, err)
		}
		return 1, blob.Size, nil
	case e.Mode != filemode.Dir:
		return 0, 0, nil
	}
	entries, err := readTree(u.st, e.Hash, p)
	if err != nil {
		return 0, 0, err
	}
	files = 1
	for name, child := range entries {
		cp := path.Join(p, name)
		if (child.Mode == filemode.Dir && !sparseAbove(u.sparse, cp)) || (isFile(child.Mode) && !sparseIncludes(u.sparse, cp)) {
			continue
		}
		f, b, err := u.count(child, cp)
		if err != nil {
			return 0, 0, err
		}
		files, bytes = files+f, bytes+b
	}
	return files, bytes, nil
}

// apply changes the folder dir: it removes what goes, then renames the
// staged files into place (creating their folders), every path resolved
// inside dir, then removes the folders left empty.
func (u *treeUpdate) apply(dir string) error {
	dest, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dest.Close()
	// Nothing may be in the way of a new file (an untracked file in a
	// worktree): check before changing anything.
	removed := map[string]bool{}
	for _, p := range u.removes {
		removed[p] = true
	}
	for _, a := range u.adds {
		if _, err := dest.Lstat(a.path); err == nil && !removedAbove(removed, a.path) {
			return fmt.Errorf("%w: %s is in the way of a file of the new tree", git.ErrInvalidOptions, a.path)
		}
	}
	var emptied []string
	for _, p := range u.removes {
		if err := dest.RemoveAll(p); err != nil {
			return err
		}
		emptied = append(emptied, path.Dir(p))
	}
	stage, err := os.Open(u.stageDir)
	if err != nil {
		return err
	}
	defer stage.Close()
	parents := map[string]*os.File{}
	defer func() {
		for _, f := range parents {
			f.Close()
		}
	}()
	for _, a := range u.adds {
		parent := path.Dir(a.path)
		f, ok := parents[parent]
		if !ok {
			if parent != "." {
				if err := dest.MkdirAll(parent, 0o755); err != nil {
					return err
				}
			}
			if f, err = dest.Open(parent); err != nil {
				return err
			}
			parents[parent] = f
		}
		// renameat(2) from the staging folder into the folder dest resolved:
		// the name is one element, so no link is followed.
		if err := unix.Renameat(int(stage.Fd()), a.name, int(f.Fd()), path.Base(a.path)); err != nil {
			return &os.LinkError{Op: "rename", Old: a.name, New: a.path, Err: err}
		}
	}
	removeEmptied(dest, emptied)
	return nil
}

// removedAbove reports whether p or a folder above it is removed.
func removedAbove(removed map[string]bool, p string) bool {
	for ; p != "." && p != ""; p = path.Dir(p) {
		if removed[p] {
			return true
		}
	}
	return false
}

// removeEmptied removes the folders left empty by removals, up to the root.
func removeEmptied(root *os.Root, dirs []string) {
	for _, d := range dirs {
		for d != "." && d != "" {
			info, err := root.Lstat(d)
			if err != nil || !info.IsDir() || root.Remove(d) != nil {
				break // gone, replaced by a file, or not empty
			}
			d = path.Dir(d)
		}
	}
}
