package gogit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/gitopskit/kit/git"
)

// Cache keeps one bare repository per remote URL under a root folder, so
// the next revision of a remote costs a fetch of the new objects only.
// A Cache is safe for concurrent use, and several processes may share a
// root: each repository is guarded by an in-process mutex and a flock(2).
type Cache struct {
	root  string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewCache returns a cache rooted at root (created if missing).
func NewCache(root string) (*Cache, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("cache root: %w", err)
	}
	return &Cache{root: root, locks: map[string]*sync.Mutex{}}, nil
}

// dir returns the cache folder of a remote: a hash, so a URL (which may hold
// a user name) never becomes a path.
func (c *Cache) dir(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.root, hex.EncodeToString(sum[:16])+".git")
}

// lock takes the in-process and cross-process locks of a cache repository,
// honouring ctx while waiting.
func (c *Cache) lock(ctx context.Context, dir string) (unlock func(), err error) {
	c.mu.Lock()
	m, ok := c.locks[dir]
	if !ok {
		m = &sync.Mutex{}
		c.locks[dir] = m
	}
	c.mu.Unlock()
	for !m.TryLock() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		m.Unlock()
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			m.Unlock()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			m.Unlock()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
		m.Unlock()
	}, nil
}

// open opens (or creates) the bare repository in dir. A repository that
// does not open is removed and created again.
func openCache(dir string, rebuild bool) (*filesystem.Storage, error) {
	if rebuild {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		if _, err := gogit.Open(st, nil); err == nil {
			return st, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		st = filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	}
	if _, err := gogit.Init(st, nil); err != nil {
		return nil, fmt.Errorf("init cache repository: %w", err)
	}
	return st, nil
}

// Export writes the files of the revision into dir — without a .git folder —
// fetching through the client's Cache: only objects the cache lacks cross
// the network. A cache repository that is corrupted (does not open, misses
// objects) is rebuilt from scratch. Submodules are not supported by Export;
// use Clone for them.
//
// dir must be missing, empty, or a folder an earlier Export of this cache
// wrote. In the last case Export owns dir: when dir is exactly as that
// Export left it, only the files that differ between the two revisions are
// written or removed; when anything in dir was changed (or the earlier
// revision is no longer cached), dir is emptied and written again. Either
// way dir ends up holding exactly the new revision's files. The cache keeps
// the state that makes this possible beside its repository, never inside
// dir: in full for the 16 most recently written destinations of each
// remote (older ones are rewritten whole), and as an empty owner file for
// up to 1,024 (older ones count as foreign and are refused). Exports into
// the same dir must use the same Cache and remote, one at a time.
func (c *Client) Export(ctx context.Context, dir string, opts CloneOptions) (*Result, error) {
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	if c.cache == nil {
		return nil, fmt.Errorf("%w: Export needs a client built WithCache", git.ErrInvalidOptions)
	}
	if opts.RecurseSubmodules {
		return nil, fmt.Errorf("%w: Export does not check out submodules; use Clone", git.ErrInvalidOptions)
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("url", git.RedactURL(c.url), "ref", opts.Reference.String())
	t, err := c.resolve(ctx, opts.Reference)
	if err != nil {
		return nil, err
	}
	if r := unchanged(t, opts.LastRevision); r != nil {
		return r, nil
	}
	cdir := c.cache.dir(c.url)
	unlock, err := c.cache.lock(ctx, cdir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var commit *object.Commit
	var st *filesystem.Storage
	var ex *exporter
	for attempt := 0; ; attempt++ {
		st, err = openCache(cdir, attempt > 0)
		if err == nil {
			ex, err = newExporter(ctx, st, dir, strings.TrimSuffix(cdir, ".git")+".exports", opts.SparseDirectories)
			if err == nil {
				err = ex.check()
				if err != nil {
					return nil, err
				}
			}
		}
		if err == nil {
			if err = c.fetch(ctx, st, t, opts); err == nil {
				commit, err = object.GetCommit(st, t.commit)
				if err == nil {
					err = verifyTree(st, commit)
				}
			}
		}
		if err == nil {
			break
		}
		removeTempPacks(cdir)
		if attempt > 0 || ctx.Err() != nil || errors.Is(err, git.ErrAuthentication) ||
			errors.Is(err, git.ErrHostKey) || errors.Is(err, git.ErrReferenceNotFound) ||
			errors.Is(err, git.ErrSizeLimit) {
			return nil, err
		}
		log.Info("rebuilding git cache repository", "reason", err.Error())
	}
	inPlace, err := ex.export(commit)
	if err != nil {
		return nil, err
	}
	out, err := buildCommit(st, t, commit)
	if err != nil {
		return nil, err
	}
	log.V(1).Info("exported", "revision", out.Revision(), "inPlace", inPlace)
	return &Result{Commit: out, Revision: out.Revision()}, nil
}

// verifyTree checks that the commit's root tree is present, which catches a
// cache whose objects were lost.
func verifyTree(st *filesystem.Storage, c *object.Commit) error {
	_, err := object.GetTree(st, c.TreeHash)
	return err
}
