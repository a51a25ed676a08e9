package release_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/kit/helmutil/release"
)

// counter counts the API requests sent through a rest.Config, writes
// apart.
type counter struct{ all, writes atomic.Int64 }

func (c *counter) wrap(cfg *rest.Config) *rest.Config {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c.all.Add(1)
			if req.Method != http.MethodGet && req.URL.Query().Get("dryRun") == "" && !strings.Contains(req.URL.Query().Get("watch"), "true") {
				c.writes.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

func (c *counter) reset() { c.all.Store(0); c.writes.Store(0) }

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// benchObjects is the size of the benchmark chart.
const benchObjects = 300

// benchChart renders 300 objects of kinds that are ready as soon as they
// exist (the test control plane runs no controllers): 100 ConfigMaps, 60
// Secrets, 60 headless Services, 40 ServiceAccounts, 20 Roles and 20
// RoleBindings.
func benchChart() *chart.Chart {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  value: {{ .Values.value | quote }}\n  index: \"%d\"\n", i, i)
	}
	for i := range 60 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-%d\nstringData:\n  token: {{ .Values.value | quote }}\n", i)
	}
	for i := range 60 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\nspec:\n  clusterIP: None\n  selector: {app: a%d}\n  ports:\n  - port: 80\n", i, i)
	}
	for i := range 40 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-%d\n", i)
	}
	for i := range 20 {
		fmt.Fprintf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: role-%d\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n", i)
		fmt.Fprintf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-%d\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: role-%d\nsubjects:\n- kind: ServiceAccount\n  name: sa-%d\n", i, i, i)
	}
	return newChart("bench", "1.0.0", map[string]any{"value": "v"}, map[string]string{"templates/all.yaml": b.String()})
}

// benchRunner returns a Runner whose requests c counts.
func benchRunner(b *testing.B, c *counter) *release.Runner {
	r, err := release.NewRunner(c.wrap(env.Config()), release.WithFieldManager(fieldManager))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// helmConfig is Helm's own action configuration, the way the helm CLI
// builds it (kubeconfig flags, Secrets storage), counting requests.
func helmConfig(b *testing.B, c *counter, ns string) *action.Configuration {
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		b.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &ns
	flags.WrapConfigFn = func(cfg *rest.Config) *rest.Config { return c.wrap(cfg) }
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		b.Fatal(err)
	}
	return cfg
}

func report(b *testing.B, c *counter) {
	b.ReportMetric(float64(c.all.Load())/float64(b.N)/benchObjects, "req/obj")
	b.ReportMetric(float64(c.writes.Load())/float64(b.N), "writes/op")
}

// BenchmarkInstall installs the 300-object chart in a fresh namespace:
// helmutil's Step (server-side apply, then a watch-based wait for every
// object) against Helm's plain action.Install with its default settings
// (what `helm install` does: no wait) and with --wait (Helm's kstatus
// watcher).
func BenchmarkInstall(b *testing.B) {
	ch := benchChart()
	b.Run("helmutil", func(b *testing.B) {
		var c counter
		r := benchRunner(b, &c)
		for b.Loop() {
			b.StopTimer()
			ns := env.Namespace(b)
			c.reset()
			b.StartTimer()
			req := release.Request{Release: release.Ref{Name: "bench", Namespace: ns}, Chart: ch, Values: map[string]any{"value": "a"}}
			var st release.Status
			out, err := r.Step(testContext(b), req, &st)
			if err != nil || out.Decision.Action != release.ActionInstall || out.Current.Status != "deployed" {
				b.Fatalf("%+v %v", out.Decision, err)
			}
		}
		report(b, &c)
	})
	for _, wait := range []kube.WaitStrategy{kube.HookOnlyStrategy, kube.StatusWatcherStrategy} {
		b.Run("helm/wait="+string(wait), func(b *testing.B) {
			var c counter
			for b.Loop() {
				b.StopTimer()
				ns := env.Namespace(b)
				cfg := helmConfig(b, &c, ns)
				c.reset()
				b.StartTimer()
				in := action.NewInstall(cfg)
				in.ReleaseName, in.Namespace, in.WaitStrategy = "bench", ns, wait
				in.Timeout = release.DefaultTimeout
				if _, err := in.RunWithContext(testContext(b), ch, map[string]any{"value": "a"}); err != nil {
					b.Fatal(err)
				}
			}
			report(b, &c)
		})
	}
}

// BenchmarkNoopUpgrade reconciles an installed release whose chart and
// values did not change: helmutil's Step decides there is nothing to do;
// Helm's action.Upgrade (what a controller that upgrades on every
// reconcile does) makes a new revision and applies every object.
func BenchmarkNoopUpgrade(b *testing.B) {
	ch := benchChart()
	vals := map[string]any{"value": "a"}
	b.Run("helmutil", func(b *testing.B) {
		var c counter
		r := benchRunner(b, &c)
		ns := env.Namespace(b)
		req := release.Request{Release: release.Ref{Name: "bench", Namespace: ns}, Chart: ch, Values: vals}
		var st release.Status
		if _, err := r.Step(testContext(b), req, &st); err != nil {
			b.Fatal(err)
		}
		c.reset()
		for b.Loop() {
			out, err := r.Step(testContext(b), req, &st)
			if err != nil || !out.Done() || out.Current.Version != 1 {
				b.Fatalf("%+v %v", out.Decision, err)
			}
		}
		report(b, &c)
	})
	b.Run("helm", func(b *testing.B) {
		var c counter
		ns := env.Namespace(b)
		cfg := helmConfig(b, &c, ns)
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.WaitStrategy = "bench", ns, kube.HookOnlyStrategy
		if _, err := in.RunWithContext(testContext(b), ch, vals); err != nil {
			b.Fatal(err)
		}
		c.reset()
		for b.Loop() {
			up := action.NewUpgrade(cfg)
			up.Namespace, up.WaitStrategy = ns, kube.HookOnlyStrategy
			if _, err := up.RunWithContext(testContext(b), "bench", ch, vals); err != nil {
				b.Fatal(err)
			}
		}
		report(b, &c)
	})
}

// BenchmarkDriftCheck checks the installed 300-object release for drift
// (none): ssa's diff, which decides unchanged objects locally.
func BenchmarkDriftCheck(b *testing.B) {
	ch := benchChart()
	var c counter
	r := benchRunner(b, &c)
	ns := env.Namespace(b)
	req := release.Request{Release: release.Ref{Name: "bench", Namespace: ns}, Chart: ch, Values: map[string]any{"value": "a"},
		Spec: release.Spec{Drift: release.Drift{Mode: release.DriftEnabled}}}
	var st release.Status
	if _, err := r.Step(testContext(b), req, &st); err != nil {
		b.Fatal(err)
	}
	c.reset()
	for b.Loop() {
		out, err := r.Step(testContext(b), req, &st)
		if err != nil || !out.Done() || out.Drift == nil || len(out.Drift.Objects) != 0 {
			b.Fatalf("%+v %+v %v", out.Decision, out.Drift, err)
		}
	}
	report(b, &c)
}
