package kustomize

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

var (
	env    *testenv.Environment
	scheme = newScheme()
	// metricsRegistry holds the reconciler's metrics.
	metricsRegistry = prometheus.NewRegistry()
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// TestMain starts the control plane and one manager running the
// reconciler for every test of the package, and stops the manager before
// the control plane so that no watch holds the API server's shutdown.
// (testenv.Main offers no hook between start and stop, hence Start here.)
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		// A fuzzing worker runs only fuzz targets, which need no cluster,
		// and is killed by the coordinator without a chance to clean up.
		os.Exit(m.Run())
	}
	e, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDPaths("../../../config/crd/bases"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		os.Exit(1)
	}
	env = e
	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := startManager(ctx)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the manager:", err)
	} else {
		code = m.Run()
		// Whatever the tests asserted, a recovered panic is a failure.
		if err := metricstest.NoPanics(metricsRegistry); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	cancel()
	if stopped != nil {
		<-stopped
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	os.Exit(code)
}

// startManager runs the reconciler in a manager until ctx ends; the
// returned channel is closed once the manager stopped.
func startManager(ctx context.Context) (<-chan struct{}, error) {
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// As gitopsd: Secrets, ConfigMaps and Namespaces are read from the
		// API server, not cached.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: controllers.UncachedObjects()}},
	})
	if err != nil {
		return nil, err
	}
	rec := metrics.NewRecorder(metrics.WithScheme(scheme))
	if err := rec.Register(metricsRegistry); err != nil {
		return nil, err
	}
	r := &KustomizationReconciler{
		Client:      mgr.GetClient(),
		Config:      objectRequests.wrap(env.Config()),
		Fetcher:     fetch.New(fetch.WithRetries(1), fetch.WithBackoff(10*time.Millisecond, 50*time.Millisecond), fetch.WithHTTPClient(downloads.client())),
		Concurrency: 8,
		Metrics:     rec,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return stopped, errors.New("the manager's cache did not sync")
	}
	return stopped, nil
}

// fixture is one test's namespace, artifact server and source.
type fixture struct {
	t   testing.TB
	ns  string
	srv *artifacttest.Server
	c   client.Client
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Parallel()
	}
	return &fixture{t: t, ns: env.Namespace(t), srv: artifacttest.NewServer(t), c: env.Client()}
}

var revCounter atomic.Int64

// revision returns a fresh Git-like revision.
func revision() string {
	return fmt.Sprintf("main@sha1:%040x", revCounter.Add(1))
}

// writeTree writes files (relative path to content) into a new folder.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// artifact archives files as a new revision of the source name.
func (f *fixture) artifact(name string, files map[string]string) artifact.Artifact {
	f.t.Helper()
	return f.srv.Add(f.t, "gitrepository", f.ns, name, writeTree(f.t, files), revision())
}

// gitRepository creates a GitRepository whose status carries a (when not
// nil).
func (f *fixture) gitRepository(name string, a *artifact.Artifact) *sourcev1.GitRepository {
	f.t.Helper()
	src := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:      "https://git.example.com/" + name,
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := f.c.Create(context.Background(), src); err != nil {
		f.t.Fatal(err)
	}
	if a != nil {
		f.setArtifact(src, *a)
	}
	return src
}

// setArtifact publishes a new artifact in the source's status, as a source
// controller does.
func (f *fixture) setArtifact(src sourcev1.Source, a artifact.Artifact) {
	f.t.Helper()
	ctx := context.Background()
	for range 10 {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil {
			f.t.Fatal(err)
		}
		switch s := src.(type) {
		case *sourcev1.GitRepository:
			s.Status.Artifact = a.DeepCopy()
		case *sourcev1.OCIRepository:
			s.Status.Artifact = a.DeepCopy()
		}
		err := f.c.Status().Update(ctx, src)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			f.t.Fatal(err)
		}
	}
	f.t.Fatal("could not update the source's artifact")
}

