package gogit_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// snapshot describes a folder for comparison: path → "dir", "link:<target>"
// or "<perm>:<content>".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			out[rel] = "dir"
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link:" + target
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%o:%s", info.Mode().Perm(), data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

type exportEnv struct {
	srv   *gittest.Server
	repo  *gittest.Repository
	cache *gogit.Cache
	c     *gogit.Client
}

func newExportEnv(t *testing.T) *exportEnv {
	t.Helper()
	e := &exportEnv{srv: gittest.NewServer(t)}
	e.repo = e.srv.InitRepository("app.git")
	var err error
	if e.cache, err = gogit.NewCache(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if e.c, err = gogit.New(e.srv.HTTPURL("app.git"), gogit.WithCache(e.cache)); err != nil {
		t.Fatal(err)
	}
	return e
}

// export exports HEAD into dir, checks the commit, and reports whether
// the export was in place, as Export logs it.
func (e *exportEnv) export(t *testing.T, dir, want string, opts gogit.CloneOptions) (inPlace bool) {
	t.Helper()
	var logged string
	log := funcr.New(func(_, args string) {
		if strings.Contains(args, `"inPlace"`) {
			logged = args
		}
	}, funcr.Options{Verbosity: 1})
	res, err := e.c.Export(logr.NewContext(context.Background(), log), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Hash != want {
		t.Fatalf("exported %s, want %s", res.Commit.Hash, want)
	}
	if logged == "" {
		t.Fatal("Export did not log whether it updated in place")
	}
	return strings.Contains(logged, `"inPlace"=true`)
}

// step is one commit of the in-place test: its files, deletions and modes.
type step struct {
	files   map[string]string
	deletes []string
	exec    []string
	links   []string
}

// steps walk an export through every kind of change: add, modify, delete,
// exec bit on and off, symlink retarget, symlink↔file, file↔dir, a deep
// folder chain removed, and (sparse) a folder left with excluded files only.
var steps = []step{
	{files: map[string]string{
		"stable.txt": "never changes\n", "mod.txt": "v1\n", "del.txt": "bye\n",
		"bin/tool": "#!/bin/sh\n", "link": "mod.txt", "s2f": "stable.txt", "f2s": "plain\n",
		"f2d": "file\n", "d2f/inner.txt": "inner\n", "deep/a/b/c.txt": "deep\n",
		"sub/keep.txt": "keep\n", "sub/x/y.txt": "y\n", "deep/keep.txt": "outside the sparse dirs\n",
	}, links: []string{"link", "s2f"}},
	{files: map[string]string{
		"mod.txt": "v2, longer\n", "bin/tool": "#!/bin/sh\n", "link": "stable.txt",
		"s2f": "now a file\n", "f2s": "sub/keep.txt", "f2d/child.txt": "child\n", "d2f": "now a file\n",
		"new/added.txt": "added\n", "sub/x/y.txt": "y2\n",
	}, deletes: []string{"del.txt", "deep/a/b/c.txt"}, exec: []string{"bin/tool"}, links: []string{"link", "f2s"}},
	{files: map[string]string{
		"bin/tool": "#!/bin/sh\n", "f2d": "file again\n", "d2f/inner.txt": "dir again\n",
		"deep/z.txt": "z\n", "sub/x/y.txt": "y3\n",
	}, deletes: []string{"new/added.txt", "sub/keep.txt"}},
}

func (s step) commit(r *gittest.Repository, msg string) string {
	return r.Commit("main", msg, s.files, gittest.Deleting(s.deletes...), gittest.Executable(s.exec...), gittest.Symlinks(s.links...))
}

func TestExportInPlaceMatchesFreshExport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sparse []string
	}{
		{name: "whole tree"},
		{name: "sparse", sparse: []string{"sub", "deep/a/"}}, // deep/ is left empty by step 1
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newExportEnv(t)
			opts := gogit.CloneOptions{SparseDirectories: tc.sparse}
			dir := filepath.Join(t.TempDir(), "out")
			var stable uint64
			for i, s := range steps {
				head := s.commit(e.repo, fmt.Sprintf("step %d", i))
				inPlace := e.export(t, dir, head, opts)
				if inPlace != (i > 0) {
					t.Fatalf("step %d: in place = %v", i, inPlace)
				}
				fresh := filepath.Join(t.TempDir(), "fresh")
				e.export(t, fresh, head, opts)
				if diff := cmp.Diff(snapshot(t, fresh), snapshot(t, dir)); diff != "" {
					t.Fatalf("step %d: in-place export differs from a fresh one (-fresh +in place):\n%s", i, diff)
				}
				if tc.sparse != nil {
					continue
				}
				// The untouched file was left alone: the update was in place.
				ino := inode(t, filepath.Join(dir, "stable.txt"))
				if i > 0 && ino != stable {
					t.Fatalf("step %d: stable.txt was rewritten; want an in-place update", i)
				}
				stable = ino
			}
		})
	}
}

