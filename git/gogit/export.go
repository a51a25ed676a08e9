package gogit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/git"
)

// An export writes a commit's tree into a plain folder. After writing, it
// records what it wrote — the commit, the sparse directories and, for every
// path, its type, permissions, size, inode and change time — in a state file
// kept in the cache (never in the folder). The next Export into the same
// folder reads the state back, checks the folder against it, and when
// nothing was touched only applies the difference between the two trees:
// a one-commit update rewrites a handful of files instead of the whole tree.
// A folder that does not match its state (edited, half-written, or exported
// from another commit the cache no longer has) is emptied and written again,
// so the result is always exactly the new tree.
//
// Change times cannot be set by a user, and any write, chmod, rename or
// replacement of a file changes its change time or inode. A change within
// the clock tick of the recording itself would go unseen by times alone (git
// calls such entries "racily clean"), so entries whose change time is not
// older than a probe file created after the last write are checked by
// content hash instead.

const (
	// exportStateVersion is bumped whenever the state format or the meaning
	// of its fields changes; a state of another version forces a rewrite.
	exportStateVersion = 1
	// maxExportStates bounds the full state files kept per cached remote:
	// only the most recently written destinations can be updated in place.
	maxExportStates = 16
	// maxExportOwners bounds the destinations per cached remote that Export
	// still recognises as its own (and rewrites whole) after their full
	// state was pruned: an empty owner file each.
	maxExportOwners = 1024
	// maxSymlinkTarget bounds the target of a symbolic link in a tree.
	maxSymlinkTarget = 4096
)

// exportState describes a finished export (see above). A state with an
// empty Commit marks an export in progress: its folder is ours to empty.
type exportState struct {
	Version int          `json:"version"`
	Dir     string       `json:"dir"`
	Commit  string       `json:"commit,omitempty"`
	Sparse  []string     `json:"sparse,omitempty"`
	Probe   int64        `json:"probe,omitempty"`
	Entries []stateEntry `json:"entries,omitempty"`
}

// stateEntry is one path of an export as found on disk. Directories record
// only their path and mode.
type stateEntry struct {
	Path  string      `json:"p"`
	Mode  fs.FileMode `json:"m"`
	Size  int64       `json:"s,omitempty"`
	Ino   uint64      `json:"i,omitempty"`
	Ctime int64       `json:"c,omitempty"`
}

// exporter writes one export.
type exporter struct {
	ctx       context.Context
	st        storer.EncodedObjectStorer
	dir       string // absolute destination
	sparse    []string
	statesDir string
	// emptied are folders an entry was removed from; they are removed at the
	// end if nothing is left in them, as a fresh export has no empty folder.
	emptied []string

	// Writers: blobs are read here (go-git storage is used from one
	// goroutine only) and small files are written by a pool.
	jobs    chan writeJob
	writers sync.WaitGroup
	errMu   sync.Mutex
	err     error
}

// writeJob is a small file read from the repository, waiting to be written.
type writeJob struct {
	dst  string
	data []byte
	perm os.FileMode
}

// maxQueuedBlob bounds the size of a file handed to the writer pool; larger
// files are streamed by the caller, so memory in flight stays bounded.
const maxQueuedBlob = 1 << 20

func (e *exporter) startWriters() {
	n := min(max(2*runtime.GOMAXPROCS(0), 2), 8)
	e.jobs = make(chan writeJob, 2*n)
	e.writers.Add(n)
	for range n {
		go func() {
			defer e.writers.Done()
			for j := range e.jobs {
				if e.failed() != nil {
					continue // drain
				}
				if err := writeFile(j.dst, j.perm, bytes.NewReader(j.data)); err != nil {
					e.fail(err)
				}
			}
		}()
	}
}

// stopWriters waits for the queued files and returns the first error.
func (e *exporter) stopWriters() error {
	close(e.jobs)
	e.writers.Wait()
	return e.failed()
}

