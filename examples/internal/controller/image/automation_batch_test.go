package image

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// The batch decision as a function of the times: a change waits for a
// window of quiet, at most maxBatchDelay windows after the first change.
func TestBatches(t *testing.T) {
	t.Parallel()
	var b batches
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	w := 3 * time.Second
	if d := b.wait(key, t0, w); d != 0 {
		t.Fatalf("no change pending: wait %s", d)
	}
	b.changed(key, at(0))
	if d := b.wait(key, at(time.Second), w); d != 2*time.Second {
		t.Fatalf("wait %s, want 2s", d)
	}
	b.changed(key, at(2*time.Second)) // the window restarts
	if d := b.wait(key, at(4*time.Second), w); d != time.Second {
		t.Fatalf("wait %s, want 1s", d)
	}
	if d := b.wait(key, at(5*time.Second), w); d != 0 {
		t.Fatalf("a quiet window passed: wait %s", d)
	}
	if d := b.wait(key, at(5*time.Second), w); d != 0 {
		t.Fatalf("the batch was taken: wait %s", d)
	}
	// A burst that never pauses runs maxBatchDelay windows after its first
	// change.
	for i := range 2 * maxBatchDelay * 3 {
		now := at(time.Minute + time.Duration(i)*time.Second)
		b.changed(key, now)
		if d := b.wait(key, now, w); d == 0 {
			if got, want := now.Sub(at(time.Minute)), maxBatchDelay*w; got != want {
				t.Fatalf("the burst ran after %s, want %s", got, want)
			}
			return
		}
	}
	t.Fatal("the burst never ran")
}

// ImagePolicy changes that arrive within the batch window of each other
// are written by one run, as one commit.
func TestAutomationBatchesPolicyChanges(t *testing.T) {
	f := newAutomationFixture(t, nil, withBatchWindow(5*time.Second))
	h := f.h
	obj := automation("apps")
	h.create(obj)
	h.waitReady(obj)
	first := obj.Status.LastPushCommit
	if n := f.git("rev-list", "--count", "main"); n != "2" || first == "" {
		t.Fatalf("main has %s commits after the first run (pushed %q)", n, first)
	}
	// Three changes of two policies: both repositories rescanned at once,
	// then app once more.
	pushImage(t, f.reg, "app", "v1.1.0")
	pushImage(t, f.reg, "worker", "2.1.0")
	for _, name := range []string{"app", "worker"} {
		askReconcile(t, h, &imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}})
	}
	app := &imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}}
	h.waitFor(app, "app v1.1.0", func() bool { return app.Status.LatestRef != nil && app.Status.LatestRef.Tag == "v1.1.0" })
	pushImage(t, f.reg, "app", "v1.2.0")
	askReconcile(t, h, &imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})

	want := []string{f.reg.Repo("app") + ":v1.2.0", `"2.1.0"`}
	h.eventually("main to hold app v1.2.0 and worker 2.1.0", func() bool {
		out, err := f.gitErr("show", "main:clusters/prod/deploy.yaml")
		return err == nil && strings.Contains(out, want[0]) && strings.Contains(out, want[1])
	})
	if n := f.git("rev-list", "--count", "main"); n != "3" {
		t.Errorf("main has %s commits, want 3: the three policy changes in one", n)
	}
	msg := f.git("log", "-1", "--format=%B", "main")
	if !strings.Contains(msg, want[0]) || !strings.Contains(msg, "2.1.0") {
		t.Errorf("the batch commit's message:\n%s", msg)
	}
	// The run records its push after the push itself.
	head := f.git("rev-parse", "main")
	h.waitFor(obj, "the batch push in status", func() bool { return obj.Status.LastPushCommit == head })
	h.waitEvent("Normal Pushed pushed commit '" + head + "'")
	if n := len(h.events.matching("Normal Pushed")); n != 2 {
		t.Errorf("%d Pushed events, want 2", n)
	}
}

// askReconcile annotates obj for a reconcile without waiting for it.
func askReconcile(t *testing.T, h *harness, obj client.Object) {
	t.Helper()
	patch := []byte(`{"metadata":{"annotations":{"` + reconcile.RequestedAtAnnotation + `":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := h.c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// gitErr runs the git CLI on the fixture's bare repository, returning
// its error (a revision that does not exist yet, say).
func (f *automationFixture) gitErr(args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"--git-dir", f.repo.Dir()}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
