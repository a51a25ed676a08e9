package gogit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// exportLogged runs Export and reports whether it updated in place, as it
// logs it.
func exportLogged(t *testing.T, c *gogit.Client, dir string, opts gogit.CloneOptions) (*gogit.Result, bool) {
	t.Helper()
	var logged string
	log := funcr.New(func(_, args string) {
		if strings.Contains(args, `"inPlace"`) {
			logged = args
		}
	}, funcr.Options{Verbosity: 1})
	res, err := c.Export(logr.NewContext(context.Background(), log), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, strings.Contains(logged, `"inPlace"=true`)
}

// withoutGit drops the .git folders of a clone's snapshot.
func withoutGit(s map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range s {
		if p == ".git" || strings.HasPrefix(p, ".git/") || strings.Contains(p, "/.git/") || strings.HasSuffix(p, "/.git") {
			continue
		}
		out[p] = v
	}
	return out
}

// TestExportSubmodules exports a repository with nested submodules behind
// HTTPS and basic auth through the cache: the same files as a recursive
// Clone, updated in place while no submodule changes, and written whole
// (with the new submodule content) when one does.
func TestExportSubmodules(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("bot", "pa55word"))
	lib := srv.InitRepository("lib.git")
	inner := srv.InitRepository("inner.git")
	innerHead := inner.Commit("main", "inner", map[string]string{"inner.txt": "deep\n"})
	lib.Commit("main", "lib", map[string]string{"lib.go": "package lib\n", "docs/x.md": "x\n"})
	libHead := lib.Submodule("main", "vendor/inner", "../inner.git", innerHead)
	app := srv.InitRepository("app.git")
	app.Commit("main", "app", map[string]string{"main.go": "package main\n"})
	app.Submodule("main", "third_party/lib", "../lib.git", libHead)

	cache, err := gogit.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogit.New(srv.HTTPURL("app.git"), gogit.WithAuth(git.AuthOptions{Username: "bot", Password: "pa55word", CA: srv.CA()}), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	opts := gogit.CloneOptions{RecurseSubmodules: true}
	dir := filepath.Join(t.TempDir(), "out")
	same := func(step string) {
		t.Helper()
		clone := filepath.Join(t.TempDir(), "clone")
		if _, err := c.Clone(context.Background(), clone, opts); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(withoutGit(snapshot(t, clone)), snapshot(t, dir)); diff != "" {
			t.Fatalf("%s: Export differs from a recursive Clone (-clone +export):\n%s", step, diff)
		}
	}
	if _, inPlace := exportLogged(t, c, dir, opts); inPlace {
		t.Fatal("the first export was in place")
	}
	if got := readFile(t, dir, "third_party/lib/vendor/inner/inner.txt"); got != "deep\n" {
		t.Fatalf("nested submodule file = %q", got)
	}
	same("first export")

	app.Commit("main", "parent only", map[string]string{"main.go": "package main // v2\n"})
	if _, inPlace := exportLogged(t, c, dir, opts); !inPlace {
		t.Fatal("a change outside the submodules was not applied in place")
	}
	same("parent change")

	innerNext := inner.Commit("main", "inner v2", map[string]string{"inner.txt": "deeper\n"})
	libNext := lib.Submodule("main", "vendor/inner", "../inner.git", innerNext)
	app.Submodule("main", "third_party/lib", "../lib.git", libNext)
	if _, inPlace := exportLogged(t, c, dir, opts); inPlace {
		t.Fatal("a submodule change was applied in place")
	}
	if got := readFile(t, dir, "third_party/lib/vendor/inner/inner.txt"); got != "deeper\n" {
		t.Fatalf("updated nested submodule file = %q", got)
	}
	same("submodule change")

	// Sparse directories reach into submodules.
	sparse := filepath.Join(t.TempDir(), "sparse")
	if _, err := c.Export(context.Background(), sparse, gogit.CloneOptions{RecurseSubmodules: true, SparseDirectories: []string{"third_party/lib/docs"}}); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, sparse); !cmp.Equal(got, []string{"third_party/lib/docs/x.md"}) {
		t.Fatalf("sparse export of a submodule holds %v", got)
	}
}

