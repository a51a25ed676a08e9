package kustomize

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildKustomization(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/kustomization.yaml": "resources:\n- deploy.yaml\n- ns.yaml\n- cm.yaml\nnamespace: prod\n",
		"app/deploy.yaml":        deployment,
		"app/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n",
		"app/cm.yaml":            cm("settings", "replicas", `"3"`, "count", "4"),
	})
	objs := mustBuild(t, root, "app", Options{})
	want := []string{"Namespace//prod", "ConfigMap/prod/settings", "Deployment/prod/web"}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	// Numbers come out as int64, as unstructured requires.
	if r, _, _ := unstructuredInt(objs[2].Object, "spec", "replicas"); r != 1 {
		t.Fatalf("replicas = %v", r)
	}
	_ = objs[2].DeepCopy() // panics on non-JSON types
}
