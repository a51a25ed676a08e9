package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/gitopskit/kit/helmutil/helmtest"
)

// constraints every comparison with Helm selects with, plus every version
// of the chart written exactly.
var constraints = []string{
	"", "*", ">=1.0.0", "<1.0.0", "~1.2", "^2", "1.x", "2.3.x", ">=0.0.0-0", ">=1.0.0-0 <2.0.0",
	"9.9.9", ">= 1.1, < 3", "1.2.3 || 2.x", "=1.0.0", "v1.0.0", "!=1.0.0", "~0.1.0-0", "latest",
}

// helmLoad parses data with Helm's repo.LoadIndexFile.
func helmLoad(t testing.TB, data []byte) (*repov1.IndexFile, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "index.yaml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return repov1.LoadIndexFile(p)
}

// compareWithHelm parses data with both parsers and fails unless they agree:
// both refuse it, or both read the same charts, the same versions in the
// same order, and select the same version for every constraint.
func compareWithHelm(t testing.TB, data []byte) *Index {
	t.Helper()
	want, herr := helmLoad(t, data)
	got, err := ParseIndex(context.Background(), bytes.NewReader(data), ParseOptions{})
	if herr != nil {
		if err == nil {
			t.Fatalf("helm refuses the index (%v), we read it", herr)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("helm reads the index, we refuse it: %v", err)
	}
	if diff := diffWithHelm(want, got); diff != "" {
		t.Fatal(diff)
	}
	return got
}

func diffWithHelm(want *repov1.IndexFile, got *Index) string {
	var names []string
	for n := range want.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != fmt.Sprint(got.Names()) {
		return fmt.Sprintf("charts: helm %v, we %v", names, got.Names())
	}
	if want.APIVersion != got.APIVersion() || !want.Generated.Equal(got.Generated()) {
		return fmt.Sprintf("header: helm %s %v, we %s %v", want.APIVersion, want.Generated, got.APIVersion(), got.Generated())
	}
	for _, n := range names {
		hv := want.Entries[n]
		ov := got.Versions(n)
		if len(hv) != len(ov) {
			return fmt.Sprintf("chart %s: helm has %d versions, we %d", n, len(hv), len(ov))
		}
		for k := range hv {
			h, o := hv[k], ov[k]
			if h.Version != o.Version || h.Digest != o.Digest || fmt.Sprint(h.URLs) != fmt.Sprint(o.URLs) ||
				!h.Created.Equal(o.Created) || h.Deprecated != o.Deprecated {
				return fmt.Sprintf("chart %s version #%d: helm %s %s %v %v %v, we %s %s %v %v %v", n, k,
					h.Version, h.Digest, h.URLs, h.Created, h.Deprecated, o.Version, o.Digest, o.URLs, o.Created, o.Deprecated)
			}
		}
		cs := append([]string(nil), constraints...)
		for _, v := range hv {
			cs = append(cs, v.Version)
		}
		for _, c := range cs {
			hcv, herr := want.Get(n, c)
			ocv, oerr := got.Get(n, c)
			switch {
			case (herr == nil) != (oerr == nil):
				return fmt.Sprintf("chart %s constraint %q: helm error %v, we error %v", n, c, herr, oerr)
			case herr == nil && (hcv.Version != ocv.Version || hcv.Digest != ocv.Digest):
				return fmt.Sprintf("chart %s constraint %q: helm selects %s (%s), we %s (%s)", n, c, hcv.Version, hcv.Digest, ocv.Version, ocv.Digest)
			}
		}
	}
	return ""
}

func TestParseGeneratedIndexesLikeHelm(t *testing.T) {
	for _, o := range []helmtest.LargeIndexOptions{
		{Charts: 8, VersionsPerChart: 60, Seed: 1},
		{Charts: 8, VersionsPerChart: 60, Seed: 2, Unsorted: true},
		{Charts: 3, VersionsPerChart: 400, Seed: 3, Unsorted: true, BaseURL: "https://charts.example.com/stable"},
		{Charts: 40, VersionsPerChart: 7, Seed: 4},
		{Charts: 1, VersionsPerChart: 1, Seed: 5},
	} {
		t.Run(fmt.Sprintf("seed%d", o.Seed), func(t *testing.T) {
			var b bytes.Buffer
			if _, err := helmtest.WriteLargeIndex(&b, o); err != nil {
				t.Fatal(err)
			}
			idx := compareWithHelm(t, b.Bytes())
			if idx.Len() != o.Charts*o.VersionsPerChart {
				t.Fatalf("%d versions", idx.Len())
			}
			// The same index as Helm writes it in JSON.
			h, err := helmLoad(t, b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "index.json")
			if err := h.WriteJSONFile(p, 0o644); err != nil {
				t.Fatal(err)
			}
			js, _ := os.ReadFile(p)
			compareWithHelm(t, js)
		})
	}
}

// Hand-written indexes in the shapes other generators and people write.
func TestParseIndexShapesLikeHelm(t *testing.T) {
	const entry = `    apiVersion: v2
    name: app
    version: %s
    digest: d%s
    created: "2024-01-0%dT00:00:00Z"
    urls:
    - app-%s.tgz
`
	item := func(v string, day int) string {
		return "  - " + strings.TrimPrefix(fmt.Sprintf(entry, v, v, day, v), "    ")
	}
	std := "apiVersion: v1\nentries:\n  app:\n" + item("1.0.0", 1) + item("1.1.0", 2) + item("2.0.0-rc.1", 3) + "generated: \"2024-02-01T00:00:00Z\"\n"
	cases := map[string]string{
		"helm layout":                                  std,
		"yaml.v3 indentation":                          "apiVersion: v1\nentries:\n    app:\n        - apiVersion: v2\n          name: app\n          version: 1.0.0\n          urls:\n            - a.tgz\n        - apiVersion: v2\n          name: app\n          version: 1.2.0\n          urls: [b.tgz]\n",
		"comments and blank lines":                     "# generated\napiVersion: v1 # the version\n\nentries:\n  # charts\n  app:\n\n  # first\n" + item("1.0.0", 1) + "    # inside\n\n" + item("1.1.0", 2) + "# end\n",
		"document markers":                             "%YAML 1.1\n---\n" + std + "...\ngarbage: [\n",
		"second document ignored":                      std + "---\napiVersion: v2\nentries: {}\n",
		"crlf and bom":                                 "\xef\xbb\xbf" + strings.ReplaceAll(std, "\n", "\r\n"),
		"quoted chart keys":                            "apiVersion: v1\nentries:\n  \"app\":\n" + item("1.0.0", 1) + "  'true':\n  - apiVersion: v2\n    name: \"true\"\n    version: 1.0.0\n  \"1.5\":\n  - {apiVersion: v2, name: x, version: 3.0.0}\n",
		"flow items and inline charts":                 "apiVersion: v1\nentries:\n  a: [{apiVersion: v2, name: a, version: 1.0.0}, {apiVersion: v2, name: a, version: 1.1.0,\n    urls: [a.tgz]}]\n  b: []\n  c:\n  d: null\n  e:\n  - {apiVersion: v2, name: e, version: 0.1.0}\n",
		"empty entries":                                "apiVersion: v1\nentries: {}\n",
		"entries last":                                 "entries:\n  app:\n" + item("1.0.0", 1) + "apiVersion: v1\n",
		"block scalars that look like yaml":            "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    description: |\n      - name: fake\n      other:\n    - not a version\n  x: 1\n    version: 1.0.0\n    annotations:\n      a: >-\n        folded\n\n        text: here\n      b: |2\n          indented\n  fake: true\n      c: ok\n  - apiVersion: v2\n    name: app\n    version: 1.1.0\n",
		"multi-line quoted scalars at any indentation": "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    description: \"first line\n  notachart:\n- nor an item\n      still the same \\\" scalar\"\n    version: 1.0.0\n    home: 'single\n  quoted: here\n  it''s'\n  - apiVersion: v2\n    name: app\n    version: 1.0.1\n",
		"multi-line plain scalars":                     "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    description: a plain\n      scalar on\n      three lines\n    version: 1.0.0\n",
		"multi-line flow":                              "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    keywords: [a,\n  b, \"c\n]\", d]\n    version: 1.0.0\n    maintainers: [{name: x,\n email: y}]\n",
		"anchors within an entry":                      "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: &n app\n    version: 1.0.0\n    keywords: [*n]\n",
		"tags":                                         "apiVersion: !!str v1\nentries:\n  app:\n  - !!map\n    apiVersion: v2\n    name: app\n    version: !!str 1.0.0\n",
		"invalid entries skipped":                      "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: not-semver\n  -\n  - name: app\n    version: 1.0.0\n  - apiVersion: v2\n    version: 1.0.1\n  - apiVersion: v2\n    name: app\n    version: 1.0.2\n    type: other\n  - apiVersion: v2\n    name: app\n    version: 1.0.3\n",
		"ties as helm":                                 "apiVersion: v1\nentries:\n  app:\n" + item("1.0.0+b", 1) + item("v1.0.0", 2) + item("1.0.0+a", 3) + item("1.0.0", 4) + item("1.0.0+c", 5) + item("0.9.0", 6),
		"duplicate version strings":                    "apiVersion: v1\nentries:\n  app:\n" + item("1.0.0", 1) + item("1.0.0", 2),
		"upper-case keys":                              "APIVersion: v1\nEntries:\n  app:\n" + item("1.0.0", 1),
		"json":                                         `{"apiVersion":"v1","entries":{"app":[{"apiVersion":"v2","name":"app","version":"1.0.0","urls":["a.tgz"]},null,{"apiVersion":"v2","name":"app","version":"1.2.0"}],"b":null,"c":[]},"generated":"2024-01-01T00:00:00Z","unknown":1}`,
		"json duplicate chart":                         `{"apiVersion":"v1","entries":{"app":[{"apiVersion":"v2","name":"app","version":"1.0.0"}],"app":[{"apiVersion":"v2","name":"app","version":"2.0.0"}]}}`,
		"json two entries keys":                        `{"apiVersion":"v1","entries":{"a":[{"apiVersion":"v2","name":"a","version":"1.0.0"}]},"Entries":{"b":[{"apiVersion":"v2","name":"b","version":"1.0.0"}]}}`,
		// Refused by both.
		"no api version":        "entries:\n  app:\n" + item("1.0.0", 1),
		"unknown top field":     std + "owner: me\n",
		"unknown entry field":   "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: 1.0.0\n    bogus: 1\n",
		"duplicate entry field": "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: 1.0.0\n    version: 1.0.1\n",
		"duplicate chart":       "apiVersion: v1\nentries:\n  app:\n" + item("1.0.0", 1) + "  app:\n" + item("1.1.0", 2),
		"wrong type":            "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: 1.0.0\n    urls: {a: b}\n",
		"empty":                 "",
		"only a comment":        "# nothing\n",
		"a list":                "- apiVersion: v1\n",
		"json truncated":        `{"apiVersion":"v1","entries":{"app":[{"apiVersion":"v2"`,
		"bad indentation":       "apiVersion: v1\nentries:\n    app:\n    - apiVersion: v2\n      name: app\n      version: 1.0.0\n  b:\n  - apiVersion: v2\n",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) { compareWithHelm(t, []byte(data)) })
	}
}

