package gitopsctl

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// fixture is a test's namespaces (one for gitopsd's objects, one for the
// application), a git repository and gitopsctl.
type fixture struct {
	t         *testing.T
	ns, appNS string
	srv       *gittest.Server
	repo      *gittest.Repository
	c         *ctl
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	srv := gittest.NewServer(t)
	return &fixture{t: t, ns: env.Namespace(t), appNS: env.Namespace(t), srv: srv, repo: srv.InitRepository("app.git"), c: newCtl(t)}
}

// commit commits files on main and returns the revision.
func (f *fixture) commit(files map[string]string, opts ...gittest.CommitOption) string {
	f.t.Helper()
	return "main@sha1:" + f.repo.Commit("main", "change", files, opts...)
}

// run runs gitopsctl with -n set to the fixture's namespace.
func (f *fixture) run(args ...string) result {
	f.t.Helper()
	return f.c.run(append(args, "-n", f.ns)...)
}

// sync creates, with gitopsctl, a GitRepository and a Kustomization named
// name applying path into the application namespace, and waits for both.
func (f *fixture) sync(name, path string) {
	f.t.Helper()
	expect(f.t, f.run("create", "source", "git", name, "--url", f.srv.HTTPURL("app.git"), "--branch", "main", "--interval", "10m"),
		ExitOK, "GitRepository "+f.ns+"/"+name+" created", "Ready in")
	expect(f.t, f.run("create", "kustomization", name, "--source", "GitRepository/"+name, "--path", path,
		"--prune", "--wait", "--target-namespace", f.appNS, "--interval", "10m", "--retry-interval", "2s"),
		ExitOK, "Kustomization "+f.ns+"/"+name+" created", "Ready in")
}

func (f *fixture) configMap(name string) map[string]string {
	f.t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client().Get(context.Background(), client.ObjectKey{Namespace: f.appNS, Name: name}, cm); err != nil {
		f.t.Fatal(err)
	}
	return cm.Data
}

func cm(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

// create, get in every form, and reconcile --with-source following a new
// commit to its end.
func TestCreateGetReconcile(t *testing.T) {
	f := newFixture(t)
	rev1 := f.commit(map[string]string{"deploy/config.yaml": cm("config", "one")})
	f.sync("app", "./deploy")

	r := f.run("get", "ks")
	expect(t, r, ExitOK, "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE", "AGE")
	if !strings.Contains(r.stdout, "app   "+shortRevision(rev1)+"  False      True   Applied revision: "+rev1) {
		t.Errorf("get ks row:\n%s", r.stdout)
	}
	r = f.run("get", "all")
	expect(t, r, ExitOK, "gitrepository/app", "kustomization/app", "stored artifact for revision")
	r = f.run("get", "sources", "-o", "wide")
	expect(t, r, ExitOK, "URL", "BRANCH", f.srv.HTTPURL("app.git"), "main", rev1)
	r = f.c.run("get", "ks", "-A")
	expect(t, r, ExitOK, "NAMESPACE")
	// Other tests' namespaces are listed too and set the column's width.
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f.ns) + ` +app +`).MatchString(r.stdout) {
		t.Errorf("get ks -A lacks the row of %s/app:\n%s", f.ns, r.stdout)
	}
	r = f.run("get", "ks", "app", "-o", "json")
	expect(t, r, ExitOK)
	var ks kustomizev1.Kustomization
	if err := json.Unmarshal([]byte(r.stdout), &ks); err != nil || ks.Status.LastAppliedRevision != rev1 {
		t.Errorf("get -o json: %v, %+v", err, ks.Status)
	}
	r = f.run("get", "source", "git", "app", "-o", "yaml")
	expect(t, r, ExitOK, "kind: GitRepository", "revision: "+rev1)
	expect(t, f.run("get", "gitrepo", "missing"), ExitError, "GitRepository "+f.ns+"/missing not found")
	expect(t, f.run("get", "ocirepo"), ExitOK, "no OCIRepository objects found in namespace "+f.ns)

	rev2 := f.commit(map[string]string{"deploy/config.yaml": cm("config", "two")})
	r = f.run("reconcile", "ks", "app", "--with-source")
	expect(t, r, ExitOK,
		"asking gitopsd to reconcile GitRepository "+f.ns+"/app",
		"GitRepository "+f.ns+"/app reconciled in",
		"Kustomization "+f.ns+"/app reconciled in", "at revision "+rev2)
	if got := f.configMap("config")["value"]; got != "two" {
		t.Errorf("after reconcile, config value = %q, want two", got)
	}
	obj := &kustomizev1.Kustomization{}
	if err := env.Client().Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "app"}, obj); err != nil {
		t.Fatal(err)
	}
	if req := obj.Annotations[reconcile.RequestedAtAnnotation]; req == "" || req != obj.Status.LastHandledReconcileAt {
		t.Errorf("requestedAt %q, lastHandledReconcileAt %q: want the request handled", req, obj.Status.LastHandledReconcileAt)
	}

	r = f.run("reconcile", "kustomization/app", "--force", "--reset")
	expect(t, r, ExitOK, "reconciled")
	if err := env.Client().Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "app"}, obj); err != nil {
		t.Fatal(err)
	}
	if a := obj.Annotations; a[reconcile.ForceAtAnnotation] != a[reconcile.RequestedAtAnnotation] || a[reconcile.ResetAtAnnotation] != a[reconcile.RequestedAtAnnotation] {
		t.Errorf("--force --reset annotations: %v", a)
	}

	expect(t, f.run("reconcile", "ks", "app", "--timeout", "1ms"), ExitFailure, "the reconcile did not end within 1ms")
	expect(t, f.run("reconcile", "ks", "missing"), ExitError, "Kustomization "+f.ns+"/missing not found")
	expect(t, f.run("reconcile", "gitrepo", "app", "--with-source"), ExitError, "GitRepository has no source")
}

