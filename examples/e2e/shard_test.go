package e2e_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// child is a gitopsd child process of a test.
type child struct {
	cmd     *exec.Cmd
	log     *syncBuffer
	health  string // the health endpoints' address
	metrics string
	exited  chan error
}

// syncBuffer is a bytes.Buffer the child's output is copied into while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChild runs gitopsd in a child process with the test's kubeconfig,
// a storage folder of its own, loopback listeners and args, and waits until
// it is ready. It is killed when the test ends.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	return startChildIn(t, t.TempDir(), env.KubeConfig(), args...)
}

// startChildIn is startChild with the folder the child keeps its storage
// in (dir/storage), so that a test can restart a child on the storage of
// one it killed, and the kubeconfig of the control plane it talks to.
func startChildIn(t testing.TB, dir string, kubeconfigData []byte, args ...string) *child {
	t.Helper()
	return startChildProbe(t, dir, kubeconfigData, "/readyz", args...)
}

// startChildProbe is startChildIn waiting for the health endpoint probe
// instead of /readyz: "/healthz" for a replica that is not (yet) the
// leader, which is never ready since only the leader serves artifacts.
func startChildProbe(t testing.TB, dir string, kubeconfigData []byte, probe string, args ...string) *child {
	t.Helper()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kubeconfigData, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &child{log: &syncBuffer{}, health: freeAddr(t), metrics: freeAddr(t), exited: make(chan error, 1)}
	cmd := gitopsdCommand(t, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--storage-path=" + filepath.Join(dir, "storage"),
		"--storage-addr=127.0.0.1:0",
		"--receiver-addr=",
		"--health-addr=" + c.health,
		"--metrics-addr=" + c.metrics,
		"--log-format=text",
	}, args...)...)
	c.cmd = cmd
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.exited
	})
	deadline := time.Now().Add(timeout)
	for !get(t, "http://"+c.health+probe) {
		select {
		case err := <-c.exited:
			t.Fatalf("gitopsd exited before it was ready: %v\n%s", err, c.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitopsd: no %s after %s\n%s", probe, timeout, c.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// Two gitopsd shards split the work by label, as Flux's sharding does:
// each one, with its own --watch-label-selector, storage and leader Lease,
// reconciles the GitRepository and Kustomization of its shard and never
// touches the other's — its artifacts come from its own artifact server,
// and its metrics know only its own objects.
func TestShardsSplitTheWork(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	commit := srv.InitRepository("app.git").Commit("main", "app", map[string]string{
		"a/config.yaml": cm("shard-a", "a"),
		"b/config.yaml": cm("shard-b", "b"),
	})
	rev := "main@sha1:" + commit
	shards := map[string]*child{}
	for _, s := range []string{"a", "b"} {
		shards[s] = startChild(t,
			"--watch-label-selector="+childLabel+"=shard-"+s,
			"--enable-leader-election",
			"--leader-election-namespace="+f.ns,
			"--leader-election-id=gitopsd-shard-"+s,
		)
	}
	type objs struct {
		src *sourcev1.GitRepository
		ks  *kustomizev1.Kustomization
	}
	byShard := map[string]objs{}
	for _, s := range []string{"a", "b"} {
		src := gitRepository("app-"+s, srv.HTTPURL("app.git"))
		ks := kustomization("app-"+s, f.ns, src, "./"+s)
		for _, o := range []client.Object{src, ks} {
			o.SetLabels(map[string]string{childLabel: "shard-" + s})
		}
		f.create(src, ks)
		byShard[s] = objs{src, ks}
	}
	for s, o := range byShard {
		f.applied(o.ks, rev)
		if f.configMapData(f.ns, "shard-"+s)["value"] != s {
			t.Errorf("shard %s: its ConfigMap is missing", s)
		}
	}

	// Each shard holds its own Lease.
	for _, s := range []string{"a", "b"} {
		if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "gitopsd-shard-" + s}, &coordinationv1.Lease{}); err != nil {
			t.Errorf("shard %s: Lease: %v", s, err)
		}
	}
	// The two artifacts were stored by two artifact servers.
	hosts := map[string]string{}
	for s, o := range byShard {
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(o.src), o.src); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(o.src.Status.Artifact.URL)
		if err != nil {
			t.Fatal(err)
		}
		hosts[s] = u.Host
	}
	if hosts["a"] == hosts["b"] {
		t.Errorf("both shards' artifacts are served from %s: one gitopsd stored both", hosts["a"])
	}
	// Each shard's metrics name its own objects, never the other's.
	for s, c := range shards {
		fams, err := scrape("http://" + c.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for other, o := range byShard {
			for _, obj := range []struct {
				o    client.Object
				kind string
			}{{o.src, "GitRepository"}, {o.ks, "Kustomization"}} {
				_, has := fams.Value("gitopskit_reconcile_condition", objectSeries(obj.o, obj.kind, "type", "Ready", "status", "True"))
				if has != (other == s) {
					t.Errorf("shard %s: series of %s %s (shard %s) present: %t", s, obj.kind, obj.o.GetName(), other, has)
				}
			}
		}
		if strings.Contains(c.log.String(), "app-"+map[string]string{"a": "b", "b": "a"}[s]) {
			t.Errorf("shard %s logged the other shard's objects:\n%s", s, c.log)
		}
	}
}