// The shapes ParseIndex documents as refused although Helm reads them: an
// index starting with '{' that is not JSON, and aliases to anchors of
// another chart's entries.
func TestParseRefusesDocumentedShapes(t *testing.T) {
	for name, data := range map[string]string{
		"yaml flow top level":   "{apiVersion: v1, entries: {app: [{apiVersion: v2, name: app, version: 1.0.0}]}}\n",
		"json trailing garbage": `{"apiVersion":"v1","entries":{}} x`,
		"alias across charts":   "apiVersion: v1\nentries:\n  a:\n  - apiVersion: v2\n    name: &n a\n    version: 1.0.0\n  b:\n  - apiVersion: v2\n    name: *n\n    version: 1.1.0\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := helmLoad(t, []byte(data)); err != nil {
				t.Fatalf("helm refuses it too: %v", err)
			}
			_, err := ParseIndex(context.Background(), strings.NewReader(data), ParseOptions{})
			if !errors.Is(err, ErrInvalidIndex) {
				t.Fatalf("got %v, want ErrInvalidIndex", err)
			}
		})
	}
}

func TestParseRefusalsAreTyped(t *testing.T) {
	ctx := context.Background()
	var big bytes.Buffer
	if _, err := helmtest.WriteLargeIndex(&big, helmtest.LargeIndexOptions{Charts: 4, VersionsPerChart: 25}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		data string
		o    ParseOptions
		want error
		line int
	}{
		"index over MaxBytes":           {big.String(), ParseOptions{MaxBytes: 10_000}, ErrLimitExceeded, 0},
		"entry over MaxEntryBytes":      {big.String(), ParseOptions{MaxEntryBytes: 500}, ErrLimitExceeded, 4},
		"versions over MaxVersions":     {big.String(), ParseOptions{MaxVersions: 99}, ErrLimitExceeded, 0},
		"line over MaxEntryBytes":       {"apiVersion: v1\nentries:\n  app:\n  - description: " + strings.Repeat("x", 2000) + "\n", ParseOptions{MaxEntryBytes: 1000}, ErrLimitExceeded, 0},
		"json value over MaxEntryBytes": {`{"apiVersion":"v1","entries":{"app":[{"description":"` + strings.Repeat("x", 200_000) + `"}]}}`, ParseOptions{MaxEntryBytes: 1000}, ErrLimitExceeded, 0},
		"no apiVersion":                 {"entries: {}\n", ParseOptions{}, ErrInvalidIndex, 0},
		"entry does not decode":         {"apiVersion: v1\nentries:\n  app:\n  - name: [\n", ParseOptions{}, ErrInvalidIndex, 4},
		"not a list":                    {"apiVersion: v1\nentries:\n  app:\n    name: x\n", ParseOptions{}, ErrInvalidIndex, 4},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseIndex(ctx, strings.NewReader(c.data), c.o)
			var ie *IndexError
			if !errors.Is(err, c.want) || !errors.As(err, &ie) {
				t.Fatalf("got %v, want %v as *IndexError", err, c.want)
			}
			if c.line != 0 && ie.Line != c.line {
				t.Fatalf("line %d, want %d: %v", ie.Line, c.line, err)
			}
			if strings.Contains(err.Error(), "xxxxxxxx") {
				t.Fatalf("error quotes the index: %.200s", err)
			}
		})
	}
	// Negative limits remove them.
	if _, err := ParseIndex(ctx, bytes.NewReader(big.Bytes()), ParseOptions{MaxBytes: -1, MaxEntryBytes: -1, MaxVersions: -1}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ParseIndex(cctx, bytes.NewReader(big.Bytes()), ParseOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func FuzzParseIndex(f *testing.F) {
	var b bytes.Buffer
	if _, err := helmtest.WriteLargeIndex(&b, helmtest.LargeIndexOptions{Charts: 2, VersionsPerChart: 3}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: 1.0.0\n    description: \"a\n b\"\n"))
	f.Add([]byte(`{"apiVersion":"v1","entries":{"app":[{"apiVersion":"v2","name":"app","version":"1.0.0"}]}}`))
	f.Add([]byte("apiVersion: v1\nentries:\n  a: [{apiVersion: v2, name: a, version: 1.0.0}]\n  b:\n  - |\n    x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseIndex(context.Background(), bytes.NewReader(data), ParseOptions{MaxEntryBytes: 64 << 10})
		if err != nil {
			var ie *IndexError
			if !errors.As(err, &ie) || !(errors.Is(err, ErrInvalidIndex) || errors.Is(err, ErrLimitExceeded)) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// What we read, Helm reads the same way.
		want, herr := helmLoad(t, data)
		if herr != nil {
			t.Fatalf("we read an index Helm refuses (%v)", herr)
		}
		if diff := diffWithHelm(want, got); diff != "" {
			t.Fatal(diff)
		}
	})
}
