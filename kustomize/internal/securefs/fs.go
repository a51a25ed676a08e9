package securefs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
// configured file count or byte budget.
var ErrLimit = errors.New("read limit exceeded")

// ErrReadOnly is returned by every write operation on the source.
var ErrReadOnly = errors.New("the source filesystem is read-only")

// Transform may rewrite the content of a file read from the source (SOPS
// decryption uses it). rel is the slash-separated path relative to the source
// root. It is not called for files read through Open.
type Transform func(rel string, data []byte) ([]byte, error)

// Options configures an FS.
type Options struct {
	MaxFiles int64 // files read; <= 0 means unlimited
	MaxBytes int64 // bytes read; <= 0 means unlimited
	// AllowExtra, when set, names real absolute paths (cleaned) outside the
	// source that may be read and removed on disk. Kustomize clones remote
	// bases into temporary directories; it is nil unless the caller allowed
	// remote bases.
	AllowExtra func(cleanPath string) bool
	Transform  Transform
}

// FS implements filesys.FileSystem.
type FS struct {
	root     *os.Root
	rootReal string // the real, symlink-free absolute path of the root
	mem      filesys.FileSystem
	opts     Options

	files atomic.Int64
	bytes atomic.Int64

	mu       sync.Mutex
	escapes  []*PathEscapeError
	limitErr error
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
	mem := filesys.MakeFsInMemory()
	if err := mem.MkdirAll(OverlayMount); err != nil {
		r.Close()
		return nil, err
	}
	return &FS{root: r, rootReal: real, mem: mem, opts: opts}, nil
}

// Close releases the root directory handle.
func (f *FS) Close() error { return f.root.Close() }

// Root gives direct access to the rooted source directory (for walking it).
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

// Escapes returns the escape attempts refused so far, in order. Kustomize
// does not always wrap the errors its filesystem returns, so the caller uses
// this to report the typed error whatever kustomize did with it.
func (f *FS) Escapes() []*PathEscapeError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*PathEscapeError(nil), f.escapes...)
}

// LimitErr returns the first limit error returned, if any (kustomize does
// not always wrap errors, so callers recover the typed one here).
func (f *FS) LimitErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limitErr
}

