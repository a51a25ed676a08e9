package gittest_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/git/gittest"
)

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		// git is a stated requirement (README): its absence must fail the run,
		// not hide the CLI-compatibility tests behind a skip.
		t.Fatalf("git CLI not found on PATH (a requirement of make test): %v", err)
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGitCLICloneOverHTTP(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "s3cret"))
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "first", map[string]string{"README.md": "hello\n", "deploy/app.yaml": "kind: X\n"})
	head := repo.Commit("main", "second", map[string]string{"deploy/app.yaml": "kind: Y\n"})
	repo.AnnotatedTag("v1.0.0", head, "release", nil)

	url := strings.Replace(srv.HTTPURL("app.git"), "://", "://alice:s3cret@", 1)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"full", nil},
		{"shallow", []string{"--depth", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "clone")
			gitCLI(t, ".", append(append([]string{"clone"}, tc.args...), url, dst)...)
			if got := gitCLI(t, dst, "rev-parse", "HEAD"); got != head {
				t.Fatalf("HEAD = %s, want %s", got, head)
			}
			data, err := os.ReadFile(filepath.Join(dst, "deploy/app.yaml"))
			if err != nil || string(data) != "kind: Y\n" {
				t.Fatalf("deploy/app.yaml = %q, %v", data, err)
			}
			gitCLI(t, dst, "fsck")
		})
	}
}

func TestImportRepository(t *testing.T) {
	t.Parallel()
	src := gittest.NewServer(t).InitRepository("src.git")
	first := src.Commit("main", "first", map[string]string{"a.txt": "a\n"})

	srv := gittest.NewServer(t)
	cp := srv.ImportRepository("copy.git", src.Dir())
	second := cp.Commit("main", "second", map[string]string{"a.txt": "b\n"})
	if got := src.Resolve("main"); got != first {
		t.Fatalf("a commit to the copy reached the source: main = %s", got)
	}
	if got := cp.Resolve("main"); got != second {
		t.Fatalf("copy main = %s, want %s", got, second)
	}
	if got, err := cp.ReadFile(second, "a.txt"); err != nil || got != "b\n" {
		t.Fatalf("a.txt = %q, %v", got, err)
	}
	dst := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, ".", "clone", "--quiet", srv.HTTPURL("copy.git"), dst)
	if got := gitCLI(t, dst, "log", "--format=%H"); got != second+"\n"+first {
		t.Fatalf("history = %q", got)
	}
}

func TestPack(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "first", map[string]string{"a.txt": "a\n", "d/b.txt": "b\n"})
	repo.Pack()
	head := repo.Commit("main", "second", map[string]string{"a.txt": "a2\n"})
	repo.Pack()
	loose, _ := filepath.Glob(filepath.Join(repo.Dir(), "objects", "??", "*"))
	if len(loose) != 0 {
		t.Fatalf("loose objects left: %v", loose)
	}
	dst := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, ".", "clone", "--quiet", srv.HTTPURL("app.git"), dst)
	if got := gitCLI(t, dst, "rev-parse", "HEAD"); got != head {
		t.Fatalf("HEAD = %s, want %s", got, head)
	}
	gitCLI(t, dst, "fsck")
}

func TestGitCLIFetchIntoExistingClone(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "s3cret"))
	for i, tc := range []struct {
		name  string
		clone []string
		fetch []string
	}{
		{"full", nil, nil},
		{"shallow", []string{"--depth", "1"}, nil},
		{"shallow, fetch deepening by one", []string{"--depth", "1"}, []string{"--depth", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("app%d.git", i)
			repo := srv.InitRepository(name)
			repo.Commit("main", "first", map[string]string{"README.md": "hello\n", "deploy/app.yaml": "kind: X\n"})
			repo.Commit("main", "second", map[string]string{"deploy/app.yaml": "kind: Y\n"})
			url := strings.Replace(srv.HTTPURL(name), "://", "://alice:s3cret@", 1)
			dst := filepath.Join(t.TempDir(), "clone")
			gitCLI(t, ".", append(append([]string{"clone", "--quiet"}, tc.clone...), url, dst)...)
			for i := range 3 {
				head := repo.Commit("main", "more", map[string]string{"deploy/app.yaml": fmt.Sprintf("kind: Z%d\n", i), "new.txt": tc.name})
				gitCLI(t, dst, append([]string{"fetch", "--quiet"}, tc.fetch...)...)
				if got := gitCLI(t, dst, "rev-parse", "origin/main"); got != head {
					t.Fatalf("origin/main = %s after fetch, want %s", got, head)
				}
			}
			gitCLI(t, dst, "reset", "--quiet", "--hard", "origin/main")
			data, err := os.ReadFile(filepath.Join(dst, "new.txt"))
			if err != nil || string(data) != tc.name {
				t.Fatalf("new.txt = %q, %v", data, err)
			}
			gitCLI(t, dst, "fsck", "--no-dangling")
		})
	}
}

// TestUploadPackRefusesUnservedWants asks for commits by id: git serves a
// commit a reference reaches (uploadpack.allowReachableSHA1InWant) and
// refuses any other.
func TestUploadPackRefusesUnservedWants(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	first := repo.Commit("main", "first", map[string]string{"a.txt": "a\n"})
	tip := repo.Commit("main", "second", map[string]string{"a.txt": "b\n"})
	tagged := repo.AnnotatedTag("v1", first, "release", nil)
	orphan := repo.Commit("orphan", "unreferenced", map[string]string{"secret.txt": "secret\n"})
	if err := os.Remove(filepath.Join(repo.Dir(), "refs", "heads", "orphan")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		served     bool
	}{
		{"branch tip", tip, true},
		{"annotated tag", tagged, true},
		{"reachable commit", first, true},
		{"missing object", strings.Repeat("ab", 20), false},
		{"unreferenced commit", orphan, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := pkt("want "+tc.want+" ofs-delta\n") + "0000" + pkt("done\n")
			res, err := http.Post(srv.HTTPURL("app.git")+"/git-upload-pack", "application/x-git-upload-pack-request", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			out, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			refused := strings.Contains(string(out), "ERR upload-pack: not our ref "+tc.want)
			hasPack := strings.Contains(string(out), "PACK")
			if tc.served != hasPack || tc.served == refused {
				t.Fatalf("served=%v refused=%v, want served=%v; response starts %q", hasPack, refused, tc.served, truncate(out))
			}
		})
	}
}

func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

func truncate(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}
