package notification

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// trustedLabel marks the namespaces whose Alerts may hear other
// namespaces (the test hub's cross-namespace policy).
const trustedLabel = "alerts.gitopskit.dev/trusted"

var (
	env    *testenv.Environment
	scheme = newScheme()
	// testHub is the hub the tests submit events to, on the Alerts and
	// Providers of the control plane.
	testHub *hub.Hub
	// cached is the manager's client, reading what the hub reads.
	cached client.Client
	// hubRegistry holds testHub's metrics; metricsRegistry the
	// reconcilers'.
	hubRegistry     = prometheus.NewRegistry()
	metricsRegistry = prometheus.NewRegistry()
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, notificationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// TestMain starts the control plane and one manager running the Provider
// and Alert reconcilers and a hub on their objects — no reconciler that
// records events runs, so the tests' own events are all the hub sees.
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

func startManager(ctx context.Context) (<-chan struct{}, error) {
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// As gitopsd: Secrets and Namespaces are read from the API server.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: controllers.UncachedObjects()}},
	})
	if err != nil {
		return nil, err
	}
	cached = mgr.GetClient()
	rec := metrics.NewRecorder(metrics.WithScheme(scheme))
	if err := rec.Register(metricsRegistry); err != nil {
		return nil, err
	}
	sel, err := labels.Parse(trustedLabel + "=true")
	if err != nil {
		return nil, err
	}
	// Secrets read again at every use: a changed Secret shows at once.
	provs := &Providers{Reader: mgr.GetClient(), Recheck: -1}
	policy := acl.AllowNamespaceSelector(sel)
	alerts := &Alerts{Client: mgr.GetClient(), Providers: provs, ACL: policy}
	testHub = NewHub(alerts, hub.WithRetries(1, 10*time.Millisecond, 10*time.Millisecond))
	if err := testHub.Register(hubRegistry); err != nil {
		return nil, err
	}
	if err := mgr.Add(testHub); err != nil {
		return nil, err
	}
	if err := (&ProviderReconciler{Client: mgr.GetClient(), Providers: provs, Concurrency: 4, Metrics: rec}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if err := (&AlertReconciler{Client: mgr.GetClient(), ACL: policy, Concurrency: 4, Metrics: rec}).SetupWithManager(mgr); err != nil {
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

// fixture is one test's namespace and provider sink.
type fixture struct {
	t    *testing.T
	ns   string
	c    client.Client
	sink *eventstest.ProviderSink
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	return anotherFixture(t)
}

// anotherFixture is a second fixture of a test that has one.
func anotherFixture(t *testing.T) *fixture {
	return &fixture{t: t, ns: env.Namespace(t), c: env.Client(), sink: eventstest.NewProviderSink(t)}
}

func (f *fixture) create(objs ...client.Object) {
	f.t.Helper()
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(f.ns)
		}
		if err := f.c.Create(context.Background(), o); err != nil {
			f.t.Fatal(err)
		}
	}
}

// secret makes a Secret of the fixture's namespace.
func (f *fixture) secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}, StringData: data}
	f.create(s)
	return s
}

// provider creates a generic Provider posting to the fixture's sink, its
// address in a Secret.
func (f *fixture) provider(name string) *notificationv1.Provider {
	f.t.Helper()
	f.secret(name+"-address", map[string]string{"address": f.sink.URL() + "/" + name})
	p := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: notificationv1.ProviderSpec{
			Type:      "generic",
			SecretRef: &meta.LocalObjectReference{Name: name + "-address"},
		},
	}
	f.create(p)
	return p
}

// alert creates an Alert routing to provider with spec (ProviderRef set).
func (f *fixture) alert(name, provider string, spec notificationv1.AlertSpec) *notificationv1.Alert {
	f.t.Helper()
	spec.ProviderRef = meta.LocalObjectReference{Name: provider}
	a := &notificationv1.Alert{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}, Spec: spec}
	f.create(a)
	return a
}

