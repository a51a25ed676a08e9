package gittest

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/gitopskit/kit/git"
)

// Repository is a bare repository on a Server, with helpers that write
// objects directly (no worktree), so building large histories is fast.
type Repository struct {
	srv  *Server
	tb   reporter
	name string
	dir  string
	lock *sync.RWMutex
	now  time.Time
}

// Name returns the repository's name on the server, e.g. "repo.git".
func (r *Repository) Name() string { return r.name }

// Dir returns the bare repository's folder.
func (r *Repository) Dir() string { return r.dir }

// DefaultAuthor is the author and committer of the helpers' commits.
var defaultAuthor = object.Signature{Name: "Gitops Test", Email: "test@gitopskit.dev"}

// CommitOption tunes Commit and CommitDir.
type CommitOption func(*commitConfig)

type commitConfig struct {
	signer  git.Signer
	deletes []string
	author  *object.Signature
	parents []string
	exec    map[string]bool
	links   map[string]bool
}

// Executable gives paths the executable file mode.
func Executable(paths ...string) CommitOption {
	return func(c *commitConfig) {
		if c.exec == nil {
			c.exec = map[string]bool{}
		}
		for _, p := range paths {
			c.exec[cleanPath(p)] = true
		}
	}
}

// Symlinks makes paths symbolic links: their content is the link target.
func Symlinks(paths ...string) CommitOption {
	return func(c *commitConfig) {
		if c.links == nil {
			c.links = map[string]bool{}
		}
		for _, p := range paths {
			c.links[cleanPath(p)] = true
		}
	}
}

// Signed signs the commit with signer (OpenPGP or SSH).
func Signed(signer git.Signer) CommitOption { return func(c *commitConfig) { c.signer = signer } }

// Deleting removes paths from the tree.
func Deleting(paths ...string) CommitOption {
	return func(c *commitConfig) { c.deletes = append(c.deletes, paths...) }
}

// Author sets the author and committer.
func Author(name, email string) CommitOption {
	return func(c *commitConfig) { c.author = &object.Signature{Name: name, Email: email} }
}

// ExtraParents adds parents after the branch tip, making a merge commit.
func ExtraParents(hashes ...string) CommitOption {
	return func(c *commitConfig) { c.parents = append(c.parents, hashes...) }
}

func (r *Repository) storage() *filesystem.Storage {
	return filesystem.NewStorage(osfs.New(r.dir), cache.NewObjectLRUDefault())
}

func (r *Repository) fatal(err error) {
	r.tb.Helper()
	r.tb.Fatalf("gittest: %s: %v", r.name, err)
}

// Commit adds a commit on branch (created when missing) whose tree is the
// branch tip's with files (path → content) written over it, and returns its
// hash.
func (r *Repository) Commit(branch, message string, files map[string]string, opts ...CommitOption) string {
	r.tb.Helper()
	entries := make(map[string]fileEntry, len(files))
	for p, c := range files {
		entries[p] = fileEntry{data: []byte(c), mode: filemode.Regular}
	}
	h, err := r.commit(branch, message, entries, opts...)
	if err != nil {
		r.fatal(err)
	}
	return h
}

// CommitDir commits the files of a folder (regular files, executables and
// symbolic links) onto branch.
func (r *Repository) CommitDir(branch, message, dir string, opts ...CommitOption) string {
	r.tb.Helper()
	entries := map[string]fileEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var e fileEntry
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e = fileEntry{data: []byte(target), mode: filemode.Symlink}
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e = fileEntry{data: data, mode: filemode.Regular}
			if info.Mode()&0o111 != 0 {
				e.mode = filemode.Executable
			}
		default:
			return nil
		}
		entries[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		r.fatal(err)
	}
	h, err := r.commit(branch, message, entries, opts...)
	if err != nil {
		r.fatal(err)
	}
	return h
}

// Submodule records a gitlink at path pointing to commit (of the repository
// at url) and the matching .gitmodules entry, as one commit on branch.
func (r *Repository) Submodule(branch, path, url, commit string) string {
	r.tb.Helper()
	cfg := "[submodule \"" + path + "\"]\n\tpath = " + path + "\n\turl = " + url + "\n"
	h, err := r.commit(branch, "add submodule "+path, map[string]fileEntry{
		".gitmodules": {data: []byte(cfg), mode: filemode.Regular},
		path:          {hash: plumbing.NewHash(commit), mode: filemode.Submodule},
	})
	if err != nil {
		r.fatal(err)
	}
	return h
}

type fileEntry struct {
	data []byte
	hash plumbing.Hash // set for gitlinks
	mode filemode.FileMode
}

