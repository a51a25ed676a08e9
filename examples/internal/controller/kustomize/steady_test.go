package kustomize

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// objectRequests counts the requests the reconcilers' apply clients send
// under each namespace's path (/namespaces/<ns>/…), so a test can tell
// what reconciling the objects of its own namespace cost.
var objectRequests = &requestCounter{byNamespace: map[string]int{}}

type requestCounter struct {
	mu          sync.Mutex
	byNamespace map[string]int
}

// wrap returns a copy of cfg whose requests are counted.
func (c *requestCounter) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if _, rest, ok := strings.Cut(req.URL.Path, "/namespaces/"); ok {
				ns, _, _ := strings.Cut(rest, "/")
				c.mu.Lock()
				c.byNamespace[ns]++
				c.mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

func (c *requestCounter) count(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNamespace[ns]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestSteadyReconcileCostsAlmostNothing: re-applying an unchanged set of
// the local cluster is decided from the shared OpenAPI schemas — about
// one request per kind, not a read and a dry-run per object.
func TestSteadyReconcileCostsAlmostNothing(t *testing.T) {
	f := newFixture(t)
	target := env.Namespace(t)
	const n = 40
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("deploy/cm-%02d.yaml", i)] = cm(fmt.Sprintf("cm-%02d", i), "k", "v")
	}
	a := f.artifact("app", files)
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.TargetNamespace = target
	})
	f.waitReady(ks, a.Revision)

	for round := range 3 {
		before := objectRequests.count(target)
		f.requestReconcile(ks)
		sent := objectRequests.count(target) - before
		t.Logf("round %d: %d requests for %d unchanged objects (%.3f per object)", round, sent, n, float64(sent)/n)
		// Asked about each object, it would be 2n (a read and a dry-run).
		if sent > n/10 {
			t.Errorf("round %d: an unchanged reconcile sent %d requests for %d objects, want at most %d", round, sent, n, n/10)
		}
	}
}

// requestReconcile asks for a reconcile of ks and waits until it was
// handled and ks is Ready.
func (f *fixture) requestReconcile(ks *kustomizev1.Kustomization) {
	f.t.Helper()
	at := fmt.Sprintf("%s-%d", time.Now().Format(time.RFC3339Nano), revCounter.Add(1))
	f.update(ks, func(k *kustomizev1.Kustomization) {
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[reconcile.RequestedAtAnnotation] = at
	})
	f.waitFor(ks, "request handled", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == at && conditions.IsReady(k)
	})
}
