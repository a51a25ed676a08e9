package image

import (
	"context"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// deployYAML marks the images of two policies, one whole reference and
// one tag.
const deployYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: example.com/app:v0.1.0 # {"$imagepolicy": "NS:app"}
        - name: sidecar
          image: example.com/sidecar:old
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: versions
data:
  worker: "0.0.1" # {"$imagepolicy": "NS:worker:tag"}
`

// automationFixture is a git repository with deploy.yaml, a registry with
// two images, their ImageRepositories and ImagePolicies (Ready), and the
// GitRepository of the repository.
type automationFixture struct {
	h    *harness
	srv  *gittest.Server
	repo *gittest.Repository
	reg  *ocitest.Registry
}

func newAutomationFixture(t *testing.T, files map[string]string, opts ...harnessOption) *automationFixture {
	return newAutomationFixtureWith(t, files, nil, opts...)
}

// newAutomationFixtureWith is newAutomationFixture with a git server
// started with srvOpts.
func newAutomationFixtureWith(t *testing.T, files map[string]string, srvOpts []gittest.Option, opts ...harnessOption) *automationFixture {
	h := newHarness(t, opts...)
	f := &automationFixture{h: h, srv: gittest.NewServer(t, srvOpts...), reg: ocitest.New(t)}
	f.repo = f.srv.InitRepository("config.git")
	if files == nil {
		files = map[string]string{"clusters/prod/deploy.yaml": strings.ReplaceAll(deployYAML, "NS", h.ns)}
	}
	f.repo.Commit("main", "init", files)
	pushImage(t, f.reg, "app", "v1.0.0")
	pushImage(t, f.reg, "worker", "2.0.0")
	for _, name := range []string{"app", "worker"} {
		r := imageRepository(name, f.reg, name)
		h.create(r)
		h.waitReady(r)
		p := imagePolicy(name, name, semverPolicy("*"))
		p.Labels = map[string]string{"automation": "yes"}
		h.create(p)
		h.waitReady(p)
	}
	h.create(&sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "config"},
		Spec: sourcev1.GitRepositorySpec{
			URL: f.srv.HTTPURL("config.git"), Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	})
	return f
}

// automation returns an automation of the fixture's repository.
func automation(name string, mutate ...func(*imagev1.ImageUpdateAutomationSpec)) *imagev1.ImageUpdateAutomation {
	obj := &imagev1.ImageUpdateAutomation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: imagev1.ImageUpdateAutomationSpec{
			SourceRef: imagev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "config"},
			GitSpec: &imagev1.GitSpec{
				Checkout: &imagev1.GitCheckoutSpec{Reference: imagev1.GitCheckoutReference{Branch: "main"}},
				Commit: imagev1.CommitSpec{
					Author: imagev1.CommitUser{Name: "gitopsd", Email: "gitopsd@example.com"},
					MessageTemplate: "Update {{ .AutomationObject }}\n\n" +
						"{{ range .Changed.Changes }}{{ .File }} {{ .Object.Kind }}/{{ .Object.Name }} {{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}" +
						"images: {{ range .Changed.Images }}{{ . }} {{ end }}\n",
				},
			},
			Update:         &imagev1.UpdateStrategy{Strategy: imagev1.UpdateStrategySetters, Path: "clusters/prod"},
			PolicySelector: &metav1.LabelSelector{MatchLabels: map[string]string{"automation": "yes"}},
			Interval:       metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

// git runs the git CLI on the fixture's bare repository.
func (f *automationFixture) git(args ...string) string {
	f.h.t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", f.repo.Dir()}, args...)...).CombinedOutput()
	if err != nil {
		f.h.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Two policy changes make one commit with both, its message from the
// template; a run with nothing to change makes no commit and no push.
func TestAutomationOneCommitForTwoPolicies(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	obj := automation("apps")
	h.create(obj)
	h.waitReady(obj)
	head := f.git("rev-parse", "main")
	if obj.Status.LastPushCommit != head || obj.Status.LastPushTime == nil {
		t.Fatalf("status %+v; remote main is %s", obj.Status, head)
	}
	if n := f.git("rev-list", "--count", "main"); n != "2" {
		t.Errorf("main has %s commits, want the initial one and one of the automation", n)
	}
	if files := f.git("show", "--name-only", "--format=", "main"); files != "clusters/prod/deploy.yaml" {
		t.Errorf("the commit changed %q", files)
	}
	if who := f.git("log", "-1", "--format=%an <%ae>", "main"); who != "gitopsd <gitopsd@example.com>" {
		t.Errorf("author %q", who)
	}
	app, worker := f.reg.Repo("app")+":v1.0.0", "2.0.0"
	wantMsg := "Update " + h.ns + "/apps\n\n" +
		"clusters/prod/deploy.yaml Deployment/web " + h.ns + ":app: example.com/app:v0.1.0 -> " + app + "\n" +
		"clusters/prod/deploy.yaml ConfigMap/versions " + h.ns + ":worker:tag: 0.0.1 -> " + worker + "\n" +
		"images: " + app + " " + worker
	if msg := f.git("log", "-1", "--format=%B", "main"); msg != wantMsg {
		t.Errorf("commit message:\n%s\nwant:\n%s", msg, wantMsg)
	}
	content := f.git("show", "main:clusters/prod/deploy.yaml")
	wantContent := strings.ReplaceAll(strings.NewReplacer(
		"example.com/app:v0.1.0", app, `"0.0.1"`, `"2.0.0"`).Replace(deployYAML), "NS", h.ns)
	if content != strings.TrimSpace(wantContent) {
		t.Errorf("deploy.yaml:\n%s\nwant:\n%s", content, wantContent)
	}
	if obj.Status.ObservedSourceRevision != "main@sha1:"+head {
		t.Errorf("observedSourceRevision %q", obj.Status.ObservedSourceRevision)
	}
	if got := obj.Status.ObservedPolicies; got["app"].Tag != "v1.0.0" || got["worker"].Tag != "2.0.0" || len(got) != 2 {
		t.Errorf("observedPolicies %+v", got)
	}
	h.waitEvent("Normal Pushed pushed commit '" + head + "'")

	// Nothing changed: no commit, no push.
	h.request(obj)
	if now := f.git("rev-parse", "main"); now != head || obj.Status.LastPushCommit != head {
		t.Errorf("a run with nothing to change moved main to %s (lastPushCommit %s)", now, obj.Status.LastPushCommit)
	}
	if msg := conditions.Get(obj, conditions.Ready).Message; !strings.HasPrefix(msg, "no updates made") {
		t.Errorf("Ready message %q", msg)
	}
	if n := len(h.events.matching("Normal Pushed")); n != 1 {
		t.Errorf("%d Pushed events, want 1", n)
	}

	// A policy choosing a new image runs the automation without asking.
	pushImage(t, f.reg, "app", "v1.1.0")
	h.request(&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})
	h.waitFor(obj, "a second push", func() bool { return obj.Status.LastPushCommit != head })
	if content := f.git("show", "main:clusters/prod/deploy.yaml"); !strings.Contains(content, f.reg.Repo("app")+":v1.1.0") {
		t.Errorf("after the new tag:\n%s", content)
	}
}

// A push that loses a race with another pusher is re-applied on the new
// head and pushed as a fast forward: the other commit stays.
func TestAutomationRebasesOnRacingPush(t *testing.T) {
	var f *automationFixture
	var raced atomic.Int32
	var other atomic.Value
	f = newAutomationFixture(t, nil, func(rs *reconcilers) {
		rs.auto.beforePush = func(_ context.Context, _ *imagev1.ImageUpdateAutomation, attempt int) {
			if attempt == 1 && raced.Add(1) == 1 {
				other.Store(f.repo.Commit("main", "another pusher", map[string]string{"README.md": "hello\n"}))
			}
		}
	})
	h := f.h
	obj := automation("apps")
	h.create(obj)
	h.waitReady(obj)
	otherHash, _ := other.Load().(string)
	if otherHash == "" {
		t.Fatal("the racing commit was not made")
	}
	head := f.git("rev-parse", "main")
	if parent := f.git("rev-parse", "main^"); parent != otherHash || obj.Status.LastPushCommit != head {
		t.Errorf("main is %s with parent %s; want the automation's commit on top of %s (status %s)", head, parent, otherHash, obj.Status.LastPushCommit)
	}
	if readme := f.git("show", "main:README.md"); readme != "hello" {
		t.Errorf("the other pusher's file is gone: %q", readme)
	}
	if content := f.git("show", "main:clusters/prod/deploy.yaml"); !strings.Contains(content, f.reg.Repo("app")+":v1.0.0") {
		t.Errorf("deploy.yaml not updated:\n%s", content)
	}
	h.waitEvent("Normal PushRejected branch moved during the run (attempt 1 of 3)")
	if n := f.git("rev-list", "--count", "main"); n != "3" {
		t.Errorf("main has %s commits, want 3", n)
	}
}
