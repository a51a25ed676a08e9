package gogit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

type fixture struct {
	srv                          *gittest.Server
	repo                         *gittest.Repository
	main, dev, pr, v1, v11, v2rc string
	v1tag                        string
}

func newFixture(t *testing.T, opts ...gittest.Option) *fixture {
	t.Helper()
	f := &fixture{srv: gittest.NewServer(t, opts...)}
	f.repo = f.srv.InitRepository("app.git")
	f.v1 = f.repo.Commit("main", "v1", map[string]string{"README.md": "v1\n", "deploy/app.yaml": "v: 1\n", "docs/a.md": "a\n"})
	f.v1tag = f.repo.AnnotatedTag("v1.0.0", f.v1, "release 1.0.0", nil)
	f.repo.Tag("1.0.0", f.v1) // same version as v1.0.0, different name
	f.v11 = f.repo.Commit("main", "v1.1", map[string]string{"deploy/app.yaml": "v: 1.1\n"})
	f.repo.Tag("v1.1.0", f.v11)
	f.v2rc = f.repo.Commit("main", "v2 rc", map[string]string{"deploy/app.yaml": "v: 2-rc\n"})
	f.repo.Tag("v2.0.0-rc.1", f.v2rc)
	f.main = f.repo.Commit("main", "tip", map[string]string{"deploy/app.yaml": "v: tip\n"})
	f.repo.Branch("dev", f.v1)
	f.repo.Branch("pr", f.v1)
	f.dev = f.repo.Commit("dev", "dev work", map[string]string{"dev.txt": "dev\n"})
	f.pr = f.repo.Commit("pr", "pull request", map[string]string{"pr.txt": "pr\n"})
	f.repo.SetReference("refs/pull/1/head", f.pr)
	return f
}

