package testenv_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/testenv"
)

// RestartAPIServer brings the API server back on the same address and
// certificates with the same data: the Environment's client, and one made
// before the restart from its kubeconfig, read what was stored before.
func TestRestartAPIServer(t *testing.T) {
	t.Parallel()
	// An Environment of this test's own: the shared one serves parallel
	// tests.
	e, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	ctx := t.Context()
	ns := e.Namespace(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if err := e.Client().Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	kubeconfig := e.KubeConfig()
	w, err := e.Client().Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if err := e.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	// The watch opened before ended with the old process.
	deadline := time.After(time.Minute)
	for ended := false; !ended; {
		select {
		case _, ok := <-w.ResultChan():
			ended = !ok
		case <-deadline:
			t.Fatal("a watch opened before the restart is still open")
		}
	}
	got := &corev1.ConfigMap{}
	if err := e.Client().Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if got.Data["k"] != "v" || got.UID != cm.UID {
		t.Fatalf("after the restart the ConfigMap is %+v, want the one stored before", got)
	}
	if string(e.KubeConfig()) != string(kubeconfig) {
		t.Error("the kubeconfig changed with the restart")
	}
	// A second restart works as the first.
	if err := e.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := e.Client().Get(context.Background(), client.ObjectKeyFromObject(cm), got); err != nil {
		t.Fatalf("after a second restart: %v", err)
	}
}