func (e *exporter) fail(err error) {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func (e *exporter) failed() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

func newExporter(ctx context.Context, st storer.EncodedObjectStorer, dir, statesDir string, sparse []string) (*exporter, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &exporter{ctx: ctx, st: st, dir: abs, sparse: normalizeSparse(sparse), statesDir: statesDir}, nil
}

func normalizeSparse(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		d = strings.Trim(path.Clean("/"+d), "/")
		if d == "" {
			return nil // the whole tree
		}
		out = append(out, d)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (e *exporter) statePath() string {
	sum := sha256.Sum256([]byte(e.dir))
	return filepath.Join(e.statesDir, hex.EncodeToString(sum[:16])+".json")
}

// ownerPath is the file that remains of a destination's state once the
// state itself was pruned.
func (e *exporter) ownerPath() string {
	return strings.TrimSuffix(e.statePath(), ".json") + ".owner"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
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

// export writes commit's tree into the destination, in place when the
// destination still holds an earlier export of this cache. It reports
// whether the update was in place.
func (e *exporter) export(commit *object.Commit) (inPlace bool, err error) {
	log := logr.FromContextOrDiscard(e.ctx)
	if err := e.check(); err != nil {
		return false, err
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return false, err
	}
	if err := os.MkdirAll(e.statesDir, 0o755); err != nil {
		return false, err
	}
	var oldTree plumbing.Hash
	empty, err := isEmptyDir(e.dir)
	if err != nil {
		return false, err
	}
	if !empty {
		prev, reason := e.previous()
		if prev != nil && prev.Hash == commit.Hash {
			return true, nil // already there, untouched
		}
		if prev != nil {
			oldTree, inPlace = prev.TreeHash, true
		} else {
			log.Info("rewriting the whole export", "dir", e.dir, "reason", reason)
		}
	}
	// From here until the final state is written the folder matches no
	// state: mark it as ours so an interrupted export is redone, not refused.
	if err := e.writeState(&exportState{Version: exportStateVersion, Dir: e.dir}); err != nil {
		return false, err
	}
	if !empty && !inPlace {
		if err := clearDir(e.dir); err != nil {
			return false, err
		}
	}
	e.startWriters()
	err = e.apply(oldTree, commit.TreeHash, "")
	if werr := e.stopWriters(); err == nil {
		err = werr
	}
	if err != nil {
		return false, err
	}
	e.removeEmptied()
	if err := e.record(commit.Hash); err != nil {
		return false, err
	}
	return inPlace, nil
}

// previous returns the commit the destination holds untouched, or nil and
// the reason it cannot be updated in place.
func (e *exporter) previous() (*object.Commit, string) {
	data, err := os.ReadFile(e.statePath())
	if err != nil {
		return nil, "no export state (pruned: more recent destinations were exported)"
	}
	var s exportState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, "unreadable export state"
	}
	switch {
	case s.Version != exportStateVersion:
		return nil, "export state of another version"
	case s.Dir != e.dir:
		return nil, "export state of another folder"
	case s.Commit == "":
		return nil, "the previous export did not finish"
	case !slices.Equal(s.Sparse, e.sparse):
		return nil, "sparse directories changed"
	}
	prev, err := object.GetCommit(e.st, plumbing.NewHash(s.Commit))
	if err != nil {
		return nil, "the previous commit is no longer cached"
	}
	tree, err := prev.Tree()
	if err != nil {
		return nil, "the previous tree is no longer cached"
	}
	found, err := scan(e.dir)
	if err != nil {
		return nil, err.Error()
	}
	if len(found) != len(s.Entries) {
		return nil, "the folder was modified"
	}
	for i, f := range found {
		want := s.Entries[i]
		if f != want {
			return nil, "the folder was modified"
		}
		if f.Mode.IsDir() || f.Ctime < s.Probe {
			continue
		}
		// Racily clean: changed in the tick the state was recorded in?
		if !e.sameContent(tree, f) {
			return nil, "the folder was modified"
		}
	}
	return prev, ""
}

// sameContent reports whether the file or link at f.Path holds the blob the
// tree has there.
func (e *exporter) sameContent(tree *object.Tree, f stateEntry) bool {
	entry, err := tree.FindEntry(f.Path)
	if err != nil {
		return false
	}
	p := filepath.Join(e.dir, filepath.FromSlash(f.Path))
	var h plumbing.Hash
	if f.Mode&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return false
		}
		h = plumbing.ComputeHash(plumbing.BlobObject, []byte(filepath.ToSlash(target)))
	} else {
		r, err := os.Open(p)
		if err != nil {
			return false
		}
		defer r.Close()
		hasher := plumbing.NewHasher(plumbing.BlobObject, f.Size)
		if n, err := io.Copy(hasher, r); err != nil || n != f.Size {
			return false
		}
		h = hasher.Sum()
	}
	return h == entry.Hash
}

