package gitopsctl

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/runtime/testenv"

	"github.com/gitopskit/kit/examples/config"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// env is the control plane every test shares, with one gitopsd running
// in this process; each test works in namespaces of its own.
var env *testenv.Environment

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if fuzzing() {
		// go test -fuzz runs only a Fuzz target, which needs no cluster,
		// in worker processes that each run TestMain.
		os.Exit(m.Run())
	}
	e, err := startEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		os.Exit(1)
	}
	env = e
	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := startGitopsd(ctx, env.Config())
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting gitopsd:", err)
	} else {
		code = m.Run()
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

// fuzzing reports whether this process runs a fuzz target under -fuzz.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

func startEnv() (*testenv.Environment, error) {
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		return nil, err
	}
	crds, err := config.CRDs()
	if err != nil {
		return nil, err
	}
	return testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDs(crds...))
}

// startGitopsd runs gitopsd in this process against cfg until ctx ends.
func startGitopsd(ctx context.Context, cfg *rest.Config) (<-chan error, error) {
	storage, err := os.MkdirTemp("", "gitopsctl-test-")
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
	opts.Controller.LogFormat = "text"
	opts.Controller.LogOutput = io.Discard
	if p := os.Getenv("GITOPSCTL_TEST_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		opts.Controller.LogOutput = f
	}
	// A second gitopsd of this process (the system test's) registers
	// controllers of the same names.
	skip := true
	o, err := gitopsd.New(cfg, opts, func(mo *manager.Options) { mo.Controller.SkipNameValidation = &skip })
	if err != nil {
		return nil, err
	}
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

// result is what one gitopsctl run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs gitopsctl against a cluster.
type ctl struct {
	t     testing.TB
	cfg   *rest.Config
	stdin string
	env   map[string]string
	now   func() time.Time
}

func newCtl(t testing.TB) *ctl {
	var cfg *rest.Config
	if env != nil {
		cfg = env.Config()
	}
	return &ctl{t: t, cfg: cfg}
}

// lockedBuffer is a buffer written by a command while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (c *ctl) options(stdout, stderr io.Writer) Options {
	no := false
	opts := Options{
		Stdin:  strings.NewReader(c.stdin),
		Stdout: stdout, Stderr: stderr,
		Color:  &no,
		Config: c.cfg,
		Now:    c.now,
		Getenv: func(k string) string { return c.env[k] },
	}
	return opts
}

// run runs a command line to its end.
func (c *ctl) run(args ...string) result {
	c.t.Helper()
	return c.runContext(context.Background(), args...)
}

func (c *ctl) runContext(ctx context.Context, args ...string) result {
	c.t.Helper()
	var stdout, stderr lockedBuffer
	code := Run(ctx, args, c.options(&stdout, &stderr))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// start runs a command line in the background (get --watch, events
// --watch); stop cancels it and returns its result.
func (c *ctl) start(args ...string) (out *lockedBuffer, stop func() result) {
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, c.options(&stdout, &stderr)) }()
	return &stdout, func() result {
		cancel()
		code := <-done
		return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}
}

// expect fails the test unless r has the exit code and its output
// contains every part.
func expect(t testing.TB, r result, code int, parts ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	for _, p := range parts {
		if !strings.Contains(r.stdout+r.stderr, p) {
			t.Fatalf("output lacks %q:\n%s", p, r)
		}
	}
}

// eventually polls until out holds every part.
func eventually(t testing.TB, what string, out interface{ String() string }, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := out.String()
		ok := true
		for _, p := range parts {
			if !strings.Contains(s, p) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: output lacks %q after 60s:\n%s", what, parts, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// golden compares got with testdata/golden/<name>, or rewrites it with
// -update.
func golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

// normalise replaces what changes from run to run (namespaces, commits,
// ages, times) with placeholders, for golden files.
func normalise(s string, names map[string]string) string {
	for from, to := range names {
		s = strings.ReplaceAll(s, from, to)
	}
	s = regexp.MustCompile(`sha1:[0-9a-f]{12,40}`).ReplaceAllString(s, "sha1:<commit>")
	s = regexp.MustCompile(`sha256:[0-9a-f]{64}`).ReplaceAllString(s, "sha256:<digest>")
	return s
}