func TestExportTamperedDestinationIsRewritten(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(dir string) error
	}{
		{"same-size edit right after export", func(d string) error {
			return os.WriteFile(filepath.Join(d, "mod.txt"), []byte("XX\n"), 0o644)
		}},
		{"longer edit", func(d string) error {
			return os.WriteFile(filepath.Join(d, "mod.txt"), []byte("edited by hand\n"), 0o644)
		}},
		{"chmod", func(d string) error { return os.Chmod(filepath.Join(d, "mod.txt"), 0o755) }},
		{"added file", func(d string) error { return os.WriteFile(filepath.Join(d, "extra.txt"), nil, 0o644) }},
		{"added empty folder", func(d string) error { return os.Mkdir(filepath.Join(d, "extra"), 0o755) }},
		{"deleted file", func(d string) error { return os.Remove(filepath.Join(d, "del.txt")) }},
		{"file replaced by a link", func(d string) error {
			p := filepath.Join(d, "del.txt")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("/etc/passwd", p)
		}},
		{"link retargeted", func(d string) error {
			p := filepath.Join(d, "link")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("del.txt", p)
		}},
		{"file replaced, same content", func(d string) error {
			p := filepath.Join(d, "mod.txt")
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, data, 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newExportEnv(t)
			dir := filepath.Join(t.TempDir(), "out")
			first := steps[0].commit(e.repo, "first")
			e.export(t, dir, first, gogit.CloneOptions{})
			if err := tc.tamper(dir); err != nil {
				t.Fatal(err)
			}
			// The same revision again repairs the folder.
			if e.export(t, dir, first, gogit.CloneOptions{}) {
				t.Fatal("a tampered folder was updated in place")
			}
			fresh := filepath.Join(t.TempDir(), "fresh")
			e.export(t, fresh, first, gogit.CloneOptions{})
			if diff := cmp.Diff(snapshot(t, fresh), snapshot(t, dir)); diff != "" {
				t.Fatalf("same revision after tampering (-want +got):\n%s", diff)
			}
			// And so does a new revision.
			if err := tc.tamper(dir); err != nil {
				t.Fatal(err)
			}
			second := steps[1].commit(e.repo, "second")
			if e.export(t, dir, second, gogit.CloneOptions{}) {
				t.Fatal("a tampered folder was updated in place")
			}
			fresh2 := filepath.Join(t.TempDir(), "fresh2")
			e.export(t, fresh2, second, gogit.CloneOptions{})
			if diff := cmp.Diff(snapshot(t, fresh2), snapshot(t, dir)); diff != "" {
				t.Fatalf("new revision after tampering (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExportRefusesForeignFolder(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t)
	head := steps[0].commit(e.repo, "first")
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine.txt")
	if err := os.WriteFile(mine, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Export(context.Background(), dir, gogit.CloneOptions{})
	if !errors.Is(err, git.ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
	if got := readFile(t, dir, "mine.txt"); got != "keep me" {
		t.Fatalf("a folder Export did not write was changed: %q", got)
	}
	// A folder exported by another cache is foreign too.
	out := filepath.Join(t.TempDir(), "out")
	e.export(t, out, head, gogit.CloneOptions{})
	other := newExportEnv(t)
	other.repo.Commit("main", "x", map[string]string{"x": "x"})
	if _, err := other.c.Export(context.Background(), out, gogit.CloneOptions{}); !errors.Is(err, git.ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
}

func TestExportRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/etc/passwd", "../outside", "sub/../../outside", "l/..", "l/../x", "a\x00b"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			e := newExportEnv(t)
			e.repo.Commit("main", "evil", map[string]string{"l": ".", "evil": target}, gittest.Symlinks("l", "evil"))
			_, err := e.c.Export(context.Background(), filepath.Join(t.TempDir(), "out"), gogit.CloneOptions{})
			if !errors.Is(err, git.ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
		})
	}
	e := newExportEnv(t)
	head := e.repo.Commit("main", "fine", map[string]string{"d/l": "../x", "d/m": "./../d/l", "x": "x"}, gittest.Symlinks("d/l", "d/m"))
	out := filepath.Join(t.TempDir(), "out")
	e.export(t, out, head, gogit.CloneOptions{})
	if got := readFile(t, out, "d/m"); got != "x" {
		t.Fatalf("d/m -> d/l -> x reads %q", got)
	}
}

func TestExportManyDestinations(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t)
	head := e.repo.Commit("main", "first", map[string]string{"a.txt": "a"})
	root := t.TempDir()
	dirs := make([]string, 20) // more than the 16 full states kept per remote
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprint(i))
		e.export(t, dirs[i], head, gogit.CloneOptions{})
		// Distinct modification times order the states.
		time.Sleep(10 * time.Millisecond)
	}
	next := e.repo.Commit("main", "second", map[string]string{"a.txt": "b"})
	// The oldest folders lost their full state: still Export's own, so
	// they are rewritten whole, not refused.
	if e.export(t, dirs[0], next, gogit.CloneOptions{}) {
		t.Fatal("a folder whose state was dropped was updated in place")
	}
	if !e.export(t, dirs[len(dirs)-1], next, gogit.CloneOptions{}) {
		t.Fatal("the most recent folder was not updated in place")
	}
	for _, d := range []string{dirs[0], dirs[len(dirs)-1]} {
		if got := readFile(t, d, "a.txt"); got != "b" {
			t.Fatalf("%s/a.txt = %q", d, got)
		}
	}
}