// kustomization creates a Kustomization of the GitRepository source with a
// long interval (so that only watches and retries make progress), a short
// retry interval, and spec changed by mutate.
func (f *fixture) kustomization(name, source string, mutate func(*kustomizev1.KustomizationSpec)) *kustomizev1.Kustomization {
	f.t.Helper()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
			Interval:      metav1.Duration{Duration: time.Hour},
			RetryInterval: &metav1.Duration{Duration: time.Second},
			Timeout:       &metav1.Duration{Duration: 30 * time.Second},
			Prune:         true,
		},
	}
	if mutate != nil {
		mutate(&ks.Spec)
	}
	if err := f.c.Create(context.Background(), ks); err != nil {
		f.t.Fatal(err)
	}
	return ks
}

// update changes a Kustomization's spec or metadata, retrying on conflict.
func (f *fixture) update(ks *kustomizev1.Kustomization, mutate func(*kustomizev1.Kustomization)) {
	f.t.Helper()
	ctx := context.Background()
	for range 10 {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ks), ks); err != nil {
			f.t.Fatal(err)
		}
		mutate(ks)
		err := f.c.Update(ctx, ks)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			f.t.Fatal(err)
		}
	}
	f.t.Fatal("could not update the Kustomization")
}

// waitFor polls the Kustomization until cond holds, for up to a minute.
func (f *fixture) waitFor(ks *kustomizev1.Kustomization, what string, cond func(*kustomizev1.Kustomization) bool) *kustomizev1.Kustomization {
	f.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	got := &kustomizev1.Kustomization{}
	poll := 100 * time.Millisecond
	if _, ok := f.t.(*testing.B); ok {
		poll = 5 * time.Millisecond
	}
	for {
		err := f.c.Get(ctx, client.ObjectKeyFromObject(ks), got)
		if err == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("Kustomization %s/%s: timed out waiting until %s; err=%v status=%+v", ks.Namespace, ks.Name, what, err, got.Status)
		}
		time.Sleep(poll)
	}
}

// waitReady waits until the Kustomization is Ready at its generation, with
// revision applied when not empty.
func (f *fixture) waitReady(ks *kustomizev1.Kustomization, rev string) *kustomizev1.Kustomization {
	f.t.Helper()
	return f.waitFor(ks, "Ready at revision "+rev, func(k *kustomizev1.Kustomization) bool {
		return conditions.IsReady(k) && k.Status.ObservedGeneration == k.Generation &&
			(rev == "" || k.Status.LastAppliedRevision == rev)
	})
}

// waitNotReady waits until Ready=False with the reason, for the current
// generation and the revision attempted when not empty.
func (f *fixture) waitNotReady(ks *kustomizev1.Kustomization, reason, rev string) *kustomizev1.Kustomization {
	f.t.Helper()
	return f.waitFor(ks, "Ready=False/"+reason, func(k *kustomizev1.Kustomization) bool {
		c := conditions.Get(k, conditions.Ready)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason &&
			k.Status.ObservedGeneration == k.Generation && (rev == "" || k.Status.LastAttemptedRevision == rev)
	})
}

// configMap returns the ConfigMap, or nil when it does not exist.
func (f *fixture) configMap(ns, name string) *corev1.ConfigMap {
	f.t.Helper()
	cm := &corev1.ConfigMap{}
	err := f.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return cm
}

// mustConfigMap fails the test when the ConfigMap does not exist.
func (f *fixture) mustConfigMap(ns, name string) *corev1.ConfigMap {
	f.t.Helper()
	cm := f.configMap(ns, name)
	if cm == nil {
		f.t.Fatalf("ConfigMap %s/%s does not exist", ns, name)
	}
	return cm
}

// waitGone waits until the ConfigMap no longer exists.
func (f *fixture) waitGone(ns, name string) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.configMap(ns, name) != nil {
		if time.Now().After(deadline) {
			f.t.Fatalf("ConfigMap %s/%s still exists", ns, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cm returns a ConfigMap manifest.
func cm(name string, kv ...string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n"
	if len(kv) == 0 {
		return s + "  k: v\n"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s += "  " + kv[i] + ": " + kv[i+1] + "\n"
	}
	return s
}

// inventoryIDs returns the IDs of the Kustomization's inventory.
func inventoryIDs(k *kustomizev1.Kustomization) []string {
	if k.Status.Inventory == nil {
		return nil
	}
	out := make([]string, 0, len(k.Status.Inventory.Entries))
	for _, e := range k.Status.Inventory.Entries {
		out = append(out, e.ID)
	}
	return out
}
