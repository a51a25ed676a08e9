package ssa_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/kit/runtime/testenv"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/ssa"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// request is one API request seen by a recorder.
type request struct {
	Method string
	Path   string
	DryRun bool
}

// recorder is an http.RoundTripper wrapper that records every request, to
// count writes and observe their order.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

func (r *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.reqs = append(r.reqs, request{Method: req.Method, Path: req.URL.Path, DryRun: req.URL.Query().Get("dryRun") != ""})
		r.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// writes returns the requests that change state (not GET, not dry-run),
// ignoring discovery.
func (r *recorder) writes() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if q.Method != http.MethodGet && !q.DryRun {
			out = append(out, q)
		}
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

var (
	schemasOnce sync.Once
	schemas     *ssa.Schemas
)

// sharedSchemas returns one Schemas for the whole test binary, as a
// controller shares one between its Managers.
func sharedSchemas(t testing.TB) *ssa.Schemas {
	t.Helper()
	schemasOnce.Do(func() {
		s, err := ssa.NewSchemas(env.Config())
		if err != nil {
			t.Fatal(err)
		}
		schemas = s
	})
	return schemas
}

// newManager returns a Manager on cfg (admin when nil) and the recorder of
// its requests. The Manager decides locally with the shared Schemas
// unless opts say otherwise.
func newManager(t testing.TB, cfg *rest.Config, opts ...ssa.Option) (*ssa.Manager, *recorder) {
	t.Helper()
	if cfg == nil {
		cfg = env.Config()
	}
	rec := &recorder{}
	cfg.Wrap(rec.wrap)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]ssa.Option{ssa.WithSchemas(sharedSchemas(t))}, opts...)
	m, err := ssa.NewManager(c, ssa.Owner{Field: "gitopskit-test", Group: "test.gitopskit.dev", Name: "app", Namespace: "flux"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// objects parses YAML documents separated by "---".
func objects(t testing.TB, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("parsing %q: %v", doc, err)
		}
		out = append(out, u)
	}
	return out
}

// testContext returns a context bounded to two minutes whose logger writes
// to the test log, V(1) included, so a failing test shows why the Manager
// decided as it did.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return logr.NewContext(ctx, testr.NewWithInterface(t, testr.Options{Verbosity: 1}))
}

func actions(cs *ssa.ChangeSet) map[string]ssa.Action {
	out := map[string]ssa.Action{}
	if cs == nil {
		return out
	}
	for _, c := range cs.Changes {
		out[c.ID.String()] = c.Action
	}
	return out
}