func (r *Repository) commit(branch, message string, files map[string]fileEntry, opts ...CommitOption) (string, error) {
	var cfg commitConfig
	for _, o := range opts {
		o(&cfg)
	}
	r.lock.Lock()
	defer r.lock.Unlock()
	st := r.storage()
	refName := plumbing.NewBranchReferenceName(branch)
	root := &treeNode{}
	var parents []plumbing.Hash
	if ref, err := st.Reference(refName); err == nil {
		c, err := object.GetCommit(st, ref.Hash())
		if err != nil {
			return "", err
		}
		parents = append(parents, c.Hash)
		if err := root.load(st, c.TreeHash); err != nil {
			return "", err
		}
	}
	for _, p := range cfg.parents {
		parents = append(parents, plumbing.NewHash(p))
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := files[p]
		if cfg.exec[cleanPath(p)] && f.mode == filemode.Regular {
			f.mode = filemode.Executable
		}
		if cfg.links[cleanPath(p)] && f.mode == filemode.Regular {
			f.mode = filemode.Symlink
		}
		h := f.hash
		if f.mode != filemode.Submodule {
			var err error
			if h, err = writeObject(st, plumbing.BlobObject, f.data); err != nil {
				return "", err
			}
		}
		if err := root.set(st, cleanPath(p), object.TreeEntry{Hash: h, Mode: f.mode}); err != nil {
			return "", err
		}
	}
	for _, p := range cfg.deletes {
		if err := root.set(st, cleanPath(p), object.TreeEntry{}); err != nil {
			return "", err
		}
	}
	tree, err := root.write(st)
	if err != nil {
		return "", err
	}
	sig := defaultAuthor
	if cfg.author != nil {
		sig = *cfg.author
	}
	sig.When = r.tick()
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents}
	if cfg.signer != nil {
		if err := signObject(c, cfg.signer, func(c *object.Commit) *string { return &c.PGPSignature }); err != nil {
			return "", err
		}
	}
	h, err := storeObject(st, c)
	if err != nil {
		return "", err
	}
	return h.String(), st.SetReference(plumbing.NewHashReference(refName, h))
}

// latestCommitTime returns the newest commit time of the branch tips (zero
// without commits), so new commits of an imported repository come after it.
func (r *Repository) latestCommitTime() time.Time {
	var latest time.Time
	refs, err := r.storage().IterReferences()
	if err != nil {
		return latest
	}
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		if c, err := object.GetCommit(r.storage(), ref.Hash()); err == nil && c.Committer.When.After(latest) {
			latest = c.Committer.When
		}
		return nil
	})
	return latest.UTC()
}

