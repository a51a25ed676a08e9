package e2e_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

var (
	env *testenv.Environment
	// op is the one gitopsd all tests share, as one gitopsd serves a
	// whole cluster; each test works in namespaces of its own.
	op *gitopsd.Operator
)

// TestMain starts the control plane and gitopsd, runs the tests, and stops
// gitopsd before the control plane, so that no watch holds the API
// server's shutdown. (testenv.Main has no hook between the two.)
func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		// Re-executed by a test as the gitopsd command (see gitopsdCommand).
		os.Exit(gitopsd.Main(os.Args[1:], os.Stderr))
	}
	ctrl.SetLogger(logr.Discard())
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDPaths("../config/crd/bases"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		os.Exit(1)
	}
	env = e
	code := 1
	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := startGitopsd(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting gitopsd:", err)
	} else {
		code = m.Run()
		// Whatever the tests asserted, a recovered panic is a failure:
		// gitopsd records on controller-runtime's registry.
		if err := metricstest.NoPanics(ctrlmetrics.Registry); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	cancel()
	if stopped != nil {
		if err := <-stopped; err != nil {
			fmt.Fprintln(os.Stderr, "gitopsd:", err)
			code = 1
		}
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	os.Exit(code)
}

// startGitopsd runs gitopsd as the binary would, with loopback addresses
// and no metrics or health endpoints. Its log is discarded unless
// E2E_LOG is set (to a file name, or "-" for stderr).
func startGitopsd(ctx context.Context) (<-chan error, error) {
	storage, err := os.MkdirTemp("", "gitopsd-e2e-")
	if err != nil {
		return nil, err
	}
	opts := gitopsd.DefaultOptions()
	opts.StoragePath = storage
	opts.StorageAddr = "127.0.0.1:0"
	opts.ReceiverAddr = "127.0.0.1:0"
	opts.Controller.MetricsAddr = "0"
	opts.Controller.HealthAddr = "0"
	opts.Controller.Concurrency = 8
	// Objects labelled for a gitopsd child process are that process's.
	opts.Controller.WatchLabelSelector = "!" + childLabel
	opts.Controller.LogFormat = "text"
	opts.Controller.LogOutput = io.Discard
	switch p := os.Getenv("E2E_LOG"); p {
	case "":
	case "-":
		opts.Controller.LogOutput = os.Stderr
	default:
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		opts.Controller.LogOutput = f
	}
	o, err := gitopsd.New(env.Config(), opts)
	if err != nil {
		return nil, err
	}
	op = o
	stopped := make(chan error, 1)
	go func() {
		err := o.Start(ctx)
		os.RemoveAll(storage)
		stopped <- err
	}()
	select {
	case <-o.Manager().Elected():
	case err := <-stopped:
		return nil, err
	}
	if !o.Manager().GetCache().WaitForCacheSync(ctx) {
		return stopped, fmt.Errorf("gitopsd's caches did not sync")
	}
	return stopped, nil
}

// childLabel marks the objects of a test's own gitopsd child process,
// which the shared gitopsd leaves alone (--watch-label-selector).
const childLabel = "e2e.gitopskit.dev/child"

// timeout bounds every wait of the tests.
const timeout = 90 * time.Second

// fixture is one test's namespace and client.
type fixture struct {
	t  testing.TB
	ns string
	c  client.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	return &fixture{t: t, ns: env.Namespace(t), c: env.Client()}
}

func (f *fixture) create(objs ...client.Object) {
	f.t.Helper()
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(f.ns)
		}
		if err := f.c.Create(context.Background(), o); err != nil {
			f.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// update re-reads obj and writes change until no conflict.
func update[T client.Object](f *fixture, obj T, change func(T)) {
	f.t.Helper()
	ctx := context.Background()
	for {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			f.t.Fatal(err)
		}
		change(obj)
		err := f.c.Update(ctx, obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			f.t.Fatal(err)
		}
	}
}

// request sets the reconcile request annotation on obj.
func (f *fixture) request(obj client.Object) {
	f.t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, reconcile.RequestedAtAnnotation, time.Now().Format(time.RFC3339Nano))
	if err := f.c.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		f.t.Fatal(err)
	}
}

// eventually re-reads obj every 10ms until cond holds, failing after
// timeout with describe's account of the last state.
func (f *fixture) eventually(obj client.Object, cond func() bool, describe func() string) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%T %s: condition not met after %s; err=%v; %s", obj, obj.GetName(), timeout, err, describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// applied waits until ks is Ready having applied rev.
func (f *fixture) applied(ks *kustomizev1.Kustomization, rev string) {
	f.t.Helper()
	f.eventually(ks, func() bool {
		return ks.Status.LastAppliedRevision == rev && conditions.IsReady(ks) && ks.Status.ObservedGeneration == ks.Generation
	}, func() string { return describeKs(ks) })
}

// notReady waits until obj's Ready is False for its generation with a
// message containing every part, and returns the message.
func (f *fixture) notReady(obj interface {
	client.Object
	conditions.Getter
}, parts ...string) string {
	f.t.Helper()
	var msg string
	f.eventually(obj, func() bool {
		c := conditions.Get(obj, conditions.Ready)
		if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != obj.GetGeneration() {
			return false
		}
		msg = c.Message
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("want Ready=False with %q; conditions %s", parts, conds(obj.GetConditions()))
	})
	return msg
}

func describeKs(ks *kustomizev1.Kustomization) string {
	return fmt.Sprintf("lastApplied=%q lastAttempted=%q gen=%d observed=%d conditions %s",
		ks.Status.LastAppliedRevision, ks.Status.LastAttemptedRevision, ks.Generation, ks.Status.ObservedGeneration, conds(ks.Status.Conditions))
}

func conds(cs []metav1.Condition) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%s=%s %s: %s (gen %d)]", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
	return b.String()
}

// configMapData returns the data of a ConfigMap, or nil when it does not
// exist.
func (f *fixture) configMapData(ns, name string) map[string]string {
	f.t.Helper()
	cm := &corev1.ConfigMap{}
	err := f.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if cm.Data == nil {
		return map[string]string{}
	}
	return cm.Data
}

// cm is a ConfigMap manifest without a namespace (the Kustomization's
// targetNamespace sets it).
func cm(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

func gitRepository(name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Timeout:   &metav1.Duration{Duration: 10 * time.Second},
		},
	}
}

func kustomization(name, ns string, source client.Object, path string) *kustomizev1.Kustomization {
	kind := sourcev1.GitRepositoryKind
	if _, ok := source.(*sourcev1.OCIRepository); ok {
		kind = sourcev1.OCIRepositoryKind
	}
	return &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: source.GetName()},
			Path:            path,
			Interval:        metav1.Duration{Duration: 10 * time.Minute},
			RetryInterval:   &metav1.Duration{Duration: 2 * time.Second},
			Timeout:         &metav1.Duration{Duration: 30 * time.Second},
			Prune:           true,
			Wait:            true,
			TargetNamespace: ns,
		},
	}
}
