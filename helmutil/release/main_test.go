package release_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// fieldManager is the field manager every Runner of these tests uses:
// Helm's is a process global.
const fieldManager = "helmutil-test"

func newRunner(t testing.TB) *release.Runner {
	t.Helper()
	r, err := release.NewRunner(env.Config(), release.WithFieldManager(fieldManager))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testContext is a context with a test logger and a deadline.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return logrContext(ctx, t)
}

func logrContext(ctx context.Context, t testing.TB) context.Context {
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		return logr.NewContext(ctx, testr.NewWithOptions(tt, testr.Options{Verbosity: 1}))
	}
	return ctx
}

// newChart builds a chart in memory: files are chart-relative paths
// (templates/x.yaml, crds/y.yaml) and their content.
func newChart(name, version string, values map[string]any, files map[string]string) *chart.Chart {
	c := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, AppVersion: "1.0." + version},
		Values:   values,
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := &common.File{Name: n, Data: []byte(files[n])}
		if strings.HasPrefix(n, "templates/") {
			c.Templates = append(c.Templates, f)
		} else {
			c.Files = append(c.Files, f)
		}
	}
	return c
}

// namespace creates a namespace with the default ServiceAccount that Pods
// (test hooks) need: the test control plane has no controller to make it.
func namespace(t *testing.T) string {
	t.Helper()
	ns := env.Namespace(t)
	env.Create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}})
	return ns
}

// stepUntilDone runs Step until the outcome is done (or max steps) and
// returns the actions it took, failing the test on an unexpected error.
func stepUntilDone(t *testing.T, ctx context.Context, r *release.Runner, req release.Request, st *release.Status, max int) ([]release.Action, release.Outcome) {
	t.Helper()
	var actions []release.Action
	var out release.Outcome
	for i := 0; i < max; i++ {
		var err error
		out, err = r.Step(ctx, req, st)
		if err != nil {
			t.Fatalf("step %d (%s: %s): %v", i, out.Decision.Action, out.Decision.Reason, err)
		}
		if out.Done() {
			return actions, out
		}
		actions = append(actions, out.Decision.Action)
	}
	t.Fatalf("not done after %d steps: %v", max, actions)
	return nil, out
}

// store returns Helm's storage of a namespace, read with the admin client.
func store(t testing.TB, ns string) *storage.Storage {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	return storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(ns)))
}

func getConfigMap(t testing.TB, ctx context.Context, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		t.Fatal(err)
	}
	return cm
}
