package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/internal/demo"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

// execEnv makes the test binary run as the gitopsd command (TestMain), so
// the tests exercise the real process — flags, signals, exit codes —
// without building a second binary.
const execEnv = "GITOPSD_E2E_EXEC"

// gitopsdCommand returns a command running gitopsd with args in a child
// process.
func gitopsdCommand(t *testing.T, args ...string) *exec.Cmd {
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

// The gitopsd process takes the leader Lease, serves /readyz and metrics,
// and on SIGTERM shuts down cleanly with exit code 0.
func TestCommandRunsAndStops(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	health, metrics := freeAddr(t), freeAddr(t)
	var log bytes.Buffer
	cmd := gitopsdCommand(t,
		"--kubeconfig="+kubeconfig,
		"--storage-path="+filepath.Join(dir, "storage"),
		"--storage-addr=127.0.0.1:0",
		"--health-addr="+health,
		"--metrics-addr="+metrics,
		"--enable-leader-election",
		"--leader-election-namespace="+f.ns,
		// Only this test's namespace: the shared gitopsd owns the rest.
		"--watch-namespaces="+f.ns,
		"--log-format=text",
	)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	deadline := time.Now().Add(timeout)
	for !get(t, "http://"+health+"/readyz") {
		select {
		case err := <-exited:
			t.Fatalf("gitopsd exited before it was ready: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitopsd not ready after %s\n%s", timeout, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	lease := &coordinationv1.Lease{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "gitopsd-leader-election"}, lease); err != nil {
		t.Errorf("leader Lease: %v", err)
	}
	if !get(t, "http://"+metrics+"/metrics") {
		t.Errorf("metrics endpoint does not answer")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
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

func get(t *testing.T, url string) bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func freeAddr(t *testing.T) string {
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
	if len(res.Revisions) != 4 {
		t.Errorf("revisions = %q, want 4", res.Revisions)
	}
	for name, d := range map[string]time.Duration{
		"first sync": res.FirstApplied, "request": res.RequestLatency, "prune": res.PruneLatency, "polling": res.PollingLatency,
	} {
		if d <= 0 {
			t.Errorf("%s latency not measured", name)
		}
	}
	if !strings.Contains(out.String(), "every step succeeded") {
		t.Errorf("the output does not report success")
	}
}
