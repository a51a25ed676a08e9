package release

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"helm.sh/helm/v4/pkg/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/kit/ssa"
)

// kubeClient is the kube.Interface Helm's actions use: Helm's own client,
// whose waits go through ssa.Manager.Wait (watches, kstatus and the Spec's
// CEL health rules) instead of Helm's waiter, and whose writes stop when
// the action's context ends.
type kubeClient struct {
	*kube.Client
	ctx     context.Context
	r       *Runner
	getter  *getter
	health  []ssa.HealthRule
	built   *atomic.Bool          // Build was called: the chart rendered
	hookErr atomic.Pointer[error] // the first hook failure of the action
}

var (
	_ kube.Interface            = (*kubeClient)(nil)
	_ kube.InterfaceWaitOptions = (*kubeClient)(nil)
)

// gate returns a WrapTransport that fails every request once ctx has ended
// and ties each request to ctx, so that the work Helm leaves running in
// the background after a cancelled action stops at its next request
// instead of carrying on against the cluster.
func gate(ctx context.Context) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("release action ended: %w", err)
			}
			return rt.RoundTrip(req.WithContext(mergeContext(req.Context(), ctx)))
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// mergeContext returns a context that ends when either a or b ends and
// carries a's values. It starts no goroutine: b's end cancels it.
func mergeContext(a, b context.Context) context.Context {
	if a.Done() == nil { // Background or TODO, as client-go's requests here
		return b
	}
	ctx, cancel := context.WithCancelCause(a)
	context.AfterFunc(b, func() { cancel(context.Cause(b)) })
	return ctx
}

// newKubeClient returns the client of one action, for the release
// namespace ns.
func (r *Runner) newKubeClient(ctx context.Context, ns string, health []ssa.HealthRule, log slog.Handler) *kubeClient {
	cfg := rest.CopyConfig(r.cfg)
	wrap, gated := cfg.WrapTransport, gate(ctx)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		return gated(rt)
	}
	g := &getter{cfg: cfg, discovery: r.discovery, mapper: r.mapper, namespace: ns}
	kc := kube.New(g)
	kc.Namespace = ns
	kc.SetLogger(log)
	return &kubeClient{Client: kc, ctx: ctx, r: r, getter: g, health: health, built: &atomic.Bool{}}
}

// Build notes that Helm got as far as building a rendered manifest.
func (c *kubeClient) Build(reader io.Reader, validate bool) (kube.ResourceList, error) {
	c.built.Store(true)
	return c.Client.Build(reader, validate)
}

// Create, Update and Delete refuse to start once the action's context has
// ended.

func (c *kubeClient) Create(resources kube.ResourceList, opts ...kube.ClientCreateOption) (*kube.Result, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return c.Client.Create(resources, opts...)
}

func (c *kubeClient) Update(original, target kube.ResourceList, opts ...kube.ClientUpdateOption) (*kube.Result, error) {
	if err := c.ctx.Err(); err != nil {
		return &kube.Result{}, err
	}
	return c.Client.Update(original, target, opts...)
}

func (c *kubeClient) Delete(resources kube.ResourceList, policy metav1.DeletionPropagation) (*kube.Result, []error) {
	if err := c.ctx.Err(); err != nil {
		return nil, []error{err}
	}
	return c.Client.Delete(resources, policy)
}

// GetWaiter returns the waiter for strategy ws.
func (c *kubeClient) GetWaiter(ws kube.WaitStrategy) (kube.Waiter, error) {
	return c.GetWaiterWithOptions(ws)
}

// GetWaiterWithOptions returns the waiter for strategy ws; Helm's wait
// options do not apply to it.
func (c *kubeClient) GetWaiterWithOptions(ws kube.WaitStrategy, _ ...kube.WaitOption) (kube.Waiter, error) {
	switch ws {
	case kube.StatusWatcherStrategy, kube.LegacyStrategy, kube.HookOnlyStrategy:
		return &waiter{c: c, hooksOnly: ws == kube.HookOnlyStrategy}, nil
	}
	return nil, fmt.Errorf("unknown wait strategy %q", ws)
}

// waiter implements kube.Waiter with ssa.Manager.Wait.
type waiter struct {
	c         *kubeClient
	hooksOnly bool
}