// tick returns strictly increasing commit times so histories order well.
func (r *Repository) tick() time.Time {
	if r.now.IsZero() {
		r.now = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	r.now = r.now.Add(time.Minute)
	return r.now
}

func cleanPath(p string) string { return strings.Trim(path.Clean("/"+p), "/") }

type encodable interface {
	Encode(plumbing.EncodedObject) error
}

func storeObject(st storer.EncodedObjectStorer, o encodable) (plumbing.Hash, error) {
	eo := st.NewEncodedObject()
	if err := o.Encode(eo); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(eo)
}

func writeObject(st storer.EncodedObjectStorer, t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	eo := st.NewEncodedObject()
	eo.SetType(t)
	eo.SetSize(int64(len(data)))
	w, err := eo.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(eo)
}

// signObject signs the encoding of o without its signature and stores the
// signature through field.
func signObject[T interface {
	EncodeWithoutSignature(plumbing.EncodedObject) error
}](o T, signer git.Signer, field func(T) *string) error {
	eo := &plumbing.MemoryObject{}
	if err := o.EncodeWithoutSignature(eo); err != nil {
		return err
	}
	rd, err := eo.Reader()
	if err != nil {
		return err
	}
	sig, err := signer.Sign(rd)
	if err != nil {
		return err
	}
	*field(o) = string(sig)
	return nil
}

// treeNode is a tree being edited: entries of the base tree plus edited
// sub-trees, loaded only along edited paths.
type treeNode struct {
	entries  map[string]object.TreeEntry
	children map[string]*treeNode
}

func (n *treeNode) load(st storer.EncodedObjectStorer, h plumbing.Hash) error {
	t, err := object.GetTree(st, h)
	if err != nil {
		return err
	}
	n.entries = make(map[string]object.TreeEntry, len(t.Entries))
	for _, e := range t.Entries {
		n.entries[e.Name] = e
	}
	return nil
}

// set writes e at p; a zero entry deletes p.
func (n *treeNode) set(st storer.EncodedObjectStorer, p string, e object.TreeEntry) error {
	if n.entries == nil {
		n.entries = map[string]object.TreeEntry{}
	}
	if n.children == nil {
		n.children = map[string]*treeNode{}
	}
	head, rest, nested := strings.Cut(p, "/")
	if !nested {
		delete(n.children, head)
		if e.Hash.IsZero() {
			delete(n.entries, head)
			return nil
		}
		e.Name = head
		n.entries[head] = e
		return nil
	}
	child, ok := n.children[head]
	if !ok {
		child = &treeNode{}
		if old, ok := n.entries[head]; ok && old.Mode == filemode.Dir {
			if err := child.load(st, old.Hash); err != nil {
				return err
			}
		}
		n.children[head] = child
		n.entries[head] = object.TreeEntry{Name: head, Mode: filemode.Dir}
	}
	return child.set(st, rest, e)
}

func (n *treeNode) write(st storer.EncodedObjectStorer) (plumbing.Hash, error) {
	for name, c := range n.children {
		h, err := c.write(st)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if len(c.entries) == 0 {
			delete(n.entries, name)
			continue
		}
		n.entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	t := &object.Tree{}
	for _, e := range n.entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Slice(t.Entries, func(i, j int) bool { return sortKey(t.Entries[i]) < sortKey(t.Entries[j]) })
	return storeObject(st, t)
}

// sortKey orders entries as git does: directories compare as "name/".
func sortKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// Branch points branch at target (a commit hash).
func (r *Repository) Branch(name, target string) {
	r.tb.Helper()
	r.SetReference(plumbing.NewBranchReferenceName(name).String(), target)
}

// Tag creates a lightweight tag.
func (r *Repository) Tag(name, target string) {
	r.tb.Helper()
	r.SetReference(plumbing.NewTagReferenceName(name).String(), target)
}

// AnnotatedTag creates an annotated tag object pointing at the commit
// target, signed when signer is not nil, and returns the tag object's hash.
func (r *Repository) AnnotatedTag(name, target, message string, signer git.Signer) string {
	r.tb.Helper()
	r.lock.Lock()
	st := r.storage()
	tagger := defaultAuthor
	tagger.When = r.tick()
	if !strings.HasSuffix(message, "\n") {
		message += "\n" // git requires it before an appended signature
	}
	t := &object.Tag{Name: name, Tagger: tagger, Message: message, TargetType: plumbing.CommitObject, Target: plumbing.NewHash(target)}
	if signer != nil {
		if err := signObject(t, signer, func(t *object.Tag) *string { return &t.PGPSignature }); err != nil {
			r.lock.Unlock()
			r.fatal(err)
		}
	}
	h, err := storeObject(st, t)
	r.lock.Unlock()
	if err != nil {
		r.fatal(err)
	}
	r.SetReference(plumbing.NewTagReferenceName(name).String(), h.String())
	return h.String()
}

// SetReference points any reference (e.g. "refs/pull/1/head") at hash.
func (r *Repository) SetReference(name, hash string) {
	r.tb.Helper()
	r.lock.Lock()
	defer r.lock.Unlock()
	if err := r.storage().SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(hash))); err != nil {
		r.fatal(err)
	}
}

// SetHEAD makes HEAD a symbolic reference to branch.
func (r *Repository) SetHEAD(branch string) {
	r.tb.Helper()
	r.lock.Lock()
	defer r.lock.Unlock()
	if err := r.storage().SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(branch))); err != nil {
		r.fatal(err)
	}
}

// Resolve returns the hash a reference points to ("main", "refs/tags/v1",
// "HEAD"), or "" when it does not exist.
func (r *Repository) Resolve(name string) string {
	r.tb.Helper()
	r.lock.RLock()
	defer r.lock.RUnlock()
	st := r.storage()
	for _, n := range []string{name, "refs/heads/" + name, "refs/tags/" + name} {
		ref, err := storer.ResolveReference(st, plumbing.ReferenceName(n))
		if err == nil {
			return ref.Hash().String()
		}
	}
	return ""
}

// ReadFile returns a file's content at a commit, for assertions.
func (r *Repository) ReadFile(commit, name string) (string, error) {
	r.lock.RLock()
	defer r.lock.RUnlock()
	c, err := object.GetCommit(r.storage(), plumbing.NewHash(commit))
	if err != nil {
		return "", err
	}
	f, err := c.File(name)
	if err != nil {
		return "", err
	}
	rd, err := f.Reader()
	if err != nil {
		return "", err
	}
	defer rd.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, rd)
	return b.String(), err
}

// Pack packs the repository with git repack (-a -d): its objects end in
// one pack file with deltas, as on a real server. A large fixture then
// takes a few files instead of thousands, and is quicker to copy
// (ImportRepository) and to serve.
func (r *Repository) Pack() {
	r.tb.Helper()
	r.lock.Lock()
	defer r.lock.Unlock()
	if _, err := r.srv.runGit(context.Background(), r.dir, "repack", "-a", "-d", "-q"); err != nil {
		r.fatal(err)
	}
}
