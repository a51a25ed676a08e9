package e2e_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// kill SIGKILLs the child and waits for it to be gone.
func (c *child) kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-c.exited
	c.exited <- err // for the test's cleanup
}

// tempFiles lists the storage's temporary files (a writer's, not yet
// renamed into place), relative to root.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedDigest checks that a's file in the storage folder root is
// complete: its digest and size are the ones status records.
func storedDigest(t testing.TB, root string, a *artifact.Artifact) {
	t.Helper()
	d, err := artifact.ParseDigest(string(a.Digest))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(a.Path)))
	if err != nil {
		t.Fatalf("the recorded artifact is not in storage: %v", err)
	}
	defer f.Close()
	got, err := artifact.FromReader(f, d.Algorithm())
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Fatalf("stored %s has digest %s, status says %s", a.Path, got, d)
	}
}

// gitopsd SIGKILLed while it stores an artifact leaves a temporary file,
// never a recorded artifact that is incomplete: status keeps the previous
// artifact, whose file is whole. A gitopsd restarted on the same storage
// never serves the temporary file, stores the new revision (whole, by
// digest, served and on disk) and collects the leftover.
func TestKilledWhileStoring(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "small", map[string]string{"deploy/config.yaml": cm("config", "one")})
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	label := childLabel + "=kill-store"
	// The restarted child listens where the killed one did, as a Service
	// keeps gitopsd's address: artifact URLs in status stay valid.
	args := []string{"--watch-label-selector=" + label, "--storage-addr=" + freeAddr(t)}
	ch := startChildIn(t, dir, env.KubeConfig(), args...)

	src := gitRepository("app", srv.HTTPURL("app.git"))
	src.Spec.Timeout.Duration = timeout
	src.Labels = map[string]string{childLabel: "kill-store"}
	f.create(src)
	ready := func(rev string) {
		t.Helper()
		f.eventually(src, func() bool {
			return conditions.IsReady(src) && src.Status.Artifact != nil && src.Status.Artifact.Revision == rev
		}, func() string { return conds(src.Status.Conditions) })
	}
	ready("main@sha1:" + c1)
	first := src.Status.Artifact.DeepCopy()

	// 12 MiB that compress badly: archiving them takes a while.
	big := map[string]string{}
	for i := range 3 {
		big[fmt.Sprintf("deploy/blob-%d.txt", i)] = incompressible(uint64(i), 4<<20)
	}
	c2 := repo.Commit("main", "big", big)
	t.Logf("%s committed", time.Now().Format(time.StampMilli))
	f.request(src)
	deadline := time.Now().Add(timeout)
	for len(tempFiles(t, storage)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("gitopsd never started storing the new revision; conditions %s", conds(src.Status.Conditions))
		}
		time.Sleep(time.Millisecond)
	}
	ch.kill(t)
	t.Logf("%s killed", time.Now().Format(time.StampMilli))
	leftovers := tempFiles(t, storage)
	if len(leftovers) == 0 {
		t.Fatal("the kill came after the store: no temporary file left")
	}
	t.Logf("killed while storing: %s", leftovers)

	if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatal(err)
	}
	if a := src.Status.Artifact; a == nil || a.Path != first.Path || a.Digest != first.Digest {
		t.Fatalf("after the kill status.artifact = %+v, want the previous %+v", a, first)
	}
	storedDigest(t, storage, src.Status.Artifact)

	startChildIn(t, dir, env.KubeConfig(), args...)
	t.Logf("%s restarted", time.Now().Format(time.StampMilli))
	ready("main@sha1:" + c2)
	t.Logf("%s ready", time.Now().Format(time.StampMilli))
	storedDigest(t, storage, src.Status.Artifact)
	servedDigest(t, src.Status.Artifact)
	// The artifact server never serves a temporary file, whether or not
	// it is still there.
	u, err := url.Parse(src.Status.Artifact.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers {
		u.Path = "/" + l
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", u, resp.Status)
		}
	}
	if left := tempFiles(t, storage); len(left) > 0 {
		t.Errorf("temporary files left after the next store: %s", left)
	}
}

