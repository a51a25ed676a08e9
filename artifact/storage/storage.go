//go:build unix

package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrInvalidName is returned for a kind, namespace, name or file name
	// that is not a single safe path element, or an artifact path that is
	// not "<kind>/<namespace>/<name>/<file>".
	ErrInvalidName = errors.New("invalid artifact name")
	// ErrNotFound is returned when an artifact file does not exist.
	ErrNotFound = errors.New("artifact not found")
	// ErrSizeMismatch is returned by Verify when the file size differs
	// from the artifact's.
	ErrSizeMismatch = errors.New("artifact size mismatch")
)

const (
	lockFile     = ".lock"
	tmpPrefix    = ".tmp-"
	maxElemLen   = 253
	digestCacheN = 10_000
)

// Key identifies an artifact's directory.
type Key struct {
	Kind      string
	Namespace string
	Name      string
}

// String returns "<kind>/<namespace>/<name>".
func (k Key) String() string { return k.Kind + "/" + k.Namespace + "/" + k.Name }

// Validate checks that each part is a safe path element.
func (k Key) Validate() error {
	for _, e := range []string{k.Kind, k.Namespace, k.Name} {
		if err := validElem(e); err != nil {
			return err
		}
	}
	return nil
}

func validElem(e string) error {
	if e == "" || len(e) > maxElemLen || e[0] == '.' || strings.ContainsAny(e, "/\\") {
		return fmt.Errorf("%w: %q", ErrInvalidName, trunc(e))
	}
	for i := 0; i < len(e); i++ {
		if e[i] < 0x20 || e[i] == 0x7f {
			return fmt.Errorf("%w: %q", ErrInvalidName, trunc(e))
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// splitPath parses "<kind>/<namespace>/<name>/<file>".
func splitPath(p string) (Key, string, error) {
	parts := strings.Split(p, "/")
	if len(parts) != 4 {
		return Key{}, "", fmt.Errorf("%w: path %q is not <kind>/<namespace>/<name>/<file>", ErrInvalidName, trunc(p))
	}
	k := Key{Kind: parts[0], Namespace: parts[1], Name: parts[2]}
	if err := k.Validate(); err != nil {
		return Key{}, "", err
	}
	if err := validElem(parts[3]); err != nil {
		return Key{}, "", err
	}
	return k, parts[3], nil
}

// Storage is a directory of artifacts. It is safe for concurrent use by
// several goroutines and several processes sharing the directory.
type Storage struct {
	root    string
	baseURL string

	mu    sync.Mutex
	locks map[string]*keyLock

	cacheMu sync.Mutex
	cache   map[string]cachedDigest
}

type cachedDigest struct {
	size   int64
	mtime  time.Time
	ino    uint64
	digest artifact.Digest
}

// Option configures a Storage.
type Option func(*Storage)

// WithBaseURL sets the URL under which the storage is served, e.g.
// "http://source-controller.flux-system.svc.cluster.local". Artifact URLs are
// this URL followed by the artifact's path. Default: "http://localhost".
func WithBaseURL(u string) Option {
	return func(s *Storage) { s.baseURL = strings.TrimSuffix(u, "/") }
}

// New returns a Storage rooted at root, creating the directory if needed.
func New(root string, opts ...Option) (*Storage, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s := &Storage{root: abs, baseURL: "http://localhost", locks: map[string]*keyLock{}, cache: map[string]cachedDigest{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Root returns the absolute path of the storage directory.
func (s *Storage) Root() string { return s.root }

// URL returns the HTTP address of an artifact path.
func (s *Storage) URL(artifactPath string) string {
	parts := strings.Split(artifactPath, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return s.baseURL + "/" + strings.Join(parts, "/")
}

func (s *Storage) dir(k Key) string {
	return filepath.Join(s.root, k.Kind, k.Namespace, k.Name)
}

// LocalPath returns the file system path of an artifact after validating its
// Path.
func (s *Storage) LocalPath(a artifact.Artifact) (string, error) {
	k, file, err := splitPath(a.Path)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir(k), file), nil
}

// Archive packs dir into a reproducible tar.gz (see package archive), stores
// it as "<digest-hex>.tar.gz" in the key's directory and returns the
// Artifact. Storing the same content again is idempotent.
func (s *Storage) Archive(ctx context.Context, key Key, dir, revision string, opts archive.Options) (artifact.Artifact, error) {
	var res archive.Result
	a, err := s.write(ctx, key, "", revision, func(w io.Writer) (artifact.Digest, int64, error) {
		var err error
		res, err = archive.Build(ctx, w, dir, opts)
		return res.Digest, res.Size, err
	})
	if err != nil {
		return artifact.Artifact{}, err
	}
	if len(res.Skipped) > 0 {
		logr.FromContextOrDiscard(ctx).Info("entries left out of the archive", "artifact", a.Path, "skipped", res.Skipped)
	}
	return a, nil
}

// Store writes the content of r as file in the key's directory, replacing any
// file of that name atomically, and returns the Artifact with its sha256
// digest.
func (s *Storage) Store(ctx context.Context, key Key, file string, r io.Reader, revision string) (artifact.Artifact, error) {
	if err := validElem(file); err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	return s.write(ctx, key, file, revision, func(w io.Writer) (artifact.Digest, int64, error) {
		d, err := artifact.NewDigester()
		if err != nil {
			return "", 0, err
		}
		n, err := io.Copy(io.MultiWriter(w, d), ctxReader{ctx, r})
		return d.Digest(artifact.Canonical), n, err
	})
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// write runs fill into a temporary file under the key's lock and renames it
// to file (or "<digest-hex>.tar.gz" when file is empty).
func (s *Storage) write(ctx context.Context, key Key, file, revision string, fill func(io.Writer) (artifact.Digest, int64, error)) (artifact.Artifact, error) {
	if err := key.Validate(); err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		return artifact.Artifact{}, err
	}
	defer unlock()
	dir := s.dir(key)
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		tmp.Close()
		os.Remove(tmpName) // no-op after a successful rename
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	digest, size, err := fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: write %s: %w", key, err)
	}
	if file == "" {
		file = digest.Hex() + ".tar.gz"
	}
	final := filepath.Join(dir, file)
	if err := os.Rename(tmpName, final); err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	fi, err := os.Stat(final)
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("storage: %w", err)
	}
	p := path.Join(key.Kind, key.Namespace, key.Name, file)
	s.remember(p, fi, digest)
	return artifact.Artifact{
		Path:           p,
		URL:            s.URL(p),
		Revision:       revision,
		Digest:         digest,
		LastUpdateTime: metav1.NewTime(fi.ModTime()),
		Size:           &size,
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// File is an open artifact file with its metadata.
type File struct {
	*os.File
	Info   fs.FileInfo
	Digest artifact.Digest
}

// Open opens the artifact file at path "<kind>/<namespace>/<name>/<file>" for
// reading and returns it with its sha256 digest, computed once per file
// version and cached. Anything but a regular file is ErrNotFound.
func (s *Storage) Open(ctx context.Context, artifactPath string) (*File, error) {
	if _, _, err := splitPath(artifactPath); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(artifactPath))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, artifactPath)
		}
		return nil, fmt.Errorf("storage: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, artifactPath)
	}
	d, ok := s.cached(artifactPath, fi)
	if !ok {
		d, err = artifact.FromReader(ctxReader{ctx, f}, artifact.Canonical)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: digest %s: %w", artifactPath, err)
		}
		s.remember(artifactPath, fi, d)
	}
	return &File{File: f, Info: fi, Digest: d}, nil
}

// Lookup returns the stored artifact file for key and file, with its path,
// URL, digest, size and modification time; Revision and Metadata are not
// stored and are left empty.
func (s *Storage) Lookup(ctx context.Context, key Key, file string) (artifact.Artifact, error) {
	p := path.Join(key.Kind, key.Namespace, key.Name, file)
	f, err := s.Open(ctx, p)
	if err != nil {
		return artifact.Artifact{}, err
	}
	defer f.Close()
	size := f.Info.Size()
	return artifact.Artifact{
		Path:           p,
		URL:            s.URL(p),
		Digest:         f.Digest,
		LastUpdateTime: metav1.NewTime(f.Info.ModTime()),
		Size:           &size,
	}, nil
}

// Verify re-hashes the artifact's file and compares it with a.Digest (and
// a.Size when set). A digest mismatch is an *artifact.DigestMismatchError.
func (s *Storage) Verify(ctx context.Context, a artifact.Artifact) error {
	p, err := s.LocalPath(a)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, a.Path)
		}
		return fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	if a.Size != nil {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if fi.Size() != *a.Size {
			return fmt.Errorf("storage: %s: %w: %d bytes on disk, %d expected", a.Path, ErrSizeMismatch, fi.Size(), *a.Size)
		}
	}
	if err := artifact.Verify(ctxReader{ctx, f}, a.Digest); err != nil {
		return fmt.Errorf("storage: verify %s: %w", a.Path, err)
	}
	return nil
}

