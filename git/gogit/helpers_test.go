package gogit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/gitopskit/kit/git/gittest"
)

// rawRepo writes objects straight into a served repository, for trees no
// well-behaved tool would write (duplicate entries, a "git bomb").
type rawRepo struct {
	t  *testing.T
	st *filesystem.Storage
}

func newRawRepo(t *testing.T, repo *gittest.Repository) *rawRepo {
	return &rawRepo{t: t, st: filesystem.NewStorage(osfs.New(repo.Dir()), cache.NewObjectLRUDefault())}
}

func (r *rawRepo) blob(content string) plumbing.Hash {
	r.t.Helper()
	o := r.st.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, _ := o.Writer()
	_, _ = io.WriteString(w, content)
	_ = w.Close()
	h, err := r.st.SetEncodedObject(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// tree stores the entries as given: unsorted and duplicates kept.
func (r *rawRepo) tree(entries ...object.TreeEntry) plumbing.Hash {
	r.t.Helper()
	o := r.st.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(o); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.st.SetEncodedObject(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// commit makes a commit of tree the tip of branch and returns it.
func (r *rawRepo) commit(branch string, tree plumbing.Hash) string {
	r.t.Helper()
	sig := object.Signature{Name: "Mallory", Email: "mallory@example.com", When: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := r.st.NewEncodedObject()
	if err := (&object.Commit{Author: sig, Committer: sig, Message: "raw\n", TreeHash: tree}).Encode(o); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.st.SetEncodedObject(o)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)); err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// bomb builds a tree of width^levels files out of levels+1 small objects:
// every level's entries all point to the same tree below.
func (r *rawRepo) bomb(width, levels int) plumbing.Hash {
	r.t.Helper()
	h, mode := r.blob("boom\n"), filemode.Regular
	for l := 0; l < levels; l++ {
		entries := make([]object.TreeEntry, width)
		for i := range entries {
			entries[i] = object.TreeEntry{Name: fmt.Sprintf("%c%03d", 'a'+l, i), Mode: mode, Hash: h}
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
		h, mode = r.tree(entries...), filemode.Dir
	}
	return h
}

// countingProxy forwards to srv and counts the bytes of the pack
// responses (POST …/git-upload-pack) it relays.
type countingProxy struct {
	URL   string
	bytes atomic.Int64
	posts atomic.Int64
}

func newCountingProxy(t testing.TB, srv *gittest.Server) *countingProxy {
	t.Helper()
	target, err := url.Parse(srv.HTTPURL(""))
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodPost {
			p.posts.Add(1)
			r.Body = countingBody{ReadCloser: r.Body, n: &p.bytes}
		}
		return nil
	}
	s := httptest.NewServer(rp)
	t.Cleanup(s.Close)
	p.URL = s.URL
	return p
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// entriesOf lists what a folder holds (slash paths), for "nothing left"
// assertions; a missing folder holds nothing.
func entriesOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return filepath.SkipAll
		}
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gitCLI runs the git program in dir (a requirement of these tests) and
// returns its output.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
