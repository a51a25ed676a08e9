package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/metricstest"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, imagev1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func TestMain(m *testing.M) {
	testenv.Main(m, &env,
		testenv.WithScheme(newScheme()),
		testenv.WithCRDPaths("../../../config/crd/bases"),
	)
}

// harness is one test's namespace with the three image reconcilers
// running in a manager of their own over it.
type harness struct {
	t       *testing.T
	ns      string
	c       client.Client
	tags    *TagStore
	events  *eventLog
	metrics *prometheus.Registry
}

// reconcilers are a harness's reconcilers, which options may adjust
// before the manager starts.
type reconcilers struct {
	repo *ImageRepositoryReconciler
	auto *ImageUpdateAutomationReconciler
}

// harnessOption adjusts the reconcilers before the manager starts.
type harnessOption func(*reconcilers)

// withoutGitCache makes the automations clone afresh each run, as a
// reconciler built without a GitCache does.
func withoutGitCache(rs *reconcilers) { rs.auto.GitCache, rs.auto.WorkDir = nil, "" }

// withBatchWindow sets the automations' BatchWindow.
func withBatchWindow(d time.Duration) harnessOption {
	return func(rs *reconcilers) { rs.auto.BatchWindow = d }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	t.Parallel()
	ns := env.Namespace(t)
	scheme := newScheme()
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: controllers.UncachedObjects()}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec := metrics.NewRecorder(metrics.WithScheme(scheme))
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	events := newEventLog(t)
	tags := NewTagStore(0)
	c := mgr.GetClient()
	// The automations go through a git cache of the test's own, with
	// their worktrees beside it, as in gitopsd.
	gitRoot := t.TempDir()
	gitCache, err := gogit.NewCache(filepath.Join(gitRoot, "repositories"))
	if err != nil {
		t.Fatal(err)
	}
	rs := &reconcilers{
		repo: &ImageRepositoryReconciler{Client: c, Tags: tags, Metrics: rec, Events: events.recorder},
		auto: &ImageUpdateAutomationReconciler{Client: c, Metrics: rec, Events: events.recorder,
			GitCache: gitCache, WorkDir: filepath.Join(gitRoot, "worktrees")},
	}
	for _, o := range opts {
		o(rs)
	}
	for _, setup := range []func(ctrl.Manager) error{
		rs.repo.SetupWithManager,
		(&ImagePolicyReconciler{Client: c, Tags: tags, Metrics: rec, Events: events.recorder}).SetupWithManager,
		rs.auto.SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := metricstest.NoPanics(reg); err != nil {
			t.Error(err)
		}
	})
	direct, err := client.New(env.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ns: ns, c: direct, tags: tags, events: events, metrics: reg}
}

// create creates obj in the harness namespace.
func (h *harness) create(obj client.Object) {
	h.t.Helper()
	obj.SetNamespace(h.ns)
	if err := h.c.Create(context.Background(), obj); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor re-reads obj until cond holds (30s at most).
func (h *harness) waitFor(obj client.Object, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err == nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s/%s: timed out waiting for %s; conditions: %+v", obj.GetNamespace(), obj.GetName(), what, conditionsOf(obj))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond until it holds (30s at most).
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func conditionsOf(obj client.Object) []metav1.Condition {
	if g, ok := obj.(conditions.Getter); ok {
		return g.GetConditions()
	}
	return nil
}

// waitReady waits for Ready=True at the object's current generation.
func (h *harness) waitReady(obj reconcile.Object) {
	h.t.Helper()
	h.waitFor(obj, "Ready=True", func() bool { return controllers.Steady(obj) })
}

// waitNotReady waits for Ready=False with reason, returning the condition.
func (h *harness) waitNotReady(obj reconcile.Object, reason string) *metav1.Condition {
	h.t.Helper()
	h.waitFor(obj, "Ready=False "+reason, func() bool {
		c := conditions.Get(obj, conditions.Ready)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && c.ObservedGeneration == obj.GetGeneration()
	})
	return conditions.Get(obj, conditions.Ready)
}

// request asks for a reconcile of obj and waits until it was handled.
func (h *harness) request(obj interface {
	reconcile.Object
	GetLastHandledReconcileAt() string
}) {
	h.t.Helper()
	ctx := context.Background()
	at := time.Now().Format(time.RFC3339Nano)
	base := obj.DeepCopyObject().(client.Object)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[reconcile.RequestedAtAnnotation] = at
	obj.SetAnnotations(a)
	if err := h.c.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor(obj, "the reconcile request "+at, func() bool { return obj.GetLastHandledReconcileAt() == at })
}

// eventLog collects the events a FakeRecorder records.
type eventLog struct {
	recorder *record.FakeRecorder
	mu       sync.Mutex
	lines    []string
}

func newEventLog(t *testing.T) *eventLog {
	l := &eventLog{recorder: record.NewFakeRecorder(256)}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case e := <-l.recorder.Events:
				l.mu.Lock()
				l.lines = append(l.lines, e)
				l.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return l
}

// matching returns the events starting with prefix ("Normal Pushed").
func (l *eventLog) matching(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.lines {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// all returns every event recorded.
func (l *eventLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitEvent waits for an event starting with prefix and returns it.
func (h *harness) waitEvent(prefix string) string {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if e := h.events.matching(prefix); len(e) > 0 {
			return e[len(e)-1]
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no event %q; events:\n%s", prefix, h.events.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pushImage pushes an artifact whose content is the tag to repo:tag and
// returns its digest.
func pushImage(t *testing.T, reg *ocitest.Registry, repo, tag string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tag.txt"), []byte(fmt.Sprintf("%s %d\n", tag, time.Now().UnixNano())), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Push(context.Background(), reg.Repo(repo)+":"+tag, dir, oci.PushOptions{Source: "https://example.com/app.git", Revision: "main@sha1:0123"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// imageRepository returns an ImageRepository of reg's repo.
func imageRepository(name string, reg *ocitest.Registry, repo string, mutate ...func(*imagev1.ImageRepositorySpec)) *imagev1.ImageRepository {
	obj := &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: imagev1.ImageRepositorySpec{
			Image:    reg.Repo(repo),
			Insecure: !strings.HasPrefix(reg.URL(), "https://"),
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

// imagePolicy returns an ImagePolicy of the ImageRepository repo.
func imagePolicy(name, repo string, policy imagev1.ImagePolicyChoice, mutate ...func(*imagev1.ImagePolicySpec)) *imagev1.ImagePolicy {
	obj := &imagev1.ImagePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: metaRef(repo),
			Policy:             policy,
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

func semverPolicy(r string) imagev1.ImagePolicyChoice {
	return imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: r}}
}

func metaRef(name string) meta.LocalObjectReference { return meta.LocalObjectReference{Name: name} }