// Exists reports whether the artifact's file is present.
func (s *Storage) Exists(a artifact.Artifact) bool {
	p, err := s.LocalPath(a)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Remove deletes every file and directory of the key, under its lock. The
// lock file itself stays: unlinking a lock file that another process may be
// waiting on would let two holders lock different inodes.
func (s *Storage) Remove(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	dir := s.dir(key)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	// The lock file goes last: it is what we hold.
	for _, e := range ents {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		s.forget(path.Join(key.Kind, key.Namespace, key.Name, e.Name()))
	}
	return nil
}

// GCOptions bounds a garbage collection. The zero value keeps the current
// artifact and one other, with no age limit, for at most 30 seconds.
type GCOptions struct {
	// Keep is how many artifacts to keep, the current one included; 0
	// means 2. Less than 1 is treated as 1: the current artifact is never
	// deleted.
	Keep int
	// MaxAge deletes artifacts last modified longer ago than this, even
	// within Keep; 0 means no age limit.
	MaxAge time.Duration
	// Timeout bounds the collection; 0 means 30 seconds.
	Timeout time.Duration
}

// GC deletes old files in the directory of current, never current itself,
// and temporary files left by interrupted writers. It returns the paths
// deleted, which are partial if the context or timeout ends the collection.
func (s *Storage) GC(ctx context.Context, current artifact.Artifact, opts GCOptions) ([]string, error) {
	key, curFile, err := splitPath(current.Path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	keep := opts.Keep
	if keep == 0 {
		keep = 2
	}
	keep = max(keep, 1)
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()

	dir := s.dir(key)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	type cand struct {
		name  string
		mtime time.Time
	}
	var cands []cand
	var doomed []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == lockFile || n == curFile:
		case strings.HasPrefix(n, tmpPrefix):
			doomed = append(doomed, n) // under the lock, no writer owns it
		case strings.HasPrefix(n, ".") || !e.Type().IsRegular():
		default:
			fi, err := e.Info()
			if err != nil {
				continue
			}
			cands = append(cands, cand{n, fi.ModTime()})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := b.mtime.Compare(a.mtime); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	now := time.Now()
	for i, c := range cands {
		if i >= keep-1 || (opts.MaxAge > 0 && now.Sub(c.mtime) > opts.MaxAge) {
			doomed = append(doomed, c.name)
		}
	}
	var deleted []string
	for _, n := range doomed {
		if err := ctx.Err(); err != nil {
			return deleted, fmt.Errorf("storage: gc %s: %w", key, err)
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return deleted, fmt.Errorf("storage: gc %s: %w", key, err)
		}
		p := path.Join(key.Kind, key.Namespace, key.Name, n)
		s.forget(p)
		deleted = append(deleted, p)
	}
	return deleted, nil
}

func (s *Storage) remember(p string, fi fs.FileInfo, d artifact.Digest) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.cache) >= digestCacheN {
		clear(s.cache)
	}
	s.cache[p] = cachedDigest{size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi), digest: d}
}

func (s *Storage) forget(p string) {
	s.cacheMu.Lock()
	delete(s.cache, p)
	s.cacheMu.Unlock()
}

func (s *Storage) cached(p string, fi fs.FileInfo) (artifact.Digest, bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c, ok := s.cache[p]
	if !ok || c.size != fi.Size() || !c.mtime.Equal(fi.ModTime()) || c.ino != inode(fi) {
		return "", false
	}
	return c.digest, true
}
