package gogit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
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
	exportStateVersion = 2
	// maxExportStates bounds the full state files kept per cached remote:
	// only the most recently written destinations can be updated in place.
	maxExportStates = 16
	// maxExportOwners bounds the destinations per cached remote that Export
	// still recognises as its own (and rewrites whole) after their full
	// state was pruned: an empty owner file each.
	maxExportOwners = 1024
)

// exportState describes a finished export (see above). A state with an
// empty Commit marks an export in progress: its folder is ours to empty.
type exportState struct {
	Version int      `json:"version"`
	Dir     string   `json:"dir"`
	Commit  string   `json:"commit,omitempty"`
	Sparse  []string `json:"sparse,omitempty"`
	// Submodules records that the submodules were checked out too.
	Submodules bool         `json:"submodules,omitempty"`
	Probe      int64        `json:"probe,omitempty"`
	Entries    []stateEntry `json:"entries,omitempty"`
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

// previous returns the commit the destination holds untouched and its
// state, or nil and the reason it cannot be updated in place.
func (e *exporter) previous() (*object.Commit, *exportState, string) {
	data, err := os.ReadFile(e.statePath())
	if err != nil {
		return nil, nil, "no export state (pruned: more recent destinations were exported)"
	}
	var s exportState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, nil, "unreadable export state"
	}
	switch {
	case s.Version != exportStateVersion:
		return nil, nil, "export state of another version"
	case s.Dir != e.dir:
		return nil, nil, "export state of another folder"
	case s.Commit == "":
		return nil, nil, "the previous export did not finish"
	case !slices.Equal(s.Sparse, e.sparse):
		return nil, nil, "sparse directories changed"
	case s.Submodules != e.submodules:
		return nil, nil, "submodule recursion changed"
	}
	prev, err := object.GetCommit(e.st, plumbing.NewHash(s.Commit))
	if err != nil {
		return nil, nil, "the previous commit is no longer cached"
	}
	tree, err := prev.Tree()
	if err != nil {
		return nil, nil, "the previous tree is no longer cached"
	}
	found, err := scan(e.dir)
	if err != nil {
		return nil, nil, err.Error()
	}
	if len(found) != len(s.Entries) {
		return nil, nil, "the folder was modified"
	}
	for i, f := range found {
		want := s.Entries[i]
		if f != want {
			return nil, nil, "the folder was modified"
		}
		if f.Mode.IsDir() || f.Ctime < s.Probe {
			continue
		}
		// Racily clean: changed in the tick the state was recorded in?
		if !e.sameContent(tree, f) {
			return nil, nil, "the folder was modified"
		}
	}
	return prev, &s, ""
}

// totals returns what a state's folder holds, as the limits count it:
// entries, and bytes of regular files.
func (s *exportState) totals() (files, bytes int64) {
	for _, e := range s.Entries {
		files++
		if e.Mode.IsRegular() {
			bytes += e.Size
		}
	}
	return files, bytes
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

// record writes the state of the finished export. It first waits for the
// file system's clock to pass the last write (a probe file shows when), so
// the entries are older than the state's Probe and only a change made
// after recording is "racily clean" and checked by content.
func (e *exporter) record(commit plumbing.Hash) error {
	first, ok, err := probeTime(e.dir)
	if err != nil || !ok {
		return err // no state without times: the next export rewrites the folder
	}
	probe := first
	for i := 0; probe <= first && i < 1000; i++ {
		time.Sleep(time.Millisecond)
		if probe, _, err = probeTime(e.dir); err != nil {
			return err
		}
	}
	entries, err := scan(e.dir)
	if err != nil {
		return err
	}
	return e.writeState(&exportState{
		Version:    exportStateVersion,
		Dir:        e.dir,
		Commit:     commit.String(),
		Sparse:     e.sparse,
		Submodules: e.submodules,
		Probe:      probe,
		Entries:    entries,
	})
}

// probeTime creates and removes a file in dir and returns its change time.
func probeTime(dir string) (int64, bool, error) {
	probe, err := os.CreateTemp(dir, ".gitopskit-probe-*")
	if err != nil {
		return 0, false, err
	}
	info, statErr := probe.Stat()
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return 0, false, err
	}
	if statErr != nil {
		return 0, false, statErr
	}
	_, t, ok := fileIdentity(info)
	return t, ok, nil
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
