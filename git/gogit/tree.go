package gogit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitopskit/kit/git"
)

// maxSymlinkTarget bounds the target of a symbolic link in a tree.
const maxSymlinkTarget = 4096

// readTree reads a tree (none for the zero hash) by entry name, refusing
// names that would escape the checkout or plant a .git folder, and
// duplicate names.
func readTree(st storer.EncodedObjectStorer, h plumbing.Hash, rel string) (map[string]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := object.GetTree(st, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	out := make(map[string]object.TreeEntry, len(t.Entries))
	for _, entry := range t.Entries {
		if !safeName(entry.Name) {
			return nil, fmt.Errorf("%w: path %q in tree", git.ErrUnsafePath, path.Join(rel, entry.Name))
		}
		if _, dup := out[entry.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate path %q in tree", git.ErrUnsafePath, path.Join(rel, entry.Name))
		}
		out[entry.Name] = entry
	}
	return out, nil
}

// safeName accepts a tree entry name that is one path element and not a
// git folder (in any case, as git itself refuses).
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsAny(name, "/\\\x00") && !strings.EqualFold(name, ".git")
}

// safeLinkTarget accepts the target of the link at p (slash-separated,
// relative to the checkout) when it resolves inside the checkout whatever
// the links it passes through: relative, no NUL, leading ".." elements
// that stay inside, and no ".." after a normal element (which could climb
// out of a link to a folder, e.g. "l/.." with l -> ".").
func safeLinkTarget(p, target string) bool {
	if target == "" || len(target) > maxSymlinkTarget || strings.ContainsRune(target, 0) || path.IsAbs(target) {
		return false
	}
	depth := strings.Count(p, "/") // folders above the link, inside the checkout
	climbing := true
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
		case "..":
			if !climbing {
				return false
			}
			depth--
			if depth < 0 {
				return false
			}
		default:
			climbing = false
		}
	}
	return true
}

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated || m == filemode.Symlink
}

