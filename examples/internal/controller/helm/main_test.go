package helm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/testenv"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// privateLabel marks HelmReleases the shared manager leaves alone: a test
// reconciles them itself, with a context it controls.
const privateLabel = "test.gitopskit.dev/private"

// testMaxChartSize is the shared reconciler's chart size limit, small
// enough for a test to cross.
const testMaxChartSize = 1 << 20

var (
	env             *testenv.Environment
	scheme          = newScheme()
	metricsRegistry = prometheus.NewRegistry()
	events          = &eventLog{}
	recorderMetrics *metrics.Recorder
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// TestMain starts the control plane and one manager running the
// reconciler for every test of the package (but the HelmReleases labelled
// privateLabel), and stops the manager before the control plane.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	flag.Parse()
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

func notPrivate() labels.Selector {
	req, err := labels.NewRequirement(privateLabel, selection.DoesNotExist, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*req)
}

// newReconciler returns a reconciler as gitopsd configures one.
func newReconciler(c client.Client, reader client.Reader) *HelmReleaseReconciler {
	return &HelmReleaseReconciler{
		Client:       c,
		APIReader:    reader,
		Config:       env.Config(),
		Fetcher:      fetch.New(fetch.WithRetries(1), fetch.WithBackoff(10*time.Millisecond, 50*time.Millisecond)),
		ACL:          acl.AllowAll(),
		Concurrency:  8,
		Events:       events,
		MaxChartSize: testMaxChartSize,
	}
}

func startManager(ctx context.Context) (<-chan struct{}, error) {
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: controllers.UncachedObjects()}},
	})
	if err != nil {
		return nil, err
	}
	recorderMetrics = metrics.NewRecorder(metrics.WithScheme(scheme))
	if err := recorderMetrics.Register(metricsRegistry); err != nil {
		return nil, err
	}
	r := newReconciler(mgr.GetClient(), mgr.GetAPIReader())
	r.Metrics = recorderMetrics
	r.Selector = notPrivate()
	r.DependencyRequeue = time.Second
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

// eventLog is an EventRecorder that keeps every event, for assertions.
type eventLog struct {
	mu  sync.Mutex
	all []recorded
}

type recorded struct {
	namespace, name, eventType, reason, message string
	metadata                                    map[string]string
}

func (l *eventLog) Event(obj runtime.Object, eventType, reason, message string) {
	l.AnnotatedEventf(obj, nil, eventType, reason, "%s", message)
}

func (l *eventLog) Eventf(obj runtime.Object, eventType, reason, format string, args ...any) {
	l.AnnotatedEventf(obj, nil, eventType, reason, format, args...)
}

func (l *eventLog) AnnotatedEventf(obj runtime.Object, md map[string]string, eventType, reason, format string, args ...any) {
	o, ok := obj.(client.Object)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, recorded{o.GetNamespace(), o.GetName(), eventType, reason, fmt.Sprintf(format, args...), md})
}

// of returns the events of one object.
func (l *eventLog) of(ns, name string) []recorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recorded
	for _, e := range l.all {
		if e.namespace == ns && e.name == name {
			out = append(out, e)
		}
	}
	return out
}

// fixture is one test's namespace and artifact server.
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

