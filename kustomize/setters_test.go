package kustomize_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/gitopskit/kit/kustomize"
)

// writeTree writes files (slash paths) under a new folder and returns it.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTree(t testing.TB, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var appPolicy = map[string]kustomize.ImageRef{
	"apps:app": {Name: "ghcr.io/org/app", Tag: "1.3.0"},
	"apps:db":  {Name: "docker.io/library/postgres", Tag: "17.2", Digest: "sha256:" + strings.Repeat("ab", 32)},
}

const deployment = `# The app, kept up to date by image automation.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
spec:
  template:
    spec:
      containers:
      - name: app
        image: ghcr.io/org/app:1.2.0 # {"$imagepolicy": "apps:app"}
        args:   [ "--flag" ]   # odd spacing stays
      -   name: sidecar
          image: "ghcr.io/org/app:1.2.0"  # {"$imagepolicy": "apps:app"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: values
data:
  tag: '17.1' # {"$imagepolicy": "apps:db:tag"}
  repo: docker.io/library/postgres # {"$imagepolicy": "apps:db:name"}
  digest: none # {"$imagepolicy":"apps:db:digest"}
`

func TestSetImages(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"deploy/app.yaml": deployment, "deploy/README.md": "image: x # {\"$imagepolicy\": \"apps:app\"}\n"})
	res, err := kustomize.SetImages(t.Context(), root, "deploy", kustomize.SetImagesOptions{Policies: appPolicy})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		`image: ghcr.io/org/app:1.2.0 #`, `image: ghcr.io/org/app:1.3.0 #`,
		`image: "ghcr.io/org/app:1.2.0"  #`, `image: "ghcr.io/org/app:1.3.0"  #`,
		`tag: '17.1' #`, `tag: '17.2' #`,
		`digest: none #`, `digest: sha256:`+strings.Repeat("ab", 32)+` #`,
	).Replace(deployment)
	if diff := cmp.Diff(want, readTree(t, root, "deploy/app.yaml")); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if readTree(t, root, "deploy/README.md") != "image: x # {\"$imagepolicy\": \"apps:app\"}\n" {
		t.Error("a file that is not YAML was changed")
	}
	if len(res.Files) != 1 || res.Files[0].Path != "deploy/app.yaml" || len(res.Warnings) != 0 || len(res.Unresolved) != 0 {
		t.Fatalf("result = %+v", res)
	}
	var got []string
	for _, f := range res.Files[0].Fields {
		got = append(got, strings.Join([]string{f.Object.Kind, f.Object.Name, f.Policy, f.Field, f.Old, f.New}, " "))
	}
	wantFields := []string{
		"Deployment app apps:app  ghcr.io/org/app:1.2.0 ghcr.io/org/app:1.3.0",
		"Deployment app apps:app  ghcr.io/org/app:1.2.0 ghcr.io/org/app:1.3.0",
		"ConfigMap values apps:db tag 17.1 17.2",
		"ConfigMap values apps:db digest none sha256:" + strings.Repeat("ab", 32),
	}
	if diff := cmp.Diff(wantFields, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(filepath.Join(root, "deploy/app.yaml")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after the write: %v, %v; want 0640 kept", fi.Mode(), err)
	}

	// Again: nothing changes, nothing is written.
	before, _ := os.Stat(filepath.Join(root, "deploy/app.yaml"))
	res, err = kustomize.SetImages(t.Context(), root, "deploy", kustomize.SetImagesOptions{Policies: appPolicy})
	if err != nil || res.Changed() {
		t.Fatalf("second run: %+v, %v; want no change", res, err)
	}
	after, _ := os.Stat(filepath.Join(root, "deploy/app.yaml"))
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Error("an unchanged file was rewritten")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "deploy"))
	if len(entries) != 2 {
		t.Errorf("folder holds %d entries, want the 2 files (no temporary file left)", len(entries))
	}
}

