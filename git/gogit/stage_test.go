package gogit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// TestCloneStagedBlobs: a fresh clone writes the blobs as the pack
// streams in and renames them into place; what comes out is what git
// checks out, whatever a blob's shape: one content at several paths,
// a content that is both a regular and an executable file, a link whose
// target is a file's content, a blob too large to stage, an empty one;
// a sparse clone (which stages nothing) checks out the same; nothing of
// the stage is left.
func TestCloneStagedBlobs(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	large := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	repo.Commit("main", "shapes", map[string]string{
		"a.txt":          "same\n",
		"dir/b.txt":      "same\n",
		"dir/sub/c.txt":  "same\n",
		"run.sh":         "same\n",
		"link":           "a.txt",
		"target.txt":     "a.txt",
		"large.bin":      large,
		"empty":          "",
		"other/x.txt":    "outside\n",
		"other/same.txt": "same\n",
	}, gittest.Executable("run.sh"), gittest.Symlinks("link"))
	c, err := gogit.New(srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sparse := range [][]string{nil, {"dir"}} {
		dir := filepath.Join(t.TempDir(), "src")
		if _, err := c.Clone(context.Background(), dir, gogit.CloneOptions{SparseDirectories: sparse}); err != nil {
			t.Fatal(err)
		}
		gitCLI(t, dir, "fsck", "--no-dangling")
		if status := gitCLI(t, dir, "status", "--porcelain"); status != "" {
			t.Errorf("sparse %v: git status: %q", sparse, status)
		}
		if sparse == nil {
			for name, want := range map[string]string{"a.txt": "same\n", "dir/sub/c.txt": "same\n", "run.sh": "same\n", "target.txt": "a.txt", "large.bin": large, "empty": ""} {
				if got := readFile(t, dir, name); got != want {
					t.Errorf("%s: %d bytes, want %d", name, len(got), len(want))
				}
			}
			if info, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || info.Mode().Perm()&0o111 == 0 {
				t.Errorf("run.sh: %v, %v", info, err)
			}
			if info, err := os.Lstat(filepath.Join(dir, "a.txt")); err != nil || info.Mode().Perm()&0o111 != 0 {
				t.Errorf("a.txt: %v, %v", info, err)
			}
			if target, err := os.Readlink(filepath.Join(dir, "link")); err != nil || target != "a.txt" {
				t.Errorf("link -> %q, %v", target, err)
			}
		} else if _, err := os.Lstat(filepath.Join(dir, "other")); !os.IsNotExist(err) {
			t.Errorf("sparse clone wrote other/: %v", err)
		}
		gitEntries, err := os.ReadDir(filepath.Join(dir, ".git"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range gitEntries {
			if strings.Contains(e.Name(), "stage") {
				t.Errorf("left in .git: %s", e.Name())
			}
		}
	}
}
