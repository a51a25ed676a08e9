package image

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
)

// packCounter counts the bytes of the pack responses (POST
// …/git-upload-pack) a gittest server sends, through WithMiddleware.
type packCounter struct{ bytes, requests atomic.Int64 }

func (c *packCounter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			c.requests.Add(1)
			w = &countingWriter{ResponseWriter: w, n: &c.bytes}
		}
		next.ServeHTTP(w, r)
	})
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

// assets returns n files of 4 KiB of random hex under assets/, which no
// marker names: the bulk a fresh clone fetches every run.
func assets(t *testing.T, n int) map[string]string {
	t.Helper()
	files := map[string]string{}
	for i := range n {
		b := make([]byte, 2<<10)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("assets/%03d.txt", i)] = hex.EncodeToString(b)
	}
	return files
}

// Through the git cache, the run after the first fetches only the new
// objects (the automation's own last commit and the new one), where a
// reconciler without a cache clones the whole tree again.
func TestAutomationFetchesOnlyNewObjects(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			var count packCounter
			var opts []harnessOption
			if !cached {
				opts = append(opts, withoutGitCache)
			}
			files := assets(t, 200)
			f := newAutomationFixtureWith(t, files, []gittest.Option{gittest.WithMiddleware(count.middleware)}, opts...)
			h := f.h
			f.repo.Commit("main", "deploy", map[string]string{"clusters/prod/deploy.yaml": strings.ReplaceAll(deployYAML, "NS", h.ns)})
			obj := automation("apps")
			h.create(obj)
			h.waitReady(obj)
			first, firstRequests := count.bytes.Load(), count.requests.Load()
			head := obj.Status.LastPushCommit
			if head == "" || first < 400<<10 {
				t.Fatalf("first run: pushed %q, fetched %d bytes", head, first)
			}

			pushImage(t, f.reg, "app", "v1.1.0")
			count.bytes.Store(0)
			count.requests.Store(0)
			h.request(&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})
			h.waitFor(obj, "a second push", func() bool { return obj.Status.LastPushCommit != head })
			second, secondRequests := count.bytes.Load(), count.requests.Load()
			t.Logf("cached=%v: first run fetched %d bytes in %d requests, the second %d bytes in %d", cached, first, firstRequests, second, secondRequests)
			if cached && second > first/20 {
				t.Errorf("the second run fetched %d bytes, the first %d: want only the new objects", second, first)
			}
			if !cached && second < first/2 {
				t.Errorf("without a cache the second run fetched %d bytes, the first %d", second, first)
			}
			if content := f.git("show", "main:clusters/prod/deploy.yaml"); !strings.Contains(content, f.reg.Repo("app")+":v1.1.0") {
				t.Errorf("after the new tag:\n%s", content)
			}
			if n := f.git("rev-list", "--count", "main"); n != "4" {
				t.Errorf("main has %s commits, want 4", n)
			}
		})
	}
}

// A checkout of a tag, a semver range, a commit or a reference name starts
// the push branch there: the commit goes on the push branch, whose parent
// is the checked out commit, and the checked out branch is left alone.
// Later runs continue the push branch.
func TestAutomationCheckoutRefs(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	base := f.git("rev-parse", "main")
	f.repo.Tag("v1.0.0", base)
	f.repo.AnnotatedTag("v1.1.0", base, "release 1.1.0", nil)
	f.repo.SetReference("refs/pull/7/head", base)
	later := f.repo.Commit("main", "later", map[string]string{"later.txt": "later\n"})
	for _, tc := range []struct {
		name string
		ref  imagev1.GitCheckoutReference
	}{
		{"tag", imagev1.GitCheckoutReference{Tag: "v1.0.0"}},
		{"annotated", imagev1.GitCheckoutReference{Tag: "v1.1.0"}},
		{"semver", imagev1.GitCheckoutReference{SemVer: ">=1.0.0 <2.0.0"}},
		{"commit", imagev1.GitCheckoutReference{Commit: base}},
		{"name", imagev1.GitCheckoutReference{Name: "refs/pull/7/head"}},
	} {
		obj := automation(tc.name, func(s *imagev1.ImageUpdateAutomationSpec) {
			s.GitSpec.Checkout.Reference = tc.ref
			s.GitSpec.Push = &imagev1.PushSpec{Branch: "auto-" + tc.name}
		})
		h.create(obj)
		h.waitReady(obj)
		branch := "auto-" + tc.name
		head := f.git("rev-parse", branch)
		if parent := f.git("rev-parse", branch+"^"); parent != base || obj.Status.LastPushCommit != head {
			t.Errorf("%s: %s is %s with parent %s, want a commit on %s (status %s)", tc.name, branch, head, parent, base, obj.Status.LastPushCommit)
		}
		if content := f.git("show", branch+":clusters/prod/deploy.yaml"); !strings.Contains(content, f.reg.Repo("app")+":v1.0.0") {
			t.Errorf("%s: deploy.yaml not updated:\n%s", tc.name, content)
		}
		if obj.Status.ObservedSourceRevision != git.Revision(branch, head) {
			t.Errorf("%s: observedSourceRevision %q", tc.name, obj.Status.ObservedSourceRevision)
		}
	}
	if now := f.git("rev-parse", "main"); now != later {
		t.Errorf("main moved to %s", now)
	}
	// The next run starts from the push branch, which exists now.
	pushImage(t, f.reg, "app", "v1.2.0")
	obj := &imagev1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Name: "tag", Namespace: h.ns}}
	h.waitReady(obj)
	first := obj.Status.LastPushCommit
	h.request(&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})
	h.waitFor(obj, "a second push", func() bool { return obj.Status.LastPushCommit != first })
	if parent := f.git("rev-parse", "auto-tag^"); parent != first {
		t.Errorf("the second commit's parent is %s, want the first, %s", parent, first)
	}
}

