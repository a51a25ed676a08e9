package source_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// A GitRepository reconciler started again over the GitCache and WorkDir
// of one that stopped (gitopsd restarted) fetches only the new objects,
// and removes what the stopped one was assembling.
func TestGitRepositoryKeptCacheAcrossRestart(t *testing.T) {
	t.Parallel()
	var packBytes atomic.Int64
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				w = &countingWriter{ResponseWriter: w, n: &packBytes}
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := gittest.NewServer(t, gittest.WithMiddleware(count))
	repo := srv.InitRepository("app.git")
	files := map[string]string{}
	for i := range 100 {
		b := make([]byte, 2<<10)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("assets/%03d.txt", i)] = hex.EncodeToString(b)
	}
	repo.Commit("main", "init", files)
	root := t.TempDir()
	kept := func() harnessOption {
		cache, err := gogit.NewCache(filepath.Join(root, "repositories"))
		if err != nil {
			t.Fatal(err)
		}
		return withGit(func(r *source.GitRepositoryReconciler) {
			r.GitCache, r.WorkDir = cache, filepath.Join(root, "work")
		})
	}
	ref := func(s *sourcev1.GitRepositorySpec) { s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"} }

	first := newHarness(t, kept())
	obj := gitRepository("app", srv.HTTPURL("app.git"), ref)
	first.create(obj)
	first.ready(obj)
	fetched := packBytes.Load()
	if fetched == 0 {
		t.Fatal("the first fetch received nothing")
	}
	if err := os.MkdirAll(filepath.Join(root, "work", "assemble-123", "tree"), 0o755); err != nil {
		t.Fatal(err)
	}

	want := repo.Commit("main", "bump", map[string]string{"deploy/app.yaml": "v: 2\n"})
	packBytes.Store(0)
	second := newHarness(t, kept())
	obj2 := gitRepository("app", srv.HTTPURL("app.git"), ref)
	second.create(obj2)
	second.ready(obj2)
	if got := obj2.Status.Artifact.Revision; got != "main@sha1:"+want {
		t.Fatalf("revision %q", got)
	}
	if again := packBytes.Load(); again > fetched/10 {
		t.Errorf("after the restart the fetch received %d bytes, the first %d: want only the new objects", again, fetched)
	}
	if _, err := os.Stat(filepath.Join(root, "work", "assemble-123")); !os.IsNotExist(err) {
		t.Errorf("the stale assemble folder is still there: %v", err)
	}
	if got := readFile(t, fetchArtifact(t, obj2.Status.Artifact), "deploy/app.yaml"); got != "v: 2\n" {
		t.Errorf("artifact content %q", got)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}
