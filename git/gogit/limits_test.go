package gogit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// bigRepo serves a repository holding 256 KiB of incompressible content.
func bigRepo(t *testing.T) (*gittest.Server, string) {
	t.Helper()
	srv := gittest.NewServer(t)
	buf := make([]byte, 128<<10)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	head := srv.InitRepository("big.git").Commit("main", "big", map[string]string{"blob.hex": hex.EncodeToString(buf)})
	return srv, head
}

func TestFetchSizeLimit(t *testing.T) {
	t.Parallel()
	srv, head := bigRepo(t)
	root := t.TempDir()
	cache, err := gogit.NewCache(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(srv.HTTPURL("big.git"), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	small := gogit.CloneOptions{MaxFetchSize: 64 << 10}

	if _, err := c.Clone(ctx, filepath.Join(t.TempDir(), "clone"), small); !errors.Is(err, git.ErrSizeLimit) {
		t.Fatalf("Clone err = %v, want ErrSizeLimit", err)
	}
	if _, err := c.Export(ctx, filepath.Join(t.TempDir(), "export"), small); !errors.Is(err, git.ErrSizeLimit) {
		t.Fatalf("Export err = %v, want ErrSizeLimit", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(root, "*", "objects", "pack", "tmp_pack_*")); len(tmps) > 0 {
		t.Fatalf("a refused pack was left in the cache: %v", tmps)
	}
	// The cache still works, and the default limit lets the same fetch in.
	for name, f := range map[string]func(context.Context, string, gogit.CloneOptions) (*gogit.Result, error){
		"Clone": c.Clone, "Export": c.Export,
	} {
		res, err := f(ctx, filepath.Join(t.TempDir(), "ok"), gogit.CloneOptions{})
		if err != nil || res.Commit.Hash != head {
			t.Fatalf("%s with the default limit: %v", name, err)
		}
	}
}

func TestFetchSizeLimitOverSSH(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithSSH())
	buf := make([]byte, 128<<10)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	srv.InitRepository("big.git").Commit("main", "big", map[string]string{"blob.hex": hex.EncodeToString(buf)})
	_, key := must(ed25519.GenerateKey(rand.Reader))
	id, pub := identity(t, key, "")
	srv.AuthorizeKey(pub)
	c, err := gogit.New(srv.SSHURL("big.git"), gogit.WithAuth(git.AuthOptions{Identity: id, KnownHosts: srv.KnownHosts()}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Clone(context.Background(), filepath.Join(t.TempDir(), "c"), gogit.CloneOptions{MaxFetchSize: 64 << 10})
	if !errors.Is(err, git.ErrSizeLimit) {
		t.Fatalf("err = %v, want ErrSizeLimit", err)
	}
}

// stallingProxy forwards reference listings to srv but holds every pack
// request (fetch or push) until the client goes away, as a hung server would.
func stallingProxy(t *testing.T, srv *gittest.Server) string {
	t.Helper()
	target, err := url.Parse(srv.HTTPURL(""))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "-pack") {
			// Read the request so the server notices the client leaving.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute): // never hang the test binary
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL
}

func TestTimeoutsAndCancellation(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "first", map[string]string{"a.txt": "a"})
	stalled := stallingProxy(t, srv) + "/app.git"

	// A clone to push from, taken straight from the server.
	direct, err := gogit.New(srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	if _, err := direct.Clone(context.Background(), work, gogit.CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Commit(context.Background(), work, gogit.CommitOptions{
		Author: git.Signature{Name: "bot", Email: "bot@example.com"}, Message: "change",
		Files: map[string][]byte{"a.txt": []byte("b")},
	}); err != nil {
		t.Fatal(err)
	}

	cache, err := gogit.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(stalled, gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	const d = 200 * time.Millisecond
	withDeadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), d)
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"Clone, ctx deadline", func() error {
			ctx, cancel := withDeadline()
			defer cancel()
			_, err := c.Clone(ctx, filepath.Join(t.TempDir(), "c"), gogit.CloneOptions{})
			return err
		}},
		{"Clone, Timeout", func() error {
			_, err := c.Clone(context.Background(), filepath.Join(t.TempDir(), "c"), gogit.CloneOptions{Timeout: d})
			return err
		}},
		{"Export, ctx deadline", func() error {
			ctx, cancel := withDeadline()
			defer cancel()
			_, err := c.Export(ctx, filepath.Join(t.TempDir(), "e"), gogit.CloneOptions{})
			return err
		}},
		{"Export, Timeout", func() error {
			_, err := c.Export(context.Background(), filepath.Join(t.TempDir(), "e"), gogit.CloneOptions{Timeout: d})
			return err
		}},
		{"Push, ctx deadline", func() error {
			ctx, cancel := withDeadline()
			defer cancel()
			return c.Push(ctx, work, gogit.PushOptions{})
		}},
		{"Push, Timeout", func() error {
			return c.Push(context.Background(), work, gogit.PushOptions{Timeout: d})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.call(); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
	t.Run("Resolve, cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Resolve(ctx, git.Reference{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
