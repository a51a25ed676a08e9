package gittest_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/kit/git/gittest"
)

// WithMiddleware sees every smart-HTTP request: here it fails the
// clones while failing is set, and git sees the server's 500.
func TestWithMiddleware(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	var seen atomic.Int32
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			if failing.Load() {
				http.Error(w, "injected", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	head := srv.InitRepository("app.git").Commit("main", "first", map[string]string{"README.md": "hello\n"})

	failing.Store(true)
	cmd := exec.Command("git", "clone", srv.HTTPURL("app.git"), filepath.Join(t.TempDir(), "clone"))
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "500") {
		t.Fatalf("clone through a failing middleware: err=%v\n%s", err, out)
	}

	failing.Store(false)
	dst := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, ".", "clone", srv.HTTPURL("app.git"), dst)
	if got := gitCLI(t, dst, "rev-parse", "HEAD"); got != head {
		t.Fatalf("HEAD = %s, want %s", got, head)
	}
	if seen.Load() < 3 {
		t.Fatalf("the middleware saw %d requests, want every one (>= 3)", seen.Load())
	}
}
