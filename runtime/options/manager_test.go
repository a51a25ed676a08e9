package options_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/runtime/options"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls f until it returns nil, failing the test with f's last
// error after a generous deadline (the machine may be loaded).
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestNewManager starts a manager built from the options against the real
// API server: it wins leader election (the Lease appears), serves health and
// metrics, caches only the watched namespace and label selection, and stops
// on cancel, releasing the Lease.
func TestNewManager(t *testing.T) {
	ctx := t.Context()
	c := env.Client()
	watched, other := env.Namespace(t), env.Namespace(t)

	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "mine", Labels: map[string]string{"shard": "a"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "other-shard", Labels: map[string]string{"shard": "b"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "unlabelled"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "elsewhere", Labels: map[string]string{"shard": "a"}}},
	} {
		if err := c.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}

	o := options.DefaultOptions("options-test")
	o.LeaderElection = true
	o.LeaderElectionNamespace = watched
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	o.WatchNamespaces = []string{watched}
	o.WatchLabelSelector = "shard=a"
	o.MetricsAddr, o.HealthAddr, o.PprofAddr = freeAddr(t), freeAddr(t), freeAddr(t)
	o.LogOutput = io.Discard

	var extraCalled bool
	mgr, err := o.NewManager(env.Config(), env.Scheme(), func(mo *manager.Options) { extraCalled = true })
	if err != nil {
		t.Fatal(err)
	}
	if !extraCalled {
		t.Error("the extra option was not applied")
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	select {
	case <-mgr.Elected():
	case err := <-done:
		t.Fatalf("manager stopped before being elected: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not elected within a minute")
	}

	var lease coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKey{Namespace: watched, Name: "options-test-leader-election"}, &lease); err != nil {
		t.Fatalf("lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("lease has no holder: %+v", lease.Spec)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		eventually(t, path, func() error {
			code, body, err := get("http://" + o.HealthAddr + path)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d: %s", code, body)
			}
			return err
		})
	}
	eventually(t, "/debug/pprof/", func() error {
		code, body, err := get("http://" + o.PprofAddr + "/debug/pprof/")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d: %s", code, body)
		}
		return err
	})
	eventually(t, "/metrics", func() error {
		code, body, err := get("http://" + o.MetricsAddr + "/metrics")
		if err == nil && (code != http.StatusOK || !strings.Contains(body, "leader_election_master_status")) {
			err = fmt.Errorf("status %d, no leader_election_master_status in %d bytes", code, len(body))
		}
		return err
	})

	// The cached client sees only the watched namespace's shard.
	var list corev1.ConfigMapList
	eventually(t, "cached list", func() error {
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace(watched)); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Name != "mine" {
			var names []string
			for _, cm := range list.Items {
				names = append(names, cm.Name)
			}
			return fmt.Errorf("cached ConfigMaps %v, want [mine]", names)
		}
		return nil
	})
	err = mgr.GetClient().List(ctx, &list, client.InNamespace(other))
	if err == nil {
		t.Errorf("listing an unwatched namespace through the cache succeeded with %d items", len(list.Items))
	}

	cancel()
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start returned %v after cancel", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("manager did not stop within a minute of cancel")
	}
	// Released on cancel, so a successor need not wait for the lease to
	// expire.
	eventually(t, "lease released", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(&lease), &lease); err != nil {
			return err
		}
		if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
			return errors.New("lease still held by " + *h)
		}
		return nil
	})
}

func TestNewManagerRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	o := options.DefaultOptions("x")
	o.WatchLabelSelector = "a=(b"
	if _, err := o.NewManager(env.Config(), env.Scheme()); err == nil || !strings.Contains(err.Error(), "--watch-label-selector") {
		t.Fatalf("NewManager = %v, want a validation error", err)
	}
}
