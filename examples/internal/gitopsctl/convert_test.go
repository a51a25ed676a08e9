package gitopsctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"
)

// Flux manifests from Flux's documentation become gitopsd's: groups,
// versions, references, annotations and labels rewritten, comments kept,
// and everything that could not be carried over reported (exit 1).
func TestConvertFluxManifests(t *testing.T) {
	t.Parallel()
	r := newCtl(t).run("convert", "--from-flux", "testdata/flux")
	expect(t, r, ExitFailure, "converted 14 Flux objects in 8 files", "6 fields or objects could not be carried over")
	golden(t, "convert.yaml", r.stdout)
	golden(t, "convert.stderr", r.stderr)
	if strings.Contains(r.stdout, "toolkit.fluxcd.io/v") {
		t.Errorf("a Flux apiVersion is left in the output:\n%s", r.stdout)
	}
	for _, want := range []string{"apiVersion: helm.gitopskit.dev/v1\nkind: HelmRelease", "apiVersion: source.gitopskit.dev/v1\nkind: HelmRepository", "reconcile.gitopskit.dev/watch: Enabled"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("%q is not in the output", want)
		}
	}
	for _, left := range []string{"gitImplementation", "serviceAccountName: sops-identity", "configMapRef"} {
		if strings.Contains(r.stdout, left) {
			t.Errorf("%q was not left out", left)
		}
	}
}

// A file with nothing gitopsd lacks converts cleanly (exit 0), and what it
// gives the API server accepts: the objects are valid for gitopsd's CRDs.
func TestConvertCleanFileIsValid(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newCtl(t).run("convert", "--from-flux", "testdata/flux/podinfo.yaml")
	expect(t, r, ExitOK, "converted 2 Flux objects in 1 file")
	golden(t, "convert-podinfo.yaml", r.stdout)
	for _, d := range splitDocuments([]byte(r.stdout)) {
		u := &unstructured.Unstructured{}
		if err := sigsyaml.Unmarshal(d.text, &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		u.SetNamespace(ns)
		if err := env.Client().Create(context.Background(), u, client.DryRunAll); err != nil {
			t.Errorf("the API server refuses the converted %s: %v", u.GetKind(), err)
		}
	}
}

// --output writes a folder mirroring the input's; files with nothing to
// rewrite are written byte for byte; stdin works too.
func TestConvertOutputFolderAndStdin(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	r := newCtl(t).run("convert", "--from-flux", "testdata/flux", "--output", out)
	expect(t, r, ExitFailure)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing with --output", r.stdout)
	}
	same, err := os.ReadFile(filepath.Join(out, "apps/podinfo/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile("testdata/flux/apps/podinfo/kustomization.yaml")
	if !bytes.Equal(same, orig) {
		t.Errorf("a file with nothing to convert changed:\n%s", same)
	}
	converted, err := os.ReadFile(filepath.Join(out, "podinfo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/golden/convert-podinfo.yaml")
	if string(converted) != string(want) {
		t.Errorf("--output podinfo.yaml differs from stdout's conversion:\n%s", converted)
	}

	c := newCtl(t)
	c.stdin = string(orig) + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1beta2\nkind: Kustomization\nmetadata:\n  name: x\nspec:\n  interval: 1m\n  prune: false\n  sourceRef:\n    kind: OCIRepository\n    name: x\n"
	r = c.run("convert", "--from-flux", "-")
	expect(t, r, ExitOK, "apiVersion: kustomize.gitopskit.dev/v1", "kind: OCIRepository", "converted 1 Flux object in 1 file")
}

// Hostile input: files over the limit, alias bombs, invalid YAML and
// links out of the folder are refused or skipped with a clear error.
func TestConvertHostileInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := write("big.yaml", "a: "+strings.Repeat("x", maxInputFile)+"\n")
	r := newCtl(t).run("convert", "--from-flux", big)
	expect(t, r, ExitError, "input too large")

	var bomb strings.Builder
	bomb.WriteString("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		bomb.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	r = newCtl(t).run("convert", "--from-flux", write("bomb.yaml", bomb.String()))
	expect(t, r, ExitError, "bomb.yaml:1: too many YAML nodes")

	r = newCtl(t).run("convert", "--from-flux", write("bad.yaml", "apiVersion: v1\n---\nkind: [oops\n"))
	expect(t, r, ExitError, "bad.yaml:3: invalid YAML")

	linked := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(linked, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(linked, "dir")); err != nil {
		t.Fatal(err)
	}
	r = newCtl(t).run("convert", "--from-flux", linked)
	expect(t, r, ExitOK, "converted 0 Flux objects in 0 files")
	if strings.Contains(r.stdout, "outside") {
		t.Errorf("convert followed a link out of the folder:\n%s", r)
	}
}

// FuzzConvertDocument feeds arbitrary documents to the converter: it never
// panics, stays within its node budget, and what it writes is YAML with
// no Flux kind left.
func FuzzConvertDocument(f *testing.F) {
	files, _ := filepath.Glob("testdata/flux/*.yaml")
	for _, p := range files {
		data, _ := os.ReadFile(p)
		for _, d := range splitDocuments(data) {
			f.Add(d.text)
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nspec: &s {a: *s}\n"))
	cv, err := newConverter()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		res, err := cv.convertDocument(data)
		if err != nil {
			return
		}
		if res.text == nil {
			if !res.dropped {
				t.Fatalf("no text and not dropped for %q", data)
			}
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal(res.text, &n); err != nil {
			t.Fatalf("output is not YAML: %v\ninput %q\noutput %q", err, data, res.text)
		}
		if res.flux && len(n.Content) > 0 && strings.HasSuffix(strings.SplitN(scalar(n.Content[0], "apiVersion"), "/", 2)[0], fluxGroupSuffix) {
			t.Fatalf("a converted object kept a Flux apiVersion: %q", res.text)
		}
	})
}