// scan lists everything under dir in lexical order, as recorded in a state.
func scan(dir string) ([]stateEntry, error) {
	var out []stateEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		info, err := d.Info() // lstat
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		se := stateEntry{Path: filepath.ToSlash(rel), Mode: info.Mode() & (fs.ModeType | fs.ModePerm)}
		if !info.IsDir() {
			ino, ctime, ok := fileIdentity(info)
			if !ok {
				return errors.New("file identity (inode, change time) unavailable on this platform")
			}
			se.Size, se.Ino, se.Ctime = info.Size(), ino, ctime
		}
		out = append(out, se)
		return nil
	})
	return out, err
}

// record writes the state of the finished export.
func (e *exporter) record(commit plumbing.Hash) error {
	probe, err := os.CreateTemp(e.dir, ".gitopskit-probe-*")
	if err != nil {
		return err
	}
	info, statErr := probe.Stat()
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return err
	}
	if statErr != nil {
		return statErr
	}
	_, probeTime, ok := fileIdentity(info)
	if !ok {
		return nil // no state: the next export rewrites the folder
	}
	entries, err := scan(e.dir)
	if err != nil {
		return err
	}
	return e.writeState(&exportState{
		Version: exportStateVersion,
		Dir:     e.dir,
		Commit:  commit.String(),
		Sparse:  e.sparse,
		Probe:   probeTime,
		Entries: entries,
	})
}

