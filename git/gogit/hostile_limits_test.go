package gogit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// op is Clone or Export of one client, into a fresh folder.
type op struct {
	name string
	run  func(ctx context.Context, dir string, opts gogit.CloneOptions) (*gogit.Result, error)
}

func ops(t *testing.T, url string) (ops []op, cacheRoot string) {
	t.Helper()
	cacheRoot = t.TempDir()
	cache, err := gogit.NewCache(cacheRoot)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(url, gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	return []op{{"Clone", c.Clone}, {"Export", c.Export}}, cacheRoot
}

// wantLimit checks that err is a *git.LimitError naming limit.
func wantLimit(t *testing.T, err error, limit string) {
	t.Helper()
	var l *git.LimitError
	if !errors.As(err, &l) || l.Limit != limit || !errors.Is(err, git.ErrSizeLimit) {
		t.Fatalf("err = %v, want a %s limit error", err, limit)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestLimits crosses every limit of a fetch and a checkout, through Clone
// and Export: each fails with its typed error and leaves nothing, and the
// same call within the limits succeeds (the cache still works).
func TestLimits(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	files := map[string]string{"big.hex": randomHex(t, 256<<10)}
	for i := range 40 {
		files[fmt.Sprintf("dir%d/f%02d.txt", i%4, i)] = randomHex(t, 1<<10)
	}
	head := repo.Commit("main", "files", files)
	cases := []struct {
		limit string
		opts  gogit.CloneOptions
	}{
		{"MaxFetchSize", gogit.CloneOptions{MaxFetchSize: 64 << 10}},
		{"MaxObjectSize", gogit.CloneOptions{MaxObjectSize: 128 << 10}},
		{"MaxObjects", gogit.CloneOptions{MaxObjects: 20}},
		{"MaxFiles", gogit.CloneOptions{MaxFiles: 30}},
		{"MaxCheckoutSize", gogit.CloneOptions{MaxCheckoutSize: 200 << 10}},
	}
	for _, tc := range cases {
		t.Run(tc.limit, func(t *testing.T) {
			t.Parallel()
			ops, _ := ops(t, srv.HTTPURL("app.git"))
			for _, o := range ops {
				dir := filepath.Join(t.TempDir(), "out")
				_, err := o.run(context.Background(), dir, tc.opts)
				wantLimit(t, err, tc.limit)
				if got := entriesOf(t, dir); len(got) != 0 {
					t.Fatalf("%s past %s left %v", o.name, tc.limit, got)
				}
				res, err := o.run(context.Background(), filepath.Join(t.TempDir(), "ok"), gogit.CloneOptions{})
				if err != nil || res.Commit.Hash != head {
					t.Fatalf("%s within the default limits: %v", o.name, err)
				}
			}
		})
	}
}

// TestGitBomb serves a tree of a million paths made of seven objects: the
// checkout stops at MaxFiles, or when its time is up, and leaves nothing.
func TestGitBomb(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("bomb.git")
	raw := newRawRepo(t, repo)
	raw.commit("main", raw.bomb(10, 6))
	ops, _ := ops(t, srv.HTTPURL("bomb.git"))
	for _, o := range ops {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := o.run(context.Background(), dir, gogit.CloneOptions{MaxFiles: 2000})
		wantLimit(t, err, "MaxFiles")
		if got := entriesOf(t, dir); len(got) != 0 {
			t.Fatalf("%s of a git bomb left %d entries", o.name, len(got))
		}
		// Without a file limit, the deadline stops it (it would otherwise
		// write a million files and succeed).
		_, err = o.run(context.Background(), dir, gogit.CloneOptions{MaxFiles: -1, MaxCheckoutSize: -1, Timeout: 2 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s of a git bomb with no limit: err = %v, want DeadlineExceeded", o.name, err)
		}
		if got := entriesOf(t, dir); len(got) != 0 {
			t.Fatalf("%s stopped by its deadline left %d entries", o.name, len(got))
		}
	}
}