// filePerm is the permission a file of mode m is written with.
func filePerm(m filemode.FileMode) os.FileMode {
	if m == filemode.Executable {
		return 0o755
	}
	return 0o644
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

// sparseAbove reports whether the folder p holds one of dirs (or is one),
// so it must be walked.
func sparseAbove(dirs []string, p string) bool {
	if len(dirs) == 0 || p == "" {
		return true
	}
	for _, d := range dirs {
		d = strings.Trim(path.Clean("/"+d), "/")
		if d == "" || p == d || strings.HasPrefix(p, d+"/") || strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

// usage counts what a checkout holds against its limits; a checkout and
// its submodules share one.
type usage struct {
	mu           sync.Mutex
	files, bytes int64
	lim          limits
}

// left returns the entries and bytes the limits leave.
func (u *usage) left() (files, bytes int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lim.files - u.files, u.lim.checkoutSize - u.bytes
}

// add counts files entries and n bytes, failing past the limits.
func (u *usage) add(files, n int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.files += files
	u.bytes += n
	if u.files > u.lim.files {
		return &git.LimitError{Limit: "MaxFiles", Max: u.lim.files, What: "the checkout holds more entries (files, links, folders) than the limit"}
	}
	if u.bytes > u.lim.checkoutSize {
		return &git.LimitError{Limit: "MaxCheckoutSize", Max: u.lim.checkoutSize, What: "the checkout holds more bytes than the limit"}
	}
	return nil
}

// treeWriter writes trees, files and links under an os.Root: every path is
// resolved inside it, so nothing is ever written through a link that
// leads out, and files are created with O_EXCL, so nothing is written
// through a link planted where a file goes (staged files, created so in
// the stage, are renamed into place: a rename never follows a link).
type treeWriter struct {
	ctx    context.Context
	st     storer.EncodedObjectStorer
	pack   *packBlobs // the pack the fetch brought: whole blobs read from it directly
	root   *os.Root
	sparse []string
	use    *usage
	// escapingLinks creates links whatever their target (Clone's
	// AllowEscapingSymlinks); otherwise such a link is ErrUnsafePath.
	escapingLinks bool
	// gitlinks creates an empty folder where a submodule goes (as git
	// does); otherwise submodule entries are left out.
	gitlinks bool
	// staged, if any, holds blobs of pack already written to files under
	// root (a fresh clone's): a file is renamed into place from there
	// rather than inflated from the pack again (see placeStaged).
	staged *blobStage

	// made are the folders created so far: a folder is created when the
	// first entry under it is, so a checkout never holds an empty folder.
	made map[string]bool

	// Blobs are read here (go-git storage is used from one goroutine only)
	// and small files are written by a pool.
	jobs    chan writeJob
	writers sync.WaitGroup
	errMu   sync.Mutex
	err     error
}

// writeJob is a file waiting to be written by the pool: data (which the
// pool closes), or entry of pack.
type writeJob struct {
	root  *os.Root
	name  string
	data  io.ReadCloser // reading it touches no shared storage
	pack  *packBlobs
	entry packEntry
	perm  os.FileMode
}

func (w *treeWriter) start() {
	n := min(max(2*runtime.GOMAXPROCS(0), 2), 8)
	w.jobs = make(chan writeJob, 2*n)
	w.writers.Add(n)
	for range n {
		go func() {
			defer w.writers.Done()
			var in packInflater
			for j := range w.jobs {
				if w.failed() == nil {
					if err := j.write(&in); err != nil {
						w.fail(err)
					}
				}
				if j.data != nil {
					j.data.Close()
				}
			}
		}()
	}
}

func (j writeJob) write(in *packInflater) error {
	if j.pack == nil {
		return createFile(j.root, j.name, j.perm, j.data)
	}
	r, err := in.open(j.pack.f, j.entry)
	if err != nil {
		return err
	}
	return createFile(j.root, j.name, j.perm, r)
}

// stop waits for the queued files and returns the first error.
func (w *treeWriter) stop() error {
	close(w.jobs)
	w.writers.Wait()
	return w.failed()
}

func (w *treeWriter) fail(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *treeWriter) failed() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// writeTree writes the whole tree h at rel, the sparse directories only.
// Every entry in scope counts against the limits, folders included.
func (w *treeWriter) writeTree(h plumbing.Hash, rel string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if err := w.failed(); err != nil {
		return err
	}
	entries, err := readTree(w.st, h, rel)
	if err != nil {
		return err
	}
	// The folder rel, open while staged files are renamed into it (closed
	// before descending, so a deep tree holds one descriptor at a time).
	var dir *os.File
	closeDir := func() {
		if dir != nil {
			dir.Close()
			dir = nil
		}
	}
	defer closeDir()
	for _, name := range sortedNames(entries, nil) {
		e := entries[name]
		p := path.Join(rel, name)
		switch {
		case e.Mode == filemode.Dir:
			if !sparseAbove(w.sparse, p) {
				continue
			}
			if err := w.use.add(1, 0); err != nil {
				return err
			}
			closeDir()
			if err := w.writeTree(e.Hash, p); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule:
			if w.gitlinks && sparseIncludes(w.sparse, p) {
				if err := w.use.add(1, 0); err != nil {
					return err
				}
				if err := w.ensureDir(p); err != nil {
					return err
				}
			}
		case isFile(e.Mode) && sparseIncludes(w.sparse, p):
			if err := w.ensureDir(rel); err != nil {
				return err
			}
			if placed, err := w.placeStaged(rel, &dir, name, e); placed || err != nil {
				if err != nil {
					return fmt.Errorf("write %s: %w", p, err)
				}
				continue
			}
			if err := w.writeEntry(w.root, p, p, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureDir creates the folder p and its parents, unless made already.
func (w *treeWriter) ensureDir(p string) error {
	if p == "" || p == "." || w.made[p] {
		return nil
	}
	if err := w.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	if w.made == nil {
		w.made = map[string]bool{}
	}
	if err := w.root.Mkdir(p, 0o755); err != nil {
		return err
	}
	w.made[p] = true
	return nil
}

// placeStaged renames the staged file of entry, a regular file to go at
// name in the folder rel (which *dir holds open once opened), into place,
// and reports whether it did: not for a link, an executable, a blob the
// pack does not hold whole or that was not staged (or was taken by
// another path already). The rename replaces nothing: the walk writes each
// path of the fresh clone once (duplicate names are refused), and a
// rename never writes through a link. The file was staged with the mode
// createFile gives a regular file (the umask applied the same way).
func (w *treeWriter) placeStaged(rel string, dir **os.File, name string, entry object.TreeEntry) (bool, error) {
	if w.staged == nil || entry.Mode == filemode.Symlink || filePerm(entry.Mode) != 0o644 {
		return false, nil
	}
	e, ok := w.pack.find(entry.Hash)
	if !ok || e.typ != packBlob {
		return false, nil
	}
	if err := w.ctx.Err(); err != nil {
		return true, err
	}
	staged, ok := w.staged.take(entry.Hash)
	if !ok {
		return false, nil
	}
	if err := w.use.add(1, int64(e.size)); err != nil {
		return true, err
	}
	if *dir == nil {
		d := rel
		if d == "" {
			d = "."
		}
		f, err := w.root.Open(d)
		if err != nil {
			return true, err
		}
		*dir = f
	}
	return true, staged.fs.rename(staged.name, rel, *dir, name)
}

// writeEntry creates the file or link of entry, which goes at p in the
// checkout, as name under root (the checkout itself, or a staging folder);
// nothing may exist there.
func (w *treeWriter) writeEntry(root *os.Root, name, p string, entry object.TreeEntry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if e, ok := w.pack.find(entry.Hash); ok && e.typ == packBlob && entry.Mode != filemode.Symlink {
		if err := w.use.add(1, int64(e.size)); err != nil {
			return err
		}
		w.jobs <- writeJob{root: root, name: name, pack: w.pack, entry: e, perm: filePerm(entry.Mode)}
		return nil
	}
	obj, err := w.st.EncodedObject(plumbing.BlobObject, entry.Hash)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	size := obj.Size()
	if entry.Mode == filemode.Symlink {
		size = 0 // links count as entries only
	}
	if err := w.use.add(1, size); err != nil {
		return err
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	if entry.Mode == filemode.Symlink {
		defer r.Close()
		target, err := io.ReadAll(io.LimitReader(r, maxSymlinkTarget+1))
		if err != nil {
			return err
		}
		if !w.escapingLinks && !safeLinkTarget(p, string(target)) {
			return fmt.Errorf("%w: symlink %q points outside the checkout", git.ErrUnsafePath, p)
		}
		if len(target) > maxSymlinkTarget || bytes.IndexByte(target, 0) >= 0 || len(target) == 0 {
			return fmt.Errorf("%w: symlink %q has an invalid target", git.ErrUnsafePath, p)
		}
		return root.Symlink(string(target), name)
	}
	// The reader is the object's own: in memory, or (objects past
	// largeObject) a stream from a pack file opened for it alone, with any
	// delta resolved already. A pool writer reads it, so files are created
	// in parallel (what a checkout spends its time on).
	w.jobs <- writeJob{root: root, name: name, data: r, perm: filePerm(entry.Mode)}
	return nil
}

// createFile creates name under root (nothing may exist there: O_EXCL
// never follows a link planted at name) with the content of r.
func createFile(root *os.Root, name string, perm os.FileMode, r io.Reader) error {
	out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sortedNames returns the names of a and b, sorted and once each.
func sortedNames(a, b map[string]object.TreeEntry) []string {
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