// writeState replaces the destination's state atomically and keeps at most
// maxExportStates states, dropping the least recently written.
func (e *exporter) writeState(s *exportState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(e.statesDir, ".state-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), e.statePath()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Remove(e.ownerPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return pruneStates(e.statesDir)
}

// pruneStates keeps the full state of the maxExportStates most recently
// written destinations. Older ones are replaced by an owner file (so Export
// still knows the folder is its own, and rewrites it whole); past
// maxExportOwners owner files, the oldest are dropped (their folders then
// count as foreign).
func pruneStates(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type file struct {
		name string
		mod  time.Time
	}
	var states, owners []file
	for _, d := range entries {
		info, err := d.Info()
		if err != nil {
			continue
		}
		switch filepath.Ext(d.Name()) {
		case ".json":
			states = append(states, file{d.Name(), info.ModTime()})
		case ".owner":
			owners = append(owners, file{d.Name(), info.ModTime()})
		}
	}
	newestFirst := func(fs []file) {
		sort.Slice(fs, func(i, j int) bool { return fs[i].mod.After(fs[j].mod) })
	}
	if len(states) > maxExportStates {
		newestFirst(states)
		for _, s := range states[maxExportStates:] {
			p := filepath.Join(dir, s.name)
			owner := strings.TrimSuffix(p, ".json") + ".owner"
			if err := os.WriteFile(owner, nil, 0o644); err != nil {
				return err
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			owners = append(owners, file{filepath.Base(owner), time.Now()})
		}
	}
	if len(owners) > maxExportOwners {
		newestFirst(owners)
		for _, o := range owners[maxExportOwners:] {
			if err := os.Remove(filepath.Join(dir, o.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// clearDir removes everything inside dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			return err
		}
	}
	return nil
}

// apply turns the export of tree oldH (zero: nothing) at rel into the
// export of tree newH. Subtrees with the same hash are skipped without
// being read.
func (e *exporter) apply(oldH, newH plumbing.Hash, rel string) error {
	if oldH == newH {
		return nil
	}
	if err := e.ctx.Err(); err != nil {
		return err
	}
	if err := e.failed(); err != nil {
		return err
	}
	oldEntries, err := e.entries(oldH, rel)
	if err != nil {
		return err
	}
	newEntries, err := e.entries(newH, rel)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(newEntries)+len(oldEntries))
	for n := range newEntries {
		names = append(names, n)
	}
	for n := range oldEntries {
		if _, ok := newEntries[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := path.Join(rel, name)
		o, hasOld := oldEntries[name]
		n, hasNew := newEntries[name]
		oldDir, newDir := hasOld && o.Mode == filemode.Dir, hasNew && n.Mode == filemode.Dir
		oldFile := hasOld && isFile(o.Mode) && sparseIncludes(e.sparse, p)
		newFile := hasNew && isFile(n.Mode) && sparseIncludes(e.sparse, p)
		switch {
		case oldDir && newDir:
			if err := e.apply(o.Hash, n.Hash, p); err != nil {
				return err
			}
			continue
		case oldDir:
			if err := e.remove(p); err != nil {
				return err
			}
		case oldFile && (!newFile || o.Hash != n.Hash || o.Mode != n.Mode):
			if err := e.remove(p); err != nil {
				return err
			}
		case oldFile:
			continue // unchanged
		}
		switch {
		case newDir:
			if err := e.apply(plumbing.ZeroHash, n.Hash, p); err != nil {
				return err
			}
		case newFile:
			if err := e.write(p, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated || m == filemode.Symlink
}

// entries reads a tree (none for the zero hash), refusing names that would
// escape the destination or plant a .git folder, and duplicate names.
func (e *exporter) entries(h plumbing.Hash, rel string) (map[string]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := object.GetTree(e.st, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	out := make(map[string]object.TreeEntry, len(t.Entries))
	for _, entry := range t.Entries {
		if !safeName(entry.Name) {
			return nil, fmt.Errorf("%w: unsafe path %q in tree", git.ErrInvalidOptions, path.Join(rel, entry.Name))
		}
		if _, dup := out[entry.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate path %q in tree", git.ErrInvalidOptions, path.Join(rel, entry.Name))
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

// remove deletes the file, link or folder at p.
func (e *exporter) remove(p string) error {
	dst := filepath.Join(e.dir, filepath.FromSlash(p))
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	e.emptied = append(e.emptied, filepath.Dir(dst))
	return nil
}

// removeEmptied removes the folders left empty by removals, up to the
// destination.
func (e *exporter) removeEmptied() {
	for _, d := range e.emptied {
		for d != e.dir && strings.HasPrefix(d, e.dir+string(filepath.Separator)) {
			info, err := os.Lstat(d)
			if err != nil || !info.IsDir() || os.Remove(d) != nil {
				break // gone, replaced by a file, or not empty
			}
			d = filepath.Dir(d)
		}
	}
}

// write creates the file or link of entry at p; nothing may exist there.
func (e *exporter) write(p string, entry object.TreeEntry) error {
	dst := filepath.Join(e.dir, filepath.FromSlash(p))
	if err := withinDir(e.dir, dst); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	blob, err := object.GetBlob(e.st, entry.Hash)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if entry.Mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, maxSymlinkTarget+1))
		if err != nil {
			return err
		}
		if !safeLinkTarget(p, string(target)) {
			return fmt.Errorf("%w: symlink %q points outside the checkout", git.ErrInvalidOptions, p)
		}
		return os.Symlink(filepath.FromSlash(string(target)), dst)
	}
	perm := os.FileMode(0o644)
	if entry.Mode == filemode.Executable {
		perm = 0o755
	}
	if blob.Size > maxQueuedBlob {
		return writeFile(dst, perm, r)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e.jobs <- writeJob{dst: dst, data: data, perm: perm}
	return nil
}

// writeFile creates dst (nothing may exist there: O_EXCL never follows a
// link planted at dst) with the content of r.
func writeFile(dst string, perm os.FileMode, r io.Reader) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// safeLinkTarget accepts the target of the link at p (slash-separated,
// relative to the destination) when it resolves inside the destination
// whatever the links it passes through: relative, no NUL, leading ".."
// elements that stay inside, and no ".." after a normal element (which could
// climb out of a link to a folder, e.g. "l/.." with l -> ".").
func safeLinkTarget(p, target string) bool {
	if target == "" || len(target) > maxSymlinkTarget || strings.ContainsRune(target, 0) || path.IsAbs(target) {
		return false
	}
	depth := strings.Count(p, "/") // folders above the link, inside the destination
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