// Without a checkout, the GitRepository's spec.ref is checked out, with
// the same rule: a tag needs a push branch. The reconciler (behind an
// older CRD, or a GitRepository's ref) refuses it with a clear message.
func TestPlanGit(t *testing.T) {
	t.Parallel()
	repo := func(ref *sourcev1.GitRepositoryRef) *sourcev1.GitRepository {
		return &sourcev1.GitRepository{Spec: sourcev1.GitRepositorySpec{URL: "https://example.com/x.git", Reference: ref}}
	}
	auto := func(ref *imagev1.GitCheckoutReference, push *imagev1.PushSpec) *imagev1.ImageUpdateAutomation {
		obj := automation("a")
		obj.Spec.GitSpec.Checkout, obj.Spec.GitSpec.Push = nil, push
		if ref != nil {
			obj.Spec.GitSpec.Checkout = &imagev1.GitCheckoutSpec{Reference: *ref}
		}
		return obj
	}
	for _, tc := range []struct {
		name     string
		obj      *imagev1.ImageUpdateAutomation
		repo     *sourcev1.GitRepository
		checkout git.Reference
		local    string
		err      string
	}{
		{"branch", auto(&imagev1.GitCheckoutReference{Branch: "main"}, nil), repo(nil), git.Reference{Branch: "main"}, "main", ""},
		{"heads name", auto(&imagev1.GitCheckoutReference{Name: "refs/heads/dev"}, nil), repo(nil), git.Reference{Branch: "dev"}, "dev", ""},
		{"repository branch", auto(nil, nil), repo(&sourcev1.GitRepositoryRef{Branch: "main"}), git.Reference{Branch: "main"}, "main", ""},
		{"tag and push", auto(&imagev1.GitCheckoutReference{Tag: "v1"}, &imagev1.PushSpec{Branch: "auto"}), repo(nil), git.Reference{Tag: "v1"}, "auto", ""},
		{"repository semver and push", auto(nil, &imagev1.PushSpec{Branch: "auto"}), repo(&sourcev1.GitRepositoryRef{SemVer: "1.x"}), git.Reference{SemVer: "1.x"}, "auto", ""},
		{"tag", auto(&imagev1.GitCheckoutReference{Tag: "v1"}, nil), repo(nil), git.Reference{}, "", "spec.git.checkout.ref: a checkout of tag v1 needs spec.git.push.branch"},
		{"commit with refspec", auto(&imagev1.GitCheckoutReference{Commit: strings.Repeat("a", 40)}, &imagev1.PushSpec{Refspec: "HEAD:refs/heads/x"}), repo(nil), git.Reference{}, "", "needs spec.git.push.branch"},
		{"repository tag", auto(nil, nil), repo(&sourcev1.GitRepositoryRef{Tag: "v1"}), git.Reference{}, "", "the GitRepository's spec.ref: a checkout of tag v1 needs spec.git.push.branch"},
		{"pull name", auto(&imagev1.GitCheckoutReference{Name: "refs/pull/1/head"}, nil), repo(nil), git.Reference{}, "", "needs spec.git.push.branch"},
		{"nothing", auto(nil, nil), repo(nil), git.Reference{}, "", "nothing to check out"},
		{"bad semver", auto(&imagev1.GitCheckoutReference{SemVer: "not a range"}, &imagev1.PushSpec{Branch: "auto"}), repo(nil), git.Reference{}, "", "invalid semver range"},
		{"bad branch", auto(&imagev1.GitCheckoutReference{Branch: "a..b"}, nil), repo(nil), git.Reference{}, "", "invalid reference"},
		{"bad push branch", auto(&imagev1.GitCheckoutReference{Tag: "v1"}, &imagev1.PushSpec{Branch: "x:y"}), repo(nil), git.Reference{}, "", "spec.git.push.branch"},
	} {
		p, err := planGit(tc.obj, tc.repo)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case p.checkout != tc.checkout || p.local != tc.local:
			t.Errorf("%s: checkout %+v onto %q, want %+v onto %q", tc.name, p.checkout, p.local, tc.checkout, tc.local)
		}
	}
}
