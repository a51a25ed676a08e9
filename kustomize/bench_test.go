package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize/internal/subst"
)

var benchDirs sync.Map // name -> dir, removed by TestMain

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		os.Exit(runChild(scenario))
	}
	code := m.Run()
	benchDirs.Range(func(_, v any) bool { os.RemoveAll(v.(string)); return true })
	os.Exit(code)
}

// benchObject is a realistic object with variable references.
func benchObject(i int) string {
	switch i % 3 {
	case 0:
		return strings.NewReplacer("name: web", fmt.Sprintf("name: web-%d", i), "app: web", fmt.Sprintf("app: web-%d", i), "image: nginx:1.25", "image: nginx:${tag:=1.25}").Replace(deployment)
	case 1:
		return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  labels:\n    env: ${env}\nspec:\n  selector:\n    app: web-%d\n  ports:\n  - port: 80\n    targetPort: 8080\n", i, i)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-%d\ndata:\n  region: ${region}\n  cluster: ${cluster:=dev}\n  literal: $${keep}\n  a: plain value\n  b: another plain value\n", i)
}

// benchTree lays out, once per process, base/ with 1,000 objects in 100
// files, overlay/ on top of it, and plain/ with the same objects and no
// kustomization.
func benchTree(b *testing.B) string {
	if d, ok := benchDirs.Load("tree"); ok {
		return d.(string)
	}
	root, err := os.MkdirTemp("", "kustomize-bench-")
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"overlay/kustomization.yaml": "resources:\n- ../base\nnamespace: prod\nnamePrefix: p-\nlabels:\n- pairs:\n    team: a\nimages:\n- name: nginx\n  newTag: \"1.27\"\npatches:\n- target:\n    kind: Deployment\n  patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 2\n",
	}
	res := "resources:\n"
	for f := range 100 {
		var docs []string
		for j := range 10 {
			docs = append(docs, benchObject(f*10+j))
		}
		name := fmt.Sprintf("objs-%03d.yaml", f)
		files["base/"+name] = strings.Join(docs, "---\n")
		files["plain/"+name] = files["base/"+name]
		res += "- " + name + "\n"
	}
	files["base/kustomization.yaml"] = res
	writeTree(b, root, files)
	benchDirs.Store("tree", root)
	return root
}

// peakHeap samples the live heap while f runs and returns the peak in MiB.
func peakHeap(f func()) float64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return float64(peak.Load()) / (1 << 20)
}

func benchBuild(b *testing.B, dir string, opts Options) {
	root := benchTree(b)
	var size int64
	src := dir
	if dir == "overlay" {
		src = "base"
	}
	filepath.Walk(filepath.Join(root, src), func(_ string, info os.FileInfo, _ error) error {
		if info != nil && !info.IsDir() {
			size += info.Size()
		}
		return nil
	})
	b.SetBytes(size)
	b.ReportAllocs()
	runtime.GC()
	var n int
	peak := peakHeap(func() {
		for b.Loop() {
			objs, err := Build(context.Background(), root, dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			n = len(objs)
		}
	})
	if n != 1000 {
		b.Fatalf("%d objects", n)
	}
	b.ReportMetric(peak, "peak-heap-MB")
}

// BenchmarkBuildOverlay1000 builds an overlay (namespace, prefix, labels,
// image, JSON patch) over a base of 1,000 objects.
func BenchmarkBuildOverlay1000(b *testing.B) {
	benchBuild(b, "overlay", Options{})
}

// BenchmarkBuildOverlay1000Substitute adds variable substitution and a
// caller overlay to the same build.
func BenchmarkBuildOverlay1000Substitute(b *testing.B) {
	benchBuild(b, "overlay", Options{
		Overlay:    Overlay{Annotations: map[string]string{"owner": "bench"}},
		Substitute: &Substitution{Vars: map[string]string{"env": "prod", "region": "eu", "tag": "1.26"}},
	})
}

// BenchmarkBuildGenerator1000 builds 1,000 objects from a folder without a
// kustomization.
func BenchmarkBuildGenerator1000(b *testing.B) {
	benchBuild(b, "plain", Options{})
}

var benchVars = map[string]string{"env": "prod", "region": "eu-west-1", "tag": "1.26"}

func benchNodes(b *testing.B) []*kyaml.RNode {
	var nodes []*kyaml.RNode
	for i := range 1000 {
		n, err := kyaml.Parse(benchObject(i))
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// BenchmarkSubstitute1000 substitutes variables in 1,000 built objects and
// converts them to unstructured, as Build does after kustomize: ours walks
// the YAML node tree; "regexp-text" is the obvious alternative (Flux's
// approach): serialise each object, expand with a regexp over the text,
// parse the result back. Both start from a fresh copy of the nodes.
func BenchmarkSubstitute1000(b *testing.B) {
	nodes := benchNodes(b)
	env := &subst.Env{Lookup: func(n string) (string, bool) { v, ok := benchVars[n]; return v, ok }}
	b.Run("node-walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range nodes {
				c := n.Copy()
				if _, err := substituteObject(c.YNode(), env, "x"); err != nil {
					b.Fatal(err)
				}
				if _, err := toUnstructured(c.YNode()); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	re := regexp.MustCompile(`\$?\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?::[=-]([^}]*))?\}`)
	b.Run("regexp-text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range nodes {
				c := n.Copy()
				s, err := c.String()
				if err != nil {
					b.Fatal(err)
				}
				s = re.ReplaceAllStringFunc(s, func(m string) string {
					if strings.HasPrefix(m, "$$") {
						return m[1:]
					}
					sm := re.FindStringSubmatch(m)
					if v, ok := benchVars[sm[1]]; ok && v != "" {
						return v
					}
					return sm[2]
				})
				j, err := sigsyaml.YAMLToJSON([]byte(s))
				if err != nil {
					b.Fatal(err)
				}
				u := &unstructured.Unstructured{}
				if err := u.UnmarshalJSON(j); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("copy-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range nodes {
				_ = n.Copy()
			}
		}
	})
}

// BenchmarkExpand compares the hand-written expander with a regexp on one
// string value.
func BenchmarkExpand(b *testing.B) {
	s := "https://${region}.example.com/${env}/path?keep=$${x}&d=${missing:=default}"
	env := &subst.Env{Lookup: func(n string) (string, bool) { v, ok := benchVars[n]; return v, ok }}
	b.Run("subst", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := subst.Expand(s, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	re := regexp.MustCompile(`\$?\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?::[=-]([^}]*))?\}`)
	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			re.ReplaceAllStringFunc(s, func(m string) string {
				sm := re.FindStringSubmatch(m)
				if v, ok := benchVars[sm[1]]; ok {
					return v
				}
				return sm[2]
			})
		}
	})
}
