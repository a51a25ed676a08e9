package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/testenv"

	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

// The API server restarting while gitopsd applies a Kustomization of 300
// objects: gitopsd reconnects on its own, and the Kustomization ends Ready
// with every object present once (and in its inventory once). The control
// plane is this test's own, as the shared one serves parallel tests; the
// gitopsd is a child process pointed at it.
func TestAPIServerRestartMidApply(t *testing.T) {
	t.Parallel()
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	own, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDPaths("../config/crd/bases"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Stop() })
	f := &fixture{t: t, ns: own.Namespace(t), c: own.Client()}

	srv := gittest.NewServer(t)
	c := srv.InitRepository("app.git").Commit("main", "300", manyConfigMaps(0, 300, "one"))
	startChildIn(t, t.TempDir(), own.KubeConfig())
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	ks.Spec.Timeout.Duration = timeout
	f.create(src, ks)

	count := func() int {
		t.Helper()
		var l corev1.ConfigMapList
		if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range l.Items {
			if strings.HasPrefix(c.Name, "cm-") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(timeout)
	applied := 0
	for applied == 0 {
		applied = count()
		if time.Now().After(deadline) {
			t.Fatalf("gitopsd never started applying; %s", describeKs(ks))
		}
		time.Sleep(time.Millisecond)
	}
	if err := own.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server restarted, %d of 300 objects applied before", applied)

	f.applied(ks, "main@sha1:"+c)
	if n := count(); n != 300 {
		t.Errorf("%d ConfigMaps, want 300", n)
	}
	seen := map[string]bool{}
	for _, e := range ks.Status.Inventory.Entries {
		if seen[e.ID] {
			t.Errorf("inventory lists %s twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != 300 {
		t.Errorf("inventory has %d objects, want 300", len(seen))
	}
}
