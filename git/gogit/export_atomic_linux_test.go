package gogit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// siblings lists what is beside dir other than dir itself: a staging
// folder left over would show here.
func siblings(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestExportFailureLeavesNothing: an Export that fails — a limit crossed,
// an unsafe path deep in the tree, its deadline — leaves its destination
// as it was (missing, empty, or the previous export, which a later Export
// still updates in place), and nothing beside it.
func TestExportFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range 200 {
		many[fmt.Sprintf("many/f%03d.txt", i)] = fmt.Sprint(i)
	}
	failures := []struct {
		name   string
		commit func(r *gittest.Repository) string
		opts   gogit.CloneOptions
		want   error
	}{
		{"past MaxFiles", func(r *gittest.Repository) string { return r.Commit("main", "many", many) },
			gogit.CloneOptions{MaxFiles: 100}, git.ErrSizeLimit},
		{"past MaxCheckoutSize", func(r *gittest.Repository) string {
			return r.Commit("main", "big", map[string]string{"big.txt": strings.Repeat("x", 64<<10)})
		}, gogit.CloneOptions{MaxCheckoutSize: 32 << 10}, git.ErrSizeLimit},
		{"an escaping link after many files", func(r *gittest.Repository) string {
			files := map[string]string{"zzz/evil": "../../../etc"}
			for k, v := range many {
				files[k] = v
			}
			return r.Commit("main", "evil", files, gittest.Symlinks("zzz/evil"))
		}, gogit.CloneOptions{}, git.ErrUnsafePath},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for _, start := range []string{"missing", "empty", "previous export"} {
				e := newExportEnv(t)
				first := e.repo.Commit("main", "first", map[string]string{"a.txt": "a", "d/b.txt": "b"})
				dir := filepath.Join(t.TempDir(), "out")
				switch start {
				case "empty":
					if err := os.Mkdir(dir, 0o755); err != nil {
						t.Fatal(err)
					}
				case "previous export":
					e.export(t, dir, first, gogit.CloneOptions{})
				}
				before := map[string]string{}
				if start != "missing" {
					before = snapshot(t, dir)
				}
				f.commit(e.repo)
				_, err := e.c.Export(context.Background(), dir, f.opts)
				if !errors.Is(err, f.want) {
					t.Fatalf("from %s: err = %v, want %v", start, err, f.want)
				}
				if start == "missing" {
					if _, err := os.Lstat(dir); !os.IsNotExist(err) {
						t.Fatalf("from %s: the destination exists after a failed Export", start)
					}
				} else if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
					t.Fatalf("from %s: a failed Export changed the destination:\n%s", start, diff)
				}
				if s := siblings(t, dir); len(s) != 0 {
					t.Fatalf("from %s: a failed Export left %v beside the destination", start, s)
				}
				if start == "previous export" {
					next := e.repo.Commit("main", "fine", map[string]string{"a.txt": "a2"}, gittest.Deleting("many", "zzz", "big.txt"))
					if !e.export(t, dir, next, gogit.CloneOptions{}) {
						t.Fatalf("the export after a failed one was not in place")
					}
				}
			}
		})
	}
}

// TestExportDeadlineLeavesNothing: an Export stopped by its deadline in
// the middle of writing a git bomb leaves nothing, in place or whole.
func TestExportDeadlineLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t)
	first := e.repo.Commit("main", "first", map[string]string{"a.txt": "a"})
	dir := filepath.Join(t.TempDir(), "out")
	e.export(t, dir, first, gogit.CloneOptions{})
	before := snapshot(t, dir)
	raw := newRawRepo(t, e.repo)
	raw.commit("main", raw.bomb(10, 6))
	fresh := filepath.Join(t.TempDir(), "fresh")
	for _, into := range []string{dir, fresh} {
		_, err := e.c.Export(context.Background(), into, gogit.CloneOptions{MaxFiles: -1, MaxCheckoutSize: -1, Timeout: time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if s := siblings(t, into); len(s) != 0 {
			t.Fatalf("a stopped Export left %v beside %s", s, into)
		}
	}
	if got := entriesOf(t, fresh); len(got) != 0 {
		t.Fatalf("a stopped Export left %d entries", len(got))
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Fatalf("a stopped in-place update changed the destination:\n%s", diff)
	}
}
