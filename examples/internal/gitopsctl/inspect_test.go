package gitopsctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// childKustomization is a Kustomization manifest applied by the parent:
// it builds ./child of the same GitRepository into the application
// namespace.
func childKustomization(ns, appNS string) string {
	return fmt.Sprintf(`apiVersion: kustomize.gitopskit.dev/v1
kind: Kustomization
metadata:
  name: child
spec:
  interval: 10m
  retryInterval: 2s
  prune: true
  path: ./child
  targetNamespace: %s
  sourceRef:
    kind: GitRepository
    name: app
    namespace: %s
`, appNS, ns)
}

// tree expands a nested Kustomization; trace finds the Kustomization and
// source of an object, and refuses a forged label; export prints clean
// YAML.
func TestTreeTraceExport(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{
		"deploy/config.yaml": cm("config", "one"),
		"deploy/child.yaml":  childKustomization(f.ns, f.appNS),
		"child/leaf.yaml":    cm("leaf", "x"),
	})
	f.sync("app", "./deploy")
	// app is Ready once it applied child; child applies leaf on its own
	// reconcile, which a request makes gitopsctl follow to its end.
	expect(t, f.c.run("reconcile", "ks", "child", "-n", f.appNS), ExitOK)
	names := map[string]string{f.ns: "<ns>", f.appNS: "<app>", f.srv.HTTPURL("app.git"): "<url>"}

	r := f.run("tree", "ks", "app")
	expect(t, r, ExitOK)
	golden(t, "tree.txt", normalise(r.stdout, names))
	r = f.run("tree", "ks", "app", "-o", "json")
	expect(t, r, ExitOK)
	var root treeNode
	if err := json.Unmarshal([]byte(r.stdout), &root); err != nil || len(root.Children) != 2 || len(root.Children[0].Children) != 1 {
		t.Errorf("tree -o json: %v\n%s", err, r.stdout)
	}
	expect(t, f.run("tree", "gitrepo", "app"), ExitError, "GitRepository applies nothing")

	r = f.c.run("trace", "configmap", "leaf", "-n", f.appNS)
	expect(t, r, ExitOK)
	golden(t, "trace.txt", normalise(r.stdout, names))
	r = f.c.run("trace", "Kustomization", "child", "-n", f.appNS)
	expect(t, r, ExitOK, "Managed by:    Kustomization "+f.ns+"/app (lists it in its inventory)")
	r = f.c.run("trace", "configmaps/config", "-n", f.appNS, "--api-version", "v1")
	expect(t, r, ExitOK, "Managed by:    Kustomization "+f.ns+"/app", "Source:        GitRepository "+f.ns+"/app")

	ctx := context.Background()
	forged := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "forged", Namespace: f.appNS, Labels: map[string]string{
		kustomizev1.GroupVersion.Group + "/name": "app", kustomizev1.GroupVersion.Group + "/namespace": f.ns,
	}}}
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: f.appNS}}
	for _, o := range []*corev1.ConfigMap{forged, plain} {
		if err := env.Client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, f.c.run("trace", "cm", "forged", "-n", f.appNS), ExitFailure, "labelled, but NOT in its inventory: gitopsd does not manage it")
	expect(t, f.c.run("trace", "configmap", "plain", "-n", f.appNS), ExitFailure, "ConfigMap/"+f.appNS+"/plain is not managed by gitopsd")
	expect(t, f.c.run("trace", "configmap", "nothing", "-n", f.appNS), ExitError, "ConfigMap "+f.appNS+"/nothing not found")
	expect(t, f.c.run("trace", "nokind", "x"), ExitError, `the cluster serves no kind "nokind"`)

	expect(t, f.run("reconcile", "ks", "app"), ExitOK)
	r = f.run("export", "ks", "app")
	expect(t, r, ExitOK)
	golden(t, "export-ks.yaml", normalise(r.stdout, names))
	for _, leak := range []string{"status:", "requestedAt", "resourceVersion", "managedFields", "finalizers"} {
		if strings.Contains(r.stdout, leak) {
			t.Errorf("export prints %s:\n%s", leak, r.stdout)
		}
	}
	r = f.run("export", "all", "--all")
	expect(t, r, ExitOK, "kind: GitRepository", "kind: Kustomization\nmetadata:\n  name: app")
	expect(t, f.run("export", "ks"), ExitError, "want a name, or --all")
}

// events lists the Events of gitopsd's objects, filters with --for and
// follows new ones with --watch.
func TestEvents(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"deploy/config.yaml": cm("config", "one")})
	f.sync("app", "./deploy")
	ctx := context.Background()
	event := func(name, apiVersion, kindName, obj, reason, msg string) {
		t.Helper()
		now := metav1.NewTime(time.Now())
		e := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: f.ns},
			InvolvedObject: corev1.ObjectReference{APIVersion: apiVersion, Kind: kindName, Name: obj, Namespace: f.ns},
			Reason:         reason, Message: msg, Type: corev1.EventTypeWarning,
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
			Source: corev1.EventSource{Component: "test"},
		}
		if err := env.Client().Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	event("a", kustomizev1.GroupVersion.String(), "Kustomization", "app", "TestReason", "hello from a test")
	event("b", "v1", "ConfigMap", "app", "NotOurs", "not gitopsd's")

	r := f.run("events")
	expect(t, r, ExitOK, "LAST SEEN", "Warning", "TestReason", "kustomization/app", "hello from a test")
	if strings.Contains(r.stdout, "NotOurs") {
		t.Errorf("events lists another kind's event:\n%s", r.stdout)
	}
	expect(t, f.run("events", "--for", "ks/app"), ExitOK, "TestReason")
	if r := f.run("events", "--for", "gitrepo/app"); strings.Contains(r.stdout, "TestReason") {
		t.Errorf("--for gitrepo/app shows the Kustomization's event:\n%s", r)
	}
	expect(t, f.run("events", "--for", "app"), ExitError, "--for wants <kind>/<name>")

	out, stop := f.c.start("events", "--watch", "-n", f.ns)
	eventually(t, "events --watch", out, "TestReason")
	event("c", kustomizev1.GroupVersion.String(), "Kustomization", "app", "LaterReason", "a later event")
	eventually(t, "events --watch", out, "LaterReason")
	expect(t, stop(), ExitOK)
}