// configMapTemplate renders a ConfigMap of the release with .Values.greeting.
const configMapTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
`

// chartArtifact packages a chart and publishes it as a HelmChart artifact
// of the artifact server.
func (f *fixture) chartArtifact(name, version string, templates map[string]string, files map[string]string) artifact.Artifact {
	f.t.Helper()
	if templates == nil {
		templates = map[string]string{"cm.yaml": configMapTemplate}
	}
	src := helmtest.WriteChart(f.t, f.t.TempDir(), helmtest.Chart{Name: name, Version: version, Templates: templates, Files: files, Values: "greeting: hello\n"})
	tgz := helmtest.PackageChart(f.t, src, f.t.TempDir())
	data, err := os.ReadFile(tgz)
	if err != nil {
		f.t.Fatal(err)
	}
	rev := fmt.Sprintf("%s@sha256:%064x", version, revCounter.Add(1))
	return f.srv.AddFile(f.t, "helmchart", f.ns, name, filepath.Base(tgz), data, rev)
}

// helmChart creates a HelmChart whose status carries a, as a source
// controller would publish it.
func (f *fixture) helmChart(name string, a artifact.Artifact) *sourcev1.HelmChart {
	f.t.Helper()
	hc := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: sourcev1.HelmChartSpec{
			Chart: name, Version: "*", Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		},
	}
	if err := f.c.Create(context.Background(), hc); err != nil {
		f.t.Fatal(err)
	}
	f.setArtifact(hc, a)
	return hc
}

// setArtifact publishes a new artifact in the source's status.
func (f *fixture) setArtifact(src sourcev1.Source, a artifact.Artifact) {
	f.t.Helper()
	ctx := context.Background()
	for range 20 {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil {
			f.t.Fatal(err)
		}
		switch s := src.(type) {
		case *sourcev1.HelmChart:
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

// helmRelease creates a HelmRelease of the HelmChart chart with a long
// interval, a short retry interval and a short timeout, changed by mutate.
func (f *fixture) helmRelease(name, chart string, mutate func(*helmv1.HelmRelease)) *helmv1.HelmRelease {
	f.t.Helper()
	hr := &helmv1.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: helmv1.HelmReleaseSpec{
			ChartRef:      &helmv1.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: chart},
			Interval:      metav1.Duration{Duration: time.Hour},
			RetryInterval: &metav1.Duration{Duration: time.Second},
			Timeout:       &metav1.Duration{Duration: 30 * time.Second},
		},
	}
	if mutate != nil {
		mutate(hr)
	}
	if err := f.c.Create(context.Background(), hr); err != nil {
		f.t.Fatal(err)
	}
	return hr
}

// inline returns spec.values from a map.
func inline(kv ...string) *apiextensionsv1.JSON {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%q:%s", kv[i], kv[i+1]))
	}
	return &apiextensionsv1.JSON{Raw: []byte("{" + strings.Join(parts, ",") + "}")}
}

// update changes a HelmRelease, retrying on conflict.
func (f *fixture) update(hr *helmv1.HelmRelease, mutate func(*helmv1.HelmRelease)) {
	f.t.Helper()
	ctx := context.Background()
	for range 20 {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(hr), hr); err != nil {
			f.t.Fatal(err)
		}
		mutate(hr)
		err := f.c.Update(ctx, hr)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			f.t.Fatal(err)
		}
	}
	f.t.Fatal("could not update the HelmRelease")
}

// request sets a reconcile request (and force or reset with it).
func (f *fixture) request(hr *helmv1.HelmRelease, force, reset bool) string {
	f.t.Helper()
	token := fmt.Sprintf("req-%d", revCounter.Add(1))
	f.update(hr, func(h *helmv1.HelmRelease) {
		if h.Annotations == nil {
			h.Annotations = map[string]string{}
		}
		h.Annotations["reconcile.gitopskit.dev/requestedAt"] = token
		if force {
			h.Annotations["reconcile.gitopskit.dev/forceAt"] = token
		}
		if reset {
			h.Annotations["reconcile.gitopskit.dev/resetAt"] = token
		}
	})
	return token
}

// waitFor polls the HelmRelease until cond holds, for up to 90 seconds.
func (f *fixture) waitFor(hr *helmv1.HelmRelease, what string, cond func(*helmv1.HelmRelease) bool) *helmv1.HelmRelease {
	f.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	got := &helmv1.HelmRelease{}
	poll := 50 * time.Millisecond
	if _, ok := f.t.(*testing.B); ok {
		poll = 5 * time.Millisecond
	}
	for {
		err := f.c.Get(ctx, client.ObjectKeyFromObject(hr), got)
		if err == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("HelmRelease %s/%s: timed out waiting until %s; err=%v conditions=%+v", hr.Namespace, hr.Name, what, err, got.Status.Conditions)
		}
		time.Sleep(poll)
	}
}

// waitReady waits until the HelmRelease is Ready at its generation, its
// latest revision being version (any when 0).
func (f *fixture) waitReady(hr *helmv1.HelmRelease, version int) *helmv1.HelmRelease {
	f.t.Helper()
	return f.waitFor(hr, fmt.Sprintf("Ready at revision %d", version), func(h *helmv1.HelmRelease) bool {
		l := h.Status.Latest()
		return conditions.IsReady(h) && h.Status.ObservedGeneration == h.Generation &&
			l != nil && (version == 0 || l.Version == version)
	})
}

// waitNotReady waits until Ready=False with the reason at the current
// generation.
func (f *fixture) waitNotReady(hr *helmv1.HelmRelease, reason string) *helmv1.HelmRelease {
	f.t.Helper()
	return f.waitFor(hr, "Ready=False/"+reason, func(h *helmv1.HelmRelease) bool {
		c := conditions.Get(h, conditions.Ready)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && h.Status.ObservedGeneration == h.Generation
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

// revisions returns the number of Helm release records of release name in
// namespace ns (Helm's Secrets storage).
func (f *fixture) revisions(ns, name string) int {
	f.t.Helper()
	var l corev1.SecretList
	if err := f.c.List(context.Background(), &l, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		f.t.Fatal(err)
	}
	return len(l.Items)
}

// waitGone waits until the HelmRelease no longer exists (finalized).
func (f *fixture) waitGone(hr *helmv1.HelmRelease) {
	f.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := f.c.Get(context.Background(), client.ObjectKeyFromObject(hr), &helmv1.HelmRelease{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("HelmRelease %s/%s was not finalized: %v", hr.Namespace, hr.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bindAdmin grants the service account ns/name every right in ns (the
// test control plane runs no controller that would aggregate the admin
// ClusterRole).
func bindAdmin(t testing.TB, ns, name string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-admin"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name + "-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}},
	}
	for _, o := range []client.Object{role, rb} {
		if err := env.Client().Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}