func (f *FS) recordLimit(err error) error {
	f.mu.Lock()
	if f.limitErr == nil {
		f.limitErr = err
	}
	f.mu.Unlock()
	return err
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
	if !path.IsAbs(filepath.ToSlash(p)) {
		p = "/" + p
	}
	c := path.Clean(filepath.ToSlash(p))
	switch {
	case c == SourceMount:
		return areaSource, ".", nil
	case strings.HasPrefix(c, SourceMount+"/"):
		return areaSource, c[len(SourceMount)+1:], nil
	case c == OverlayMount || strings.HasPrefix(c, OverlayMount+"/"):
		return areaOverlay, c, nil
	}
	if f.opts.AllowExtra != nil && f.opts.AllowExtra(c) {
		return areaExtra, c, nil
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

func (f *FS) charge(n int64) error {
	if f.opts.MaxFiles > 0 && f.files.Add(1) > f.opts.MaxFiles {
		return f.recordLimit(fmt.Errorf("%w: more than %d files read", ErrLimit, f.opts.MaxFiles))
	} else if f.opts.MaxFiles <= 0 {
		f.files.Add(1)
	}
	return f.chargeBytes(n)
}

func (f *FS) chargeBytes(n int64) error {
	if t := f.bytes.Add(n); f.opts.MaxBytes > 0 && t > f.opts.MaxBytes {
		return f.recordLimit(fmt.Errorf("%w: more than %d bytes read", ErrLimit, f.opts.MaxBytes))
	}
	return nil
}

// ReadFile implements filesys.FileSystem.
func (f *FS) ReadFile(p string) ([]byte, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		return f.mem.ReadFile(rel)
	case areaExtra:
		return os.ReadFile(rel)
	}
	data, err := f.read(rel)
	if err != nil {
		return nil, err
	}
	if f.opts.Transform != nil {
		return f.opts.Transform(rel, data)
	}
	return data, nil
}

// ReadRaw reads a file of the source by its path relative to the root,
// counting it against the limits but without the Transform.
func (f *FS) ReadRaw(rel string) ([]byte, error) {
	a, r, err := f.resolve(path.Join(SourceMount, rel))
	if err != nil {
		return nil, err
	}
	if a != areaSource {
		return nil, f.escape(rel, "outside the source root")
	}
	return f.read(r)
}

func (f *FS) read(rel string) ([]byte, error) {
	file, err := f.root.Open(rel)
	if err != nil {
		return nil, f.classify(rel, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", rel)
	}
	if err := f.charge(0); err != nil {
		return nil, err
	}
	// Read through a limit so a file growing under us cannot exceed the
	// budget either.
	limit := int64(-1)
	if f.opts.MaxBytes > 0 {
		limit = f.opts.MaxBytes - f.bytes.Load() + 1
	}
	var r io.Reader = file
	if limit >= 0 {
		r = io.LimitReader(file, limit)
	}
	var buf bytes.Buffer
	if st.Size() > 0 && (limit < 0 || st.Size() < limit) {
		buf.Grow(int(st.Size()) + 1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if err := f.chargeBytes(int64(buf.Len())); err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	return buf.Bytes(), nil
}

// Open implements filesys.FileSystem.
func (f *FS) Open(p string) (filesys.File, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		return f.mem.Open(rel)
	case areaExtra:
		return os.Open(rel)
	}
	file, err := f.root.Open(rel)
	if err != nil {
		return nil, f.classify(rel, err)
	}
	if err := f.charge(0); err != nil {
		file.Close()
		return nil, err
	}
	return &countingFile{File: file, fs: f}, nil
}

type countingFile struct {
	*os.File
	fs *FS
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	if n > 0 {
		if lerr := c.fs.chargeBytes(int64(n)); lerr != nil {
			return n, lerr
		}
	}
	return n, err
}

func (c *countingFile) Write([]byte) (int, error) { return 0, ErrReadOnly }

func (f *FS) stat(p string) (fs.FileInfo, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		file, err := f.mem.Open(rel)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		return file.Stat()
	case areaExtra:
		return os.Stat(rel)
	}
	st, err := f.root.Stat(rel)
	if err != nil {
		return nil, f.classify(rel, err)
	}
	return st, nil
}

// IsDir implements filesys.FileSystem.
func (f *FS) IsDir(p string) bool {
	st, err := f.stat(p)
	return err == nil && st.IsDir()
}

// Exists implements filesys.FileSystem.
func (f *FS) Exists(p string) bool {
	_, err := f.stat(p)
	return err == nil
}

// ReadDir implements filesys.FileSystem.
func (f *FS) ReadDir(p string) ([]string, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		return f.mem.ReadDir(rel)
	case areaExtra:
		return readDirNames(os.DirFS(rel), ".")
	}
	if _, err := f.root.Stat(rel); err != nil {
		return nil, f.classify(rel, err)
	}
	return readDirNames(f.root.FS(), rel)
}

func readDirNames(fsys fs.FS, dir string) ([]string, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs implements filesys.FileSystem. Directories inside the source
// are canonicalised (symlinks resolved, within the root) as kustomize's own
// on-disk filesystem does, so its cycle detection sees through symlinks.
func (f *FS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return "", "", err
	}
	switch a {
	case areaOverlay:
		return f.mem.CleanedAbs(rel)
	case areaExtra:
		return filesys.MakeFsOnDisk().CleanedAbs(rel)
	}
	st, err := f.root.Stat(rel)
	if err != nil {
		return "", "", f.classify(rel, err)
	}
	canon := func(r string) (string, error) {
		real, err := filepath.EvalSymlinks(filepath.Join(f.rootReal, filepath.FromSlash(r)))
		if err != nil {
			return "", err
		}
		if !within(f.rootReal, real) {
			return "", f.escape(path.Join(SourceMount, r), "symlink resolves outside the source root")
		}
		inner, err := filepath.Rel(f.rootReal, real)
		if err != nil {
			return "", err
		}
		return path.Join(SourceMount, filepath.ToSlash(inner)), nil
	}
	if st.IsDir() {
		d, err := canon(rel)
		return filesys.ConfirmedDir(d), "", err
	}
	d, err := canon(path.Dir(rel))
	return filesys.ConfirmedDir(d), path.Base(rel), err
}

// Glob implements filesys.FileSystem for patterns inside the source.
func (f *FS) Glob(pattern string) ([]string, error) {
	a, rel, err := f.resolve(pattern)
	if err != nil {
		return nil, err
	}
	if a != areaSource {
		return f.mem.Glob(rel)
	}
	m, err := fs.Glob(f.root.FS(), rel)
	if err != nil {
		return nil, err
	}
	for i := range m {
		m[i] = path.Join(SourceMount, m[i])
	}
	return m, nil
}

// Walk implements filesys.FileSystem for directories inside the source.
// Symlinked directories are not descended into.
func (f *FS) Walk(p string, walkFn filepath.WalkFunc) error {
	a, rel, err := f.resolve(p)
	if err != nil {
		return err
	}
	if a != areaSource {
		return f.mem.Walk(rel, walkFn)
	}
	return fs.WalkDir(f.root.FS(), rel, func(q string, d fs.DirEntry, err error) error {
		vp := path.Join(SourceMount, q)
		if err != nil {
			return walkFn(vp, nil, err)
		}
		info, err := d.Info()
		return walkFn(vp, info, err)
	})
}

// RemoveAll is allowed only on remote-base clone directories (kustomize
// removes its clones when the build ends); everything else is read-only.
func (f *FS) RemoveAll(p string) error {
	a, rel, err := f.resolve(p)
	if err != nil {
		return err
	}
	if a == areaExtra {
		return os.RemoveAll(rel)
	}
	return ErrReadOnly
}

// Create implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) Create(string) (filesys.File, error) { return nil, ErrReadOnly }

// Mkdir implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) Mkdir(string) error { return ErrReadOnly }

// MkdirAll implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) MkdirAll(string) error { return ErrReadOnly }

// WriteFile implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) WriteFile(string, []byte) error { return ErrReadOnly }