// Wait waits for the objects to be Current, Jobs excepted.
func (w *waiter) Wait(resources kube.ResourceList, timeout time.Duration) error {
	return w.wait(resources, timeout, false)
}

// WaitWithJobs waits for the objects to be Current, Jobs complete.
func (w *waiter) WaitWithJobs(resources kube.ResourceList, timeout time.Duration) error {
	return w.wait(resources, timeout, true)
}

func (w *waiter) wait(resources kube.ResourceList, timeout time.Duration, jobs bool) error {
	ctx := w.c.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.hooksOnly {
		return nil
	}
	objs, err := toObjects(resources, func(u *unstructured.Unstructured) bool {
		return jobs || u.GroupVersionKind().GroupKind() != gkJob
	})
	if err != nil || len(objs) == 0 {
		return err
	}
	return w.c.r.ssa.Wait(ctx, objs, ssa.WaitOptions{Timeout: timeout, FailFast: true, HealthRules: w.c.health})
}

// hookRules are the readiness of hooks: a Pod has succeeded, a Job has
// completed; failing is failing.
var hookRules = []ssa.HealthRule{
	{Kind: "Pod",
		Current: `has(self.status) && has(self.status.phase) && self.status.phase == "Succeeded"`,
		Failed:  `has(self.status) && has(self.status.phase) && self.status.phase == "Failed"`},
	{Group: "batch", Kind: "Job",
		Current: `has(self.status) && has(self.status.conditions) && self.status.conditions.exists(c, c.type == "Complete" && c.status == "True")`,
		Failed:  `has(self.status) && has(self.status.conditions) && self.status.conditions.exists(c, c.type == "Failed" && c.status == "True")`},
}

// WatchUntilReady waits for hooks: Pods to succeed and Jobs to complete;
// other kinds are ready once created, as in Helm.
func (w *waiter) WatchUntilReady(resources kube.ResourceList, timeout time.Duration) error {
	ctx := w.c.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	objs, err := toObjects(resources, func(u *unstructured.Unstructured) bool {
		gk := u.GroupVersionKind().GroupKind()
		return gk == gkPod || gk == gkJob
	})
	if err != nil || len(objs) == 0 {
		return err
	}
	err = w.c.r.ssa.Wait(ctx, objs, ssa.WaitOptions{Timeout: timeout, FailFast: true, HealthRules: hookRules})
	if err != nil && ctx.Err() == nil {
		hookErr := &HookError{Err: err}
		for _, o := range objs {
			hookErr.Hooks = append(hookErr.Hooks, ssa.IDOf(o))
		}
		w.c.hookErr.CompareAndSwap(nil, ptr(error(hookErr)))
		return hookErr
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// WaitForDelete waits for the objects to be gone.
func (w *waiter) WaitForDelete(resources kube.ResourceList, timeout time.Duration) error {
	ctx := w.c.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.hooksOnly {
		return nil
	}
	objs, err := toObjects(resources, nil)
	if err != nil || len(objs) == 0 {
		return err
	}
	return waitDeleted(ctx, w.c.r.client, objs, timeout)
}

// toObjects converts Helm's resource list to unstructured objects, keeping
// those keep accepts (all when nil).
func toObjects(resources kube.ResourceList, keep func(*unstructured.Unstructured) bool) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(resources))
	for _, info := range resources {
		u, err := infoObject(info)
		if err != nil {
			return nil, err
		}
		if keep == nil || keep(u) {
			out = append(out, u)
		}
	}
	return out, nil
}

func infoObject(info *resource.Info) (*unstructured.Unstructured, error) {
	var u *unstructured.Unstructured
	switch o := info.Object.(type) {
	case *unstructured.Unstructured:
		u = o.DeepCopy()
	default:
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(info.Object)
		if err != nil {
			return nil, fmt.Errorf("converting %s %s: %w", info.Mapping.GroupVersionKind.Kind, info.Name, err)
		}
		u = &unstructured.Unstructured{Object: m}
	}
	if info.Mapping != nil {
		u.SetGroupVersionKind(info.Mapping.GroupVersionKind)
		if info.Mapping.Scope != nil && info.Mapping.Scope.Name() == "namespace" && u.GetNamespace() == "" {
			u.SetNamespace(info.Namespace)
		}
	}
	if u.GetName() == "" {
		u.SetName(info.Name)
	}
	return u, nil
}
