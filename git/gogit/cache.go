package gogit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"
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

// objectCacheSize bounds the objects a storage keeps decoded in memory:
// trees are read again (the index, in-place updates), blobs once.
const objectCacheSize = 4 << 20

// largeObject is the size from which go-git streams an object from its
// pack instead of reading it whole into memory: a checkout writes every
// blob once, so keeping none in memory saves as much as the checkout's
// size in garbage.
const largeObject = 4 << 10

// openStorage opens the repository storage in gitDir, keeping its pack
// files open until Close.
func openStorage(gitDir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{KeepDescriptors: true, LargeObjectThreshold: largeObject})
}

// open opens (or creates) the bare repository in dir. A repository that
// does not open is removed and created again; what a writer killed midway
// left (temporary packs, a pack whose index was never written) is removed
// first, as the caller holds the lock no live writer could. The caller
// closes it.
func openCache(dir string, rebuild bool) (*filesystem.Storage, error) {
	if rebuild {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	removeTempPacks(dir)
	removeUnindexedPacks(dir)
	st := openStorage(dir)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		if _, err := gogit.Open(st, nil); err == nil {
			return st, nil
		}
		st.Close()
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		st = openStorage(dir)
	}
	if _, err := gogit.Init(st, nil); err != nil {
		return nil, fmt.Errorf("init cache repository: %w", err)
	}
	return st, nil
}

// removeUnindexedPacks removes the pack files of the repository in dir
// that have no index: storePack renames a pack into place before its
// index, and go-git fails every object lookup on a pack it cannot index.
func removeUnindexedPacks(dir string) {
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "pack-*.pack"))
	for _, p := range packs {
		if _, err := os.Stat(strings.TrimSuffix(p, ".pack") + ".idx"); errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(p)
		}
	}
}

// maxPacks is the number of pack files past which a cache repository's
// small packs (one per update) are merged into one, as git gc does, so
// object lookups stay fast.
const maxPacks = 16

// consolidatePacks merges the packs of the cache repository in dir, all
// but the largest, into one pack when there are more than maxPacks.
func consolidatePacks(dir string) error {
	packDir := filepath.Join(dir, "objects", "pack")
	idxs, err := filepath.Glob(filepath.Join(packDir, "pack-*.idx"))
	if err != nil || len(idxs) <= maxPacks {
		return err
	}
	type pack struct {
		idx  string
		size int64
	}
	var packs []pack
	for _, idx := range idxs {
		info, err := os.Stat(strings.TrimSuffix(idx, ".idx") + ".pack")
		if err != nil {
			return err
		}
		packs = append(packs, pack{idx, info.Size()})
	}
	sort.Slice(packs, func(i, j int) bool { return packs[i].size > packs[j].size })
	// A base completing a thin pack may be in several packs: each object
	// goes in once.
	var hashes []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for _, p := range packs[1:] {
		f, err := os.Open(p.idx)
		if err != nil {
			return err
		}
		idx := idxfile.NewMemoryIndex()
		err = idxfile.NewDecoder(f).Decode(idx)
		f.Close()
		if err != nil {
			return err
		}
		entries, err := idx.Entries()
		if err != nil {
			return err
		}
		for {
			e, err := entries.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if !seen[e.Hash] {
				seen[e.Hash] = true
				hashes = append(hashes, e.Hash)
			}
		}
		entries.Close()
	}
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	w, err := st.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := packfile.NewEncoder(w, st, false).Encode(hashes, 10); err != nil {
		w.Close()
		removeTempPacks(dir)
		return err
	}
	if err := w.Close(); err != nil {
		removeTempPacks(dir)
		return err
	}
	for _, p := range packs[1:] {
		base := strings.TrimSuffix(p.idx, ".idx")
		for _, ext := range []string{".pack", ".idx", ".rev"} {
			if err := os.Remove(base + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