func TestCloneReferences(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name     string
		ref      git.Reference
		full     bool
		wantHash string
		wantRev  string
		wantFile string // deploy/app.yaml content
		wantTag  string
	}{
		{name: "remote HEAD", wantHash: f.main, wantRev: "main@sha1:" + f.main, wantFile: "v: tip\n"},
		{name: "branch", ref: git.Reference{Branch: "dev"}, wantHash: f.dev, wantRev: "dev@sha1:" + f.dev, wantFile: "v: 1\n"},
		{name: "annotated tag", ref: git.Reference{Tag: "v1.0.0"}, wantHash: f.v1, wantRev: "v1.0.0@sha1:" + f.v1, wantFile: "v: 1\n", wantTag: "v1.0.0"},
		{name: "lightweight tag", ref: git.Reference{Tag: "v1.1.0"}, wantHash: f.v11, wantRev: "v1.1.0@sha1:" + f.v11, wantFile: "v: 1.1\n"},
		{name: "semver excludes prereleases", ref: git.Reference{SemVer: ">=1.0.0"}, wantHash: f.v11, wantRev: "v1.1.0@sha1:" + f.v11, wantFile: "v: 1.1\n"},
		{name: "semver with prerelease", ref: git.Reference{SemVer: ">=1.0.0-0"}, wantHash: f.v2rc, wantRev: "v2.0.0-rc.1@sha1:" + f.v2rc, wantFile: "v: 2-rc\n"},
		{name: "semver tie is deterministic", ref: git.Reference{SemVer: "~1.0"}, wantHash: f.v1, wantRev: "1.0.0@sha1:" + f.v1, wantFile: "v: 1\n"},
		{name: "pull request ref", ref: git.Reference{Name: "refs/pull/1/head"}, wantHash: f.pr, wantRev: "refs/pull/1/head@sha1:" + f.pr, wantFile: "v: 1\n"},
		{name: "commit only", ref: git.Reference{Commit: f.v11}, wantHash: f.v11, wantRev: "sha1:" + f.v11, wantFile: "v: 1.1\n"},
		{name: "commit on branch", ref: git.Reference{Branch: "main", Commit: f.v11}, wantHash: f.v11, wantRev: "main@sha1:" + f.v11, wantFile: "v: 1.1\n"},
		{name: "commit beats tag", ref: git.Reference{Tag: "v1.0.0", Commit: f.v11}, wantHash: f.v11, wantRev: "sha1:" + f.v11, wantFile: "v: 1.1\n"},
		{name: "full history", ref: git.Reference{Branch: "main"}, full: true, wantHash: f.main, wantRev: "main@sha1:" + f.main, wantFile: "v: tip\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := gogit.New(f.srv.HTTPURL("app.git"))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "src")
			res, err := c.Clone(context.Background(), dir, gogit.CloneOptions{Reference: tc.ref, Full: tc.full})
			if err != nil {
				t.Fatal(err)
			}
			if res.Commit.Hash != tc.wantHash || res.Revision != tc.wantRev {
				t.Errorf("got %s %s, want %s %s", res.Commit.Hash, res.Revision, tc.wantHash, tc.wantRev)
			}
			if got := readFile(t, dir, "deploy/app.yaml"); got != tc.wantFile {
				t.Errorf("deploy/app.yaml = %q, want %q", got, tc.wantFile)
			}
			var gotTag string
			if res.Commit.ReferencingTag != nil {
				gotTag = res.Commit.ReferencingTag.Name
			}
			if gotTag != tc.wantTag {
				t.Errorf("referencing tag = %q, want %q", gotTag, tc.wantTag)
			}
			if res.Commit.Author.Email != "test@gitopskit.dev" || res.Commit.Message == "" || len(res.Commit.Encoded) == 0 {
				t.Errorf("commit metadata incomplete: %+v", res.Commit)
			}
			// The clone is a repository git itself accepts: pack, index,
			// shallow file, worktree index.
			gitCLI(t, dir, "fsck", "--no-dangling")
			if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
				t.Errorf("git status of a fresh clone: %q", status)
			}
		})
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func TestCloneErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.InitRepository("empty.git")
	cases := []struct {
		name string
		repo string
		ref  git.Reference
		want error
	}{
		{"missing branch", "app.git", git.Reference{Branch: "nope"}, git.ErrReferenceNotFound},
		{"missing tag", "app.git", git.Reference{Tag: "v9"}, git.ErrReferenceNotFound},
		{"no semver match", "app.git", git.Reference{SemVer: ">=5"}, git.ErrReferenceNotFound},
		{"bad semver", "app.git", git.Reference{SemVer: "not a range"}, git.ErrInvalidOptions},
		{"missing ref name", "app.git", git.Reference{Name: "refs/pull/9/head"}, git.ErrReferenceNotFound},
		{"missing commit", "app.git", git.Reference{Commit: strings.Repeat("ab", 20)}, git.ErrReferenceNotFound},
		{"short commit", "app.git", git.Reference{Commit: "abc"}, git.ErrInvalidOptions},
		{"empty repository", "empty.git", git.Reference{}, git.ErrEmptyRepository},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := gogit.New(f.srv.HTTPURL(tc.repo))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Clone(context.Background(), t.TempDir(), gogit.CloneOptions{Reference: tc.ref})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCloneNoOp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c, err := gogit.New(f.srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	res, err := c.Clone(ctx, filepath.Join(dir, "1"), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Clone(ctx, filepath.Join(dir, "2"), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}, LastRevision: res.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.Revision != res.Revision {
		t.Fatalf("want unchanged %s, got %+v", res.Revision, again)
	}
	if _, err := os.Stat(filepath.Join(dir, "2")); !os.IsNotExist(err) {
		t.Fatalf("an unchanged remote must not be cloned: %v", err)
	}
	next := f.repo.Commit("main", "new", map[string]string{"new.txt": "x"})
	changed, err := c.Clone(ctx, filepath.Join(dir, "3"), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}, LastRevision: res.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Unchanged || changed.Commit.Hash != next {
		t.Fatalf("want new commit %s, got %+v", next, changed)
	}
	rev, err := c.Resolve(ctx, git.Reference{Branch: "main"})
	if err != nil || rev != "main@sha1:"+next {
		t.Fatalf("Resolve = %q, %v", rev, err)
	}
}

func TestCloneSparse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c, err := gogit.New(f.srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	if _, err := c.Clone(context.Background(), dir, gogit.CloneOptions{SparseDirectories: []string{"deploy"}}); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, dir); !cmp.Equal(got, []string{"deploy/app.yaml"}) {
		t.Fatalf("sparse checkout files = %v", got)
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCloneSubmodulesBehindAuth(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("bot", "pa55word"))
	lib := srv.InitRepository("lib.git")
	inner := srv.InitRepository("inner.git")
	innerHead := inner.Commit("main", "inner", map[string]string{"inner.txt": "deep\n"})
	lib.Commit("main", "lib", map[string]string{"lib.go": "package lib\n"})
	libHead := lib.Submodule("main", "vendor/inner", "../inner.git", innerHead)
	app := srv.InitRepository("app.git")
	app.Commit("main", "app", map[string]string{"main.go": "package main\n"})
	app.Submodule("main", "third_party/lib", "../lib.git", libHead)

	c, err := gogit.New(srv.HTTPURL("app.git"), gogit.WithAuth(git.AuthOptions{Username: "bot", Password: "pa55word", CA: srv.CA()}))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	if _, err := c.Clone(context.Background(), dir, gogit.CloneOptions{RecurseSubmodules: true}); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"main.go":                                "package main\n",
		"third_party/lib/lib.go":                 "package lib\n",
		"third_party/lib/vendor/inner/inner.txt": "deep\n",
	} {
		if got := readFile(t, dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestExportIncrementalConcurrent(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repos := []*gittest.Repository{srv.InitRepository("a.git"), srv.InitRepository("b.git")}
	for i, r := range repos {
		r.Commit("main", "first", map[string]string{"f.txt": "first", "bin/run.sh": "#!/bin/sh\n"}, gittest.Executable("bin/run.sh"))
		_ = i
	}
	cache, err := gogit.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	export := func(name string) (*gogit.Result, string, error) {
		c, err := gogit.New(srv.HTTPURL(name), gogit.WithCache(cache))
		if err != nil {
			return nil, "", err
		}
		dir := filepath.Join(t.TempDir(), "out")
		res, err := c.Export(ctx, dir, gogit.CloneOptions{})
		return res, dir, err
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		var want [2]string
		for i, r := range repos {
			want[i] = r.Commit("main", "round", map[string]string{"f.txt": r.Name() + string(rune('0'+round))})
		}
		for i, r := range repos {
			for range 3 { // several exports of the same repository race for its lock
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, dir, err := export(r.Name())
					if err != nil {
						t.Error(err)
						return
					}
					if res.Commit.Hash != want[i] {
						t.Errorf("%s: got %s want %s", r.Name(), res.Commit.Hash, want[i])
					}
					if got := readFile(t, dir, "f.txt"); got != r.Name()+string(rune('0'+round)) {
						t.Errorf("%s: f.txt = %q", r.Name(), got)
					}
					if fi, err := os.Stat(filepath.Join(dir, "bin/run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
						t.Errorf("bin/run.sh not executable: %v", err)
					}
				}()
			}
		}
		wg.Wait()
	}
}

func TestExportRebuildsCorruptedCache(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("a.git")
	repo.Commit("main", "first", map[string]string{"f.txt": "1"})
	root := t.TempDir()
	cache, err := gogit.NewCache(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(srv.HTTPURL("a.git"), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Export(ctx, filepath.Join(t.TempDir(), "1"), gogit.CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	// Lose every object of the cached repository, keeping its references.
	objs, _ := filepath.Glob(filepath.Join(root, "*.git", "objects", "*"))
	for _, o := range objs {
		if err := os.RemoveAll(o); err != nil {
			t.Fatal(err)
		}
	}
	want := repo.Commit("main", "second", map[string]string{"f.txt": "2"})
	dir := filepath.Join(t.TempDir(), "2")
	res, err := c.Export(ctx, dir, gogit.CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Hash != want || readFile(t, dir, "f.txt") != "2" {
		t.Fatalf("got %s / %q", res.Commit.Hash, readFile(t, dir, "f.txt"))
	}
	// A cache whose HEAD is garbage is rebuilt too.
	heads, _ := filepath.Glob(filepath.Join(root, "*.git", "HEAD"))
	for _, h := range heads {
		_ = os.WriteFile(h, []byte("garbage"), 0o644)
	}
	if _, err := c.Export(ctx, filepath.Join(t.TempDir(), "3"), gogit.CloneOptions{}); err != nil {
		t.Fatal(err)
	}
}
