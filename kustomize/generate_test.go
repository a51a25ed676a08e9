package kustomize

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGeneratorNestedMixedYAML(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".sourceignore":                                   "drafts/\n",
		"deploy/app/deployment.yaml":                      deployment,
		"deploy/app/svc.yml":                              "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
		"deploy/app/multi.yaml":                           cm("one") + "---\n" + cm("two") + "---\n",
		"deploy/values.yaml":                              "replicaCount: 2\nimage:\n  tag: latest\n",
		"deploy/chart/Chart.yaml":                         "apiVersion: v2\nname: chart\nversion: 1.0.0\n",
		"deploy/.github/workflows/ci.yaml":                "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
		"deploy/.hidden.yaml":                             cm("hidden"),
		"deploy/drafts/cm.yaml":                           cm("draft"),
		"deploy/local/.sourceignore":                      "*.tmp.yaml\n",
		"deploy/local/keep.yaml":                          cm("keep"),
		"deploy/local/skip.tmp.yaml":                      cm("skip"),
		"deploy/caller-ignored/cm.yaml":                   cm("caller-ignored"),
		"deploy/chart/templates/cm.yaml":                  "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n{{- end }}\n",
		"deploy/README.md":                                "# docs",
		"deploy/sub/kustomization.yaml":                   "resources:\n- cm.yaml\nnamePrefix: sub-\n",
		"deploy/sub/cm.yaml":                              cm("nested"),
		"deploy/sub/deeper/ignored-by-kustomization.yaml": cm("not-listed"),
		"deploy/kustomize-config.yaml":                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
	})
	objs := mustBuild(t, root, "deploy", Options{Ignore: []string{"caller-ignored/"}})
	want := []string{
		"ConfigMap//keep",
		"ConfigMap//one",
		"ConfigMap//sub-nested",
		"ConfigMap//two",
		"Service//web",
		"Deployment//web",
	}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
}

// A YAML file the generator cannot classify safely fails the build, naming
// the file: skipping it would drop its objects and a pruning caller would
// delete them from the cluster.
func TestGeneratorRefusesToSkipDoubtfulFiles(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ content, want string }{
		"syntax error":             {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n", "app/bad.yaml: not valid YAML: yaml: line"},
		"tab indentation":          {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n", "app/bad.yaml: not valid YAML"},
		"kind without version":     {"kind: ConfigMap\nmetadata:\n  name: x\n", "app/bad.yaml: document 1 has apiVersion or kind but not both"},
		"version without kind":     {cm("a") + "---\napiVersion: v1\nmetadata:\n  name: x\n", "document 2 has apiVersion or kind but not both"},
		"objects mixed with other": {cm("a") + "---\nreplicas: 2\n", "app/bad.yaml: mixes Kubernetes objects with other YAML documents"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeTree(t, root, map[string]string{"app/good.yaml": cm("good"), "app/bad.yaml": tc.content})
			_, err := Build(context.Background(), root, "app", Options{})
			var me *ManifestError
			if !errors.As(err, &me) || me.Path != "app/bad.yaml" {
				t.Fatalf("error = %v, want a *ManifestError for app/bad.yaml", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), IgnoreFile) {
				t.Fatalf("error %q does not contain %q and name %s", err, tc.want, IgnoreFile)
			}
			if strings.Contains(err.Error(), "name: x") || strings.Contains(err.Error(), "replicas") {
				t.Fatalf("error quotes the file: %q", err)
			}
			// Excluding the file is the way out.
			writeTree(t, root, map[string]string{"app/.sourceignore": "bad.yaml\n"})
			if diff := cmp.Diff([]string{"ConfigMap//good"}, ids(mustBuild(t, root, "app", Options{}))); diff != "" {
				t.Fatalf("objects after ignoring the file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGeneratorWritesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/cm.yaml": cm("a"), "b/kustomization.yaml": "resources:\n- cm.yaml\n", "b/cm.yaml": cm("b")})
	if err := os.Chmod(root, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(root, 0o755) })
	before := listTree(t, root)
	for _, dir := range []string{"a", "b"} {
		mustBuild(t, root, dir, Options{Overlay: Overlay{Namespace: "x", NamePrefix: "p-"}})
	}
	if diff := cmp.Diff(before, listTree(t, root)); diff != "" {
		t.Fatalf("source changed:\n%s", diff)
	}
}

func listTree(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		out = append(out, p)
		return nil
	})
	return out
}

func TestGeneratorEmptyFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"empty/values.yaml": "a: 1\n"})
	objs, err := Build(context.Background(), root, "empty", Options{})
	if err != nil || len(objs) != 0 {
		t.Fatalf("got %v, %v", ids(objs), err)
	}
}
