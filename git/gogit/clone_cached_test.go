package gogit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// cachedRepo serves a repository of 200 incompressible 4 KiB files through
// a counting proxy, with a client of a fresh cache.
func cachedRepo(t testing.TB) (*gittest.Repository, *countingProxy, *gogit.Client, string) {
	return cachedRepoOf(t, 200, 4<<10)
}

// cachedRepoOf is cachedRepo with n files of size bytes.
func cachedRepoOf(t testing.TB, n, size int) (*gittest.Repository, *countingProxy, *gogit.Client, string) {
	t.Helper()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("d%d/f%03d.txt", i%10, i)] = incompressible(t, size)
	}
	repo.Commit("main", "initial", files)
	repo.Pack()
	proxy := newCountingProxy(t, srv)
	root := t.TempDir()
	cache, err := gogit.NewCache(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(proxy.URL+"/app.git", gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	return repo, proxy, c, root
}

// incompressible returns n random hex characters.
func incompressible(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// The second CloneCached of a remote fetches only the new objects, and
// what it checks out is a repository Commit and Push work on, whose
// worktree git sees as clean, and which outlives its cache.
func TestCloneCachedFetchesOnlyNewObjects(t *testing.T) {
	t.Parallel()
	repo, proxy, c, root := cachedRepo(t)
	ctx := context.Background()
	clone := func() (*gogit.Result, string) {
		t.Helper()
		proxy.bytes.Store(0)
		dir := filepath.Join(t.TempDir(), "wt")
		res, err := c.CloneCached(ctx, dir, gogit.CloneOptions{Reference: git.Reference{Branch: "main"}})
		if err != nil {
			t.Fatal(err)
		}
		return res, dir
	}
	_, dir := clone()
	first := proxy.bytes.Load()
	if first < 400<<10 {
		t.Fatalf("the first clone fetched %d bytes: the tree is larger", first)
	}
	if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
		t.Fatalf("git status after the first clone:\n%s", status)
	}
	// On the cache's file system the packs are links, not copies.
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.pack"))
	var st syscall.Stat_t
	if len(packs) == 0 || syscall.Stat(packs[0], &st) != nil || st.Nlink < 2 {
		t.Fatalf("packs %v (links %d): want hard links to the cache's", packs, st.Nlink)
	}

	want := repo.Commit("main", "one file", map[string]string{"d0/f000.txt": "changed\n"})
	res, dir := clone()
	if second := proxy.bytes.Load(); second > 4<<10 {
		t.Fatalf("the second clone fetched %d bytes (the first: %d)", second, first)
	}
	if res.Commit.Hash != want || res.Revision != "main@sha1:"+want {
		t.Fatalf("checked out %s (%s), want %s", res.Commit.Hash, res.Revision, want)
	}
	if got := readFile(t, dir, "d0/f000.txt"); got != "changed\n" {
		t.Fatalf("d0/f000.txt = %q", got)
	}
	if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
		t.Fatalf("git status after the second clone:\n%s", status)
	}

	// The worktree does not need the cache any more.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if out := gitCLI(t, dir, "fsck", "--no-dangling"); out != "" {
		t.Logf("git fsck: %s", out)
	}
	hash, err := c.Commit(ctx, dir, gogit.CommitOptions{
		Author: git.Signature{Name: "bot", Email: "bot@example.com"}, Message: "edit",
		Files: map[string][]byte{"d1/f001.txt": []byte("edited\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	proxy.bytes.Store(0)
	if err := c.Push(ctx, dir, gogit.PushOptions{RefSpecs: []string{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	if got := repo.Resolve("main"); got != hash {
		t.Fatalf("remote main is %s, want the pushed %s", got, hash)
	}
	if got, err := repo.ReadFile(hash, "d1/f001.txt"); err != nil || got != "edited\n" {
		t.Fatalf("pushed d1/f001.txt = %q, %v", got, err)
	}
}

// Every kind of git.Reference checks out through the cache as Clone
// checks it out: a branch as the current branch, anything else detached.
func TestCloneCachedReferences(t *testing.T) {
	t.Parallel()
	repo, _, c, _ := cachedRepo(t)
	ctx := context.Background()
	v1 := repo.Commit("main", "v1", map[string]string{"version.txt": "1\n"})
	repo.Tag("v1.0.0", v1)
	v2 := repo.Commit("main", "v2", map[string]string{"version.txt": "2\n"})
	repo.AnnotatedTag("v1.1.0", v2, "release 1.1.0", nil)
	v3 := repo.Commit("main", "v3", map[string]string{"version.txt": "3\n"})
	repo.SetReference("refs/pull/7/head", v3)
	repo.Commit("main", "v4", map[string]string{"version.txt": "4\n"})
	for _, tc := range []struct {
		ref            git.Reference
		commit, branch string
		revision       string
	}{
		{git.Reference{Tag: "v1.0.0"}, v1, "", "v1.0.0@sha1:" + v1},
		{git.Reference{Tag: "v1.1.0"}, v2, "", "v1.1.0@sha1:" + v2},
		{git.Reference{SemVer: ">=1.0.0 <2.0.0"}, v2, "", "v1.1.0@sha1:" + v2},
		{git.Reference{Name: "refs/pull/7/head"}, v3, "", "refs/pull/7/head@sha1:" + v3},
		{git.Reference{Commit: v1}, v1, "", "sha1:" + v1},
		{git.Reference{Branch: "main", Commit: v2}, v2, "", "main@sha1:" + v2},
	} {
		t.Run(tc.ref.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wt")
			res, err := c.CloneCached(ctx, dir, gogit.CloneOptions{Reference: tc.ref})
			if err != nil {
				t.Fatal(err)
			}
			if res.Commit.Hash != tc.commit || res.Revision != tc.revision {
				t.Fatalf("checked out %s (%s), want %s (%s)", res.Commit.Hash, res.Revision, tc.commit, tc.revision)
			}
			if head := gitCLI(t, dir, "rev-parse", "HEAD"); head != tc.commit {
				t.Fatalf("HEAD is %s", head)
			}
			if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "main")); tc.ref.Branch == "" && err == nil {
				t.Fatal("a detached checkout has a main branch")
			}
			if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
				t.Fatalf("git status:\n%s", status)
			}
			// A new branch from the detached commit commits and pushes.
			if err := c.SwitchBranch(ctx, dir, "auto-"+tc.commit[:8], true); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := c.CloneCached(ctx, t.TempDir(), gogit.CloneOptions{Reference: git.Reference{Tag: "v9"}}); !errors.Is(err, git.ErrReferenceNotFound) {
		t.Fatalf("a missing tag: %v", err)
	}
}

// A cache repository left broken (as by a process killed while writing
// it: objects gone, a pack without its index, a half-written temporary
// pack, a garbage HEAD) does not break the next CloneCached.
func TestCloneCachedSurvivesABrokenCache(t *testing.T) {
	t.Parallel()
	repo, _, c, root := cachedRepo(t)
	ctx := context.Background()
	if _, err := c.CloneCached(ctx, filepath.Join(t.TempDir(), "1"), gogit.CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	breakages := []struct {
		name  string
		apply func(t *testing.T, cdir string)
	}{
		{"objects lost", func(t *testing.T, cdir string) {
			objs, _ := filepath.Glob(filepath.Join(cdir, "objects", "*"))
			for _, o := range objs {
				if err := os.RemoveAll(o); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"index lost, temporary pack left", func(t *testing.T, cdir string) {
			idxs, _ := filepath.Glob(filepath.Join(cdir, "objects", "pack", "*.idx"))
			for _, i := range idxs {
				os.Remove(i)
			}
			if err := os.WriteFile(filepath.Join(cdir, "objects", "pack", "tmp_pack_123"), []byte("PACK\x00\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage HEAD", func(t *testing.T, cdir string) {
			if err := os.WriteFile(filepath.Join(cdir, "HEAD"), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, b := range breakages {
		cdirs, _ := filepath.Glob(filepath.Join(root, "*.git"))
		if len(cdirs) != 1 {
			t.Fatalf("cache repositories: %v", cdirs)
		}
		b.apply(t, cdirs[0])
		want := repo.Commit("main", b.name, map[string]string{"broken.txt": b.name})
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		res, err := c.CloneCached(ctx, dir, gogit.CloneOptions{})
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if res.Commit.Hash != want || readFile(t, dir, "broken.txt") != b.name {
			t.Fatalf("%s: checked out %s", b.name, res.Commit.Hash)
		}
		if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
			t.Fatalf("%s: git status:\n%s", b.name, status)
		}
	}
}

// CloneCached needs a cache and refuses what it does not do.
func TestCloneCachedRefuses(t *testing.T) {
	t.Parallel()
	_, _, c, _ := cachedRepo(t)
	ctx := context.Background()
	if _, err := c.CloneCached(ctx, t.TempDir(), gogit.CloneOptions{RecurseSubmodules: true}); !errors.Is(err, git.ErrInvalidOptions) {
		t.Errorf("submodules: %v", err)
	}
	plain, err := gogit.New("https://example.com/x.git")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CloneCached(ctx, t.TempDir(), gogit.CloneOptions{}); !errors.Is(err, git.ErrInvalidOptions) {
		t.Errorf("no cache: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloneCached(ctx, dir, gogit.CloneOptions{}); !errors.Is(err, git.ErrInvalidOptions) {
		t.Errorf("a folder not empty: %v", err)
	}
}

// BenchmarkCloneCached compares, for repositories of 200 files × 4 KiB
// and 2,000 files × 2 KiB with one file changed per iteration, a fresh
// shallow Clone with a CloneCached whose cache holds the previous
// revision: wall time and pack bytes received per clone.
func BenchmarkCloneCached(b *testing.B) {
	for _, bc := range []struct {
		files, size int
		cached      bool
	}{{200, 4 << 10, false}, {200, 4 << 10, true}, {2000, 2 << 10, false}, {2000, 2 << 10, true}} {
		name := fmt.Sprintf("files=%d/fresh-clone", bc.files)
		if bc.cached {
			name = fmt.Sprintf("files=%d/cached", bc.files)
		}
		cached := bc.cached
		b.Run(name, func(b *testing.B) {
			repo, proxy, c, _ := cachedRepoOf(b, bc.files, bc.size)
			ctx := context.Background()
			if _, err := c.CloneCached(ctx, filepath.Join(b.TempDir(), "warm"), gogit.CloneOptions{}); err != nil {
				b.Fatal(err)
			}
			var bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				repo.Commit("main", "change", map[string]string{"d0/f000.txt": fmt.Sprint("change ", i)})
				dir := filepath.Join(b.TempDir(), "wt")
				proxy.bytes.Store(0)
				b.StartTimer()
				var err error
				if cached {
					_, err = c.CloneCached(ctx, dir, gogit.CloneOptions{})
				} else {
					_, err = c.Clone(ctx, dir, gogit.CloneOptions{})
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				bytes += proxy.bytes.Load()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "B-fetched/op")
		})
	}
}

// A worktree on another file system than the cache gets copies of the
// cache's packs (a hard link is impossible there) and works the same.
func TestCloneCachedAcrossFileSystems(t *testing.T) {
	t.Parallel()
	_, _, c, root := cachedRepo(t)
	other, err := os.MkdirTemp("/dev/shm", "gitopskit-clonecached-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	var a, b syscall.Stat_t
	if syscall.Stat(root, &a) != nil || syscall.Stat(other, &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the file system of the test's temporary folder")
	}
	dir := filepath.Join(other, "wt")
	res, err := c.CloneCached(context.Background(), dir, gogit.CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.pack"))
	var st syscall.Stat_t
	if len(packs) == 0 || syscall.Stat(packs[0], &st) != nil || st.Nlink != 1 {
		t.Fatalf("packs %v: want copies (one link each)", packs)
	}
	if head := gitCLI(t, dir, "rev-parse", "HEAD"); head != res.Commit.Hash {
		t.Fatalf("HEAD %s, want %s", head, res.Commit.Hash)
	}
	if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
		t.Fatalf("git status:\n%s", status)
	}
}
