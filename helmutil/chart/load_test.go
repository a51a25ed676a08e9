package chart_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// richChart writes a chart with a directory subchart, a packaged subchart,
// CRDs, a schema and a .helmignore, and returns its directory.
func richChart(t *testing.T, dir string) string {
	t.Helper()
	sub := helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "packaged", Version: "0.1.0"})
	subTgz := helmtest.PackageChart(t, sub, t.TempDir())
	data, _ := os.ReadFile(subTgz)
	app := helmtest.WriteChart(t, dir, helmtest.Chart{
		Name: "app", Version: "1.2.3", AppVersion: "4.5",
		Values: "replicas: 2\nimage:\n  tag: v1\n",
		Files: map[string]string{
			"crds/crd.yaml":            "kind: CustomResourceDefinition\n",
			"values.schema.json":       `{"type":"object"}`,
			"README.md":                "# app\n",
			"ignored.txt":              "not packaged\n",
			".helmignore":              "ignored.txt\n",
			"charts/inner/Chart.yaml":  "apiVersion: v2\nname: inner\nversion: 0.2.0\n",
			"charts/inner/values.yaml": "x: 1\n",
			"charts/inner/templates/a": "a: b\n",
			"templates/_helpers.tpl":   "{{- define \"app.name\" -}}app{{- end -}}\n",
			"templates/NOTES.txt":      "hello\n",
		},
	})
	if err := os.WriteFile(filepath.Join(app, "charts", "packaged-0.1.0.tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return app
}

// summary describes a chart for comparisons: metadata, values, files,
// templates and subcharts, recursively.
func summary(ch *chartv2.Chart) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s values=%v schema=%s\n", ch.Name(), ch.Metadata.Version, ch.Metadata.APIVersion, ch.Values, ch.Schema)
	var names []string
	for _, f := range ch.Templates {
		names = append(names, "t:"+f.Name+"="+string(f.Data))
	}
	for _, f := range ch.Files {
		names = append(names, "f:"+f.Name+"="+string(f.Data))
	}
	sort.Strings(names)
	b.WriteString(strings.Join(names, "\n") + "\n")
	deps := append([]*chartv2.Chart(nil), ch.Dependencies()...)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
	for _, d := range deps {
		b.WriteString("dep " + summary(d))
	}
	return b.String()
}

