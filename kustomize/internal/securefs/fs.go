package securefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Mount points of the virtual namespace.
const (
	SourceMount  = "/source"
	OverlayMount = "/overlay"
)

// PathEscapeError reports a path that leads outside the source directory.
type PathEscapeError struct {
	// Path as it was requested. Paths inside the source are shown relative
	// to the source root; others (absolute paths, or relative ones that
	// climbed out with "..") as kustomize asked for them.
	Path string
	// Reason says how the path escapes, e.g. "symlink resolves outside the
	// source root".
	Reason string
}

func (e *PathEscapeError) Error() string {
	return fmt.Sprintf("path %q is not allowed: %s", e.Path, e.Reason)
}

// ErrLimit is wrapped by errors returned when a read would exceed the
// configured file count, byte budget or YAML alias expansion.
var ErrLimit = errors.New("read limit exceeded")

// ErrReadOnly is returned by every write operation on the source.
var ErrReadOnly = errors.New("the source filesystem is read-only")

// Transform may rewrite the content of a file read from the source (SOPS
// decryption uses it). rel is the slash-separated path relative to the source
// root.
type Transform func(rel string, data []byte) ([]byte, error)

// Inspect sees the content of every file as it is handed to kustomize and
// may refuse it. name is the path in the virtual namespace (/source/...,
// /overlay/...), cleaned.
type Inspect func(name string, data []byte) error

// Options configures an FS.
type Options struct {
	// Context ends the filesystem: once it is done every operation fails
	// with its error, so a build stops at its next file access.
	Context context.Context

	MaxFiles int64 // files read; <= 0 means unlimited
	MaxBytes int64 // bytes read; <= 0 means unlimited
	// AliasFloor bounds YAML alias expansion in every file served: a
	// document may grow through aliases by max(AliasFloor, its own node
	// count) nodes (see internal/yamlalias). Negative disables the check.
	AliasFloor int64

	// AllowExtra, when set, names real absolute paths (cleaned) outside the
	// source that may be read and removed on disk. Kustomize clones remote
	// bases into temporary directories; it is nil unless the caller allowed
	// remote bases.
	AllowExtra func(cleanPath string) bool
	Transform  Transform
	Inspect    Inspect
}

// FS implements filesys.FileSystem.
type FS struct {
	root     *os.Root // nil for a filesystem without a source directory
	rootReal string   // the real, symlink-free absolute path of the root
	mem      filesys.FileSystem
	opts     Options
	ctx      context.Context

	files atomic.Int64
	bytes atomic.Int64

	mu        sync.Mutex
	overrides map[string][]byte // source-relative path -> content served instead
	escapes   []*PathEscapeError
	refusals  []error // every refusal, in order (capped)
	limitErr  error
}

var _ filesys.FileSystem = (*FS)(nil)

// New opens dir as the source root.
func New(dir string, opts Options) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	f := newBase(opts)
	f.root, f.rootReal = r, real
	return f, nil
}

// NewMemory returns a filesystem with no source directory: only /overlay,
// in memory, exists.
func NewMemory(opts Options) *FS {
	return newBase(opts)
}

func newBase(opts Options) *FS {
	mem := filesys.MakeFsInMemory()
	_ = mem.MkdirAll(OverlayMount) // cannot fail in memory
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return &FS{mem: mem, opts: opts, ctx: ctx, overrides: map[string][]byte{}}
}

// Close releases the root directory handle.
func (f *FS) Close() error {
	if f.root == nil {
		return nil
	}
	return f.root.Close()
}

// Root gives direct access to the rooted source directory (for walking it).
// It is nil for a memory filesystem.
func (f *FS) Root() *os.Root { return f.root }

// AddOverlayFile stores an in-memory file under /overlay. name is relative
// to the overlay mount.
func (f *FS) AddOverlayFile(name string, data []byte) error {
	p := path.Join(OverlayMount, name)
	if err := f.mem.MkdirAll(path.Dir(p)); err != nil {
		return err
	}
	return f.mem.WriteFile(p, data)
}

// Override serves data as the source file rel (relative to the root, in a
// directory that exists), whether or not such a file exists on disk. The
// source itself is never written to.
func (f *FS) Override(rel string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overrides[path.Clean(rel)] = data
}

func (f *FS) override(rel string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.overrides[rel]
	return d, ok
}

