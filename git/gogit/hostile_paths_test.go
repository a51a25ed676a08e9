package gogit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// escapingLinks are trees whose links resolve outside the checkout, keyed
// by what the test calls them; outside is a folder next to the checkout
// that must never be written. Every link is named so that writing
// "<link>/pwned" (or "<link>" itself) would land in outside.
func escapingLinks(outside string) map[string]map[string]string {
	// The checkout is <base>/src and outside is <base>/outside.
	return map[string]map[string]string{
		"absolute":                 {"x": outside},
		"climbing":                 {"x": "../outside"},
		"climbing three levels":    {"x": "../../" + filepath.Base(filepath.Dir(outside)) + "/outside"},
		"chain d->. then x->d/..":  {"d": ".", "x": "d/../outside"},
		"link to a linked folder":  {"up": "..", "x": "up/outside"},
		"absolute file target":     {"x": filepath.Join(outside, "victim.txt")},
		"climbing through subpath": {"sub/x": "../../outside"},
	}
}

// repoFor names a repository after a test case.
func repoFor(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:6]) + ".git"
}

func newOutside(t *testing.T, base string) string {
	t.Helper()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "victim.txt"), []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	return outside
}

func checkOutsideUntouched(t *testing.T, outside string) {
	t.Helper()
	if got := entriesOf(t, outside); len(got) != 1 || got[0] != "victim.txt" {
		t.Errorf("the folder outside the checkout was written: %v", got)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "victim.txt")); string(data) != "untouched" {
		t.Errorf("victim.txt outside the checkout = %q", data)
	}
}

// TestCloneRefusesEscapingSymlinks: by default Clone creates no link that
// resolves outside the worktree, in any spelling, and leaves nothing.
func TestCloneRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	for name := range escapingLinks("/nonexistent/outside") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			outside := newOutside(t, base)
			links := escapingLinks(outside)[name]
			repo := srv.InitRepository(repoFor(name))
			files := map[string]string{"README.md": "hi\n"}
			var paths []string
			for p, target := range links {
				files[p] = target
				paths = append(paths, p)
			}
			repo.Commit("main", "links", files, gittest.Symlinks(paths...))
			c, err := gogit.New(srv.HTTPURL(repo.Name()))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(base, "src")
			_, err = c.Clone(context.Background(), dir, gogit.CloneOptions{})
			if !errors.Is(err, git.ErrUnsafePath) {
				t.Fatalf("Clone err = %v, want ErrUnsafePath", err)
			}
			if got := entriesOf(t, dir); len(got) != 0 {
				t.Fatalf("a refused clone left %v", got)
			}
			checkOutsideUntouched(t, outside)
		})
	}
}

// TestCommitNeverWritesThroughEscapingSymlinks clones with the links the
// caller asked for (AllowEscapingSymlinks), then has Commit write through
// every one of them: each write is refused and nothing outside changes.
func TestCommitNeverWritesThroughEscapingSymlinks(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	for name := range escapingLinks("/nonexistent/outside") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			outside := newOutside(t, base)
			links := escapingLinks(outside)[name]
			repo := srv.InitRepository(repoFor(name))
			files := map[string]string{"README.md": "hi\n", "inside/keep.txt": "in\n", "in-link": "inside"}
			paths := []string{"in-link"}
			for p, target := range links {
				files[p] = target
				paths = append(paths, p)
			}
			repo.Commit("main", "links", files, gittest.Symlinks(paths...))
			c, err := gogit.New(srv.HTTPURL(repo.Name()))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(base, "src")
			ctx := context.Background()
			if _, err := c.Clone(ctx, dir, gogit.CloneOptions{AllowEscapingSymlinks: true}); err != nil {
				t.Fatal(err)
			}
			author := git.Signature{Name: "bot", Email: "bot@example.com"}
			for p, target := range links {
				if target == "." {
					continue // a link inside, which the escaping one goes through
				}
				for _, target := range []string{p, p + "/pwned", p + "/victim.txt", p + "/deeper/pwned"} {
					_, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: author, Message: "x", Files: map[string][]byte{target: []byte("pwned")}})
					if !errors.Is(err, git.ErrUnsafePath) {
						t.Errorf("Commit through %s (%s): err = %v, want ErrUnsafePath", target, p, err)
					}
				}
			}
			checkOutsideUntouched(t, outside)
			// A link that stays inside may be written through.
			if _, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: author, Message: "in", Files: map[string][]byte{"in-link/new.txt": []byte("ok")}}); err != nil {
				t.Fatalf("Commit through a link inside the worktree: %v", err)
			}
			if got := readFile(t, dir, "inside/new.txt"); got != "ok" {
				t.Fatalf("inside/new.txt = %q", got)
			}
		})
	}
}

func TestCommitRefusesUnsafePaths(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"a.txt": "a"})
	c, err := gogit.New(srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "src")
	ctx := context.Background()
	if _, err := c.Clone(ctx, dir, gogit.CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../escape", "a/../../escape", "/tmp/abs", ".git/config", ".GIT/hooks/x", "sub/.git/x", "", "a//b", "./a", "a\x00b", `a\..\b`} {
		_, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: git.Signature{Name: "a", Email: "a@b"}, Files: map[string][]byte{p: []byte("x")}})
		if !errors.Is(err, git.ErrUnsafePath) {
			t.Errorf("Commit(%q): err = %v, want ErrUnsafePath", p, err)
		}
	}
	if got := entriesOf(t, base); len(got) != 1+len(entriesOf(t, dir)) {
		t.Errorf("something was written beside the worktree: %v", got)
	}
}

