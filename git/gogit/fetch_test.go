package gogit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// TestUpdateFetchesOnlyNewObjects counts the pack bytes the kept cache
// receives from git http-backend: the first export takes the tree, an
// update takes about the change — across the shallow boundary, and with a
// delta against a blob the cache already has (a thin pack, completed
// locally).
func TestUpdateFetchesOnlyNewObjects(t *testing.T) {
	t.Parallel()
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			t.Parallel()
			srv := gittest.NewServer(t)
			repo := srv.InitRepository("app.git")
			files := map[string]string{"big.txt": randomHex(t, 64<<10)}
			for i := range 300 {
				files[fmt.Sprintf("d%d/f%03d.txt", i%10, i)] = randomHex(t, 4<<10)
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
			dir := filepath.Join(t.TempDir(), "out")
			opts := gogit.CloneOptions{Full: full}
			export := func() {
				t.Helper()
				proxy.bytes.Store(0)
				if _, err := c.Export(context.Background(), dir, opts); err != nil {
					t.Fatal(err)
				}
			}
			export()
			first := proxy.bytes.Load()
			if first < 600<<10 {
				t.Fatalf("the first export fetched %d bytes: the tree is larger", first)
			}

			repo.Commit("main", "one file", map[string]string{"d0/f000.txt": "changed\n"})
			export()
			if one := proxy.bytes.Load(); one > 4<<10 {
				t.Fatalf("an update of one small file fetched %d bytes (the first export: %d)", one, first)
			}
			if got := readFile(t, dir, "d0/f000.txt"); got != "changed\n" {
				t.Fatalf("d0/f000.txt = %q", got)
			}

			for i := range 10 {
				repo.Commit("main", "more", map[string]string{fmt.Sprintf("d%d/f%03d.txt", i, 100+i): fmt.Sprint("change ", i)})
			}
			export()
			if ten := proxy.bytes.Load(); ten > 16<<10 {
				t.Fatalf("an update of ten commits fetched %d bytes", ten)
			}

			// A small edit of a large file: across the shallow boundary git
			// sends a delta against the blob the cache holds (a thin pack,
			// completed here). In a full fetch git sends the blob whole,
			// to its own CLI too.
			big := files["big.txt"] + "one more line\n"
			repo.Commit("main", "append", map[string]string{"big.txt": big})
			export()
			bound := int64(8 << 10)
			if full {
				bound = 48 << 10
			}
			if delta := proxy.bytes.Load(); delta > bound {
				t.Fatalf("a one-line edit of a 64 KiB file fetched %d bytes", delta)
			}
			if got := readFile(t, dir, "big.txt"); got != big {
				t.Fatalf("big.txt after a thin-pack update has %d bytes, want %d", len(got), len(big))
			}

			// Many updates leave a bounded number of pack files.
			for i := range 24 {
				repo.Commit("main", "tick", map[string]string{"tick.txt": fmt.Sprint(i)})
				export()
			}
			packs, _ := filepath.Glob(filepath.Join(root, "*.git", "objects", "pack", "*.pack"))
			if len(packs) > 17 {
				t.Fatalf("%d pack files after 28 updates", len(packs))
			}
			if got := readFile(t, dir, "tick.txt"); got != "23" {
				t.Fatalf("tick.txt = %q", got)
			}
			// The packs and indexes we wrote are what git expects.
			gitDirs, _ := filepath.Glob(filepath.Join(root, "*.git"))
			gitCLI(t, ".", "--git-dir="+gitDirs[0], "fsck", "--no-dangling", "--strict")
		})
	}
}

// TestUpdateOverSSH: the same negotiation (haves, shallow boundary, thin
// packs) through git-upload-pack over SSH.
func TestUpdateOverSSH(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithSSH())
	repo := srv.InitRepository("app.git")
	big := randomHex(t, 64<<10)
	repo.Commit("main", "initial", map[string]string{"big.txt": big, "a.txt": "a"})
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	id, pub := identity(t, key, "")
	srv.AuthorizeKey(pub)
	cache, _ := gogit.NewCache(t.TempDir())
	c, err := gogit.New(srv.SSHURL("app.git"), gogit.WithAuth(git.AuthOptions{Identity: id, KnownHosts: srv.KnownHosts()}), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	for i := range 3 {
		big += fmt.Sprintf("line %d\n", i)
		if i > 0 {
			repo.Commit("main", "append", map[string]string{"big.txt": big})
		} else {
			repo.Commit("main", "append", map[string]string{"big.txt": big, "a.txt": "b"})
		}
		if _, err := c.Export(context.Background(), dir, gogit.CloneOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, dir, "big.txt"); got != big {
			t.Fatalf("update %d: big.txt has %d bytes, want %d", i, len(got), len(big))
		}
	}
}
