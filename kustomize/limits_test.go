package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// laughs returns a "billion laughs" object: levels of anchors, each a list
// of width aliases of the previous level. laughs(9, 9) is about 500 bytes
// and de-anchors into 9^9 (387 million) nodes.
func laughs(header string, levels, width int) string {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("  l0: &l0 [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("lol,", width), ","))
	b.WriteString("]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := range width {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

const bombHeader = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n"

var bomb = laughs(bombHeader, 9, 9)

// aliasBombCases are builds that each hide a bomb (or an alias inside its
// own anchor, which makes kyaml recurse until the process dies of a stack
// overflow) in a different file the build reads.
func aliasBombCases() map[string]struct {
	files    map[string]string
	dir      string
	wantPath string
} {
	type c = struct {
		files    map[string]string
		dir      string
		wantPath string
	}
	gen := laughs("apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: gen\nx:\n", 9, 9)
	patch := laughs("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n", 9, 9)
	merge := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\nx:\n  a: &a {k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v}\n"
	for i := 1; i < 9; i++ {
		merge += fmt.Sprintf("  b%d: &b%d\n    <<: [", i, i)
		for j := range 8 {
			if j > 0 {
				merge += ", "
			}
			prev := "a"
			if i > 1 {
				prev = fmt.Sprintf("b%d", i-1)
			}
			merge += "*" + prev
		}
		merge += "]\n    own" + fmt.Sprint(i) + ": v\n"
	}
	return map[string]c{
		"resource":                       {files: map[string]string{"kustomization.yaml": "resources:\n- bomb.yaml\n", "bomb.yaml": bomb}, wantPath: "bomb.yaml"},
		"resource without kustomization": {files: map[string]string{"app/bomb.yaml": bomb}, dir: "app", wantPath: "app/bomb.yaml"},
		"nested base":                    {files: map[string]string{"kustomization.yaml": "resources:\n- base\n", "base/kustomization.yaml": "resources:\n- ../x/bomb.yaml\n", "x/bomb.yaml": bomb}, wantPath: "x/bomb.yaml"},
		"kustomization itself":           {files: map[string]string{"kustomization.yaml": "resources:\n- cm.yaml\n" + laughs("metadata:\n  annotations:\n", 9, 9), "cm.yaml": cm("ok")}, wantPath: "kustomization.yaml"},
		"inline patch":                   {files: map[string]string{"kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- patch: |\n" + indent(patch), "cm.yaml": cm("ok")}, wantPath: "kustomization.yaml"},
		"patch file":                     {files: map[string]string{"kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: p.yaml\n", "cm.yaml": cm("ok"), "p.yaml": patch}, wantPath: "p.yaml"},
		"generator configuration":        {files: map[string]string{"kustomization.yaml": "generators:\n- gen.yaml\n", "gen.yaml": gen}, wantPath: "gen.yaml"},
		"configMapGenerator input":       {files: map[string]string{"kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - data.yaml\n", "data.yaml": bomb}, wantPath: "data.yaml"},
		"openapi schema":                 {files: map[string]string{"kustomization.yaml": "resources:\n- cm.yaml\nopenapi:\n  path: schema.yaml\n", "cm.yaml": cm("ok"), "schema.yaml": laughs("definitions:\n", 9, 9)}, wantPath: "schema.yaml"},
		"merge keys":                     {files: map[string]string{"kustomization.yaml": "resources:\n- m.yaml\n", "m.yaml": merge}, wantPath: "m.yaml"},
		"second document":                {files: map[string]string{"kustomization.yaml": "resources:\n- two.yaml\n", "two.yaml": cm("first") + "---\n" + bomb}, wantPath: "two.yaml"},
		"recursive alias":                {files: map[string]string{"kustomization.yaml": "resources:\n- loop.yaml\n", "loop.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loop\ndata: &d\n  k: *d\n"}, wantPath: "loop.yaml"},
		"recursive in a patch":           {files: map[string]string{"kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: ok\n    data: &d\n      k: *d\n", "cm.yaml": cm("ok")}, wantPath: "kustomization.yaml"},
	}
}

func init() {
	childScenarios["alias-bombs"] = func() error {
		var errs childErrors
		for name, tc := range aliasBombCases() {
			root, err := os.MkdirTemp("", "alias-bomb-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(root)
			if err := writeFiles(root, tc.files); err != nil {
				return err
			}
			_, err = Build(context.Background(), root, tc.dir, Options{})
			var ae *AliasError
			switch {
			case !errors.As(err, &ae):
				errs.add("%s: want *AliasError, got %v", name, err)
			case !errors.Is(err, ErrLimit):
				errs.add("%s: the error does not wrap ErrLimit: %v", name, err)
			case ae.Path != tc.wantPath:
				errs.add("%s: AliasError.Path = %q, want %q", name, ae.Path, tc.wantPath)
			}
		}
		for name, data := range map[string]string{"manifests": bomb, "manifests, recursive": "a: &a [*a]\n"} {
			_, err := BuildManifests(context.Background(), []byte(data), ManifestOptions{Overlay: Overlay{NamePrefix: "p-"}})
			if ae := (*AliasError)(nil); !errors.As(err, &ae) || ae.Path != manifestsFile {
				errs.add("%s: want *AliasError naming %s, got %v", name, manifestsFile, err)
			}
		}
		return errs.err()
	}
	// The same kind of build without the bound, on a bomb small enough to
	// finish: it shows that the measure sees what aliases cost.
	childScenarios["alias-unbounded"] = func() error {
		root, err := os.MkdirTemp("", "alias-bomb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(root)
		if err := writeFiles(root, map[string]string{"kustomization.yaml": "resources:\n- bomb.yaml\n", "bomb.yaml": laughs(bombHeader, 6, 9)}); err != nil {
			return err
		}
		_, err = Build(context.Background(), root, "", Options{MaxAliasNodes: -1})
		return err
	}
}

// TestAliasBombsBounded builds, in a child process, a bomb hidden in every
// kind of file a build reads (each expands to 387 million nodes, some 40
// GiB, if de-anchored) and checks that each is refused with an *AliasError
// naming the file, and that the child's peak memory stays bounded. The
// control build, with the bound disabled on a bomb 700 times smaller,
// shows the measure would see an expansion.
func TestAliasBombsBounded(t *testing.T) {
	t.Parallel()
	_, peak := runInChild(t, "alias-bombs")
	_, control := runInChild(t, "alias-unbounded")
	t.Logf("peak RSS: %d MiB with %d bombs refused; %d MiB expanding a 530,000-node bomb without the bound",
		peak>>20, len(aliasBombCases())+2, control>>20)
	if peak > 256<<20 {
		t.Errorf("peak RSS %d MiB: alias expansion is not bounded", peak>>20)
	}
	if control < peak+100<<20 {
		t.Errorf("the control build peaked at %d MiB, not clearly above %d MiB: the measure cannot tell", control>>20, peak>>20)
	}
}

// Anchors used the way people use them pass.
func TestAliasesWithinBoundsBuild(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- deploy.yaml\n",
		"deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels
    app: web
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
    spec:
      containers:
      - name: web
        image: nginx
        env: &env
        - {name: A, value: "1"}
        - {name: B, value: "2"}
      - name: sidecar
        image: busybox
        env: *env
`,
	})
	objs := mustBuild(t, root, "", Options{})
	cs, _, _ := unstructuredSlice(objs[0].Object, "spec", "template", "spec", "containers")
	if len(cs) != 2 || len(cs[1].(map[string]any)["env"].([]any)) != 2 {
		t.Fatalf("containers = %v", cs)
	}
	// A floor of zero still lets a document double.
	if _, err := Build(context.Background(), root, "", Options{MaxAliasNodes: 0}); err != nil {
		t.Fatal(err)
	}
}

func TestReadLimitsCrossed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{"kustomization.yaml": "resources:\n"}
	for i := range 20 {
		n := fmt.Sprintf("cm%02d.yaml", i)
		files[n] = cm(fmt.Sprintf("c%02d", i))
		files["kustomization.yaml"] += "- " + n + "\n"
	}
	writeTree(t, root, files)
	for name, opts := range map[string]Options{"MaxFiles": {MaxFiles: 5}, "MaxBytes": {MaxBytes: 500}} {
		_, err := Build(context.Background(), root, "", opts)
		if !errors.Is(err, ErrLimit) {
			t.Errorf("%s: want ErrLimit, got %v", name, err)
		}
	}
	if got := mustBuild(t, root, "", Options{MaxFiles: 21}); len(got) != 20 {
		t.Fatalf("got %d objects", len(got))
	}
	// Unlimited.
	if got := mustBuild(t, root, "", Options{MaxFiles: -1, MaxBytes: -1, MaxAliasNodes: -1}); len(got) != 20 {
		t.Fatalf("got %d objects", len(got))
	}
}