// TestSwitchBranchRefusesEscapingSymlinks: a branch with a link that
// leads out cannot be switched to, and the worktree is left as it was.
func TestSwitchBranchRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	base := repo.Commit("main", "init", map[string]string{"a.txt": "a", "d/b.txt": "b"})
	repo.Branch("evil", base)
	repo.Commit("evil", "empty d", nil, gittest.Deleting("d/b.txt"))
	repo.Commit("evil", "evil", map[string]string{"d": "/etc"}, gittest.Symlinks("d"))
	repo.Branch("fine", base)
	repo.Commit("fine", "fine", map[string]string{"c.txt": "c"}, gittest.Deleting("a.txt"))
	c, err := gogit.New(srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	ctx := context.Background()
	if _, err := c.Clone(ctx, dir, gogit.CloneOptions{Reference: git.Reference{Branch: "main"}, Full: true}); err != nil {
		t.Fatal(err)
	}
	fetchBranch(t, srv, dir, "evil", "fine")
	before := snapshot(t, dir)
	if err := c.SwitchBranch(ctx, dir, "evil", false); !errors.Is(err, git.ErrUnsafePath) {
		t.Fatalf("SwitchBranch err = %v, want ErrUnsafePath", err)
	}
	after := snapshot(t, dir)
	for p := range after {
		if strings.HasPrefix(p, ".git") {
			delete(after, p)
			delete(before, p)
		}
	}
	if len(before) != len(after) || after["d/b.txt"] != before["d/b.txt"] {
		t.Fatalf("a refused switch changed the worktree: %v -> %v", before, after)
	}
	if err := c.SwitchBranch(ctx, dir, "fine", false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dir, "c.txt"); got != "c" {
		t.Fatalf("c.txt = %q after switching", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.txt")); !os.IsNotExist(err) {
		t.Fatalf("a.txt survived the switch: %v", err)
	}
	h, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: git.Signature{Name: "a", Email: "a@b"}, Message: "on fine", Files: map[string][]byte{"e.txt": []byte("e")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, dir, gogit.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := repo.ReadFile(h, "c.txt"); got != "c" || repo.Resolve("fine") != h {
		t.Fatalf("pushed fine = %s, c.txt = %q", repo.Resolve("fine"), got)
	}
	if _, err := repo.ReadFile(h, "a.txt"); err == nil {
		t.Fatal("the commit on fine brought a.txt back: the index was not switched")
	}
}

// fetchBranch makes branches of the server known in the clone at dir, as
// refs/heads/<branch>, with the git CLI.
func fetchBranch(t *testing.T, srv *gittest.Server, dir string, branches ...string) {
	t.Helper()
	for _, b := range branches {
		gitCLI(t, dir, "fetch", "--quiet", srv.HTTPURL("app.git"), "+refs/heads/"+b+":refs/heads/"+b)
	}
}

// TestDuplicateTreeEntriesRefused: a tree naming one path twice (which no
// git tool writes) is refused by Clone and Export alike.
func TestDuplicateTreeEntriesRefused(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("dup.git")
	raw := newRawRepo(t, repo)
	a, b := raw.blob("first\n"), raw.blob("second\n")
	raw.commit("main", raw.tree(
		object.TreeEntry{Name: "config.yaml", Mode: filemode.Regular, Hash: a},
		object.TreeEntry{Name: "config.yaml", Mode: filemode.Regular, Hash: b},
	))
	cache, err := gogit.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(srv.HTTPURL("dup.git"), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(context.Context, string, gogit.CloneOptions) (*gogit.Result, error){"Clone": c.Clone, "Export": c.Export} {
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := f(context.Background(), dir, gogit.CloneOptions{}); !errors.Is(err, git.ErrUnsafePath) {
			t.Errorf("%s err = %v, want ErrUnsafePath", name, err)
		}
		if got := entriesOf(t, dir); len(got) != 0 {
			t.Errorf("%s left %v", name, got)
		}
	}
}

// TestUnsafeNamesRefused: names git itself refuses, written raw.
func TestUnsafeNamesRefused(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	// (A NUL cannot be written into a tree: it ends the name.)
	for i, name := range []string{"..", ".", ".git", ".GiT", "a/b", `a\b`} {
		repo := srv.InitRepository("n" + string(rune('0'+i)) + ".git")
		raw := newRawRepo(t, repo)
		blob := raw.blob("x\n")
		inner := raw.tree(object.TreeEntry{Name: "config", Mode: filemode.Regular, Hash: blob})
		raw.commit("main", raw.tree(object.TreeEntry{Name: "sub", Mode: filemode.Dir, Hash: raw.tree(object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: inner})}))
		cache, _ := gogit.NewCache(t.TempDir())
		c, err := gogit.New(srv.HTTPURL(repo.Name()), gogit.WithCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		for op, f := range map[string]func(context.Context, string, gogit.CloneOptions) (*gogit.Result, error){"Clone": c.Clone, "Export": c.Export} {
			dir := filepath.Join(t.TempDir(), "out")
			if _, err := f(context.Background(), dir, gogit.CloneOptions{}); !errors.Is(err, git.ErrUnsafePath) {
				t.Errorf("%s of a tree naming %q: err = %v, want ErrUnsafePath", op, name, err)
			}
			if got := entriesOf(t, dir); len(got) != 0 {
				t.Errorf("%s left %v", op, got)
			}
		}
	}
}
