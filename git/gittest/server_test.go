package gittest_test

import (
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
		t.Skip("git CLI not installed")
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
