package source_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/examples/internal/metricstest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := sourcev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func TestMain(m *testing.M) {
	testenv.Main(m, &env,
		testenv.WithScheme(newScheme()),
		testenv.WithCRDPaths("../../../config/crd/bases"),
	)
}

// harness is one test's namespace, with both source reconcilers running in
// a manager of their own, watching only that namespace, and storing into an
// artifact server of their own.
type harness struct {
	t         *testing.T
	ns        string
	c         client.Client
	artifacts *artifacttest.Server
	metrics   *prometheus.Registry // the reconcilers' metrics
}

// harnessOption changes the reconcilers a harness runs, or the
// namespaces it watches.
type harnessOption func(*harnessConfig)

type harnessConfig struct {
	git        *source.GitRepositoryReconciler
	oci        *source.OCIRepositoryReconciler
	namespaces []string // watched besides the test's own
}

// withGit changes the GitRepository reconciler before it is set up.
func withGit(f func(*source.GitRepositoryReconciler)) harnessOption {
	return func(c *harnessConfig) { f(c.git) }
}

// withOCI changes the OCIRepository reconciler before it is set up.
func withOCI(f func(*source.OCIRepositoryReconciler)) harnessOption {
	return func(c *harnessConfig) { f(c.oci) }
}

// withNamespaces makes the manager watch these namespaces too.
func withNamespaces(ns ...string) harnessOption {
	return func(c *harnessConfig) { c.namespaces = append(c.namespaces, ns...) }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	ns := env.Namespace(t)
	srv := artifacttest.NewServer(t)
	cfg := &harnessConfig{git: &source.GitRepositoryReconciler{}, oci: &source.OCIRepositoryReconciler{}}
	for _, o := range opts {
		o(cfg)
	}
	watched := map[string]cache.Config{ns: {}}
	for _, n := range cfg.namespaces {
		watched[n] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 env.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: watched},
		// As gitopsd: Secrets are read from the API server, not cached.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: controller.UncachedObjects()}},
		// Every test runs its own manager with the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec := metrics.NewRecorder(metrics.WithScheme(env.Scheme()))
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	cfg.git.Client, cfg.git.Storage, cfg.git.Metrics = mgr.GetClient(), srv.Storage(), rec
	if err := cfg.git.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	cfg.oci.Client, cfg.oci.Storage, cfg.oci.Metrics = mgr.GetClient(), srv.Storage(), rec
	if err := cfg.oci.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
		// Whatever the test asserted, a recovered panic is a failure.
		if err := metricstest.NoPanics(reg); err != nil {
			t.Error(err)
		}
	})
	return &harness{t: t, ns: ns, c: env.Client(), artifacts: srv, metrics: reg}
}

func (h *harness) create(obj client.Object) {
	h.t.Helper()
	obj.SetNamespace(h.ns)
	if err := h.c.Create(context.Background(), obj); err != nil {
		h.t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

func (h *harness) secret(name string, data map[string]string) {
	h.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data}
	h.create(s)
}

// update re-reads obj and applies change to it until the write succeeds.
func (h *harness) update(obj client.Object, change func()) {
	h.t.Helper()
	ctx := context.Background()
	for range 10 {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			h.t.Fatal(err)
		}
		change()
		err := h.c.Update(ctx, obj)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "modified") {
			h.t.Fatal(err)
		}
	}
	h.t.Fatalf("update %s: too many conflicts", obj.GetName())
}

// eventually re-reads obj until cond holds, failing the test after a
// minute with the last state seen.
func (h *harness) eventually(obj conditions.Setter, cond func() bool) {
	h.t.Helper()
	cobj := obj.(client.Object)
	deadline := time.Now().Add(time.Minute)
	for {
		err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cobj), cobj)
		if err == nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: condition not met; err=%v conditions=%s", cobj.GetName(), err, describe(obj))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gone waits until obj no longer exists.
func (h *harness) gone(obj client.Object) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s not deleted: err=%v finalizers=%v", obj.GetName(), err, obj.GetFinalizers())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready waits until obj is Ready for its current generation.
func (h *harness) ready(obj conditions.Setter) {
	h.t.Helper()
	h.eventually(obj, func() bool { return conditions.IsReady(obj) })
}

// notReady waits until Ready is False for the current generation with a
// message containing every part, and returns the message.
func (h *harness) notReady(obj conditions.Setter, parts ...string) string {
	h.t.Helper()
	var msg string
	h.eventually(obj, func() bool {
		c := conditions.Get(obj, conditions.Ready)
		if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != obj.GetGeneration() {
			return false
		}
		msg = c.Message
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return false
			}
		}
		return true
	})
	return msg
}

// fetchArtifact downloads and unpacks a through its URL, checking its
// digest, and returns the folder.
func fetchArtifact(t *testing.T, a *artifact.Artifact) string {
	t.Helper()
	if a == nil {
		t.Fatal("no artifact")
	}
	dir := t.TempDir()
	if _, err := fetch.New().Fetch(context.Background(), *a, dir); err != nil {
		t.Fatalf("fetch %s: %v", a.URL, err)
	}
	return dir
}

func describe(obj conditions.Getter) string {
	var b strings.Builder
	for _, c := range obj.GetConditions() {
		fmt.Fprintf(&b, "[%s=%s %s: %s (gen %d)]", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
	return b.String()
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// series is the gitopskit series of obj whose labels also include extra.
func series(obj client.Object, kind string, extra ...string) map[string]string {
	l := map[string]string{"kind": kind, "name": obj.GetName(), "namespace": obj.GetNamespace()}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// eventuallyMetric waits until the series name with labels has a value
// (a histogram's: its sample count) for which ok holds; ok gets false for
// a missing series.
func (h *harness) eventuallyMetric(name string, labels map[string]string, ok func(v float64, found bool) bool) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		fams, err := metricstest.Gather(h.metrics)
		if err != nil {
			h.t.Fatal(err)
		}
		v, found := fams.Value(name, labels)
		if ok(v, found) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("metric %s%v: value %v (found %t) not as expected", name, labels, v, found)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantMetric waits until the series name with labels has value want.
func (h *harness) wantMetric(name string, labels map[string]string, want float64) {
	h.t.Helper()
	h.eventuallyMetric(name, labels, func(v float64, found bool) bool { return found && v == want })
}

// wantNoMetrics waits until no series of obj is left.
func (h *harness) wantNoMetrics(obj client.Object, kind string) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		fams, err := metricstest.Gather(h.metrics)
		if err != nil {
			h.t.Fatal(err)
		}
		n := fams.Count(series(obj, kind))
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d series of %s %s left after its deletion", n, kind, obj.GetName())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