// A reconcile that fails exits 1 with gitopsd's message; a suspended
// object is refused until resumed; suspend and resume --all.
func TestReconcileFailureSuspendResume(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"deploy/config.yaml": cm("config", "one")})
	f.sync("app", "./deploy")

	r := f.run("create", "kustomization", "broken", "--source", "GitRepository/app", "--path", "./missing", "--timeout", "5s")
	expect(t, r, ExitFailure, "Kustomization "+f.ns+"/broken is not Ready after 5s", `path "./missing" not found`)
	r = f.run("reconcile", "ks", "broken")
	expect(t, r, ExitFailure, "Kustomization "+f.ns+"/broken: reconcile failed after", "BuildFailed", `not found in the artifact`)

	expect(t, f.run("suspend", "ks", "app"), ExitOK, "Kustomization "+f.ns+"/app suspended")
	r = f.run("get", "ks", "app")
	if !strings.Contains(r.stdout, "  True       True") {
		t.Errorf("get after suspend does not show SUSPENDED True:\n%s", r)
	}
	expect(t, f.run("reconcile", "ks", "app"), ExitError, "is suspended: gitopsctl resume kustomization app -n "+f.ns)
	expect(t, f.run("resume", "ks", "app"), ExitOK, "resuming Kustomization "+f.ns+"/app", "Kustomization "+f.ns+"/app reconciled")

	expect(t, f.run("suspend", "ks", "--all"), ExitOK, "suspending Kustomization "+f.ns+"/app", "suspending Kustomization "+f.ns+"/broken")
	expect(t, f.run("suspend", "ks", "--all"), ExitOK, "no Kustomization to suspend")
	r = f.run("resume", "ks", "--all")
	expect(t, r, ExitFailure, "Kustomization "+f.ns+"/app reconciled", "Kustomization "+f.ns+"/broken: reconcile failed")
	expect(t, f.run("resume", "ks"), ExitError, "want <kind> <name>, or <kind> --all")
}

// get --watch prints an object again when it changes, until stopped.
func TestGetWatch(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"deploy/config.yaml": cm("config", "one")})
	f.sync("app", "./deploy")

	out, stop := f.c.start("get", "ks", "--watch", "-n", f.ns)
	eventually(t, "get --watch", out, "app", "Applied revision")
	expect(t, f.run("suspend", "ks", "app"), ExitOK)
	eventually(t, "get --watch after suspend", out, "  True       True")
	r := stop()
	expect(t, r, ExitOK)
	if n := strings.Count(r.stdout, "NAME"); n != 1 {
		t.Errorf("the header is printed %d times:\n%s", n, r.stdout)
	}
}

// The states a Kustomization passes through when --with-source asked its
// source for a new revision: the request token is recorded by the
// reconcile that still worked on the old revision, and the one the new
// artifact starts is not done until it ends, however it ends.
func TestHandledWaitsForTheReconcileOfTheNewRevision(t *testing.T) {
	k, ok := kindByName("kustomization")
	if !ok {
		t.Fatal("no kind kustomization")
	}
	const token, oldRev, newRev = "2026-12-02T13:48:11Z", "main@sha1:3dcf", "main@sha1:81a5"
	obj := func(handled, attempted string, ready metav1.ConditionStatus) *unstructured.Unstructured {
		u := k.newObject()
		status := map[string]any{"lastHandledReconcileAt": handled, "lastAttemptedRevision": attempted}
		if ready != "" {
			status["conditions"] = []any{map[string]any{"type": "Ready", "status": string(ready), "reason": "R", "message": "m",
				"lastTransitionTime": "2026-12-02T13:48:11Z"}}
		}
		u.Object["status"] = status
		return u
	}
	for _, c := range []struct {
		name string
		obj  *unstructured.Unstructured
		rev  string
		want bool
	}{
		{"an older request", obj("earlier", newRev, metav1.ConditionTrue), newRev, false},
		{"handled at the old revision", obj(token, oldRev, metav1.ConditionTrue), newRev, false},
		{"the new revision in progress", obj(token, newRev, metav1.ConditionUnknown), newRev, false},
		{"the new revision without a condition yet", obj(token, newRev, ""), newRev, false},
		{"the new revision applied", obj(token, newRev, metav1.ConditionTrue), newRev, true},
		{"the new revision failed", obj(token, newRev, metav1.ConditionFalse), newRev, true},
		{"no source revision to wait for", obj(token, oldRev, metav1.ConditionUnknown), "", true},
	} {
		if got := handled(k, c.obj, token, c.rev); got != c.want {
			t.Errorf("%s: handled = %v, want %v", c.name, got, c.want)
		}
	}
}