// Escapes returns the escape attempts refused so far, in order.
func (f *FS) Escapes() []*PathEscapeError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*PathEscapeError(nil), f.escapes...)
}

// LimitErr returns the first limit error returned, if any.
func (f *FS) LimitErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limitErr
}

// Refusals returns every error the filesystem refused an operation with
// (escapes, limits, context, Transform and Inspect errors), in order.
// Kustomize does not always wrap, or even return, the errors of its
// filesystem (it tries several kustomization file names and ignores the
// failures), so the caller decides from this list, not from kustomize's
// error, whether something was refused.
func (f *FS) Refusals() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.refusals...)
}

func (f *FS) refuse(err error) error {
	f.mu.Lock()
	if len(f.refusals) < 16 {
		f.refusals = append(f.refusals, err)
	}
	if errors.Is(err, ErrLimit) && f.limitErr == nil {
		f.limitErr = err
	}
	f.mu.Unlock()
	return err
}

// alive fails once the context is done.
func (f *FS) alive() error {
	if err := f.ctx.Err(); err != nil {
		return f.refuse(fmt.Errorf("the build was stopped: %w", err))
	}
	return nil
}

// Stats returns the number of files and bytes read so far.
func (f *FS) Stats() (files, bytes int64) { return f.files.Load(), f.bytes.Load() }

type area int

const (
	areaSource area = iota
	areaOverlay
	areaExtra
)

// resolve maps a path of the virtual namespace to its area and, for the
// source, the slash-separated path relative to the root.
func (f *FS) resolve(p string) (area, string, error) {
	if err := f.alive(); err != nil {
		return 0, "", err
	}
	if !path.IsAbs(filepath.ToSlash(p)) {
		p = "/" + p
	}
	c := path.Clean(filepath.ToSlash(p))
	switch {
	case f.root != nil && c == SourceMount:
		return areaSource, ".", nil
	case f.root != nil && strings.HasPrefix(c, SourceMount+"/"):
		return areaSource, c[len(SourceMount)+1:], nil
	case c == OverlayMount || strings.HasPrefix(c, OverlayMount+"/"):
		return areaOverlay, c, nil
	}
	if f.opts.AllowExtra != nil && f.opts.AllowExtra(c) {
		return areaExtra, c, nil
	}
	if f.root == nil {
		return 0, "", f.escape(p, "outside the in-memory build")
	}
	return 0, "", f.escape(p, "outside the source root (kustomize sees the source at "+SourceMount+")")
}

func (f *FS) escape(p, reason string) *PathEscapeError {
	c := path.Clean(filepath.ToSlash(p))
	if rel, ok := strings.CutPrefix(c, SourceMount+"/"); ok {
		p = rel
	}
	e := &PathEscapeError{Path: p, Reason: reason}
	f.mu.Lock()
	if len(f.escapes) < 16 {
		f.escapes = append(f.escapes, e)
	}
	f.mu.Unlock()
	f.refuse(e)
	return e
}

// classify turns an os.Root error into a *PathEscapeError when the path
// leaves the root through a symlink or "..". os.Root has already refused the
// access; this only decides how to report it.
func (f *FS) classify(rel string, err error) error {
	if err != nil && f.leaves(rel) {
		return f.escape(path.Join(SourceMount, rel), "symlink resolves outside the source root")
	}
	return err
}

// leaves reports whether rel, resolved on disk, points outside the root.
func (f *FS) leaves(rel string) bool {
	// Resolve the longest existing prefix: a dangling link is judged by
	// where it points, too.
	p := filepath.Join(f.rootReal, filepath.FromSlash(rel))
	for cur := p; ; cur = filepath.Dir(cur) {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return !within(f.rootReal, r)
		}
		if t, err := os.Readlink(cur); err == nil {
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(cur), t)
			}
			return !within(f.rootReal, filepath.Clean(t))
		}
		if cur == f.rootReal || cur == filepath.Dir(cur) {
			return false
		}
	}
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// inside reports whether the real path p (already free of symlinks) is the
// root or below it, and returns it relative to the root.
func (f *FS) inside(p string) (string, bool) {
	if f.root == nil || !within(f.rootReal, p) {
		return "", false
	}
	rel, err := filepath.Rel(f.rootReal, p)
	if err != nil {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
