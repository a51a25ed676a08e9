package kustomize

import (
	"context"
	"strings"
	"testing"

	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// spec.driftIgnoreRules: a field another manager changed on a matched
// object keeps its live value through later reconciles; the same change
// on an object no rule matches is corrected.
func TestDriftIgnoreRules(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{
		"deploy/a.yaml": cm("a", "k", "from-git"),
		"deploy/b.yaml": cm("b", "k", "from-git"),
	})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.DriftIgnoreRules = []kustomizev1.DriftIgnoreRule{{
			Paths:  []string{"/data/k"},
			Target: &kustomizev1.ObjectSelector{Kind: "ConfigMap", Name: "a"},
		}}
	})
	f.waitReady(ks, a.Revision)

	for _, name := range []string{"a", "b"} {
		obj := f.mustConfigMap(f.ns, name)
		obj.Data["k"] = "changed-by-hand"
		if err := f.c.Update(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	f.requestReconcile(ks)
	f.requestReconcile(ks)
	if got := f.mustConfigMap(f.ns, "a").Data["k"]; got != "changed-by-hand" {
		t.Errorf("ignored field of a = %q, want the live value kept", got)
	}
	if got := f.mustConfigMap(f.ns, "b").Data["k"]; got != "from-git" {
		t.Errorf("field of b = %q, want drift corrected", got)
	}
}

// spec.ignoreMissingComponents skips a component that is not there; without
// it the build fails naming it.
func TestIgnoreMissingComponents(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{
		"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n",
		"deploy/cm.yaml":            cm("settings"),
	})
	f.gitRepository("app", &a)
	strict := f.kustomization("strict", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.Components = []string{"missing"}
	})
	got := f.waitNotReady(strict, BuildFailedReason, a.Revision)
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "missing") {
		t.Errorf("Ready message %q does not name the component", msg)
	}
	lenient := f.kustomization("lenient", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.Components = []string{"missing"}
		s.IgnoreMissingComponents = true
	})
	f.waitReady(lenient, a.Revision)
	f.mustConfigMap(f.ns, "settings")
}

// A remote base or file is a build failure naming it, by default: nothing
// remote is loaded.
func TestRemoteBasesRefused(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{
		"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n- https://127.0.0.1:1/remote.yaml\n",
		"deploy/cm.yaml":            cm("settings"),
	})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) { s.Path = "./deploy" })
	got := f.waitNotReady(ks, BuildFailedReason, a.Revision)
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "https://127.0.0.1:1/remote.yaml") {
		t.Errorf("Ready message %q does not name the remote reference", msg)
	}
	if f.configMap(f.ns, "settings") != nil {
		t.Error("a set with a remote reference was partly applied")
	}
}