func TestLoadLikeHelm(t *testing.T) {
	app := richChart(t, t.TempDir())
	tgz := helmtest.PackageChart(t, app, t.TempDir())
	want, err := loader.LoadArchive(mustOpen(t, tgz))
	if err != nil {
		t.Fatal(err)
	}
	got, err := chart.LoadArchiveFile(ctx(t), tgz, chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if summary(got) != summary(want) {
		t.Fatalf("archive:\n%s\nhelm:\n%s", summary(got), summary(want))
	}
	wantDir, err := loader.LoadDir(app)
	if err != nil {
		t.Fatal(err)
	}
	gotDir, err := chart.LoadDir(ctx(t), filepath.Dir(app), "app", chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if summary(gotDir) != summary(wantDir) || strings.Contains(summary(gotDir), "f:ignored.txt") {
		t.Fatalf("dir:\n%s\nhelm:\n%s", summary(gotDir), summary(wantDir))
	}
	if len(got.Dependencies()) != 2 || got.Dependencies()[0].Name() != "inner" {
		t.Fatalf("subcharts not in name order: %v", got.Dependencies())
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type ent struct {
	name, body, link string
	typ              byte
}

func tgz(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, e := range ents {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.link}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

const chartYAML = "apiVersion: v2\nname: app\nversion: 1.0.0\n"

func TestLoadArchiveRefusesHostileArchives(t *testing.T) {
	ok := ent{name: "app/Chart.yaml", body: chartYAML}
	big := strings.Repeat("x", 200_000)
	nested := tgz(t, ent{name: "bomb/Chart.yaml", body: "apiVersion: v2\nname: bomb\nversion: 1.0.0\n"}, ent{name: "bomb/big", body: big})
	for name, c := range map[string]struct {
		data []byte
		o    chart.LoadOptions
		want error
	}{
		"dot-dot":               {tgz(t, ok, ent{name: "app/../../evil", body: "x"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"dot-dot that stays":    {tgz(t, ok, ent{name: "app/templates/../x", body: "x"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"absolute":              {tgz(t, ok, ent{name: "/etc/passwd", body: "x"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"backslash":             {tgz(t, ok, ent{name: `app\..\..\evil`, body: "x"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"symlink":               {tgz(t, ok, ent{name: "app/templates/x", typ: tar.TypeSymlink, link: "/etc/passwd"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"relative symlink":      {tgz(t, ok, ent{name: "app/values.yaml", typ: tar.TypeSymlink, link: "../../x"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"hard link":             {tgz(t, ok, ent{name: "app/x", typ: tar.TypeLink, link: "app/Chart.yaml"}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"device":                {tgz(t, ok, ent{name: "app/dev", typ: tar.TypeChar}), chart.LoadOptions{}, chart.ErrUnsafePath},
		"Chart.yaml at the top": {tgz(t, ent{name: "Chart.yaml", body: chartYAML}), chart.LoadOptions{}, chart.ErrInvalidChart},
		"repeated name":         {tgz(t, ok, ok), chart.LoadOptions{}, chart.ErrInvalidChart},
		"not gzip":              {[]byte("apiVersion: v2\n"), chart.LoadOptions{}, chart.ErrInvalidChart},
		"no Chart.yaml":         {tgz(t, ent{name: "app/values.yaml", body: "a: 1\n"}), chart.LoadOptions{}, chart.ErrInvalidChart},
		"apiVersion v3":         {tgz(t, ent{name: "app/Chart.yaml", body: "apiVersion: v3\nname: app\nversion: 1.0.0\n"}), chart.LoadOptions{}, chart.ErrUnsupportedAPIVersion},
		"over MaxBytes":         {tgz(t, ok, ent{name: "app/big", body: big}), chart.LoadOptions{MaxBytes: 100_000}, chart.ErrLimitExceeded},
		"over MaxFileBytes":     {tgz(t, ok, ent{name: "app/big", body: big}), chart.LoadOptions{MaxFileBytes: 1000}, chart.ErrLimitExceeded},
		"over MaxFiles":         {tgz(t, ok, ent{name: "app/a", body: "1"}, ent{name: "app/b", body: "2"}), chart.LoadOptions{MaxFiles: 2}, chart.ErrLimitExceeded},
		"subchart package over the shared budget": {tgz(t, ok, ent{name: "app/charts/bomb-1.0.0.tgz", body: string(nested)}), chart.LoadOptions{MaxBytes: 150_000}, chart.ErrLimitExceeded},
		"stray file in charts/":                   {tgz(t, ok, ent{name: "app/charts/README.md", body: "x"}), chart.LoadOptions{}, chart.ErrInvalidChart},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := chart.LoadArchive(ctx(t), bytes.NewReader(c.data), c.o)
			var ce *chart.Error
			if !errors.Is(err, c.want) || !errors.As(err, &ce) {
				t.Fatalf("%s: got %v, want %v", name, err, c.want)
			}
			if strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error quotes content: %v", err)
			}
		})
	}
	// Negative limits remove them.
	if _, err := chart.LoadArchive(ctx(t), bytes.NewReader(tgz(t, ok, ent{name: "app/big", body: big})), chart.LoadOptions{MaxBytes: -1, MaxFileBytes: -1, MaxFiles: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirStaysInsideTheRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("token: hunter2\n"), 0o644)
	os.MkdirAll(filepath.Join(outside, "tpl"), 0o755)
	helmtest.WriteChart(t, outside, helmtest.Chart{Name: "elsewhere", Version: "1.0.0"})
	mk := func(t *testing.T, links map[string]string) string {
		root := t.TempDir()
		helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "app", Version: "1.0.0"})
		os.MkdirAll(filepath.Join(root, "shared"), 0o755)
		os.WriteFile(filepath.Join(root, "shared", "_helpers.tpl"), []byte(`{{- define "x" -}}x{{- end -}}`), 0o644)
		for l, target := range links {
			if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	// A link inside the root is followed.
	root := mk(t, map[string]string{"charts/app/templates/_helpers.tpl": "../../../shared/_helpers.tpl"})
	ch, err := chart.LoadDir(ctx(t), root, "./charts/app", chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Templates) != 2 {
		t.Fatalf("templates %d", len(ch.Templates))
	}
	for name, c := range map[string]struct {
		links map[string]string
		dir   string
		want  error
	}{
		"dot-dot":                 {nil, "charts/../../x", chart.ErrUnsafePath},
		"absolute":                {nil, "/etc", chart.ErrUnsafePath},
		"file link out, absolute": {map[string]string{"charts/app/templates/s.yaml": filepath.Join(outside, "secret.yaml")}, "charts/app", chart.ErrUnsafePath},
		"file link out, relative": {map[string]string{"charts/app/values.yaml.link": "../../../" + filepath.Base(outside) + "/secret.yaml"}, "charts/app", chart.ErrUnsafePath},
		"dir link out":            {map[string]string{"charts/app/templates/out": filepath.Join(outside, "tpl")}, "charts/app", chart.ErrUnsafePath},
		"chart dir is a link out": {map[string]string{"linked": filepath.Join(outside, "elsewhere")}, "linked", chart.ErrUnsafePath},
		"link that comes back":    {map[string]string{"charts/app/templates/back": "../../../../" + filepath.Base(filepath.Dir(outside)) + "/x"}, "charts/app", chart.ErrUnsafePath},
		"dangling link":           {map[string]string{"charts/app/templates/d.yaml": "nothing-there"}, "charts/app", chart.ErrUnsafePath},
		"link loop":               {map[string]string{"charts/app/templates/loop": "."}, "charts/app", chart.ErrLimitExceeded},
		"missing chart":           {nil, "charts/none", chart.ErrInvalidChart},
	} {
		t.Run(name, func(t *testing.T) {
			root := mk(t, c.links)
			_, err := chart.LoadDir(ctx(t), root, c.dir, chart.LoadOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.Contains(fmt.Sprint(err), "hunter2") {
				t.Fatal("error quotes a file outside the root")
			}
		})
	}
	root = mk(t, nil)
	os.WriteFile(filepath.Join(root, "charts", "app", "big"), bytes.Repeat([]byte("x"), 10_000), 0o644)
	for _, o := range []chart.LoadOptions{{MaxBytes: 5000}, {MaxFileBytes: 5000}, {MaxFiles: 3}} {
		if _, err := chart.LoadDir(ctx(t), root, "charts/app", o); !errors.Is(err, chart.ErrLimitExceeded) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}

func FuzzLoadArchive(f *testing.F) {
	f.Add(tgz(f, ent{name: "app/Chart.yaml", body: chartYAML}, ent{name: "app/values.yaml", body: "a: 1\n"}, ent{name: "app/templates/x.yaml", body: "kind: x\n"}))
	f.Add(tgz(f, ent{name: "app/Chart.yaml", body: chartYAML}, ent{name: "app/charts/sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 1.0.0\n"}))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		ch, err := chart.LoadArchive(context.Background(), bytes.NewReader(data), chart.LoadOptions{MaxBytes: 1 << 20, MaxFiles: 200})
		if err != nil {
			var ce *chart.Error
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if ch.Metadata == nil || ch.Validate() != nil {
			t.Fatal("loaded an invalid chart")
		}
	})
}