func TestSetImagesFullReferenceWithDigestAndQuoting(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{
		"a.yml": "image: postgres:17.1 # {\"$imagepolicy\": \"apps:db\"}\ntag: 1.0.0 # {\"$imagepolicy\": \"apps:num:tag\"}\r\nkeep: true\n",
	})
	res, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: map[string]kustomize.ImageRef{
		"apps:db":  appPolicy["apps:db"],
		"apps:num": {Name: "x", Tag: "1.10"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A plain 1.10 would read as the number 1.1: it is quoted. CRLF stays.
	want := "image: docker.io/library/postgres:17.2@sha256:" + strings.Repeat("ab", 32) + " # {\"$imagepolicy\": \"apps:db\"}\ntag: \"1.10\" # {\"$imagepolicy\": \"apps:num:tag\"}\r\nkeep: true\n"
	if diff := cmp.Diff(want, readTree(t, root, "a.yml")); diff != "" || len(res.Files) != 1 {
		t.Errorf("file (-want +got):\n%s\nresult %+v", diff, res)
	}
}

// Markers SetImages cannot apply safely are reported, never guessed at,
// and markers naming a policy it was not given are listed.
func TestSetImagesWarnsAndReportsUnresolved(t *testing.T) {
	t.Parallel()
	file := `apiVersion: v1
kind: ConfigMap
metadata:
  name: tricky
data:
  block: |
    image: ghcr.io/org/app:1.2.0 # {"$imagepolicy": "apps:app"}
  quoted: "image: x # {\"$imagepolicy\": \"apps:app\"}"
  escaped: "ghcr.io/org/app:1.2.0\u0020" # {"$imagepolicy": "apps:app"}
  nested: # {"$imagepolicy": "apps:app"}
    a: b
  folded: > # {"$imagepolicy": "apps:app"}
    ghcr.io/org/app:1.2.0
  broken: x # {"$imagepolicy": "apps"}
  notjson: x # {"$imagepolicy": apps:app}
  other: ghcr.io/org/other:1 # {"$imagepolicy": "apps:other"}
# {"$imagepolicy": "apps:app"} on a line of its own
  long: x # {"$imagepolicy": "apps:app", "pad": "` + strings.Repeat("p", 1024) + `"}
`
	root := writeTree(t, map[string]string{"cm.yaml": file})
	res, err := kustomize.SetImages(t.Context(), root, ".", kustomize.SetImagesOptions{Policies: appPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() || readTree(t, root, "cm.yaml") != file {
		t.Fatalf("changed: %+v", res.Files)
	}
	wantWarn := []string{
		"cm.yaml:7: text that looks like an image policy marker",
		"cm.yaml:8: text that looks like an image policy marker",
		"cm.yaml:9: the marked value is not a single-line scalar written as it reads",
		"cm.yaml:10: the marked value is not a scalar",
		"cm.yaml:12: the marked value is a block scalar",
		"cm.yaml:14: marker \"apps\" is not \"namespace:name\"",
		"cm.yaml:15: marker",
		"cm.yaml:17: text that looks like an image policy marker",
		"cm.yaml:18: marker longer than 1024 bytes",
	}
	if len(res.Warnings) != len(wantWarn) {
		t.Fatalf("warnings:\n%s", strings.Join(res.Warnings, "\n"))
	}
	for _, w := range wantWarn {
		found := false
		for _, got := range res.Warnings {
			found = found || strings.HasPrefix(got, w)
		}
		if !found {
			t.Errorf("no warning starting %q in:\n%s", w, strings.Join(res.Warnings, "\n"))
		}
	}
	if len(res.Unresolved) != 1 || res.Unresolved[0].Policy != "apps:other" || res.Unresolved[0].Line != 16 {
		t.Errorf("unresolved = %+v, want apps:other at line 16", res.Unresolved)
	}
}

func TestSetImagesStaysInsideTheRoot(t *testing.T) {
	t.Parallel()
	outside := writeTree(t, map[string]string{"secret.yaml": "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n"})
	root := writeTree(t, map[string]string{"deploy/app.yaml": "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "deploy/link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app.yaml", filepath.Join(root, "deploy/inside.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "deploy/dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	res, err := kustomize.SetImages(t.Context(), root, "deploy", kustomize.SetImagesOptions{Policies: appPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "deploy/app.yaml" {
		t.Errorf("files = %+v, want deploy/app.yaml alone", res.Files)
	}
	if len(res.Warnings) != 2 || !strings.Contains(strings.Join(res.Warnings, "\n"), "deploy/link.yaml: a symlink, skipped") {
		t.Errorf("warnings = %q, want both symlinked files skipped", res.Warnings)
	}
	if readTree(t, outside, "secret.yaml") != "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n" {
		t.Error("a file outside the root was changed")
	}
	for _, dir := range []string{"..", "../x", "deploy/../..", filepath.Dir(root), "/etc", "escape"} {
		_, err := kustomize.SetImages(t.Context(), root, dir, kustomize.SetImagesOptions{Policies: appPolicy})
		var pe *kustomize.PathEscapeError
		if err == nil || (!errors.As(err, &pe) && dir != "escape") {
			t.Errorf("dir %q: %v, want a refusal", dir, err)
		}
	}
	// An absolute path inside the root is the same as a relative one.
	if _, err := kustomize.SetImages(t.Context(), root, filepath.Join(root, "deploy"), kustomize.SetImagesOptions{Policies: appPolicy, DryRun: true}); err != nil {
		t.Errorf("absolute dir inside the root: %v", err)
	}
}

// A value to write must stay one plain scalar: a hostile tag or name that
// would inject YAML is refused before any file is read.
func TestSetImagesRefusesValuesThatAreNotReferences(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"a.yaml": "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n"})
	for _, ref := range []kustomize.ImageRef{
		{Name: "a", Tag: "1\nkind: Secret"},
		{Name: "a", Tag: "1 # x"},
		{Name: "a\"b", Tag: "1"},
		{Name: "a", Tag: "1:2"},
		{Name: "a", Tag: ""},
		{Name: "a", Tag: "1", Digest: "md5:x"},
		{Name: "a", Tag: strings.Repeat("x", 600)},
	} {
		if _, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: map[string]kustomize.ImageRef{"apps:app": ref}}); err == nil {
			t.Errorf("%+v accepted", ref)
		}
	}
	if readTree(t, root, "a.yaml") != "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n" {
		t.Error("file changed")
	}
}

