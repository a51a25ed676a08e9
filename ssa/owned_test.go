package ssa_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// listReads records the list requests of a client and the bytes their
// responses carried.
type listReads struct {
	mu       sync.Mutex
	selector []string // labelSelector of each list or watch, "" for none
	bytes    int64
}

type countingBody struct {
	io.ReadCloser
	add func(int)
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.add(n)
	return n, err
}

func (l *listReads) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		// A list or watch addresses a collection: .../configmaps.
		if err != nil || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/configmaps") {
			return resp, err
		}
		l.mu.Lock()
		l.selector = append(l.selector, req.URL.Query().Get("labelSelector"))
		l.mu.Unlock()
		resp.Body = countingBody{resp.Body, func(n int) {
			l.mu.Lock()
			l.bytes += int64(n)
			l.mu.Unlock()
		}}
		return resp, nil
	})
}

func (l *listReads) reset() (selectors []string, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	selectors, bytes = l.selector, l.bytes
	l.selector, l.bytes = nil, 0
	return selectors, bytes
}

// TestACrowdedNamespaceCostsWhatTheSetOwns: many sets sharing one
// namespace (a fleet of Kustomizations with name prefixes) must not each
// read the whole namespace on every re-check. The unchanged re-apply and
// the wait list the objects by their ownership labels; an object the set
// lost (deleted, or stripped of its labels) makes the group be listed
// whole, and is put back without a GET.
func TestACrowdedNamespaceCostsWhatTheSetOwns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	// Other tenants' ConfigMaps, 2 KiB each.
	for i := range 300 {
		other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("other-%03d", i)},
			Data: map[string]string{"v": strings.Repeat("x", 2048)}}
		if err := env.Client().Create(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	const foreign = 300 * 2048

	reads := &listReads{}
	cfg := env.Config()
	cfg.Wrap(reads.wrap)
	rec := &recorder{}
	cfg.Wrap(rec.wrap)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ssa.NewManager(c, ssa.Owner{Field: "gitopskit-test", Group: "test.gitopskit.dev", Name: "crowded", Namespace: "flux"},
		ssa.WithSchemas(sharedSchemas(t)))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for i := range 20 {
		objs = append(objs, objects(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine-%02d}\ndata: {i: %q}\n", i, fmt.Sprint(i)))...)
	}
	opts := ssa.ApplyOptions{DefaultNamespace: ns}

	// Cold: nothing carries the labels yet, so the namespace is listed
	// whole once and no object is read with a GET.
	cs, err := m.Apply(ctx, objs, opts)
	if err != nil || cs.Count(ssa.ActionCreated) != len(objs) {
		t.Fatalf("cold apply: %v\n%s", err, cs)
	}
	for _, q := range rec.objectRequests(objs) {
		if q.Method == http.MethodGet {
			t.Errorf("cold apply read an object: %s %s", q.Method, q.Path)
		}
	}
	sels, _ := reads.reset()
	if len(sels) != 2 || sels[0] == "" || sels[1] != "" {
		t.Errorf("cold apply lists (label selectors): %q, want one by the labels, then one whole", sels)
	}

	// Unchanged: one list, by the labels, that carries the set and none of
	// the other tenants' objects.
	rec.reset()
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil || cs.Count(ssa.ActionUnchanged) != len(objs) {
		t.Fatalf("unchanged re-apply: %v\n%s", err, cs)
	}
	if q := rec.objectRequests(objs); len(q) != 0 {
		t.Errorf("unchanged re-apply sent per-object requests: %+v", q)
	}
	sels, bytes := reads.reset()
	if len(sels) != 1 || !strings.Contains(sels[0], "test.gitopskit.dev/name=crowded") {
		t.Errorf("unchanged re-apply lists (label selectors): %q, want one by the ownership labels", sels)
	}
	t.Logf("unchanged re-apply read %d bytes of lists; the namespace holds %d bytes of others' data", bytes, foreign)
	if bytes >= foreign/4 {
		t.Errorf("the re-apply read %d bytes: the namespace's other objects came along", bytes)
	}

	// Wait, owned: listed and watched by the labels.
	if err := m.Wait(ctx, objs, ssa.WaitOptions{DefaultNamespace: ns, Owned: true}); err != nil {
		t.Fatal(err)
	}
	sels, bytes = reads.reset()
	for _, s := range sels {
		if !strings.Contains(s, "test.gitopskit.dev/name=crowded") {
			t.Errorf("owned wait listed or watched without the labels: %q", sels)
		}
	}
	if bytes >= foreign/4 {
		t.Errorf("the owned wait read %d bytes", bytes)
	}

	// Lost objects: one deleted, one stripped of its labels by someone else.
	get := func(name string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{}
		if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}
	if err := env.Client().Delete(ctx, get("mine-00")); err != nil {
		t.Fatal(err)
	}
	stripped := get("mine-01")
	stripped.Labels = nil
	if err := env.Client().Update(ctx, stripped, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	// An owned wait for a set whose list by labels lacks one still ends:
	// the group is watched whole.
	if err := m.Wait(ctx, objs[1:], ssa.WaitOptions{DefaultNamespace: ns, Owned: true}); err != nil {
		t.Fatalf("owned wait with an object stripped of its labels: %v", err)
	}
	reads.reset()
	rec.reset()
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(cs)
	if a := got["ConfigMap/"+ns+"/mine-00"]; a != ssa.ActionCreated {
		t.Errorf("deleted object: %s, want created", a)
	}
	if a := got["ConfigMap/"+ns+"/mine-01"]; a != ssa.ActionConfigured {
		t.Errorf("object stripped of its labels: %s, want configured", a)
	}
	if n := cs.Count(ssa.ActionUnchanged); n != len(objs)-2 {
		t.Errorf("%d unchanged, want %d:\n%s", n, len(objs)-2, cs)
	}
	if l := get("mine-01").Labels["test.gitopskit.dev/name"]; l != "crowded" {
		t.Errorf("labels not put back: %q", l)
	}
	for _, q := range rec.objectRequests(objs[:1]) {
		if q.Method == http.MethodGet {
			t.Errorf("the deleted object was read with a GET: %s", q.Path)
		}
	}
	if sels, _ := reads.reset(); len(sels) != 2 || sels[1] != "" {
		t.Errorf("lists after losing objects (label selectors): %q, want by the labels, then whole", sels)
	}
}