// manyConfigMaps returns n ConfigMap manifests cm-<i> under deploy/, each
// with value.
func manyConfigMaps(from, to int, value string) map[string]string {
	files := map[string]string{}
	for i := from; i < to; i++ {
		files[fmt.Sprintf("deploy/cm-%03d.yaml", i)] = cm(fmt.Sprintf("cm-%03d", i), value)
	}
	return files
}

// gitopsd SIGKILLed in the middle of applying a Kustomization of 300
// objects: restarted, it ends Ready at the new revision with every object
// applied, prunes exactly what left git, and deletes nothing else (each
// kept object has the UID it had before).
func TestKilledWhileApplying(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "300", manyConfigMaps(0, 300, "one"))
	label := childLabel + "=kill-apply"
	dir := t.TempDir()
	// The restarted child listens where the killed one did, as a Service
	// keeps gitopsd's address: artifact URLs in status stay valid.
	args := []string{"--watch-label-selector=" + label, "--storage-addr=" + freeAddr(t)}
	ch := startChildIn(t, dir, env.KubeConfig(), args...)
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	ks.Spec.Timeout.Duration = timeout
	for _, o := range []client.Object{src, ks} {
		o.SetLabels(map[string]string{childLabel: "kill-apply"})
	}
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+c1)
	uids := map[string]types.UID{}
	list := func() map[string]*corev1.ConfigMap {
		t.Helper()
		var l corev1.ConfigMapList
		if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
			t.Fatal(err)
		}
		out := map[string]*corev1.ConfigMap{}
		for i := range l.Items {
			if strings.HasPrefix(l.Items[i].Name, "cm-") {
				out[l.Items[i].Name] = &l.Items[i]
			}
		}
		return out
	}
	for n, c := range list() {
		uids[n] = c.UID
	}
	if len(uids) != 300 {
		t.Fatalf("%d ConfigMaps after the first apply, want 300", len(uids))
	}

	// The next revision changes cm-000..cm-289, drops cm-290..cm-299 and
	// adds cm-300..cm-309.
	files := manyConfigMaps(0, 290, "two")
	for k, v := range manyConfigMaps(300, 310, "two") {
		files[k] = v
	}
	var gone []string
	for i := 290; i < 300; i++ {
		gone = append(gone, fmt.Sprintf("deploy/cm-%03d.yaml", i))
	}
	c2 := repo.Commit("main", "change", files, gittest.Deleting(gone...))
	f.request(src)
	deadline := time.Now().Add(timeout)
	changed := 0
	for changed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("gitopsd never started applying the new revision; %s", describeKs(ks))
		}
		changed = 0
		for _, c := range list() {
			if c.Data["value"] == "two" {
				changed++
			}
		}
	}
	ch.kill(t)
	t.Logf("killed with %d of 300 objects of the new revision applied", changed)

	startChildIn(t, dir, env.KubeConfig(), args...)
	f.applied(ks, "main@sha1:"+c2)
	got := list()
	if len(got) != 300 {
		t.Errorf("%d ConfigMaps after the restart, want 300", len(got))
	}
	for i := range 310 {
		n := fmt.Sprintf("cm-%03d", i)
		c, ok := got[n]
		switch {
		case i >= 290 && i < 300:
			if ok {
				t.Errorf("%s left git but was not pruned", n)
			}
		case !ok:
			t.Errorf("%s missing", n)
		case c.Data["value"] != "two":
			t.Errorf("%s value = %q, want two", n, c.Data["value"])
		case i < 290 && c.UID != uids[n]:
			t.Errorf("%s was deleted and created again (UID %s, was %s)", n, c.UID, uids[n])
		}
	}
	if n := len(ks.Status.Inventory.Entries); n != 300 {
		t.Errorf("inventory has %d entries, want 300", n)
	}
}