func TestSetImagesLimitsAndDryRun(t *testing.T) {
	t.Parallel()
	files := map[string]string{"big.yaml": "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n" + strings.Repeat("# pad\n", 200)}
	for _, n := range []string{"a", "b", "c"} {
		files[n+".yaml"] = "image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n"
	}
	root := writeTree(t, files)
	if _, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: appPolicy, MaxFiles: 3}); !errors.Is(err, kustomize.ErrLimit) {
		t.Errorf("4 files over MaxFiles 3: %v, want ErrLimit", err)
	}
	res, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: appPolicy, MaxFileSize: 500, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 3 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "big.yaml") {
		t.Errorf("result = %+v, want 3 files and big.yaml skipped", res)
	}
	if readTree(t, root, "a.yaml") != files["a.yaml"] {
		t.Error("DryRun wrote")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := kustomize.SetImages(ctx, root, "", kustomize.SetImagesOptions{Policies: appPolicy}); err == nil {
		t.Error("a cancelled context: no error")
	}
}

func FuzzSetImages(f *testing.F) {
	f.Add(deployment)
	f.Add("a: b # {\"$imagepolicy\": \"apps:app:tag\"}\n- x\n")
	f.Add("k: 'x' # {\"$imagepolicy\": \"apps:db\"}\nl: \"y\" # {\"$imagepolicy\": \"apps:app:name\"}\n")
	f.Add("k: &a x # {\"$imagepolicy\": \"apps:app\"}\nl: *a\n")
	f.Fuzz(func(t *testing.T, content string) {
		root := t.TempDir()
		p := filepath.Join(root, "f.yaml")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: appPolicy})
		if err != nil {
			t.Fatalf("SetImages: %v", err)
		}
		if !res.Changed() {
			if readTree(t, root, "f.yaml") != content {
				t.Fatal("no change reported, file changed")
			}
			return
		}
		// Setting the same images again changes nothing.
		again, err := kustomize.SetImages(t.Context(), root, "", kustomize.SetImagesOptions{Policies: appPolicy})
		if err != nil || again.Changed() {
			t.Fatalf("second run: %+v, %v; want no change", again, err)
		}
	})
}

// BenchmarkSetImages runs image automation's update over a repository of
// 1,000 YAML files of which 100 carry markers: a run where the images are
// current (the common case: nothing to write) and one that changes them,
// against reading every file with kyaml as a kio pipeline does.
func BenchmarkSetImages(b *testing.B) {
	files := map[string]string{}
	for i := range 1000 {
		doc := strings.Replace(deployment, "name: app\n  namespace", "name: app"+strings.Repeat("x", i%7)+"\n  namespace", 1)
		if i%10 != 0 {
			doc = strings.ReplaceAll(doc, "$imagepolicy", "note")
		}
		files[fmt.Sprintf("apps/app%03d/deploy.yaml", i)] = doc
	}
	root := writeTree(b, files)
	current := appPolicy
	other := map[string]kustomize.ImageRef{"apps:app": {Name: "ghcr.io/org/app", Tag: "1.4.0"}, "apps:db": appPolicy["apps:db"]}
	if _, err := kustomize.SetImages(b.Context(), root, "", kustomize.SetImagesOptions{Policies: current}); err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := kustomize.SetImages(b.Context(), root, "", kustomize.SetImagesOptions{Policies: current})
			if err != nil || res.Changed() {
				b.Fatal(err, res.Changed())
			}
		}
	})
	b.Run("100-files-changed", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			pol := current
			if i%2 == 0 {
				pol = other
			}
			i++
			res, err := kustomize.SetImages(b.Context(), root, "", kustomize.SetImagesOptions{Policies: pol})
			if err != nil || len(res.Files) != 100 {
				b.Fatal(err, len(res.Files))
			}
		}
	})
	b.Run("kyaml-parse-every-file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				_, err = kio.FromBytes(data)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