// TestSubmoduleURLsRefused: a submodule must not make a checkout read the
// local disk: file:// URLs, local paths and option-like URLs are refused,
// by Clone and Export, and nothing is left.
func TestSubmoduleURLsRefused(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	lib := srv.InitRepository("lib.git")
	libHead := lib.Commit("main", "lib", map[string]string{"lib.go": "package lib\n"})
	for i, u := range []string{"file://" + lib.Dir(), lib.Dir(), "file:///etc", "-uhack", "ftp://host/x.git", "./../../../../" + filepath.Base(lib.Dir())} {
		name := repoFor(u)
		app := srv.InitRepository(name)
		app.Commit("main", "app", map[string]string{"main.go": "x"})
		app.Submodule("main", "sub", u, libHead)
		nameOps, _ := ops(t, srv.HTTPURL(name))
		for _, o := range nameOps {
			dir := filepath.Join(t.TempDir(), "out")
			_, err := o.run(context.Background(), dir, gogit.CloneOptions{RecurseSubmodules: true})
			if i == 5 {
				// A relative URL stays on the server, however far it climbs
				// (to the server's lib.git here).
				if err != nil || readFile(t, dir, "sub/lib.go") != "package lib\n" {
					t.Errorf("%s with submodule %q: err = %v", o.name, u, err)
				}
				continue
			}
			if !errors.Is(err, git.ErrUnsafePath) {
				t.Errorf("%s with submodule %q: err = %v, want ErrUnsafePath", o.name, u, err)
			}
			if got := entriesOf(t, dir); len(got) != 0 {
				t.Errorf("%s with submodule %q left %v", o.name, u, got)
			}
		}
	}
}

// TestSubmoduleCredentialsStayOnHost: a submodule on another host gets
// none of the parent's credentials.
func TestSubmoduleCredentialsStayOnHost(t *testing.T) {
	t.Parallel()
	other := gittest.NewServer(t)
	libHead := other.InitRepository("lib.git").Commit("main", "lib", map[string]string{"lib.go": "package lib\n"})
	target, _ := url.Parse(other.HTTPURL(""))
	var authorized atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			authorized.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(spy.Close)
	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "parent-only-secret"))
	app := srv.InitRepository("app.git")
	app.Commit("main", "app", map[string]string{"main.go": "x"})
	app.Submodule("main", "sub", spy.URL+"/lib.git", libHead)
	cache, _ := gogit.NewCache(t.TempDir())
	c, err := gogit.New(srv.HTTPURL("app.git"), gogit.WithAuth(git.AuthOptions{Username: "alice", Password: "parent-only-secret", AllowInsecureHTTP: true}), gogit.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context, string, gogit.CloneOptions) (*gogit.Result, error){"Clone": c.Clone, "Export": c.Export} {
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := run(context.Background(), dir, gogit.CloneOptions{RecurseSubmodules: true}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := readFile(t, dir, "sub/lib.go"); got != "package lib\n" {
			t.Fatalf("%s: sub/lib.go = %q", name, got)
		}
	}
	if n := authorized.Load(); n != 0 {
		t.Fatalf("the submodule's host received %d requests with credentials", n)
	}
}

// TestSubmoduleLimits: a checkout's limits count its submodules' files,
// and recursion stops at 8 levels, even through a repository that is its
// own submodule (which reuses its cache repository, locked once).
func TestSubmoduleLimits(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	lib := srv.InitRepository("lib.git")
	files := map[string]string{}
	for _, f := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		files[f+".txt"] = f
	}
	libHead := lib.Commit("main", "lib", files)
	app := srv.InitRepository("app.git")
	app.Commit("main", "app", map[string]string{"main.go": "x"})
	app.Submodule("main", "sub", "../lib.git", libHead)
	appOps, _ := ops(t, srv.HTTPURL("app.git"))
	for _, o := range appOps {
		if _, err := o.run(context.Background(), filepath.Join(t.TempDir(), "out"), gogit.CloneOptions{MaxFiles: 8}); err != nil {
			t.Fatalf("%s without recursion: %v", o.name, err)
		}
		dir := filepath.Join(t.TempDir(), "out")
		_, err := o.run(context.Background(), dir, gogit.CloneOptions{MaxFiles: 8, RecurseSubmodules: true})
		wantLimit(t, err, "MaxFiles")
		if got := entriesOf(t, dir); len(got) != 0 {
			t.Fatalf("%s left %v", o.name, got)
		}
	}

	self := srv.InitRepository("self.git")
	head := self.Commit("main", "level 0", map[string]string{"f.txt": "0"})
	for range 9 {
		head = self.Submodule("main", "s", "../self.git", head)
	}
	selfOps, _ := ops(t, srv.HTTPURL("self.git"))
	for _, o := range selfOps {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := o.run(context.Background(), dir, gogit.CloneOptions{RecurseSubmodules: true})
		if !errors.Is(err, git.ErrUnsafePath) || !strings.Contains(err.Error(), "deeper than 8") {
			t.Fatalf("%s of submodules nested 9 deep: err = %v", o.name, err)
		}
		if got := entriesOf(t, dir); len(got) != 0 {
			t.Fatalf("%s left %v", o.name, got)
		}
	}
}
