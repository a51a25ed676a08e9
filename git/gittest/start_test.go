package gittest_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/git/gittest"
)

// TestStart checks the server a program starts without a test: it serves a
// stock git client, accepts a push, and Close stops it and removes its
// repositories.
func TestStart(t *testing.T) {
	t.Parallel()
	srv, err := gittest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	repo := srv.InitRepository("app.git")
	first := repo.Commit("main", "first", map[string]string{"app.yaml": "kind: X\n"})

	dst := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, ".", "clone", srv.HTTPURL("app.git"), dst)
	if got := gitCLI(t, dst, "rev-parse", "HEAD"); got != first {
		t.Fatalf("cloned HEAD = %s, want %s", got, first)
	}
	if err := os.WriteFile(filepath.Join(dst, "app.yaml"), []byte("kind: Y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, dst, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "second")
	gitCLI(t, dst, "push", "-q", "origin", "main")
	pushed := gitCLI(t, dst, "rev-parse", "HEAD")
	if got := repo.Resolve("main"); got != pushed {
		t.Fatalf("server main = %s after push, want %s", got, pushed)
	}

	root := srv.Root()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("repositories folder still there after Close: %v", err)
	}
	if resp, err := http.Get(srv.HTTPURL("app.git") + "/info/refs?service=git-upload-pack"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Close: %s", resp.Status)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestStartHelperPanics checks that a helper failure on a Server from Start,
// which has no test to fail, is a panic carrying the reason.
func TestStartHelperPanics(t *testing.T) {
	t.Parallel()
	srv, err := gittest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || err.Error() != `gittest: invalid repository name "no-suffix"` {
			t.Fatalf("recovered %v, want an error naming the invalid repository", r)
		}
	}()
	srv.InitRepository("no-suffix")
	t.Fatal("InitRepository accepted an invalid name")
}
