package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// Failover timings: short enough for a test, with the renew deadline far
// enough from the lease duration that a loaded machine does not lose the
// lease of a live leader.
const (
	failoverLease = 6 * time.Second
	failoverRenew = 4 * time.Second
	failoverRetry = time.Second
)

// mutatingRequests sums a gitopsd's rest_client_requests_total over the
// methods that write (POST, PUT, PATCH, DELETE).
func mutatingRequests(t testing.TB, c *child) float64 {
	t.Helper()
	fams, err := scrape("http://" + c.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != "rest_client_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && strings.Contains("POST PUT PATCH DELETE", l.GetValue()) {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// Two gitopsd replicas with one leader election Lease, each with a storage
// folder of its own as two pods have: the leader reconciles and serves
// the artifacts, while the standby writes nothing at all. SIGKILLed, the
// leader cannot release the Lease; the standby takes it once it expires,
// re-creates every artifact from its source at once (its storage is empty;
// the archives come out identical) and points the sources' status at its
// own artifact server. The Kustomizations recover without any action: a
// commit pushed after the failover is applied, what left git is pruned,
// and every other object keeps the UID it had under the old leader.
func TestLeaderFailover(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	const label = "failover"
	args := func(storageAddr string) []string {
		return []string{
			"--watch-label-selector=" + childLabel + "=" + label,
			"--enable-leader-election",
			"--leader-election-namespace=" + f.ns,
			"--leader-election-id=gitopsd-failover",
			"--leader-election-lease-duration=" + failoverLease.String(),
			"--leader-election-renew-deadline=" + failoverRenew.String(),
			"--leader-election-retry-period=" + failoverRetry.String(),
			"--storage-addr=" + storageAddr,
		}
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	// a is ready, so it serves artifacts: it holds the Lease. b only
	// answers /healthz: it waits for the Lease.
	a := startChildIn(t, t.TempDir(), env.KubeConfig(), args(addrA)...)
	dirB := t.TempDir()
	b := startChildProbe(t, dirB, env.KubeConfig(), "/healthz", args(addrB)...)

	names := []string{"one", "two"}
	type app struct {
		repo *gittest.Repository
		src  *sourcev1.GitRepository
		ks   *kustomizev1.Kustomization
		rev  string
	}
	apps := map[string]*app{}
	for _, n := range names {
		repo := srv.InitRepository(n + ".git")
		files := map[string]string{}
		for i := range 5 {
			files[fmt.Sprintf("deploy/%s-%d.yaml", n, i)] = cm(fmt.Sprintf("%s-%d", n, i), "v1")
		}
		c := repo.Commit("main", "v1", files)
		// A 10-minute interval: the new leader must reconcile every source
		// when it is elected, not when the interval is over.
		src := gitRepository(n, srv.HTTPURL(n+".git"))
		ks := kustomization(n, f.ns, src, "./deploy")
		for _, o := range []client.Object{src, ks} {
			o.SetLabels(map[string]string{childLabel: label})
		}
		f.create(src, ks)
		apps[n] = &app{repo: repo, src: src, ks: ks, rev: "main@sha1:" + c}
	}
	for _, n := range names {
		f.applied(apps[n].ks, apps[n].rev)
	}
	lease := &coordinationv1.Lease{}
	leaseKey := client.ObjectKey{Namespace: f.ns, Name: "gitopsd-failover"}
	if err := f.c.Get(context.Background(), leaseKey, lease); err != nil {
		t.Fatal(err)
	}
	leader := *lease.Spec.HolderIdentity
	transitions := *lease.Spec.LeaseTransitions

	// The standby, up through all of this, reconciled nothing and wrote
	// nothing: every status is the leader's, addressed at its server.
	if n := mutatingRequests(t, b); n != 0 {
		t.Errorf("the standby made %v write requests", n)
	}
	if fams, err := scrape("http://" + b.metrics + "/metrics"); err != nil {
		t.Fatal(err)
	} else if n := fams.Sum("controller_runtime_reconcile_total"); n != 0 {
		t.Errorf("the standby reconciled %v times", n)
	}
	before := map[string]*sourcev1.GitRepository{}
	for _, n := range names {
		src := apps[n].src
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(src), src); err != nil {
			t.Fatal(err)
		}
		if host := artifactHost(t, src); host != addrA {
			t.Fatalf("%s: artifact served from %s, want the leader's %s", n, host, addrA)
		}
		before[n] = src.DeepCopy()
	}
	uids := configMapUIDs(t, f)
	if len(uids) != 10 {
		t.Fatalf("%d ConfigMaps before the failover, want 10", len(uids))
	}

	a.kill(t)
	killed := time.Now()

	// b takes the Lease once it has expired (a cannot release it)...
	f.eventually(lease, func() bool {
		return lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != leader
	}, func() string { return fmt.Sprintf("Lease held by %v", lease.Spec.HolderIdentity) })
	took := time.Since(killed)
	if *lease.Spec.LeaseTransitions != transitions+1 {
		t.Errorf("lease transitions %d, want %d", *lease.Spec.LeaseTransitions, transitions+1)
	}
	// ... and is then ready: it serves artifacts.
	deadline := time.Now().Add(timeout)
	for !get(t, "http://"+b.health+"/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("the new leader is not ready after %s\n%s", timeout, b.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ready := time.Since(killed)

	// Every source's artifact, stored anew in b's empty storage from its
	// source — the same revision and bytes — is served by b, and status
	// says so, well before the sources' interval.
	for _, n := range names {
		src := apps[n].src
		f.eventually(src, func() bool {
			return conditions.IsReady(src) && src.Status.Artifact != nil && artifactHost(t, src) == addrB
		}, func() string {
			return fmt.Sprintf("artifact %+v; conditions %s", src.Status.Artifact, conds(src.Status.Conditions))
		})
		old := before[n].Status.Artifact
		if got := src.Status.Artifact; got.Revision != old.Revision || got.Digest != old.Digest || got.Path != old.Path {
			t.Errorf("%s: re-created artifact %s %s %s, want the old leader's %s %s %s", n, got.Path, got.Revision, got.Digest, old.Path, old.Revision, old.Digest)
		}
		storedDigest(t, filepath.Join(dirB, "storage"), src.Status.Artifact)
		servedDigest(t, src.Status.Artifact)
	}
	repointed := time.Since(killed)
	t.Logf("SIGKILL → Lease taken %s (lease duration %s), new leader ready %s, artifacts re-pointed %s",
		took.Round(time.Millisecond), failoverLease, ready.Round(time.Millisecond), repointed.Round(time.Millisecond))

	// A commit after the failover: each app drops its object 4, adds 5
	// and changes the rest. The sources are asked to fetch it, as a
	// webhook Receiver would; the Kustomizations are left alone.
	for _, n := range names {
		files := map[string]string{}
		for i := range 6 {
			if i != 4 {
				files[fmt.Sprintf("deploy/%s-%d.yaml", n, i)] = cm(fmt.Sprintf("%s-%d", n, i), "v2")
			}
		}
		c := apps[n].repo.Commit("main", "v2", files, gittest.Deleting(fmt.Sprintf("deploy/%s-4.yaml", n)))
		apps[n].rev = "main@sha1:" + c
		f.request(apps[n].src)
	}
	for _, n := range names {
		f.applied(apps[n].ks, apps[n].rev)
		if got := len(apps[n].ks.Status.Inventory.Entries); got != 5 {
			t.Errorf("%s: inventory has %d entries, want 5", n, got)
		}
	}
	got := configMapUIDs(t, f)
	for _, n := range names {
		for i := range 6 {
			name := fmt.Sprintf("%s-%d", n, i)
			uid, ok := got[name]
			switch {
			case i == 4:
				if ok {
					t.Errorf("%s left git but was not pruned", name)
				}
			case !ok:
				t.Errorf("%s is missing", name)
			case i < 4 && uid != uids[name]:
				t.Errorf("%s was deleted and created again (UID %s, was %s)", name, uid, uids[name])
			}
			if ok && f.configMapData(f.ns, name)["value"] != "v2" {
				t.Errorf("%s: value %q, want v2", name, f.configMapData(f.ns, name)["value"])
			}
		}
	}
	if t.Failed() {
		t.Logf("new leader's log:\n%s", b.log)
	}
}

// artifactHost is the host:port of the source's artifact URL.
func artifactHost(t testing.TB, src *sourcev1.GitRepository) string {
	t.Helper()
	if src.Status.Artifact == nil {
		return ""
	}
	u, err := url.Parse(src.Status.Artifact.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// configMapUIDs returns the UIDs of the ConfigMaps of the fixture's
// namespace by name, leaving out kube-root-ca.crt.
func configMapUIDs(t testing.TB, f *fixture) map[string]types.UID {
	t.Helper()
	var l corev1.ConfigMapList
	if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, c := range l.Items {
		if c.Name != "kube-root-ca.crt" {
			out[c.Name] = c.UID
		}
	}
	return out
}
