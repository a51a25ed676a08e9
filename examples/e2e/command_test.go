package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"

	"github.com/gitopskit/kit/examples/internal/demo"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// execEnv makes the test binary run as the gitopsd command (TestMain), so
// the tests exercise the real process — flags, signals, exit codes —
// without building a second binary.
const execEnv = "GITOPSD_E2E_EXEC"

// gitopsdCommand returns a command running gitopsd with args in a child
// process.
func gitopsdCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), execEnv+"=1")
	return cmd
}

func TestCommandUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--storage-path: must be set"},
		{[]string{"--storage-path=/x", "--concurrent=0"}, "--concurrent"},
		{[]string{"--storage-path=/x", "--no-such-flag"}, "no-such-flag"},
		{[]string{"--storage-path=/x", "stray"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		cmd := gitopsdCommand(t, tc.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != gitopsd.ExitUsage {
			t.Errorf("gitopsd %q: %v, want exit code %d", tc.args, err, gitopsd.ExitUsage)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("gitopsd %q: stderr %q does not mention %q", tc.args, stderr.String(), tc.want)
		}
	}
}

// The gitopsd process takes the leader Lease, serves /readyz, reconciles a
// Kustomization whose source is in another namespace (allowed by a label of
// its own namespace, --cross-namespace-selector), exports the metrics of
// both objects, and on SIGTERM shuts down cleanly with exit code 0.
func TestCommandRunsAndStops(t *testing.T) {
	f := newFixture(t)
	sourceNS := env.Namespace(t)
	const trusted = "e2e.gitopskit.dev/trusted"
	labelNamespace(t, f.c, f.ns, trusted, "true")
	ch := startChild(t,
		"--enable-leader-election",
		"--leader-election-namespace="+f.ns,
		// Only this test's namespaces and objects (childLabel): the shared
		// gitopsd owns the rest.
		"--watch-namespaces="+f.ns+","+sourceNS,
		"--cross-namespace-selector="+trusted+"=true",
	)
	metrics, log, exited := ch.metrics, ch.log, ch.exited
	lease := &coordinationv1.Lease{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "gitopsd-leader-election"}, lease); err != nil {
		t.Errorf("leader Lease: %v", err)
	}

	srv := gittest.NewServer(t)
	commit := srv.InitRepository("app.git").Commit("main", "app", map[string]string{"config.yaml": cm("config", "one")})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	src.Namespace = sourceNS
	ks := kustomization("app", f.ns, src, "./")
	ks.Spec.SourceRef.Namespace = sourceNS
	for _, o := range []client.Object{src, ks} {
		o.SetLabels(map[string]string{childLabel: "true"})
	}
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+commit)

	// The series of both Ready objects, as Prometheus scrapes them. The
	// metrics follow the status write: poll until they are there.
	deadline := time.Now().Add(timeout)
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"gitopskit_reconcile_condition", objectSeries(src, "GitRepository", "type", "Ready", "status", "True"), 1},
		{"gitopskit_reconcile_condition", objectSeries(src, "GitRepository", "type", "Ready", "status", "False"), 0},
		{"gitopskit_suspend_status", objectSeries(src, "GitRepository"), 0},
		{"gitopskit_reconcile_condition", objectSeries(ks, "Kustomization", "type", "Ready", "status", "True"), 1},
		{"gitopskit_suspend_status", objectSeries(ks, "Kustomization"), 0},
	}
	for {
		fams, err := scrape("http://" + metrics + "/metrics")
		missing := ""
		for _, w := range want {
			if v, ok := fams.Value(w.name, w.labels); !ok || v != w.value {
				missing = fmt.Sprintf("%s%v = %v (present: %t), want %v", w.name, w.labels, v, ok, w.value)
				break
			}
		}
		if missing == "" {
			for _, o := range []struct {
				obj  client.Object
				kind string
			}{{src, "GitRepository"}, {ks, "Kustomization"}} {
				if n, ok := fams.Value("gitopskit_reconcile_duration_seconds", objectSeries(o.obj, o.kind)); !ok || n < 1 {
					missing = fmt.Sprintf("no reconcile duration of %s %s", o.kind, o.obj.GetName())
				}
			}
		}
		if err == nil && missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: err=%v; %s\n%s", err, missing, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := ch.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("gitopsd after SIGTERM: %v, want exit code 0\n%s", err, log.String())
		}
	case <-time.After(timeout):
		t.Fatalf("gitopsd did not stop within %s of SIGTERM\n%s", timeout, log.String())
	}
}

// labelNamespace sets a label on the namespace ns.
func labelNamespace(t *testing.T, c client.Client, ns, key, value string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, key, value)
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if err := c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// objectSeries is the labels of obj's gitopskit series, and extra.
func objectSeries(obj client.Object, kind string, extra ...string) map[string]string {
	l := map[string]string{"kind": kind, "name": obj.GetName(), "namespace": obj.GetNamespace()}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// scrape reads the metrics exposition at url.
func scrape(url string) (metricstest.Families, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return metricstest.Parse(resp.Body)
}

func get(t testing.TB, url string) bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDemo runs `make demo`'s program, with gitopsd as a child process,
// and checks that every step succeeded and was measured.
func TestDemo(t *testing.T) {
	// Not parallel: the gitopsd child process is this binary, told so by
	// the environment.
	t.Setenv(execEnv, "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), demo.Options{
		Out:             &out,
		GitopsdBinary:   self,
		PollInterval:    2 * time.Second,
		ControlPlaneDir: env.BinaryDir(),
	})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if len(res.Revisions) < 6 {
		t.Errorf("revisions = %q, want at least 6", res.Revisions)
	}
	for name, d := range map[string]time.Duration{
		"first sync": res.FirstApplied, "request": res.RequestLatency, "prune": res.PruneLatency, "polling": res.PollingLatency,
		"alert": res.NotificationLatency, "webhook": res.WebhookLatency,
		"image commit": res.ImageCommitLatency, "image applied": res.ImageUpdateLatency,
	} {
		if d <= 0 {
			t.Errorf("%s latency not measured", name)
		}
	}
	if !strings.Contains(out.String(), "every step succeeded") {
		t.Errorf("the output does not report success")
	}
}