// ready waits until obj (a Provider or an Alert) is Ready=True at its
// generation, and returns it as read.
func (f *fixture) ready(obj client.Object) {
	f.t.Helper()
	f.waitFor(obj, func() bool {
		c := apimeta.FindStatusCondition(conditionsOf(obj), conditions.Ready)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
	})
}

// waitFor polls obj until done is true.
func (f *fixture) waitFor(obj client.Object, done func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			f.t.Fatal(err)
		}
		if done() {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s %s: still %+v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), conditionsOf(obj))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCached waits until the manager's cache holds obj so that done is
// true of it.
func waitCached[T client.Object](t *testing.T, obj T, done func(T) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	cur := obj.DeepCopyObject().(T)
	for {
		if err := cached.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err == nil && done(cur) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache never showed the change to %s", obj.GetName())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func conditionsOf(obj client.Object) []metav1.Condition {
	if o, ok := obj.(interface{ GetConditions() []metav1.Condition }); ok {
		return o.GetConditions()
	}
	return nil
}

// event is an event about a Kustomization of namespace ns.
func event(ns, name, severity, message string) *events.Event {
	return &events.Event{
		InvolvedObject: corev1.ObjectReference{
			APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind, Namespace: ns, Name: name,
		},
		Severity:            severity,
		Timestamp:           metav1.Now(),
		Message:             message,
		Reason:              "Test",
		ReportingController: "gitopsd",
	}
}

// submit hands events to the hub and returns the messages it delivers to
// the sink under the Provider named provider: how many it queued is
// known once Submit returned (the hub's matched less suppressed counts),
// so the wait is for exactly that many, and none more can come.
func (f *fixture) submit(provider string, evs ...*events.Event) []events.Event {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := f.queued(provider)
	have := len(f.delivered(provider))
	for _, e := range evs {
		if err := testHub.Submit(ctx, e); err != nil {
			f.t.Fatal(err)
		}
	}
	n := f.queued(provider) - before
	// Other providers of the test may post to the same sink: wait for
	// this one's.
	for {
		// Read the count first: a request arriving after it wakes Wait.
		total := len(f.sink.Requests())
		if len(f.delivered(provider)) >= have+n {
			break
		}
		if _, err := f.sink.Wait(ctx, total+1); err != nil {
			f.t.Fatalf("waiting for %d notifications: %v", n, err)
		}
	}
	got := f.delivered(provider)
	return got[have:]
}

// waitDelivered waits until provider has received n notifications.
func (f *fixture) waitDelivered(provider string, n int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		total := len(f.sink.Requests()) // first: a request arriving after it wakes Wait
		if len(f.delivered(provider)) >= n {
			return
		}
		if _, err := f.sink.Wait(ctx, total+1); err != nil {
			f.t.Fatalf("waiting for %d notifications to %s: %v", n, provider, err)
		}
	}
}

// queued is how many notifications the hub queued for provider.
func (f *fixture) queued(provider string) int {
	f.t.Helper()
	fams, err := metricstest.Gather(hubRegistry)
	if err != nil {
		f.t.Fatal(err)
	}
	l := map[string]string{"provider": f.ns + "/" + provider}
	matched, _ := fams.Value("gitopskit_events_hub_matched_total", l)
	var suppressed float64
	for _, reason := range []string{"repeat", "commit_status_unchanged", "no_revision", "commit_status_only"} {
		v, _ := fams.Value("gitopskit_events_hub_suppressed_total", map[string]string{"provider": f.ns + "/" + provider, "reason": reason})
		suppressed += v
	}
	return int(matched - suppressed)
}

// delivered decodes the events the sink received on provider's path.
func (f *fixture) delivered(provider string) []events.Event {
	f.t.Helper()
	var out []events.Event
	for _, r := range f.sink.Requests() {
		if r.Path != "/"+provider {
			continue
		}
		var e events.Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			f.t.Fatalf("a notification that is not an event: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// messages lists the events' messages.
func messages(evs []events.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}
